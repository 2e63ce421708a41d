#pragma once

#include "linetune/core/frequency_response.hpp"

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

namespace linetune::analysis {

/// Minimum-phase spectrum with the given magnitude via the real cepstrum (homomorphic method;
/// Oppenheim & Schafer). magnitude contains linear |H| on bins 0..N/2 of an N-point FFT.
std::vector<std::complex<double>> minimum_phase_spectrum(std::span<const double> magnitude,
                                                         std::size_t fft_size);

/// An impulse response split into its minimum-phase part and the excess (all-pass) remainder.
struct PhaseSplit {
    FrequencyResponse minimum_phase;            ///< magnitude dB re full scale, minimum phase deg in (−180, 180]
    std::vector<double> excess_phase_deg;       ///< unwrapped from 0 Hz; a delay τ gives −360·f·τ
    std::vector<double> excess_group_delay_ms;  ///< −dφ_excess/dω; a delay τ gives τ
};

/// Splits the phase of an impulse response (t = 0 at its first sample) into minimum and excess
/// phase at the given frequencies.
PhaseSplit split_minimum_excess_phase(std::span<const float> ir, double sample_rate_hz,
                                      const std::vector<double>& freq_hz);

}  // namespace linetune::analysis
