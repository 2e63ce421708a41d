#include "linetune/correction/alignment.hpp"
#include "linetune/analysis/arrival.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include "reference_biquad.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

using linetune::correction::align_zones;
using linetune::correction::AlignmentOptions;
using linetune::correction::ZoneAlignment;
using linetune::correction::ZoneArrivals;

namespace {

constexpr double sample_rate_hz = 48000.0;
// Required precision of a delay recovered from impulse responses through arrival estimation:
// 0.002 ms is 0.096 samples at 48 kHz, twice the arrival estimator's 0.05-sample precision.
constexpr double recovered_delay_tolerance_ms = 0.002;
// Delays and gains computed from given numbers are pure arithmetic; this only absorbs rounding.
constexpr double arithmetic_tolerance = 1e-9;
// Level shading must follow the target offsets within this.
constexpr double level_tolerance_db = 0.1;

using linetune::test::add_band_limited_impulse;

/// An impulse response with its direct sound at `position` samples, a reflection 4.1 ms later
/// and Gaussian noise 60 dB below the direct sound.
std::vector<float> synthetic_impulse_response(double position, unsigned seed) {
    std::vector<float> ir(8192, 0.0F);
    add_band_limited_impulse(ir, position, 0.5);
    add_band_limited_impulse(ir, position + linetune::samples_from_ms(4.1, sample_rate_hz), 0.2);
    std::mt19937 generator(seed);
    std::normal_distribution<double> normal(0.0, 0.5 * linetune::amplitude_from_db(-60.0));
    for (auto& sample : ir) {
        sample += static_cast<float>(normal(generator));
    }
    return ir;
}

double estimated_arrival_ms(double position, unsigned seed) {
    const auto ir = synthetic_impulse_response(position, seed);
    const auto arrival = linetune::analysis::estimate_arrival(ir, sample_rate_hz);
    return linetune::ms_from_samples(arrival.arrival_sample, sample_rate_hz);
}

ZoneArrivals make_zone(const std::string& name, const std::string& hang, const std::string& system) {
    ZoneArrivals zone;
    zone.zone = name;
    zone.hang = hang;
    zone.system = system;
    return zone;
}

const ZoneAlignment& find(const std::vector<ZoneAlignment>& results, const std::string& zone) {
    const auto it = std::find_if(results.begin(), results.end(), [&](const auto& result) { return result.zone == zone; });
    REQUIRE(it != results.end());
    return *it;
}

bool any_note_contains(const ZoneAlignment& result, const std::string& text) {
    return std::any_of(result.notes.begin(), result.notes.end(),
                       [&](const std::string& note) { return note.find(text) != std::string::npos; });
}

/// Mains and fills heard at two mics; the fills arrive fills_lead_ms earlier at both.
std::vector<ZoneArrivals> mains_and_fills(double fills_lead_ms) {
    auto mains = make_zone("main", "", "mains");
    auto fills = make_zone("fill", "", "fills");
    mains.arrival_ms = {{"m1", 40.0}, {"m2", 55.0}};
    fills.arrival_ms = {{"m1", 40.0 - fills_lead_ms}, {"m2", 55.0 - fills_lead_ms}};
    return {mains, fills};
}

}  // namespace

