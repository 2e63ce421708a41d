#include "linetune/analysis/minimum_phase.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <doctest/doctest.h>

#include "reference_biquad.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

namespace {

constexpr double sample_rate_hz = 48000.0;

using Biquad = linetune::test::ReferenceBiquad;

/// Unit impulse at delay_samples, length samples long, through the given filters in turn.
std::vector<float> impulse_response(std::size_t length, std::size_t delay_samples, const std::vector<Biquad>& filters) {
    std::vector<double> signal(length, 0.0);
    signal[delay_samples] = 1.0;
    for (const Biquad& biquad : filters) {
        signal = biquad.filter(signal);
    }
    return {signal.begin(), signal.end()};
}

/// Phase of the all-pass in degrees, unwrapped from 0 Hz by stepping in 1 Hz increments.
double unwrapped_allpass_phase_deg(const Biquad& allpass, double freq_hz) {
    double phase = 0.0;
    std::complex<double> previous = allpass.response(0.0);
    for (double f = 1.0; f < freq_hz + 1.0; f += 1.0) {
        const std::complex<double> current = allpass.response(std::min(f, freq_hz));
        phase += std::arg(current * std::conj(previous));
        previous = current;
    }
    return phase * 180.0 / linetune::pi;
}

double phase_difference_deg(double a_deg, double b_deg) {
    return std::fabs(std::remainder(a_deg - b_deg, 360.0));
}

}  // namespace

