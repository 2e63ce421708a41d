#include "linetune/analysis/batch.hpp"

#include "linetune/analysis/analysis_json.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/measurement_file.hpp"
#include "linetune/io/response_text.hpp"
#include "linetune/io/rew_impulse_text.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/text_table.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace linetune::analysis {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// Lines read from the start of a text file to tell a measurement export from other text; the
/// measurement reader looks at the same number.
constexpr std::size_t detection_line_count = 40;

/// Bytes searched for a NUL byte to tell binary files (images, archives) from text.
constexpr std::size_t binary_probe_bytes = 4096;

/// Nominal octave centres of the per-octave T30 columns (ISO 3382-1 bands of room_metrics).
constexpr std::array<int, 8> octave_centers_hz{63, 125, 250, 500, 1000, 2000, 4000, 8000};

constexpr std::array<std::string_view, 27> summary_columns{
    "path",         "channel",       "sample_rate_hz", "frames",      "arrival_ms",  "arrival_confidence",
    "peak_ms",      "start_ms",      "polarity",       "peak_dbfs",   "peak_to_noise_db", "clipped",
    "flags",        "edt_s",         "t20_s",          "t30_s",       "c50_db",      "c80_db",
    "d50",          "t30_63_s",      "t30_125_s",      "t30_250_s",   "t30_500_s",   "t30_1000_s",
    "t30_2000_s",   "t30_4000_s",    "t30_8000_s",
};

/// True when the first bytes contain a NUL byte. UTF-16 text (with a byte-order mark) counts as
/// text so that the reader can say how to convert it.
bool starts_with_binary_data(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::array<char, binary_probe_bytes> buffer{};
    file.read(buffer.data(), buffer.size());
    const auto count = static_cast<std::size_t>(file.gcount());
    const bool utf16_byte_order_mark =
        count >= 2 && ((buffer[0] == '\xFF' && buffer[1] == '\xFE') || (buffer[0] == '\xFE' && buffer[1] == '\xFF'));
    return !utf16_byte_order_mark && std::find(buffer.begin(), buffer.begin() + count, '\0') != buffer.begin() + count;
}

std::string relative_name(const fs::path& relative_path) { return relative_path.generic_string(); }

/// Returns the per-file JSON path of a measurement, OUT/files/<path relative to the folder>.json.
fs::path file_json_path(const fs::path& output_dir, const fs::path& relative_path) {
    fs::path json_path = output_dir / "files" / relative_path;
    json_path += ".json";
    return json_path;
}

/// Reads the per-file JSON of an earlier run. Returns nullopt unless it is newer than the
/// measurement and contains a successful analysis.
std::optional<json> read_up_to_date_json(const fs::path& measurement_path, const fs::path& json_path) {
    std::error_code error;
    const auto json_time = fs::last_write_time(json_path, error);
    if (error) {
        return std::nullopt;
    }
    const auto measurement_time = fs::last_write_time(measurement_path, error);
    if (error || !(json_time > measurement_time)) {
        return std::nullopt;
    }
    std::ifstream stream(json_path, std::ios::binary);
    json document = json::parse(stream, nullptr, false);
    if (document.is_discarded() || !document.is_object() || !document.contains("channels") ||
        !document.value("error", json()).is_null()) {
        return std::nullopt;
    }
    return document;
}

/// "file 'path': message", keeping a message that already starts by naming a file.
std::string located_message(const fs::path& path, const std::string& message) {
    return message.rfind("file '", 0) == 0 ? message : "file '" + path.string() + "': " + message;
}

/// Formats one CSV cell: numbers in their shortest round-trip form, null as empty, text quoted when it
/// contains a delimiter, quote or line break (RFC 4180).
std::string csv_cell(const json& value) {
    std::string text;
    if (value.is_null()) {
        return text;
    }
    if (value.is_string()) {
        text = value.get<std::string>();
    } else {
        text = value.dump();
    }
    if (text.find_first_of(",\"\r\n") == std::string::npos) {
        return text;
    }
    std::string quoted = "\"";
    for (const char c : text) {
        quoted += c;
        if (c == '"') {
            quoted += '"';
        }
    }
    return quoted + '"';
}

std::string csv_line(const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        line += (i > 0 ? "," : "") + cells[i];
    }
    return line + '\n';
}

json value_or_null(const json& object, std::string_view key) {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto found = object.find(key);
    return found == object.end() ? json(nullptr) : *found;
}