TEST_SUITE("alignment") {
    TEST_CASE("inter-system delay recovered within 0.002 ms") {
        // The fills lead the mains by 5.4321 ms (260.7408 samples) at both mics, at fractional
        // sample positions; the fills must be delayed by exactly that.
        const double lead_samples = linetune::samples_from_ms(5.4321, sample_rate_hz);
        const std::vector<double> mains_positions{2400.37, 2950.81};
        auto mains = make_zone("main L", "L", "mains");
        auto fills = make_zone("front fill", "", "fills");
        unsigned seed = 7;
        for (std::size_t mic = 0; mic < mains_positions.size(); ++mic) {
            const std::string name = "mic " + std::to_string(mic + 1);
            mains.arrival_ms[name] = estimated_arrival_ms(mains_positions[mic], seed++);
            fills.arrival_ms[name] = estimated_arrival_ms(mains_positions[mic] - lead_samples, seed++);
        }
        const auto results = align_zones(std::vector<ZoneArrivals>{mains, fills}, AlignmentOptions{});

        CHECK(std::fabs(find(results, "front fill").delay_ms - 5.4321) <= recovered_delay_tolerance_ms);
        CHECK(find(results, "main L").delay_ms == 0.0);
        CHECK(any_note_contains(find(results, "front fill"), "from 2 mics ('mic 1', 'mic 2'): median 5.43"));
    }

    TEST_CASE("precedence is added") {
        auto zones = mains_and_fills(5.0);
        zones[1].precedence_ms = 10.0;
        const auto results = align_zones(zones, AlignmentOptions{});

        CHECK(find(results, "fill").delay_ms == doctest::Approx(15.0).epsilon(arithmetic_tolerance));
        CHECK(find(results, "main").delay_ms == 0.0);
    }

    TEST_CASE("device latency difference is corrected") {
        auto zones = mains_and_fills(5.0);
        zones[0].device_latency_ms = 1.0;
        zones[1].device_latency_ms = 3.0;
        const auto results = align_zones(zones, AlignmentOptions{});

        // The fills' sound leaves 2 ms later than the mains', so they need 2 ms less delay.
        CHECK(find(results, "fill").delay_ms == doctest::Approx(3.0).epsilon(arithmetic_tolerance));
    }

    TEST_CASE("later system shifts the reference") {
        auto mains = make_zone("main", "", "mains");
        auto subs = make_zone("sub", "", "subs");
        mains.arrival_ms = {{"m1", 30.0}};
        subs.arrival_ms = {{"m1", 33.5}};
        const auto results = align_zones(std::vector<ZoneArrivals>{mains, subs}, AlignmentOptions{});

        CHECK(find(results, "sub").delay_ms == 0.0);
        CHECK(find(results, "main").delay_ms == doctest::Approx(3.5).epsilon(arithmetic_tolerance));
    }

    TEST_CASE("hang zones share one delay") {
        // The subs arrive 4 ms after the mains' loudest zone, so the whole main hang is delayed by
        // 4 ms, even though its zones arrive 1.2 ms apart.
        auto top = make_zone("L top", "L", "mains");
        auto bottom = make_zone("L bottom", "L", "mains");
        auto subs = make_zone("subs", "", "subs");
        top.arrival_ms = {{"m1", 30.0}, {"m2", 41.0}};
        bottom.arrival_ms = {{"m1", 31.2}, {"m2", 42.2}};
        top.level_db = {{"m1", 96.0}, {"m2", 95.0}};
        bottom.level_db = {{"m1", 90.0}, {"m2", 89.0}};
        subs.arrival_ms = {{"m1", 34.0}, {"m2", 45.0}};
        const auto results = align_zones(std::vector<ZoneArrivals>{top, bottom, subs}, AlignmentOptions{});

        CHECK(find(results, "L top").delay_ms == find(results, "L bottom").delay_ms);
        CHECK(find(results, "L top").delay_ms == doctest::Approx(4.0).epsilon(arithmetic_tolerance));
        CHECK(find(results, "subs").delay_ms == 0.0);
    }

    TEST_CASE("delay median ignores one wrong mic") {
        auto zones = mains_and_fills(5.0);
        zones[0].arrival_ms["m3"] = 60.0;
        zones[1].arrival_ms["m3"] = 60.0 - 5.2;
        zones[0].arrival_ms["m4"] = 70.0;
        zones[1].arrival_ms["m4"] = 70.0 - 25.0;  // a reflection taken as the fills' direct sound
        const auto results = align_zones(zones, AlignmentOptions{});

        // Median of 5, 5, 5.2 and 25 ms.
        CHECK(find(results, "fill").delay_ms == doctest::Approx(5.1).epsilon(arithmetic_tolerance));
        CHECK(any_note_contains(find(results, "fill"), "spread 20.000 ms"));
    }

    TEST_CASE("inverted polarity is flagged") {
        auto top = make_zone("L top", "L", "mains");
        auto middle = make_zone("L mid", "L", "mains");
        auto bottom = make_zone("L bottom", "L", "mains");
        top.polarity = {{"m1", 1}, {"m2", 1}};
        middle.polarity = {{"m1", -1}, {"m2", -1}};
        bottom.polarity = {{"m1", 1}, {"m2", 1}};
        for (auto* zone : {&top, &middle, &bottom}) {
            zone->level_db = {{"m1", 95.0}, {"m2", 95.0}};
        }
        const auto results = align_zones(std::vector<ZoneArrivals>{top, middle, bottom}, AlignmentOptions{});

        CHECK(find(results, "L mid").polarity_fault);
        CHECK(any_note_contains(find(results, "L mid"), "wiring fault?"));
        CHECK_FALSE(find(results, "L top").polarity_fault);
        CHECK_FALSE(find(results, "L bottom").polarity_fault);
        // Not compensated: the inverted zone gets the same delay and gain as its neighbours.
        CHECK(find(results, "L mid").gain_db == doctest::Approx(0.0).epsilon(arithmetic_tolerance));
        CHECK(find(results, "L mid").delay_ms == 0.0);
    }

    TEST_CASE("evenly split hang is not flagged") {
        auto upper = make_zone("R upper", "R", "mains");
        auto lower = make_zone("R lower", "R", "mains");
        upper.polarity = {{"m1", 1}};
        lower.polarity = {{"m1", -1}};
        const auto results = align_zones(std::vector<ZoneArrivals>{upper, lower}, AlignmentOptions{});

        CHECK_FALSE(find(results, "R upper").polarity_fault);
        CHECK_FALSE(find(results, "R lower").polarity_fault);
        CHECK(any_note_contains(find(results, "R lower"), "cannot be told apart: wiring fault?"));
    }

    TEST_CASE("polarity reference decides a split hang") {
        auto upper = make_zone("R upper", "R", "mains");
        auto lower = make_zone("R lower", "R", "mains");
        upper.polarity = {{"m1", 1}};
        upper.polarity_reference = true;
        lower.polarity = {{"m1", -1}};
        const auto results = align_zones(std::vector<ZoneArrivals>{upper, lower}, AlignmentOptions{});

        CHECK_FALSE(find(results, "R upper").polarity_fault);
        CHECK(find(results, "R lower").polarity_fault);
        CHECK(any_note_contains(find(results, "R lower"), "wiring fault?"));
    }

    TEST_CASE("level offsets followed within 0.1 dB") {
        auto top = make_zone("L top", "L", "mains");
        auto bottom = make_zone("L bottom", "L", "mains");
        auto fills = make_zone("fill", "", "fills");
        auto tower = make_zone("tower", "", "delay_towers");
        top.level_db = {{"m1", 98.0}, {"m2", 96.0}};  // mean 97 dB
        bottom.level_db = {{"m3", 101.5}};
        bottom.level_offset_db = -3.0;
        fills.level_db = {{"m4", 88.0}, {"m5", 86.0}};  // mean 87 dB
        fills.level_offset_db = -2.0;
        tower.level_db = {{"m6", 91.0}};
        for (auto* zone : {&top, &bottom, &fills, &tower}) {
            zone->arrival_ms = {{"m1", 30.0}};
        }
        const std::vector<ZoneArrivals> zones{top, bottom, fills, tower};
        const auto results = align_zones(zones, AlignmentOptions{});

        // Reference level: mean of (97 − 0) and (101.5 + 3) = 100.75 dB.
        const double reference_level_db = 100.75;
        const std::vector<double> measured_db{97.0, 101.5, 87.0, 91.0};
        for (std::size_t i = 0; i < zones.size(); ++i) {
            CAPTURE(zones[i].zone);
            const double tuned_db = measured_db[i] + results[i].gain_db;
            CHECK(std::fabs(tuned_db - (reference_level_db + zones[i].level_offset_db)) <= level_tolerance_db);
        }
        CHECK(results[0].gain_db + results[1].gain_db == doctest::Approx(0.0).epsilon(arithmetic_tolerance));
    }

    TEST_CASE("gain is clamped with a note") {
        auto mains = make_zone("main", "", "mains");
        auto fills = make_zone("fill", "", "fills");
        mains.level_db = {{"m1", 100.0}};
        fills.level_db = {{"m2", 80.0}};
        mains.arrival_ms = {{"m1", 30.0}};
        fills.arrival_ms = {{"m1", 28.0}};
        AlignmentOptions options;
        options.max_gain_db = 6.0;
        const auto results = align_zones(std::vector<ZoneArrivals>{mains, fills}, options);

        CHECK(find(results, "fill").gain_db == 6.0);
        CHECK(any_note_contains(find(results, "fill"),
                                "gain +20.0 dB clamped to +6.0 dB (limits -40 dB to +6 dB); the zone misses its "
                                "target level"));
    }

    TEST_CASE("relative timing is refused between systems") {
        auto zones = mains_and_fills(5.0);
        zones[1].absolute_timing = false;
        const auto message = linetune::test::error_message([&] { align_zones(zones, AlignmentOptions{}); });

        CHECK(message ==
              "zones 'fill' have no absolute time base (no loopback reference or recorded start time), so their "
              "arrival times cannot be compared with those of other recordings and the delays between systems "
              "'mains', 'fills' cannot be derived; measure with a loopback channel or set these delays by hand");
    }

    TEST_CASE("one system needs no absolute timing") {
        auto left = make_zone("L", "L", "mains");
        auto right = make_zone("R", "R", "mains");
        left.arrival_ms = {{"m1", 20.0}};
        right.arrival_ms = {{"m1", 26.0}};
        left.absolute_timing = false;
        right.absolute_timing = false;
        const auto results = align_zones(std::vector<ZoneArrivals>{left, right}, AlignmentOptions{});

        CHECK(results[0].delay_ms == 0.0);
        CHECK(results[1].delay_ms == 0.0);
        CHECK(any_note_contains(results[0], "only system 'mains' is present: no delay between systems"));
    }

    TEST_CASE("delay above the limit names the zones") {
        auto zones = mains_and_fills(1200.0);
        const auto message = linetune::test::error_message([&] { align_zones(zones, AlignmentOptions{}); });

        CHECK(message ==
              "zones 'fill' need up to 1200.000 ms of delay, above the limit 1000 ms (the venue's max_distance_m "
              "divided by the speed of sound); check their arrival times and time base, or raise max_distance_m "
              "if the venue is that deep");
    }

    TEST_CASE("unit without a shared mic is rejected") {
        auto zones = mains_and_fills(5.0);
        zones[1].arrival_ms = {{"m9", 12.0}};
        const auto message = linetune::test::error_message([&] { align_zones(zones, AlignmentOptions{}); });

        CHECK(message ==
              "zone 'fill' (system 'fills') shares no mic with the reference system 'mains'; measure both systems "
              "at one mic position or more");
    }

    TEST_CASE("invalid zones and options throw") {
        auto spanning = mains_and_fills(5.0);
        spanning[0].hang = "L";
        spanning[1].hang = "L";
        CHECK(linetune::test::error_message([&] { align_zones(spanning, AlignmentOptions{}); }) ==
              "hang 'L' has zone 'main' in system 'mains' and zone 'fill' in system 'fills'; a hang belongs to one "
              "system");

        auto inverted = mains_and_fills(5.0);
        inverted[0].polarity = {{"m1", 0}};
        CHECK_THROWS_AS(align_zones(inverted, AlignmentOptions{}), linetune::Error);

        auto duplicate = mains_and_fills(5.0);
        duplicate[1].zone = "main";
        CHECK_THROWS_AS(align_zones(duplicate, AlignmentOptions{}), linetune::Error);

        AlignmentOptions no_reference;
        no_reference.reference_system = "towers";
        CHECK_THROWS_AS(align_zones(mains_and_fills(5.0), no_reference), linetune::Error);

        AlignmentOptions bad_limits;
        bad_limits.max_delay_ms = 0;
        CHECK_THROWS_AS(align_zones(mains_and_fills(5.0), bad_limits), linetune::Error);
    }
}
