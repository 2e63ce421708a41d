#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/riff_chunks.hpp"
#include "linetune/io/wav_writer.hpp"

#include "test_support.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace {

using linetune::Error;
using linetune::io::AudioFile;
using linetune::io::read_audio_file;
using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

void append_le(Bytes& bytes, std::uint64_t value, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
}

void append(Bytes& bytes, const Bytes& more) { bytes.insert(bytes.end(), more.begin(), more.end()); }

void append_text(Bytes& bytes, std::string_view text) { bytes.insert(bytes.end(), text.begin(), text.end()); }

// One RIFF chunk: id, little-endian u32 size, payload and a pad byte after an odd payload.
Bytes chunk(std::string_view id, const Bytes& payload) {
    Bytes bytes;
    append_text(bytes, id);
    append_le(bytes, payload.size(), 4);
    append(bytes, payload);
    if (payload.size() % 2 != 0) {
        bytes.push_back(0);
    }
    return bytes;
}

Bytes riff_wave(const std::vector<Bytes>& chunks) {
    Bytes body;
    append_text(body, "WAVE");
    for (const auto& one : chunks) {
        append(body, one);
    }
    Bytes file;
    append_text(file, "RIFF");
    append_le(file, body.size(), 4);
    append(file, body);
    return file;
}

// RF64 (or BW64) with a ds64 chunk that carries the real RIFF and data sizes.
Bytes rf64_wave(const Bytes& fmt_chunk, const Bytes& data, std::string_view magic = "RF64",
                std::optional<std::uint64_t> declared_data_bytes = std::nullopt) {
    Bytes data_chunk;
    append_text(data_chunk, "data");
    append_le(data_chunk, 0xFFFFFFFF, 4);
    append(data_chunk, data);
    const std::uint64_t riff_size = 4 + (8 + 28) + fmt_chunk.size() + data_chunk.size();

    Bytes ds64;
    append_le(ds64, riff_size, 8);
    append_le(ds64, declared_data_bytes.value_or(data.size()), 8);
    append_le(ds64, 0, 8);
    append_le(ds64, 0, 4);

    Bytes file;
    append_text(file, magic);
    append_le(file, 0xFFFFFFFF, 4);
    append_text(file, "WAVE");
    append(file, chunk("ds64", ds64));
    append(file, fmt_chunk);
    append(file, data_chunk);
    return file;
}

// WAVEFORMAT (16 bytes), plus cbSize and extension bytes when extension_bytes is given.
Bytes fmt_plain(std::uint16_t tag, std::uint16_t channels, std::uint32_t rate_hz, std::uint16_t bits,
                std::optional<std::size_t> extension_bytes = std::nullopt) {
    const std::uint32_t block_align = channels * ((bits + 7U) / 8U);
    Bytes payload;
    append_le(payload, tag, 2);
    append_le(payload, channels, 2);
    append_le(payload, rate_hz, 4);
    append_le(payload, rate_hz * block_align, 4);
    append_le(payload, block_align, 2);
    append_le(payload, bits, 2);
    if (extension_bytes.has_value()) {
        append_le(payload, *extension_bytes, 2);
        payload.resize(payload.size() + *extension_bytes, 0);
    }
    return chunk("fmt ", payload);
}

// WAVE_FORMAT_EXTENSIBLE fmt with a KSDATAFORMAT sub-format GUID for sub_tag. cb_size is written
// as given; total_bytes cuts or zero-extends the payload (40 is the standard length).
Bytes fmt_extensible(std::uint16_t channels, std::uint32_t rate_hz, std::uint16_t bits, std::uint16_t valid_bits,
                     std::uint16_t sub_tag, std::uint16_t cb_size = 22, std::size_t total_bytes = 40) {
    const std::uint32_t block_align = channels * (bits / 8U);
    Bytes payload;
    append_le(payload, 0xFFFE, 2);
    append_le(payload, channels, 2);
    append_le(payload, rate_hz, 4);
    append_le(payload, rate_hz * block_align, 4);
    append_le(payload, block_align, 2);
    append_le(payload, bits, 2);
    append_le(payload, cb_size, 2);
    append_le(payload, valid_bits, 2);
    append_le(payload, 0, 4);
    append_le(payload, sub_tag, 2);
    append(payload, {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71});
    payload.resize(total_bytes, 0);
    return chunk("fmt ", payload);
}

// A deterministic 16-bit test value for a channel and frame, different in every channel.
std::int16_t pattern_value(std::size_t channel, std::size_t frame) {
    return static_cast<std::int16_t>(static_cast<int>((frame * 37 + channel * 1000) % 20000) - 10000);
}

Bytes pcm16_data(std::size_t channels, std::size_t frames) {
    Bytes bytes;
    for (std::size_t frame = 0; frame < frames; ++frame) {
        for (std::size_t channel = 0; channel < channels; ++channel) {
            append_le(bytes, static_cast<std::uint16_t>(pattern_value(channel, frame)), 2);
        }
    }
    return bytes;
}

fs::path write_bytes(const fs::path& path, const Bytes& bytes) {
    std::ofstream stream(path, std::ios::binary);
    stream.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
}

