#include "linetune/analysis/air_absorption.hpp"
#include "linetune/analysis/arrival.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include "simulation_fixtures.hpp"
#include "test_support.hpp"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace linetune;
using simulation::ListeningPosition;
using simulation::LoudspeakerModel;
using simulation::RigModel;
using simulation::RigTransferFunctions;
using simulation::TransferFunctionOptions;

constexpr double rate_hz = 48000.0;

/// Returns an ideal point source: no filters, 0 dB at 1 m, no off-axis loss.
LoudspeakerModel neutral_loudspeaker() {
    LoudspeakerModel loudspeaker;
    loudspeaker.omnidirectional = true;
    return loudspeaker;
}

/// Makes a rig of one source at (0, 0, 2) aimed along +y, with positions "p0", "p1", ... on its
/// axis at the given distances.
RigModel axis_rig(const LoudspeakerModel& loudspeaker, const std::vector<double>& distances_m) {
    RigModel rig = simulation::builtin_rig();
    rig.name = "axis";
    rig.sources = {{"zone", {0.0, 0.0, 2.0}, {0.0, 100.0, 2.0}, loudspeaker}};
    rig.microphones.clear();
    rig.probes.clear();
    for (std::size_t i = 0; i < distances_m.size(); ++i) {
        rig.microphones.push_back({"p" + std::to_string(i), {0.0, distances_m[i], 2.0}, {{"zone", 1.0}}});
    }
    return rig;
}

TransferFunctionOptions direct_sound_only() {
    TransferFunctionOptions options;
    options.room_reflections = false;
    return options;
}

double level_db(std::span<const float> ir, double freq_hz) {
    return 20.0 * std::log10(std::abs(test::dtft(ir, freq_hz, rate_hz)));
}

double energy(std::span<const float> x, std::size_t begin, std::size_t end) {
    double sum = 0.0;
    for (std::size_t n = begin; n < std::min(end, x.size()); ++n) {
        sum += static_cast<double>(x[n]) * x[n];
    }
    return sum;
}

}  // namespace

