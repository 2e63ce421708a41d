#pragma once

#include "linetune/core/venue.hpp"

#include <filesystem>

namespace linetune::io {

/// Reads a venue file with its device profiles (from hardware_dir), target curve and microphone
/// calibrations, and validates all of it before returning. Throws one Error
/// (ErrorKind::configuration) that lists every problem found.
Venue read_venue_file(const std::filesystem::path& path, const std::filesystem::path& hardware_dir);

}  // namespace linetune::io