// Checks the pattern written by pcm16_data, scaled by 1/32768 as libsndfile scales int16.
void check_pattern(const AudioFile& file, std::size_t channels, std::size_t frames) {
    REQUIRE(file.signal.channel_count() == channels);
    REQUIRE(file.signal.frame_count() == frames);
    std::size_t mismatches = 0;
    for (std::size_t channel = 0; channel < channels; ++channel) {
        for (std::size_t frame = 0; frame < frames; ++frame) {
            const float expected = static_cast<float>(pattern_value(channel, frame)) / 32768.0F;
            mismatches += file.signal.channel(channel)[frame] != expected ? 1 : 0;
        }
    }
    CHECK(mismatches == 0);
}

bool has_note(const AudioFile& file, std::string_view text) {
    return std::any_of(file.info.notes.begin(), file.info.notes.end(),
                       [&](const std::string& note) { return note.find(text) != std::string::npos; });
}

std::string error_message(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "(no error)";
}

std::vector<float> channel_samples(const AudioFile& file, std::size_t channel) {
    const auto samples = file.signal.channel(channel);
    return {samples.begin(), samples.end()};
}

// Writes interleaved float samples through libsndfile in the given format.
fs::path write_with_libsndfile(const fs::path& path, int format, std::size_t channels, std::size_t frames) {
    SF_INFO info{};
    info.channels = static_cast<int>(channels);
    info.samplerate = 48000;
    info.format = format;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    std::vector<float> interleaved(channels * frames);
    for (std::size_t frame = 0; frame < frames; ++frame) {
        for (std::size_t channel = 0; channel < channels; ++channel) {
            interleaved[frame * channels + channel] = static_cast<float>(pattern_value(channel, frame)) / 32768.0F;
        }
    }
    CHECK(sf_writef_float(file, interleaved.data(), static_cast<sf_count_t>(frames)) == static_cast<sf_count_t>(frames));
    sf_close(file);
    return path;
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("16-bit PCM scales like libsndfile") {
    const auto dir = linetune::test::scratch_dir("audio_pcm16_scale");
    Bytes data;
    for (const int value : {32767, -32768, 0, 1, -1}) {
        append_le(data, static_cast<std::uint16_t>(value), 2);
    }
    const auto path = write_bytes(dir / "scale.wav", riff_wave({fmt_plain(1, 1, 44100, 16), chunk("data", data)}));

    const AudioFile file = read_audio_file(path);
    CHECK(file.info.container == "WAV");
    CHECK(file.info.sample_format == "PCM 16-bit");
    CHECK(file.info.channels == 1);
    CHECK(file.info.sample_rate_hz == 44100.0);
    CHECK(file.info.frames == 5);
    const auto samples = file.signal.channel(0);
    CHECK(samples[0] == 32767.0F / 32768.0F);
    CHECK(samples[1] == -1.0F);
    CHECK(samples[2] == 0.0F);
    CHECK(samples[3] == 1.0F / 32768.0F);
    CHECK(samples[4] == -1.0F / 32768.0F);
}

TEST_CASE("24-bit and 32-bit PCM scale to full scale") {
    const auto dir = linetune::test::scratch_dir("audio_pcm24_32");
    Bytes data24;
    for (const std::int32_t value : {8388607, -8388608, 1}) {
        append_le(data24, static_cast<std::uint32_t>(value), 3);
    }
    Bytes data32;
    for (const std::int64_t value : {2147483647LL, -2147483648LL, 65536LL}) {
        append_le(data32, static_cast<std::uint32_t>(value), 4);
    }

    const AudioFile file24 =
        read_audio_file(write_bytes(dir / "a.wav", riff_wave({fmt_plain(1, 1, 96000, 24), chunk("data", data24)})));
    CHECK(file24.info.sample_format == "PCM 24-bit");
    CHECK(file24.signal.channel(0)[0] == static_cast<float>(8388607.0 / 8388608.0));
    CHECK(file24.signal.channel(0)[1] == -1.0F);
    CHECK(file24.signal.channel(0)[2] == static_cast<float>(1.0 / 8388608.0));

    const AudioFile file32 =
        read_audio_file(write_bytes(dir / "b.wav", riff_wave({fmt_plain(1, 1, 96000, 32), chunk("data", data32)})));
    CHECK(file32.info.sample_format == "PCM 32-bit");
    CHECK(file32.signal.channel(0)[0] == 1.0F);  // 2147483647/2^31 rounds to 1.0 in float32
    CHECK(file32.signal.channel(0)[1] == -1.0F);
    CHECK(file32.signal.channel(0)[2] == static_cast<float>(1.0 / 32768.0));
}

TEST_CASE("float WAV samples are kept unscaled") {
    const auto dir = linetune::test::scratch_dir("audio_float");
    const std::vector<double> values = {0.5, -0.25, 1.5, 1e-6};
    Bytes data32;
    Bytes data64;
    for (const double value : values) {
        std::uint32_t bits32 = 0;
        const float single = static_cast<float>(value);
        std::memcpy(&bits32, &single, 4);
        append_le(data32, bits32, 4);
        std::uint64_t bits64 = 0;
        std::memcpy(&bits64, &value, 8);
        append_le(data64, bits64, 8);
    }

    const AudioFile file32 = read_audio_file(
        write_bytes(dir / "f32.wav", riff_wave({fmt_plain(3, 1, 48000, 32), chunk("fact", {4, 0, 0, 0}), chunk("data", data32)})));
    const AudioFile file64 =
        read_audio_file(write_bytes(dir / "f64.wav", riff_wave({fmt_plain(3, 1, 48000, 64), chunk("data", data64)})));
    CHECK(file32.info.sample_format == "float 32-bit");
    CHECK(file64.info.sample_format == "float 64-bit");
    for (std::size_t i = 0; i < values.size(); ++i) {
        CAPTURE(i);
        CHECK(file32.signal.channel(0)[i] == static_cast<float>(values[i]));
        CHECK(file64.signal.channel(0)[i] == static_cast<float>(values[i]));
    }
}

TEST_CASE("8-bit PCM is unsigned around 128") {
    const auto dir = linetune::test::scratch_dir("audio_pcm8");
    const auto path = write_bytes(dir / "u8.wav", riff_wave({fmt_plain(1, 1, 8000, 8), chunk("data", {0, 128, 255, 64})}));

    const AudioFile file = read_audio_file(path);
    CHECK(file.info.sample_format == "PCM 8-bit");
    CHECK(file.signal.channel(0)[0] == -1.0F);
    CHECK(file.signal.channel(0)[1] == 0.0F);
    CHECK(file.signal.channel(0)[2] == 127.0F / 128.0F);
    CHECK(file.signal.channel(0)[3] == -0.5F);
}

TEST_CASE("extensible fmt reads with any cbSize") {
    const auto dir = linetune::test::scratch_dir("audio_extensible_cbsize");
    struct Layout {
        std::uint16_t cb_size;
        std::size_t fmt_bytes;
        bool expect_cb_note;
    };
    // 22/40 is the standard; the others are what real writers have put in the field.
    const std::vector<Layout> layouts = {{22, 40, false}, {0, 40, true}, {30, 40, true},
                                         {24, 42, true},  {22, 48, false}, {32, 48, true}, {0xFFFF, 40, true}};
    for (const auto& layout : layouts) {
        CAPTURE(layout.cb_size);
        CAPTURE(layout.fmt_bytes);
        const auto path = write_bytes(dir / ("cb" + std::to_string(layout.cb_size) + "_" +
                                             std::to_string(layout.fmt_bytes) + ".wav"),
                                      riff_wave({fmt_extensible(2, 48000, 16, 16, 1, layout.cb_size, layout.fmt_bytes),
                                                 chunk("data", pcm16_data(2, 100))}));
        const AudioFile file = read_audio_file(path);
        CHECK(file.info.container == "WAV (extensible)");
        CHECK(file.info.sample_format == "PCM 16-bit");
        check_pattern(file, 2, 100);
        CHECK(has_note(file, "cbSize") == layout.expect_cb_note);
        CHECK(has_note(file, "after the standard 40") == (layout.fmt_bytes > 40));
    }
}

TEST_CASE("extensible 24 valid bits in 32-bit words") {
    const auto dir = linetune::test::scratch_dir("audio_extensible_24in32");
    Bytes data;
    for (const std::int32_t value : {8388607, -8388608, 4096}) {
        append_le(data, static_cast<std::uint32_t>(value) << 8U, 4);
    }
    const auto path = write_bytes(dir / "a.wav", riff_wave({fmt_extensible(1, 48000, 32, 24, 1), chunk("data", data)}));

    const AudioFile file = read_audio_file(path);
    CHECK(file.info.sample_format == "PCM 32-bit");
    CHECK(file.signal.channel(0)[0] == static_cast<float>(8388607.0 / 8388608.0));
    CHECK(file.signal.channel(0)[1] == -1.0F);
    CHECK(file.signal.channel(0)[2] == static_cast<float>(4096.0 / 8388608.0));
}

TEST_CASE("short extensible fmt decodes without libsndfile") {
    // libsndfile 1.2.0 rejects an extensible fmt shorter than 40 bytes ("unimplemented format").
    const auto dir = linetune::test::scratch_dir("audio_extensible_short");
    for (const std::size_t fmt_bytes : {18, 24, 38}) {
        CAPTURE(fmt_bytes);
        const auto path = write_bytes(dir / ("short" + std::to_string(fmt_bytes) + ".wav"),
                                      riff_wave({fmt_extensible(2, 48000, 16, 16, 1, 0, fmt_bytes),
                                                 chunk("data", pcm16_data(2, 100))}));
        const AudioFile file = read_audio_file(path);
        CHECK(file.info.container == "WAV (extensible)");
        CHECK(file.info.sample_format == "PCM 16-bit");
        check_pattern(file, 2, 100);
        CHECK(has_note(file, "shorter than the 40 bytes"));
        CHECK(has_note(file, "decoded it from its fmt and data chunks"));
    }
}

TEST_CASE("fallback decoder matches libsndfile") {
    // libsndfile 1.2.0 rejects a fmt chunk after the data chunk, so the second file of each pair
    // goes through linetune's own decoder. Both must give identical float samples.
    const auto dir = linetune::test::scratch_dir("audio_fallback_equal");
    struct Encoding {
        std::uint16_t tag;
        std::uint16_t bits;
    };
    for (const Encoding encoding : {Encoding{1, 8}, Encoding{1, 16}, Encoding{1, 24}, Encoding{1, 32},
                                    Encoding{3, 32}, Encoding{3, 64}}) {
        CAPTURE(encoding.tag);
        CAPTURE(encoding.bits);
        const std::size_t sample_bytes = encoding.bits / 8U;
        Bytes data;
        for (std::size_t i = 0; i < 3 * 1000; ++i) {
            // Pseudo-random bytes cover signs, extremes and (for float) ordinary values.
            const std::uint64_t value = (i * 2654435761ULL) ^ (i << 13U);
            if (encoding.tag == 3 && encoding.bits == 32) {
                const float sample = static_cast<float>(std::sin(0.01 * static_cast<double>(i)) * 1.2);
                std::uint32_t raw = 0;
                std::memcpy(&raw, &sample, 4);
                append_le(data, raw, 4);
            } else if (encoding.tag == 3) {
                const double sample = std::sin(0.01 * static_cast<double>(i)) * 1.2;
                std::uint64_t raw = 0;
                std::memcpy(&raw, &sample, 8);
                append_le(data, raw, 8);
            } else {
                append_le(data, value, sample_bytes);
            }
        }
        const Bytes fmt = fmt_plain(encoding.tag, 3, 48000, encoding.bits);
        const auto name = std::to_string(encoding.tag) + "_" + std::to_string(encoding.bits);
        const AudioFile by_libsndfile = read_audio_file(write_bytes(dir / (name + "_a.wav"), riff_wave({fmt, chunk("data", data)})));
        const AudioFile by_linetune = read_audio_file(write_bytes(dir / (name + "_b.wav"), riff_wave({chunk("data", data), fmt})));

        CHECK_FALSE(has_note(by_libsndfile, "rejected"));
        CHECK(has_note(by_linetune, "rejected"));
        CHECK(by_linetune.info.sample_format == by_libsndfile.info.sample_format);
        REQUIRE(by_linetune.signal.frame_count() == 1000);
        for (std::size_t channel = 0; channel < 3; ++channel) {
            CAPTURE(channel);
            CHECK(channel_samples(by_linetune, channel) == channel_samples(by_libsndfile, channel));
        }
    }
}

TEST_CASE("BW64 decodes without libsndfile") {
    const auto dir = linetune::test::scratch_dir("audio_bw64");
    const auto path = write_bytes(dir / "a.wav", rf64_wave(fmt_plain(1, 2, 48000, 16), pcm16_data(2, 300), "BW64"));

    const AudioFile file = read_audio_file(path);
    CHECK(file.info.container == "BW64");
    CHECK(has_note(file, "rejected"));
    check_pattern(file, 2, 300);
}

TEST_CASE("RF64 reads its sizes from ds64") {
    const auto dir = linetune::test::scratch_dir("audio_rf64");
    const auto path = write_bytes(dir / "a.wav", rf64_wave(fmt_extensible(2, 48000, 16, 16, 1, 30), pcm16_data(2, 300)));

    const AudioFile file = read_audio_file(path);
    CHECK(file.info.container == "RF64");
    check_pattern(file, 2, 300);

    const auto chunks = linetune::io::list_riff_chunks(path);
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[0].id == "ds64");
    CHECK(chunks[2].id == "data");
    CHECK(chunks[2].declared_size == 1200);
    CHECK(chunks[2].available_size == 1200);
}

