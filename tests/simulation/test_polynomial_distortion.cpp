#include "linetune/core/units.hpp"
#include "linetune/simulation/polynomial_distortion.hpp"

#include "simulation_fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <span>
#include <vector>

namespace {

using namespace linetune;
using simulation::apply_oversampled_polynomial;
using simulation::OversampledPolynomial;
using simulation::PolynomialCoefficients;

constexpr double rate_hz = 48000.0;
// One second of analysis: every tone below is a whole number of hertz, so each sits on a DFT bin
// of this length and leaks nothing into the others.
constexpr std::size_t analysis_frames = 48000;
// The analysis starts this far into the output and ends as far before its end, away from the
// filters' transients where the tone starts and stops (189 taps at twice the rate, about 2 ms).
constexpr std::size_t settle_frames = 4800;
constexpr std::size_t tone_frames = settle_frames + analysis_frames + settle_frames;

std::vector<float> tone(double freq_hz, double amplitude, std::size_t frames) {
    std::vector<float> signal(frames);
    for (std::size_t n = 0; n < frames; ++n) {
        signal[n] = static_cast<float>(amplitude * std::sin(2.0 * pi * freq_hz * static_cast<double>(n) / rate_hz));
    }
    return signal;
}

/// Amplitude of the component at freq_hz over the analysis second.
double amplitude_at(std::span<const float> signal, double freq_hz) {
    const auto segment = signal.subspan(settle_frames, analysis_frames);
    return 2.0 * std::abs(test::dtft(segment, freq_hz, rate_hz)) / static_cast<double>(analysis_frames);
}

/// |H(f)| of the FIR taps at f cycles per sample.
double lowpass_gain(const std::vector<double>& taps, double cycles_per_sample) {
    std::complex<double> sum = 0.0;
    for (std::size_t k = 0; k < taps.size(); ++k) {
        sum += taps[k] * std::polar(1.0, -2.0 * pi * cycles_per_sample * static_cast<double>(k));
    }
    return std::abs(sum);
}

TEST_SUITE("polynomial distortion") {
    TEST_CASE("3rd harmonic above Nyquist does not alias") {
        // A 10 kHz tone's 3rd harmonic is 30 kHz, above the 24 kHz Nyquist frequency; applied at
        // 48 kHz it would fold to 48 − 30 = 18 kHz at the full 3rd-harmonic level.
        const double amplitude = 0.5;
        const PolynomialCoefficients cubic_only = simulation::polynomial_for_harmonics(-300.0, -40.0);
        const double harmonic3_amplitude = cubic_only.a3 * std::pow(amplitude, 3.0) / 4.0;
        const std::vector<float> input = tone(10000.0, amplitude, tone_frames);

        // The measurement finds the alias when the polynomial runs at 48 kHz.
        std::vector<float> at_base_rate(input.size());
        std::transform(input.begin(), input.end(), at_base_rate.begin(), [&](float x) {
            const double v = x;
            return static_cast<float>(v + cubic_only.a3 * v * v * v);
        });
        CHECK(std::fabs(db_from_amplitude(amplitude_at(at_base_rate, 18000.0) / harmonic3_amplitude)) <= 0.1);

        const std::vector<float> output = apply_oversampled_polynomial(input, cubic_only);
        const double alias_db = db_from_amplitude(amplitude_at(output, 18000.0) / harmonic3_amplitude);
        MESSAGE("alias at 18 kHz re the 3rd harmonic's level: " << alias_db << " dB");
        CHECK(alias_db <= -80.0);

        // The cubic term's share of the fundamental, 3·a3·A³/4, stays.
        const double fundamental = amplitude + 3.0 * harmonic3_amplitude;
        CHECK(amplitude_at(output, 10000.0) == doctest::Approx(fundamental).epsilon(1e-5));
    }

    TEST_CASE("harmonics below Nyquist match the polynomial") {
        // A 1 kHz tone's harmonics (2 and 3 kHz) lie in the passband, so the oversampled output
        // equals x + a2·x² + a3·x³ sample by sample. A one-sample misalignment of the distortion
        // would leave an error near 40 % of its 3 kHz component (2π·3000/48000).
        const PolynomialCoefficients polynomial = simulation::polynomial_for_harmonics(-40.0, -46.0);
        const std::vector<float> input = tone(1000.0, 0.5, tone_frames);
        const std::vector<float> output = apply_oversampled_polynomial(input, polynomial);
        REQUIRE(output.size() == input.size());

        double max_error = 0.0;
        for (std::size_t n = settle_frames; n < settle_frames + analysis_frames; ++n) {
            const double x = input[n];
            const double expected = x + polynomial.a2 * x * x + polynomial.a3 * x * x * x;
            max_error = std::max(max_error, std::fabs(output[n] - expected));
        }
        // 1e-7 is −140 dBFS: float rounding of a 0.5 signal is 3e-8, and the filters' passband
        // ripple (about 1e-6 of the distortion, which is under 3e-3 here) adds less.
        CHECK(max_error <= 1e-7);
        CHECK(amplitude_at(output, 3000.0) == doctest::Approx(polynomial.a3 * 0.125 / 4.0).epsilon(1e-4));
        CHECK(amplitude_at(output, 2000.0) == doctest::Approx(polynomial.a2 * 0.25 / 2.0).epsilon(1e-4));
    }

    TEST_CASE("linear path is exact and delayed by the latency") {
        OversampledPolynomial linear(PolynomialCoefficients{});
        std::vector<float> impulse(400, 0.0F);
        impulse[3] = 0.75F;
        std::vector<float> output(impulse.size());
        linear.process(impulse, output);
        for (std::size_t n = 0; n < output.size(); ++n) {
            CAPTURE(n);
            CHECK(output[n] == (n == 3 + linear.latency_samples() ? 0.75F : 0.0F));
        }
        const std::vector<float> aligned = apply_oversampled_polynomial(impulse, PolynomialCoefficients{});
        CHECK(aligned == impulse);
    }

    TEST_CASE("blocks give the same output as one call") {
        const PolynomialCoefficients polynomial = simulation::polynomial_for_harmonics(-40.0, -46.0);
        const std::vector<float> input = tone(4321.0, 0.7, 3000);
        OversampledPolynomial whole(polynomial);
        std::vector<float> expected(input.size());
        whole.process(input, expected);

        OversampledPolynomial in_blocks(polynomial);
        std::vector<float> output = input;  // processed in place
        for (std::size_t begin = 0; begin < output.size(); begin += 97) {
            const std::size_t length = std::min<std::size_t>(97, output.size() - begin);
            const std::span<float> block(output.data() + begin, length);
            in_blocks.process(block, block);
        }
        CHECK(output == expected);

        in_blocks.reset();
        std::vector<float> again(input.size());
        in_blocks.process(input, again);
        CHECK(again == expected);
    }

    TEST_CASE("oversampling low-pass stops from half the sample rate") {
        // At twice the rate: the passband ends at 20 kHz / 96 kHz, the stopband starts at
        // 24 kHz / 96 kHz (the original Nyquist frequency) and runs to 48 kHz.
        const std::vector<double>& taps = simulation::oversampling_lowpass_taps();
        REQUIRE(taps.size() % 2 == 1);
        double passband_deviation_db = 0.0;
        for (double f = 0.0; f <= 20000.0 / 96000.0; f += 0.0005) {
            passband_deviation_db = std::max(passband_deviation_db, std::fabs(db_from_amplitude(lowpass_gain(taps, f))));
        }
        double stopband_db = -300.0;
        for (double f = 0.25; f <= 0.5; f += 0.0001) {
            stopband_db = std::max(stopband_db, db_from_amplitude(lowpass_gain(taps, f)));
        }
        MESSAGE("oversampling low-pass: " << taps.size() << " taps, passband deviation " << passband_deviation_db
                                          << " dB, stopband " << stopband_db << " dB");
        CHECK(passband_deviation_db <= 1e-4);
        CHECK(stopband_db <= -115.0);
    }
}

}  // namespace
