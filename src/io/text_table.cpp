#include "linetune/io/text_table.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <fstream>
#include <system_error>

namespace linetune::io {
namespace {

// Largest file read_text_lines accepts. A 60 s impulse response at 192 kHz written one sample
// per line is about 250 MB, so 1 GiB leaves room for any measurement export. The limit stops a
// large binary file (a multitrack recording given by mistake) from being loaded as text.
constexpr std::uintmax_t max_text_file_bytes = std::uintmax_t{1} << 30;

// Bytes read by read_first_text_lines: enough for the header and the first data rows of every
// supported format, whose headers are under 4 kB.
constexpr std::size_t detection_prefix_bytes = 64 * 1024;

// Data lines that detect_field_delimiter inspects; the first rows decide the layout of a file.
constexpr std::size_t delimiter_sample_lines = 200;

constexpr std::string_view utf8_byte_order_mark = "\xEF\xBB\xBF";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_all_digits(std::string_view text) {
    return std::all_of(text.begin(), text.end(), is_digit);
}

bool is_utf16(std::string_view content) {
    return content.starts_with("\xFF\xFE") || content.starts_with("\xFE\xFF");
}

void reject_binary(std::string_view content, const std::filesystem::path& source) {
    if (is_utf16(content)) {
        throw Error(file_context(source) +
                    ": is UTF-16 text; save it as UTF-8 or plain ASCII text and try again");
    }
    const std::size_t nul = content.find('\0');
    if (nul == std::string_view::npos) {
        return;
    }
    const auto line = 1 + std::count(content.begin(), content.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    throw Error(line_context(source, static_cast<std::size_t>(line)) + ": NUL byte at byte offset " +
                std::to_string(nul) +
                ", so this is a binary file, not a text export; export the data as text");
}

std::string read_file_bytes(const std::filesystem::path& path, std::uintmax_t max_bytes) {
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    if (error) {
        throw Error(file_context(path) + ": cannot be read (" + error.message() +
                    "); check the path and the read permission");
    }
    if (size > max_text_file_bytes && max_bytes > max_text_file_bytes) {
        throw Error(file_context(path) + ": " + std::to_string(size) +
                    " bytes is larger than the 1 GiB limit for text exports; is this a text file?");
    }

    std::ifstream stream(path, std::ios::binary);
    if (!stream) {
        throw Error(file_context(path) + ": cannot be opened; check the read permission");
    }
    std::string content(static_cast<std::size_t>(std::min(size, max_bytes)), '\0');
    stream.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<std::size_t>(stream.gcount()));
    return content;
}

// Thousands separators written as multi-byte UTF-8: no-break space (U+00A0), narrow no-break
// space (U+202F, French locales), thin space (U+2009) and right single quote (U+2019).
constexpr std::array<std::string_view, 4> multibyte_group_separators = {
    "\xC2\xA0", "\xE2\x80\xAF", "\xE2\x80\x89", "\xE2\x80\x99"};

// Replaces multi-byte thousands separators by ' ' and rejects characters that cannot be part
// of a mantissa.
std::optional<std::string> normalise_mantissa(std::string_view mantissa) {
    std::string normalised;
    normalised.reserve(mantissa.size());
    std::size_t i = 0;
    while (i < mantissa.size()) {
        const char c = mantissa[i];
        if (is_digit(c) || c == '.' || c == ',' || c == ' ' || c == '\'') {
            normalised += c == '\'' ? ' ' : c;
            ++i;
            continue;
        }
        const auto separator = std::find_if(
            multibyte_group_separators.begin(), multibyte_group_separators.end(),
            [&](std::string_view s) { return mantissa.substr(i).starts_with(s); });
        if (separator == multibyte_group_separators.end()) {
            return std::nullopt;
        }
        normalised += ' ';
        i += separator->size();
    }
    return normalised;
}

// Integer digits of a mantissa's integer part written with one kind of thousands separator:
// the first group has 1 to 3 digits and every later group exactly 3 ("1 000", "19,999").
std::optional<std::string> ungroup_integer_part(std::string_view integer_part, char separator) {
    if (integer_part.find(separator) == std::string_view::npos) {
        return is_all_digits(integer_part) ? std::optional<std::string>(integer_part) : std::nullopt;
    }
    std::string digits;
    std::size_t start = 0;
    bool first = true;
    while (true) {
        const std::size_t end = integer_part.find(separator, start);
        const std::string_view group = integer_part.substr(start, end - start);
        const bool size_ok = first ? (!group.empty() && group.size() <= 3) : group.size() == 3;
        if (!size_ok || !is_all_digits(group)) {
            return std::nullopt;
        }
        digits += group;
        if (end == std::string_view::npos) {
            return digits;
        }
        start = end + 1;
        first = false;
    }
}

// Mantissa rewritten as "digits.digits" for from_chars. When both '.' and ',' occur, the last
// one is the decimal separator ("19,999.9", "1.000,5"). A single '.' or ',' alone is decimal,
// so "1,5" is 1.5. A mark that occurs twice or more is a thousands separator ("1,000,000").
std::optional<std::string> canonical_mantissa(std::string_view raw) {
    const auto normalised = normalise_mantissa(raw);
    if (!normalised) {
        return std::nullopt;
    }
    const std::string_view mantissa = *normalised;
    const auto dots = std::count(mantissa.begin(), mantissa.end(), '.');
    const auto commas = std::count(mantissa.begin(), mantissa.end(), ',');

    char decimal = 0;
    if (dots > 0 && commas > 0) {
        decimal = mantissa.find_last_of(".,") == mantissa.rfind('.') ? '.' : ',';
    } else if (dots == 1) {
        decimal = '.';
    } else if (commas == 1) {
        decimal = ',';
    }
    const auto decimal_count = decimal == '.' ? dots : (decimal == ',' ? commas : 0);
    if (decimal_count > 1) {
        return std::nullopt;
    }

    const std::size_t decimal_at = decimal != 0 ? mantissa.find(decimal) : std::string_view::npos;
    const std::string_view integer_part = mantissa.substr(0, decimal_at);
    const std::string_view fraction_part =
        decimal_at == std::string_view::npos ? std::string_view{} : mantissa.substr(decimal_at + 1);
    if (!is_all_digits(fraction_part)) {
        return std::nullopt;
    }

    // At most one kind of thousands separator may remain in the integer part.
    char group_separator = 0;
    for (const char c : integer_part) {
        if (is_digit(c)) {
            continue;
        }
        if (group_separator != 0 && c != group_separator) {
            return std::nullopt;
        }
        group_separator = c;
    }
    const auto integer_digits = ungroup_integer_part(integer_part, group_separator == 0 ? ' ' : group_separator);
    if (!integer_digits || (integer_digits->empty() && fraction_part.empty())) {
        return std::nullopt;
    }
    return *integer_digits + "." + std::string(fraction_part);
}

std::optional<double> convert(std::string_view text) {
    double value = 0.0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value,
                                              std::chars_format::general);
    if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

bool is_plain_decimal(std::string_view mantissa) {
    return !mantissa.empty() &&
           std::all_of(mantissa.begin(), mantissa.end(), [](char c) { return is_digit(c) || c == '.'; }) &&
           std::count(mantissa.begin(), mantissa.end(), '.') <= 1 && mantissa != ".";
}

bool is_number_or_missing(std::string_view field) {
    return field == "*" || parse_number(field).has_value();
}

// Splits at blanks, commas, semicolons and tabs alike, to look for numbers in any line.
std::vector<std::string_view> split_words(std::string_view text) {
    std::vector<std::string_view> words;
    std::size_t start = 0;
    while (start < text.size()) {
        start = text.find_first_not_of(" \t,;\"", start);
        if (start == std::string_view::npos) {
            break;
        }
        const std::size_t end = std::min(text.find_first_of(" \t,;\"", start), text.size());
        words.push_back(text.substr(start, end - start));
        start = end;
    }
    return words;
}

std::string_view strip_quotes(std::string_view field) {
    if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
        return trim_blanks(field.substr(1, field.size() - 2));
    }
    return field;
}

// A line counts for a delimiter when it splits into two or more fields, every non-empty one a
// number or '*'.
bool is_numeric_row(std::string_view line, FieldDelimiter delimiter) {
    const auto fields = split_fields(line, delimiter);
    std::size_t filled = 0;
    for (const auto field : fields) {
        if (field.empty()) {
            continue;
        }
        if (!is_number_or_missing(field)) {
            return false;
        }
        ++filled;
    }
    return filled >= 2;
}

constexpr std::array<FieldDelimiter, 4> delimiters_by_priority = {
    FieldDelimiter::tab, FieldDelimiter::semicolon, FieldDelimiter::comma, FieldDelimiter::whitespace};

}  // namespace

