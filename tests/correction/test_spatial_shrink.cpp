#include "linetune/correction/spatial_shrink.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/units.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

using linetune::FrequencyResponse;
using linetune::correction::MicResponse;
using linetune::correction::shrink_to_spatial_agreement;

namespace {

constexpr double band_start_hz = 100.0;
constexpr double band_end_hz = 10000.0;
constexpr double bump_hz = 1000.0;
// Exact arithmetic on identical shapes: only rounding.
constexpr double arithmetic_tolerance = 1e-9;

/// Returns a 6 dB bump over about an octave around bump_hz.
double bump_db(double freq_hz) {
    const double octaves = std::log2(freq_hz / bump_hz);
    return 6.0 * std::exp(-(octaves / 0.5) * (octaves / 0.5));
}

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

/// Computes the equal-weight power average of the mics, which share one grid.
FrequencyResponse power_average(const std::vector<MicResponse>& mics) {
    FrequencyResponse average;
    average.freq_hz = mics.front().response.freq_hz;
    for (std::size_t p = 0; p < average.freq_hz.size(); ++p) {
        double power = 0.0;
        for (const auto& mic : mics) {
            power += linetune::power_from_db(mic.response.magnitude_db[p]);
        }
        average.magnitude_db.push_back(linetune::db_from_power(power / static_cast<double>(mics.size())));
    }
    return average;
}

FrequencyResponse flat_target(const FrequencyResponse& average) {
    FrequencyResponse target;
    target.freq_hz = average.freq_hz;
    target.magnitude_db.assign(average.size(), 0.0);
    return target;
}

std::size_t index_of(const FrequencyResponse& response, double freq_hz) {
    std::size_t best = 0;
    for (std::size_t p = 0; p < response.size(); ++p) {
        if (std::fabs(std::log2(response.freq_hz[p] / freq_hz)) < std::fabs(std::log2(response.freq_hz[best] / freq_hz))) {
            best = p;
        }
    }
    return best;
}

double in_band_mean(const FrequencyResponse& response) {
    double sum = 0.0;
    int count = 0;
    for (std::size_t p = 0; p < response.size(); ++p) {
        if (response.freq_hz[p] >= band_start_hz && response.freq_hz[p] <= band_end_hz) {
            sum += response.magnitude_db[p];
            ++count;
        }
    }
    return sum / count;
}

}  // namespace

TEST_SUITE("correction") {

TEST_CASE("shrink holds back unshared bump") {
    const std::vector<MicResponse> mics{make_mic("bump", bump_db), make_mic("flat", [](double) { return 0.0; })};
    const FrequencyResponse average = power_average(mics);
    const auto shrunk = shrink_to_spatial_agreement(average, mics, flat_target(average), band_start_hz, band_end_hz);
    const std::size_t p = index_of(average, bump_hz);
    // At 1 kHz the positions' level-removed deviations differ by about 6 dB: s² ≈ 18 dB², a squared
    // standard error of the mean of about 9 dB², against an average deviation of about 3.5 dB, so
    // g = A²/(A² + s²/n) ≈ 0.58. The bounds leave room for the level removal.
    CHECK(shrunk.factor[p] < 0.75);
    CHECK(shrunk.factor[p] > 0.4);
    const double level_db = in_band_mean(average);
    const double raw_deviation_db = average.magnitude_db[p] - level_db;
    const double kept_deviation_db = shrunk.response.magnitude_db[p] - level_db;
    CHECK(raw_deviation_db > 3.0);
    CHECK(kept_deviation_db > 0.0);
    CHECK(kept_deviation_db < 0.75 * raw_deviation_db);
}

TEST_CASE("shrink keeps shared shape whole") {
    const std::vector<MicResponse> mics{make_mic("near", [](double f) { return bump_db(f) + 3.0; }),
                                        make_mic("far", bump_db)};
    const FrequencyResponse average = power_average(mics);
    const auto shrunk = shrink_to_spatial_agreement(average, mics, flat_target(average), band_start_hz, band_end_hz);
    for (std::size_t p = 0; p < average.size(); ++p) {
        CHECK(shrunk.factor[p] == doctest::Approx(1.0).epsilon(arithmetic_tolerance));
        CHECK(shrunk.response.magnitude_db[p] == doctest::Approx(average.magnitude_db[p]).epsilon(arithmetic_tolerance));
    }
}

TEST_CASE("shrink leaves single position unchanged") {
    const std::vector<MicResponse> mics{make_mic("only", bump_db)};
    const FrequencyResponse average = power_average(mics);
    const auto shrunk = shrink_to_spatial_agreement(average, mics, flat_target(average), band_start_hz, band_end_hz);
    CHECK(shrunk.response.magnitude_db == average.magnitude_db);
    for (const double factor : shrunk.factor) {
        CHECK(factor == 1.0);
    }
}

TEST_CASE("shrink rejects target off grid") {
    const std::vector<MicResponse> mics{make_mic("a", bump_db), make_mic("b", [](double) { return 0.0; })};
    const FrequencyResponse average = power_average(mics);
    FrequencyResponse target = flat_target(average);
    target.freq_hz.pop_back();
    target.magnitude_db.pop_back();
    CHECK_THROWS_AS(shrink_to_spatial_agreement(average, mics, target, band_start_hz, band_end_hz), linetune::Error);
}

}  // TEST_SUITE
