#include "linetune/simulation/amplifier_dsp.hpp"

#include "linetune/analysis/biquad.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"

#include <cmath>
#include <string>

// The amplifier channel model
// ---------------------------
// A channel is, in signal order: the enabled EQ bands as a cascade of biquads, the delay line,
// the gain and the polarity. Mute replaces the output with silence. Each band is the RBJ
// cookbook biquad that analysis::design_biquad designs at the profile's sample rate, so the
// model sounds exactly as the tuner predicts. The biquads run in transposed direct form II in
// double precision.
//
// The delay line holds whole samples of the DSP rate: delay_ms is rounded to the nearest sample,
// as the sample-based delay lines of amplifier DSPs do (a 0.01 ms step at 48 kHz is not a whole
// sample, and the device's own rounding is not modelled). The profile's latency_ms (converters
// and block processing of the DSP path) is a second whole-sample delay.

namespace linetune::simulation {
namespace {

/// Biquads of the enabled bands, each error prefixed with its band number.
std::vector<analysis::BiquadCoefficients> enabled_biquads(const ChannelState& channel, const DeviceProfile& profile) {
    std::vector<analysis::BiquadCoefficients> biquads;
    for (std::size_t b = 0; b < channel.bands.size(); ++b) {
        const auto& band = channel.bands[b];
        if (!band.enabled) {
            continue;
        }
        const analysis::ParametricBand parametric = analysis::parametric_band_of(band);
        try {
            biquads.push_back(analysis::design_biquad(parametric, profile.sample_rate_hz));
        } catch (const Error& error) {
            throw error.with_context("amplifier profile '" + profile.name + "', EQ band " + std::to_string(b + 1));
        }
    }
    return biquads;
}

/// Checks the channel's delay and gain, and the profile's rate and latency, before any filtering.
void check_channel(const ChannelState& channel, const DeviceProfile& profile) {
    const std::string where = "amplifier profile '" + profile.name + "'";
    if (!(profile.sample_rate_hz > 0.0) || !std::isfinite(profile.sample_rate_hz)) {
        throw Error(where + ": DSP sample rate " + format_significant(profile.sample_rate_hz) +
                        " Hz is invalid; give sample_rate_hz in the profile",
                    ErrorKind::configuration);
    }
    if (!(channel.delay_ms >= 0.0) || !std::isfinite(channel.delay_ms)) {
        throw Error(where + ": channel delay " + format_significant(channel.delay_ms) +
                        " ms is invalid; a delay is 0 ms or more",
                    ErrorKind::configuration);
    }
    if (!(profile.latency_ms >= 0.0) || !std::isfinite(profile.latency_ms)) {
        throw Error(where + ": latency " + format_significant(profile.latency_ms) +
                        " ms is invalid; give latency_ms of 0 ms or more",
                    ErrorKind::configuration);
    }
    if (!std::isfinite(channel.gain_db)) {
        throw Error(where + ": channel gain is not a finite number of dB", ErrorKind::configuration);
    }
}

double linear_gain(const ChannelState& channel) {
    const double polarity = channel.polarity_inverted ? -1.0 : 1.0;
    return polarity * amplitude_from_db(channel.gain_db);
}

}  // namespace

std::size_t channel_delay_samples(const ChannelState& channel, const DeviceProfile& profile) {
    check_channel(channel, profile);
    const auto delay = static_cast<std::size_t>(std::llround(samples_from_ms(channel.delay_ms, profile.sample_rate_hz)));
    const auto latency = static_cast<std::size_t>(std::llround(samples_from_ms(profile.latency_ms, profile.sample_rate_hz)));
    return delay + latency;
}

std::vector<float> apply_channel_state(std::span<const float> input, const ChannelState& channel,
                                       const DeviceProfile& profile) {
    const std::size_t delay = channel_delay_samples(channel, profile);
    const auto biquads = enabled_biquads(channel, profile);
    std::vector<float> output(input.size(), 0.0f);
    if (channel.mute || delay >= input.size()) {
        return output;
    }

    // Transposed direct form II: y = b0·x + s1; s1 = b1·x − a1·y + s2; s2 = b2·x − a2·y.
    std::vector<double> s1(biquads.size(), 0.0);
    std::vector<double> s2(biquads.size(), 0.0);
    const double gain = linear_gain(channel);
    const std::size_t processed = input.size() - delay;  // later samples would land past the end
    for (std::size_t n = 0; n < processed; ++n) {
        double x = input[n];
        for (std::size_t i = 0; i < biquads.size(); ++i) {
            const auto& c = biquads[i];
            const double y = c.b0 * x + s1[i];
            s1[i] = c.b1 * x - c.a1 * y + s2[i];
            s2[i] = c.b2 * x - c.a2 * y;
            x = y;
        }
        output[n + delay] = static_cast<float>(gain * x);
    }
    return output;
}

std::vector<std::complex<double>> channel_response(const ChannelState& channel, const DeviceProfile& profile,
                                                   std::span<const double> freq_hz) {
    const std::size_t delay = channel_delay_samples(channel, profile);
    const auto biquads = enabled_biquads(channel, profile);
    const double gain = channel.mute ? 0.0 : linear_gain(channel);

    std::vector<std::complex<double>> response(freq_hz.size());
    for (std::size_t k = 0; k < freq_hz.size(); ++k) {
        std::complex<double> value = gain;
        for (const auto& biquad : biquads) {
            value *= analysis::biquad_response(biquad, freq_hz[k], profile.sample_rate_hz);
        }
        const double phase_rad = -2.0 * pi * freq_hz[k] * static_cast<double>(delay) / profile.sample_rate_hz;
        response[k] = value * std::polar(1.0, phase_rad);
    }
    return response;
}

std::vector<float> channel_impulse_response(const ChannelState& channel, const DeviceProfile& profile,
                                            std::size_t frames) {
    std::vector<float> impulse(frames, 0.0f);
    if (frames > 0) {
        impulse[0] = 1.0f;
    }
    return apply_channel_state(impulse, channel, profile);
}

}  // namespace linetune::simulation
