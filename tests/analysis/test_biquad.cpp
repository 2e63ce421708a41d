#include "linetune/analysis/biquad.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <cmath>
#include <complex>
#include <string>

namespace {

using linetune::analysis::band_magnitude_db;
using linetune::analysis::biquad_magnitude_db;
using linetune::analysis::biquad_response;
using linetune::analysis::design_biquad;
using linetune::analysis::FilterType;
using linetune::analysis::ParametricBand;

constexpr double sample_rate_hz = 48000.0;

// Frequency above f0 (or below it when searching down) where a peaking band's magnitude crosses
// target_db, by bisection on a log axis between f0 and f0·4 (or f0 / 4).
double crossing_freq_hz(const ParametricBand& band, double target_db, bool above) {
    double inside = band.freq_hz;
    double outside = above ? band.freq_hz * 4.0 : band.freq_hz / 4.0;
    for (int i = 0; i < 200; ++i) {
        const double middle = std::sqrt(inside * outside);
        const bool beyond = std::fabs(band_magnitude_db(band, middle, sample_rate_hz)) <
                            std::fabs(target_db);
        (beyond ? outside : inside) = middle;
    }
    return std::sqrt(inside * outside);
}

}  // namespace

TEST_SUITE("analysis") {

TEST_CASE("peaking gain at f0 equals gain_db") {
    for (const double gain_db : {-15.0, -3.0, 0.5, 6.0, 12.0}) {
        for (const double q : {0.5, 1.0, 4.0, 10.0}) {
            const ParametricBand band{FilterType::peaking, 1000.0, gain_db, q};
            CHECK(std::fabs(band_magnitude_db(band, 1000.0, sample_rate_hz) - gain_db) < 1e-9);
        }
    }
}

TEST_CASE("peaking cut is the exact inverse of the boost") {
    // RBJ peaking property: H(+g)·H(−g) = 1 at every frequency; checked to 1e-9 dB.
    const ParametricBand boost{FilterType::peaking, 400.0, 9.0, 2.5};
    const ParametricBand cut{FilterType::peaking, 400.0, -9.0, 2.5};
    for (const double f : {20.0, 100.0, 350.0, 400.0, 470.0, 5000.0, 23000.0}) {
        const double sum = band_magnitude_db(boost, f, sample_rate_hz) + band_magnitude_db(cut, f, sample_rate_hz);
        CHECK(std::fabs(sum) < 1e-9);
    }
}

TEST_CASE("shelf gain at f0 is half of gain_db") {
    for (const double gain_db : {-12.0, -4.0, 3.0, 6.0}) {
        for (const double q : {0.5, 0.7071, 1.2}) {
            const ParametricBand low{FilterType::low_shelf, 200.0, gain_db, q};
            const ParametricBand high{FilterType::high_shelf, 5000.0, gain_db, q};
            CHECK(std::fabs(band_magnitude_db(low, 200.0, sample_rate_hz) - gain_db / 2.0) < 1e-9);
            CHECK(std::fabs(band_magnitude_db(high, 5000.0, sample_rate_hz) - gain_db / 2.0) < 1e-9);
        }
    }
}

TEST_CASE("shelves reach full gain at DC and Nyquist") {
    const ParametricBand low{FilterType::low_shelf, 300.0, -7.0, 0.7071};
    const ParametricBand high{FilterType::high_shelf, 3000.0, 5.0, 0.7071};
    const double nyquist_hz = sample_rate_hz / 2.0;
    CHECK(band_magnitude_db(low, 0.0, sample_rate_hz) == doctest::Approx(-7.0).epsilon(1e-9));
    CHECK(std::fabs(band_magnitude_db(low, nyquist_hz, sample_rate_hz)) < 1e-9);
    CHECK(std::fabs(band_magnitude_db(high, 0.0, sample_rate_hz)) < 1e-9);
    CHECK(band_magnitude_db(high, nyquist_hz, sample_rate_hz) == doctest::Approx(5.0).epsilon(1e-9));
}

TEST_CASE("shelf at Q 0.7071 is monotonic") {
    // Slope S = 1 is the steepest shelf without overshoot: no point beyond the shelf gain and none
    // above 0 dB for a cut, checked on a 1/24-octave sweep to 1e-9 dB.
    const ParametricBand low{FilterType::low_shelf, 500.0, -10.0, 1.0 / std::sqrt(2.0)};
    double previous_db = band_magnitude_db(low, 10.0, sample_rate_hz);
    bool monotonic = true;
    for (double f = 10.0; f < 20000.0; f *= std::exp2(1.0 / 24.0)) {
        const double level_db = band_magnitude_db(low, f, sample_rate_hz);
        monotonic = monotonic && level_db >= previous_db - 1e-9 && level_db <= 1e-9 && level_db >= -10.0 - 1e-9;
        previous_db = level_db;
    }
    CHECK(monotonic);
}

TEST_CASE("peaking is 0 dB at DC and Nyquist") {
    const ParametricBand band{FilterType::peaking, 2000.0, 8.0, 1.0};
    CHECK(std::fabs(band_magnitude_db(band, 0.0, sample_rate_hz)) < 1e-9);
    CHECK(std::fabs(band_magnitude_db(band, sample_rate_hz / 2.0, sample_rate_hz)) < 1e-9);
}

TEST_CASE("Butterworth high-pass and low-pass are -3 dB at f0") {
    // |H(f0)| = Q exactly for the cookbook's second-order filters: 20·log10(0.7071) = −3.0104 dB.
    const ParametricBand high_pass{FilterType::high_pass, 100.0, 0.0, 0.7071};
    const ParametricBand low_pass{FilterType::low_pass, 2000.0, 0.0, 0.7071};
    const double expected_db = 20.0 * std::log10(0.7071);
    CHECK(band_magnitude_db(high_pass, 100.0, sample_rate_hz) == doctest::Approx(expected_db).epsilon(1e-6));
    CHECK(band_magnitude_db(low_pass, 2000.0, sample_rate_hz) == doctest::Approx(expected_db).epsilon(1e-6));
}

TEST_CASE("high-pass and low-pass at DC and Nyquist") {
    const ParametricBand high_pass{FilterType::high_pass, 100.0, 0.0, 0.7071};
    const ParametricBand low_pass{FilterType::low_pass, 2000.0, 0.0, 0.7071};
    const double nyquist_hz = sample_rate_hz / 2.0;
    CHECK(band_magnitude_db(high_pass, 0.0, sample_rate_hz) < -200.0);
    CHECK(std::fabs(band_magnitude_db(high_pass, nyquist_hz, sample_rate_hz)) < 1e-9);
    CHECK(std::fabs(band_magnitude_db(low_pass, 0.0, sample_rate_hz)) < 1e-9);
    CHECK(band_magnitude_db(low_pass, nyquist_hz, sample_rate_hz) < -200.0);
    // Second order: 12 dB per octave far below the corner (f0 / 16 to f0 / 32), within 0.1 dB.
    const double slope_db = band_magnitude_db(high_pass, 100.0 / 16.0, sample_rate_hz) -
                            band_magnitude_db(high_pass, 100.0 / 32.0, sample_rate_hz);
    CHECK(slope_db == doctest::Approx(12.0).epsilon(0.1 / 12.0));
}

TEST_CASE("high-Q peaking bandwidth follows the cookbook") {
    // Half-gain bandwidth BW (octaves) of a peaking band: 1/Q = 2·sinh(ln 2 / 2 · BW · ω0 / sin ω0).
    // Checked at Q 10 and Q 4, within 0.5 % of the bandwidth.
    for (const double q : {4.0, 10.0}) {
        const ParametricBand band{FilterType::peaking, 1000.0, 12.0, q};
        const double upper_hz = crossing_freq_hz(band, 6.0, true);
        const double lower_hz = crossing_freq_hz(band, 6.0, false);
        const double measured_octaves = std::log2(upper_hz / lower_hz);

        const double w0 = 2.0 * linetune::pi * 1000.0 / sample_rate_hz;
        const double expected_octaves = 2.0 * std::asinh(1.0 / (2.0 * q)) / std::log(2.0) * std::sin(w0) / w0;
        CHECK(measured_octaves == doctest::Approx(expected_octaves).epsilon(0.005));
        // The half-gain points sit symmetrically around f0 on a log axis within 0.5 %.
        CHECK(std::sqrt(upper_hz * lower_hz) == doctest::Approx(1000.0).epsilon(0.005));
    }
}

TEST_CASE("complex response matches the magnitude") {
    const auto coefficients = design_biquad({FilterType::high_shelf, 3000.0, -6.0, 0.9}, sample_rate_hz);
    for (const double f : {0.0, 50.0, 2999.0, 12000.0, 24000.0}) {
        const auto response = biquad_response(coefficients, f, sample_rate_hz);
        CHECK(20.0 * std::log10(std::abs(response)) ==
              doctest::Approx(biquad_magnitude_db(coefficients, f, sample_rate_hz)).epsilon(1e-9));
    }
    // The bilinear transform keeps the response real at DC.
    CHECK(std::fabs(biquad_response(coefficients, 0.0, sample_rate_hz).imag()) < 1e-12);
}

TEST_CASE("filter type names round-trip") {
    for (const auto type : {FilterType::peaking, FilterType::low_shelf, FilterType::high_shelf,
                            FilterType::high_pass, FilterType::low_pass}) {
        const auto parsed = linetune::analysis::parse_filter_type(linetune::analysis::to_string(type));
        REQUIRE(parsed.has_value());
        CHECK(*parsed == type);
    }
    CHECK(linetune::analysis::to_string(FilterType::low_shelf) == "low_shelf");
    CHECK_FALSE(linetune::analysis::parse_filter_type("bell").has_value());
}

TEST_CASE("design rejects a band at or above Nyquist") {
    try {
        (void)design_biquad({FilterType::peaking, 24000.0, 3.0, 1.0}, sample_rate_hz);
        FAIL("no error for a band at Nyquist");
    } catch (const linetune::Error& error) {
        const std::string message = error.what();
        CHECK(error.kind() == linetune::ErrorKind::configuration);
        CHECK(message.find("24000 Hz") != std::string::npos);
        CHECK(message.find("Nyquist") != std::string::npos);
    }
}

TEST_CASE("design rejects a Q that is not positive") {
    CHECK_THROWS_AS((void)design_biquad({FilterType::low_shelf, 100.0, 3.0, 0.0}, sample_rate_hz), linetune::Error);
    CHECK_THROWS_AS((void)design_biquad({FilterType::peaking, 100.0, 3.0, -1.0}, sample_rate_hz), linetune::Error);
}

}  // TEST_SUITE
