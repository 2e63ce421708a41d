#pragma once

#include "linetune/analysis/smoothing.hpp"
#include "linetune/core/frequency_response.hpp"

#include <optional>
#include <span>

namespace linetune::analysis {

/// Settings of compute_frequency_response.
struct ResponseOptions {
    double start_freq_hz = 10.0;
    double end_freq_hz = 24000.0;     ///< clipped to 0.95 · Nyquist
    double points_per_octave = 48.0;  ///< spacing of the log output grid
    Smoothing smoothing;              ///< power smoothing of the magnitude, complex smoothing of the phase
    std::optional<double> fdw_cycles; ///< frequency-dependent window width in cycles (e.g. 15); none = plain FFT
};

/// Magnitude (dB re full scale) and phase (deg in (−180, 180], with the delay to reference_sample
/// removed) of an impulse response on a log grid.
FrequencyResponse compute_frequency_response(std::span<const float> ir, double sample_rate_hz,
                                             double reference_sample, const ResponseOptions& options);

}  // namespace linetune::analysis
