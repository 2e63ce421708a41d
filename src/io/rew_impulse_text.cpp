#include "linetune/io/rew_impulse_text.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

// Layout of REW's "File > Export > Impulse response as text" (REW V5.x, headers on):
//
//   * Impulse Response data saved by REW V5.40 Beta 132
//   * IR is not normalised
//   * ...                                        ('*' lines: free-form header)
//   0.0034054601565003395 // Peak value before normalisation
//   96000 // Peak index
//   262144 // Response length
//   1.0416666666666666E-5 // Sample interval (seconds)
//   -0.9952187499999998 // Start time (seconds)
//   120.0 // Data offset (dB)
//   * Data start
//   -1.654331E-6                                 (one sample per line, full scale = 1)
//
// "Start time" is the time of the first sample relative to REW's t = 0 (the loopback timing
// reference when one was used), so t = 0 lies at sample −start_time·fs. That value is
// fractional in general; rounding it would shift every arrival time by up to half a sample.

namespace linetune::io {
namespace {

// Sample rates accepted from the "Sample interval" header: 1 kHz to 1.536 MHz (8 × 192 kHz).
// Outside that range the interval was surely mistyped or is not in seconds.
constexpr double min_sample_rate_hz = 1000.0;
constexpr double max_sample_rate_hz = 1.536e6;

// A sample rate within this relative distance of a whole number of hertz is snapped to it:
// REW writes 1/96000 as 1.0416666666666666E-5, whose inverse is 96000.00000000001.
constexpr double sample_rate_snap_tolerance = 1e-9;

// Lines inspected by is_rew_impulse_text: REW writes about 16 header lines.
constexpr std::size_t detection_line_count = 40;

enum class HeaderField { peak_value, peak_index, response_length, sample_interval, start_time, data_offset };

struct HeaderLabel {
    HeaderField field;
    std::string_view label;  // as REW writes it after "//"
};

constexpr std::array<HeaderLabel, 6> header_labels = {{
    {HeaderField::peak_value, "Peak value before normalisation"},
    {HeaderField::peak_index, "Peak index"},
    {HeaderField::response_length, "Response length"},
    {HeaderField::sample_interval, "Sample interval (seconds)"},
    {HeaderField::start_time, "Start time (seconds)"},
    {HeaderField::data_offset, "Data offset (dB)"},
}};

struct HeaderValue {
    double value = 0.0;
    std::size_t line_number = 0;
};

struct Header {
    std::array<std::optional<HeaderValue>, header_labels.size()> values;
    std::optional<bool> normalised;
    std::size_t data_start_index = 0;  // index into the lines of "* Data start"

