#include "linetune/correction/spatial_shrink.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/units.hpp"

#include <doctest/doctest.h>

#include <algorithm>
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

/// Octave bands 63 Hz … 8 kHz with one decay time and a direct-to-reverberant ratio per band.
std::vector<linetune::analysis::ReverberantBand> room_bands(double decay_time_s,
                                                            const std::function<double(double)>& ratio_db) {
    std::vector<linetune::analysis::ReverberantBand> bands;
    for (double center_hz = 62.5; center_hz < 9000.0; center_hz *= 2.0) {
        bands.push_back({center_hz, decay_time_s, ratio_db(center_hz)});
    }
    return bands;
}

/// Direct-to-reverberant ratio rising from −10 dB at 62.5 Hz by 2.5 dB per octave to +7.5 dB at
/// 8 kHz, as at a distant seat of a PA that beams its treble.
double rising_ratio_db(double freq_hz) { return -10.0 + 2.5 * std::log2(freq_hz / 62.5); }

/// Level the reverberant sound adds on top of the direct sound: 10·log10(1 + 1/K).
double reverberant_colouring_db(double freq_hz) {
    const double k = std::pow(10.0, rising_ratio_db(std::clamp(freq_hz, 62.5, 8000.0)) / 10.0);
    return 10.0 * std::log10(1.0 + 1.0 / k);
}

TEST_CASE("shrink keeps bump under direct sound") {
    // Two positions share the bump to within 0.5 dB; the direct sound is 20 dB above the
    // reverberation in every band, so the room adds almost no spread and the bump is kept.
    std::vector<MicResponse> mics{make_mic("a", bump_db), make_mic("b", [](double f) { return 0.92 * bump_db(f); })};
    for (auto& mic : mics) {
        mic.reverberant_field = room_bands(1.5, [](double) { return 20.0; });
    }
    const FrequencyResponse average = power_average(mics);
    const auto shrunk = shrink_to_spatial_agreement(average, mics, flat_target(average), band_start_hz, band_end_hz);
    CHECK(shrunk.factor[index_of(average, bump_hz)] > 0.95);
}

TEST_CASE("shrink holds back reverberant colouring") {
    // Both positions show only what the reverberation adds at a distant seat: 10·log10(1 + 1/K) is
    // about 10 dB at 125 Hz and under 1 dB at 8 kHz. A seat near the PA (K large) has none of it.
    // With A ≈ C and two positions, g = A²/(A² + (σ² + C²)/2) is at most 2/3, where the
    // positions' agreement alone would keep nearly all of it.
    std::vector<MicResponse> mics{make_mic("a", reverberant_colouring_db),
                                  make_mic("b", [](double f) { return reverberant_colouring_db(f) + 0.1; })};
    for (auto& mic : mics) {
        mic.reverberant_field = room_bands(2.0, rising_ratio_db);
    }
    const FrequencyResponse average = power_average(mics);
    const auto shrunk = shrink_to_spatial_agreement(average, mics, flat_target(average), band_start_hz, band_end_hz);
    const double level_db = in_band_mean(average);
    for (const double freq_hz : {125.0, 4000.0}) {
        const std::size_t p = index_of(average, freq_hz);
        CAPTURE(freq_hz);
        CHECK(shrunk.factor[p] < 0.7);
        CHECK(std::fabs(shrunk.response.magnitude_db[p] - level_db) < 0.7 * std::fabs(average.magnitude_db[p] - level_db));
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
