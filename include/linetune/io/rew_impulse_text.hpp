#pragma once

#include "linetune/core/signal.hpp"
#include "linetune/io/text_table.hpp"

#include <cstddef>
#include <filesystem>
#include <vector>

namespace linetune::io {

/// An impulse response read from REW's "Export impulse response as text", with its header.
struct RewImpulseResponse {
    /// One channel at 1 / sample interval; time_base = {−start_time_s·fs, rew_start_time}.
    MultichannelSignal signal;
    /// REW's interpolated peak (full scale = 1); without that header line, the largest |sample|
    /// of a file that is not normalised, else 0.
    double peak_value_before_normalisation = 0.0;
    std::size_t peak_index = 0;   ///< from the header, else the index of the largest |sample|
    double start_time_s = 0.0;    ///< time of the first sample relative to t = 0
    double data_offset_db = 0.0;  ///< REW's SPL offset of the data; 0 without that header line
    bool normalised = false;      ///< true only when the header says "IR is normalised"
};

/// True when the first lines of a file look like a REW impulse-response text export.
bool is_rew_impulse_text(const std::vector<TextLine>& first_lines);

/// Reads a REW impulse-response text export. Throws Error naming the line when a header value
/// is missing or inconsistent, or when a sample is not a number.
RewImpulseResponse read_rew_impulse_text(const std::filesystem::path& path);

}  // namespace linetune::io
