#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

namespace linetune::control {

/// Throws Error (configuration) when the profile has no such channel or band: channel above
/// channel_count, band above eq.max_bands, or a band parameter with band 0.
void require_parameter_in_profile(const DeviceProfile& profile, const ParameterId& id);

/// The value a device with these limits holds after the set: a number rounded to the nearest
/// step of its range (min + k * step), a flag or filter kind unchanged. Throws Error
/// (configuration) with the reason for a number outside its range (beyond float32 rounding), a
/// filter kind the EQ bank does not offer, or a value of the wrong type.
ParameterValue quantise_for_device(const ChannelLimits& limits, const ParameterId& id, const ParameterValue& value);

/// Normalised 0..1 scales of the Behringer X32 / Midas M32 OSC protocol, by parameter. Each pair
/// maps a fraction to the value in its unit and back, and the inverse clamps to 0..1. Where the
/// console has a known number of steps, both directions round to that grid. The scales follow
/// P.-G. Maillot's unofficial X32/M32 protocol document and are not checked against a console.
namespace x32 {

/// EQ frequency: Hz = 20 * 1000^x, in 201 steps (x = k / 200), 20 Hz to 20 kHz.
double eq_frequency_hz(double fraction);
double eq_frequency_fraction(double freq_hz);

/// EQ gain: dB = -15 + 30 x, -15 to +15 dB.
double eq_gain_db(double fraction);
double eq_gain_fraction(double gain_db);

/// EQ Q: Q = 10 * 0.03^x, in 72 steps (x = k / 71), Q 10 at 0 down to 0.3 at 1.
double eq_q(double fraction);
double eq_q_fraction(double q);

/// Fader: a four-segment pseudo-log law from -90 dB (silence) at 0 through 0 dB at 0.75 to
/// +10 dB at 1.
double fader_db(double fraction);
double fader_fraction(double gain_db);

/// Delay time: linear, 0.3 ms at 0 to 500 ms at 1.
double delay_ms(double fraction);
double delay_fraction(double delay_ms);

}  // namespace x32

}  // namespace linetune::control