std::vector<TextLine> split_text_lines(std::string_view content, const std::filesystem::path& source) {
    if (content.starts_with(utf8_byte_order_mark)) {
        content.remove_prefix(utf8_byte_order_mark.size());
    }
    reject_binary(content, source);

    // CRLF, LF and a lone CR (classic Mac OS) all end a line; an empty last line is not a line.
    std::vector<TextLine> lines;
    std::size_t start = 0;
    std::size_t number = 1;
    while (start < content.size()) {
        const std::size_t end = std::min(content.find_first_of("\r\n", start), content.size());
        lines.push_back({number++, std::string(content.substr(start, end - start))});
        start = end + 1;
        if (end < content.size() && content[end] == '\r' && start < content.size() && content[start] == '\n') {
            ++start;
        }
    }
    return lines;
}

std::vector<TextLine> read_text_lines(const std::filesystem::path& path) {
    const std::string content = read_file_bytes(path, std::numeric_limits<std::uintmax_t>::max());
    return split_text_lines(content, path);
}

std::vector<TextLine> read_first_text_lines(const std::filesystem::path& path, std::size_t max_line_count) {
    const std::string content = read_file_bytes(path, detection_prefix_bytes);
    auto lines = split_text_lines(content, path);
    // When the prefix cut the file, its last line may be incomplete.
    std::error_code error;
    const bool cut = std::filesystem::file_size(path, error) > content.size() && !error;
    if (cut && !lines.empty()) {
        lines.pop_back();
    }
    if (lines.size() > max_line_count) {
        lines.resize(max_line_count);
    }
    return lines;
}

