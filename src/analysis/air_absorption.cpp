#include "linetune/analysis/air_absorption.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <cmath>
#include <cstddef>
#include <string>

// Atmospheric absorption of sound after ISO 9613-1:1993, "Acoustics — Attenuation of sound
// during propagation outdoors — Part 1: Calculation of the absorption of sound by the
// atmosphere". Symbols follow the standard:
//
//   T     air temperature in K                    T0  = 293.15 K (reference temperature)
//   p_a   static air pressure in kPa              T01 = 273.16 K (triple point of water)
//   h_r   relative humidity in %                  p_r = 101.325 kPa (reference pressure)
//   f     frequency in Hz
//
// Molar concentration of water vapour in %, from the relative humidity through the saturation
// vapour pressure formula that the standard gives:
//
//   C           = −6.8346 · (T01 / T)^1.261 + 4.6151
//   p_sat / p_r = 10^C
//   h           = h_r · (p_sat / p_r) / (p_a / p_r)
//
// Relaxation frequencies of oxygen and nitrogen in Hz:
//
//   f_rO = (p_a / p_r) · (24 + 4.04·10⁴ · h · (0.02 + h) / (0.391 + h))
//   f_rN = (p_a / p_r) · (T / T0)^(−1/2) · (9 + 280 · h · exp(−4.170 · ((T / T0)^(−1/3) − 1)))
//
// Pure-tone attenuation coefficient in dB/m: classical and rotational absorption, then the
// vibrational relaxation of oxygen and of nitrogen:
//
//   α = 8.686 · f² · [ 1.84·10⁻¹¹ · (p_a / p_r)⁻¹ · (T / T0)^(1/2)
//                     + (T / T0)^(−5/2) · ( 0.01275 · exp(−2239.1 / T) / (f_rO + f² / f_rO)
//                                        + 0.1068  · exp(−3352.0 / T) / (f_rN + f² / f_rN) ) ]
//
// The factor 8.686 ≈ 20 / ln 10 converts nepers to decibels. It stays rounded as the standard
// writes it, so that the standard's tables are reproduced. The level falls by α·d over d metres.

namespace linetune::analysis {
namespace {

constexpr double reference_temperature_k = 293.15;   // T0
constexpr double triple_point_temperature_k = 273.16;  // T01
constexpr double reference_pressure_kpa = 101.325;    // p_r
constexpr double celsius_zero_k = 273.15;

// Ranges accepted by validate(). The temperature range is the one ISO 9613-1 tabulates. The
// standard tabulates 10 to 100 % relative humidity; below 10 % the same formulas are used
// outside its tables. 50 to 110 kPa covers venues from below sea level up to about 5 km
// altitude (an estimate from the standard atmosphere) in any weather.
constexpr double min_temperature_c = -20.0;
constexpr double max_temperature_c = 50.0;
constexpr double min_humidity_percent = 0.0;
constexpr double max_humidity_percent = 100.0;
constexpr double min_pressure_kpa = 50.0;
constexpr double max_pressure_kpa = 110.0;

// Everything in α that depends on the air and not on the frequency, computed once per
// conditions so that a curve costs a few multiplications and two divisions per frequency.
struct AbsorptionTerms {
    double classical_per_hz2 = 0.0;  // 1.84·10⁻¹¹ · (p_a / p_r)⁻¹ · (T / T0)^(1/2)
    double oxygen_strength = 0.0;    // (T / T0)^(−5/2) · 0.01275 · exp(−2239.1 / T)
    double nitrogen_strength = 0.0;  // (T / T0)^(−5/2) · 0.1068 · exp(−3352.0 / T)
    double oxygen_relaxation_hz = 0.0;
    double nitrogen_relaxation_hz = 0.0;
};

[[noreturn]] void reject_condition(const std::string& field, double value, const char* unit,
                                   double min_value, double max_value, const std::string& advice) {
    throw Error("invalid atmospheric conditions: " + field + " " + format_significant(value) +
                    " " + unit + " is outside " + format_significant(min_value) + " to " +
                    format_significant(max_value) + " " + unit + ". " + advice,
                ErrorKind::configuration);
}

void require_valid_frequency(double freq_hz) {
    if (freq_hz >= 0.0 && std::isfinite(freq_hz)) {
        return;
    }
    throw Error("frequency " + format_significant(freq_hz) +
                    " Hz is invalid for air absorption: it must be a finite value of 0 Hz or more",
                ErrorKind::input);
}

void require_valid_distance(double distance_m) {
    if (distance_m >= 0.0 && std::isfinite(distance_m)) {
        return;
    }
    throw Error("distance " + format_significant(distance_m) +
                    " m is invalid for air absorption: it must be a finite value of 0 m or more",
                ErrorKind::configuration);
}

double water_vapour_molar_concentration_percent(const AtmosphericConditions& conditions) {
    const double temperature_k = conditions.temperature_c + celsius_zero_k;
    const double exponent =
        -6.8346 * std::pow(triple_point_temperature_k / temperature_k, 1.261) + 4.6151;
    const double saturation_pressure_ratio = std::pow(10.0, exponent);
    const double pressure_ratio = conditions.pressure_kpa / reference_pressure_kpa;
    return conditions.humidity_percent * saturation_pressure_ratio / pressure_ratio;
}

AbsorptionTerms absorption_terms(const AtmosphericConditions& conditions) {
    const double temperature_k = conditions.temperature_c + celsius_zero_k;
    const double temperature_ratio = temperature_k / reference_temperature_k;
    const double pressure_ratio = conditions.pressure_kpa / reference_pressure_kpa;
    const double h = water_vapour_molar_concentration_percent(conditions);

    AbsorptionTerms terms;
    terms.oxygen_relaxation_hz = pressure_ratio * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h));
    terms.nitrogen_relaxation_hz =
        pressure_ratio / std::sqrt(temperature_ratio) *
        (9.0 + 280.0 * h * std::exp(-4.170 * (std::pow(temperature_ratio, -1.0 / 3.0) - 1.0)));

