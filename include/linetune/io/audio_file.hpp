#pragma once

#include "linetune/core/signal.hpp"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace linetune::io {

/// Most channels one audio file may have; more is rejected with an error.
inline constexpr std::size_t max_audio_file_channels = 64;

/// Description of an audio file, as read from its header.
struct AudioFileInfo {
    std::string container;      ///< "WAV", "WAV (extensible)", "RF64", "BW64", "W64", "AIFF", "FLAC", "raw", ...
    std::string sample_format;  ///< "PCM 16-bit", "PCM 24-bit", "PCM 32-bit", "float 32-bit", "float 64-bit", ...
    std::size_t channels = 0;
    double sample_rate_hz = 0;
    std::size_t frames = 0;
    std::vector<std::string> notes;  ///< facts a user may want to know ("chunk 'inst' (7 bytes) after data ignored")
};

/// Decoded audio (planar float32, full scale ±1.0) and a description of its file.
struct AudioFile {
    MultichannelSignal signal;
    AudioFileInfo info;
};

/// Reads a WAV, RF64, BW64, W64, AIFF, FLAC or other libsndfile-supported file; throws Error.
AudioFile read_audio_file(const std::filesystem::path& path);

/// True when the file starts with the magic bytes of an audio container that read_audio_file supports.
bool looks_like_audio_container(const std::filesystem::path& path);

}  // namespace linetune::io