TEST_CASE("RF64 truncation is found from ds64") {
    const auto dir = linetune::test::scratch_dir("audio_rf64_truncated");
    const auto path = write_bytes(dir / "x.wav", rf64_wave(fmt_plain(1, 2, 48000, 16), pcm16_data(2, 300), "RF64", 88200));

    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() +
              "': data chunk declares 88200 bytes but only 1200 bytes follow: the file is truncated; re-export or re-record it");
}

TEST_CASE("W64, AIFF and FLAC read through libsndfile") {
    const auto dir = linetune::test::scratch_dir("audio_other_containers");
    struct Case {
        std::string name;
        int format;
        std::string container;
    };
    for (const auto& one : {Case{"a.w64", SF_FORMAT_W64 | SF_FORMAT_PCM_16, "W64"},
                            Case{"a.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, "AIFF"},
                            Case{"a.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "FLAC"}}) {
        CAPTURE(one.name);
        const auto path = write_with_libsndfile(dir / one.name, one.format, 3, 5000);
        CHECK(linetune::io::looks_like_audio_container(path));
        const AudioFile file = read_audio_file(path);
        CHECK(file.info.container == one.container);
        CHECK(file.info.sample_format == "PCM 16-bit");
        CHECK(file.info.sample_rate_hz == 48000.0);
        check_pattern(file, 3, 5000);
    }
}

TEST_CASE("W64 chunks are listed by their GUID code") {
    const auto dir = linetune::test::scratch_dir("audio_w64_chunks");
    const auto path = write_with_libsndfile(dir / "a.w64", SF_FORMAT_W64 | SF_FORMAT_PCM_24, 2, 101);

    const auto layout = linetune::io::read_riff_layout(path);
    CHECK(layout.form == "W64");
    CHECK(layout.form_type == "WAVE");
    const auto data = std::find_if(layout.chunks.begin(), layout.chunks.end(), [](const auto& c) { return c.id == "data"; });
    REQUIRE(data != layout.chunks.end());
    CHECK(data->declared_size == 2 * 3 * 101);
    CHECK(data->payload_offset == data->offset + 24);
}

TEST_CASE("metadata chunks are skipped and noted") {
    const auto dir = linetune::test::scratch_dir("audio_metadata_chunks");
    const auto path = write_bytes(dir / "a.wav",
                                  riff_wave({fmt_plain(1, 2, 48000, 16), chunk("bext", Bytes(602, 0)),
                                             chunk("FLLR", Bytes(4044, 0)), chunk("fact", {100, 0, 0, 0}),
                                             chunk("LIST", {'I', 'N', 'F', 'O'}), chunk("junk", Bytes(7, 0x55)),
                                             chunk("data", pcm16_data(2, 100)), chunk("inst", Bytes(7, 1)),
                                             chunk("LIST", {'I', 'N', 'F', 'O'})}));

    const AudioFile file = read_audio_file(path);
    check_pattern(file, 2, 100);
    CHECK(has_note(file, "chunk 'bext' (602 bytes) before data ignored"));
    CHECK(has_note(file, "chunk 'FLLR' (4044 bytes) before data ignored"));
    CHECK(has_note(file, "chunk 'junk' (7 bytes) before data ignored"));
    CHECK(has_note(file, "chunk 'inst' (7 bytes) after data ignored"));
    CHECK(has_note(file, "chunk 'LIST' (4 bytes) after data ignored"));
}

TEST_CASE("odd chunk sizes skip their pad byte") {
    const auto dir = linetune::test::scratch_dir("audio_odd_chunks");
    const auto path = write_bytes(dir / "a.wav", riff_wave({fmt_plain(1, 1, 48000, 16), chunk("junk", Bytes(7, 0xAA)),
                                                            chunk("data", pcm16_data(1, 10)), chunk("inst", Bytes(7, 1))}));

    const auto chunks = linetune::io::list_riff_chunks(path);
    REQUIRE(chunks.size() == 4);
    CHECK(chunks[0].id == "fmt ");
    CHECK(chunks[0].offset == 12);
    CHECK(chunks[1].id == "junk");
    CHECK(chunks[1].offset == 36);
    CHECK(chunks[1].declared_size == 7);
    CHECK(chunks[2].id == "data");
    CHECK(chunks[2].offset == 36 + 8 + 8);  // 7 bytes plus the pad byte
    CHECK(chunks[2].payload_offset == chunks[2].offset + 8);
    CHECK(chunks[3].id == "inst");
    CHECK(chunks[3].available_size == 7);
    check_pattern(read_audio_file(path), 1, 10);
}

TEST_CASE("truncated chunk reports available bytes") {
    const auto dir = linetune::test::scratch_dir("audio_chunks_truncated");
    Bytes bytes = riff_wave({fmt_plain(1, 2, 48000, 16)});
    append_text(bytes, "data");
    append_le(bytes, 88200, 4);
    append(bytes, pcm16_data(2, 300));
    const auto path = write_bytes(dir / "x.wav", bytes);

    const auto chunks = linetune::io::list_riff_chunks(path);
    REQUIRE(chunks.size() == 2);
    CHECK(chunks[1].declared_size == 88200);
    CHECK(chunks[1].available_size == 1200);
}

TEST_CASE("64 channels are read") {
    const auto dir = linetune::test::scratch_dir("audio_64_channels");
    const auto path = write_bytes(dir / "a.wav", riff_wave({fmt_extensible(64, 48000, 16, 16, 1), chunk("data", pcm16_data(64, 50))}));
    check_pattern(read_audio_file(path), 64, 50);
}

TEST_CASE("65 channels are rejected") {
    const auto dir = linetune::test::scratch_dir("audio_65_channels");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_extensible(65, 48000, 16, 16, 1), chunk("data", pcm16_data(65, 50))}));
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() +
              "': 65 channels exceed the limit of 64 channels per file; split the recording into files of at most 64 channels");
}