    const double relaxation_scale = std::pow(temperature_ratio, -2.5);
    terms.classical_per_hz2 = 1.84e-11 / pressure_ratio * std::sqrt(temperature_ratio);
    terms.oxygen_strength = relaxation_scale * 0.01275 * std::exp(-2239.1 / temperature_k);
    terms.nitrogen_strength = relaxation_scale * 0.1068 * std::exp(-3352.0 / temperature_k);
    return terms;
}

double attenuation_coefficient_db_per_m(double freq_hz, const AbsorptionTerms& terms) {
    const double f2 = freq_hz * freq_hz;
    const double oxygen = terms.oxygen_strength /
                          (terms.oxygen_relaxation_hz + f2 / terms.oxygen_relaxation_hz);
    const double nitrogen = terms.nitrogen_strength /
                            (terms.nitrogen_relaxation_hz + f2 / terms.nitrogen_relaxation_hz);
    return 8.686 * f2 * (terms.classical_per_hz2 + oxygen + nitrogen);
}

}  // namespace

void validate(const AtmosphericConditions& conditions) {
    if (!(conditions.temperature_c >= min_temperature_c &&
          conditions.temperature_c <= max_temperature_c)) {
        reject_condition("temperature_c", conditions.temperature_c, "°C", min_temperature_c,
                         max_temperature_c, "Enter the air temperature measured at the venue.");
    }
    if (!(conditions.humidity_percent >= min_humidity_percent &&
          conditions.humidity_percent <= max_humidity_percent)) {
        reject_condition("humidity_percent", conditions.humidity_percent, "%",
                         min_humidity_percent, max_humidity_percent,
                         "Enter the relative humidity measured at the venue.");
    }
    if (!(conditions.pressure_kpa >= min_pressure_kpa &&
          conditions.pressure_kpa <= max_pressure_kpa)) {
        reject_condition("pressure_kpa", conditions.pressure_kpa, "kPa", min_pressure_kpa,
                         max_pressure_kpa,
                         "Enter the station pressure at the venue (101.325 kPa at sea level).");
    }
}

double air_absorption_db_per_m(double freq_hz, const AtmosphericConditions& conditions) {
    validate(conditions);
    require_valid_frequency(freq_hz);
    return attenuation_coefficient_db_per_m(freq_hz, absorption_terms(conditions));
}

double air_absorption_db(double freq_hz, double distance_m, const AtmosphericConditions& conditions) {
    require_valid_distance(distance_m);
    return air_absorption_db_per_m(freq_hz, conditions) * distance_m;
}

std::vector<double> air_absorption_curve_db(std::span<const double> freq_hz, double distance_m,
                                            const AtmosphericConditions& conditions) {
    validate(conditions);
    require_valid_distance(distance_m);
    const AbsorptionTerms terms = absorption_terms(conditions);

    std::vector<double> magnitude_db(freq_hz.size());
    for (std::size_t i = 0; i < freq_hz.size(); ++i) {
        try {
            require_valid_frequency(freq_hz[i]);
        } catch (const Error& error) {
            throw error.with_context("frequency point " + std::to_string(i));
        }
        magnitude_db[i] = -(attenuation_coefficient_db_per_m(freq_hz[i], terms) * distance_m);
    }
    return magnitude_db;
}

std::vector<double> air_absorption_change_curve_db(std::span<const double> freq_hz,
                                                   double distance_m,
                                                   const AtmosphericConditions& reference,
                                                   const AtmosphericConditions& current) {
    try {
        validate(reference);
    } catch (const Error& error) {
        throw error.with_context("reference conditions");
    }
    try {
        validate(current);
    } catch (const Error& error) {
        throw error.with_context("current conditions");
    }

    std::vector<double> change_db = air_absorption_curve_db(freq_hz, distance_m, current);
    const std::vector<double> reference_db = air_absorption_curve_db(freq_hz, distance_m, reference);
    for (std::size_t i = 0; i < change_db.size(); ++i) {
        change_db[i] -= reference_db[i];
    }
    return change_db;
}

}  // namespace linetune::analysis