TEST_SUITE("transfer functions") {

TEST_CASE("direct sound arrives at distance over c within 0.05 samples") {
    const std::vector<double> distances_m{3.3, 10.7, 25.13, 37.9};
    const RigTransferFunctions rig(axis_rig(neutral_loudspeaker(), distances_m), direct_sound_only());
    const double c = speed_of_sound_m_per_s(20.0);
    for (std::size_t i = 0; i < distances_m.size(); ++i) {
        const auto name = "p" + std::to_string(i);
        const double expected_samples = distances_m[i] / c * rate_hz;
        CHECK(std::fabs(rig.arrival_s("zone", name) * rate_hz - expected_samples) < 1e-9);
        const auto arrival = analysis::estimate_arrival(rig.transfer_function("zone", name), rate_hz);
        INFO("distance " << distances_m[i] << " m");
        CHECK(std::fabs(arrival.arrival_sample - expected_samples) < 0.05);
    }
}

TEST_CASE("direct sound falls 6 dB per doubling of distance") {
    const std::vector<double> distances_m{4.0, 8.0, 16.0, 32.0};
    const RigTransferFunctions rig(axis_rig(neutral_loudspeaker(), distances_m), direct_sound_only());
    const analysis::AtmosphericConditions air{20.0, 50.0, 101.325};
    for (std::size_t i = 0; i + 1 < distances_m.size(); ++i) {
        const double near_db = level_db(rig.transfer_function("zone", "p" + std::to_string(i)), 1000.0);
        const double far_db = level_db(rig.transfer_function("zone", "p" + std::to_string(i + 1)), 1000.0);
        // The extra air between r and 2r absorbs α·r on top of the spreading loss.
        const double spreading_db = near_db - far_db - analysis::air_absorption_db(1000.0, distances_m[i], air);
        INFO("from " << distances_m[i] << " m");
        CHECK(std::fabs(spreading_db - 20.0 * std::log10(2.0)) < 0.05);
    }
    // 0 dB at 1 m: the level at 4 m is −12.04 dB less the air over 4 m.
    const double at_4_m_db = level_db(rig.transfer_function("zone", "p0"), 1000.0);
    CHECK(std::fabs(at_4_m_db + 20.0 * std::log10(4.0) + analysis::air_absorption_db(1000.0, 4.0, air)) < 0.05);
}

TEST_CASE("air absorption over the long throw matches ISO 9613-1 within 0.5 dB") {
    // The built-in long-throw zone's model, on its axis at 2 m and at the distance of the
    // farthest microphone it covers: filters and sensitivity cancel in the difference.
    const auto builtin = simulation::builtin_rig();
    const auto& long_throw = builtin.sources.front();
    REQUIRE(long_throw.zone == "L-long");
    const RigTransferFunctions builtin_direct(builtin, direct_sound_only());
    const double long_m = builtin_direct.distance_m("L-long", "back-left");
    MESSAGE("long-throw distance: " << long_m << " m");
    CHECK(long_m > 30.0);

    auto rig = axis_rig(long_throw.loudspeaker, {2.0, long_m});
    const RigTransferFunctions transfer_functions(rig, direct_sound_only());
    const analysis::AtmosphericConditions air{builtin.temperature_c, builtin.humidity_percent, 101.325};
    for (const double f : {8000.0, 9000.0, 10000.0}) {
        const double loss_db = level_db(transfer_functions.transfer_function("zone", "p0"), f) -
                               level_db(transfer_functions.transfer_function("zone", "p1"), f);
        const double air_db = loss_db - 20.0 * std::log10(long_m / 2.0);
        const double expected_db = analysis::air_absorption_db(f, long_m - 2.0, air);
        INFO(f << " Hz: modelled " << air_db << " dB, ISO 9613-1 " << expected_db << " dB");
        CHECK(expected_db > 3.0);  // the loss the EQ has to make up is real
        CHECK(std::fabs(air_db - expected_db) < 0.5);
    }
}

TEST_CASE("reflections sit at the diffuse level of the critical distance") {
    // A neutral source in the room. Diffuse reverberation has the same energy everywhere: that of
    // the direct sound at the critical distance r_c = √(Q·0.161·V / (16π·T60)), i.e. 1/r_c² for
    // a unit impulse at 1 m. The tail is kept for 2.9 s, nearly all of the shortest measured
    // response, so almost none of its energy is cut.
    auto loudspeaker = neutral_loudspeaker();
    loudspeaker.directivity_factor = 10.0;
    const std::vector<double> distances_m{5.0, 12.0, 30.0};
    auto rig = axis_rig(loudspeaker, distances_m);
    rig.room.tail_s = 2.9;
    rig.room.fade_out_s = 0.0;
    const RigTransferFunctions with_room(rig);
    const double critical_m = std::sqrt(10.0 * 0.161 * rig.room.volume_m3 / rig.room.reverberation_time_s / (16.0 * pi));
    MESSAGE("critical distance " << critical_m << " m");

    for (std::size_t i = 0; i < distances_m.size(); ++i) {
        const auto name = "p" + std::to_string(i);
        const auto ir = with_room.transfer_function("zone", name);
        const auto arrival = static_cast<std::size_t>(std::llround(with_room.arrival_s("zone", name) * rate_hz));
        const std::size_t reflections_start = arrival + 72;  // 1.5 ms: where the model lets them in
        const double reflections = energy(ir, reflections_start, ir.size());
        const double level_db = 10.0 * std::log10(reflections * critical_m * critical_m);
        INFO(distances_m[i] << " m: reflections " << level_db << " dB from the diffuse level");
        CHECK(std::fabs(level_db) < 0.5);
    }
}

TEST_CASE("built-in transfer functions are silent before the modelled arrival") {
    const auto& transfer_functions = test::builtin_transfer_functions();
    const auto& rig = transfer_functions.rig();
    for (const auto& source : rig.sources) {
        for (const auto* list : {&rig.microphones, &rig.probes}) {
            for (const auto& position : *list) {
                const auto ir = transfer_functions.transfer_function(source.zone, position.name);
                const double arrival_samples = transfer_functions.arrival_s(source.zone, position.name) * rate_hz;
                const auto early_end = static_cast<std::size_t>(arrival_samples - 48.0);  // 1 ms before
                const double early_db = 10.0 * std::log10(energy(ir, 0, early_end) / energy(ir, 0, ir.size()) + 1e-30);
                INFO(source.zone << " at " << position.name << ": " << early_db << " dB before the arrival");
                CHECK(early_db < -60.0);
            }
        }
    }
}

TEST_CASE("unknown zone or position is a configuration error") {
    const auto& transfer_functions = test::builtin_transfer_functions();
    const auto zone_message = test::error_message([&] { (void)transfer_functions.transfer_function("R-long", "back-left"); });
    CHECK(zone_message.find("zone 'R-long' has no source") != std::string::npos);
    const auto position_message = test::error_message([&] { (void)transfer_functions.arrival_s("subs", "FOH"); });
    CHECK(position_message.find("position 'FOH' is neither a microphone nor a probe") != std::string::npos);
    CHECK(transfer_functions.has_position("probe-mid"));
    CHECK_FALSE(transfer_functions.has_zone("R-long"));
}

TEST_CASE("missing room response names the file and the data folder variable") {
    TransferFunctionOptions options;
    options.data_dir = test::scratch_dir("simulation-empty-data");
    try {
        const RigTransferFunctions transfer_functions(simulation::builtin_rig(), options);
        FAIL("no error");
    } catch (const Error& error) {
        const std::string message = error.what();
        CHECK(error.kind() == ErrorKind::configuration);
        CHECK(message.find("warehouse/omni-7-4.wav") != std::string::npos);
        CHECK(message.find("LINETUNE_SIMULATION_DATA_DIR") != std::string::npos);
    }
}

TEST_CASE("position at the source is rejected") {
    const auto message = test::error_message([] {
        const RigTransferFunctions rig(axis_rig(neutral_loudspeaker(), {0.2}), direct_sound_only());
    });
    CHECK(message.find("closer than 0.5 m") != std::string::npos);
}

}  // TEST_SUITE
