#pragma once

#include "linetune/analysis/biquad.hpp"
#include "linetune/core/amplifier_state.hpp"

#include <vector>

namespace linetune::control {

/// Frequencies at which the push checks loudness and EQ boost: 1/points_per_octave-octave steps
/// from 10 Hz up to, not including, the Nyquist frequency of the DSP.
std::vector<double> loudness_grid_hz(double sample_rate_hz, double points_per_octave = 24.0);

/// Magnitude in dB of one band at each frequency: 0 dB when the band is disabled.
std::vector<double> band_magnitude_db(const EqBandState& band, const std::vector<double>& freq_hz,
                                      double sample_rate_hz);

/// Magnitude in dB of a channel's EQ (the sum of its enabled bands in dB) at each frequency.
std::vector<double> eq_magnitude_db(const std::vector<EqBandState>& bands, const std::vector<double>& freq_hz,
                                    double sample_rate_hz);

/// Output magnitude of a channel at each frequency: gain_db plus its EQ, or -infinity when muted.
/// Delay and polarity do not change a single channel's magnitude.
std::vector<double> channel_magnitude_db(const ChannelState& channel, const std::vector<double>& freq_hz,
                                         double sample_rate_hz);

}  // namespace linetune::control
