#include "linetune/correction/zone_average.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

using linetune::correction::AveragingMethod;
using linetune::correction::average_zone;
using linetune::correction::MicResponse;

namespace {

constexpr double band_start_hz = 100.0;
constexpr double band_end_hz = 10000.0;
// Averages of exact inputs are pure arithmetic; this only absorbs rounding.
constexpr double arithmetic_tolerance_db = 1e-9;

/// A mic whose response on a 1/24-octave grid from 20 Hz to 20 kHz is shape(freq_hz) in dB.
MicResponse make_mic(const std::string& name, const std::function<double(double)>& shape) {
    MicResponse mic;
    mic.mic = name;
    mic.peak_to_noise_db = 60;
    mic.response.freq_hz = linetune::log_frequency_grid(20.0, 20000.0, 24.0);
    for (const double freq_hz : mic.response.freq_hz) {
        mic.response.magnitude_db.push_back(shape(freq_hz));
    }
    return mic;
}

MicResponse flat_mic(const std::string& name, double level_db) {
    return make_mic(name, [level_db](double) { return level_db; });
}

/// Gentle ripple of ±amplitude_db, as between positions in one zone, with a phase per mic.
MicResponse rippled_mic(const std::string& name, double amplitude_db, double phase_rad) {
    return make_mic(name, [=](double freq_hz) { return 90.0 + amplitude_db * std::sin(3.0 * std::log2(freq_hz) + phase_rad); });
}

bool contains(const std::vector<std::string>& values, const std::string& value) {
    return std::find(values.begin(), values.end(), value) != values.end();
}

double max_abs_deviation(const std::vector<double>& values_db, double expected_db) {
    double deviation_db = 0;
    for (const double value_db : values_db) {
        deviation_db = std::max(deviation_db, std::fabs(value_db - expected_db));
    }
    return deviation_db;
}

}  // namespace

