#include "differentiable_filters.hpp"

#include <cmath>
#include <numbers>

// With A = 10^(gain_db / 40), ω0 = 2π·f0 / fs and α = sin ω0 / (2Q), the cookbook gives
// (b0, b1, b2, a0, a1, a2) per filter type (see analysis/biquad.cpp for the same table). The
// response at ω = 2π·f / fs is
//
//     H(e^jω) = (b0 + b1·e^−jω + b2·e^−2jω) / (1 + a1·e^−jω + a2·e^−2jω)
//
// evaluated with real arithmetic: Re N = b0 + b1·cos ω + b2·cos 2ω, Im N = −(b1·sin ω + b2·sin 2ω),
// likewise for the denominator. The magnitude is 10·log10(|N|² / |D|²), the phase atan2 of N·conj(D).
// Everything is built from differentiable torch operations, so autograd gives the gradients.

namespace linetune::learned {
namespace {

struct Coefficients {
    torch::Tensor b0, b1, b2, a1, a2;
};

Coefficients design(analysis::FilterType type, const torch::Tensor& freq_hz, const torch::Tensor& gain_db,
                    const torch::Tensor& q, double sample_rate_hz) {
    using analysis::FilterType;
    const auto w0 = freq_hz * (2.0 * std::numbers::pi / sample_rate_hz);
    const auto cos_w0 = torch::cos(w0);
    const auto alpha = torch::sin(w0) / (2.0 * q);
    const auto a = torch::pow(10.0, gain_db / 40.0);

    torch::Tensor b0, b1, b2, a0, a1, a2;
    switch (type) {
    case FilterType::peaking:
        b0 = 1.0 + alpha * a;
        b1 = -2.0 * cos_w0;
        b2 = 1.0 - alpha * a;
        a0 = 1.0 + alpha / a;
        a1 = -2.0 * cos_w0;
        a2 = 1.0 - alpha / a;
        break;
    case FilterType::low_shelf: {
        const auto two_sqrt_a_alpha = 2.0 * torch::sqrt(a) * alpha;
        b0 = a * ((a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha);
        b1 = 2.0 * a * ((a - 1.0) - (a + 1.0) * cos_w0);
        b2 = a * ((a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha);
        a0 = (a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha;
        a1 = -2.0 * ((a - 1.0) + (a + 1.0) * cos_w0);
        a2 = (a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha;
        break;
    }
    case FilterType::high_shelf: {
        const auto two_sqrt_a_alpha = 2.0 * torch::sqrt(a) * alpha;
        b0 = a * ((a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha);
        b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cos_w0);
        b2 = a * ((a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha);
        a0 = (a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha;
        a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cos_w0);
        a2 = (a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha;
        break;
    }
    case FilterType::high_pass:
        b0 = (1.0 + cos_w0) / 2.0;
        b1 = -(1.0 + cos_w0);
        b2 = (1.0 + cos_w0) / 2.0;
        a0 = 1.0 + alpha;
        a1 = -2.0 * cos_w0;
        a2 = 1.0 - alpha;
        break;
    case FilterType::low_pass:
        b0 = (1.0 - cos_w0) / 2.0;
        b1 = 1.0 - cos_w0;
        b2 = (1.0 - cos_w0) / 2.0;
        a0 = 1.0 + alpha;
        a1 = -2.0 * cos_w0;
        a2 = 1.0 - alpha;
        break;
    }
    return {b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0};
}

/// Real and imaginary parts of numerator and denominator at eval_freq_hz.
struct ResponseParts {
    torch::Tensor numerator_real, numerator_imag, denominator_real, denominator_imag;
};

ResponseParts response_parts(analysis::FilterType type, const torch::Tensor& freq_hz, const torch::Tensor& gain_db,
                             const torch::Tensor& q, const torch::Tensor& eval_freq_hz, double sample_rate_hz) {
    const auto c = design(type, freq_hz, gain_db, q, sample_rate_hz);
    const auto w = eval_freq_hz * (2.0 * std::numbers::pi / sample_rate_hz);
    const auto cos_w = torch::cos(w);
    const auto sin_w = torch::sin(w);
    const auto cos_2w = torch::cos(2.0 * w);
    const auto sin_2w = torch::sin(2.0 * w);
    return {c.b0 + c.b1 * cos_w + c.b2 * cos_2w, -(c.b1 * sin_w + c.b2 * sin_2w), 1.0 + c.a1 * cos_w + c.a2 * cos_2w,
            -(c.a1 * sin_w + c.a2 * sin_2w)};
}

}  // namespace

torch::Tensor biquad_coefficients(analysis::FilterType type, const torch::Tensor& freq_hz,
                                  const torch::Tensor& gain_db, const torch::Tensor& q, double sample_rate_hz) {
    const auto c = design(type, freq_hz, gain_db, q, sample_rate_hz);
    return torch::stack({c.b0, c.b1, c.b2, c.a1, c.a2}, -1);
}

torch::Tensor band_magnitude_db(analysis::FilterType type, const torch::Tensor& freq_hz, const torch::Tensor& gain_db,
                                const torch::Tensor& q, const torch::Tensor& eval_freq_hz, double sample_rate_hz) {
    const auto p = response_parts(type, freq_hz, gain_db, q, eval_freq_hz, sample_rate_hz);
    const auto numerator_power = p.numerator_real * p.numerator_real + p.numerator_imag * p.numerator_imag;
    const auto denominator_power = p.denominator_real * p.denominator_real + p.denominator_imag * p.denominator_imag;
    return 10.0 * torch::log10(numerator_power / denominator_power);
}

torch::Tensor band_phase_rad(analysis::FilterType type, const torch::Tensor& freq_hz, const torch::Tensor& gain_db,
                             const torch::Tensor& q, const torch::Tensor& eval_freq_hz, double sample_rate_hz) {
    const auto p = response_parts(type, freq_hz, gain_db, q, eval_freq_hz, sample_rate_hz);
    // arg(N / D) = arg(N · conj(D))
    const auto real = p.numerator_real * p.denominator_real + p.numerator_imag * p.denominator_imag;
    const auto imag = p.numerator_imag * p.denominator_real - p.numerator_real * p.denominator_imag;
    return torch::atan2(imag, real);
}

}  // namespace linetune::learned
