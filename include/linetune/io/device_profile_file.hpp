#pragma once

#include "linetune/core/venue.hpp"

#include <filesystem>

namespace linetune::io {

/// Reads and validates a hardware/<name>.json device profile; throws one Error
/// (ErrorKind::configuration) that lists every problem in the file.
DeviceProfile read_device_profile(const std::filesystem::path& path);

/// The folder of device profiles: $LINETUNE_HARDWARE_DIR when set and not empty, else the
/// repository's hardware/ folder as configured at build time.
std::filesystem::path default_hardware_dir();

}  // namespace linetune::io