    [[nodiscard]] const std::optional<HeaderValue>& get(HeaderField field) const {
        return values[static_cast<std::size_t>(field)];
    }
};

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<HeaderField> field_for_label(std::string_view label) {
    for (const auto& entry : header_labels) {
        if (equals_ignoring_case(label, entry.label)) {
            return entry.field;
        }
    }
    return std::nullopt;
}

std::string_view label_of(HeaderField field) { return header_labels[static_cast<std::size_t>(field)].label; }

// Text of a '*' comment line after the star, trimmed.
std::string_view comment_text(std::string_view trimmed_line) { return trim_blanks(trimmed_line.substr(1)); }

// Reads the header up to "* Data start". A line "value // label" with a label this reader does
// not know is skipped, so that a later REW version's extra fields do not break reading.
Header read_header(const std::vector<TextLine>& lines, const std::filesystem::path& path) {
    Header header;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view text = trim_blanks(lines[i].text);
        if (text.empty()) {
            continue;
        }
        if (text.starts_with('*')) {
            const std::string_view comment = comment_text(text);
            if (equals_ignoring_case(comment, "Data start")) {
                header.data_start_index = i;
                return header;
            }
            if (equals_ignoring_case(comment, "IR is normalised")) {
                header.normalised = true;
            } else if (equals_ignoring_case(comment, "IR is not normalised")) {
                header.normalised = false;
            }
            continue;
        }

        const std::size_t separator = text.find("//");
        if (separator == std::string_view::npos) {
            throw Error(line_context(path, lines[i].number) + ": '" + std::string(text) +
                        "' is neither a '*' comment nor a 'value // name' header line, and no '* Data start' "
                        "line came before it; export the impulse response again from REW with headers on");
        }
        const auto field = field_for_label(trim_blanks(text.substr(separator + 2)));
        if (!field) {
            continue;
        }
        const std::string_view value_text = trim_blanks(text.substr(0, separator));
        const auto value = parse_number(value_text);
        if (!value) {
            throw Error(line_context(path, lines[i].number) + ": '" + std::string(value_text) + "' is not a number (" +
                        std::string(label_of(*field)) + "); fix the line or export the impulse response again");
        }
        header.values[static_cast<std::size_t>(*field)] = HeaderValue{*value, lines[i].number};
    }
    throw Error(file_context(path) +
                ": no '* Data start' line, so this is not a complete REW impulse-response text export; export "
                "it again with File > Export > Impulse response as text");
}

HeaderValue require_field(const Header& header, HeaderField field, const std::filesystem::path& path) {
    const auto& value = header.get(field);
    if (!value) {
        throw Error(file_context(path) + ": the header line '<value> // " + std::string(label_of(field)) +
                    "' is missing before '* Data start'; export the impulse response again from REW with headers on");
    }
    return *value;
}

// A header value that counts samples: a whole number, at least minimum.
std::size_t whole_count(HeaderValue entry, HeaderField field, double minimum, const std::filesystem::path& path) {
    const std::string name(label_of(field));
    if (entry.value != std::floor(entry.value) || entry.value < minimum ||
        entry.value > static_cast<double>(std::numeric_limits<std::uint32_t>::max())) {
        throw Error(line_context(path, entry.line_number) + ": " + name + " " + format_number(entry.value) +
                    " is not a whole number of samples from " + format_number(minimum) +
                    " to 4294967295; fix the line or export the impulse response again");
    }
    return static_cast<std::size_t>(entry.value);
}

double sample_rate_from_interval(HeaderValue interval, const std::filesystem::path& path) {
    if (!(interval.value > 0.0)) {
        throw Error(line_context(path, interval.line_number) + ": sample interval " + format_number(interval.value) +
                    " s must be greater than 0 s; fix the line or export the impulse response again");
    }
    double rate_hz = 1.0 / interval.value;
    const double whole_hz = std::round(rate_hz);
    if (std::fabs(rate_hz - whole_hz) <= sample_rate_snap_tolerance * whole_hz) {
        rate_hz = whole_hz;
    }
    if (rate_hz < min_sample_rate_hz || rate_hz > max_sample_rate_hz) {
        throw Error(line_context(path, interval.line_number) + ": sample interval " + format_number(interval.value) +
                    " s gives a sample rate of " + format_number(rate_hz) + " Hz, outside 1000 to 1536000 Hz; "
                    "the interval must be in seconds (1/96000 s for 96 kHz)");
    }
    return rate_hz;
}

// Reads the samples after "* Data start" into a float vector, checking each one.
std::vector<float> read_samples(const std::vector<TextLine>& lines, std::size_t first_index, std::size_t expected_count,
                                const std::filesystem::path& path) {
    std::vector<float> samples;
    samples.reserve(std::min(expected_count, lines.size() - first_index));
    for (std::size_t i = first_index; i < lines.size(); ++i) {
        const std::string_view text = trim_blanks(lines[i].text);
        if (text.empty()) {
            continue;
        }
        const auto value = parse_number(text);
        if (!value) {
            throw Error(line_context(path, lines[i].number) + ": '" + std::string(text) +
                        "' is not a sample value; fix or delete the line");
        }
        if (std::fabs(*value) > static_cast<double>(std::numeric_limits<float>::max())) {
            throw Error(line_context(path, lines[i].number) + ": sample value " + format_number(*value) +
                        " is too large for 32-bit float samples (at most 3.4e38); fix or delete the line");
        }
        samples.push_back(static_cast<float>(*value));
    }
    return samples;
}

std::size_t index_of_largest_magnitude(const std::vector<float>& samples) {
    const auto largest = std::max_element(samples.begin(), samples.end(),
                                          [](float a, float b) { return std::fabs(a) < std::fabs(b); });
    return static_cast<std::size_t>(largest - samples.begin());
}

}  // namespace

