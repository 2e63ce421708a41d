// The push transaction against in-memory amplifiers: journal, ordered writes, read-back,
// restore on failure, recovery from a journal, and the report.

#include "test_push_support.hpp"
#include "test_support.hpp"

#include "linetune/control/push_journal.hpp"
#include "linetune/control/push_report.hpp"
#include "linetune/control/push_transaction.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace linetune {
namespace {

using test::peaking;
using test::zone_target;

/// Targets for every zone of a two-amplifier memory venue: gain changes in both directions, a
/// boost, cuts and a delay.
std::map<std::string, control::ZoneTarget> four_zone_targets() {
    return {
        {"zone-1", zone_target(-3.0, 2.5, {peaking(1000.0, 4.0, 1.4), peaking(120.0, -6.0, 3.0)})},
        {"zone-2", zone_target(0.5, 0.0, {peaking(3150.0, -3.5, 2.0)})},
        {"zone-3", zone_target(-1.0, 12.34, {peaking(63.0, 3.0, 0.9)})},
        {"zone-4", zone_target(0.0, 0.0, {})},
    };
}

/// Returns the targets of four_zone_targets() whose zone is in the venue.
std::map<std::string, control::ZoneTarget> targets_for(const Venue& venue) {
    auto targets = four_zone_targets();
    std::erase_if(targets, [&](const auto& entry) {
        return std::none_of(venue.zones.begin(), venue.zones.end(), [&](const Zone& zone) { return zone.name == entry.first; });
    });
    return targets;
}

/// Returns a two-channel amplifier state that differs from neutral: bands enabled, some gain, and
/// channel 2 muted when mute_channel_2.
AmplifierState starting_state(bool mute_channel_2 = false) {
    auto state = neutral_amplifier_state(2, 4);
    state.channels[0].gain_db = 1.0;
    state.channels[0].bands[0] = {true, FilterKind::peaking, 800.0, 2.0, 1.0};
    state.channels[1].gain_db = -2.0;
    state.channels[1].bands[2] = {true, FilterKind::high_shelf, 6000.0, -3.0, 0.71};
    state.channels[1].mute = mute_channel_2;
    return state;
}

ChannelState expected_channel(const ChannelState& snapshot, const control::ZoneTarget& target) {
    return control::target_channel_state(snapshot, target, test::memory_amplifier_limits());
}

std::filesystem::path journal_in(const std::string& test_name) {
    return test::scratch_dir("push-" + test_name) / "push-journal.json";
}

TEST_SUITE("push transaction") {
    TEST_CASE("readable push verified, journal removed") {
        const auto venue = test::memory_venue(2);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state();
        const auto before = rig["amp-1"].state;
        const auto targets = four_zone_targets();
        const auto journal = journal_in("verified");

        auto push = control::prepare_push(venue, targets, rig.factory(), test::quick_options());
        CHECK(rig["amp-1"].writes_received == 0);
        const auto report = control::execute_push(push, journal, test::quick_options());

        CHECK(report.succeeded());
        REQUIRE(report.devices.size() == 2);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::verified);
        CHECK(report.devices[1].outcome == control::DeviceOutcome::verified);
        CHECK_FALSE(std::filesystem::exists(journal));
        CHECK(rig["amp-1"].state.channels[0] == expected_channel(before.channels[0], targets.at("zone-1")));
        CHECK(rig["amp-1"].state.channels[1] == expected_channel(before.channels[1], targets.at("zone-2")));
        CHECK(rig["amp-2"].state.channels[0].delay_ms == doctest::Approx(12.34).epsilon(1e-12));
        CHECK(rig["amp-2"].state.channels[0].bands[0].enabled);
        CHECK_FALSE(rig["amp-2"].state.channels[0].bands[1].enabled);
    }

    TEST_CASE("push without band enable flattens unused bands") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        auto& device = rig["amp-1"];
        device.per_band_enable = false;
        // The channel EQ is on, so every band is heard: a boost and a high-pass on channel 1.
        device.state = starting_state();
        for (auto& channel : device.state.channels) {
            for (auto& band : channel.bands) {
                band.enabled = true;
            }
        }
        device.state.channels[0].bands[3] = {true, FilterKind::high_pass, 80.0, 0.0, 0.71};
        const auto targets = targets_for(venue);

        auto push = control::prepare_push(venue, targets, rig.factory(), test::quick_options());
        const auto report = control::execute_push(push, journal_in("no-band-enable"), test::quick_options());