TEST_CASE("missing file error") {
    const auto dir = linetune::test::scratch_dir("audio_missing");
    const auto path = dir / "x.wav";
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() + "': not found; check the path and the working folder");
}

TEST_CASE("folder instead of file error") {
    const auto dir = linetune::test::scratch_dir("audio_folder");
    CHECK(error_message([&] { read_audio_file(dir); }) ==
          "file '" + dir.string() + "': is a folder, not an audio file; give the path of an audio file");
}

TEST_CASE("empty file error") {
    const auto dir = linetune::test::scratch_dir("audio_empty_file");
    const auto path = write_bytes(dir / "x.wav", {});
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() + "': the file is empty (0 bytes); re-export or re-record it");
}

TEST_CASE("truncated data chunk error") {
    const auto dir = linetune::test::scratch_dir("audio_truncated");
    Bytes bytes = riff_wave({fmt_plain(1, 2, 44100, 16)});
    append_text(bytes, "data");
    append_le(bytes, 88200, 4);
    append(bytes, pcm16_data(2, 300));
    const auto path = write_bytes(dir / "x.wav", bytes);
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() +
              "': data chunk declares 88200 bytes but only 1200 bytes follow: the file is truncated; re-export or re-record it");
}

TEST_CASE("empty data chunk error") {
    const auto dir = linetune::test::scratch_dir("audio_empty_data");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_plain(1, 2, 44100, 16), chunk("data", {})}));
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() + "': the data chunk is empty (0 audio frames); re-export or re-record it");
}

