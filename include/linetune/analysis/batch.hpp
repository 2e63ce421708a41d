#pragma once

#include "linetune/analysis/channel_analysis.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::analysis {

/// True for files that read_measurement reads: audio containers, REW impulse-response text and
/// frequency-response text exports. Unreadable and UTF-16 files count as measurements so that
/// the reader reports why they cannot be used.
bool is_measurement_file(const std::filesystem::path& path);

/// Files found under a batch folder, in ascending order of their path relative to the folder.
struct BatchInventory {
    std::vector<std::filesystem::path> measurement_files;  ///< relative to the folder
    std::vector<std::filesystem::path> skipped_files;      ///< not measurements; relative to the folder
};

/// Walks a folder recursively and sorts its regular files into measurements and others,
/// leaving out everything under exclude_dir (the batch output). Throws Error when the folder
/// cannot be listed.
BatchInventory find_batch_files(const std::filesystem::path& input_dir, const std::filesystem::path& exclude_dir);

/// Settings of a batch run.
struct BatchOptions {
    std::filesystem::path input_dir;
    std::filesystem::path output_dir;  ///< empty: input_dir / "linetune-batch"
    std::size_t jobs = 0;              ///< worker threads; 0: std::thread::hardware_concurrency()
    bool force = false;                ///< re-analyse files whose per-file JSON is newer than the file
    AnalysisOptions analysis;
};

/// A measurement file that could not be analysed.
struct BatchFailure {
    std::string path;  ///< relative to the batch folder, with '/' separators
    std::string message;
};

/// Outcome of a batch run. Rows and failures are ordered by path, then channel.
struct BatchResult {
    std::filesystem::path output_dir;
    std::size_t analysed_count = 0;  ///< analysed in this run
    std::size_t resumed_count = 0;   ///< taken from an up-to-date per-file JSON of an earlier run
    std::size_t failed_count = 0;
    std::size_t skipped_count = 0;   ///< files that are not measurements
    std::vector<nlohmann::json> rows;  ///< one object per file and channel, keys batch_summary_columns()
    std::vector<BatchFailure> failures;
    double wall_time_s = 0.0;
};

/// Called after each measurement file, from one worker at a time: files done, files in all, and the
/// file's path relative to the batch folder.
using BatchProgress = std::function<void(std::size_t done_count, std::size_t total_count, const std::string& path)>;

/// Columns of summary.csv, in order: path, channel, timing, levels, flags and ISO 3382-1 metrics.
std::span<const std::string_view> batch_summary_columns();

/// Summary rows (one per channel) of one analysed file's JSON object (analysis_json.hpp to_json).
std::vector<nlohmann::json> batch_summary_rows(const nlohmann::json& file_json, const std::string& relative_path);

/// summary.csv content: a header of batch_summary_columns() and one line per row.
std::string batch_summary_csv(const std::vector<nlohmann::json>& rows);

/// failures.csv content: path and message of each failed file.
std::string batch_failures_csv(const std::vector<BatchFailure>& failures);

/// summary.json object: the counts, the rows and the failures.
nlohmann::json batch_summary_json(const BatchResult& result);

/// Analyses every measurement file under options.input_dir with a pool of worker threads, writes
/// one JSON per file under OUT/files/ and summary.csv, summary.json and failures.csv into OUT.
/// Files whose JSON is newer than the file are resumed unless options.force. Throws Error
/// (configuration) when the folder is missing and Error when an output cannot be written.
BatchResult run_batch(const BatchOptions& options, const BatchProgress& progress);

}  // namespace linetune::analysis
