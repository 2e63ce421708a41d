#include "linetune/io/mic_calibration.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/text_table.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

// Calibration-file layouts read here:
//
// miniDSP UMIK-1/UMIK-2: a quoted first line "Sens Factor =-1.378dB, AGain =18dB, SERNO:
// 7000000" (AGain only in some files), in the 90° variant a second quoted line, then
// tab-separated "freq<TAB>dB" rows with CRLF line breaks.
//
// Dayton Audio iMM-6/UMM-6/EMM-6: a first line "*1000Hz -38.6" giving the sensitivity at
// 1 kHz in dBV re 1 V/Pa, then "freq dB" rows relative to that.
//
// Plain (DRC, REW, Behringer ECM8000 owners' files): rows of frequency, deviation in dB and
// optionally phase in degrees, space, tab, comma or semicolon separated, sometimes starting at
// 0 Hz ("00.0000"), with trailing spaces, decimal commas or no final line break.
//
// Every layout contains the microphone's own deviation from flat, so the corrected response is
// the measurement minus that deviation.

namespace linetune::io {
namespace {

std::string lower_case(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

// Keys of the UMIK header line, in the order miniDSP writes them.
constexpr std::array<std::string_view, 3> umik_keys = {"sens factor", "again", "serno"};

bool is_umik_header(std::string_view text) { return lower_case(text).find("sens factor") != std::string::npos; }

// Text after "key" in a UMIK header line up to the next key: "=-1.378dB," gives "-1.378dB".
// Searching for the keys instead of splitting at commas keeps a decimal comma ("-1,378dB")
// intact.
std::optional<std::string_view> umik_value(std::string_view line, std::string_view key) {
    const std::string lower = lower_case(line);
    const std::size_t key_at = lower.find(key);
    if (key_at == std::string::npos) {
        return std::nullopt;
    }
    const std::size_t value_at = key_at + key.size();
    std::size_t value_end = line.size();
    for (const auto other : umik_keys) {
        const std::size_t other_at = lower.find(other, value_at);
        if (other != key && other_at != std::string::npos) {
            value_end = std::min(value_end, other_at);
        }
    }
    std::string_view value = trim_blanks(line.substr(value_at, value_end - value_at));
    while (!value.empty() && (value.front() == '=' || value.front() == ':' || value.front() == ' ')) {
        value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ',' || value.back() == ' ' || value.back() == '"')) {
        value.remove_suffix(1);
    }
    return value;
}

double umik_decibels(std::string_view value, std::string_view name, std::size_t line_number,
                     const std::filesystem::path& path) {
    std::string_view number = value;
    if (lower_case(number).ends_with("db")) {
        number.remove_suffix(2);
    }
    const auto decibels = parse_number(number);
    if (!decibels) {
        throw Error(line_context(path, line_number) + ": " + std::string(name) + " '" + std::string(value) +
                    "' is not a level in dB (expected e.g. '-1.378dB'); fix the line or get the file again from "
                    "the microphone maker");
    }
    return *decibels;
}

void read_umik_header(std::string_view text, std::size_t line_number, const std::filesystem::path& path,
                      MicCalibration& calibration) {
    calibration.style = "umik";
    if (const auto value = umik_value(text, "sens factor")) {
        calibration.sensitivity_factor_db = umik_decibels(*value, "Sens Factor", line_number, path);
    }
    if (const auto value = umik_value(text, "again")) {
        calibration.amplifier_gain_db = umik_decibels(*value, "AGain", line_number, path);
    }
    if (const auto value = umik_value(text, "serno")) {
        calibration.serial_number = std::string(*value);
    }
}

// Dayton's "*1000Hz -38.6": sensitivity in dBV at the stated frequency; nullopt for any other
// '*' line.
std::optional<double> dayton_sensitivity_dbv(std::string_view text) {
    text = trim_blanks(text);
    if (!text.starts_with('*')) {
        return std::nullopt;
    }
    text.remove_prefix(1);
    const std::size_t hz_at = lower_case(text).find("hz");
    if (hz_at == std::string::npos) {
        return std::nullopt;
    }
    const auto freq_hz = parse_number(text.substr(0, hz_at));
    const auto sensitivity_dbv = parse_number(text.substr(hz_at + 2));
    if (!freq_hz || !sensitivity_dbv || *freq_hz != 1000.0) {
        return std::nullopt;
    }
    return sensitivity_dbv;
}

std::string row_description(std::size_t column_count) {
    return column_count == 3 ? "is not a number triple (frequency in Hz, deviation in dB, phase in degrees)"
                             : "is not a number pair (frequency in Hz, deviation in dB)";
}

[[noreturn]] void throw_bad_row(const TextLine& line, std::size_t column_count, const std::filesystem::path& path) {
    throw Error(line_context(path, line.number) + ": '" + std::string(trim_blanks(line.text)) + "' " +
                row_description(column_count) + "; fix or delete the line");
}

// Header lines before the first data row: the UMIK line, Dayton's sensitivity, quoted notes
// (the UMIK 90° line), comments, and lines without numbers (column titles). Returns the index
// of the first data row, or lines.size() when there is none.
std::size_t read_header(const std::vector<TextLine>& lines, const std::filesystem::path& path,
                        MicCalibration& calibration) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view text = trim_blanks(lines[i].text);
        if (text.empty()) {
            continue;
        }
        if (is_umik_header(text)) {
            read_umik_header(text, lines[i].number, path, calibration);
            continue;
        }
        if (const auto sensitivity = dayton_sensitivity_dbv(text)) {
            calibration.style = "dayton";
            calibration.sensitivity_dbv_at_1khz = sensitivity;
            continue;
        }
        const bool quoted_note = text.starts_with('"') && !looks_like_data_row(text);
        if (is_comment_line(text) || quoted_note) {
            continue;
        }
        if (looks_like_data_row(text)) {
            return i;
        }
        if (!has_no_number(text)) {
            throw_bad_row(lines[i], 2, path);
        }
    }
    return lines.size();
}