TEST_CASE("data shorter than one frame error") {
    const auto dir = linetune::test::scratch_dir("audio_partial_frame");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_plain(1, 2, 44100, 24), chunk("data", Bytes(5, 0))}));
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() +
              "': the data chunk contains 5 bytes, less than one 6-byte frame (0 audio frames); re-export or re-record it");
}

TEST_CASE("missing data chunk error") {
    const auto dir = linetune::test::scratch_dir("audio_no_data");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_plain(1, 2, 44100, 16), chunk("LIST", {'I', 'N', 'F', 'O'})}));
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() + "': no data chunk (chunks found: 'fmt ', 'LIST'), so the file contains no audio; re-export it");
}

TEST_CASE("unrecognised format error") {
    const auto dir = linetune::test::scratch_dir("audio_unknown");
    Bytes bytes;
    append_text(bytes, "just some text, not audio\n");
    const auto path = write_bytes(dir / "x.bin", bytes);
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() +
              "': not a recognised audio file (expected WAV, RF64, W64, AIFF or FLAC); for headerless raw audio give "
              "--sample-rate, --channels, --sample-format and --endian");
}

TEST_CASE("zero channels error") {
    const auto dir = linetune::test::scratch_dir("audio_zero_channels");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_plain(1, 0, 44100, 16), chunk("data", pcm16_data(2, 10))}));
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() + "': fmt chunk declares 0 channels; the header is damaged; re-export the file");
}