/// Octave T30 of the band whose nominal centre is nearest centre_hz within a third of an octave.
json octave_t30(const json& metrics, int center_hz) {
    const json bands = value_or_null(metrics, "octave_bands");
    if (!bands.is_array()) {
        return nullptr;
    }
    for (const auto& band : bands) {
        const json band_center = value_or_null(band, "center_hz");
        if (band_center.is_number() &&
            std::fabs(std::log2(band_center.get<double>() / static_cast<double>(center_hz))) < 1.0 / 3.0) {
            return value_or_null(band, "t30_s");
        }
    }
    return nullptr;
}

/// Outcome of one file as the worker left it.
struct FileOutcome {
    enum class State { analysed, resumed, failed } state = State::failed;
    std::vector<json> rows;
    std::string message;
};

FileOutcome process_file(const BatchOptions& options, const fs::path& output_dir, const fs::path& relative_path) {
    const fs::path path = options.input_dir / relative_path;
    const fs::path json_path = file_json_path(output_dir, relative_path);
    FileOutcome outcome;
    try {
        if (!options.force) {
            if (const auto earlier = read_up_to_date_json(path, json_path)) {
                outcome.rows = batch_summary_rows(*earlier, relative_name(relative_path));
                outcome.state = FileOutcome::State::resumed;
                return outcome;
            }
        }
        io::Measurement measurement = io::read_measurement(path, io::MeasurementReadOptions{});
        const FileAnalysis result = analyze_measurement(std::move(measurement), options.analysis, nullptr);
        const json document = to_json(result, options.analysis);
        fs::create_directories(json_path.parent_path());
        io::write_text_file(json_path, document.dump(2, ' ', false, json::error_handler_t::replace) + '\n');
        outcome.rows = batch_summary_rows(document, relative_name(relative_path));
        outcome.state = FileOutcome::State::analysed;
    } catch (const Error& error) {
        outcome.message = located_message(path, error.what());
    } catch (const std::exception& error) {
        // Filesystem and allocation failures end this file only; the other files go on.
        outcome.message = located_message(path, error.what());
    }
    return outcome;
}

}  // namespace

bool is_measurement_file(const fs::path& path) {
    if (io::looks_like_audio_container(path)) {
        return true;
    }
    std::ifstream probe(path, std::ios::binary);
    if (!probe) {
        return true;
    }
    if (starts_with_binary_data(path)) {
        return false;
    }
    try {
        const std::vector<io::TextLine> head = io::read_first_text_lines(path, detection_line_count);
        return io::is_rew_impulse_text(head) || io::looks_like_response_text(head);
    } catch (const Error&) {
        return true;
    }
}

BatchInventory find_batch_files(const fs::path& input_dir, const fs::path& exclude_dir) {
    std::error_code error;
    if (!fs::is_directory(input_dir, error)) {
        throw Error("folder '" + input_dir.string() + "' not found or not a folder; give the folder of measurements",
                    ErrorKind::configuration);
    }
    const fs::path excluded = fs::weakly_canonical(exclude_dir, error);

    BatchInventory inventory;
    fs::recursive_directory_iterator walker(input_dir, fs::directory_options::skip_permission_denied, error);
    if (error) {
        throw Error("folder '" + input_dir.string() + "': cannot be listed (" + error.message() +
                        "); check its permissions",
                    ErrorKind::configuration);
    }
    for (; walker != fs::recursive_directory_iterator(); walker.increment(error)) {
        if (error) {
            throw Error("folder '" + input_dir.string() + "': listing stopped (" + error.message() +
                        "); check the folder's permissions");
        }
        const fs::directory_entry& entry = *walker;
        std::error_code entry_error;
        if (entry.is_directory(entry_error)) {
            if (!excluded.empty() && fs::weakly_canonical(entry.path(), entry_error) == excluded) {
                walker.disable_recursion_pending();
            }
            continue;
        }
        if (!entry.is_regular_file(entry_error)) {
            continue;
        }
        const fs::path relative = entry.path().lexically_relative(input_dir);
        (is_measurement_file(entry.path()) ? inventory.measurement_files : inventory.skipped_files).push_back(relative);
    }
    const auto by_name = [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); };
    std::sort(inventory.measurement_files.begin(), inventory.measurement_files.end(), by_name);
    std::sort(inventory.skipped_files.begin(), inventory.skipped_files.end(), by_name);
    return inventory;
}

std::span<const std::string_view> batch_summary_columns() { return summary_columns; }

