// Pushes to the in-process virtual amplifier over OSC/UDP, each interrupted at a random point by
// one of its faults (or by a stop request): every push must leave the amplifier wholly in the old
// or wholly in the new state.

#include "test_push_support.hpp"
#include "test_support.hpp"

#include "linetune/control/driver_factory.hpp"
#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/control/parameter_steps.hpp"
#include "linetune/control/push_safety.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace linetune {
namespace {

// Driver timeouts for loopback. A round trip takes well under 1 ms, but on a loaded 2-core machine
// a thread may wait tens of ms for the processor, so the driver waits 50 ms and resends twice. A
// fault then costs 150 ms.
constexpr std::chrono::milliseconds reply_timeout{50};
constexpr std::size_t reply_retries = 2;
constexpr std::size_t owned_bands = 4;  // the venue narrows the profile's 10 bands to keep each push short

enum class Interruption { drop, refuse, stop, slow };

const char* name_of(Interruption interruption) {
    switch (interruption) {
    case Interruption::drop: return "drop";
    case Interruption::refuse: return "refuse";
    case Interruption::stop: return "stop";
    case Interruption::slow: return "slow";
    }
    return "?";
}

/// Passes every call to the OSC driver and calls a hook before each write and each operation.
class InterruptingDriver final : public DeviceDriver {
public:
    InterruptingDriver(std::unique_ptr<DeviceDriver> inner, std::function<void(std::size_t)> before_write,
                       std::function<void()> before_operation)
        : inner_(std::move(inner)), before_write_(std::move(before_write)), before_operation_(std::move(before_operation)) {}

    [[nodiscard]] std::string description() const override { return inner_->description(); }
    void connect() override {
        before_operation_();
        inner_->connect();
    }
    ParameterValue read(const ParameterId& id) override {
        before_operation_();
        return inner_->read(id);
    }
    void write(const ParameterId& id, const ParameterValue& value) override {
        before_write_(++writes_);
        before_operation_();
        inner_->write(id, value);
    }
    [[nodiscard]] bool can_read_back() const override { return inner_->can_read_back(); }

private:
    std::unique_ptr<DeviceDriver> inner_;
    std::function<void(std::size_t)> before_write_;
    std::function<void()> before_operation_;
    std::size_t writes_ = 0;
};

unsigned test_seed() {
    if (const char* text = std::getenv("LINETUNE_TEST_SEED")) {
        return static_cast<unsigned>(std::strtoul(text, nullptr, 10));
    }
    return 4041u;
}

/// Draws the old state of the amplifier: every channel random on the profile's steps, 4 owned bands.
AmplifierState random_old_state(std::mt19937& random, const DeviceProfile& profile) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto state = neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands);
    for (auto& channel : state.channels) {
        channel.gain_db = std::round(-200.0 * unit(random)) / 10.0;
        channel.delay_ms = std::round(unit(random) * 1000.0) * 0.02;
        channel.mute = unit(random) < 0.15;
        for (std::size_t b = 0; b < owned_bands; ++b) {
            auto& band = channel.bands[b];
            band.enabled = unit(random) < 0.6;
            band.type = static_cast<FilterKind>(std::min(4, static_cast<int>(unit(random) * 5.0)));
            band.freq_hz = static_cast<float>(30.0 * std::pow(500.0, unit(random)));
            band.gain_db = std::round(-100.0 + 150.0 * unit(random)) / 10.0;
            band.q = std::round(50.0 + 350.0 * unit(random)) / 100.0;
        }
    }
    return state;
}

/// Draws a new setting for a zone within every safety limit: gain −6 to +2.9 dB from the old, up to
/// 4 bands of random type, −10 to +5 dB.
control::ZoneTarget random_target(std::mt19937& random, double old_gain_db) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    control::ZoneTarget target;
    target.setting.gain_db = std::round((old_gain_db - 6.0 + 8.9 * unit(random)) * 10.0) / 10.0;
    target.setting.delay_ms = 50.0 * unit(random);
    const int band_count = static_cast<int>(unit(random) * 5.0);
    for (int b = 0; b < band_count; ++b) {
        target.setting.bands.push_back({static_cast<analysis::FilterType>(std::min(4, static_cast<int>(unit(random) * 5.0))),
                                        40.0 * std::pow(400.0, unit(random)), -10.0 + 15.0 * unit(random),
                                        0.5 + 3.5 * unit(random)});
    }
    return target;
}

