#include "linetune/correction/joint_fit.hpp"
#include "linetune/simulation/builtin_rig.hpp"

#include "rig_responses.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

// Joint fitting of several zones' EQ on the summed response, on the built-in simulated rig.
// The two-zone case is hang L's mid and long throw, which overlap at the middle of the hall.

namespace {

using namespace linetune;

// Joint fitting must lower the spatially averaged residual of the sum by at least this fraction.
constexpr double min_joint_reduction = 0.20;
// With drift between the zones' measurements the joint fit may be worse than independent fitting
// by at most this (dB RMS): the figures are RMS deviations on a 1/6-octave grid, whose own noise
// between neighbouring fits is about this size.
constexpr double drift_tolerance_db = 0.02;
// Standard deviation of the drift of each measurement's timing: 0.3 ms is about 1 °C at 60 m.
constexpr double drift_per_measurement_ms = 0.3;

const std::vector<std::string> overlap_mics{"near-left", "mid-centre", "mid-left", "rear-left", "back-left"};

const simulation::RigTransferFunctions& builtin_rig() {
    static const simulation::RigTransferFunctions rig(simulation::builtin_rig());
    return rig;
}

// The weights the built-in venue gives each mic in each zone; 0 where the mic hears the zone but
// does not judge it.
double venue_weight(const std::string& zone, const std::string& mic) {
    const auto model = simulation::builtin_rig();
    for (const auto& position : model.microphones) {
        if (position.name == mic) {
            const auto found = position.zone_weights.find(zone);
            return found == position.zone_weights.end() ? 0.0 : found->second;
        }
    }
    return 0.0;
}

std::vector<correction::JointFitZone> two_zones() {
    std::vector<correction::JointFitZone> zones;
    for (const char* name : {"L-mid", "L-long"}) {
        correction::JointFitZone zone;
        zone.zone = name;
        zone.hang = "L";
        zone.band_low_hz = 60.0;
        zone.band_high_hz = 16000.0;
        zones.push_back(zone);
    }
    return zones;
}

std::vector<correction::TimedResponse> measured(const std::vector<correction::JointFitZone>& zones, double drift_ms,
                                                unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> drift(0.0, drift_ms);
    std::vector<correction::TimedResponse> responses;
    for (const auto& zone : zones) {
        for (const auto& mic : overlap_mics) {
            test::RigMeasurement measurement;
            measurement.extra_delay_ms = drift_ms > 0.0 ? drift(generator) : 0.0;
            auto timed = test::rig_response(builtin_rig(), zone.zone, mic, measurement);
            timed.weight = venue_weight(zone.zone, mic);
            responses.push_back(timed);
        }
    }
    return responses;
}

FrequencyResponse flat_target() {
    FrequencyResponse target;
    target.freq_hz = {20.0, 20000.0};
    target.magnitude_db = {0.0, 0.0};
    return target;
}

double mean_rms_db(const std::vector<correction::SummedResidual>& residuals) {
    double sum = 0.0;
    double weight = 0.0;
    for (const auto& residual : residuals) {
        sum += residual.weight * residual.rms_db;
        weight += residual.weight;
    }
    return sum / weight;
}

}  // namespace

