#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include "simulation_fixtures.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace {

using namespace linetune;

const simulation::ListeningPosition* find_position(const std::vector<simulation::ListeningPosition>& list,
                                                   const std::string& name) {
    const auto found = std::find_if(list.begin(), list.end(), [&](const auto& p) { return p.name == name; });
    return found == list.end() ? nullptr : &*found;
}

}  // namespace

TEST_SUITE("built-in rig") {

TEST_CASE("built-in venue JSON is read by read_venue_file") {
    const Venue& venue = test::builtin_venue();
    CHECK(venue.name == "builtin-arena");
    REQUIRE(venue.amplifiers.size() == 1);
    CHECK(venue.amplifiers[0].name == "amp-1");
    CHECK(venue.amplifiers[0].profile_name == "virtual-amp");
    CHECK(venue.amplifiers[0].host == "127.0.0.1");
    CHECK(venue.amplifiers[0].port == test::builtin_test_port);
    CHECK(venue.audio_interface.sample_rate_hz == 48000.0);
    REQUIRE(venue.audio_interface.loopback.has_value());
    CHECK(venue.audio_interface.loopback->output == 8);
    CHECK(venue.audio_interface.loopback->input == 8);
    CHECK(venue.temperature_c == 20.0);
    REQUIRE(venue.humidity_percent.has_value());
    CHECK(*venue.humidity_percent == 50.0);

    const std::vector<std::string> zone_names{"L-long", "L-mid", "L-near", "subs", "front-fill", "delay-tower"};
    const std::vector<std::string> systems{"mains", "mains", "mains", "subs", "fills", "delay_towers"};
    REQUIRE(venue.zones.size() == zone_names.size());
    for (std::size_t i = 0; i < zone_names.size(); ++i) {
        CHECK(venue.zones[i].name == zone_names[i]);
        CHECK(venue.zones[i].system == systems[i]);
        CHECK(venue.zones[i].amplifier == "amp-1");
        CHECK(venue.zones[i].channel == i + 1);
        CHECK(venue.zones[i].output == i + 1);
    }
    CHECK(venue.zones[0].hang == "L");
    CHECK(venue.zones[0].polarity_reference);
}

TEST_CASE("venue microphones are the rig's microphone positions") {
    const Venue& venue = test::builtin_venue();
    const auto rig = simulation::builtin_rig();
    REQUIRE(venue.microphones.size() == 6);
    REQUIRE(rig.microphones.size() == venue.microphones.size());
    for (std::size_t i = 0; i < venue.microphones.size(); ++i) {
        const auto& mic = venue.microphones[i];
        CHECK(mic.input == i + 1);
        const auto* position = find_position(rig.microphones, mic.name);
        REQUIRE(position != nullptr);
        REQUIRE(mic.position_m.has_value());
        CHECK(*mic.position_m == position->position_m);
        CHECK(mic.zone_weights == position->zone_weights);
    }
}

TEST_CASE("probes are audience positions the venue does not list") {
    const Venue& venue = test::builtin_venue();
    const auto rig = simulation::builtin_rig();
    CHECK(rig.probes.size() >= 2);
    for (const auto& probe : rig.probes) {
        const bool listed = std::any_of(venue.microphones.begin(), venue.microphones.end(),
                                        [&](const Microphone& mic) { return mic.name == probe.name; });
        CHECK_FALSE(listed);
        CHECK_FALSE(probe.zone_weights.empty());
        for (const auto& [zone, weight] : probe.zone_weights) {
            CHECK_NOTHROW((void)find_zone(venue, zone));
            CHECK(weight > 0.0);
        }
    }
}

TEST_CASE("initial amplifier state has the virtual-amp profile's channels and bands") {
    const auto profile = io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json");
    const auto state = simulation::builtin_initial_amplifier_state();
    REQUIRE(state.channels.size() == profile.channel_count);
    for (const auto& channel : state.channels) {
        CHECK(channel.bands.size() == profile.limits.eq.max_bands);
        CHECK(channel.gain_db == 0.0);
        CHECK_FALSE(channel.mute);
    }
}

TEST_CASE("port 0 is rejected") {
    const auto message = test::error_message([] { (void)simulation::builtin_venue_json(0); });
    CHECK(message.find("port 0 is invalid") != std::string::npos);
}

TEST_CASE("subs arrive a few ms after the mains") {
    const auto& transfer_functions = test::builtin_transfer_functions();
    for (const char* mic : {"near-left", "mid-centre", "mid-left"}) {
        const double late_ms =
            1000.0 * (transfer_functions.arrival_s("subs", mic) - transfer_functions.arrival_s("L-mid", mic));
        INFO("at " << mic << ": subs " << late_ms << " ms after L-mid");
        CHECK(late_ms > 1.0);
        CHECK(late_ms < 7.0);
    }
}

TEST_CASE("delay tower must be delayed by tens of ms") {
    const auto& transfer_functions = test::builtin_transfer_functions();
    for (const char* mic : {"rear-left", "back-left"}) {
        const double early_ms =
            1000.0 * (transfer_functions.arrival_s("L-long", mic) - transfer_functions.arrival_s("delay-tower", mic));
        INFO("at " << mic << ": delay tower " << early_ms << " ms before L-long");
        CHECK(early_ms > 20.0);
        CHECK(early_ms < 90.0);
    }
}

TEST_CASE("each zone is loudest at a microphone that judges it") {
    // Coverage: where a zone's direct sound (no room) is strongest in its working band (4 kHz for
    // the full-range zones, whose coverage the directivity sets; 60 Hz for the subs) is one of
    // the positions that judge it.
    simulation::TransferFunctionOptions direct_only;
    direct_only.room_reflections = false;
    const simulation::RigTransferFunctions transfer_functions(simulation::builtin_rig(), direct_only);
    const Venue& venue = test::builtin_venue();
    for (const auto& zone : venue.zones) {
        const double freq_hz = zone.system == "subs" ? 60.0 : 4000.0;
        std::string loudest;
        double loudest_db = -1e9;
        for (const auto& mic : venue.microphones) {
            const auto ir = transfer_functions.transfer_function(zone.name, mic.name);
            const auto arrival = static_cast<std::size_t>(transfer_functions.arrival_s(zone.name, mic.name) * 48000.0);
            const auto direct = ir.subspan(arrival - 48, 48 + 4800);  // −1 ms to +100 ms: the subs' filters ring
            const double level_db = 20.0 * std::log10(std::abs(test::dtft(direct, freq_hz, 48000.0)));
            if (level_db > loudest_db) {
                loudest_db = level_db;
                loudest = mic.name;
            }
        }
        const auto& weights = std::find_if(venue.microphones.begin(), venue.microphones.end(),
                                           [&](const Microphone& m) { return m.name == loudest; })->zone_weights;
        INFO("zone " << zone.name << " is loudest at " << loudest);
        CHECK(weights.count(zone.name) == 1);
    }
}

}  // TEST_SUITE
