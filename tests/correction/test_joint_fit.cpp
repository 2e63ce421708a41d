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
// With drift between the zones' measurements the coherence-weighted joint fit may be worse than
// independent fitting by at most this (dB RMS). The figures are RMS deviations on a 1/6-octave
// grid, whose own noise between neighbouring fits is about this size.
constexpr double drift_tolerance_db = 0.02;
// Without the weighting the joint fit must lose at least this much against independent fitting
// (dB RMS, mean over the seeds), so the test shows that the weighting is what keeps it no worse.
constexpr double min_unweighted_loss_db = 0.25;
// Standard deviation of the air temperature of each zone's measurement (°C). At the centre
// seats, 20 to 37 m from the mains, 1 °C moves an arrival by 0.10 to 0.18 ms.
constexpr double temperature_spread_c = 1.0;
constexpr double measured_temperature_c = 20.0;

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

// L and R mains heard together at the centre seats. Both sides are the built-in rig's long-throw
// zone, mirrored about the centre line and aimed 3 m inside their own side, so they arrive
// together and equally loud along the centre line. There the true sum has no comb in the band,
// and a drift of the measured arrivals puts one that is not there into a plain complex sum.
simulation::RigModel stereo_mains_model() {
    auto model = simulation::builtin_rig();
    simulation::SourceModel left;
    for (const auto& source : model.sources) {
        if (source.zone == "L-long") {
            left = source;
        }
    }
    left.zone = "L-main";
    left.aim_m = {-3.0, 36.0, 1.2};
    simulation::SourceModel right = left;
    right.zone = "R-main";
    right.position_m[0] = -left.position_m[0];
    right.aim_m[0] = -left.aim_m[0];
    model.sources = {left, right};
    model.microphones.clear();
    for (const double distance_m : {16.0, 20.0, 24.0, 28.0, 32.0, 35.0}) {
        model.microphones.push_back({"centre-" + std::to_string(static_cast<int>(distance_m)),
                                     {0.0, distance_m, 1.2},
                                     {{"L-main", 1.0}, {"R-main", 1.0}}});
    }
    model.probes.clear();
    return model;
}

const simulation::RigTransferFunctions& stereo_rig() {
    static const simulation::RigTransferFunctions rig(stereo_mains_model());
    return rig;
}

// The mains' EQ band starts at 250 Hz here. Below it the two sides add coherently whatever the
// drift (0.2 ms is a 20th of a cycle at 250 Hz), and any joint fit gains there, which would hide
// what the drift does above it.
std::vector<correction::JointFitZone> stereo_zones() {
    std::vector<correction::JointFitZone> zones;
    for (const char* name : {"L-main", "R-main"}) {
        correction::JointFitZone zone;
        zone.zone = name;
        zone.band_low_hz = 250.0;
        zone.band_high_hz = 16000.0;
        zones.push_back(zone);
    }
    return zones;
}

// Each zone measured at its own air temperature, drawn around measured_temperature_c with
// `spread_c` (0: the true responses). The speed of sound goes with √(273.15 + T), so every arrival
// of a zone measured ΔT warmer comes earlier by the factor √((273.15 + T) / (273.15 + T + ΔT)).
std::vector<correction::TimedResponse> stereo_measured(double spread_c, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> temperature_offset(0.0, spread_c);
    const double kelvin = 273.15 + measured_temperature_c;
    std::vector<correction::TimedResponse> responses;
    for (const auto& zone : stereo_zones()) {
        const double offset_c = spread_c > 0.0 ? temperature_offset(generator) : 0.0;
        for (const auto& mic : stereo_rig().rig().microphones) {
            auto timed = test::rig_response(stereo_rig(), zone.zone, mic.name);
            timed.arrival_ms *= std::sqrt(kelvin / (kelvin + offset_c));
            timed.weight = 1.0;
            responses.push_back(timed);
        }
    }
    return responses;
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
    const auto zones = stereo_zones();
    const auto truth = stereo_measured(0.0, 0);
    correction::JointFitOptions truth_options;
    truth_options.timing_spread_ms = 0.0;
    const auto on_truth = [&](const correction::JointFitResult& result, const std::vector<correction::ZoneCurve>& curves) {
        return mean_rms_db(
            correction::predict_summed_residuals(zones, truth, flat_target(), truth_options, result.freq_hz, curves));
    };
    correction::JointFitOptions weighted_options;
    weighted_options.timing_spread_ms = 0.0;
    weighted_options.temperature_spread_c = temperature_spread_c;
    weighted_options.temperature_c = measured_temperature_c;
    correction::JointFitOptions unweighted_options;
    unweighted_options.timing_spread_ms = 0.0;

    double unweighted_loss_sum_db = 0.0;
    const std::vector<unsigned> seeds{1, 2, 3, 4, 5, 6, 7, 8};
    for (const unsigned seed : seeds) {
        CAPTURE(seed);
        const auto drifted = stereo_measured(temperature_spread_c, seed);
        const auto weighted = correction::fit_jointly(zones, drifted, flat_target(), weighted_options);
        const auto unweighted = correction::fit_jointly(zones, drifted, flat_target(), unweighted_options);
        const double independent_db = on_truth(weighted, weighted.independent);
        const double weighted_db = on_truth(weighted, weighted.joint);
        const double unweighted_db = on_truth(unweighted, unweighted.joint);
        MESSAGE("seed " << seed << ", on the true responses: independent " << independent_db << " dB, joint "
                        << weighted_db << " dB, joint without weighting " << unweighted_db << " dB");
        CHECK(weighted_db <= independent_db + drift_tolerance_db);
        unweighted_loss_sum_db += unweighted_db - independent_db;
    }
    const double unweighted_loss_db = unweighted_loss_sum_db / static_cast<double>(seeds.size());
    MESSAGE("without weighting the joint fit loses " << unweighted_loss_db << " dB on average");
    CHECK(unweighted_loss_db >= min_unweighted_loss_db);
}

TEST_CASE("coherence weighting keeps a joint gain without drift") {
    // Fitted on the true responses with the weighting for 1 °C of spread, the joint fit still
    // does better than independent fitting.
    const auto zones = stereo_zones();
    const auto truth = stereo_measured(0.0, 0);
    correction::JointFitOptions plain_options;
    plain_options.timing_spread_ms = 0.0;
    correction::JointFitOptions weighted_options = plain_options;
    weighted_options.temperature_spread_c = temperature_spread_c;
    const auto plain = correction::fit_jointly(zones, truth, flat_target(), plain_options);
    const auto weighted = correction::fit_jointly(zones, truth, flat_target(), weighted_options);
    const double weighted_db = mean_rms_db(correction::predict_summed_residuals(zones, truth, flat_target(), plain_options,
                                                                               weighted.freq_hz, weighted.joint));
    MESSAGE("no drift: independent " << plain.mean_rms_independent_db << " dB, joint " << plain.mean_rms_joint_db
                                     << " dB, joint weighted for 1 degree C " << weighted_db << " dB");
    CHECK(plain.mean_rms_joint_db < plain.mean_rms_independent_db);
    CHECK(weighted_db < plain.mean_rms_independent_db);
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

