#include "linetune/analysis/octave_filter.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace {

using linetune::analysis::OctaveBandFilter;

constexpr double sample_rates_hz[] = {44100.0, 48000.0, 96000.0};

/// Amplitude of the sinusoid at freq_hz in the signal, by a least-squares fit of sin and cos
/// (exact for a pure sinusoid, whatever the number of periods).
double fitted_sine_amplitude(const std::vector<double>& signal, std::size_t first, double freq_hz,
                             double sample_rate_hz) {
    double ss = 0.0;
    double cc = 0.0;
    double sc = 0.0;
    double ys = 0.0;
    double yc = 0.0;
    for (std::size_t n = first; n < signal.size(); ++n) {
        const double phase = 2.0 * linetune::pi * freq_hz * static_cast<double>(n) / sample_rate_hz;
        const double s = std::sin(phase);
        const double c = std::cos(phase);
        ss += s * s;
        cc += c * c;
        sc += s * c;
        ys += signal[n] * s;
        yc += signal[n] * c;
    }
    const double determinant = ss * cc - sc * sc;
    const double a = (ys * cc - yc * sc) / determinant;
    const double b = (yc * ss - ys * sc) / determinant;
    return std::hypot(a, b);
}

}  // namespace

TEST_SUITE("analysis") {

TEST_CASE("octave band centres are 63 Hz to 8 kHz") {
    const std::vector<double> expected = {63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0};
    CHECK(linetune::analysis::octave_band_centers_hz() == expected);
}

TEST_CASE("exact octave centre follows the base-10 formula") {
    using linetune::analysis::exact_octave_center_hz;
    CHECK(exact_octave_center_hz(1000.0) == doctest::Approx(1000.0).epsilon(1e-12));
    CHECK(exact_octave_center_hz(63.0) == doctest::Approx(1000.0 * std::pow(10.0, -1.2)).epsilon(1e-12));
    CHECK(exact_octave_center_hz(125.0) == doctest::Approx(1000.0 * std::pow(10.0, -0.9)).epsilon(1e-12));
    CHECK(exact_octave_center_hz(8000.0) == doctest::Approx(1000.0 * std::pow(10.0, 0.9)).epsilon(1e-12));
    CHECK(exact_octave_center_hz(16000.0) == doctest::Approx(1000.0 * std::pow(10.0, 1.2)).epsilon(1e-12));
    // The exact value maps to itself.
    CHECK(exact_octave_center_hz(7943.282347) == doctest::Approx(7943.282347).epsilon(1e-9));
}

TEST_CASE("octave band edges are half an octave from the centre") {
    const double center_hz = linetune::analysis::exact_octave_center_hz(500.0);
    CHECK(linetune::analysis::octave_band_lower_edge_hz(500.0) ==
          doctest::Approx(center_hz * std::pow(10.0, -0.15)).epsilon(1e-12));
    CHECK(linetune::analysis::octave_band_upper_edge_hz(500.0) ==
          doctest::Approx(center_hz * std::pow(10.0, 0.15)).epsilon(1e-12));
}

TEST_CASE("nominal centre off the octave grid is rejected") {
    using linetune::analysis::exact_octave_center_hz;
    CHECK_THROWS_AS(exact_octave_center_hz(700.0), linetune::Error);
    CHECK_THROWS_AS(exact_octave_center_hz(1100.0), linetune::Error);
    CHECK_THROWS_AS(exact_octave_center_hz(0.0), linetune::Error);
    CHECK_THROWS_AS(exact_octave_center_hz(-1000.0), linetune::Error);
    CHECK_THROWS_AS(exact_octave_center_hz(std::numeric_limits<double>::quiet_NaN()), linetune::Error);
    CHECK_THROWS_WITH_AS(exact_octave_center_hz(700.0), doctest::Contains("700 Hz"), linetune::Error);
}

TEST_CASE("octave filter is -3 dB at the band edges within 0.1 dB") {
    for (const double sample_rate_hz : sample_rates_hz) {
        for (const double nominal_hz : linetune::analysis::octave_band_centers_hz()) {
            CAPTURE(sample_rate_hz);
            CAPTURE(nominal_hz);
            const OctaveBandFilter filter(nominal_hz, sample_rate_hz);
            CHECK(std::fabs(filter.magnitude_db(filter.lower_edge_hz()) + 3.0) <= 0.1);
            CHECK(std::fabs(filter.magnitude_db(filter.upper_edge_hz()) + 3.0) <= 0.1);
        }
    }
}

TEST_CASE("octave filter is 0 dB at the centre within 0.1 dB") {
    for (const double sample_rate_hz : sample_rates_hz) {
        for (const double nominal_hz : linetune::analysis::octave_band_centers_hz()) {
            CAPTURE(sample_rate_hz);
            CAPTURE(nominal_hz);
            const OctaveBandFilter filter(nominal_hz, sample_rate_hz);
            CHECK(std::fabs(filter.magnitude_db(filter.center_hz())) <= 0.1);
        }
    }
}

TEST_CASE("octave filter is 30 dB down two octaves away") {
    for (const double sample_rate_hz : sample_rates_hz) {
        for (const double nominal_hz : linetune::analysis::octave_band_centers_hz()) {
            CAPTURE(sample_rate_hz);
            CAPTURE(nominal_hz);
            const OctaveBandFilter filter(nominal_hz, sample_rate_hz);
            CHECK(filter.magnitude_db(filter.center_hz() / 4.0) <= -30.0);
            if (4.0 * filter.center_hz() < 0.5 * sample_rate_hz) {
                CHECK(filter.magnitude_db(4.0 * filter.center_hz()) <= -30.0);
            }
        }
    }
}

TEST_CASE("filtered sine matches the analytic response within 0.01 dB") {
    constexpr double sample_rate_hz = 48000.0;
    const OctaveBandFilter filter(125.0, sample_rate_hz);
    const double test_freqs_hz[] = {filter.center_hz() / 4.0, filter.lower_edge_hz(), filter.center_hz(),
                                    filter.upper_edge_hz(), 4.0 * filter.center_hz()};

    for (const double freq_hz : test_freqs_hz) {
        CAPTURE(freq_hz);
        std::vector<float> sine(static_cast<std::size_t>(sample_rate_hz));
        for (std::size_t n = 0; n < sine.size(); ++n) {
            const double phase = 2.0 * linetune::pi * freq_hz * static_cast<double>(n) / sample_rate_hz;
            sine[n] = static_cast<float>(std::sin(phase));
        }
        const std::vector<double> output = filter.process(sine);
        REQUIRE(output.size() == sine.size());

        // Skip the first half second, where the filter's transient has not yet died away.
        const double amplitude = fitted_sine_amplitude(output, sine.size() / 2, freq_hz, sample_rate_hz);
        CHECK(std::fabs(linetune::db_from_amplitude(amplitude) - filter.magnitude_db(freq_hz)) <= 0.01);
    }
}

TEST_CASE("octave filter output starts from rest") {
    const OctaveBandFilter filter(1000.0, 48000.0);
    const std::vector<float> silence(1000, 0.0F);
    const std::vector<double> output = filter.process(silence);
    REQUIRE(output.size() == silence.size());
    for (const double sample : output) {
        CHECK(sample == 0.0);
    }
}

TEST_CASE("band above the Nyquist frequency is rejected") {
    // 16 kHz band: upper edge 22.4 kHz, above 16 kHz Nyquist of 32 kHz.
    CHECK_THROWS_AS(OctaveBandFilter(16000.0, 32000.0), linetune::Error);
    // 8 kHz band: upper edge 11.2 kHz, above the 11.025 kHz Nyquist of 22.05 kHz.
    CHECK_THROWS_WITH_AS(OctaveBandFilter(8000.0, 22050.0), doctest::Contains("Nyquist"), linetune::Error);
    CHECK_THROWS_AS(OctaveBandFilter(1000.0, 0.0), linetune::Error);
    CHECK_NOTHROW(OctaveBandFilter(8000.0, 24000.0));
}

}  // TEST_SUITE
