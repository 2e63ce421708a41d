#include "linetune/io/response_text.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/rew_impulse_text.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

// Layouts read here:
//
// REW "Export measurement as text": '*' header lines ending in "* Freq(Hz), SPL(dB),
// Phase(degrees)", then rows "20.141602, 91.525, 163.3452". The delimiter (comma, space, tab or
// semicolon) is chosen in REW's export dialog, and a European locale writes decimal commas.
//
// Plain tables: optional '#' comment lines or one column-title row, then rows of frequency in
// Hz, magnitude in dB, and optionally phase in degrees and coherence, in that order. This is
// REW's own import convention and Open Sound Meter's .csv/.frd layout.
//
// Open Sound Meter .txt: "Created with Open Sound Meter", a blank line, then tab-separated
// frequency, magnitude, phase and coherence (0..1). OSM writes '*' for magnitude and phase
// where it had no valid value.
//
// Smaart ASCII export: tab separated with CRLF line breaks. Line 1 holds the trace names, each
// somewhere within its trace's column group ("<TAB>Left<TAB><TAB>"); line 2 holds the column
// titles "Frequency (Hz)<TAB>Magnitude (dB)<TAB>Phase (degrees)<TAB>Coherence", one group per
// trace; spectrum traces title their level "Level (dB)". '*' marks a point below the coherence
// threshold. No genuine Smaart file was available: this layout comes from third-party parsers.

