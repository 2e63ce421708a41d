#include "linetune/io/audio_file.hpp"
#include "linetune/io/text_table.hpp"
#include "linetune/io/raw_audio.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/riff_chunks.hpp"

#include <sndfile.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <system_error>

namespace linetune::io {
namespace {

// Frames decoded per block before de-interleaving into the planar signal. The block buffer takes
// frames × channels × 4 bytes (2 MiB at 64 channels) and is the only memory besides the signal.
// Smaller blocks cost more library calls, larger ones more memory.
constexpr std::size_t read_block_frames = 8192;

// A plain RIFF data chunk of this size comes from a streaming writer that never went back to
// fill in the size. libsndfile then reads to the end of the file, and so does this reader.
constexpr std::uint64_t streaming_data_size = 0xFFFFFFFF;

// Most bytes of a fmt chunk read; real ones are 16 to 40 bytes plus a few extension bytes.
constexpr std::uint64_t max_fmt_chunk_bytes = 65536;

std::string file_label(const std::filesystem::path& path) { return "file '" + path.string() + "'"; }

void check_regular_file(const std::filesystem::path& path) {
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (!std::filesystem::exists(status)) {
        throw Error("not found; check the path and the working folder");
    }
    if (std::filesystem::is_directory(status)) {
        throw Error("is a folder, not an audio file; give the path of an audio file");
    }
    if (std::filesystem::file_size(path, error) == 0 && !error) {
        throw Error("the file is empty (0 bytes); re-export or re-record it");
    }
}

// Container that the first 40 bytes of a file announce; empty when none is recognised.
std::string container_from_magic(const std::filesystem::path& path) {
    std::ifstream stream(path, std::ios::binary);
    std::array<char, 40> bytes{};
    stream.read(bytes.data(), bytes.size());
    const auto count = static_cast<std::size_t>(stream.gcount());
    const std::string_view start(bytes.data(), count);
    const auto code_at = [&](std::size_t offset) { return count >= offset + 4 ? start.substr(offset, 4) : ""; };

    // Wave64 starts with the GUID {66666972-912E-11CF-A5D6-28DB04C10000} ("riff" + 12 bytes).
    constexpr std::string_view w64_riff_guid("riff\x2E\x91\xCF\x11\xA5\xD6\x28\xDB\x04\xC1\x00\x00", 16);
    if (count >= 16 && start.substr(0, 16) == w64_riff_guid) {
        return "W64";
    }
    const std::string_view magic = code_at(0);
    if ((magic == "RIFF" || magic == "RIFX" || magic == "RF64" || magic == "BW64") && code_at(8) == "WAVE") {
        return std::string(magic);
    }
    if (magic == "FORM" && (code_at(8) == "AIFF" || code_at(8) == "AIFC")) {
        return "AIFF";
    }
    if (magic == "fLaC") {
        return "FLAC";
    }
    if (magic == "OggS") {
        return "Ogg";
    }
    if (magic == "caff") {
        return "CAF";
    }
    if (magic == ".snd") {
        return "AU";
    }
    return {};
}

// fmt and data of a RIFF-family WAVE file, validated before any audio is decoded.
struct WaveHeader {
    RiffLayout layout;
    WaveFormat format;
    RiffChunk data;
    std::uint64_t data_bytes = 0;
    std::size_t bytes_per_sample = 0;
    std::size_t frame_bytes = 0;
    std::size_t frames = 0;
    std::vector<std::string> notes;
};

std::string chunk_list(const RiffLayout& layout) {
    std::string list;
    for (const auto& chunk : layout.chunks) {
        list += (list.empty() ? "'" : ", '") + chunk.id + "'";
    }
    return list.empty() ? "none" : list;
}

const RiffChunk* find_chunk(const RiffLayout& layout, std::string_view id) {
    const auto found = std::find_if(layout.chunks.begin(), layout.chunks.end(),
                                    [&](const RiffChunk& chunk) { return chunk.id == id; });
    return found == layout.chunks.end() ? nullptr : &*found;
}

WaveFormat read_format(const std::filesystem::path& path, const RiffLayout& layout) {
    const RiffChunk* fmt = find_chunk(layout, "fmt ");
    if (fmt == nullptr) {
        throw Error("no fmt chunk (chunks found: " + chunk_list(layout) +
                    "), so the encoding of the audio is unknown; re-export the file");
    }
    if (fmt->available_size < fmt->declared_size) {
        throw Error("fmt chunk declares " + std::to_string(fmt->declared_size) + " bytes but only " +
                    std::to_string(fmt->available_size) + " bytes follow: the file is truncated; re-export or re-record it");
    }

    std::vector<std::uint8_t> payload(static_cast<std::size_t>(std::min(fmt->declared_size, max_fmt_chunk_bytes)));
    std::ifstream stream(path, std::ios::binary);
    stream.seekg(static_cast<std::streamoff>(fmt->payload_offset));
    stream.read(reinterpret_cast<char*>(payload.data()), static_cast<std::streamsize>(payload.size()));
    require(static_cast<std::size_t>(stream.gcount()) == payload.size(), "reading the fmt chunk failed");
    return parse_wave_format(payload, layout.big_endian);
}

void validate_format(const WaveFormat& format) {
    if (format.channels == 0) {
        throw Error("fmt chunk declares 0 channels; the header is damaged; re-export the file");
    }
    if (format.channels > max_audio_file_channels) {
        throw Error(std::to_string(format.channels) + " channels exceed the limit of " +
                    std::to_string(max_audio_file_channels) +
                    " channels per file; split the recording into files of at most 64 channels");
    }
    if (format.sample_rate_hz == 0) {
        throw Error("fmt chunk declares a sample rate of 0 Hz; the header is damaged; re-export the file");
    }
    if (format.bits_per_sample == 0) {
        throw Error("fmt chunk declares 0 bits per sample; the header is damaged; re-export the file");
    }
}

// Size of the audio in the data chunk, after rejecting truncated and empty chunks.
std::uint64_t usable_data_bytes(const WaveHeader& header, std::vector<std::string>& notes) {
    const RiffChunk& data = header.data;
    if (header.layout.form == "RIFF" && data.declared_size == streaming_data_size) {
        notes.push_back("data chunk size 0xFFFFFFFF marks a file from a streaming writer; the " +
                        std::to_string(data.available_size) + " bytes to the end of the file were read as audio");
        return data.available_size;
    }
    if (data.available_size < data.declared_size) {
        throw Error("data chunk declares " + std::to_string(data.declared_size) + " bytes but only " +
                    std::to_string(data.available_size) + " bytes follow: the file is truncated; re-export or re-record it");
    }
    if (data.declared_size == 0) {
        throw Error("the data chunk is empty (0 audio frames); re-export or re-record it");
    }
    return data.declared_size;
}

void note_other_chunks(const WaveHeader& header, std::vector<std::string>& notes) {
    bool after_data = false;
    bool fmt_seen = false;
    for (const auto& chunk : header.layout.chunks) {
        if (chunk.offset == header.data.offset) {
            after_data = true;
            continue;
        }
        if (chunk.id == "fmt " && !fmt_seen) {
            fmt_seen = true;
            continue;
        }
        if (chunk.id == "ds64") {
            continue;
        }
        notes.push_back("chunk '" + chunk.id + "' (" + std::to_string(chunk.declared_size) + " bytes) " +
                        (after_data ? "after" : "before") + " data ignored");
    }
}

WaveHeader inspect_wave_header(const std::filesystem::path& path, RiffLayout layout) {
    if (layout.form_type != "WAVE") {
        throw Error(layout.form + " file of form '" + layout.form_type + "', not WAVE audio; give a WAV file");
    }

    WaveHeader header;
    header.format = read_format(path, layout);
    validate_format(header.format);

    const RiffChunk* data = find_chunk(layout, "data");
    if (data == nullptr) {
        throw Error("no data chunk (chunks found: " + chunk_list(layout) + "), so the file contains no audio; re-export it");
    }
    header.layout = std::move(layout);
    header.data = *data;
    header.notes = header.layout.notes;
    header.notes.insert(header.notes.end(), header.format.notes.begin(), header.format.notes.end());
    header.data_bytes = usable_data_bytes(header, header.notes);

    // Samples occupy whole bytes, ceil(bits / 8); libsndfile 1.2.0 sizes frames the same way
    // even when nBlockAlign disagrees.
    const WaveFormat& format = header.format;
    header.bytes_per_sample = (format.bits_per_sample + 7U) / 8U;
    header.frame_bytes = header.bytes_per_sample * format.channels;
    if (format.block_align_bytes != header.frame_bytes) {
        header.notes.push_back("fmt chunk's block align is " + std::to_string(format.block_align_bytes) +
                               " bytes where " + std::to_string(format.channels) + " channels of " +
                               std::to_string(format.bits_per_sample) + "-bit samples take " +
                               std::to_string(header.frame_bytes) + "; frames were read as " +
                               std::to_string(header.frame_bytes) + " bytes");
    }

    header.frames = static_cast<std::size_t>(header.data_bytes / header.frame_bytes);
    if (header.frames == 0) {
        throw Error("the data chunk contains " + std::to_string(header.data_bytes) + " bytes, less than one " +
                    std::to_string(header.frame_bytes) + "-byte frame (0 audio frames); re-export or re-record it");
    }
    if (const auto leftover = header.data_bytes % header.frame_bytes; leftover != 0) {
        header.notes.push_back("data chunk contains " + std::to_string(header.data_bytes) + " bytes, not a whole number of " +
                               std::to_string(header.frame_bytes) + "-byte frames; " +
                               (leftover == 1 ? std::string("the last byte was ignored")
                                              : "the last " + std::to_string(leftover) + " bytes were ignored"));
    }
    note_other_chunks(header, header.notes);
    return header;
}

std::string wave_sample_format_name(const WaveFormat& format) {
    const std::string bits = std::to_string(format.bits_per_sample) + "-bit";
    switch (format.encoding()) {
    case WaveEncoding::pcm_unsigned:
    case WaveEncoding::pcm_signed: return "PCM " + bits;
    case WaveEncoding::ieee_float: return "float " + bits;
    case WaveEncoding::other: break;
    }
    const auto tag = format.effective_format_tag();
    if (!tag.has_value()) {
        return bits + " samples of an unrecognised sub-format GUID";
    }
    return wave_format_tag_name(*tag) + " " + bits;
}

bool decodable_without_libsndfile(const WaveFormat& format) {
    switch (format.encoding()) {
    case WaveEncoding::pcm_unsigned: return format.bits_per_sample == 8;
    case WaveEncoding::pcm_signed:
        return format.bits_per_sample == 16 || format.bits_per_sample == 24 || format.bits_per_sample == 32;
    case WaveEncoding::ieee_float: return format.bits_per_sample == 32 || format.bits_per_sample == 64;
    case WaveEncoding::other: return false;
    }
    return false;
}

// One sample to float with libsndfile 1.2.0's default scaling (integer full scale 2^(bits-1)
// maps to 1.0, so int16 32767 becomes 32767/32768; 8-bit WAV is unsigned with 128 as zero).
float decode_sample(const std::uint8_t* bytes, WaveEncoding encoding, std::size_t byte_count, bool big_endian) {
    std::uint64_t raw = 0;
    for (std::size_t i = 0; i < byte_count; ++i) {
        raw = (raw << 8U) | bytes[big_endian ? i : byte_count - 1 - i];
    }

    if (encoding == WaveEncoding::pcm_unsigned) {
        return static_cast<float>((static_cast<double>(raw) - 128.0) / 128.0);
    }
    if (encoding == WaveEncoding::ieee_float) {
        if (byte_count == 4) {
            return std::bit_cast<float>(static_cast<std::uint32_t>(raw));
        }
        return static_cast<float>(std::bit_cast<double>(raw));
    }

    // Sign-extend the two's-complement value from byte_count bytes.
    const unsigned bit_count = static_cast<unsigned>(byte_count * 8);
    const std::int64_t value = static_cast<std::int64_t>(raw << (64U - bit_count)) >> (64U - bit_count);
    return static_cast<float>(std::ldexp(static_cast<double>(value), -static_cast<int>(bit_count - 1)));
}

// Decodes the data chunk directly, for WAVE layouts that libsndfile rejects.
MultichannelSignal decode_wave_data(const std::filesystem::path& path, const WaveHeader& header) {
    const WaveFormat& format = header.format;
    const WaveEncoding encoding = format.encoding();
    MultichannelSignal signal(format.channels, header.frames, format.sample_rate_hz);

    std::ifstream stream(path, std::ios::binary);
    stream.seekg(static_cast<std::streamoff>(header.data.payload_offset));
    std::vector<std::uint8_t> block(read_block_frames * header.frame_bytes);

    for (std::size_t first = 0; first < header.frames; first += read_block_frames) {
        const std::size_t count = std::min(read_block_frames, header.frames - first);
        stream.read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(count * header.frame_bytes));
        if (static_cast<std::size_t>(stream.gcount()) != count * header.frame_bytes) {
            throw Error("reading the data chunk failed at frame " + std::to_string(first) +
                        "; check that the file is not being written to");
        }
        for (std::size_t channel = 0; channel < format.channels; ++channel) {
            const auto samples = signal.channel(channel).subspan(first, count);
            const std::uint8_t* sample_bytes = block.data() + channel * header.bytes_per_sample;
            for (std::size_t frame = 0; frame < count; ++frame) {
                samples[frame] = decode_sample(sample_bytes + frame * header.frame_bytes, encoding,
                                               header.bytes_per_sample, header.layout.big_endian);
            }
        }
    }
    return signal;
}

std::string wave_container_name(const WaveHeader& header) {
    const std::string& form = header.layout.form;
    if (form == "RIFF") {
        return header.format.extensible ? "WAV (extensible)" : "WAV";
    }
    if (form == "RIFX") {
        return "WAV (big-endian RIFX)";
    }
    return form;
}

AudioFile decode_wave_file(const std::filesystem::path& path, const WaveHeader& header,
                           std::string_view libsndfile_message) {
    if (!decodable_without_libsndfile(header.format)) {
        throw Error("samples are " + wave_sample_format_name(header.format) + ", which " + sf_version_string() +
                    " could not decode (" + std::string(libsndfile_message) +
                    "); re-export the file as PCM or float WAV");
    }

    AudioFile file{decode_wave_data(path, header), {}};
    file.info.container = wave_container_name(header);
    file.info.sample_format = wave_sample_format_name(header.format);
    file.info.notes = header.notes;
    file.info.notes.push_back(std::string(sf_version_string()) + " rejected the file (" + std::string(libsndfile_message) +
                              "); linetune decoded it from its fmt and data chunks");
    return file;
}

struct SndfileCloser {
    void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfileHandle = std::unique_ptr<SNDFILE, SndfileCloser>;

std::string container_name(int format) {
    switch (format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: return (format & SF_FORMAT_ENDMASK) == SF_ENDIAN_BIG ? "WAV (big-endian RIFX)" : "WAV";
    case SF_FORMAT_WAVEX: return "WAV (extensible)";
    case SF_FORMAT_RF64: return "RF64";
    case SF_FORMAT_W64: return "W64";
    case SF_FORMAT_AIFF: return "AIFF";
    case SF_FORMAT_FLAC: return "FLAC";
    case SF_FORMAT_OGG: return "Ogg";
    case SF_FORMAT_CAF: return "CAF";
    case SF_FORMAT_AU: return "AU";
    default: break;
    }
    SF_FORMAT_INFO info{};
    info.format = format & SF_FORMAT_TYPEMASK;
    if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof(info)) == 0 && info.name != nullptr) {
        return info.name;
    }
    return "libsndfile container " + std::to_string(format & SF_FORMAT_TYPEMASK);
}

