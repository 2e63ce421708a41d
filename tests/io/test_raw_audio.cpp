#include "linetune/core/error.hpp"
#include "linetune/io/raw_audio.hpp"

#include "test_support.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using linetune::Error;
using linetune::ErrorKind;
using linetune::io::Endian;
using linetune::io::RawAudioLayout;
using linetune::io::read_raw_audio;
using linetune::io::SampleFormat;
using Bytes = std::vector<std::uint8_t>;

// Appends the low byte_count bytes of value in the given byte order.
void append(Bytes& bytes, std::uint64_t value, std::size_t byte_count, Endian endian) {
    for (std::size_t i = 0; i < byte_count; ++i) {
        const std::size_t shift = endian == Endian::little ? i : byte_count - 1 - i;
        bytes.push_back(static_cast<std::uint8_t>(value >> (8 * shift)));
    }
}

std::filesystem::path write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
    std::ofstream stream(path, std::ios::binary);
    stream.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
}

std::string error_message(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "(no error)";
}

std::optional<ErrorKind> error_kind(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.kind();
    }
    return std::nullopt;
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("sample format names parse") {
    CHECK(linetune::io::parse_sample_format("s16") == SampleFormat::s16);
    CHECK(linetune::io::parse_sample_format("s24") == SampleFormat::s24);
    CHECK(linetune::io::parse_sample_format("s32") == SampleFormat::s32);
    CHECK(linetune::io::parse_sample_format("f32") == SampleFormat::f32);
    CHECK(linetune::io::parse_sample_format("f64") == SampleFormat::f64);
    CHECK_FALSE(linetune::io::parse_sample_format("S16").has_value());
    CHECK_FALSE(linetune::io::parse_sample_format("s8").has_value());
    CHECK_FALSE(linetune::io::parse_sample_format("").has_value());
    CHECK(linetune::io::to_string(SampleFormat::s24) == "s24");
    CHECK(linetune::io::bytes_per_sample(SampleFormat::s24) == 3);
    CHECK(linetune::io::bytes_per_sample(SampleFormat::f64) == 8);
}

TEST_CASE("endian names parse") {
    CHECK(linetune::io::parse_endian("little") == Endian::little);
    CHECK(linetune::io::parse_endian("big") == Endian::big);
    CHECK_FALSE(linetune::io::parse_endian("le").has_value());
    CHECK_FALSE(linetune::io::parse_endian("Big").has_value());
}

TEST_CASE("integer raw audio scales like libsndfile") {
    const auto dir = linetune::test::scratch_dir("raw_integer");
    struct Case {
        SampleFormat format;
        std::vector<std::int64_t> values;
        double full_scale;
    };
    const std::vector<Case> cases = {
        {SampleFormat::s16, {32767, -32768, 1, 0}, 32768.0},
        {SampleFormat::s24, {8388607, -8388608, 1, 0}, 8388608.0},
        {SampleFormat::s32, {2147483647, -2147483648LL, 65536, 0}, 2147483648.0},
    };
    for (const auto& one : cases) {
        for (const Endian endian : {Endian::little, Endian::big}) {
            CAPTURE(linetune::io::to_string(one.format));
            CAPTURE(linetune::io::to_string(endian));
            Bytes bytes;
            for (const std::int64_t value : one.values) {
                append(bytes, static_cast<std::uint64_t>(value), linetune::io::bytes_per_sample(one.format), endian);
            }
            const auto path = write_bytes(dir / "a.raw", bytes);
            const auto file = read_raw_audio(path, RawAudioLayout{48000, 1, one.format, endian});

            CHECK(file.info.container == "raw");
            CHECK(file.info.frames == one.values.size());
            for (std::size_t i = 0; i < one.values.size(); ++i) {
                CAPTURE(i);
                CHECK(file.signal.channel(0)[i] == static_cast<float>(static_cast<double>(one.values[i]) / one.full_scale));
            }
        }
    }
}

TEST_CASE("float raw audio keeps its values") {
    const auto dir = linetune::test::scratch_dir("raw_float");
    const std::vector<double> values = {0.5, -0.125, 1.75, 3e-5};
    for (const Endian endian : {Endian::little, Endian::big}) {
        CAPTURE(linetune::io::to_string(endian));
        Bytes single_bytes;
        Bytes double_bytes;
        for (const double value : values) {
            const float single = static_cast<float>(value);
            std::uint32_t single_bits = 0;
            std::memcpy(&single_bits, &single, 4);
            append(single_bytes, single_bits, 4, endian);
            std::uint64_t double_bits = 0;
            std::memcpy(&double_bits, &value, 8);
            append(double_bytes, double_bits, 8, endian);
        }
        const auto f32 = read_raw_audio(write_bytes(dir / "f32.raw", single_bytes),
                                        RawAudioLayout{96000, 1, SampleFormat::f32, endian});
        const auto f64 = read_raw_audio(write_bytes(dir / "f64.raw", double_bytes),
                                        RawAudioLayout{96000, 1, SampleFormat::f64, endian});
        CHECK(f32.info.sample_format == "float 32-bit");
        CHECK(f64.info.sample_format == "float 64-bit");
        for (std::size_t i = 0; i < values.size(); ++i) {
            CAPTURE(i);
            CHECK(f32.signal.channel(0)[i] == static_cast<float>(values[i]));
            CHECK(f64.signal.channel(0)[i] == static_cast<float>(values[i]));
        }
    }
}