TEST_CASE("zero sample rate error") {
    const auto dir = linetune::test::scratch_dir("audio_zero_rate");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_plain(1, 2, 0, 16), chunk("data", pcm16_data(2, 10))}));
    CHECK(error_message([&] { read_audio_file(path); }) ==
          "file '" + path.string() +
              "': fmt chunk declares a sample rate of 0 Hz; the header is damaged; re-export the file");
}

TEST_CASE("unsupported encoding error") {
    // 16-bit IEEE float does not exist; libsndfile 1.2.0 rejects it and so does the fallback.
    const auto dir = linetune::test::scratch_dir("audio_float16");
    const auto path = write_bytes(dir / "x.wav", riff_wave({fmt_plain(3, 1, 44100, 16), chunk("data", pcm16_data(1, 10))}));
    const std::string message = error_message([&] { read_audio_file(path); });
    CHECK(message.starts_with("file '" + path.string() + "': samples are float 16-bit, which libsndfile"));
    CHECK(message.ends_with("re-export the file as PCM or float WAV"));
}

TEST_CASE("streaming data size reads to end of file") {
    const auto dir = linetune::test::scratch_dir("audio_streaming_size");
    Bytes bytes = riff_wave({fmt_plain(1, 2, 44100, 16)});
    append_text(bytes, "data");
    append_le(bytes, 0xFFFFFFFF, 4);
    append(bytes, pcm16_data(2, 100));
    const auto path = write_bytes(dir / "a.wav", bytes);

    const AudioFile file = read_audio_file(path);
    check_pattern(file, 2, 100);
    CHECK(has_note(file, "streaming writer"));
}

TEST_CASE("partial last frame is dropped and noted") {
    const auto dir = linetune::test::scratch_dir("audio_partial_last_frame");
    Bytes data = pcm16_data(2, 100);
    data.push_back(0x7F);
    const auto path = write_bytes(dir / "a.wav", riff_wave({fmt_plain(1, 2, 44100, 16), chunk("data", data)}));

    const AudioFile file = read_audio_file(path);
    check_pattern(file, 2, 100);
    CHECK(has_note(file, "not a whole number of 4-byte frames; the last byte was ignored"));
}

