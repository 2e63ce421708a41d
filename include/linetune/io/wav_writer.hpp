#pragma once

#include "linetune/core/signal.hpp"

#include <filesystem>

namespace linetune::io {

/// Sample encoding of a written WAV file.
enum class WavEncoding { pcm16, pcm24, float32 };

/// Writes the signal as a WAV file atomically and throws Error on failure. The audio goes to a
/// temporary file in the same folder, which is flushed to disk and then renamed, so the path never
/// names a partial file. A crash mid-write can leave a hidden ".NAME.tmp-*" file in the folder.
void write_wav(const std::filesystem::path& path, const MultichannelSignal& signal, WavEncoding encoding);

}  // namespace linetune::io
