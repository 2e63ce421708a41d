#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace linetune::analysis {

/// Symmetric Tukey (tapered cosine) window of `length` points; taper_fraction 0 is rectangular,
/// 1 is Hann. Throws Error for a taper fraction outside [0, 1].
std::vector<double> tukey_window(std::size_t length, double taper_fraction);

/// REW-style window around a reference sample (usually the arrival), in milliseconds.
struct LeftRightWindow {
    double left_ms = 10.0;               ///< window start, before the reference
    double right_ms = 500.0;             ///< window end, after the reference
    double left_taper_fraction = 1.0;    ///< share of left_ms that rises (1: half-Hann over all of it)
    double right_taper_fraction = 0.25;  ///< share of right_ms, at its end, that falls to zero
};

/// Applies a rising half-window of left_ms before reference_sample, flat, then a falling taper
/// ending right_ms after it; samples outside are zeroed. The output has the length of `ir`.
/// Throws a configuration Error naming the field for negative widths or fractions outside [0, 1].
std::vector<float> apply_left_right_window(std::span<const float> ir, double reference_sample,
                                           double sample_rate_hz, const LeftRightWindow& window);

}  // namespace linetune::analysis
