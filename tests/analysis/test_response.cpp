#include "linetune/analysis/response.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <doctest/doctest.h>

#include "reference_biquad.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

using linetune::analysis::ResponseOptions;
using linetune::analysis::SmoothingKind;

namespace {

constexpr double sample_rate_hz = 48000.0;

using Biquad = linetune::test::ReferenceBiquad;

/// |a − b| for angles in degrees, across the ±180° wrap.
double phase_difference_deg(double a_deg, double b_deg) {
    return std::fabs(std::remainder(a_deg - b_deg, 360.0));
}

double phase_deg(std::complex<double> value) {
    return std::arg(value) * 180.0 / linetune::pi;
}

struct Errors {
    double magnitude_db = 0.0;
    double phase_deg = 0.0;
};

Errors max_errors_against(const linetune::FrequencyResponse& response, double min_hz, double max_hz,
                          const auto& expected_at) {
    Errors worst;
    for (std::size_t i = 0; i < response.size(); ++i) {
        const double f = response.freq_hz[i];
        if (f < min_hz || f > max_hz) {
            continue;
        }
        const std::complex<double> expected = expected_at(f);
        worst.magnitude_db = std::max(worst.magnitude_db,
                                      std::fabs(response.magnitude_db[i] - linetune::db_from_amplitude(std::abs(expected))));
        worst.phase_deg = std::max(worst.phase_deg, phase_difference_deg(response.phase_deg[i], phase_deg(expected)));
    }
    return worst;
}

/// Direct sound at 50 ms, a half-amplitude reflection 20 ms (960 samples) later, 1 s in all.
std::vector<float> direct_and_reflection() {
    std::vector<float> ir(48000, 0.0F);
    ir[2400] = 1.0F;
    ir[2400 + 960] = 0.5F;
    return ir;
}

}  // namespace