std::string_view trim_blanks(std::string_view text) {
    const std::size_t first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const std::size_t last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

bool is_blank(std::string_view text) { return trim_blanks(text).empty(); }

bool is_comment_line(std::string_view text) {
    const std::string_view trimmed = trim_blanks(text);
    return trimmed.starts_with('*') || trimmed.starts_with('#') || trimmed.starts_with("//");
}

std::optional<double> parse_number(std::string_view text) {
    text = trim_blanks(text);
    if (text.empty()) {
        return std::nullopt;
    }

    bool negative = false;
    std::string_view unsigned_text = text;
    if (text.front() == '+' || text.front() == '-') {
        negative = text.front() == '-';
        unsigned_text.remove_prefix(1);
    }
    const std::size_t exponent_at = unsigned_text.find_first_of("eE");
    const std::string_view mantissa = unsigned_text.substr(0, exponent_at);
    std::string_view exponent;  // "e-5" with its letter, empty when the text has none
    if (exponent_at != std::string_view::npos) {
        exponent = unsigned_text.substr(exponent_at);
        std::string_view exponent_digits = exponent.substr(1);
        if (exponent_digits.starts_with('+') || exponent_digits.starts_with('-')) {
            exponent_digits.remove_prefix(1);
        }
        if (exponent_digits.empty() || !is_all_digits(exponent_digits)) {
            return std::nullopt;
        }
    }

    // Fast path for what machines write ("-1.654331E-6"): from_chars reads the text unchanged
    // once a leading '+' (which from_chars rejects) is dropped.
    if (is_plain_decimal(mantissa)) {
        return convert(negative ? text : unsigned_text);
    }

    const auto canonical = canonical_mantissa(mantissa);
    if (!canonical) {
        return std::nullopt;
    }
    std::string buffer = negative ? "-" : "";
    buffer += *canonical;
    buffer += exponent;
    return convert(buffer);
}

std::string_view to_string(FieldDelimiter delimiter) {
    switch (delimiter) {
    case FieldDelimiter::tab: return "tab";
    case FieldDelimiter::semicolon: return "semicolon";
    case FieldDelimiter::comma: return "comma";
    case FieldDelimiter::whitespace: return "whitespace";
    }
    return "whitespace";
}

std::vector<std::string_view> split_fields(std::string_view line, FieldDelimiter delimiter) {
    std::vector<std::string_view> fields;
    if (delimiter == FieldDelimiter::whitespace) {
        std::size_t start = 0;
        while ((start = line.find_first_not_of(" \t", start)) != std::string_view::npos) {
            const std::size_t end = std::min(line.find_first_of(" \t", start), line.size());
            fields.push_back(strip_quotes(line.substr(start, end - start)));
            start = end;
        }
        return fields;
    }

    const char separator = delimiter == FieldDelimiter::tab ? '\t' : (delimiter == FieldDelimiter::semicolon ? ';' : ',');
    std::size_t start = 0;
    while (true) {
        const std::size_t end = line.find(separator, start);
        fields.push_back(strip_quotes(trim_blanks(line.substr(start, end - start))));
        if (end == std::string_view::npos) {
            return fields;
        }
        start = end + 1;
    }
}

FieldDelimiter detect_field_delimiter(std::span<const std::string_view> data_lines) {
    const auto sample = data_lines.first(std::min(data_lines.size(), delimiter_sample_lines));

    FieldDelimiter best = FieldDelimiter::whitespace;
    std::size_t best_score = 0;
    for (const auto delimiter : delimiters_by_priority) {
        const auto score = static_cast<std::size_t>(std::count_if(
            sample.begin(), sample.end(), [&](std::string_view line) { return is_numeric_row(line, delimiter); }));
        if (score > best_score) {
            best = delimiter;
            best_score = score;
        }
    }
    if (best_score > 0) {
        return best;
    }

    // No line reads as numbers under any delimiter: pick the one the text uses, so that the
    // caller's message points at the cell that is not a number.
    const auto uses = [&](char c) {
        return std::any_of(sample.begin(), sample.end(), [c](std::string_view line) {
            return line.find(c) != std::string_view::npos;
        });
    };
    if (uses('\t')) {
        return FieldDelimiter::tab;
    }
    if (uses(';')) {
        return FieldDelimiter::semicolon;
    }
    if (uses(',')) {
        return FieldDelimiter::comma;
    }
    return FieldDelimiter::whitespace;
}

std::size_t typical_field_count(std::span<const std::string_view> data_lines, FieldDelimiter delimiter) {
    const auto sample = data_lines.first(std::min(data_lines.size(), delimiter_sample_lines));
    std::vector<std::size_t> counts;
    for (const auto line : sample) {
        counts.push_back(split_data_row(line, delimiter, std::numeric_limits<std::size_t>::max()).size());
    }
    std::sort(counts.begin(), counts.end());

    std::size_t best_count = 0;
    std::size_t best_frequency = 0;
    for (auto run = counts.begin(); run != counts.end();) {
        const auto run_end = std::upper_bound(run, counts.end(), *run);
        const auto frequency = static_cast<std::size_t>(run_end - run);
        if (frequency > best_frequency) {
            best_count = *run;
            best_frequency = frequency;
        }
        run = run_end;
    }
    return best_count;
}

std::vector<std::string_view> split_data_row(std::string_view line, FieldDelimiter delimiter,
                                             std::size_t expected_count) {
    auto fields = split_fields(line, delimiter);
    while (!fields.empty() && fields.back().empty()) {
        fields.pop_back();
    }
    if (delimiter != FieldDelimiter::whitespace) {
        return fields;
    }

    // A space thousands separator leaves a 1- to 3-digit integer followed by a field that starts
    // with exactly three digits ("24" "000,0"). Both views point into line, so the joined field
    // is the text between them, which parse_number reads as one grouped number.
    std::size_t i = 0;
    while (fields.size() > expected_count && i + 1 < fields.size()) {
        const std::string_view left = fields[i];
        const std::string_view right = fields[i + 1];
        const std::string_view left_digits = (left.starts_with('-') || left.starts_with('+')) ? left.substr(1) : left;
        const bool left_is_group = !left_digits.empty() && left_digits.size() <= 3 && is_all_digits(left_digits);
        const bool right_is_group = right.size() >= 3 && is_all_digits(right.substr(0, 3)) &&
                                    (right.size() == 3 || right[3] == ',' || right[3] == '.');
        const bool single_space = right.data() - (left.data() + left.size()) == 1;
        if (!left_is_group || !right_is_group || !single_space) {
            ++i;
            continue;
        }
        fields[i] = std::string_view(left.data(), static_cast<std::size_t>(right.data() + right.size() - left.data()));
        fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
    return fields;
}

bool looks_like_data_row(std::string_view text) {
    return std::any_of(delimiters_by_priority.begin(), delimiters_by_priority.end(),
                       [&](FieldDelimiter delimiter) { return is_numeric_row(text, delimiter); });
}

bool has_no_number(std::string_view text) {
    const auto words = split_words(text);
    return std::none_of(words.begin(), words.end(), [](std::string_view word) { return parse_number(word).has_value(); });
}

std::string file_context(const std::filesystem::path& path) { return "file '" + path.string() + "'"; }

std::string line_context(const std::filesystem::path& path, std::size_t line_number) {
    return file_context(path) + ", line " + std::to_string(line_number);
}

std::string format_number(double value) {
    std::array<char, 32> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return std::string(buffer.data(), result.ptr);
}

std::vector<std::string> enforce_ascending_frequency(std::vector<FrequencyRow>& rows,
                                                     const std::filesystem::path& path,
                                                     std::span<const std::string_view> value_names) {
    std::vector<std::string> warnings;
    std::vector<FrequencyRow> ascending_rows;
    ascending_rows.reserve(rows.size());

    for (auto& row : rows) {
        if (ascending_rows.empty() || row.freq_hz > ascending_rows.back().freq_hz) {
            ascending_rows.push_back(std::move(row));
            continue;
        }

        const FrequencyRow& previous = ascending_rows.back();
        const std::string row_context = line_context(path, row.line_number);
        if (row.freq_hz < previous.freq_hz) {
            throw Error(row_context + ": frequency " + format_number(row.freq_hz) + " Hz is lower than " +
                        format_number(previous.freq_hz) + " Hz on line " + std::to_string(previous.line_number) +
                        "; rows must be in ascending frequency");
        }

        // Same frequency: an exact copy of the previous row is dropped, anything else is a conflict.
        const auto mismatch = std::mismatch(row.values.begin(), row.values.end(), previous.values.begin(),
                                            previous.values.end());
        if (mismatch.first == row.values.end() && mismatch.second == previous.values.end()) {
            warnings.push_back(row_context + ": duplicate of line " + std::to_string(previous.line_number) + " (frequency " +
                               format_number(row.freq_hz) + " Hz) dropped");
            continue;
        }
        const auto column = static_cast<std::size_t>(mismatch.first - row.values.begin());
        const std::string name = column < value_names.size() ? std::string(value_names[column]) : "value";
        const std::string here_value = mismatch.first != row.values.end() ? format_number(*mismatch.first) : "none";
        const std::string there_value =
            mismatch.second != previous.values.end() ? format_number(*mismatch.second) : "none";
        throw Error(row_context + ": frequency " + format_number(row.freq_hz) + " Hz repeats line " +
                    std::to_string(previous.line_number) + " with a different " + name + " (" + here_value +
                    " here, " + there_value + " there); delete one of the two rows");
    }

    rows = std::move(ascending_rows);
    return warnings;
}

}  // namespace linetune::io
