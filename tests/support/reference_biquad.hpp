#pragma once

#include "linetune/core/units.hpp"

#include <cmath>
#include <complex>
#include <cstddef>
#include <vector>

namespace linetune::test {

/// Biquad with a0 normalised to 1, designed in the tests with the RBJ Audio EQ Cookbook formulas,
/// independently of the product's own biquad design.
struct ReferenceBiquad {
    double b0, b1, b2, a1, a2;
    double sample_rate_hz = 48000.0;

    static ReferenceBiquad normalised(double b0, double b1, double b2, double a0, double a1, double a2,
                                      double sample_rate_hz) {
        return {b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0, sample_rate_hz};
    }

    /// Peaking EQ: zeros and poles inside the unit circle for any gain, so minimum phase.
    static ReferenceBiquad peaking(double freq_hz, double gain_db, double q, double sample_rate_hz = 48000.0) {
        const double w0 = 2.0 * pi * freq_hz / sample_rate_hz;
        const double alpha = std::sin(w0) / (2.0 * q);
        const double a = std::pow(10.0, gain_db / 40.0);
        return normalised(1.0 + alpha * a, -2.0 * std::cos(w0), 1.0 - alpha * a, 1.0 + alpha / a, -2.0 * std::cos(w0),
                          1.0 - alpha / a, sample_rate_hz);
    }

    static ReferenceBiquad highpass(double freq_hz, double q, double sample_rate_hz = 48000.0) {
        const double w0 = 2.0 * pi * freq_hz / sample_rate_hz;
        const double alpha = std::sin(w0) / (2.0 * q);
        const double c = std::cos(w0);
        return normalised((1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0, 1.0 + alpha, -2.0 * c, 1.0 - alpha,
                          sample_rate_hz);
    }

    /// Second-order all-pass: zeros mirror the poles outside the unit circle, so all excess phase
    /// (0° at 0 Hz, −180° at freq_hz, −360° at Nyquist).
    static ReferenceBiquad allpass(double freq_hz, double q, double sample_rate_hz = 48000.0) {
        const double w0 = 2.0 * pi * freq_hz / sample_rate_hz;
        const double alpha = std::sin(w0) / (2.0 * q);
        const double c = std::cos(w0);
        return normalised(1.0 - alpha, -2.0 * c, 1.0 + alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha, sample_rate_hz);
    }

    /// H(e^(jω)) at freq_hz.
    [[nodiscard]] std::complex<double> response(double freq_hz) const {
        const auto z1 = std::polar(1.0, -2.0 * pi * freq_hz / sample_rate_hz);
        const auto z2 = z1 * z1;
        return (b0 + b1 * z1 + b2 * z2) / (1.0 + a1 * z1 + a2 * z2);
    }

    /// Filters the input (direct form I, zero initial state).
    [[nodiscard]] std::vector<double> filter(const std::vector<double>& input) const {
        std::vector<double> output(input.size());
        double x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0;
        for (std::size_t n = 0; n < input.size(); ++n) {
            const double y = b0 * input[n] + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            x2 = x1;
            x1 = input[n];
            y2 = y1;
            y1 = y;
            output[n] = y;
        }
        return output;
    }

    /// The filter's first `length` impulse-response samples.
    [[nodiscard]] std::vector<float> impulse_response(std::size_t length) const {
        std::vector<double> impulse(length, 0.0);
        if (length > 0) {
            impulse[0] = 1.0;
        }
        const std::vector<double> output = filter(impulse);
        return {output.begin(), output.end()};
    }
};

/// Adds a band-limited impulse centred at a fractional position: a sinc with its cutoff at 0.8 of
/// Nyquist under a Blackman window of ±64 samples, so it is symmetric about `position`.
inline void add_band_limited_impulse(std::vector<float>& signal, double position, double amplitude) {
    constexpr double cutoff = 0.8;
    constexpr double half_width = 64.0;
    for (std::size_t n = 0; n < signal.size(); ++n) {
        const double t = static_cast<double>(n) - position;
        if (std::fabs(t) > half_width) {
            continue;
        }
        const double x = pi * cutoff * t;
        const double sinc = std::fabs(x) < 1e-12 ? 1.0 : std::sin(x) / x;
        const double window = 0.42 + 0.5 * std::cos(pi * t / half_width) + 0.08 * std::cos(2.0 * pi * t / half_width);
        signal[n] += static_cast<float>(amplitude * sinc * window);
    }
}

}  // namespace linetune::test