std::string sample_format_name(int format) {
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8: return "PCM 8-bit";
    case SF_FORMAT_PCM_16: return "PCM 16-bit";
    case SF_FORMAT_PCM_24: return "PCM 24-bit";
    case SF_FORMAT_PCM_32: return "PCM 32-bit";
    case SF_FORMAT_FLOAT: return "float 32-bit";
    case SF_FORMAT_DOUBLE: return "float 64-bit";
    default: break;
    }
    SF_FORMAT_INFO info{};
    info.format = format & SF_FORMAT_SUBMASK;
    if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &info, sizeof(info)) == 0 && info.name != nullptr) {
        return info.name;
    }
    return "libsndfile encoding " + std::to_string(format & SF_FORMAT_SUBMASK);
}

void validate_libsndfile_info(const SF_INFO& info) {
    if (info.channels <= 0) {
        throw Error("the header declares 0 channels; the header is damaged; re-export the file");
    }
    if (static_cast<std::size_t>(info.channels) > max_audio_file_channels) {
        throw Error(std::to_string(info.channels) + " channels exceed the limit of " +
                    std::to_string(max_audio_file_channels) +
                    " channels per file; split the recording into files of at most 64 channels");
    }
    if (info.samplerate <= 0) {
        throw Error("the header declares a sample rate of 0 Hz; the header is damaged; re-export the file");
    }
    if (info.frames <= 0) {
        throw Error("the file contains no audio (0 audio frames); re-export or re-record it");
    }
}