std::vector<FrequencyRow> read_rows(const std::vector<TextLine>& lines, std::size_t first_index,
                                    const std::filesystem::path& path) {
    std::vector<const TextLine*> data;
    std::vector<std::string_view> data_texts;
    for (std::size_t i = first_index; i < lines.size(); ++i) {
        if (!is_blank(lines[i].text) && !is_comment_line(lines[i].text)) {
            data.push_back(&lines[i]);
            data_texts.push_back(lines[i].text);
        }
    }
    const FieldDelimiter delimiter = detect_field_delimiter(data_texts);
    const std::size_t column_count = typical_field_count(data_texts, delimiter);
    if (column_count != 2 && column_count != 3) {
        throw Error(line_context(path, data.front()->number) + ": " + std::to_string(column_count) +
                    " columns separated by " + std::string(to_string(delimiter)) +
                    "; a calibration file has 2 (frequency in Hz, deviation in dB) or 3 (and phase in degrees)");
    }

    std::vector<FrequencyRow> rows;
    rows.reserve(data.size());
    for (const auto* line : data) {
        const auto fields = split_data_row(line->text, delimiter, column_count);
        if (fields.size() != column_count) {
            throw_bad_row(*line, column_count, path);
        }
        FrequencyRow row;
        row.line_number = line->number;
        for (std::size_t column = 0; column < column_count; ++column) {
            const auto value = parse_number(fields[column]);
            if (!value) {
                throw_bad_row(*line, column_count, path);
            }
            if (column == 0) {
                row.freq_hz = *value;
            } else {
                row.values.push_back(*value);
            }
        }
        if (row.freq_hz < 0.0) {
            throw Error(line_context(path, line->number) + ": frequency " + format_number(row.freq_hz) +
                        " Hz is negative; frequencies must be 0 Hz or above");
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace

MicCalibration read_mic_calibration(const std::filesystem::path& path) {
    const auto lines = read_text_lines(path);
    if (std::all_of(lines.begin(), lines.end(), [](const TextLine& line) { return is_blank(line.text); })) {
        throw Error(file_context(path) + ": the file is empty; get the calibration file again from the microphone maker");
    }

    MicCalibration calibration;
    calibration.style = "plain";
    const std::size_t first_data_index = read_header(lines, path, calibration);
    if (first_data_index == lines.size()) {
        throw Error(file_context(path) + ": no data rows in " + std::to_string(lines.size()) +
                    " lines; expected rows of frequency in Hz and deviation in dB");
    }

    auto rows = read_rows(lines, first_data_index, path);
    const std::array<std::string_view, 2> value_names = {"deviation (dB)", "phase (degrees)"};
    calibration.warnings = enforce_ascending_frequency(rows, path, value_names);

    const bool has_phase = rows.front().values.size() == 2;
    for (const auto& row : rows) {
        calibration.deviation.freq_hz.push_back(row.freq_hz);
        calibration.deviation.magnitude_db.push_back(row.values[0]);
        if (has_phase) {
            calibration.deviation.phase_deg.push_back(row.values[1]);
        }
    }
    return calibration;
}

// The deviation is interpolated at each measured frequency, linear in dB over log frequency
// (interpolate_magnitude_db). Beyond the calibrated range it is held at the first or last value.
FrequencyResponse apply_mic_calibration(const FrequencyResponse& measured, const MicCalibration& calibration) {
    require(!calibration.deviation.freq_hz.empty(),
            "the microphone calibration has no data points; read a calibration file before applying it");
    require(measured.magnitude_db.size() == measured.freq_hz.size(),
            "the measured response has " + std::to_string(measured.magnitude_db.size()) + " magnitudes for " +
                std::to_string(measured.freq_hz.size()) + " frequencies; each frequency needs one magnitude");

    FrequencyResponse corrected = measured;
    for (std::size_t i = 0; i < corrected.freq_hz.size(); ++i) {
        corrected.magnitude_db[i] -= interpolate_magnitude_db(calibration.deviation, corrected.freq_hz[i]);
    }
    if (!measured.has_phase() || !calibration.deviation.has_phase()) {
        return corrected;
    }

    require(measured.phase_deg.size() == measured.freq_hz.size(),
            "the measured response has " + std::to_string(measured.phase_deg.size()) + " phase values for " +
                std::to_string(measured.freq_hz.size()) + " frequencies; each frequency needs one phase value");
    for (std::size_t i = 0; i < corrected.freq_hz.size(); ++i) {
        const double phase_deg =
            corrected.phase_deg[i] - interpolate_phase_deg(calibration.deviation, corrected.freq_hz[i]);
        corrected.phase_deg[i] = std::remainder(phase_deg, 360.0);
    }
    return corrected;
}

}  // namespace linetune::io