bool is_rew_impulse_text(const std::vector<TextLine>& first_lines) {
    const std::size_t count = std::min(first_lines.size(), detection_line_count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string_view text = trim_blanks(first_lines[i].text);
        if (text.starts_with("* Impulse Response data saved by REW")) {
            return true;
        }
        const std::size_t separator = text.find("//");
        if (separator == std::string_view::npos) {
            continue;
        }
        const auto field = field_for_label(trim_blanks(text.substr(separator + 2)));
        if (field == HeaderField::sample_interval || field == HeaderField::response_length) {
            return true;
        }
    }
    return false;
}

RewImpulseResponse read_rew_impulse_text(const std::filesystem::path& path) {
    const auto lines = read_text_lines(path);
    if (std::all_of(lines.begin(), lines.end(), [](const TextLine& line) { return is_blank(line.text); })) {
        throw Error(file_context(path) + ": the file is empty; export the impulse response again from REW");
    }

    const Header header = read_header(lines, path);
    const HeaderValue length_entry = require_field(header, HeaderField::response_length, path);
    const std::size_t response_length = whole_count(length_entry, HeaderField::response_length, 1.0, path);
    const double sample_rate_hz =
        sample_rate_from_interval(require_field(header, HeaderField::sample_interval, path), path);
    const double start_time_s = require_field(header, HeaderField::start_time, path).value;

    const std::size_t data_start_line = lines[header.data_start_index].number;
    std::vector<float> samples = read_samples(lines, header.data_start_index + 1, response_length, path);
    if (samples.empty()) {
        throw Error(line_context(path, data_start_line) +
                    ": no samples follow '* Data start'; export the impulse response again from REW");
    }
    if (samples.size() != response_length) {
        throw Error(line_context(path, length_entry.line_number) + ": response length is " +
                    std::to_string(response_length) + " samples but " + std::to_string(samples.size()) +
                    " sample lines follow '* Data start' on line " + std::to_string(data_start_line) +
                    "; the export is incomplete or was edited, so export it again from REW");
    }

    RewImpulseResponse result;
    result.start_time_s = start_time_s;
    result.normalised = header.normalised.value_or(false);
    result.data_offset_db = header.get(HeaderField::data_offset).value_or(HeaderValue{}).value;

    // Without the header lines, fall back to the data: the sample peak replaces REW's
    // interpolated peak, which is up to a fraction of a dB higher.
    if (const auto& peak_index = header.get(HeaderField::peak_index)) {
        result.peak_index = whole_count(*peak_index, HeaderField::peak_index, 0.0, path);
        if (result.peak_index >= response_length) {
            throw Error(line_context(path, peak_index->line_number) + ": peak index " +
                        std::to_string(result.peak_index) + " is beyond the last sample (index " +
                        std::to_string(response_length - 1) + "); export the impulse response again from REW");
        }
    } else {
        result.peak_index = index_of_largest_magnitude(samples);
    }
    if (const auto& peak_value = header.get(HeaderField::peak_value)) {
        result.peak_value_before_normalisation = peak_value->value;
    } else if (!result.normalised) {
        result.peak_value_before_normalisation = std::fabs(samples[index_of_largest_magnitude(samples)]);
    }
    // NOTE: a normalised export without its "Peak value before normalisation" line keeps 0
    // here, because the scale REW divided by is lost.

    result.signal = MultichannelSignal(1, samples.size(), sample_rate_hz);
    std::copy(samples.begin(), samples.end(), result.signal.channel(0).begin());
    result.signal.time_base = TimeBase{-start_time_s * sample_rate_hz, TimeBaseSource::rew_start_time};
    return result;
}

}  // namespace linetune::io
