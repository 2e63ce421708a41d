// The order of a push's writes: after every write, no frequency is louder than in both the old
// and the new state of the channel.

#include "test_push_support.hpp"

#include "linetune/analysis/biquad.hpp"
#include "linetune/control/channel_loudness.hpp"
#include "linetune/control/write_order.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

namespace linetune {
namespace {

using control::ParameterWrite;

constexpr double sample_rate_hz = 48000.0;
constexpr double loudness_tolerance_db = 0.01;

/// 1/24-octave grid from 20 Hz to 20 kHz.
std::vector<double> check_grid_hz() {
    std::vector<double> grid;
    for (int k = 0; 20.0 * std::exp2(k / 24.0) <= 20000.0; ++k) {
        grid.push_back(20.0 * std::exp2(k / 24.0));
    }
    return grid;
}

/// Computes the channel's magnitude in dB at each frequency from the biquads: silence when muted,
/// else the gain plus every enabled band.
std::vector<double> magnitude_db(const ChannelState& state, const std::vector<double>& grid) {
    std::vector<double> result(grid.size(), -std::numeric_limits<double>::infinity());
    if (state.mute) {
        return result;
    }
    for (std::size_t i = 0; i < grid.size(); ++i) {
        result[i] = state.gain_db;
        for (const auto& band : state.bands) {
            if (band.enabled) {
                result[i] += analysis::band_magnitude_db(analysis::parametric_band_of(band), grid[i], sample_rate_hz);
            }
        }
    }
    return result;
}

/// Returns the channel's state after each write, the last one included.
std::vector<ChannelState> states_after_writes(ChannelState state, const control::ChannelWritePlan& plan) {
    std::vector<ChannelState> states;
    for (const auto& phased : plan.writes) {
        control::apply_write(state, phased.write);
        states.push_back(state);
    }
    return states;
}

/// Largest excess of any intermediate state over max(old, new) on the check grid, in dB.
double worst_excess_db(const ChannelState& from, const ChannelState& to, const control::ChannelWritePlan& plan) {
    const auto grid = check_grid_hz();
    const auto old_db = magnitude_db(from, grid);
    const auto new_db = magnitude_db(to, grid);
    double worst = 0.0;
    for (const auto& state : states_after_writes(from, plan)) {
        const auto state_db = magnitude_db(state, grid);
        for (std::size_t i = 0; i < grid.size(); ++i) {
            if (state_db[i] == -std::numeric_limits<double>::infinity()) {
                continue;
            }
            worst = std::max(worst, state_db[i] - std::max(old_db[i], new_db[i]));
        }
    }
    return worst;
}

ChannelState channel_with_bands(double gain_db, std::vector<EqBandState> bands) {
    ChannelState state;
    state.gain_db = gain_db;
    state.bands = std::move(bands);
    state.bands.resize(4);
    return state;
}

EqBandState band(FilterKind type, double freq_hz, double gain_db, double q) { return {true, type, freq_hz, gain_db, q}; }

bool writes_kind(const control::ChannelWritePlan& plan, ParameterKind kind) {
    return std::any_of(plan.writes.begin(), plan.writes.end(),
                       [&](const control::PhasedWrite& phased) { return phased.write.id.kind == kind; });
}

unsigned test_seed() {
    if (const char* text = std::getenv("LINETUNE_TEST_SEED")) {
        return static_cast<unsigned>(std::strtoul(text, nullptr, 10));
    }
    return 20241204u;
}

/// Draws a random owned-band state: each of 4 bands enabled with probability 0.7, a random type,
/// frequency log-uniform over 20 Hz to 20 kHz, gain −12 to +12 dB in 0.1 dB steps, Q log-uniform
/// over 0.3 to 10.
ChannelState random_channel(std::mt19937& random) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    ChannelState state;
    state.gain_db = std::round((-20.0 + 26.0 * unit(random)) * 10.0) / 10.0;
    state.delay_ms = std::round(unit(random) * 5000.0) / 100.0;
    for (int b = 0; b < 4; ++b) {
        EqBandState band_state;
        band_state.enabled = unit(random) < 0.7;
        band_state.type = static_cast<FilterKind>(std::min(4, static_cast<int>(unit(random) * 5.0)));
        band_state.freq_hz = 20.0 * std::pow(1000.0, unit(random));
        band_state.gain_db = std::round((-12.0 + 24.0 * unit(random)) * 10.0) / 10.0;
        band_state.q = 0.3 * std::pow(10.0 / 0.3, unit(random));
        state.bands.push_back(band_state);
    }
    return state;
}

TEST_SUITE("push write order") {
    TEST_CASE("boost with lower gain stays under both") {
        // Old: 0 dB with +2 dB at 1 kHz. New: −3 dB with +5 dB at 1 kHz. The gain goes down
        // first, so the boost never meets the old gain.
        const auto from = channel_with_bands(0.0, {band(FilterKind::peaking, 1000.0, 2.0, 1.4)});
        const auto to = channel_with_bands(-3.0, {band(FilterKind::peaking, 1000.0, 5.0, 1.4)});

        const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        REQUIRE(plan.writes.size() == 2);
        CHECK(plan.writes[0].write == ParameterWrite{{1, ParameterKind::gain_db, 0}, -3.0});
        CHECK(plan.writes[1].write == ParameterWrite{{1, ParameterKind::band_gain_db, 1}, 5.0});
        CHECK(worst_excess_db(from, to, plan) <= loudness_tolerance_db);
        CHECK(states_after_writes(from, plan).back() == to);
        CHECK_FALSE(plan.muted_during_changes);
    }

    TEST_CASE("cut before gain increase") {
        const auto from = channel_with_bands(-6.0, {band(FilterKind::peaking, 250.0, 3.0, 2.0)});
        const auto to = channel_with_bands(-4.0, {band(FilterKind::peaking, 250.0, -2.0, 2.0)});

        const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        REQUIRE(plan.writes.size() == 2);
        CHECK(plan.writes.front().write.id.kind == ParameterKind::band_gain_db);
        CHECK(plan.writes.front().phase == control::WritePhase::reduce);
        CHECK(plan.writes.back().write == ParameterWrite{{1, ParameterKind::gain_db, 0}, -4.0});
        CHECK(plan.writes.back().phase == control::WritePhase::raise);
        CHECK(worst_excess_db(from, to, plan) <= loudness_tolerance_db);
    }

    TEST_CASE("shape change bump lowers gain first") {
        // A +6 dB low shelf at 200 Hz becomes a +6 dB peak at 2 kHz. Changing the type first
        // gives a peak at 200 Hz, above the old shelf's +3 dB there. Moving the frequency first
        // gives a shelf at 2 kHz, lifting 1 kHz by about 5 dB. Either order bumps, so the gain
        // has to make room.
        const auto from = channel_with_bands(0.0, {band(FilterKind::low_shelf, 200.0, 6.0, 0.71)});
        const auto to = channel_with_bands(0.0, {band(FilterKind::peaking, 2000.0, 6.0, 0.71)});

        const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        CHECK(plan.gain_margin_db > 0.5);
        CHECK_FALSE(plan.muted_during_changes);
        CHECK(plan.writes.front().write.id.kind == ParameterKind::gain_db);
        CHECK(std::get<double>(plan.writes.front().write.value) <= -plan.gain_margin_db + 1e-9);
        CHECK(plan.writes.back().write == ParameterWrite{{1, ParameterKind::gain_db, 0}, 0.0});
        CHECK(worst_excess_db(from, to, plan) <= loudness_tolerance_db);
        CHECK(states_after_writes(from, plan).back() == to);
    }

    TEST_CASE("shape change near gain floor mutes") {
        const auto from = channel_with_bands(-39.5, {band(FilterKind::low_shelf, 200.0, 6.0, 0.71)});
        const auto to = channel_with_bands(-39.5, {band(FilterKind::peaking, 2000.0, 6.0, 0.71)});

        const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        CHECK(plan.muted_during_changes);
        CHECK(plan.writes.front().write == ParameterWrite{{1, ParameterKind::mute, 0}, true});
        CHECK(plan.writes.back().write == ParameterWrite{{1, ParameterKind::mute, 0}, false});
        CHECK(worst_excess_db(from, to, plan) <= loudness_tolerance_db);
        CHECK(states_after_writes(from, plan).back() == to);
    }

    TEST_CASE("muted channel is never unmuted") {
        auto from = channel_with_bands(-6.0, {band(FilterKind::low_shelf, 200.0, 6.0, 0.71)});
        auto to = channel_with_bands(0.0, {band(FilterKind::peaking, 2000.0, 6.0, 0.71)});
        from.mute = true;
        to.mute = true;

        const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        CHECK_FALSE(writes_kind(plan, ParameterKind::mute));
        for (const auto& state : states_after_writes(from, plan)) {
            CHECK(state.mute);
        }
        CHECK(states_after_writes(from, plan).back() == to);
    }

    TEST_CASE("polarity flip is made while muted") {
        const auto from = channel_with_bands(-3.0, {});
        auto to = from;
        to.polarity_inverted = true;

        const auto plan = control::order_channel_writes(2, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        REQUIRE(plan.writes.size() == 3);
        CHECK(plan.writes[0].write == ParameterWrite{{2, ParameterKind::mute, 0}, true});
        CHECK(plan.writes[1].write == ParameterWrite{{2, ParameterKind::polarity_inverted, 0}, true});
        CHECK(plan.writes[2].write == ParameterWrite{{2, ParameterKind::mute, 0}, false});
    }

    TEST_CASE("disabled band shaped before enabling") {
        const auto from = channel_with_bands(0.0, {});
        const auto to = channel_with_bands(-2.0, {band(FilterKind::high_shelf, 8000.0, 3.0, 0.71)});

        const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

        REQUIRE(plan.writes.size() >= 3);
        CHECK(plan.writes[0].write.id.kind == ParameterKind::gain_db);
        CHECK(plan.writes.back().write == ParameterWrite{{1, ParameterKind::band_enabled, 1}, true});
        CHECK(worst_excess_db(from, to, plan) <= loudness_tolerance_db);
    }

    TEST_CASE("phases never go backwards") {
        std::mt19937 random(test_seed());
        for (int trial = 0; trial < 50; ++trial) {
            const auto from = random_channel(random);
            const auto to = random_channel(random);
            const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);
            for (std::size_t i = 1; i < plan.writes.size(); ++i) {
                CHECK(plan.writes[i - 1].phase <= plan.writes[i].phase);
            }
        }
    }

    TEST_CASE("flattening bands without band enable stays under both") {
        // A device without per-band enable (the X32) keeps every band on. A band the correction
        // does not use becomes 0 dB peaking, and no enable write can hide that type change.
        std::mt19937 random(test_seed() + 7u);
        for (int trial = 0; trial < 100; ++trial) {
            CAPTURE(trial);
            ChannelState from = random_channel(random);
            for (auto& band_state : from.bands) {
                band_state.enabled = true;
            }
            control::ZoneTarget target;
            target.setting.gain_db = std::round(from.gain_db + 3.0 * std::sin(trial));
            target.setting.delay_ms = from.delay_ms;
            target.setting.bands = {{analysis::FilterType::peaking, 250.0 + 20.0 * trial, -4.0, 1.2}};
            const auto limits = test::memory_amplifier_limits();
            const auto to = control::target_channel_state(from, target, limits, false);
            const auto plan = control::order_channel_writes(1, from, to, limits, sample_rate_hz);

            CHECK_FALSE(writes_kind(plan, ParameterKind::band_enabled));
            CHECK(worst_excess_db(from, to, plan) <= loudness_tolerance_db);
            for (std::size_t b = 1; b < to.bands.size(); ++b) {
                CHECK(to.bands[b].enabled);
                CHECK(to.bands[b].type == FilterKind::peaking);
                CHECK(to.bands[b].gain_db == 0.0);
            }
        }
    }

    TEST_CASE("random plans stay under old and new") {
        const unsigned seed = test_seed();
        MESSAGE("random plans: seed " << seed << " (set LINETUNE_TEST_SEED to repeat another)");
        std::mt19937 random(seed);
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        int muted_plans = 0;
        int margin_plans = 0;
        double largest_excess_db = 0.0;
        for (int trial = 0; trial < 300; ++trial) {
            const auto from_base = random_channel(random);
            auto to = random_channel(random);
            auto from = from_base;
            // A push keeps the mute state; a restore may unmute a channel the push had muted.
            from.mute = unit(random) < 0.1;
            to.mute = unit(random) < 0.15 ? !from.mute : from.mute;
            to.polarity_inverted = unit(random) < 0.1 ? !from.polarity_inverted : from.polarity_inverted;

            const auto plan = control::order_channel_writes(1, from, to, test::memory_amplifier_limits(), sample_rate_hz);

            INFO("seed " << seed << ", trial " << trial);
            const double excess_db = worst_excess_db(from, to, plan);
            CHECK(excess_db <= loudness_tolerance_db);
            CHECK(states_after_writes(from, plan).back() == to);
            largest_excess_db = std::max(largest_excess_db, excess_db);
            muted_plans += plan.muted_during_changes ? 1 : 0;
            margin_plans += plan.gain_margin_db > 0.0 ? 1 : 0;
        }
        MESSAGE("random plans: " << margin_plans << " lowered the gain, " << muted_plans << " muted, largest excess "
                                 << largest_excess_db << " dB");
        // The random states must exercise the gain margin, or the test proves little.
        CHECK(margin_plans > 10);
    }
}

}  // namespace
}  // namespace linetune
