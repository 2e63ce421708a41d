#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

namespace linetune::simulation {

/// Delay of a channel in whole samples of the profile's DSP rate: the channel's delay_ms and the
/// profile's latency_ms, each rounded to the nearest sample as a sample-based delay line does.
std::size_t channel_delay_samples(const ChannelState& channel, const DeviceProfile& profile);

/// Applies an amplifier channel to a signal at the profile's sample rate: the enabled EQ bands
/// (RBJ biquads, as analysis::design_biquad designs them), delay and latency, gain, polarity and
/// mute. The output has the input's length; what the delay pushes past the end is dropped.
/// Throws a configuration Error naming the band or value that the profile's rate cannot realise.
std::vector<float> apply_channel_state(std::span<const float> input, const ChannelState& channel,
                                       const DeviceProfile& profile);

/// Complex response of the same channel at each frequency, delay included (exact for the biquads).
std::vector<std::complex<double>> channel_response(const ChannelState& channel, const DeviceProfile& profile,
                                                   std::span<const double> freq_hz);

/// Impulse response of the channel, frames long.
std::vector<float> channel_impulse_response(const ChannelState& channel, const DeviceProfile& profile,
                                            std::size_t frames);

}  // namespace linetune::simulation
