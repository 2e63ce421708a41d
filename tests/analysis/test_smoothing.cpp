#include "linetune/analysis/smoothing.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using linetune::analysis::Smoothing;
using linetune::analysis::SmoothingKind;

namespace {

/// Frequencies 0, df, 2·df, ... like the bins of an FFT.
std::vector<double> uniform_grid_hz(std::size_t count, double step_hz) {
    std::vector<double> grid(count);
    for (std::size_t i = 0; i < count; ++i) {
        grid[i] = static_cast<double>(i) * step_hz;
    }
    return grid;
}

/// Largest |10·log10(smoothed / expected)| over all points.
double max_level_error_db(const std::vector<double>& smoothed, double expected_power) {
    double worst_db = 0.0;
    for (const double p : smoothed) {
        worst_db = std::max(worst_db, std::fabs(linetune::db_from_power(p) - linetune::db_from_power(expected_power)));
    }
    return worst_db;
}

/// Approx with a purely relative tolerance (doctest's default scale of 1 adds an absolute one).
doctest::Approx relative(double expected, double tolerance) {
    return doctest::Approx(expected).epsilon(tolerance).scale(0.0);
}

/// Width in Hz of the log-symmetric window of width_octaves centred on freq_hz.
double window_width_hz(double freq_hz, double width_octaves) {
    return freq_hz * (std::exp2(width_octaves / 2.0) - std::exp2(-width_octaves / 2.0));
}

std::vector<Smoothing> every_smoothing() {
    std::vector<Smoothing> all;
    for (const char* text : {"none", "1/1", "1/2", "1/3", "1/6", "1/12", "1/24", "1/48", "var", "psy", "erb"}) {
        all.push_back(linetune::analysis::parse_smoothing(text));
    }
    return all;
}

}  // namespace

