#include "linetune/correction/weather.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <charconv>
#include <string>

// Weather: the high-frequency correction of long-throw zones depends on the air. ISO 9613-1
// absorption α(f, T, RH) in dB/m grows with frequency and, at 8 kHz over 50 m, changes by several
// dB between a cool humid hall and a warm dry one. A response measured in air A at distance d is
// turned into the one air B would give by adding −(α_B − α_A)·d at each frequency, and the EQ is
// fitted again on it. Nothing else in the response depends on the air to first order: the
// loudspeaker and the room stay as measured.

namespace linetune::correction {

double path_length_m(double arrival_ms, double temperature_c) {
    return speed_of_sound_m_per_s(temperature_c) * arrival_ms / 1000.0;
}

FrequencyResponse response_in_weather(const FrequencyResponse& measured, double distance_m,
                                      const analysis::AtmosphericConditions& measured_air,
                                      const analysis::AtmosphericConditions& current_air) {
    FrequencyResponse changed = measured;
    const auto change_db = analysis::air_absorption_change_curve_db(measured.freq_hz, distance_m, measured_air, current_air);
    for (std::size_t i = 0; i < changed.magnitude_db.size(); ++i) {
        changed.magnitude_db[i] += change_db[i];
    }
    return changed;
}

double arrival_in_weather_ms(double arrival_ms, double measured_temperature_c, double current_temperature_c) {
    return arrival_ms * speed_of_sound_m_per_s(measured_temperature_c) / speed_of_sound_m_per_s(current_temperature_c);
}

analysis::AtmosphericConditions parse_weather(std::string_view text) {
    const auto invalid = [&] {
        return Error("--weather '" + std::string(text) +
                         "' is invalid; give the air temperature in °C and the relative humidity in % as T,RH "
                         "(e.g. 28,35), from -20 to 50 °C and 0 to 100 %",
                     ErrorKind::configuration);
    };
    const auto comma = text.find(',');
    if (comma == std::string_view::npos) {
        throw invalid();
    }
    const auto parse = [&](std::string_view part) {
        double value = 0.0;
        const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (error != std::errc{} || end != part.data() + part.size() || part.empty()) {
            throw invalid();
        }
        return value;
    };
    analysis::AtmosphericConditions conditions;
    conditions.temperature_c = parse(text.substr(0, comma));
    conditions.humidity_percent = parse(text.substr(comma + 1));
    try {
        analysis::validate(conditions);
    } catch (const Error&) {
        throw invalid();
    }
    return conditions;
}

}  // namespace linetune::correction