TEST_CASE("raw channels are de-interleaved") {
    // 3 channels × 20000 frames spans several read blocks; sample = channel·1000 + frame mod 1000.
    const auto dir = linetune::test::scratch_dir("raw_channels");
    constexpr std::size_t channels = 3;
    constexpr std::size_t frames = 20000;
    Bytes bytes;
    for (std::size_t frame = 0; frame < frames; ++frame) {
        for (std::size_t channel = 0; channel < channels; ++channel) {
            append(bytes, channel * 1000 + frame % 1000, 2, Endian::little);
        }
    }
    const auto file = read_raw_audio(write_bytes(dir / "a.raw", bytes), RawAudioLayout{44100, channels, SampleFormat::s16});

    CHECK(file.info.channels == channels);
    CHECK(file.info.sample_rate_hz == 44100.0);
    CHECK(file.signal.frame_count() == frames);
    std::size_t mismatches = 0;
    for (std::size_t channel = 0; channel < channels; ++channel) {
        for (std::size_t frame = 0; frame < frames; ++frame) {
            const float expected = static_cast<float>(channel * 1000 + frame % 1000) / 32768.0F;
            mismatches += file.signal.channel(channel)[frame] != expected ? 1 : 0;
        }
    }
    CHECK(mismatches == 0);
    CHECK(file.info.notes.at(0) == "headerless audio read as 3 channels of s16 little-endian at 44100 Hz, as given on the command line");
}

TEST_CASE("partial raw frame error") {
    const auto dir = linetune::test::scratch_dir("raw_partial_frame");
    const auto path = write_bytes(dir / "x.raw", Bytes(1001, 0));
    const auto read = [&] { read_raw_audio(path, RawAudioLayout{48000, 2, SampleFormat::s24}); };
    CHECK(error_message(read) ==
          "file '" + path.string() +
              "': 1001 bytes is not a whole number of 6-byte frames (2 channels × s24); check --channels and "
              "--sample-format, or whether the file has a header");
    CHECK(error_kind(read) == ErrorKind::input);
}

TEST_CASE("raw sample rate out of range error") {
    const auto dir = linetune::test::scratch_dir("raw_rate");
    const auto path = write_bytes(dir / "x.raw", Bytes(64, 0));
    for (const double rate_hz : {0.0, 999.0, 768001.0}) {
        CAPTURE(rate_hz);
        const auto read = [&] { read_raw_audio(path, RawAudioLayout{rate_hz, 1, SampleFormat::s16}); };
        std::ostringstream rate_text;
        rate_text << rate_hz;
        CHECK(error_message(read) == "file '" + path.string() + "': --sample-rate " + rate_text.str() +
                                         " Hz is out of range (1000 to 768000 Hz); give the rate the file was recorded at");
        CHECK(error_kind(read) == ErrorKind::configuration);
    }
    CHECK_NOTHROW(read_raw_audio(path, RawAudioLayout{1000, 1, SampleFormat::s16}));
    CHECK_NOTHROW(read_raw_audio(path, RawAudioLayout{768000, 1, SampleFormat::s16}));
}

TEST_CASE("raw channel count out of range error") {
    const auto dir = linetune::test::scratch_dir("raw_channel_count");
    const auto path = write_bytes(dir / "x.raw", Bytes(64 * 2 * 4, 0));
    for (const std::size_t channels : {std::size_t{0}, std::size_t{65}}) {
        CAPTURE(channels);
        const auto read = [&] { read_raw_audio(path, RawAudioLayout{48000, channels, SampleFormat::s16}); };
        CHECK(error_message(read) == "file '" + path.string() + "': --channels " + std::to_string(channels) +
                                         " is out of range (1 to 64); give the number of interleaved channels in the file");
        CHECK(error_kind(read) == ErrorKind::configuration);
    }
    CHECK(read_raw_audio(path, RawAudioLayout{48000, 64, SampleFormat::s16}).signal.frame_count() == 4);
}

TEST_CASE("empty raw file error") {
    const auto dir = linetune::test::scratch_dir("raw_empty");
    const auto path = write_bytes(dir / "x.raw", {});
    CHECK(error_message([&] { read_raw_audio(path, RawAudioLayout{48000, 1, SampleFormat::f32}); }) ==
          "file '" + path.string() + "': the file is empty (0 bytes); re-export or re-record it");
}

TEST_CASE("missing raw file error") {
    const auto dir = linetune::test::scratch_dir("raw_missing");
    const auto path = dir / "x.raw";
    CHECK(error_message([&] { read_raw_audio(path, RawAudioLayout{48000, 1, SampleFormat::f32}); }) ==
          "file '" + path.string() + "': not found; check the path and the working folder");
}

}  // TEST_SUITE
