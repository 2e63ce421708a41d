#pragma once

#include "linetune/analysis/air_absorption.hpp"
#include "linetune/core/frequency_response.hpp"

#include <string_view>

namespace linetune::correction {

/// Length of the direct sound's path in metres from its arrival time: c(T) · arrival, with c from
/// the temperature the measurement was taken at. The arrival includes the amplifier's latency,
/// which lengthens the path by 0.34 m per millisecond; at 50 m that changes the 8 kHz air
/// absorption by under 0.1 dB.
double path_length_m(double arrival_ms, double temperature_c);

/// The response as it would be measured in the `current` air instead of the `measured` air: each
/// point changes by the difference in ISO 9613-1 air absorption over `distance_m`
/// (analysis::air_absorption_change_curve_db). Phase is kept as it was.
FrequencyResponse response_in_weather(const FrequencyResponse& measured, double distance_m,
                                      const analysis::AtmosphericConditions& measured_air,
                                      const analysis::AtmosphericConditions& current_air);

/// The arrival time after the speed of sound changes from c(measured) to c(current) over the same
/// path: arrival · c(measured) / c(current). Latency in the arrival is scaled too (see path_length_m).
double arrival_in_weather_ms(double arrival_ms, double measured_temperature_c, double current_temperature_c);

/// Reads "T,RH" (°C and % relative humidity, e.g. "28,35"). Throws a configuration Error naming
/// the text and the valid ranges for anything else.
analysis::AtmosphericConditions parse_weather(std::string_view text);

}  // namespace linetune::correction