// Reads through libsndfile block by block, so that only one block is ever interleaved.
AudioFile read_with_libsndfile(SNDFILE* handle, const SF_INFO& sf_info) {
    validate_libsndfile_info(sf_info);
    const auto channels = static_cast<std::size_t>(sf_info.channels);
    const auto frames = static_cast<std::size_t>(sf_info.frames);

    AudioFile file{MultichannelSignal(channels, frames, static_cast<double>(sf_info.samplerate)), {}};
    std::vector<float> block(read_block_frames * channels);
    for (std::size_t first = 0; first < frames; first += read_block_frames) {
        const std::size_t count = std::min(read_block_frames, frames - first);
        const sf_count_t read = sf_readf_float(handle, block.data(), static_cast<sf_count_t>(count));
        if (read != static_cast<sf_count_t>(count)) {
            throw Error("libsndfile decoded " + std::to_string(first + static_cast<std::size_t>(std::max<sf_count_t>(read, 0))) +
                        " of " + std::to_string(frames) + " frames (" + sf_strerror(handle) +
                        "): the file is damaged or truncated; re-export or re-record it");
        }
        for (std::size_t channel = 0; channel < channels; ++channel) {
            const auto samples = file.signal.channel(channel).subspan(first, count);
            for (std::size_t frame = 0; frame < count; ++frame) {
                samples[frame] = block[frame * channels + channel];
            }
        }
    }

    file.info.container = container_name(sf_info.format);
    file.info.sample_format = sample_format_name(sf_info.format);
    return file;
}

