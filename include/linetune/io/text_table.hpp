#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::io {

/// One line of a text file without its line break; number counts from 1.
struct TextLine {
    std::size_t number = 0;
    std::string text;
};

/// Reads every line of a text file. Strips a UTF-8 byte-order mark and the CR of CRLF line
/// breaks; throws Error for a missing, binary (NUL bytes) or UTF-16 file.
std::vector<TextLine> read_text_lines(const std::filesystem::path& path);

/// Reads at most max_line_count lines from the start of a text file, for format detection.
std::vector<TextLine> read_first_text_lines(const std::filesystem::path& path,
                                            std::size_t max_line_count);

/// Splits file content into lines as read_text_lines does; source names the file in messages.
std::vector<TextLine> split_text_lines(std::string_view content,
                                       const std::filesystem::path& source);

/// Parses a decimal number written with a decimal point or comma, optional thousands
/// separators (space, no-break space, apostrophe, comma or point) and an exponent;
/// nullopt when the text is not one finite number.
std::optional<double> parse_number(std::string_view text);

/// Text without leading and trailing spaces and tabs.
std::string_view trim_blanks(std::string_view text);

/// True for a line that holds only spaces and tabs.
bool is_blank(std::string_view text);

/// True for comment lines: those starting with '*', '#' or '//' after leading blanks.
bool is_comment_line(std::string_view text);

/// Column delimiter of a text table.
enum class FieldDelimiter { tab, semicolon, comma, whitespace };

/// Name of a delimiter as used in messages ("tab", "semicolon", "comma", "whitespace").
std::string_view to_string(FieldDelimiter delimiter);

/// Splits a data line into trimmed fields. Tab, semicolon and comma keep empty fields;
/// whitespace splits at runs of spaces and tabs. Double quotes around a field are removed.
std::vector<std::string_view> split_fields(std::string_view line, FieldDelimiter delimiter);

/// Picks the delimiter under which the most data lines split into two or more numeric fields.
/// Because parse_number reads "20,5" as 20.5, comma-decimal files split at whitespace, tab or
/// semicolon win over the comma.
FieldDelimiter detect_field_delimiter(std::span<const std::string_view> data_lines);

/// Most common number of fields among the first data lines (trailing empty fields not
/// counted); the smaller count wins a tie.
std::size_t typical_field_count(std::span<const std::string_view> data_lines, FieldDelimiter delimiter);

/// Splits a data row like split_fields without its trailing empty fields. Under whitespace, a
/// row with more than expected_count fields has numbers that a space thousands separator cut
/// ("24 000,0") joined again, from the left, until the count fits.
std::vector<std::string_view> split_data_row(std::string_view line, FieldDelimiter delimiter,
                                             std::size_t expected_count);

/// True when the line splits, under some delimiter, into two or more fields that are all
/// numbers or the no-data mark '*'.
bool looks_like_data_row(std::string_view text);

/// True when no word of the line is a number: a title or description line.
bool has_no_number(std::string_view text);

/// "file 'path'" with the path as given, the start of every message about a file.
std::string file_context(const std::filesystem::path& path);

/// "file 'path', line N".
std::string line_context(const std::filesystem::path& path, std::size_t line_number);

/// Shortest text that reads back as the same double ("900", "20.141602"), for messages.
std::string format_number(double value);

/// One data row of a frequency table: frequency, the other columns, and its line.
struct FrequencyRow {
    std::size_t line_number = 0;
    double freq_hz = 0.0;
    std::vector<double> values;
};

/// Enforces strictly ascending frequency. A row identical to the row before it is dropped, and
/// each drop returns one warning. A row at a lower frequency than the one before, or at the
/// same frequency with different values, throws Error. value_names label the values in
/// messages, e.g. "magnitude (dB)".
std::vector<std::string> enforce_ascending_frequency(std::vector<FrequencyRow>& rows,
                                                     const std::filesystem::path& path,
                                                     std::span<const std::string_view> value_names);

}  // namespace linetune::io
