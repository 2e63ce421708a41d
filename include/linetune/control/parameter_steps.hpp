#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

namespace linetune::control {

/// Step of a numeric parameter on the channel (0 = continuous); 0 for mute, polarity, band
/// enable and band type.
double step_of(ParameterKind kind, const ChannelLimits& limits);

/// The value on the step grid min + k·step nearest to value; value itself when step is 0.
double round_to_step(double value, double min, double step);

/// The largest value on the step grid min + k·step that is not above value; value itself when
/// step is 0.
double floor_to_step(double value, double min, double step);

/// Largest difference between a sent number and its read-back that still counts as the same
/// value: half the device's step (the device may quantise to its nearest step) plus float32
/// precision, because devices hold parameters as 32-bit floats.
double readback_tolerance(ParameterKind kind, double expected, const ChannelLimits& limits);

/// True when the read-back value equals the expected one: numbers within readback_tolerance,
/// flags and filter kinds exactly.
bool values_match(ParameterKind kind, const ParameterValue& expected, const ParameterValue& actual,
                  const ChannelLimits& limits);

}  // namespace linetune::control
