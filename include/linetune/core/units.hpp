#pragma once

#include <cmath>

namespace linetune {

/// Smallest amplitude or power treated as non-zero when converting to dB; it maps to -300 dB
/// instead of -inf so that JSON output and averages stay finite.
inline constexpr double silence_floor_linear = 1e-15;

/// 20·log10(|amplitude|), clamped at the silence floor.
inline double db_from_amplitude(double amplitude) {
    return 20.0 * std::log10(std::fmax(std::fabs(amplitude), silence_floor_linear));
}

/// 10·log10(power), clamped at the silence floor.
inline double db_from_power(double power) {
    return 10.0 * std::log10(std::fmax(power, silence_floor_linear * silence_floor_linear));
}

/// 10^(gain_db / 20).
inline double amplitude_from_db(double gain_db) { return std::pow(10.0, gain_db / 20.0); }

/// 10^(level_db / 10).
inline double power_from_db(double level_db) { return std::pow(10.0, level_db / 10.0); }

inline double ms_from_samples(double samples, double sample_rate_hz) {
    return 1000.0 * samples / sample_rate_hz;
}

inline double samples_from_ms(double time_ms, double sample_rate_hz) {
    return time_ms * sample_rate_hz / 1000.0;
}

/// Speed of sound in dry air, c = 331.3 · sqrt(1 + T / 273.15) m/s (ISO 9613-1 uses the same
/// ideal-gas relation); humidity changes it by under 0.4 % and is ignored here.
inline double speed_of_sound_m_per_s(double temperature_c) {
    return 331.3 * std::sqrt(1.0 + temperature_c / 273.15);
}

inline constexpr double pi = 3.14159265358979323846;

}  // namespace linetune