TEST_SUITE("smoothing") {
    TEST_CASE("parse accepts every listed setting") {
        struct Case {
            const char* text;
            SmoothingKind kind;
            double octave_fraction;
        };
        const Case cases[] = {
            {"none", SmoothingKind::none, 0.0},
            {"1/1", SmoothingKind::fractional_octave, 1.0},
            {"1/2", SmoothingKind::fractional_octave, 2.0},
            {"1/3", SmoothingKind::fractional_octave, 3.0},
            {"1/6", SmoothingKind::fractional_octave, 6.0},
            {"1/12", SmoothingKind::fractional_octave, 12.0},
            {"1/24", SmoothingKind::fractional_octave, 24.0},
            {"1/48", SmoothingKind::fractional_octave, 48.0},
            {"var", SmoothingKind::variable, 0.0},
            {"psy", SmoothingKind::psychoacoustic, 0.0},
            {"erb", SmoothingKind::erb, 0.0},
        };
        for (const auto& c : cases) {
            CAPTURE(c.text);
            const Smoothing parsed = linetune::analysis::parse_smoothing(c.text);
            CHECK(parsed.kind == c.kind);
            CHECK(parsed.octave_fraction == c.octave_fraction);
            CHECK(linetune::analysis::to_string(parsed) == c.text);
        }
    }

    TEST_CASE("parse rejects an unknown setting") {
        try {
            (void)linetune::analysis::parse_smoothing("1/5");
            FAIL("1/5 was accepted");
        } catch (const linetune::Error& error) {
            const std::string message = error.what();
            CHECK(error.kind() == linetune::ErrorKind::configuration);
            CHECK(message.find("'1/5'") != std::string::npos);
            CHECK(message.find("1/48") != std::string::npos);
            CHECK(message.find("var, psy, erb") != std::string::npos);
        }
    }

    TEST_CASE("flat spectrum stays flat for every kind") {
        // FFT-like grid (0 Hz to 24 kHz) and a sparse log grid, both checked to the last point.
        const auto fft_grid = uniform_grid_hz(32769, 24000.0 / 32768.0);
        const auto log_grid = linetune::log_frequency_grid(20.0, 20000.0, 12.0);
        const double level = 0.25;
        for (const Smoothing& smoothing : every_smoothing()) {
            CAPTURE(linetune::analysis::to_string(smoothing));
            for (const auto* grid : {&fft_grid, &log_grid}) {
                const std::vector<double> power(grid->size(), level);
                const auto smoothed = linetune::analysis::smooth_power(*grid, power, smoothing);
                REQUIRE(smoothed.size() == grid->size());
                CHECK(max_level_error_db(smoothed, level) < 1e-9);
                CHECK(std::fabs(linetune::db_from_power(smoothed.front() / level)) < 1e-9);
                CHECK(std::fabs(linetune::db_from_power(smoothed.back() / level)) < 1e-9);
            }
        }
    }

    TEST_CASE("third-octave smoothing spreads a spike over its window") {
        // A 1 Hz grid with all power in the 1 kHz bin: as a piecewise-linear function that is a
        // triangle of area 1 (power × Hz). Every window containing it reads 1 / window width.
        const auto grid = uniform_grid_hz(20001, 1.0);
        std::vector<double> power(grid.size(), 0.0);
        power[1000] = 1.0;
        const auto smoothed = linetune::analysis::smooth_power(grid, power, {SmoothingKind::fractional_octave, 3.0});

        const double third = 1.0 / 3.0;
        CHECK(smoothed[1000] == relative(1.0 / window_width_hz(1000.0, third), 1e-9));
        CHECK(smoothed[1100] == relative(1.0 / window_width_hz(1100.0, third), 1e-9));
        CHECK(smoothed[900] == relative(1.0 / window_width_hz(900.0, third), 1e-9));
        // Outside f0·2^(±1/6) = 891 to 1122 Hz no window reaches the spike (with one bin margin).
        CHECK(smoothed[888] == 0.0);
        CHECK(smoothed[1125] == 0.0);

        // Energy: Σ smoothed · 1 Hz ≈ ∫ df / W(f) over the spread = ln(r²) / (r − 1/r) = 0.9978.
        double energy = 0.0;
        for (const double p : smoothed) {
            energy += p;
        }
        CHECK(energy == relative(1.0, 0.005));
    }

    TEST_CASE("smoothing averages power, not dB") {
        // Alternating bins of power 1 and 0 have a power mean of 0.5 (−3.01 dB). A mean of dB
        // values would sit near −150 dB because the zero bins read −300 dB.
        const auto grid = uniform_grid_hz(20001, 1.0);
        std::vector<double> power(grid.size(), 0.0);
        for (std::size_t i = 0; i < power.size(); i += 2) {
            power[i] = 1.0;
        }
        const auto smoothed = linetune::analysis::smooth_power(grid, power, {SmoothingKind::fractional_octave, 3.0});
        // Windows of 230 to 2300 bins: the partial period at each edge moves the mean < 0.05 dB.
        for (const std::size_t bin : {1000U, 5000U, 10000U}) {
            CAPTURE(bin);
            CHECK(std::fabs(linetune::db_from_power(smoothed[bin]) - (-3.0103)) < 0.05);
        }
    }

    TEST_CASE("psychoacoustic smoothing takes the cubic mean") {
        // |H| alternating 1 and 0: cube root of mean |H|³ = 0.5^(1/3), i.e. −2.007 dB, above the
        // −3.01 dB power mean because the cubic mean weights peaks more.
        const auto grid = uniform_grid_hz(20001, 1.0);
        std::vector<double> power(grid.size(), 0.0);
        for (std::size_t i = 0; i < power.size(); i += 2) {
            power[i] = 1.0;
        }
        const auto smoothed = linetune::analysis::smooth_power(grid, power, {SmoothingKind::psychoacoustic, 0.0});
        const double expected_db = 20.0 * std::log10(std::cbrt(0.5));
        for (const std::size_t bin : {5000U, 10000U}) {
            CAPTURE(bin);
            CHECK(std::fabs(linetune::db_from_power(smoothed[bin]) - expected_db) < 0.05);
        }
    }

    TEST_CASE("variable width follows frequency") {
        const Smoothing variable{SmoothingKind::variable, 0.0};
        const auto width = [&](double f) { return linetune::analysis::smoothing_width_octaves(variable, f); };
        CHECK(width(50.0) == relative(1.0 / 48.0, 1e-12));
        CHECK(width(100.0) == relative(1.0 / 48.0, 1e-12));
        // √(100 · 1000) Hz is half-way on the log axis between 1/48 and 1/6.
        CHECK(width(std::sqrt(1e5)) == relative(0.5 * (1.0 / 48.0 + 1.0 / 6.0), 1e-12));
        CHECK(width(1000.0) == relative(1.0 / 6.0, 1e-12));
        CHECK(width(std::sqrt(1e7)) == relative(0.25, 1e-12));
        CHECK(width(10000.0) == relative(1.0 / 3.0, 1e-12));
        CHECK(width(20000.0) == relative(1.0 / 3.0, 1e-12));
    }

    TEST_CASE("variable smoothing keeps bass detail") {
        // A spike at 60 Hz on a 0.05 Hz grid spreads over 1/48 octave only.
        const auto grid = uniform_grid_hz(4001, 0.05);
        std::vector<double> power(grid.size(), 0.0);
        power[1200] = 1.0;
        const auto smoothed = linetune::analysis::smooth_power(grid, power, {SmoothingKind::variable, 0.0});
        const double area = 0.05;
        CHECK(smoothed[1200] == relative(area / window_width_hz(60.0, 1.0 / 48.0), 1e-9));
        // 60 · 2^(1/96) = 60.44 Hz: the window of a point 0.6 Hz higher no longer reaches 60 Hz.
        CHECK(smoothed[1212] == 0.0);
    }

    TEST_CASE("psychoacoustic width follows REW") {
        const Smoothing psy{SmoothingKind::psychoacoustic, 0.0};
        const auto width = [&](double f) { return linetune::analysis::smoothing_width_octaves(psy, f); };
        CHECK(width(50.0) == relative(1.0 / 3.0, 1e-12));
        CHECK(width(std::sqrt(1e5)) == relative(0.25, 1e-12));
        CHECK(width(1000.0) == relative(1.0 / 6.0, 1e-12));
        CHECK(width(8000.0) == relative(1.0 / 6.0, 1e-12));
    }

    TEST_CASE("erb window spans one ERB") {
        // ERB(f) = 107.77 · f / 1000 + 24.673 Hz (Glasberg & Moore), f in Hz.
        const Smoothing erb{SmoothingKind::erb, 0.0};
        for (const double f : {20.0, 50.0, 1000.0, 10000.0}) {
            CAPTURE(f);
            const double width_octaves = linetune::analysis::smoothing_width_octaves(erb, f);
            CHECK(window_width_hz(f, width_octaves) == relative(107.77 * f / 1000.0 + 24.673, 1e-12));
        }
        // About 0.86 octave at 50 Hz, about 1/5.5 octave at 1 kHz.
        CHECK(linetune::analysis::smoothing_width_octaves(erb, 50.0) == relative(0.855, 0.01));
        CHECK(linetune::analysis::smoothing_width_octaves(erb, 1000.0) == relative(0.1908, 0.01));
    }

    TEST_CASE("cost does not grow with window width") {
        // 2^20 bins: a direct window sum at 1/1 octave would add about 4·10^11 terms.
        const auto grid = uniform_grid_hz((1U << 20) + 1, 48000.0 / static_cast<double>(1U << 21));
        std::vector<double> power(grid.size());
        for (std::size_t i = 0; i < power.size(); ++i) {
            power[i] = 1.0 + 0.5 * std::sin(0.001 * static_cast<double>(i));
        }
        for (const std::string text : {"1/48", "1/1", "erb"}) {
            CAPTURE(text);
            const auto start = std::chrono::steady_clock::now();
            const auto smoothed = linetune::analysis::smooth_power(grid, power, linetune::analysis::parse_smoothing(text));
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            MESSAGE(text << " smoothing of 2^20 bins took " << seconds << " s");
            CHECK(smoothed.size() == grid.size());
            CHECK(seconds < 2.0);
        }
    }

    TEST_CASE("window mean equals direct integration") {
        // Random power on 2^20 bins, 120 dB lower above 200 Hz like a subwoofer's response,
        // checked against a trapezoid sum over each window. A high-frequency window mean is then
        // the difference of two prefix sums about 10^12 times larger than it.
        const std::size_t count = (1U << 20) + 1;
        const double step_hz = 24000.0 / static_cast<double>(count - 1);
        const auto grid = uniform_grid_hz(count, step_hz);
        std::vector<double> power(count);
        std::uint64_t state = 12345;
        for (std::size_t i = 0; i < count; ++i) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            const double random = static_cast<double>(state >> 11) / 9007199254740992.0;
            power[i] = grid[i] < 200.0 ? random : 1e-12 * random;
        }
        const auto smoothed = linetune::analysis::smooth_power(grid, power, {SmoothingKind::fractional_octave, 48.0});

        const double half_ratio = std::exp2(1.0 / 96.0);
        for (const std::size_t bin : {100U, 1000U, 10000U, 100000U, 1000000U}) {
            CAPTURE(bin);
            const double lower_hz = grid[bin] / half_ratio;
            const double upper_hz = grid[bin] * half_ratio;
            const auto value_at = [&](double f) {
                const auto k = static_cast<std::size_t>(f / step_hz);
                const double t = f / step_hz - static_cast<double>(k);
                return (1.0 - t) * power[k] + t * power[k + 1];
            };
            // Integrate segment by segment from lower_hz to upper_hz.
            double integral = 0.0;
            double from_hz = lower_hz;
            auto k = static_cast<std::size_t>(lower_hz / step_hz) + 1;
            for (; grid[k] < upper_hz; ++k) {
                integral += 0.5 * (grid[k] - from_hz) * (value_at(from_hz) + power[k]);
                from_hz = grid[k];
            }
            integral += 0.5 * (upper_hz - from_hz) * (value_at(from_hz) + value_at(upper_hz));
            CHECK(smoothed[bin] == relative(integral / (upper_hz - lower_hz), 1e-9));
        }
    }

    TEST_CASE("complex smoothing averages the vector") {
        // H = e^(jφ) with φ alternating 0 and 90° per bin: the vector mean is (1 + j)/2, phase 45°.
        const auto grid = uniform_grid_hz(20001, 1.0);
        std::vector<std::complex<double>> spectrum(grid.size());
        for (std::size_t i = 0; i < spectrum.size(); ++i) {
            spectrum[i] = i % 2 == 0 ? std::complex<double>{1.0, 0.0} : std::complex<double>{0.0, 1.0};
        }
        const auto smoothed = linetune::analysis::smooth_complex(grid, spectrum, {SmoothingKind::fractional_octave, 3.0});
        CHECK(std::arg(smoothed[10000]) * 180.0 / linetune::pi == relative(45.0, 0.01));
        CHECK(std::abs(smoothed[10000]) == relative(std::sqrt(0.5), 0.01));
    }

    TEST_CASE("response smoothing averages power on its own grid") {
        // Alternating +6 and −6 dB on a 1/48-octave grid: every trapezoid averages to the power mean
        // (3.981 + 0.251) / 2, so 1/3-octave smoothing reads 3.26 dB. Phase passes unchanged.
        linetune::FrequencyResponse curve;
        curve.freq_hz = linetune::log_frequency_grid(20.0, 20000.0, 48.0);
        for (std::size_t i = 0; i < curve.size(); ++i) {
            curve.magnitude_db.push_back(i % 2 == 0 ? 6.0 : -6.0);
            curve.phase_deg.push_back(static_cast<double>(i));
        }
        const auto smoothed = linetune::analysis::smooth_response(curve, {SmoothingKind::fractional_octave, 3.0});
        const double expected_db = 10.0 * std::log10(0.5 * (std::pow(10.0, 0.6) + std::pow(10.0, -0.6)));
        REQUIRE(smoothed.size() == curve.size());
        CHECK(std::fabs(smoothed.magnitude_db[curve.size() / 2] - expected_db) < 0.02);
        CHECK(smoothed.phase_deg == curve.phase_deg);
        CHECK(smoothed.freq_hz == curve.freq_hz);
    }

    TEST_CASE("invalid grids are rejected") {
        const std::vector<double> descending{100.0, 200.0, 150.0};
        const std::vector<double> power{1.0, 1.0, 1.0};
        const Smoothing third{SmoothingKind::fractional_octave, 3.0};
        CHECK_THROWS_WITH_AS(linetune::analysis::smooth_power(descending, power, third),
                             doctest::Contains("not strictly ascending at point 2"), linetune::Error);
        const std::vector<double> ascending{100.0, 200.0, 300.0};
        const std::vector<double> short_power{1.0, 1.0};
        CHECK_THROWS_WITH_AS(linetune::analysis::smooth_power(ascending, short_power, third),
                             doctest::Contains("2 values for 3 frequencies"), linetune::Error);
        const std::vector<double> negative_power{1.0, -1.0, 1.0};
        CHECK_THROWS_WITH_AS(linetune::analysis::smooth_power(ascending, negative_power, third),
                             doctest::Contains("at 200 Hz is -1"), linetune::Error);
        try {
            (void)linetune::analysis::smooth_power(ascending, power, {SmoothingKind::fractional_octave, 0.0});
            FAIL("octave fraction 0 was accepted");
        } catch (const linetune::Error& error) {
            CHECK(error.kind() == linetune::ErrorKind::configuration);
        }
    }
}
