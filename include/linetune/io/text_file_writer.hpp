#pragma once

#include <filesystem>
#include <string_view>

namespace linetune::io {

/// Writes text to a file atomically: a temporary file in the same folder, flushed to disk, then
/// renamed over the path, so readers see the old file or the whole new one and a failed write
/// leaves nothing behind. Like write_wav, it never replaces a device, FIFO, folder or read-only
/// file and follows a symbolic link to its target. Throws Error naming the file.
void write_text_file(const std::filesystem::path& path, std::string_view content);

}  // namespace linetune::io
