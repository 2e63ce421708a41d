#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "linetune/analysis/deconvolution.hpp"

namespace linetune::analysis {

/// Harmonic distortion per excitation frequency, from the harmonic impulse responses of one
/// deconvolved exponential-sweep measurement.
struct HarmonicDistortion {
    std::vector<double> freq_hz;         ///< excitation (fundamental) frequency grid
    std::vector<double> fundamental_db;  ///< |H1(f)| in dB
    std::vector<double> thd_percent;     ///< sqrt(Σ|Hn(n·f)|²)/|H1(f)|·100 over the harmonics measured; NaN if none
    /// [0] = H2 … per freq_hz; NaN where n·f is out of band or f is swept too soon after the fade-in
    std::vector<std::vector<double>> harmonic_percent;
};

/// Measures H2 … H<max_harmonic> relative to the fundamental from a buffer returned by
/// SweepDeconvolver::deconvolve, whose linear impulse response starts at linear_ir_start_sample.
/// The band defaults to the swept band, as SweepDeconvolver's does.
HarmonicDistortion measure_harmonic_distortion(std::span<const float> deconvolved,
                                               double sample_rate_hz, const SweepEstimate& sweep,
                                               double linear_ir_start_sample, int max_harmonic = 5,
                                               double points_per_octave = 12,
                                               std::optional<DeconvolutionBand> band = {});

}  // namespace linetune::analysis