TEST_CASE("container magic bytes are recognised") {
    const auto dir = linetune::test::scratch_dir("audio_magic");
    const auto wav = write_bytes(dir / "a.wav", riff_wave({fmt_plain(1, 1, 44100, 16), chunk("data", pcm16_data(1, 4))}));
    const auto rf64 = write_bytes(dir / "b.wav", rf64_wave(fmt_plain(1, 1, 44100, 16), pcm16_data(1, 4)));
    Bytes flac;
    append_text(flac, "fLaC");
    flac.resize(64, 0);
    Bytes ogg;
    append_text(ogg, "OggS");
    ogg.resize(64, 0);
    Bytes avi;
    append_text(avi, "RIFF");
    append_le(avi, 4, 4);
    append_text(avi, "AVI ");
    Bytes text;
    append_text(text, "Freq(Hz) SPL(dB)\n");

    CHECK(linetune::io::looks_like_audio_container(wav));
    CHECK(linetune::io::looks_like_audio_container(rf64));
    CHECK(linetune::io::looks_like_audio_container(write_bytes(dir / "c.flac", flac)));
    CHECK(linetune::io::looks_like_audio_container(write_bytes(dir / "d.ogg", ogg)));
    CHECK_FALSE(linetune::io::looks_like_audio_container(write_bytes(dir / "e.avi", avi)));
    CHECK_FALSE(linetune::io::looks_like_audio_container(write_bytes(dir / "f.txt", text)));
    CHECK_FALSE(linetune::io::looks_like_audio_container(write_bytes(dir / "g.wav", {'R', 'I'})));
    CHECK_FALSE(linetune::io::looks_like_audio_container(dir / "missing.wav"));
    CHECK_FALSE(linetune::io::looks_like_audio_container(dir));
}

TEST_CASE("decoding keeps one copy in memory") {
    // Peak resident memory while reading an 8-channel, 2^20-frame file must stay near the
    // 32 MiB of decoded float32: a second full interleaved copy would add another 32 MiB.
    // Linux resets the peak (VmHWM) when "5" is written to /proc/self/clear_refs.
    const auto dir = linetune::test::scratch_dir("audio_peak_memory");
    const auto path = dir / "big.wav";
    constexpr std::size_t channels = 8;
    constexpr std::size_t frames = std::size_t{1} << 20U;
    {
        linetune::MultichannelSignal signal(channels, frames, 48000.0);
        for (std::size_t channel = 0; channel < channels; ++channel) {
            auto samples = signal.channel(channel);
            for (std::size_t frame = 0; frame < frames; frame += 97) {
                samples[frame] = static_cast<float>(pattern_value(channel, frame)) / 32768.0F;
            }
        }
        linetune::io::write_wav(path, signal, linetune::io::WavEncoding::pcm16);
    }

    const auto status_kib = [](std::string_view key) -> std::optional<std::size_t> {
        std::ifstream status("/proc/self/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with(key)) {
                return std::stoul(line.substr(key.size()));
            }
        }
        return std::nullopt;
    };
    std::ofstream clear_refs("/proc/self/clear_refs");
    clear_refs << "5";
    clear_refs.flush();
    const auto before_kib = status_kib("VmRSS:");
    if (!clear_refs.good() || !before_kib.has_value()) {
        MESSAGE("skipped: /proc/self/clear_refs or VmRSS is unavailable, so peak memory cannot be measured");
        return;
    }

    const AudioFile file = read_audio_file(path);
    const auto peak_kib = status_kib("VmHWM:");
    REQUIRE(peak_kib.has_value());
    const double growth_mib = static_cast<double>(*peak_kib - *before_kib) / 1024.0;
    MESSAGE("peak resident memory grew by " << growth_mib << " MiB for 32 MiB of decoded audio");
    CHECK(file.signal.frame_count() == frames);
    CHECK(growth_mib >= 24.0);
    CHECK(growth_mib <= 40.0);
    CHECK(file.signal.channel(7)[97] == static_cast<float>(pattern_value(7, 97)) / 32768.0F);
}