namespace linetune::io {
namespace {

constexpr std::string_view open_sound_meter_signature = "Created with Open Sound Meter";

// Lines searched for a Smaart column-title line: it is line 2 of a Smaart export, so a few
// lines cover leading blank lines as well.
constexpr std::size_t smaart_title_search_lines = 5;

// Coherence columns hold a fraction 0..1; values above 1 up to this are read as percent.
constexpr double max_percent_coherence = 100.0;

std::string lower_case(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

bool contains_word(std::string_view text, std::string_view word) {
    return lower_case(text).find(word) != std::string::npos;
}

// Meaning of a column in a trace, in the order its values are stored in FrequencyRow::values.
enum class Quantity { magnitude, phase, coherence };

std::string_view value_name(Quantity quantity) {
    switch (quantity) {
    case Quantity::magnitude: return "magnitude (dB)";
    case Quantity::phase: return "phase (degrees)";
    case Quantity::coherence: return "coherence";
    }
    return "value";
}

// One trace while its rows are collected.
struct TraceRows {
    std::string name;
    std::vector<Quantity> quantities;  // what FrequencyRow::values hold, magnitude first
    std::vector<FrequencyRow> rows;
    std::size_t missing_count = 0;        // points skipped because a cell was '*'
    std::size_t first_missing_line = 0;
};

std::string not_a_number_message(const std::filesystem::path& path, std::size_t line_number, std::string_view cell,
                                 std::size_t column_index, std::string_view expected) {
    return line_context(path, line_number) + ": '" + std::string(cell) + "' in column " +
           std::to_string(column_index + 1) + " is not a number (expected " + std::string(expected) +
           "); fix or delete the line";
}

std::string expected_text(Quantity quantity) {
    switch (quantity) {
    case Quantity::magnitude: return "the magnitude in dB";
    case Quantity::phase: return "the phase in degrees";
    case Quantity::coherence: return "the coherence";
    }
    return "a number";
}

double parse_frequency(std::string_view cell, std::size_t column_index, std::size_t line_number,
                       const std::filesystem::path& path) {
    const auto freq_hz = parse_number(cell);
    if (!freq_hz) {
        throw Error(not_a_number_message(path, line_number, cell, column_index, "the frequency in Hz"));
    }
    if (*freq_hz < 0.0) {
        throw Error(line_context(path, line_number) + ": frequency " + format_number(*freq_hz) +
                    " Hz is negative; frequencies must be 0 Hz or above");
    }
    return *freq_hz;
}

// Adds one row to a trace from its cells, or counts it as missing when a value cell is '*'.
void add_row(TraceRows& trace, std::size_t line_number, std::string_view frequency_cell, std::size_t frequency_column,
             const std::vector<std::pair<std::string_view, std::size_t>>& value_cells, const std::filesystem::path& path) {
    const bool missing = frequency_cell == "*" ||
                         std::any_of(value_cells.begin(), value_cells.end(), [](const auto& cell) { return cell.first == "*"; });
    if (missing) {
        if (trace.missing_count++ == 0) {
            trace.first_missing_line = line_number;
        }
        return;
    }

    FrequencyRow row;
    row.line_number = line_number;
    row.freq_hz = parse_frequency(frequency_cell, frequency_column, line_number, path);
    for (std::size_t i = 0; i < value_cells.size(); ++i) {
        const auto value = parse_number(value_cells[i].first);
        if (!value) {
            throw Error(not_a_number_message(path, line_number, value_cells[i].first, value_cells[i].second,
                                             expected_text(trace.quantities[i])));
        }
        row.values.push_back(*value);
    }
    trace.rows.push_back(std::move(row));
}

// Brings a coherence column to 0..1. Percent values (0..100) are divided by 100 with a warning,
// and values below 0 or above 100 are rejected.
void normalise_coherence(std::vector<FrequencyRow>& rows, std::size_t value_index, MeasuredResponse& result,
                         const std::filesystem::path& path) {
    double max_coherence = 0.0;
    for (const auto& row : rows) {
        const double coherence = row.values[value_index];
        if (coherence < 0.0 || coherence > max_percent_coherence) {
            throw Error(line_context(path, row.line_number) + ": coherence " + format_number(coherence) +
                        " is outside 0 to 1 (or 0 to 100 %); fix or delete the line");
        }
        max_coherence = std::max(max_coherence, coherence);
    }
    if (max_coherence <= 1.0) {
        return;
    }
    // NOTE: percent coherence is assumed, not seen in a real export; a file mixing 0..1 values
    // with a few above 1 would be scaled wrongly.
    result.warnings.push_back(file_context(path) + ": trace '" + result.trace_name + "': coherence reaches " +
                              format_number(max_coherence) + ", so it is read as percent and divided by 100");
    for (auto& row : rows) {
        row.values[value_index] /= 100.0;
    }
}

MeasuredResponse finish_trace(TraceRows trace, ResponseFileFormat format, const std::filesystem::path& path) {
    MeasuredResponse result;
    result.trace_name = trace.name;
    result.format = format;
    if (trace.rows.empty()) {
        const std::string reason = trace.missing_count > 0 ? "every row is marked '*' (no data)" : "no rows hold its values";
        throw Error(file_context(path) + ": trace '" + trace.name + "' has no data points because " + reason +
                    "; export the trace again with data");
    }
    if (trace.missing_count > 0) {
        result.warnings.push_back(line_context(path, trace.first_missing_line) + ": trace '" + trace.name +
                                  "' has no data ('*') here and at " + std::to_string(trace.missing_count - 1) +
                                  " more points; those points are skipped");
    }

    std::vector<std::string_view> names;
    for (const auto quantity : trace.quantities) {
        names.push_back(value_name(quantity));
    }
    const auto repairs = enforce_ascending_frequency(trace.rows, path, names);
    result.warnings.insert(result.warnings.end(), repairs.begin(), repairs.end());

    for (std::size_t q = 0; q < trace.quantities.size(); ++q) {
        if (trace.quantities[q] == Quantity::coherence) {
            normalise_coherence(trace.rows, q, result, path);
        }
    }
    for (const auto& row : trace.rows) {
        result.response.freq_hz.push_back(row.freq_hz);
        for (std::size_t q = 0; q < trace.quantities.size(); ++q) {
            switch (trace.quantities[q]) {
            case Quantity::magnitude: result.response.magnitude_db.push_back(row.values[q]); break;
            case Quantity::phase: result.response.phase_deg.push_back(row.values[q]); break;
            case Quantity::coherence: result.coherence.push_back(row.values[q]); break;
            }
        }
    }
    return result;
}

bool all_blank(const std::vector<TextLine>& lines) {
    return std::all_of(lines.begin(), lines.end(), [](const TextLine& line) { return is_blank(line.text); });
}

// ---- Smaart ASCII ------------------------------------------------------------------------------

// Columns of one Smaart trace, as indexes into a tab-split row.
struct SmaartColumnGroup {
    std::size_t first_column = 0;
    std::size_t end_column = 0;  // one past the group's last column
    std::size_t frequency = 0;
    std::vector<std::pair<Quantity, std::size_t>> values;  // magnitude first
};

bool starts_with_word(std::string_view title, std::string_view word) {
    return lower_case(trim_blanks(title)).starts_with(word);
}

std::optional<Quantity> quantity_for_title(std::string_view title) {
    if (starts_with_word(title, "magnitude") || starts_with_word(title, "level")) {
        return Quantity::magnitude;
    }
    if (starts_with_word(title, "phase")) {
        return Quantity::phase;
    }
    if (starts_with_word(title, "coherence")) {
        return Quantity::coherence;
    }
    return std::nullopt;
}

bool is_smaart_title_line(std::string_view text) {
    if (text.find('\t') == std::string_view::npos) {
        return false;
    }
    const auto fields = split_fields(text, FieldDelimiter::tab);
    const auto first = std::find_if(fields.begin(), fields.end(), [](std::string_view f) { return !f.empty(); });
    if (first == fields.end() || !starts_with_word(*first, "frequency")) {
        return false;
    }
    return std::any_of(first + 1, fields.end(), [](std::string_view f) { return quantity_for_title(f).has_value(); });
}

// Index of the Smaart column-title line among the first non-blank lines, if there is one.
std::optional<std::size_t> find_smaart_title_line(const std::vector<TextLine>& lines) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < lines.size() && seen < smaart_title_search_lines; ++i) {
        if (is_blank(lines[i].text)) {
            continue;
        }
        if (is_smaart_title_line(lines[i].text)) {
            return i;
        }
        ++seen;
    }
    return std::nullopt;
}

std::vector<SmaartColumnGroup> smaart_column_groups(const TextLine& title_line, const std::filesystem::path& path) {
    const auto titles = split_fields(title_line.text, FieldDelimiter::tab);
    std::vector<SmaartColumnGroup> groups;
    for (std::size_t column = 0; column < titles.size(); ++column) {
        if (starts_with_word(titles[column], "frequency")) {
            if (!groups.empty()) {
                groups.back().end_column = column;
            }
            groups.push_back({column, titles.size(), column, {}});
            continue;
        }
        const auto quantity = quantity_for_title(titles[column]);
        if (groups.empty() || !quantity) {
            continue;
        }
        auto& values = groups.back().values;
        const bool seen = std::any_of(values.begin(), values.end(), [&](const auto& v) { return v.first == *quantity; });
        if (!seen) {
            values.emplace_back(*quantity, column);
        }
    }

    for (std::size_t g = 0; g < groups.size(); ++g) {
        auto& values = groups[g].values;
        std::stable_sort(values.begin(), values.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        if (values.empty() || values.front().first != Quantity::magnitude) {
            throw Error(line_context(path, title_line.number) + ": column group " + std::to_string(g + 1) +
                        " (from column " + std::to_string(groups[g].first_column + 1) +
                        ") has no 'Magnitude (dB)' or 'Level (dB)' column; export the trace with its magnitude");
        }
    }
    return groups;
}

// The name above the group's columns; without one, the file stem for a single trace and
// "trace N" when there are several.
std::string smaart_trace_name(const std::optional<TextLine>& names_line, const SmaartColumnGroup& group,
                              std::size_t group_index, std::size_t group_count, const std::filesystem::path& path) {
    if (names_line) {
        const auto names = split_fields(names_line->text, FieldDelimiter::tab);
        for (std::size_t column = group.first_column; column < std::min(group.end_column, names.size()); ++column) {
            if (!names[column].empty()) {
                return std::string(names[column]);
            }
        }
    }
    if (group_count == 1) {
        return path.stem().string();
    }
    return "trace " + std::to_string(group_index + 1);
}

std::vector<MeasuredResponse> read_smaart(const std::vector<TextLine>& lines, std::size_t title_index,
                                          const std::filesystem::path& path) {
    const auto groups = smaart_column_groups(lines[title_index], path);

    std::optional<TextLine> names_line;
    for (std::size_t i = title_index; i-- > 0;) {
        if (!is_blank(lines[i].text)) {
            names_line = lines[i];
            break;
        }
    }

    std::vector<TraceRows> traces(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
        traces[g].name = smaart_trace_name(names_line, groups[g], g, groups.size(), path);
        for (const auto& value : groups[g].values) {
            traces[g].quantities.push_back(value.first);
        }
    }

    std::size_t data_rows = 0;
    for (std::size_t i = title_index + 1; i < lines.size(); ++i) {
        if (is_blank(lines[i].text)) {
            continue;
        }
        ++data_rows;
        const auto cells = split_fields(lines[i].text, FieldDelimiter::tab);
        const auto cell_at = [&](std::size_t column) { return column < cells.size() ? cells[column] : std::string_view{}; };
        for (std::size_t g = 0; g < groups.size(); ++g) {
            const auto& group = groups[g];
            std::vector<std::pair<std::string_view, std::size_t>> value_cells;
            bool any_filled = !cell_at(group.frequency).empty();
            bool any_empty = cell_at(group.frequency).empty();
            for (const auto& value : group.values) {
                value_cells.emplace_back(cell_at(value.second), value.second);
                any_filled = any_filled || !value_cells.back().first.empty();
                any_empty = any_empty || value_cells.back().first.empty();
            }
            // A trace with fewer points than its neighbours leaves its columns empty.
            if (!any_filled) {
                continue;
            }
            if (any_empty) {
                throw Error(line_context(path, lines[i].number) + ": trace '" + traces[g].name +
                            "' has empty cells in columns " + std::to_string(group.first_column + 1) + " to " +
                            std::to_string(group.end_column) + "; fill them or mark missing data with '*'");
            }
            add_row(traces[g], lines[i].number, cell_at(group.frequency), group.frequency, value_cells, path);
        }
    }
    if (data_rows == 0) {
        throw Error(file_context(path) + ": no data rows follow the column titles on line " +
                    std::to_string(lines[title_index].number) + "; export the traces again with data");
    }

    std::vector<MeasuredResponse> responses;
    for (auto& trace : traces) {
        responses.push_back(finish_trace(std::move(trace), ResponseFileFormat::smaart_ascii, path));
    }
    return responses;
}

// ---- REW, Open Sound Meter and plain tables ----------------------------------------------------

struct TableLines {
    std::vector<const TextLine*> data;
    std::optional<std::string> measurement_name;  // REW "* Measurement: L"
    bool has_star_header = false;
    bool is_distortion_export = false;
};

// Sorts the lines of a single-trace table into header and data. Before the first data row, a
// comment line or a line without any number (column titles, a description) is header. A line
// that mixes words and numbers there is rejected rather than guessed at. After the first data
// row, comment and blank lines are skipped and every other line must be a data row.
TableLines classify_table_lines(const std::vector<TextLine>& lines, const std::filesystem::path& path) {
    TableLines table;
    for (const auto& line : lines) {
        const std::string_view text = trim_blanks(line.text);
        if (text.empty()) {
            continue;
        }
        if (is_comment_line(text)) {
            table.has_star_header = table.has_star_header || text.starts_with('*');
            const std::string_view comment = trim_blanks(text.substr(text.starts_with("//") ? 2 : 1));
            if (comment.starts_with("Measurement:")) {
                table.measurement_name = std::string(trim_blanks(comment.substr(std::string_view("Measurement:").size())));
            }
            table.is_distortion_export =
                table.is_distortion_export || (contains_word(comment, "fundamental") && contains_word(comment, "thd"));
            continue;
        }
        if (!table.data.empty() || looks_like_data_row(text)) {
            table.data.push_back(&line);
            continue;
        }
        if (has_no_number(text)) {
            table.is_distortion_export =
                table.is_distortion_export || (contains_word(text, "fundamental") && contains_word(text, "thd"));
            continue;
        }
        throw Error(line_context(path, line.number) + ": '" + std::string(text) +
                    "' is neither a column-title line nor a data row (frequency in Hz, magnitude in dB); fix or "
                    "delete the line");
    }
    return table;
}

std::vector<MeasuredResponse> read_table(const std::vector<TextLine>& lines, bool open_sound_meter,
                                         const std::filesystem::path& path) {
    const TableLines table = classify_table_lines(lines, path);
    if (table.is_distortion_export) {
        throw Error(file_context(path) +
                    ": is a REW distortion export (Fundamental, THD, harmonics columns), not a frequency response; "
                    "export the measurement with File > Export > Measurement as text");
    }
    if (table.data.empty()) {
        throw Error(file_context(path) + ": no data rows in " + std::to_string(lines.size()) +
                    " lines; expected rows of frequency in Hz and magnitude in dB");
    }

    std::vector<std::string_view> data_texts;
    for (const auto* line : table.data) {
        data_texts.push_back(line->text);
    }
    const FieldDelimiter delimiter = detect_field_delimiter(data_texts);

    const TextLine& first = *table.data.front();
    const std::size_t column_count = typical_field_count(data_texts, delimiter);
    if (column_count < 2 || column_count > 4) {
        throw Error(line_context(path, first.number) + ": " + std::to_string(column_count) + " " +
                    (column_count == 1 ? "column" : "columns") + " separated by " + std::string(to_string(delimiter)) +
                    "; expected 2 to 4: frequency in Hz, magnitude in dB, then optionally phase in degrees and "
                    "coherence");
    }

    TraceRows trace;
    trace.name = table.measurement_name.value_or(path.stem().string());
    const std::array<Quantity, 3> column_quantities = {Quantity::magnitude, Quantity::phase, Quantity::coherence};
    trace.quantities.assign(column_quantities.begin(), column_quantities.begin() + static_cast<std::ptrdiff_t>(column_count - 1));

    for (const auto* line : table.data) {
        const auto fields = split_data_row(line->text, delimiter, column_count);
        if (fields.size() != column_count) {
            throw Error(line_context(path, line->number) + ": " + std::to_string(fields.size()) +
                        " columns, but most rows have " + std::to_string(column_count) +
                        "; every row needs the same columns (separated by " + std::string(to_string(delimiter)) + ")");
        }
        std::vector<std::pair<std::string_view, std::size_t>> value_cells;
        for (std::size_t column = 1; column < column_count; ++column) {
            value_cells.emplace_back(fields[column], column);
        }
        add_row(trace, line->number, fields[0], 0, value_cells, path);
    }

    ResponseFileFormat format = ResponseFileFormat::plain_text;
    if (open_sound_meter) {
        format = ResponseFileFormat::open_sound_meter;
    } else if (table.has_star_header) {
        format = ResponseFileFormat::rew_text;
    }
    std::vector<MeasuredResponse> responses;
    responses.push_back(finish_trace(std::move(trace), format, path));
    return responses;
}

bool starts_with_open_sound_meter_signature(const std::vector<TextLine>& lines) {
    const auto first = std::find_if(lines.begin(), lines.end(), [](const TextLine& line) { return !is_blank(line.text); });
    return first != lines.end() && trim_blanks(first->text).starts_with(open_sound_meter_signature);
}

}  // namespace

bool looks_like_response_text(const std::vector<TextLine>& first_lines) {
    if (is_rew_impulse_text(first_lines)) {
        return false;
    }
    if (starts_with_open_sound_meter_signature(first_lines) || find_smaart_title_line(first_lines)) {
        return true;
    }
    for (const auto& line : first_lines) {
        const std::string_view text = trim_blanks(line.text);
        if (text.empty() || is_comment_line(text)) {
            continue;
        }
        if (looks_like_data_row(text)) {
            return true;
        }
        if (!has_no_number(text)) {
            return false;
        }
    }
    return false;
}

std::vector<MeasuredResponse> read_response_text(const std::filesystem::path& path) {
    const auto lines = read_text_lines(path);
    if (all_blank(lines)) {
        throw Error(file_context(path) + ": the file is empty; export the response again");
    }
    if (is_rew_impulse_text(lines)) {
        throw Error(file_context(path) +
                    ": is a REW impulse-response export, not a frequency response; read it as an impulse response");
    }
    if (const auto title_index = find_smaart_title_line(lines)) {
        return read_smaart(lines, *title_index, path);
    }
    return read_table(lines, starts_with_open_sound_meter_signature(lines), path);
}

std::string_view to_string(ResponseFileFormat format) {
    switch (format) {
    case ResponseFileFormat::rew_text: return "rew_text";
    case ResponseFileFormat::smaart_ascii: return "smaart_ascii";
    case ResponseFileFormat::open_sound_meter: return "open_sound_meter";
    case ResponseFileFormat::plain_text: return "plain_text";
    }
    return "plain_text";
}

}  // namespace linetune::io
