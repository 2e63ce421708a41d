#pragma once

#include "linetune/analysis/channel_analysis.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string_view>

namespace linetune::analysis {

/// JSON object of one analysed file: identity, format, time base and a `channels` array whose
/// keys carry their units (arrival_ms, peak_dbfs, t30_s, ...). Unknown values are null.
nlohmann::json to_json(const FileAnalysis& file, const AnalysisOptions& options);

/// JSON object of a file that could not be analysed: its path and the error message.
nlohmann::json failed_file_json(const std::filesystem::path& path, std::string_view message);

}  // namespace linetune::analysis
