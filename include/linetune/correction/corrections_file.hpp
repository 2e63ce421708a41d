#pragma once

#include "linetune/correction/tuning.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>

namespace linetune::correction {

/// The corrections file: per zone the absolute setting (delay_ms, gain_db, bands with type,
/// freq_hz, gain_db, q), the residuals before and after per zone and per mic, the predicted
/// responses, and notes.
nlohmann::json corrections_json(const TuningResult& result);

/// Rows for manual entry on amplifiers that cannot be pushed to: one per band, delay and gain,
/// with values already rounded to the device's steps.
std::string corrections_csv(const TuningResult& result);

/// Reads the settings per zone back from a corrections file (for re-tuning: the setting that was
/// applied while measuring). Throws Error naming the file and the key at fault, and when the
/// file was made for another venue.
std::map<std::string, ZoneSetting> read_zone_settings(const std::filesystem::path& path, const std::string& venue_name);

}  // namespace linetune::correction
