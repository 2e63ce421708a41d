#pragma once

#include "linetune/core/frequency_response.hpp"

#include <complex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::analysis {

/// Family of frequency smoothing: a fixed fraction of an octave, or a width that follows frequency.
enum class SmoothingKind {
    none,               ///< no smoothing
    fractional_octave,  ///< 1/b octave at every frequency
    variable,           ///< 1/48 octave below 100 Hz, 1/6 at 1 kHz, 1/3 above 10 kHz (REW "var")
    psychoacoustic,     ///< 1/3 octave below 100 Hz, 1/6 above 1 kHz, cubic mean (REW "psy")
    erb,                ///< one equivalent rectangular bandwidth of hearing (Glasberg & Moore)
};

/// Smoothing setting; octave_fraction is b in "1/b octave" and only used by fractional_octave.
struct Smoothing {
    SmoothingKind kind = SmoothingKind::none;
    double octave_fraction = 0;  ///< 1/6 octave → 6
};

/// Parses "none", "1/1", "1/2", "1/3", "1/6", "1/12", "1/24", "1/48", "var", "psy" or "erb";
/// throws a configuration Error listing the allowed values otherwise.
Smoothing parse_smoothing(std::string_view text);

/// Name of a smoothing setting in the form parse_smoothing accepts ("1/6", "var", ...).
std::string to_string(const Smoothing& smoothing);

/// Total width in octaves of the smoothing window centred on freq_hz (0 for none).
double smoothing_width_octaves(const Smoothing& smoothing, double freq_hz);

/// Power-averaging smoothing on an ascending frequency grid (e.g. FFT bins): each output point is
/// the mean of |H|² over its window [f·2^(−w/2), f·2^(w/2)], w the width in octaves; the
/// psychoacoustic kind takes the cubic mean of |H| instead. Runs in O(N) for any width.
std::vector<double> smooth_power(std::span<const double> freq_hz, std::span<const double> power,
                                 const Smoothing& smoothing);

/// Complex (vector) smoothing: the mean of H over the same windows as smooth_power, used to
/// smooth phase. The psychoacoustic kind also takes the plain mean here.
std::vector<std::complex<double>> smooth_complex(std::span<const double> freq_hz,
                                                 std::span<const std::complex<double>> spectrum,
                                                 const Smoothing& smoothing);

/// Smooths the magnitude of a response in dB (e.g. an imported curve) by power averaging on its
/// own grid; phase, when present, is returned unchanged.
FrequencyResponse smooth_response(const FrequencyResponse& response, const Smoothing& smoothing);

}  // namespace linetune::analysis