TEST_SUITE("zone_average") {
    TEST_CASE("power and decibel averages of known levels") {
        const std::vector<MicResponse> mics{flat_mic("a", 0.0), flat_mic("b", -3.0), flat_mic("c", -6.0)};
        const auto power = average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);
        const auto decibel = average_zone(mics, AveragingMethod::decibel, band_start_hz, band_end_hz);

        // 10·log10((1 + 10^-0.3 + 10^-0.6) / 3) = -2.3360 dB; the dB mean is -3 dB.
        const double expected_power_db =
            10.0 * std::log10((1.0 + std::pow(10.0, -0.3) + std::pow(10.0, -0.6)) / 3.0);
        CHECK(expected_power_db == doctest::Approx(-2.336).epsilon(1e-3));
        CHECK(max_abs_deviation(power.average.magnitude_db, expected_power_db) < arithmetic_tolerance_db);
        CHECK(max_abs_deviation(decibel.average.magnitude_db, -3.0) < arithmetic_tolerance_db);
        CHECK(power.used_mics == std::vector<std::string>{"a", "b", "c"});
        CHECK(power.rejected.empty());
        CHECK(power.average.freq_hz == mics.front().response.freq_hz);
        CHECK(max_abs_deviation(power.weight_sum, 3.0) < arithmetic_tolerance_db);
    }

    TEST_CASE("mic weights scale each share") {
        std::vector<MicResponse> mics{flat_mic("a", 0.0), flat_mic("b", -10.0)};
        mics[0].weight = 3.0;
        const auto power = average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);
        const auto decibel = average_zone(mics, AveragingMethod::decibel, band_start_hz, band_end_hz);

        CHECK(max_abs_deviation(power.average.magnitude_db, 10.0 * std::log10((3.0 + 0.1) / 4.0)) <
              arithmetic_tolerance_db);
        CHECK(max_abs_deviation(decibel.average.magnitude_db, -2.5) < arithmetic_tolerance_db);
    }

    TEST_CASE("flat response stays flat") {
        std::vector<MicResponse> mics{flat_mic("a", 94.0), flat_mic("b", 94.0), flat_mic("c", 94.0)};
        mics[1].peak_to_noise_db = 25;
        mics[2].coherence.assign(mics[2].response.size(), 0.4);
        // A coarser grid on one mic forces resampling onto the common 1/48-octave grid.
        mics[0].response.freq_hz = linetune::log_frequency_grid(50.0, 16000.0, 3.0);
        mics[0].response.magnitude_db.assign(mics[0].response.freq_hz.size(), 94.0);

        for (const auto method : {AveragingMethod::power, AveragingMethod::decibel, AveragingMethod::quality_weighted}) {
            const auto result = average_zone(mics, method, band_start_hz, band_end_hz);
            CAPTURE(static_cast<int>(method));
            CHECK(max_abs_deviation(result.average.magnitude_db, 94.0) < arithmetic_tolerance_db);
            CHECK(result.used_mics.size() == 3);
            CHECK(result.average.freq_hz.front() == doctest::Approx(50.0));
            CHECK(result.average.freq_hz.back() <= 16000.0);
            CHECK(result.notes.size() == 1);
        }
    }

    TEST_CASE("quality weighting follows peak to noise") {
        std::vector<MicResponse> mics{flat_mic("clean", 0.0), flat_mic("noisy", -6.0)};
        mics[0].peak_to_noise_db = 60;
        mics[1].peak_to_noise_db = 20;
        const auto result = average_zone(mics, AveragingMethod::quality_weighted, band_start_hz, band_end_hz);

        // s = p / (p + 10^3): 1 / (1 + 10^-3) at 60 dB and 1 / (1 + 10) at 20 dB.
        const double clean_weight = 1.0 / (1.0 + 1e-3);
        const double noisy_weight = 1.0 / 11.0;
        const double expected_db =
            10.0 * std::log10((clean_weight + noisy_weight * std::pow(10.0, -0.6)) / (clean_weight + noisy_weight));
        CHECK(max_abs_deviation(result.average.magnitude_db, expected_db) < arithmetic_tolerance_db);
        CHECK(max_abs_deviation(result.weight_sum, clean_weight + noisy_weight) < arithmetic_tolerance_db);
    }

    TEST_CASE("zero coherence leaves a point to the other mic") {
        std::vector<MicResponse> mics{flat_mic("a", 0.0), flat_mic("b", -6.0)};
        mics[1].coherence.assign(mics[1].response.size(), 1.0);
        const std::size_t point = mics[1].response.size() / 2;
        mics[1].coherence[point] = 0.0;
        const auto result = average_zone(mics, AveragingMethod::quality_weighted, band_start_hz, band_end_hz);

        CHECK(result.average.magnitude_db[point] == doctest::Approx(0.0).epsilon(arithmetic_tolerance_db));
        CHECK(result.average.magnitude_db[point + 2] < -1.0);
    }

    TEST_CASE("dead and clipped mics rejected with reason") {
        std::vector<MicResponse> mics{rippled_mic("a", 1.0, 0.0), rippled_mic("b", 1.0, 1.0),
                                      rippled_mic("dead one", 1.0, 2.0), rippled_mic("clipped one", 1.0, 3.0)};
        mics[2].flags = {"dead"};
        mics[3].flags = {"centred_ir", "clipped"};
        const auto result = average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);

        REQUIRE(result.rejected.size() == 2);
        CHECK(result.rejected[0].first == "dead one");
        CHECK(result.rejected[0].second == "flagged dead by the analysis");
        CHECK(result.rejected[1].first == "clipped one");
        CHECK(result.rejected[1].second == "flagged clipped by the analysis");
        CHECK(result.used_mics == std::vector<std::string>{"a", "b"});
    }

    TEST_CASE("unplugged mic rejected as level outlier") {
        std::vector<MicResponse> mics{rippled_mic("a", 1.0, 0.0), rippled_mic("b", 1.0, 1.0),
                                      rippled_mic("c", 1.0, 2.0), rippled_mic("unplugged", 1.0, 3.0)};
        for (auto& magnitude_db : mics[3].response.magnitude_db) {
            magnitude_db -= 45.0;
        }
        const auto result = average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);
        const std::vector<MicResponse> good(mics.begin(), mics.begin() + 3);
        const auto expected = average_zone(good, AveragingMethod::power, band_start_hz, band_end_hz);

        REQUIRE(result.rejected.size() == 1);
        CHECK(result.rejected[0].first == "unplugged");
        CHECK(result.rejected[0].second.find("below the median of the other mics (limit 10 dB)") != std::string::npos);
        CHECK(result.used_mics == std::vector<std::string>{"a", "b", "c"});
        CHECK(result.average.magnitude_db == expected.average.magnitude_db);
    }

    TEST_CASE("blocked mic rejected as shape outlier") {
        std::vector<MicResponse> mics{rippled_mic("a", 1.5, 0.0), rippled_mic("b", 1.5, 1.0),
                                      rippled_mic("c", 1.5, 2.0)};
        // Same level below 2 kHz, 20 dB lost above it: the in-band level drops only about 2 dB.
        mics.push_back(make_mic("blocked", [](double freq_hz) { return freq_hz > 2000.0 ? 70.0 : 90.0; }));
        const auto result = average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);

        REQUIRE(result.rejected.size() == 1);
        CHECK(result.rejected[0].first == "blocked");
        CHECK(result.rejected[0].second.find("dB RMS from the median of the other mics (limit 6 dB)") !=
              std::string::npos);
        CHECK(result.used_mics.size() == 3);
    }

    TEST_CASE("normal spread between positions is kept") {
        const std::vector<MicResponse> mics{rippled_mic("a", 3.0, 0.0), rippled_mic("b", 3.0, 2.0),
                                            rippled_mic("c", 3.0, 4.0), flat_mic("d", 84.0)};
        const auto result = average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);

        CHECK(result.rejected.empty());
        CHECK(result.used_mics.size() == 4);
    }

    TEST_CASE("outlier rejection keeps two mics") {
        const std::vector<MicResponse> mics{flat_mic("a", 90.0), flat_mic("b", 40.0)};
        const auto result = average_zone(mics, AveragingMethod::decibel, band_start_hz, band_end_hz);

        CHECK(result.rejected.empty());
        CHECK(result.used_mics.size() == 2);
        CHECK(max_abs_deviation(result.average.magnitude_db, 65.0) < arithmetic_tolerance_db);
        CHECK(contains(result.notes,
                       "the two remaining mics differ by 50.0 dB in band level; with two mics neither can be "
                       "judged the outlier"));
    }

    TEST_CASE("all mics rejected names them") {
        std::vector<MicResponse> mics{flat_mic("front", 90.0), flat_mic("rear", 90.0)};
        mics[0].flags = {"dead"};
        mics[1].flags = {"not_impulse_response"};
        const auto message = linetune::test::error_message(
            [&] { average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz); });

        CHECK(message ==
              "all 2 mics of the zone were rejected ('front': flagged dead by the analysis; 'rear': flagged "
              "not_impulse_response by the analysis); fix or re-measure at least one position");
    }

    TEST_CASE("malformed responses throw") {
        std::vector<MicResponse> mics{flat_mic("a", 90.0)};
        mics[0].coherence = {0.5, 0.5};
        CHECK(linetune::test::error_message([&] {
                  average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz);
              }) == "mic 'a': 2 coherence values for 240 response points; they must match one to one");

        mics[0].coherence.clear();
        mics[0].response.magnitude_db[5] = std::nan("");
        CHECK_THROWS_AS(average_zone(mics, AveragingMethod::power, band_start_hz, band_end_hz), linetune::Error);

        const std::vector<MicResponse> valid{flat_mic("a", 90.0)};
        CHECK_THROWS_AS(average_zone(valid, AveragingMethod::power, 1000.0, 100.0), linetune::Error);
        CHECK_THROWS_AS(average_zone({}, AveragingMethod::power, band_start_hz, band_end_hz), linetune::Error);
    }
}