TEST_SUITE("joint fit") {

TEST_CASE("joint fit lowers the overlap residual by 20 percent") {
    const auto zones = two_zones();
    const auto responses = measured(zones, 0.0, 1);
    correction::JointFitOptions options;
    options.timing_spread_ms = 0.0;
    const auto result = correction::fit_jointly(zones, responses, flat_target(), options);
    MESSAGE("spatially averaged residual: " << result.mean_rms_uncorrected_db << " dB uncorrected, "
                                            << result.mean_rms_independent_db << " dB independent, "
                                            << result.mean_rms_joint_db << " dB joint, " << result.iterations
                                            << " iterations");
    CHECK(result.mean_rms_joint_db <= (1.0 - min_joint_reduction) * result.mean_rms_independent_db);
    CHECK(result.mean_rms_independent_db < result.mean_rms_uncorrected_db);
    for (const auto& mic : result.mics) {
        MESSAGE(mic.mic << ": independent " << mic.rms_independent_db << " dB, joint " << mic.rms_joint_db
                        << " dB, gain " << mic.gain_db << " dB");
        CHECK(mic.gain_db == doctest::Approx(mic.rms_independent_db - mic.rms_joint_db));
    }
}

TEST_CASE("coherence weighting keeps the joint fit no worse under drift") {
    const auto zones = two_zones();
    const auto truth = measured(zones, 0.0, 1);
    correction::JointFitOptions truth_options;
    truth_options.timing_spread_ms = 0.0;
    for (const unsigned seed : {11U, 12U, 13U}) {
        CAPTURE(seed);
        const auto drifted = measured(zones, drift_per_measurement_ms, seed);
        correction::JointFitOptions options;
        // Two measurements drift independently, so their difference spreads by √2 as much.
        options.timing_spread_ms = std::sqrt(2.0) * drift_per_measurement_ms;
        const auto result = correction::fit_jointly(zones, drifted, flat_target(), options);
        const double joint_db = mean_rms_db(
            correction::predict_summed_residuals(zones, truth, flat_target(), truth_options, result.freq_hz, result.joint));
        const double independent_db = mean_rms_db(correction::predict_summed_residuals(
            zones, truth, flat_target(), truth_options, result.freq_hz, result.independent));
        correction::JointFitOptions unweighted_options;
        unweighted_options.timing_spread_ms = 0.0;
        const auto unweighted = correction::fit_jointly(zones, drifted, flat_target(), unweighted_options);
        const double unweighted_db = mean_rms_db(correction::predict_summed_residuals(
            zones, truth, flat_target(), truth_options, unweighted.freq_hz, unweighted.joint));
        MESSAGE("seed " << seed << ": on the true responses independent " << independent_db << " dB, joint "
                        << joint_db << " dB, joint without weighting " << unweighted_db << " dB");
        CHECK(joint_db <= independent_db + drift_tolerance_db);
    }
}

TEST_CASE("zones of one hang never differ in EQ below the coupling frequency") {
    const auto zones = two_zones();
    const auto responses = measured(zones, 0.0, 1);
    for (const double coupling_hz : {160.0, 250.0}) {
        CAPTURE(coupling_hz);
        correction::JointFitOptions options;
        options.coupling_below_hz = coupling_hz;
        const auto result = correction::fit_jointly(zones, responses, flat_target(), options);
        double largest_difference_db = 0.0;
        double largest_curve_db = 0.0;
        for (std::size_t i = 0; i < result.freq_hz.size() && result.freq_hz[i] <= coupling_hz; ++i) {
            largest_difference_db = std::max(largest_difference_db,
                                             std::fabs(result.joint[0].correction_db[i] - result.joint[1].correction_db[i]));
            largest_curve_db = std::max(largest_curve_db, std::fabs(result.joint[0].correction_db[i]));
        }
        CHECK(largest_difference_db == 0.0);
        // The shared curve does correct there: the test would not pass on two empty curves.
        CHECK(largest_curve_db > 0.5);
    }
}

TEST_CASE("without coupling the hang's zones get their own low-frequency EQ") {
    const auto zones = two_zones();
    const auto responses = measured(zones, 0.0, 1);
    correction::JointFitOptions options;
    options.coupling_below_hz = 0.0;
    const auto result = correction::fit_jointly(zones, responses, flat_target(), options);
    double largest_difference_db = 0.0;
    for (std::size_t i = 0; i < result.freq_hz.size() && result.freq_hz[i] <= 200.0; ++i) {
        largest_difference_db = std::max(largest_difference_db,
                                         std::fabs(result.joint[0].correction_db[i] - result.joint[1].correction_db[i]));
    }
    CHECK(largest_difference_db > 0.1);
}

TEST_CASE("joint fit keeps every curve within the boost and cut limits") {
    auto zones = two_zones();
    zones[0].max_boost_db = 1.0;
    zones[1].max_cut_db = 2.0;
    const auto result = correction::fit_jointly(zones, measured(zones, 0.0, 1), flat_target(), {});
    for (std::size_t i = 0; i < result.freq_hz.size(); ++i) {
        CHECK(result.joint[0].correction_db[i] <= 1.0 + 1e-9);
        CHECK(result.joint[1].correction_db[i] >= -2.0 - 1e-9);
    }
}

TEST_CASE("joint fit rejects a response of an unknown zone") {
    const auto zones = two_zones();
    auto responses = measured(zones, 0.0, 1);
    responses.front().zone = "L-nowhere";
    CHECK(test::error_message([&] { (void)correction::fit_jointly(zones, responses, flat_target(), {}); })
              .find("'L-nowhere' at mic 'near-left' belongs to no zone") != std::string::npos);
}

}
