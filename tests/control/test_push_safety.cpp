// Safety limits of a push: every value beyond a limit is rejected with a message naming the zone,
// the parameter, the value and the limit, and nothing is written.

#include "test_push_support.hpp"
#include "test_support.hpp"

#include "linetune/control/push_plan.hpp"
#include "linetune/control/push_safety.hpp"
#include "linetune/control/push_transaction.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace linetune {
namespace {

using test::peaking;
using test::zone_target;

struct RejectedCase {
    const char* name;
    control::ZoneTarget target;
    std::vector<std::string> expected_parts;  ///< fragments the message must contain
};

control::ZoneTarget with_polarity(control::ZoneTarget target, bool inverted) {
    target.polarity_inverted = inverted;
    return target;
}

control::ZoneTarget with_band(analysis::FilterType type, double freq_hz, double gain_db, double q) {
    return zone_target(0.0, 0.0, {{type, freq_hz, gain_db, q}});
}

/// Message of the configuration error that prepare_push throws, after checking that it is one.
std::string rejection(const Venue& venue, test::MemoryRig& rig, const std::map<std::string, control::ZoneTarget>& targets,
                      const control::PushOptions& options = test::quick_options()) {
    try {
        control::prepare_push(venue, targets, rig.factory(), options);
    } catch (const Error& error) {
        CHECK(error.kind() == ErrorKind::configuration);
        return error.what();
    }
    return "(no error)";
}

TEST_SUITE("push safety limits") {
    TEST_CASE("each limit rejects before sending") {
        // The memory venue: 40 m at 20 °C (c = 343.2 m/s, 116.55 ms) plus the profile's 1 ms latency
        // and the default 5 ms margin gives a delay limit of 122.55 ms; the snapshot gain is 0 dB.
        const std::vector<RejectedCase> cases{
            {"gain increase", zone_target(3.5, 0.0), {"gain_db +3.5 dB", "+3.5 dB above the current +0 dB", "limit +3 dB", "safety.max_gain_increase_db"}},
            {"band boost", zone_target(0.0, 0.0, {peaking(1000.0, 6.5, 2.0)}), {"band 1 gain_db +6.5 dB", "limit +6 dB per band", "safety.max_band_boost_db"}},
            {"summed boost",
             zone_target(0.0, 0.0, {peaking(1000.0, 4.0, 1.0), peaking(1100.0, 4.0, 1.0)}),
             {"EQ sum at", "above the limit +6 dB summed over the bands", "safety.max_total_boost_db"}},
            {"delay beyond distance", zone_target(0.0, 130.0), {"delay_ms 130 ms", "limit 122.55 ms", "max_distance_m 40 m", "latency 1 ms", "safety.delay_margin_ms 5 ms"}},
            {"negative delay", zone_target(0.0, -1.0), {"delay_ms -1 ms is below 0 ms"}},
            {"polarity without flag", with_polarity(zone_target(0.0, 0.0), true), {"polarity_inverted true", "--allow-polarity-change"}},
            {"gain above the amplifier", zone_target(13.0, 0.0), {"gain_db +13 dB", "gain range -40 dB to +12 dB of amplifier 'amp-1'"}},
            {"band frequency above the range", with_band(analysis::FilterType::peaking, 21000.0, -3.0, 1.0), {"band 1 freq_hz 21000 Hz", "EQ frequency range 20 to 20000 Hz"}},
            {"Q above the range", with_band(analysis::FilterType::peaking, 1000.0, -3.0, 12.0), {"band 1 q 12", "Q range 0.3 to 10"}},
            {"EQ gain below the range", with_band(analysis::FilterType::peaking, 1000.0, -18.0, 1.0), {"band 1 gain_db -18 dB", "EQ gain range -15 dB to +15 dB"}},
            {"too many bands",
             zone_target(0.0, 0.0, {peaking(100.0, -1.0, 1.0), peaking(200.0, -1.0, 1.0), peaking(400.0, -1.0, 1.0),
                                    peaking(800.0, -1.0, 1.0), peaking(1600.0, -1.0, 1.0)}),
             {"bands 5", "more than the 4 bands"}},
            {"non-finite gain", zone_target(std::nan(""), 0.0), {"gain_db nan is not a finite number"}},
        };

        for (const auto& rejected : cases) {
            const auto venue = test::memory_venue(1);
            test::MemoryRig rig(venue);

            const auto message = rejection(venue, rig, {{"zone-1", rejected.target}});

            INFO("case: " << rejected.name << "\nmessage: " << message);
            CHECK(message.find("rejected, nothing was sent") != std::string::npos);
            CHECK(message.find("zone 'zone-1'") != std::string::npos);
            for (const auto& part : rejected.expected_parts) {
                CHECK_MESSAGE(message.find(part) != std::string::npos, "missing: " << part);
            }
            CHECK(rig["amp-1"].writes_received == 0);
        }
    }

    TEST_CASE("filter type not offered rejected") {
        auto venue = test::memory_venue(1);
        venue.amplifiers[0].limits.eq.filter_types = {FilterKind::peaking};
        test::MemoryRig rig(venue);

        const auto message = rejection(venue, rig, {{"zone-2", with_band(analysis::FilterType::low_pass, 80.0, 0.0, 0.71)}});

        CHECK(message.find("zone 'zone-2': band 1 type low_pass is not offered by amplifier 'amp-1' (it offers peaking)") !=
              std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);
    }

    TEST_CASE("all violations in one error") {
        const auto venue = test::memory_venue(2);
        test::MemoryRig rig(venue);

        const auto message = rejection(venue, rig,
                                       {{"zone-1", zone_target(0.0, 0.0, {peaking(1000.0, 7.0, 2.0)})},
                                        {"zone-3", zone_target(0.0, 500.0)},
                                        {"zone-4", zone_target(0.0, 0.0, {peaking(50.0, 0.0, 20.0)})}});

        CHECK(message.find("4 value(s) beyond the limits") != std::string::npos);
        CHECK(message.find("zone 'zone-1': band 1 gain_db +7 dB") != std::string::npos);
        CHECK(message.find("zone 'zone-1': EQ sum at 1000 Hz +7 dB") != std::string::npos);
        CHECK(message.find("zone 'zone-3': delay_ms 500 ms") != std::string::npos);
        CHECK(message.find("zone 'zone-4': band 1 q 20") != std::string::npos);
        CHECK(rig["amp-1"].operations == 0);
        CHECK(rig["amp-2"].operations == 0);
    }

    TEST_CASE("venue safety limits replace the defaults") {
        auto venue = test::memory_venue(1);
        venue.safety.max_gain_increase_db = 6.0;
        venue.safety.max_band_boost_db = 3.0;
        test::MemoryRig rig(venue);

        auto push = control::prepare_push(venue, {{"zone-1", zone_target(5.5, 0.0)}}, rig.factory(), test::quick_options());
        CHECK(push.writes.size() == 1);

        const auto message = rejection(venue, rig, {{"zone-1", zone_target(0.0, 0.0, {peaking(1000.0, 3.5, 2.0)})}});
        CHECK(message.find("limit +3 dB per band") != std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);
    }

    TEST_CASE("gain increase against snapshot") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].state.channels[0].gain_db = -10.0;

