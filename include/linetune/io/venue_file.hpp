#pragma once

#include "linetune/core/venue.hpp"

#include <filesystem>

namespace linetune::io {

/// Reads a venue file with its device profiles (from hardware_dir), target curve and microphone
/// calibrations, and validates all of it before returning. Throws one Error
/// (ErrorKind::configuration) that lists every problem found. Without require_measurement_files,
/// a measurement file that does not exist is not a problem (for commands that only reach the
/// amplifiers, such as push).
Venue read_venue_file(const std::filesystem::path& path, const std::filesystem::path& hardware_dir,
                      bool require_measurement_files = true);

}  // namespace linetune::io