TEST_CASE("shared impulse responses match their documented layout") {
    if (!linetune::test::shared_data_available()) {
        return;
    }
    struct Expected {
        std::string path;
        std::size_t channels;
        double sample_rate_hz;
        std::size_t frames;
    };
    // Channels, rate and frames from the "Reference timing" table beside the data.
    const std::vector<Expected> table = {
        {"adventurekid-speaker-irs/Modern_US_001.wav", 2, 44100, 9700},
        {"adventurekid-speaker-irs/Radio_001.wav", 2, 44100, 6742},
        {"adventurekid-speaker-irs/Speaker_001.wav", 2, 44100, 10143},
        {"adventurekid-speaker-irs/Speaker_002.wav", 2, 44100, 5851},
        {"adventurekid-speaker-irs/Vintage_UK_001.wav", 2, 44100, 8516},
        {"openair-python-acoustics/ir_sportscentre_omni.wav", 1, 96000, 940800},
        {"openair-python-acoustics/living_room_1.wav", 1, 44100, 39431},
        {"openair-toobamp/Arthur_Sykes_Rymer_Auditorium.wav", 4, 96000, 144000},
        {"openair-toobamp/Genesis_6_Studio_Live_Room.wav", 4, 96000, 192000},
        {"spatialaudio-clap/brir_clap.wav", 2, 44100, 45998},
        {"spatialaudio-clap/rir_clap.wav", 1, 44100, 44100},
        {"webaudio-house/cinema-room.wav", 2, 44100, 43888},
        {"webaudio-house/dining-far-kitchen.wav", 2, 44100, 65553},
        {"webaudio-house/dining-mid-kitchen.wav", 2, 44100, 65966},
        {"webaudio-house/dining-room.wav", 2, 44100, 54718},
        {"webaudio-house/kitchen.wav", 2, 44100, 45062},
        {"webaudio-house/living-bedroom.wav", 2, 44100, 62608},
        {"webaudio-tim-warehouse/bipolar-35-10.wav", 2, 44100, 153690},
        {"webaudio-tim-warehouse/cardiod-35-10.wav", 2, 44100, 148050},
        {"webaudio-tim-warehouse/omni-15-10.wav", 2, 44100, 172960},
        {"webaudio-tim-warehouse/omni-25-12.wav", 2, 44100, 215730},
        {"webaudio-tim-warehouse/omni-35-10.wav", 2, 44100, 180010},
        {"webaudio-tim-warehouse/omni-7-4.wav", 2, 44100, 131188},
        {"webaudio-tim-warehouse/omni-8-14.wav", 2, 44100, 173900},
    };
    const fs::path ir_dir = linetune::test::shared_data_dir() / "ir";
    for (const auto& expected : table) {
        CAPTURE(expected.path);
        const AudioFile file = read_audio_file(ir_dir / expected.path);
        CHECK(file.info.channels == expected.channels);
        CHECK(file.info.sample_rate_hz == expected.sample_rate_hz);
        CHECK(file.info.frames == expected.frames);
        CHECK(file.signal.channel_count() == expected.channels);
    }

    // The 8-microphone recording is not in the timing table: 8 channels, 44.1 kHz, 2.59 s.
    const AudioFile array = read_audio_file(ir_dir / "spatialaudio-8mic-array" / "noise_rec_one.wav");
    CHECK(array.info.container == "WAV");
    CHECK(array.info.channels == 8);
    CHECK(array.info.sample_rate_hz == 44100.0);
    CHECK(std::abs(static_cast<double>(array.info.frames) / 44100.0 - 2.59) < 0.01);

    // Every WAV in the folder is covered by one of the checks above.
    std::size_t wav_count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(ir_dir)) {
        wav_count += entry.path().extension() == ".wav" ? 1 : 0;
    }
    CHECK(wav_count == table.size() + 1);
}

TEST_CASE("shared files keep notes on their chunks") {
    if (!linetune::test::shared_data_available()) {
        return;
    }
    const fs::path ir_dir = linetune::test::shared_data_dir() / "ir";
    const AudioFile speaker = read_audio_file(ir_dir / "adventurekid-speaker-irs" / "Speaker_001.wav");
    CHECK(speaker.info.sample_format == "float 32-bit");
    CHECK(has_note(speaker, "chunk 'inst' (7 bytes) after data ignored"));

    const AudioFile living_room = read_audio_file(ir_dir / "openair-python-acoustics" / "living_room_1.wav");
    CHECK(living_room.info.sample_format == "PCM 16-bit");
    CHECK(has_note(living_room, "chunk 'LIST' (40 bytes) before data ignored"));

    const AudioFile warehouse = read_audio_file(ir_dir / "webaudio-tim-warehouse" / "omni-7-4.wav");
    CHECK(has_note(warehouse, "chunk 'FLLR' (4044 bytes) before data ignored"));

    const AudioFile auditorium = read_audio_file(ir_dir / "openair-toobamp" / "Arthur_Sykes_Rymer_Auditorium.wav");
    CHECK(auditorium.info.sample_format == "PCM 24-bit");
    CHECK(has_note(auditorium, "chunk 'bext' (602 bytes) before data ignored"));
}

TEST_CASE("REW WAV exports are float32 mono 96 kHz") {
    if (!linetune::test::shared_data_available()) {
        return;
    }
    const fs::path cars = linetune::test::shared_data_dir() / "autosound-measurements" / "cars";
    std::size_t files_read = 0;
    for (const auto& car : fs::directory_iterator(cars)) {
        const fs::path samples = car.path() / "2026-06-15_front-set-01" / "rew-export-samples";
        if (!fs::is_directory(samples)) {
            continue;
        }
        const AudioFile no_t0 = read_audio_file(samples / "w_L.wav-no-t0.wav");
        const AudioFile t0_at_256 = read_audio_file(samples / "w_L.wav-t0-at-256.wav");
        for (const AudioFile* file : {&no_t0, &t0_at_256}) {
            CHECK(file->info.sample_format == "float 32-bit");
            CHECK(file->info.channels == 1);
            CHECK(file->info.sample_rate_hz == 96000.0);
        }
        CHECK(no_t0.info.frames == 262144);
        CHECK(t0_at_256.info.frames == 166859);
        // REW cut 95285 samples from the head; the rest is bit-identical.
        CHECK(t0_at_256.signal.channel(0)[1000] == no_t0.signal.channel(0)[95285 + 1000]);
        files_read += 2;
    }
    CHECK(files_read >= 2);
}

}  // TEST_SUITE
