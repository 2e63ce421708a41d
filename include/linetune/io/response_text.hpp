#pragma once

#include "linetune/core/frequency_response.hpp"
#include "linetune/io/text_table.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::io {

/// Layout a magnitude/phase text export was read as.
enum class ResponseFileFormat {
    rew_text,          ///< '*' header lines, then frequency, magnitude [, phase] rows (REW and alike)
    smaart_ascii,      ///< tab separated, trace-name line, column-title line, one column group per trace
    open_sound_meter,  ///< "Created with Open Sound Meter", then frequency, magnitude, phase, coherence
    plain_text,        ///< optional '#' comments or a column-title row, then numeric rows (CSV and alike)
};

/// One measured trace from a response text export.
struct MeasuredResponse {
    std::string trace_name;          ///< Smaart trace name, REW "Measurement:" line, else the file stem
    FrequencyResponse response;      ///< ascending frequency; phase empty when the file has none
    std::vector<double> coherence;   ///< 0..1 per point, empty when the file has none
    ResponseFileFormat format = ResponseFileFormat::plain_text;
    std::vector<std::string> warnings;  ///< repairs and skipped points, each naming the file and line
};

/// True when the first lines of a file look like a frequency-response export that
/// read_response_text reads (and not like a REW impulse-response export). A headerless
/// calibration file looks the same, so the caller decides between the two by intent.
bool looks_like_response_text(const std::vector<TextLine>& first_lines);

/// Reads every trace of a REW, Smaart, Open Sound Meter or plain CSV/text response export.
///
/// Rows must rise in frequency. A row identical to the one before it is dropped with a warning.
/// A row at the same frequency with different values, or at a lower frequency, throws an Error
/// naming both lines. A '*' cell marks a point without data (Smaart, Open Sound Meter), so that
/// point is skipped for its trace and counted in one warning per trace. Coherence written in
/// percent (values above 1 up to 100) is divided by 100 with a warning.
std::vector<MeasuredResponse> read_response_text(const std::filesystem::path& path);

/// Name of a format as written in JSON and tables ("rew_text", "smaart_ascii", ...).
std::string_view to_string(ResponseFileFormat format);

}  // namespace linetune::io