TEST_SUITE("minimum_phase") {
    TEST_CASE("minimum phase of a peaking filter is its own phase") {
        const Biquad peaking = Biquad::peaking(1000.0, 9.0, 2.0);
        const std::size_t fft_size = 65536;
        std::vector<double> magnitude(fft_size / 2 + 1);
        for (std::size_t k = 0; k < magnitude.size(); ++k) {
            magnitude[k] = std::abs(peaking.response(static_cast<double>(k) * sample_rate_hz / fft_size));
        }
        const auto spectrum = linetune::analysis::minimum_phase_spectrum(magnitude, fft_size);
        REQUIRE(spectrum.size() == magnitude.size());

        double worst_magnitude_db = 0.0;
        double worst_phase_deg = 0.0;
        for (std::size_t k = 0; k < spectrum.size(); ++k) {
            const auto expected = peaking.response(static_cast<double>(k) * sample_rate_hz / fft_size);
            worst_magnitude_db = std::max(worst_magnitude_db,
                                          std::fabs(linetune::db_from_amplitude(std::abs(spectrum[k]) / std::abs(expected))));
            worst_phase_deg = std::max(worst_phase_deg, std::fabs(std::arg(spectrum[k] / expected)) * 180.0 / linetune::pi);
        }
        CHECK(worst_magnitude_db < 1e-6);
        CHECK(worst_phase_deg < 0.01);
    }

    TEST_CASE("minimum-phase response has no excess phase") {
        const Biquad peaking = Biquad::peaking(250.0, -8.0, 3.0);
        const auto ir = impulse_response(9600, 0, {peaking});
        const auto grid = linetune::log_frequency_grid(20.0, 20000.0, 24.0);
        const auto split = linetune::analysis::split_minimum_excess_phase(ir, sample_rate_hz, grid);
        REQUIRE(split.excess_phase_deg.size() == grid.size());

        for (std::size_t i = 0; i < grid.size(); ++i) {
            CAPTURE(grid[i]);
            const auto expected = peaking.response(grid[i]);
            CHECK(std::fabs(split.excess_phase_deg[i]) < 2.0);
            CHECK(std::fabs(split.excess_group_delay_ms[i]) < 0.01);
            CHECK(std::fabs(split.minimum_phase.magnitude_db[i] - linetune::db_from_amplitude(std::abs(expected))) < 0.05);
            CHECK(phase_difference_deg(split.minimum_phase.phase_deg[i], std::arg(expected) * 180.0 / linetune::pi) < 2.0);
        }
    }

    TEST_CASE("pure delay is all excess phase") {
        // 10 ms: excess phase −360·f·0.01, group delay 10 ms, minimum phase 0°.
        const auto ir = impulse_response(481, 480, {});
        const auto grid = linetune::log_frequency_grid(20.0, 20000.0, 24.0);
        const auto split = linetune::analysis::split_minimum_excess_phase(ir, sample_rate_hz, grid);
        for (std::size_t i = 0; i < grid.size(); ++i) {
            CAPTURE(grid[i]);
            CHECK(std::fabs(split.excess_phase_deg[i] - (-360.0 * grid[i] * 0.010)) < 1.0);
            CHECK(std::fabs(split.excess_group_delay_ms[i] - 10.0) < 1e-3);
            CHECK(std::fabs(split.minimum_phase.phase_deg[i]) < 0.1);
            CHECK(std::fabs(split.minimum_phase.magnitude_db[i]) < 0.01);
        }
    }

    TEST_CASE("mixed-phase response splits into its parts") {
        // Peaking EQ (minimum phase) · second-order all-pass at 300 Hz · 5 ms delay.
        const Biquad peaking = Biquad::peaking(2000.0, 6.0, 1.5);
        const Biquad allpass = Biquad::allpass(300.0, 0.7);
        const auto ir = impulse_response(9600, 240, {peaking, allpass});
        const auto grid = linetune::log_frequency_grid(20.0, 20000.0, 24.0);
        const auto split = linetune::analysis::split_minimum_excess_phase(ir, sample_rate_hz, grid);

        for (std::size_t i = 0; i < grid.size(); ++i) {
            const double f = grid[i];
            CAPTURE(f);
            const double expected_excess_deg = -360.0 * f * 0.005 + unwrapped_allpass_phase_deg(allpass, f);
            CHECK(std::fabs(split.excess_phase_deg[i] - expected_excess_deg) < 2.0);

            const auto expected_minimum = peaking.response(f);
            CHECK(std::fabs(split.minimum_phase.magnitude_db[i] - linetune::db_from_amplitude(std::abs(expected_minimum))) < 0.05);
            CHECK(phase_difference_deg(split.minimum_phase.phase_deg[i], std::arg(expected_minimum) * 180.0 / linetune::pi) < 2.0);

            // Group delay from the analytic phase by a ±0.5 Hz central difference.
            const double step_hz = 0.5;
            const double slope_deg_per_hz = (unwrapped_allpass_phase_deg(allpass, f + step_hz) -
                                             unwrapped_allpass_phase_deg(allpass, f - step_hz)) / (2.0 * step_hz);
            const double expected_delay_ms = 5.0 - 1000.0 * slope_deg_per_hz / 360.0;
            CHECK(std::fabs(split.excess_group_delay_ms[i] - expected_delay_ms) < 0.01);
        }
    }

    TEST_CASE("invalid inputs are rejected") {
        const std::vector<double> too_few(10, 1.0);
        CHECK_THROWS_WITH_AS(linetune::analysis::minimum_phase_spectrum(too_few, 64),
                             doctest::Contains("needs 33 magnitude bins (0 to N/2), got 10"), linetune::Error);
        const std::vector<double> silent(33, 0.0);
        CHECK_THROWS_WITH_AS(linetune::analysis::minimum_phase_spectrum(silent, 64),
                             doctest::Contains("zero in every bin"), linetune::Error);
        const std::vector<float> ir{1.0F, 0.0F};
        CHECK_THROWS_WITH_AS(linetune::analysis::split_minimum_excess_phase(ir, sample_rate_hz, {1000.0, 30000.0}),
                             doctest::Contains("30000 Hz is outside 0 to 24000 Hz"), linetune::Error);
        CHECK_THROWS_WITH_AS(linetune::analysis::split_minimum_excess_phase({}, sample_rate_hz, {1000.0}),
                             doctest::Contains("empty"), linetune::Error);
    }
}
