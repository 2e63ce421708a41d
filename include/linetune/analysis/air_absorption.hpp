#pragma once

#include <span>
#include <vector>

namespace linetune::analysis {

/// State of the air that sound crosses: temperature, relative humidity and static pressure.
struct AtmosphericConditions {
    double temperature_c = 20.0;      ///< air temperature, valid from -20 to 50 °C
    double humidity_percent = 50.0;   ///< relative humidity, valid from 0 to 100 %
    double pressure_kpa = 101.325;    ///< static air pressure, valid from 50 to 110 kPa
};

/// Checks every field and throws a configuration Error naming the field, its value and the
/// valid range.
void validate(const AtmosphericConditions& conditions);

/// Pure-tone attenuation coefficient α of ISO 9613-1:1993 in dB/m. Throws a configuration Error
/// for invalid conditions and an input Error for a negative or non-finite frequency.
double air_absorption_db_per_m(double freq_hz, const AtmosphericConditions& conditions);

/// Attenuation α·d in dB (positive) of a pure tone over `distance_m` of air. Throws a
/// configuration Error for a negative or non-finite distance.
double air_absorption_db(double freq_hz, double distance_m, const AtmosphericConditions& conditions);

/// Magnitude in dB (zero or negative) of the response of `distance_m` of air at each frequency.
std::vector<double> air_absorption_curve_db(std::span<const double> freq_hz, double distance_m,
                                            const AtmosphericConditions& conditions);

/// Change in dB of that magnitude at each frequency, curve(current) − curve(reference), when the
/// air goes from `reference` to `current` conditions. It is negative where `current` absorbs more.
std::vector<double> air_absorption_change_curve_db(std::span<const double> freq_hz,
                                                   double distance_m,
                                                   const AtmosphericConditions& reference,
                                                   const AtmosphericConditions& current);

}  // namespace linetune::analysis