        // From −10 dB, −7 dB is +3 dB: allowed; −6.9 dB is not.
        CHECK_NOTHROW(control::prepare_push(venue, {{"zone-1", zone_target(-7.0, 0.0)}}, rig.factory(), test::quick_options()));
        const auto message = rejection(venue, rig, {{"zone-1", zone_target(-6.9, 0.0)}});
        CHECK(message.find("+3.1 dB above the current -10 dB") != std::string::npos);
    }

    TEST_CASE("amplifier without address rejected") {
        auto venue = test::memory_venue(1);
        venue.amplifiers[0].host.clear();
        venue.amplifiers[0].port = 0;
        test::MemoryRig rig(venue);

        const auto message = rejection(venue, rig, {{"zone-1", zone_target(0.0, 0.0)}});

        CHECK(message.find("amplifier 'amp-1' has no host/port in the venue file: add them or export the CSV for "
                           "manual entry") != std::string::npos);
        CHECK(message.find("beyond the limits") == std::string::npos);
        CHECK(rig["amp-1"].operations == 0);
    }

    TEST_CASE("blind polarity request needs flag") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].readable = false;
        const auto target = with_polarity(zone_target(0.0, 0.0), false);

        const auto message = rejection(venue, rig, {{"zone-1", target}});

        CHECK(message.find("zone 'zone-1': polarity_inverted false is requested on a device that cannot report") !=
              std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);

        auto options = test::quick_options();
        options.allow_polarity_change = true;
        auto push = control::prepare_push(venue, {{"zone-1", target}}, rig.factory(), options);
        CHECK(push.writes.size() > 1);
    }

    TEST_CASE("EQ sum peak between grid points") {
        // Two Q 10 peaks of +3.5 dB at the same frequency sum to +7 dB at 1234.5 Hz, which is not
        // a point of the 1/24-octave grid.
        const std::vector<EqBandState> bands{{true, FilterKind::peaking, 1234.5, 3.5, 10.0},
                                             {true, FilterKind::peaking, 1234.5, 3.5, 10.0}};

        const auto peak = control::max_eq_sum_db(bands, 48000.0);

        CHECK(peak.magnitude_db == doctest::Approx(7.0).epsilon(1e-9));
        CHECK(peak.freq_hz == 1234.5);
    }
}

