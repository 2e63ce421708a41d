#include "linetune/correction/weather.hpp"
#include "linetune/analysis/response.hpp"
#include "linetune/core/units.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

// Weather compensation without measuring again: a zone measured in one air is predicted in
// another, and the prediction is checked against the simulated rig built in that other air.

namespace {

using namespace linetune;

// The acceptance: a change of 10 °C and 30 % relative humidity compensated within 1 dB at 8 kHz
// at 50 m.
constexpr double compensation_tolerance_db = 1.0;
constexpr double judged_freq_hz = 8000.0;
constexpr double listener_distance_m = 50.0;

// A long-throw box 50 m from a listener, direct sound only (the room's reflections do not change
// with the air in the model, so they would only blur the comparison).
simulation::RigModel long_throw_rig(double temperature_c, double humidity_percent) {
    simulation::RigModel rig;
    rig.name = "weather";
    rig.temperature_c = temperature_c;
    rig.humidity_percent = humidity_percent;
    simulation::SourceModel source;
    source.zone = "long";
    source.position_m = {0.0, 0.0, 10.0};
    source.aim_m = {0.0, 50.0, 1.2};
    source.loudspeaker.filters = {{analysis::FilterType::high_pass, 60.0, 0.0, 0.7071}};
    source.loudspeaker.beamwidth_1khz_deg = 60.0;
    source.loudspeaker.min_beamwidth_deg = 25.0;
    source.loudspeaker.directivity_factor = 12.0;
    rig.sources.push_back(source);
    const double y_m = std::sqrt(listener_distance_m * listener_distance_m - 8.8 * 8.8);
    rig.microphones.push_back({"far", {0.0, y_m, 1.2}, {{"long", 1.0}}});
    return rig;
}

struct Measured {
    FrequencyResponse response;
    double arrival_ms = 0.0;
};

Measured measure(const simulation::RigModel& model) {
    simulation::TransferFunctionOptions options;
    options.room_reflections = false;
    const simulation::RigTransferFunctions rig(model, options);
    analysis::ResponseOptions response_options;
    response_options.start_freq_hz = 20.0;
    response_options.end_freq_hz = 20000.0;
    response_options.points_per_octave = 24.0;
    response_options.smoothing = {analysis::SmoothingKind::fractional_octave, 6.0};
    const double arrival_s = rig.arrival_s("long", "far");
    return {analysis::compute_frequency_response(rig.transfer_function("long", "far"), rig.sample_rate_hz(),
                                                 arrival_s * rig.sample_rate_hz(), response_options),
            1000.0 * arrival_s};
}

}  // namespace

TEST_SUITE("weather") {

TEST_CASE("weather change is compensated within 1 dB at 8 kHz at 50 m") {
    const analysis::AtmosphericConditions measured_air{20.0, 50.0};
    const analysis::AtmosphericConditions current_air{30.0, 20.0};
    const Measured before = measure(long_throw_rig(measured_air.temperature_c, measured_air.humidity_percent));
    const Measured after = measure(long_throw_rig(current_air.temperature_c, current_air.humidity_percent));

    const double distance_m = correction::path_length_m(before.arrival_ms, measured_air.temperature_c);
    CHECK(distance_m == doctest::Approx(listener_distance_m).epsilon(0.01));
    const auto predicted = correction::response_in_weather(before.response, distance_m, measured_air, current_air);

    const double measured_db = interpolate_magnitude_db(before.response, judged_freq_hz);
    const double predicted_db = interpolate_magnitude_db(predicted, judged_freq_hz);
    const double actual_db = interpolate_magnitude_db(after.response, judged_freq_hz);
    MESSAGE("8 kHz at 50 m: " << measured_db << " dB measured, " << actual_db << " dB in the new air, predicted "
                              << predicted_db << " dB");
    // The change is large enough that leaving it uncompensated fails the tolerance.
    CHECK(std::fabs(actual_db - measured_db) > 2.0 * compensation_tolerance_db);
    CHECK(std::fabs(predicted_db - actual_db) <= compensation_tolerance_db);
}

TEST_CASE("arrival follows the speed of sound in the new air") {
    const Measured before = measure(long_throw_rig(20.0, 50.0));
    const Measured after = measure(long_throw_rig(30.0, 20.0));
    // Within a hundredth of a millisecond, 0.5 samples at 48 kHz.
    CHECK(std::fabs(correction::arrival_in_weather_ms(before.arrival_ms, 20.0, 30.0) - after.arrival_ms) < 0.01);
}

TEST_CASE("weather text is read as temperature and humidity") {
    const auto conditions = correction::parse_weather("28.5,35");
    CHECK(conditions.temperature_c == 28.5);
    CHECK(conditions.humidity_percent == 35.0);
    for (const char* text : {"28", "28;35", "hot,35", "28,35,1", "28,135", "80,35", ""}) {
        CAPTURE(text);
        CHECK(test::error_message([&] { (void)correction::parse_weather(text); }).find("--weather") != std::string::npos);
    }
}

}
