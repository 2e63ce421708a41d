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

}  // namespace linetune::control