/// Writes a corrections file of the memory venue whose first zone entry is zone_json.
std::filesystem::path corrections_with(const std::string& name, const std::string& zones_json,
                                       const std::string& venue_json = "\"memory venue\"") {
    return test::write_file(test::scratch_dir("push-corrections") / (name + ".json"),
                            R"({"format": "linetune corrections", "format_version": 1, "venue": )" + venue_json +
                                R"(, "zones": [)" + zones_json + "]}");
}

TEST_SUITE("corrections file for a push") {
    TEST_CASE("bad corrections files rejected with file and key") {
        const auto venue = test::memory_venue(1);
        struct BadFile {
            const char* name;
            std::string zones;
            std::string venue_json;
            std::string expected;
        };
        const std::string good_zone = R"({"zone": "zone-1", "delay_ms": 0, "gain_db": 0)";
        const std::vector<BadFile> cases{
            {"venue-number", good_zone + "}", "5", "\"venue\" is missing or not a string"},
            {"bands-number", good_zone + R"(, "bands": 5})", "\"memory venue\"", "\"bands\" must be a JSON array"},
            {"band-string", good_zone + R"(, "bands": ["peaking"]})", "\"memory venue\"",
             "zone 'zone-1', band 1: must be a JSON object"},
            {"type-number", good_zone + R"(, "bands": [{"type": 3, "freq_hz": 1000, "gain_db": 0, "q": 1}]})",
             "\"memory venue\"", "zone 'zone-1', band 1: \"type\" is missing or not a string"},
            {"gain-overflow", R"({"zone": "zone-1", "delay_ms": 0, "gain_db": 1e999})", "\"memory venue\"",
             "in the value of 'gain_db': number overflow"},
            {"zone-twice", good_zone + "}, " + good_zone + R"(, "gain_db": -6})", "\"memory venue\"",
             "zone 'zone-1' is listed twice"},
        };
        for (const auto& bad : cases) {
            CAPTURE(bad.name);
            const auto path = corrections_with(bad.name, bad.zones, bad.venue_json);
            std::string message;
            ErrorKind kind = ErrorKind::input;
            try {
                control::read_push_targets(path, venue);
            } catch (const Error& error) {
                message = error.what();
                kind = error.kind();
            }
            CHECK(kind == ErrorKind::configuration);
            CHECK(message.find(path.string()) != std::string::npos);
            CHECK(message.find(bad.expected) != std::string::npos);
        }
    }

    TEST_CASE("corrections folder rejected as a folder") {
        const auto venue = test::memory_venue(1);
        const auto folder = test::scratch_dir("push-corrections-folder");

        const auto message = test::error_message([&] { control::read_push_targets(folder, venue); });

        CHECK(message.find("is a folder") != std::string::npos);
        CHECK(message.find("active while measuring") == std::string::npos);
    }
}

}  // namespace
}  // namespace linetune