std::vector<json> batch_summary_rows(const json& file_json, const std::string& relative_path) {
    std::vector<json> rows;
    const json channels = value_or_null(file_json, "channels");
    if (!channels.is_array()) {
        return rows;
    }
    for (const auto& channel : channels) {
        const json metrics = value_or_null(channel, "metrics");
        json row = json::object();
        row["path"] = relative_path;
        for (const std::string_view key : {"channel", "sample_rate_hz", "frames", "arrival_ms", "arrival_confidence",
                                           "peak_ms", "start_ms", "polarity", "peak_dbfs", "peak_to_noise_db",
                                           "clipped"}) {
            row[std::string(key)] = value_or_null(channel, key);
        }
        std::string flags;
        const json flag_list = value_or_null(channel, "flags");
        if (flag_list.is_array()) {
            for (const auto& flag : flag_list) {
                flags += (flags.empty() ? "" : ";") + flag.get<std::string>();
            }
        }
        row["flags"] = flags;
        for (const std::string_view key : {"edt_s", "t20_s", "t30_s", "c50_db", "c80_db", "d50"}) {
            row[std::string(key)] = value_or_null(metrics, key);
        }
        for (const int center_hz : octave_centers_hz) {
            row["t30_" + std::to_string(center_hz) + "_s"] = octave_t30(metrics, center_hz);
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string batch_summary_csv(const std::vector<json>& rows) {
    std::vector<std::string> header(summary_columns.begin(), summary_columns.end());
    std::string csv = csv_line(header);
    for (const auto& row : rows) {
        std::vector<std::string> cells;
        for (const std::string_view column : summary_columns) {
            cells.push_back(csv_cell(value_or_null(row, column)));
        }
        csv += csv_line(cells);
    }
    return csv;
}

std::string batch_failures_csv(const std::vector<BatchFailure>& failures) {
    std::string csv = csv_line({"path", "message"});
    for (const auto& failure : failures) {
        csv += csv_line({csv_cell(failure.path), csv_cell(failure.message)});
    }
    return csv;
}

json batch_summary_json(const BatchResult& result) {
    json out;
    out["files_analysed"] = result.analysed_count;
    out["files_resumed"] = result.resumed_count;
    out["files_failed"] = result.failed_count;
    out["files_skipped"] = result.skipped_count;
    out["rows"] = result.rows;
    out["failures"] = json::array();
    for (const auto& failure : result.failures) {
        out["failures"].push_back({{"path", failure.path}, {"message", failure.message}});
    }
    return out;
}

BatchResult run_batch(const BatchOptions& options, const BatchProgress& progress) {
    const auto start = std::chrono::steady_clock::now();
    BatchResult result;
    result.output_dir = options.output_dir.empty() ? options.input_dir / "linetune-batch" : options.output_dir;
    const BatchInventory inventory = find_batch_files(options.input_dir, result.output_dir);
    result.skipped_count = inventory.skipped_files.size();

    // Workers take the next file index from one shared counter; each writes only its own outcome slot.
    const std::size_t total = inventory.measurement_files.size();
    std::vector<FileOutcome> outcomes(total);
    std::atomic<std::size_t> next_index{0};
    std::size_t done_count = 0;
    std::mutex progress_mutex;
    const auto work = [&] {
        for (std::size_t i = next_index++; i < total; i = next_index++) {
            outcomes[i] = process_file(options, result.output_dir, inventory.measurement_files[i]);
            const std::lock_guard lock(progress_mutex);
            ++done_count;
            if (progress) {
                progress(done_count, total, relative_name(inventory.measurement_files[i]));
            }
        }
    };
    const std::size_t hardware_threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    const std::size_t worker_count = std::clamp<std::size_t>(options.jobs > 0 ? options.jobs : hardware_threads, 1,
                                                             std::max<std::size_t>(1, total));
    {
        std::vector<std::jthread> workers;
        for (std::size_t i = 0; i < worker_count; ++i) {
            workers.emplace_back(work);
        }
    }

    for (std::size_t i = 0; i < total; ++i) {
        FileOutcome& outcome = outcomes[i];
        switch (outcome.state) {
        case FileOutcome::State::analysed: ++result.analysed_count; break;
        case FileOutcome::State::resumed: ++result.resumed_count; break;
        case FileOutcome::State::failed:
            ++result.failed_count;
            result.failures.push_back({relative_name(inventory.measurement_files[i]), outcome.message});
            break;
        }
        std::move(outcome.rows.begin(), outcome.rows.end(), std::back_inserter(result.rows));
    }

    std::error_code folder_error;
    fs::create_directories(result.output_dir, folder_error);
    if (folder_error) {
        throw Error("folder '" + result.output_dir.string() + "': cannot be created (" + folder_error.message() +
                    "); give a writable folder with --out");
    }
    io::write_text_file(result.output_dir / "summary.csv", batch_summary_csv(result.rows));
    io::write_text_file(result.output_dir / "failures.csv", batch_failures_csv(result.failures));
    io::write_text_file(result.output_dir / "summary.json",
                        batch_summary_json(result).dump(2, ' ', false, json::error_handler_t::replace) + '\n');
    result.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace linetune::analysis
