#include "linetune/correction/system_alignment.hpp"
#include "linetune/simulation/builtin_rig.hpp"

#include "rig_responses.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

// Subs aligned to the mains by phase at the crossover, on the built-in simulated rig (hang L of
// three zones, ground subs with a 4 ms preset latency, measured room reflections).

namespace {

using namespace linetune;

// The alignment must find a known change of the subs' timing to this.
constexpr double recovered_offset_tolerance_ms = 0.1;
// And leave the sum at the crossover at most this far under |subs| + |mains| at the reference.
constexpr double max_below_coherent_sum_db = 1.0;
// A sub delay change that is not a whole cycle at any plausible crossover (1/3 cycle at 90 Hz).
constexpr double sub_misalignment_ms = 3.7;

const std::vector<std::string> hang_zones{"L-long", "L-mid", "L-near"};
const std::vector<std::string> sub_mics{"front-left", "near-left", "mid-centre", "mid-left"};
const std::vector<std::string> reference_mic{"mid-centre"};

simulation::RigModel rig_with_sub_latency(double extra_latency_ms) {
    auto model = simulation::builtin_rig();
    for (auto& source : model.sources) {
        if (source.zone == "subs") {
            source.loudspeaker.latency_ms += extra_latency_ms;
        }
    }
    return model;
}

const simulation::RigTransferFunctions& builtin_rig() {
    static const simulation::RigTransferFunctions rig(simulation::builtin_rig());
    return rig;
}

correction::CrossoverAlignment align(const simulation::RigTransferFunctions& rig, double sub_polarity = 1.0) {
    const auto subs =
        test::rig_responses(rig, {"subs"}, sub_mics, {sub_polarity, 0.0, correction::crossover_window_cycles});
    const auto mains = test::rig_responses(rig, hang_zones, sub_mics, {1.0, 0.0, correction::crossover_window_cycles});
    return correction::align_subs_at_crossover(subs, mains, reference_mic, {}, {});
}

}  // namespace

TEST_SUITE("subs aligned at the crossover") {

TEST_CASE("phase alignment reaches the coherent sum at the reference mic") {
    const auto result = align(builtin_rig());
    MESSAGE("crossover " << result.crossover_hz << " Hz, offset " << result.offset_ms << " ms, "
                         << result.below_coherent_sum_db << " dB under the coherent sum");
    CHECK(result.crossover_hz > 60.0);
    CHECK(result.crossover_hz < 200.0);
    CHECK_FALSE(result.polarity_fault);
    CHECK(result.below_coherent_sum_db <= max_below_coherent_sum_db);
}

TEST_CASE("phase alignment over an area stays near the coherent sum") {
    const std::vector<std::string> area{"mid-centre", "near-left"};
    const auto subs = test::rig_responses(builtin_rig(), {"subs"}, sub_mics, {1.0, 0.0, correction::crossover_window_cycles});
    const auto mains =
        test::rig_responses(builtin_rig(), hang_zones, sub_mics, {1.0, 0.0, correction::crossover_window_cycles});
    const auto result = correction::align_subs_at_crossover(subs, mains, area, {}, {});
    MESSAGE("area: offset " << result.offset_ms << " ms, " << result.below_coherent_sum_db << " dB under the coherent sum");
    CHECK_FALSE(result.polarity_fault);
    CHECK(result.below_coherent_sum_db <= max_below_coherent_sum_db);
}

TEST_CASE("phase alignment recovers a sub misalignment within 0.1 ms") {
    const auto reference = align(builtin_rig());
    const simulation::RigTransferFunctions late_rig(rig_with_sub_latency(sub_misalignment_ms));
    const auto late = align(late_rig);
    MESSAGE("offset " << reference.offset_ms << " ms, with the subs " << sub_misalignment_ms << " ms late "
                      << late.offset_ms << " ms");
    // Subs that arrive later need that much less delay against the mains.
    CHECK(std::fabs(reference.offset_ms - late.offset_ms - sub_misalignment_ms) <= recovered_offset_tolerance_ms);
    CHECK_FALSE(late.polarity_fault);
    CHECK(late.below_coherent_sum_db <= max_below_coherent_sum_db);
}

TEST_CASE("inverted subs are flagged as a polarity fault") {
    const auto normal = align(builtin_rig());
    const auto inverted = align(builtin_rig(), -1.0);
    CHECK_FALSE(normal.polarity_fault);
    CHECK(inverted.polarity_fault);
    // The offset is the one for corrected polarity, so it matches the normal rig's.
    CHECK(std::fabs(inverted.offset_ms - normal.offset_ms) <= recovered_offset_tolerance_ms);
}

TEST_CASE("alignment reports the phase at every mic") {
    const auto result = align(builtin_rig());
    REQUIRE(result.mics.size() == sub_mics.size());
    for (const auto& at_mic : result.mics) {
        CAPTURE(at_mic.mic);
        MESSAGE(at_mic.mic << ": " << at_mic.phase_difference_deg << " deg, " << at_mic.below_coherent_sum_db << " dB");
        CHECK(at_mic.in_phase == (std::fabs(at_mic.phase_difference_deg) <= 60.0));
        if (at_mic.mic == "mid-centre") {
            CHECK(at_mic.in_phase);
            CHECK(std::fabs(at_mic.phase_difference_deg) < 1.0);
        }
    }
}

TEST_CASE("crossover alignment moves the subs and keeps delays non-negative") {
    std::vector<correction::ZoneAlignment> alignments{{"L-mid", 0.0, 0.0, {}, false},
                                                      {"subs", 5.0, 0.0, {}, false},
                                                      {"front-fill", 7.0, 0.0, {}, false}};
    correction::CrossoverAlignment crossover;
    crossover.offset_ms = -2.5;
    const std::vector<std::string> subs{"subs"};
    correction::apply_crossover_alignment(alignments, subs, "L-mid", crossover);
    // The subs must lead the mains by 2.5 ms, so everything else moves 2.5 ms later.
    CHECK(alignments[0].delay_ms == doctest::Approx(2.5));
    CHECK(alignments[1].delay_ms == doctest::Approx(0.0));
    CHECK(alignments[2].delay_ms == doctest::Approx(9.5));
}

TEST_CASE("crossover alignment rejects a reference mic without both systems") {
    const auto subs = test::rig_responses(builtin_rig(), {"subs"}, {"mid-centre"});
    const auto mains = test::rig_responses(builtin_rig(), {"L-mid"}, {"rear-left"});
    const std::vector<std::string> reference{"mid-centre"};
    CHECK(test::error_message([&] { (void)correction::align_subs_at_crossover(subs, mains, reference, {}, {}); })
              .find("no reference microphone has measurements of both") != std::string::npos);
}

}