TEST_SUITE("response") {
    TEST_CASE("delayed unit impulse reads 0 dB and 0 degrees") {
        std::vector<float> ir(4800, 0.0F);
        ir[1000] = 1.0F;
        ResponseOptions plain;
        ResponseOptions smoothed;
        smoothed.smoothing = {SmoothingKind::fractional_octave, 3.0};
        ResponseOptions windowed;
        windowed.fdw_cycles = 15.0;
        ResponseOptions windowed_smoothed = windowed;
        windowed_smoothed.smoothing = {SmoothingKind::psychoacoustic, 0.0};

        int index = 0;
        for (const auto* options : {&plain, &smoothed, &windowed, &windowed_smoothed}) {
            CAPTURE(index++);
            const auto response = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 1000.0, *options);
            const auto errors = max_errors_against(response, 0.0, 1e9, [](double) { return std::complex<double>{1.0, 0.0}; });
            CHECK(errors.magnitude_db < 0.01);
            CHECK(errors.phase_deg < 0.5);
        }
    }

    TEST_CASE("phase is relative to the reference sample") {
        // Impulse 10 samples after the reference: phase −360·f·10/fs. The frequency-dependent
        // window, centred on the reference, also attenuates the impulse at high frequencies, so
        // only its phase is checked.
        std::vector<float> ir(4800, 0.0F);
        ir[1000] = 1.0F;
        const auto expected_at = [](double f) {
            return std::polar(1.0, -2.0 * linetune::pi * f * 10.0 / sample_rate_hz);
        };
        const auto plain = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 990.0, ResponseOptions{});
        const auto plain_errors = max_errors_against(plain, 0.0, 1e9, expected_at);
        CHECK(plain_errors.magnitude_db < 0.01);
        CHECK(plain_errors.phase_deg < 0.5);

        ResponseOptions windowed;
        windowed.fdw_cycles = 15.0;
        const auto windowed_response = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 990.0, windowed);
        CHECK(max_errors_against(windowed_response, 0.0, 1e9, expected_at).phase_deg < 0.5);
    }

    TEST_CASE("biquad impulse responses match their analytic response") {
        const Biquad filters[] = {
            Biquad::peaking(1000.0, 6.0, 2.0),
            Biquad::peaking(80.0, -9.0, 4.0),
            Biquad::highpass(60.0, 0.707),
        };
        int index = 0;
        for (const Biquad& filter : filters) {
            CAPTURE(index++);
            const auto ir = filter.impulse_response(48000);
            const auto response = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 0.0, ResponseOptions{});
            const auto errors = max_errors_against(response, 20.0, 20000.0, [&](double f) { return filter.response(f); });
            CHECK(errors.magnitude_db < 0.05);
            CHECK(errors.phase_deg < 1.0);
        }
    }

    TEST_CASE("end frequency is clipped below Nyquist") {
        std::vector<float> ir(480, 0.0F);
        ir[0] = 1.0F;
        const auto response = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 0.0, ResponseOptions{});
        REQUIRE(response.size() > 0);
        CHECK(response.freq_hz.front() == 10.0);
        CHECK(response.freq_hz.back() <= 0.95 * 24000.0);
        CHECK(response.freq_hz.back() > 0.95 * 24000.0 * std::exp2(-1.0 / 48.0));
    }

    TEST_CASE("15-cycle window removes a late reflection at 5 kHz") {
        const auto ir = direct_and_reflection();
        ResponseOptions windowed;
        windowed.fdw_cycles = 15.0;
        const auto with_window = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 2400.0, windowed);
        const auto without_window = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 2400.0, ResponseOptions{});

        // 4 to 6 kHz: the window spans 3.75 to 2.5 ms, so only the direct sound is left.
        const auto direct_only = max_errors_against(with_window, 4000.0, 6000.0,
                                                    [](double) { return std::complex<double>{1.0, 0.0}; });
        CHECK(direct_only.magnitude_db < 0.05);
        CHECK(direct_only.phase_deg < 0.5);
        // Without the window the comb (+3.5 / −6 dB, 50 Hz period) is there.
        const auto comb = max_errors_against(without_window, 4000.0, 6000.0,
                                             [](double) { return std::complex<double>{1.0, 0.0}; });
        CHECK(comb.magnitude_db > 3.0);
    }

    TEST_CASE("15-cycle window keeps the reflection at 100 Hz") {
        // At f the window's half width is h = 15·fs/(2f) samples and the reflection 960 samples
        // late is weighted by cos²(π·960/(2h)), e.g. 0.835 at 100 Hz.
        const auto ir = direct_and_reflection();
        ResponseOptions windowed;
        windowed.fdw_cycles = 15.0;
        const auto response = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 2400.0, windowed);
        const auto expected_at = [](double f) {
            const double half_width = 15.0 * sample_rate_hz / (2.0 * f);
            const double weight = std::pow(std::cos(linetune::pi * 960.0 / (2.0 * half_width)), 2.0);
            return 1.0 + 0.5 * weight * std::polar(1.0, -2.0 * linetune::pi * f * 0.020);
        };
        const auto errors = max_errors_against(response, 70.0, 130.0, expected_at);
        CHECK(errors.magnitude_db < 0.01);
        CHECK(errors.phase_deg < 0.5);

        double highest_db = -300.0;
        double lowest_db = 300.0;
        for (std::size_t i = 0; i < response.size(); ++i) {
            if (response.freq_hz[i] >= 70.0 && response.freq_hz[i] <= 130.0) {
                highest_db = std::max(highest_db, response.magnitude_db[i]);
                lowest_db = std::min(lowest_db, response.magnitude_db[i]);
            }
        }
        CHECK(highest_db - lowest_db > 6.0);
    }

    TEST_CASE("smoothed comb reads the power sum") {
        // Direct 1 plus reflection 0.5: the power mean over many comb periods is 1 + 0.25.
        const auto ir = direct_and_reflection();
        ResponseOptions options;
        options.smoothing = {SmoothingKind::fractional_octave, 3.0};
        const auto response = linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 2400.0, options);
        const double expected_db = 10.0 * std::log10(1.25);
        const auto errors = max_errors_against(response, 4000.0, 10000.0, [&](double) {
            return std::complex<double>{linetune::amplitude_from_db(expected_db), 0.0};
        });
        CHECK(errors.magnitude_db < 0.1);
    }

    TEST_CASE("invalid settings are rejected") {
        std::vector<float> ir(480, 0.0F);
        ir[0] = 1.0F;
        ResponseOptions short_window;
        short_window.fdw_cycles = 0.5;
        CHECK_THROWS_WITH_AS(linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 0.0, short_window),
                             doctest::Contains("0.5 cycles is below the minimum 1"), linetune::Error);
        ResponseOptions above_nyquist;
        above_nyquist.start_freq_hz = 30000.0;
        CHECK_THROWS_WITH_AS(linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 0.0, above_nyquist),
                             doctest::Contains("must be below the end frequency 22800 Hz"), linetune::Error);
        CHECK_THROWS_WITH_AS(linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 480.0, ResponseOptions{}),
                             doctest::Contains("reference sample 480 is outside"), linetune::Error);
        CHECK_THROWS_WITH_AS(linetune::analysis::compute_frequency_response({}, sample_rate_hz, 0.0, ResponseOptions{}),
                             doctest::Contains("empty"), linetune::Error);
        try {
            (void)linetune::analysis::compute_frequency_response(ir, sample_rate_hz, 0.0, short_window);
            FAIL("a half-cycle window was accepted");
        } catch (const linetune::Error& error) {
            CHECK(error.kind() == linetune::ErrorKind::configuration);
        }
    }
}