/// True when every owned parameter of the channels matches within the read-back tolerance.
bool channels_match(const AmplifierState& expected, const AmplifierState& actual, const ChannelLimits& limits) {
    for (const auto& id : all_parameters(expected)) {
        if (id.band > owned_bands) {
            continue;
        }
        if (!control::values_match(id.kind, get_parameter(expected, id), get_parameter(actual, id), limits)) {
            return false;
        }
    }
    return true;
}

struct TrialCounts {
    int ended_new = 0;
    int ended_old = 0;
};

TEST_SUITE("push to the virtual amplifier") {
    TEST_CASE("OSC push verified") {
        const DeviceProfile profile = io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json");
        SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
        control::VirtualAmplifier amplifier(profile, state);
        amplifier.start();
        Venue venue = test::memory_venue(1);
        venue.amplifiers[0].profile = profile;
        venue.amplifiers[0].limits = profile.limits;
        venue.amplifiers[0].port = amplifier.port();
        const std::map<std::string, control::ZoneTarget> targets{
            {"zone-1", test::zone_target(-4.5, 3.48, {test::peaking(125.0, -6.0, 4.0), test::peaking(2500.0, 3.0, 1.0)})},
            {"zone-2", test::zone_target(2.5, 0.0, {{analysis::FilterType::high_pass, 35.0, 0.0, 0.71}})}};
        const auto factory = [](const Amplifier& amp) {
            control::DriverSettings settings;
            settings.reply_timeout = std::chrono::milliseconds(200);
            return control::make_device_driver(amp, settings);
        };

        auto push = control::prepare_push(venue, targets, factory, test::quick_options());
        const auto report = control::execute_push(push, test::scratch_dir("push-osc") / "push-journal.json", test::quick_options());
        amplifier.stop();

        CHECK(report.succeeded());
        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == control::DeviceOutcome::verified);
        CHECK(report.devices[0].device.find("osc.udp://127.0.0.1:") != std::string::npos);
        const auto held = state.snapshot();
        CHECK(held.channels[0].gain_db == doctest::Approx(-4.5).epsilon(1e-6));
        CHECK(held.channels[0].delay_ms == doctest::Approx(3.48).epsilon(1e-6));
        CHECK(held.channels[0].bands[0] == EqBandState{true, FilterKind::peaking, 125.0, -6.0, 4.0});
        CHECK(held.channels[0].bands[1].gain_db == doctest::Approx(3.0).epsilon(1e-6));
        CHECK(held.channels[1].gain_db == doctest::Approx(2.5).epsilon(1e-6));
        CHECK(held.channels[1].bands[0].type == FilterKind::high_pass);
        CHECK_FALSE(held.channels[1].bands[1].enabled);
        CHECK(held.channels[2] == ChannelState{0.0, 0.0, false, false, std::vector<EqBandState>(10)});
    }

    TEST_CASE("interrupted pushes end old or new") {
        const unsigned seed = test_seed();
        MESSAGE("interrupted pushes: seed " << seed << " (set LINETUNE_TEST_SEED to repeat another)");
        std::mt19937 random(seed);
        std::uniform_real_distribution<double> unit(0.0, 1.0);

        const DeviceProfile profile = io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json");
        SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
        control::VirtualAmplifier amplifier(profile, state);
        amplifier.start();

        Venue venue = test::memory_venue(1);
        auto& venue_amplifier = venue.amplifiers[0];
        venue_amplifier.profile = profile;
        venue_amplifier.profile_name = profile.name;
        venue_amplifier.limits = profile.limits;
        venue_amplifier.limits.eq.max_bands = owned_bands;
        venue_amplifier.port = amplifier.port();
        const auto limits = venue_amplifier.limits;

        auto options = test::quick_options();
        options.restore_timeout = std::chrono::milliseconds(5000);
        options.retry_interval = std::chrono::milliseconds(10);
        std::atomic<bool> stop{false};
        options.stop_request = &stop;
        const auto journal = test::scratch_dir("push-virtual-amplifier") / "push-journal.json";
        const control::GenericOscAddressScheme scheme;

        std::map<Interruption, TrialCounts> counts;
        for (int trial = 0; trial < 100; ++trial) {
            const auto interruption = static_cast<Interruption>(trial % 4);
            const AmplifierState old_state = random_old_state(random, profile);
            state.replace(old_state);
            amplifier.set_faults({});
            stop = false;

            std::map<std::string, control::ZoneTarget> targets;
            do {
                targets = {{"zone-1", random_target(random, old_state.channels[0].gain_db)},
                           {"zone-2", random_target(random, old_state.channels[1].gain_db)}};
            } while (!control::check_target_limits(venue, targets).empty());

            // Hooks of the interruption, armed below once the plan is known.
            std::size_t stop_at_write = 0;
            std::size_t slow_at_write = 0;
            int slow_operations_left = 0;
            const control::DriverFactory factory = [&](const Amplifier& amp) -> std::unique_ptr<DeviceDriver> {
                control::DriverSettings settings;
                settings.reply_timeout = reply_timeout;
                settings.retries = reply_retries;
                return std::make_unique<InterruptingDriver>(
                    control::make_device_driver(amp, settings),
                    [&](std::size_t write_number) {
                        if (write_number == stop_at_write) {
                            stop = true;
                        }
                        if (write_number == slow_at_write) {
                            control::VirtualAmplifierFaults faults;
                            // Later than every attempt of the driver together, so the write times out.
                            faults.reply_delay = static_cast<int>(reply_retries + 2) * reply_timeout;
                            amplifier.set_faults(faults);
                            slow_operations_left = 6;
                        }
                    },
                    [&] {
                        if (slow_operations_left > 0 && --slow_operations_left == 0) {
                            amplifier.set_faults({});
                        }
                    });
            };

            auto push = control::prepare_push(venue, targets, factory, options);
            REQUIRE_FALSE(push.writes.empty());
            AmplifierState new_state = old_state;
            for (const auto& channel : push.plan.devices[0].channels) {
                new_state.channels[channel.channel - 1] = channel.target;
            }
            // Each write is one set packet and one query packet for its read-back.
            auto write_index = static_cast<std::size_t>(unit(random) * static_cast<double>(push.writes.size()));
            switch (interruption) {
            case Interruption::drop: {
                control::VirtualAmplifierFaults faults;
                faults.drop_after_packets = static_cast<std::size_t>(unit(random) * 2.0 * static_cast<double>(push.writes.size()));
                faults.outage = std::chrono::milliseconds(20 + static_cast<int>(unit(random) * 130.0));
                amplifier.set_faults(faults);
                break;
            }
            case Interruption::refuse: {
                // A refusal stops the push at the first write to that address: earlier writes to
                // it would have changed it, and the refusal would then also block its restore.
                const auto address = scheme.address(push.writes[write_index].write.id);
                for (std::size_t i = 0; i < write_index; ++i) {
                    if (scheme.address(push.writes[i].write.id) == address) {
                        write_index = i;
                        break;
                    }
                }
                control::VirtualAmplifierFaults faults;
                faults.refused_parameters = {scheme.address(push.writes[write_index].write.id)};
                amplifier.set_faults(faults);
                break;
            }
            case Interruption::stop:
                // The stop is noticed before the next write, so it is requested before one of
                // the first n - 1 writes.
                REQUIRE(push.writes.size() >= 2);
                write_index = std::min(write_index, push.writes.size() - 2);
                stop_at_write = write_index + 1;
                break;
            case Interruption::slow: slow_at_write = write_index + 1; break;
            }

            const auto report = control::execute_push(push, journal, options);
            amplifier.set_faults({});
            const auto final_state = state.snapshot();
            const bool is_new = channels_match(new_state, final_state, limits);
            const bool is_old = channels_match(old_state, final_state, limits);

            INFO("seed " << seed << ", trial " << trial << " (" << std::string(name_of(interruption)) << "), write " << write_index + 1
                         << " of " << push.writes.size() << "\n" << report.failure);
            CHECK((is_new || is_old));
            CHECK(report.succeeded() == is_new);
            CHECK_FALSE(report.journal_kept);
            CHECK_FALSE(std::filesystem::exists(journal));
            for (const auto& device : report.devices) {
                CHECK(device.outcome != control::DeviceOutcome::failed);
            }
            (is_new ? counts[interruption].ended_new : counts[interruption].ended_old) += 1;
            std::filesystem::remove(journal);  // a failed trial must not block the next ones
        }
        amplifier.stop();

        for (const auto& [interruption, count] : counts) {
            MESSAGE(std::string(name_of(interruption)) << ": " << count.ended_old << " restored to the old state, " << count.ended_new
                                          << " completed");
        }
        // Refusals and stop requests always land inside the push, so those end in the old state.
        CHECK(counts[Interruption::refuse].ended_old == 25);
        CHECK(counts[Interruption::stop].ended_old == 25);
    }
}

}  // namespace
}  // namespace linetune