        CHECK(report.succeeded());
        CHECK(report.devices[0].outcome == control::DeviceOutcome::verified);
        for (const auto& planned : push.writes) {
            CHECK(planned.write.id.kind != ParameterKind::band_enabled);
        }
        for (const auto& state : device.history) {
            for (const auto& channel : state.channels) {
                for (const auto& band : channel.bands) {
                    CHECK(band.enabled);
                }
            }
        }
        // zone-1 uses bands 1 and 2; zone-2 uses band 1. The rest are flat peaking bands.
        const auto& channel_1 = device.state.channels[0];
        CHECK(channel_1.bands[0].gain_db == doctest::Approx(4.0));
        CHECK(channel_1.bands[1].gain_db == doctest::Approx(-6.0));
        for (const std::size_t b : {2U, 3U}) {
            CAPTURE(b);
            CHECK(channel_1.bands[b].type == FilterKind::peaking);
            CHECK(channel_1.bands[b].gain_db == 0.0);
        }
        const auto& channel_2 = device.state.channels[1];
        CHECK(channel_2.bands[0].freq_hz == doctest::Approx(3150.0));
        for (const std::size_t b : {1U, 2U, 3U}) {
            CAPTURE(b);
            CHECK(channel_2.bands[b].type == FilterKind::peaking);
            CHECK(channel_2.bands[b].gain_db == 0.0);
        }
    }

    TEST_CASE("push without band enable stops when channel eq is off") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].per_band_enable = false;  // neutral state: every band off, the channel EQ off

        CHECK_THROWS_WITH_AS(control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options()),
                             doctest::Contains("the EQ of the channel is switched off"), Error);
        CHECK(rig["amp-1"].writes_received == 0);
    }

    TEST_CASE("journal on disk before first write") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state();
        const auto before = rig["amp-1"].state;
        const auto journal = journal_in("journal-first");
        bool checked = false;
        rig["amp-1"].before_write = [&](std::size_t number) {
            if (number != 1) {
                return;
            }
            REQUIRE(std::filesystem::exists(journal));
            const auto plan = control::read_push_journal(journal);
            CHECK(plan.venue_name == venue.name);
            REQUIRE(plan.devices.size() == 1);
            REQUIRE(plan.devices[0].channels.size() == 2);
            CHECK(plan.devices[0].channels[0].snapshot == before.channels[0]);
            CHECK(plan.devices[0].channels[1].snapshot == before.channels[1]);
            checked = true;
        };
        auto targets = four_zone_targets();
        targets.erase("zone-3");
        targets.erase("zone-4");

        auto push = control::prepare_push(venue, targets, rig.factory(), test::quick_options());
        const auto report = control::execute_push(push, journal, test::quick_options());

        CHECK(checked);
        CHECK(report.succeeded());
    }

    TEST_CASE("unreadable device is unverified") {
        const auto venue = test::memory_venue(2);
        test::MemoryRig rig(venue);
        rig["amp-2"].readable = false;
        const auto journal = journal_in("unverified");

        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        const auto report = control::execute_push(push, journal, test::quick_options());

        REQUIRE(report.devices.size() == 2);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::verified);
        CHECK(report.devices[1].outcome == control::DeviceOutcome::unverified);
        CHECK(report.devices[1].detail.find("cannot report") != std::string::npos);
        CHECK(control::format_push_report(report).find("unverified") != std::string::npos);
        CHECK(rig["amp-2"].state.channels[0].gain_db == doctest::Approx(-1.0));
        // Its mute state is unknown, so it is never written.
        for (const auto& state : rig["amp-2"].history) {
            CHECK_FALSE(state.channels[0].mute);
            CHECK_FALSE(state.channels[1].mute);
        }
    }

    TEST_CASE("failure at any write restores snapshot") {
        const auto venue = test::memory_venue(2);
        const auto targets = four_zone_targets();

        // Count the writes of a clean push first.
        std::size_t total_writes = 0;
        {
            test::MemoryRig rig(venue);
            rig["amp-1"].state = starting_state(true);
            auto push = control::prepare_push(venue, targets, rig.factory(), test::quick_options());
            total_writes = push.writes.size();
        }
        REQUIRE(total_writes > 10);
        MESSAGE("failing each of the " << total_writes << " writes in turn, with and without the value applied");

        for (std::size_t failing = 1; failing <= total_writes; ++failing) {
            for (const bool applied : {false, true}) {
                test::MemoryRig rig(venue);
                rig["amp-1"].state = starting_state(true);
                const auto before_1 = rig["amp-1"].state;
                const auto before_2 = rig["amp-2"].state;
                auto push = control::prepare_push(venue, targets, rig.factory(), test::quick_options());
                const auto& failing_write = push.writes[failing - 1];
                auto& device = rig[push.plan.devices[failing_write.device].amplifier];
                // The failing write is the device's n-th.
                std::size_t device_number = 0;
                for (std::size_t i = 0; i < failing; ++i) {
                    device_number += push.writes[i].device == failing_write.device ? 1 : 0;
                }
                device.fail_at_write = device_number;
                device.apply_failed_write = applied;
                device.outage_operations = 3;
                const auto journal = journal_in("fail-at-write");

                const auto report = control::execute_push(push, journal, test::quick_options());

                INFO("failing write " << failing << " of " << total_writes << ", applied " << applied);
                CHECK_FALSE(report.succeeded());
                CHECK_FALSE(report.failure.empty());
                CHECK(rig["amp-1"].state == before_1);
                CHECK(rig["amp-2"].state == before_2);
                CHECK_FALSE(std::filesystem::exists(journal));
                for (const auto& result : report.devices) {
                    CHECK((result.outcome == control::DeviceOutcome::restored ||
                           result.outcome == control::DeviceOutcome::unchanged));
                }
                // Channel 2 of amp-1 was muted in the snapshot: no state ever unmutes it.
                for (const auto& state : rig["amp-1"].history) {
                    CHECK(state.channels[1].mute);
                }
            }
        }
    }

    TEST_CASE("read-back mismatch restores the snapshot") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state();
        const auto before = rig["amp-1"].state;
        rig["amp-1"].alter_at_write = 2;
        const auto journal = journal_in("mismatch");

        const std::map<std::string, control::ZoneTarget> targets{{"zone-1", four_zone_targets().at("zone-1")}};
        auto push = control::prepare_push(venue, targets, rig.factory(), test::quick_options());
        const auto report = control::execute_push(push, journal, test::quick_options());

        CHECK(report.failure.find("read back as") != std::string::npos);
        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::restored);
        CHECK(rig["amp-1"].state == before);
    }

    TEST_CASE("restore retries through an outage") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].fail_at_write = 3;
        rig["amp-1"].outage_operations = 40;
        const auto before = rig["amp-1"].state;
        const auto journal = journal_in("outage");

        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        const auto report = control::execute_push(push, journal, test::quick_options());

        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::restored);
        CHECK(report.devices[0].detail.find("attempts") != std::string::npos);
        CHECK(rig["amp-1"].state == before);
        CHECK_FALSE(std::filesystem::exists(journal));
    }

    TEST_CASE("silent amplifier FAILED, recovered later") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state();
        const auto before = rig["amp-1"].state;
        rig["amp-1"].fail_at_write = 4;
        rig["amp-1"].apply_failed_write = true;
        rig["amp-1"].outage_operations = 1000000;
        const auto journal = journal_in("failed");
        auto options = test::quick_options();
        options.restore_timeout = std::chrono::milliseconds(50);

        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), options);
        const auto report = control::execute_push(push, journal, options);

        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::failed);
        CHECK(report.journal_kept);
        CHECK(std::filesystem::exists(journal));
        CHECK(control::format_push_report(report).find("linetune push --recover") != std::string::npos);
        CHECK(rig["amp-1"].state != before);

        rig["amp-1"].outage_left = 0;
        const auto recovery = control::recover_push(venue, journal, rig.factory(), options);

        REQUIRE(recovery.devices.size() == 1);
        CHECK(recovery.devices[0].outcome == control::DeviceOutcome::restored);
        CHECK(rig["amp-1"].state == before);
        CHECK_FALSE(std::filesystem::exists(journal));
    }

    TEST_CASE("stop request restores snapshot") {
        const auto venue = test::memory_venue(2);
        test::MemoryRig rig(venue);
        const auto before = rig["amp-1"].state;
        std::atomic<bool> stop{false};
        rig["amp-1"].before_write = [&](std::size_t number) {
            if (number == 2) {
                stop = true;
            }
        };
        auto options = test::quick_options();
        options.stop_request = &stop;
        const auto journal = journal_in("stop");

        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), options);
        const auto report = control::execute_push(push, journal, options);

        CHECK(report.failure.find("stopped on request") != std::string::npos);
        CHECK(rig["amp-1"].state == before);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::restored);
    }

    TEST_CASE("allowed polarity change made muted") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        auto target = zone_target(0.0, 0.0);
        target.polarity_inverted = true;
        auto options = test::quick_options();
        options.allow_polarity_change = true;

        auto push = control::prepare_push(venue, {{"zone-1", target}}, rig.factory(), options);
        const auto report = control::execute_push(push, journal_in("polarity"), options);

        CHECK(report.succeeded());
        CHECK(rig["amp-1"].state.channels[0].polarity_inverted);
        CHECK_FALSE(rig["amp-1"].state.channels[0].mute);
        REQUIRE(rig["amp-1"].history.size() == 3);
        CHECK(rig["amp-1"].history[1].channels[0].mute);
    }

    TEST_CASE("existing journal blocks new push") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        const auto journal = journal_in("blocked");
        test::write_file(journal, "{}");

        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        const auto message = test::error_message([&] { control::execute_push(push, journal, test::quick_options()); });

        CHECK(message.find("push --recover") != std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);
    }

    TEST_CASE("recover after crash restores snapshot") {
        const auto venue = test::memory_venue(2);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state(true);
        const auto before_1 = rig["amp-1"].state;
        const auto before_2 = rig["amp-2"].state;
        const auto journal = journal_in("crash");

        // The process dies at the 9th write: an exception that is not a linetune::Error stands
        // in for SIGKILL, and nothing below catches it.
        rig["amp-1"].before_write = [](std::size_t number) {
            if (number == 9) {
                throw std::runtime_error("killed");
            }
        };
        {
            auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
            CHECK_THROWS_AS(control::execute_push(push, journal, test::quick_options()), std::runtime_error);
        }
        rig["amp-1"].before_write = nullptr;
        REQUIRE(std::filesystem::exists(journal));
        CHECK(rig["amp-1"].state != before_1);

        const auto report = control::recover_push(venue, journal, rig.factory(), test::quick_options());

        CHECK(report.recovery);
        CHECK(report.succeeded() == false);  // a recovery restores; it never reports the push as done
        for (const auto& device : report.devices) {
            CHECK(device.outcome == control::DeviceOutcome::restored);
        }
        CHECK(rig["amp-1"].state == before_1);
        CHECK(rig["amp-2"].state == before_2);
        CHECK_FALSE(std::filesystem::exists(journal));
    }

    TEST_CASE("recover rejects a journal of another venue") {
        auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        const auto journal = journal_in("other-venue");
        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        control::write_push_journal(journal, push.plan);
        venue.name = "another venue";

        const auto message =
            test::error_message([&] { control::recover_push(venue, journal, rig.factory(), test::quick_options()); });

        CHECK(message.find("was written for venue 'memory venue'") != std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);
    }

    TEST_CASE("journal keeps every bit") {
        ChannelState state = starting_state().channels[0];
        state.gain_db = -3.0999999046325684;  // a float32 read-back of -3.1
        state.delay_ms = 0.012500000186264515;
        state.bands[3] = {false, FilterKind::low_pass, 19999.998046875, 0.0, 0.70710678118654757};

        const auto json = control::channel_state_json(state);
        const auto parsed = control::channel_state_from_json(nlohmann::json::parse(json.dump()), "test");

        CHECK(parsed == state);
    }

    TEST_CASE("target state rounding and mute") {
        ChannelState snapshot = starting_state(true).channels[1];
        snapshot.bands[3] = {true, FilterKind::peaking, 5000.0, 2.0, 2.0};
        const auto target = zone_target(-2.04, 1.234, {{analysis::FilterType::low_shelf, 95.5, 3.04, 1.234}});

        const auto state = control::target_channel_state(snapshot, target, test::memory_amplifier_limits());

        CHECK(state.mute);
        CHECK(state.gain_db == doctest::Approx(-2.0).epsilon(1e-12));
        CHECK(state.delay_ms == doctest::Approx(1.24).epsilon(1e-12));
        CHECK(state.bands[0].type == FilterKind::low_shelf);
        CHECK(state.bands[0].gain_db == doctest::Approx(3.0).epsilon(1e-12));
        CHECK(state.bands[0].q == doctest::Approx(1.23).epsilon(1e-12));
        CHECK(state.bands[0].freq_hz == doctest::Approx(95.5).epsilon(1e-12));
        CHECK_FALSE(state.bands[2].enabled);
        CHECK_FALSE(state.bands[3].enabled);
        CHECK(state.bands[3].freq_hz == 5000.0);
    }

    TEST_CASE("plan text shows old and new") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state(true);

        const auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        const auto text = control::format_push_plan(push);

        CHECK(text.find("zone 'zone-1' on amp-1 channel 1") != std::string::npos);
        CHECK(text.find("+1.00 -> -3.00 dB") != std::string::npos);
        CHECK(text.find("peaking 800.0 Hz +2.00 dB Q 1.00 -> peaking 1000.0 Hz +4.00 dB Q 1.40") != std::string::npos);
        CHECK(text.find("stays muted") != std::string::npos);
        CHECK(control::format_write_order(push).find("amp-1 channel 1 gain_db = -3") != std::string::npos);
    }

    TEST_CASE("recover rejects bands beyond the profile") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        const auto before = rig["amp-1"].state;
        const auto journal = journal_in("loud-journal");
        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        // A journal edited by hand: +15.5 dB bands (above the profile's +15 dB), all enabled at 1 kHz.
        for (auto& band : push.plan.devices[0].channels[0].snapshot.bands) {
            band = {true, FilterKind::peaking, 1000.0, 15.5, 1.0};
        }
        control::write_push_journal(journal, push.plan);

        const auto message =
            test::error_message([&] { control::recover_push(venue, journal, rig.factory(), test::quick_options()); });

        CHECK(message.find("recovery of venue 'memory venue' rejected, nothing was sent") != std::string::npos);
        CHECK(message.find("zone 'zone-1': band 1 gain_db +15.5 dB is outside the EQ gain range") != std::string::npos);
        CHECK(message.find("safety.max_band_boost_db") != std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);
        CHECK(rig["amp-1"].state == before);
        CHECK(std::filesystem::exists(journal));
    }

    TEST_CASE("recover rejects a summed boost above the safety limit") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        const auto journal = journal_in("summed-boost-journal");
        auto push = control::prepare_push(venue, targets_for(venue), rig.factory(), test::quick_options());
        // Four +5 dB bands at 1 kHz: each within the +6 dB band limit, +20 dB summed.
        for (auto& band : push.plan.devices[0].channels[0].snapshot.bands) {
            band = {true, FilterKind::peaking, 1000.0, 5.0, 1.0};
        }
        control::write_push_journal(journal, push.plan);

        const auto message =
            test::error_message([&] { control::recover_push(venue, journal, rig.factory(), test::quick_options()); });

        CHECK(message.find("safety.max_total_boost_db") != std::string::npos);
        CHECK(message.find("max_band_boost_db") == std::string::npos);
        CHECK(rig["amp-1"].writes_received == 0);
    }

    TEST_CASE("recover restores a gain rise beyond the push limit") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        rig["amp-1"].state = starting_state();
        rig["amp-1"].state.channels[0].gain_db = 10.0;
        const auto before = rig["amp-1"].state;
        const auto journal = journal_in("gain-rise-journal");
        auto push = control::prepare_push(venue, {{"zone-1", zone_target(4.0, 0.0)}}, rig.factory(),
                                          test::quick_options());
        control::write_push_journal(journal, push.plan);
        rig["amp-1"].state.channels[0].gain_db = -20.0;  // 30 dB below the saved +10 dB

        auto recovery = control::prepare_recovery(venue, journal, rig.factory(), test::quick_options());
        const auto text = control::format_push_plan(recovery.restore);
        CHECK(rig["amp-1"].writes_received == 0);
        CHECK(text.find("-20.00 -> +10.00 dB") != std::string::npos);
        CHECK_FALSE(recovery.restore.writes.empty());

        const auto report = control::execute_recovery(recovery, journal, test::quick_options());
        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::restored);
        CHECK(rig["amp-1"].state == before);
        CHECK_FALSE(std::filesystem::exists(journal));
    }

    TEST_CASE("journal that is a folder is named") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        const auto folder = test::scratch_dir("push-journal-folder");

        const auto message =
            test::error_message([&] { control::recover_push(venue, folder, rig.factory(), test::quick_options()); });

        CHECK(message.find("is a folder") != std::string::npos);
        CHECK(message.find(folder.string()) != std::string::npos);
    }

    TEST_CASE("journal number overflow names the key") {
        const auto venue = test::memory_venue(1);
        test::MemoryRig rig(venue);
        const auto journal = journal_in("overflow-journal");
        test::write_file(journal, R"({"format": "linetune push journal", "format_version": 1e999})");

        const auto message =
            test::error_message([&] { control::recover_push(venue, journal, rig.factory(), test::quick_options()); });

        CHECK(message.find(journal.string()) != std::string::npos);
        CHECK(message.find("'format_version'") != std::string::npos);
        CHECK(message.find("number overflow") != std::string::npos);
    }
}

}  // namespace
}  // namespace linetune
