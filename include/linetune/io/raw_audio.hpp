#pragma once

#include "linetune/io/audio_file.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>

namespace linetune::io {

/// Sample encoding of headerless raw audio: signed integer PCM or IEEE float.
enum class SampleFormat { s16, s24, s32, f32, f64 };

/// Byte order of headerless raw audio.
enum class Endian { little, big };

/// Parses "s16", "s24", "s32", "f32" or "f64"; nullopt for anything else.
std::optional<SampleFormat> parse_sample_format(std::string_view text);

/// Parses "little" or "big"; nullopt for anything else.
std::optional<Endian> parse_endian(std::string_view text);

/// Option spelling of a sample format ("s24").
std::string_view to_string(SampleFormat format);

/// Option spelling of a byte order ("little").
std::string_view to_string(Endian endian);

/// Bytes one sample of the format occupies (s24: 3).
std::size_t bytes_per_sample(SampleFormat format);

/// Lowest and highest sample rate accepted for raw audio, in Hz.
inline constexpr double raw_audio_min_sample_rate_hz = 1000.0;
inline constexpr double raw_audio_max_sample_rate_hz = 768000.0;

/// Layout of a headerless raw audio file, as the user gives it on the command line.
struct RawAudioLayout {
    double sample_rate_hz = 0;
    std::size_t channels = 0;
    SampleFormat sample_format = SampleFormat::f32;
    Endian endian = Endian::little;
};

/// Throws a configuration Error naming the option when the layout is out of range.
void validate_raw_audio_layout(const RawAudioLayout& layout);

/// Reads interleaved headerless audio with the given layout; throws Error.
AudioFile read_raw_audio(const std::filesystem::path& path, const RawAudioLayout& layout);

}  // namespace linetune::io
