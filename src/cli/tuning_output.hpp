#pragma once

#include "linetune/correction/tuning.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>

namespace linetune::cli {

/// Reads the venue file and the settings applied while measuring (a corrections file, may be
/// empty), then tunes from the stored measurements (default: 'measurements' beside the venue).
/// Nothing is written, so a failure never leaves a partial corrections file. A null fitter
/// means the classic fitter. read_applied, when set, returns the applied settings for the venue
/// read (from the amplifiers, for example) in place of the corrections file.
correction::TuningResult tune_from_files(const std::string& venue_path, const std::string& measurements_dir,
                                         const std::string& applied_path, Venue& venue,
                                         const correction::EqFitter* fitter = nullptr,
                                         std::optional<analysis::AtmosphericConditions> weather = std::nullopt,
                                         const std::function<std::map<std::string, correction::ZoneSetting>(
                                             const Venue&)>& read_applied = {});

/// The value with that many decimals, or "-" when it is not finite.
std::string fixed(double value, int decimals);

/// Prints per zone the bands, delay and gain, the residual table per microphone and a terminal
/// plot of the zone average before, predicted after and the target; with the venue, the plot
/// marks each zone's fit band.
void print_tuning_result(std::ostream& out, const correction::TuningResult& result, const Venue* venue = nullptr);

/// Prints the subs' crossover alignment per mic, the joint fit's residual per mic against
/// independent fitting, the level deviation from the shading target, and the system notes.
void print_system_outcome(std::ostream& out, const correction::SystemOutcome& system);

/// True when standard output is a terminal that takes colour and NO_COLOR is unset or empty.
bool stdout_wants_colour();

/// Prints an 80-column terminal plot of a zone's response before and after with its target;
/// colour only when stdout_wants_colour().
void print_zone_plot(std::ostream& out, const std::string& title, const FrequencyResponse& before,
                     const std::string& before_name, const FrequencyResponse& after, const std::string& after_name,
                     const FrequencyResponse& target, const FrequencyBand& fit_band_hz);

/// JSON text indented by two spaces with a final newline; invalid UTF-8 replaced.
std::string json_text(const nlohmann::json& document);

/// Checks before any work that an output file can be written: its folder exists and the path
/// is not a folder. Throws a configuration Error naming the option.
void check_output_path(const std::string& option, const std::string& path);

}  // namespace linetune::cli