bool is_wave_family(std::string_view container) {
    return container == "RIFF" || container == "RIFX" || container == "RF64" || container == "BW64" || container == "W64";
}

AudioFile read_audio_file_unlabelled(const std::filesystem::path& path) {
    check_regular_file(path);
    const std::string container = container_from_magic(path);
    if (container.empty()) {
        throw Error("not a recognised audio file (expected WAV, RF64, W64, AIFF or FLAC); for headerless raw audio "
                    "give --sample-rate, --channels, --sample-format and --endian");
    }

    // WAVE files are checked from their own chunks first: libsndfile 1.2.0 reads a truncated data
    // chunk without complaint and names header faults only vaguely.
    std::optional<WaveHeader> header;
    if (is_wave_family(container)) {
        RiffLayout layout = read_riff_layout(path);
        header = inspect_wave_header(path, std::move(layout));
    }

    SF_INFO sf_info{};
    const SndfileHandle handle(sf_open(path.c_str(), SFM_READ, &sf_info));
    if (handle == nullptr) {
        const std::string message = sf_strerror(nullptr);
        if (header.has_value()) {
            return decode_wave_file(path, *header, message);
        }
        throw Error(std::string(sf_version_string()) + " could not decode it (" + message +
                    "); re-export it as PCM or float WAV");
    }

    AudioFile file = read_with_libsndfile(handle.get(), sf_info);
    if (header.has_value()) {
        if (header->layout.form == "BW64") {
            file.info.container = "BW64";
        }
        file.info.notes = header->notes;
        if (header->frames != file.signal.frame_count()) {
            file.info.notes.push_back("the data chunk contains " + std::to_string(header->frames) + " frames but " +
                                      sf_version_string() + " decoded " + std::to_string(file.signal.frame_count()));
        }
    }
    return file;
}

}  // namespace

AudioFile read_audio_file(const std::filesystem::path& path) {
    AudioFile file;
    try {
        file = read_audio_file_unlabelled(path);
    } catch (const Error& error) {
        // read_riff_layout labels its errors with the file already.
        const std::string label = file_label(path);
        if (std::string_view(error.what()).starts_with(label + ": ")) {
            throw;
        }
        throw error.with_context(label);
    }

    const double rate_hz = file.signal.sample_rate_hz();
    if (rate_hz < raw_audio_min_sample_rate_hz || rate_hz > raw_audio_max_sample_rate_hz) {
        throw Error(file_label(path) + ": the header declares a sample rate of " + format_number(rate_hz) +
                    " Hz, outside the " + format_number(raw_audio_min_sample_rate_hz) + " to " +
                    format_number(raw_audio_max_sample_rate_hz) + " Hz linetune reads; the header is damaged; re-export the file");
    }

    file.info.channels = file.signal.channel_count();
    file.info.sample_rate_hz = file.signal.sample_rate_hz();
    file.info.frames = file.signal.frame_count();
    return file;
}

bool looks_like_audio_container(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        return false;
    }
    return !container_from_magic(path).empty();
}

}  // namespace linetune::io
