#include "linetune/io/raw_audio.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace linetune::io {
namespace {

// Frames decoded per block before de-interleaving; the block buffer takes at most
// frames × 64 channels × 8 bytes = 4 MiB.
constexpr std::size_t raw_block_frames = 8192;

std::string format_number(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
}

std::string sample_format_name(SampleFormat format) {
    switch (format) {
    case SampleFormat::s16: return "PCM 16-bit";
    case SampleFormat::s24: return "PCM 24-bit";
    case SampleFormat::s32: return "PCM 32-bit";
    case SampleFormat::f32: return "float 32-bit";
    case SampleFormat::f64: return "float 64-bit";
    }
    return "PCM 16-bit";
}

// One sample to float, scaled as libsndfile 1.2.0 scales integer PCM: full scale 2^(bits-1)
// maps to 1.0, so s16 32767 becomes 32767/32768.
float decode_sample(const std::uint8_t* bytes, SampleFormat format, Endian endian) {
    const std::size_t byte_count = bytes_per_sample(format);
    std::uint64_t raw = 0;
    for (std::size_t i = 0; i < byte_count; ++i) {
        raw = (raw << 8U) | bytes[endian == Endian::big ? i : byte_count - 1 - i];
    }

    if (format == SampleFormat::f32) {
        return std::bit_cast<float>(static_cast<std::uint32_t>(raw));
    }
    if (format == SampleFormat::f64) {
        return static_cast<float>(std::bit_cast<double>(raw));
    }
    const unsigned bit_count = static_cast<unsigned>(byte_count * 8);
    const std::int64_t value = static_cast<std::int64_t>(raw << (64U - bit_count)) >> (64U - bit_count);
    return static_cast<float>(std::ldexp(static_cast<double>(value), -static_cast<int>(bit_count - 1)));
}

std::uint64_t checked_file_size(const std::filesystem::path& path) {
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (!std::filesystem::exists(status)) {
        throw Error("not found; check the path and the working folder");
    }
    if (std::filesystem::is_directory(status)) {
        throw Error("is a folder, not an audio file; give the path of a raw audio file");
    }
    const std::uint64_t size = std::filesystem::file_size(path, error);
    if (error) {
        throw Error("cannot read its size (" + error.message() + "); check that it is a readable file");
    }
    if (size == 0) {
        throw Error("the file is empty (0 bytes); re-export or re-record it");
    }
    return size;
}

AudioFile read_raw_audio_unlabelled(const std::filesystem::path& path, const RawAudioLayout& layout) {
    validate_raw_audio_layout(layout);
    const std::uint64_t size_bytes = checked_file_size(path);

    const std::size_t sample_bytes = bytes_per_sample(layout.sample_format);
    const std::size_t frame_bytes = sample_bytes * layout.channels;
    if (size_bytes % frame_bytes != 0) {
        throw Error(std::to_string(size_bytes) + " bytes is not a whole number of " + std::to_string(frame_bytes) +
                    "-byte frames (" + std::to_string(layout.channels) + " channels × " +
                    std::string(to_string(layout.sample_format)) +
                    "); check --channels and --sample-format, or whether the file has a header");
    }

    std::ifstream stream(path, std::ios::binary);
    if (!stream.is_open()) {
        throw Error("cannot be opened for reading; check its permissions");
    }

    const auto frames = static_cast<std::size_t>(size_bytes / frame_bytes);
    AudioFile file{MultichannelSignal(layout.channels, frames, layout.sample_rate_hz), {}};
    std::vector<std::uint8_t> block(raw_block_frames * frame_bytes);

    for (std::size_t first = 0; first < frames; first += raw_block_frames) {
        const std::size_t count = std::min(raw_block_frames, frames - first);
        stream.read(reinterpret_cast<char*>(block.data()), static_cast<std::streamsize>(count * frame_bytes));
        if (static_cast<std::size_t>(stream.gcount()) != count * frame_bytes) {
            throw Error("reading failed at frame " + std::to_string(first) +
                        "; check that the file is not being written to");
        }
        for (std::size_t channel = 0; channel < layout.channels; ++channel) {
            const auto samples = file.signal.channel(channel).subspan(first, count);
            const std::uint8_t* sample = block.data() + channel * sample_bytes;
            for (std::size_t frame = 0; frame < count; ++frame) {
                samples[frame] = decode_sample(sample + frame * frame_bytes, layout.sample_format, layout.endian);
            }
        }
    }

    file.info.container = "raw";
    file.info.sample_format = sample_format_name(layout.sample_format);
    file.info.channels = layout.channels;
    file.info.sample_rate_hz = layout.sample_rate_hz;
    file.info.frames = frames;
    file.info.notes.push_back("headerless audio read as " + std::to_string(layout.channels) + " channels of " +
                              std::string(to_string(layout.sample_format)) + " " +
                              std::string(to_string(layout.endian)) + "-endian at " +
                              format_number(layout.sample_rate_hz) + " Hz, as given on the command line");
    return file;
}

}  // namespace

std::optional<SampleFormat> parse_sample_format(std::string_view text) {
    for (const SampleFormat format :
         {SampleFormat::s16, SampleFormat::s24, SampleFormat::s32, SampleFormat::f32, SampleFormat::f64}) {
        if (text == to_string(format)) {
            return format;
        }
    }
    return std::nullopt;
}

std::optional<Endian> parse_endian(std::string_view text) {
    if (text == "little") {
        return Endian::little;
    }
    if (text == "big") {
        return Endian::big;
    }
    return std::nullopt;
}

std::string_view to_string(SampleFormat format) {
    switch (format) {
    case SampleFormat::s16: return "s16";
    case SampleFormat::s24: return "s24";
    case SampleFormat::s32: return "s32";
    case SampleFormat::f32: return "f32";
    case SampleFormat::f64: return "f64";
    }
    return "s16";
}

std::string_view to_string(Endian endian) { return endian == Endian::big ? "big" : "little"; }

std::size_t bytes_per_sample(SampleFormat format) {
    switch (format) {
    case SampleFormat::s16: return 2;
    case SampleFormat::s24: return 3;
    case SampleFormat::s32: return 4;
    case SampleFormat::f32: return 4;
    case SampleFormat::f64: return 8;
    }
    return 2;
}

void validate_raw_audio_layout(const RawAudioLayout& layout) {
    // The limits span 8 kHz telephone-band recordings to the 768 kHz of the fastest audio
    // interfaces, with room below for decimated test data. Other rates are most likely typing errors.
    const bool rate_in_range = std::isfinite(layout.sample_rate_hz) &&
                               layout.sample_rate_hz >= raw_audio_min_sample_rate_hz &&
                               layout.sample_rate_hz <= raw_audio_max_sample_rate_hz;
    if (!rate_in_range) {
        throw Error("--sample-rate " + format_number(layout.sample_rate_hz) +
                        " Hz is out of range (1000 to 768000 Hz); give the rate the file was recorded at",
                    ErrorKind::configuration);
    }
    if (layout.channels < 1 || layout.channels > max_audio_file_channels) {
        throw Error("--channels " + std::to_string(layout.channels) +
                        " is out of range (1 to 64); give the number of interleaved channels in the file",
                    ErrorKind::configuration);
    }
}

AudioFile read_raw_audio(const std::filesystem::path& path, const RawAudioLayout& layout) {
    try {
        return read_raw_audio_unlabelled(path, layout);
    } catch (const Error& error) {
        throw error.with_context("file '" + path.string() + "'");
    }
}

}  // namespace linetune::io
