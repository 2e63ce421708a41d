#pragma once

#include "linetune/correction/tuning.hpp"

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

namespace linetune::cli {

/// Reads the venue file and the settings applied while measuring (a corrections file, may be
/// empty), then tunes from the stored measurements (default: 'measurements' beside the venue).
/// Nothing is written, so a failure never leaves a partial corrections file.
correction::TuningResult tune_from_files(const std::string& venue_path, const std::string& measurements_dir,
                                         const std::string& applied_path, Venue& venue);

/// The value with that many decimals, or "-" when it is not finite.
std::string fixed(double value, int decimals);

/// Prints per zone the bands, delay and gain, and the residual table per microphone.
void print_tuning_result(std::ostream& out, const correction::TuningResult& result);

/// JSON text indented by two spaces with a final newline; invalid UTF-8 replaced.
std::string json_text(const nlohmann::json& document);

/// Checks before any work that an output file can be written: its folder exists and the path
/// is not a folder. Throws a configuration Error naming the option.
void check_output_path(const std::string& option, const std::string& path);

}  // namespace linetune::cli
