#include "linetune/simulation/polynomial_distortion.hpp"

#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

// Oversampled polynomial distortion
// ---------------------------------
// y = x + d(x) with d(x) = a2·x² + a3·x³. For x band-limited to B, x² reaches 2B and x³ reaches
// 3B. Applied at the sample rate fs, every harmonic above fs/2 folds back to |k·fs − f|: a 3rd
// harmonic of a 10 kHz tone at 48 kHz (30 kHz) lands at 18 kHz, and the 3rd harmonic of a sweep
// above fs/6 becomes a falling sweep that deconvolution smears over the whole impulse response.
//
// So d is computed at 2·fs and low-pass filtered before decimation:
//  1. Interpolate x to 2·fs with the low-pass h: v[2n + p] = Σ_j 2·h[2j + p]·x[n − j], p = 0, 1.
//  2. s = d(v). Its content reaches 3·fs/2; what lies above fs (the doubled rate's Nyquist) folds
//     to 2·fs − f ≥ fs/2, so no folded component lands below fs/2.
//  3. Filter s with h and keep every other sample: z[n] = Σ_k h[k]·s[2n − k]. h passes
//     0 to 0.4167·fs (20 kHz at 48 kHz) and stops from fs/2, so the true harmonics above fs/2 and
//     the components folded in step 2 are removed before they can fold into 0 to fs/2.
//  4. y[n] = x[n − c] + z[n]: the linear part is the input delayed by the filters' combined group
//     delay c = (N − 1)/2 samples at fs (N taps, each filter delays by c samples at 2·fs), never
//     filtered, so a zero-distortion path stays bit-exact.
// A factor of 2 suffices for a cubic: the highest component 3·fs/2 folds no lower than fs/2. A
// polynomial of order K needs (K + 1)/2. Input content between 0.4167·fs and fs/2 passes the
// interpolation filter only partly, so the distortion of that band is approximate.
//
// The filter is a Kaiser-windowed sinc, sized with Kaiser's empirical formulas: for attenuation
// A dB and transition width Δf (cycles per sample), β = 0.1102·(A − 8.7) and
// N − 1 = (A − 7.95) / (2.285·2π·Δf). With A = 120 dB and
// Δf = 0.0417 at 2·fs that is 189 taps. Alias rejection: the stopband attenuates every component
// that would fold into 0 to fs/2 by at least 119.8 dB as designed, and the unit test checks 115 dB.
// A 10 kHz tone's 3rd harmonic at 48 kHz then leaves nothing measurable at 18 kHz.

namespace linetune::simulation {
namespace {

constexpr double passband_edge_fraction_of_rate = 20000.0 / 48000.0;  // 20 kHz at 48 kHz: the audio band
constexpr double stopband_edge_fraction_of_rate = 0.5;                // fs/2: nothing above may fold back
constexpr double stopband_attenuation_db = 120.0;

std::vector<double> design_lowpass() {
    // Edges in cycles per sample at the doubled rate.
    const double passband_edge = passband_edge_fraction_of_rate / 2.0;
    const double stopband_edge = stopband_edge_fraction_of_rate / 2.0;
    const double transition = stopband_edge - passband_edge;
    const double cutoff = (passband_edge + stopband_edge) / 2.0;

    const double beta = 0.1102 * (stopband_attenuation_db - 8.7);
    auto order = static_cast<std::size_t>(std::ceil((stopband_attenuation_db - 7.95) / (2.285 * 2.0 * pi * transition)));
    order += order % 2;  // an even order gives odd length and a whole-sample group delay
    const double centre = static_cast<double>(order) / 2.0;

    std::vector<double> taps(order + 1);
    const double window_norm = std::cyl_bessel_i(0.0, beta);
    for (std::size_t k = 0; k < taps.size(); ++k) {
        const double t = static_cast<double>(k) - centre;
        const double sinc = t == 0.0 ? 1.0 : std::sin(2.0 * pi * cutoff * t) / (2.0 * pi * cutoff * t);
        const double ratio = t / centre;
        const double window = std::cyl_bessel_i(0.0, beta * std::sqrt(1.0 - ratio * ratio)) / window_norm;
        taps[k] = 2.0 * cutoff * sinc * window;
    }
    const double dc_gain = std::accumulate(taps.begin(), taps.end(), 0.0);
    for (auto& tap : taps) {
        tap /= dc_gain;
    }
    return taps;
}

/// Appends a sample to a history kept twice over (at position and position + length), so that
/// the last `length` samples always lie contiguous, oldest first, at data() + position + 1.
void push(std::vector<double>& history, std::size_t& position, double sample) {
    const std::size_t length = history.size() / 2;
    position = position + 1 == length ? 0 : position + 1;
    history[position] = sample;
    history[position + length] = sample;
}

double dot(const std::vector<double>& taps_reversed, const double* oldest_first) {
    double sum = 0.0;
    for (std::size_t i = 0; i < taps_reversed.size(); ++i) {
        sum += taps_reversed[i] * oldest_first[i];
    }
    return sum;
}

}  // namespace

PolynomialCoefficients polynomial_for_harmonics(double harmonic2_db, double harmonic3_db, double off_threshold_db) {
    // For x = A·cos ωt: a2·x² = a2·A²/2·(1 + cos 2ωt) and a3·x³ = a3·A³/4·(3·cos ωt + cos 3ωt),
    // so at full scale (A = 1) H2/H1 = a2/2 and H3/H1 = a3/4.
    PolynomialCoefficients coefficients;
    coefficients.a2 = harmonic2_db < off_threshold_db ? 0.0 : 2.0 * amplitude_from_db(harmonic2_db);
    coefficients.a3 = harmonic3_db < off_threshold_db ? 0.0 : 4.0 * amplitude_from_db(harmonic3_db);
    return coefficients;
}

const std::vector<double>& oversampling_lowpass_taps() {
    static const std::vector<double> taps = design_lowpass();
    return taps;
}

OversampledPolynomial::OversampledPolynomial(PolynomialCoefficients coefficients) : coefficients_(coefficients) {
    const std::vector<double>& taps = oversampling_lowpass_taps();
    const std::size_t centre = (taps.size() - 1) / 2;
    latency_samples_ = centre;

    // Input taps j = 0..centre: the even phase uses h[0], h[2], ..., h[2·centre] and the odd
    // phase h[1], ..., h[2·centre − 1] with a zero for j = centre. Reversed, so index 0 meets the
    // oldest input x[n − centre] and index centre the newest x[n].
    even_phase_reversed_.assign(centre + 1, 0.0);
    odd_phase_reversed_.assign(centre + 1, 0.0);
    for (std::size_t j = 0; j <= centre; ++j) {
        even_phase_reversed_[centre - j] = 2.0 * taps[2 * j];
        if (2 * j + 1 < taps.size()) {
            odd_phase_reversed_[centre - j] = 2.0 * taps[2 * j + 1];
        }
    }
    decimation_reversed_.assign(taps.rbegin(), taps.rend());
    input_history_.assign(2 * (centre + 1), 0.0);
    distortion_history_.assign(2 * taps.size(), 0.0);
}

void OversampledPolynomial::reset() noexcept {
    std::fill(input_history_.begin(), input_history_.end(), 0.0);
    std::fill(distortion_history_.begin(), distortion_history_.end(), 0.0);
    input_position_ = 0;
    distortion_position_ = 0;
    pending_odd_distortion_ = 0.0;
}

double OversampledPolynomial::process_sample(double x) noexcept {
    push(input_history_, input_position_, x);
    const double* inputs = input_history_.data() + input_position_ + 1;
    const double delayed_input = inputs[0];  // x[n − centre]

    const auto distortion = [&](double v) { return v * v * (coefficients_.a2 + coefficients_.a3 * v); };
    const double even = distortion(dot(even_phase_reversed_, inputs));
    const double odd = distortion(dot(odd_phase_reversed_, inputs));

    // z[n] needs s[2n − k] for k = 0..N − 1: the previous odd sample, then this even one.
    push(distortion_history_, distortion_position_, pending_odd_distortion_);
    push(distortion_history_, distortion_position_, even);
    pending_odd_distortion_ = odd;
    const double decimated = dot(decimation_reversed_, distortion_history_.data() + distortion_position_ + 1);
    return delayed_input + decimated;
}

void OversampledPolynomial::process(std::span<const float> input, std::span<float> output) noexcept {
    const std::size_t frames = std::min(input.size(), output.size());
    for (std::size_t n = 0; n < frames; ++n) {
        output[n] = static_cast<float>(process_sample(input[n]));
    }
}

std::vector<float> apply_oversampled_polynomial(std::span<const float> input, PolynomialCoefficients coefficients) {
    OversampledPolynomial polynomial(coefficients);
    const std::size_t latency = polynomial.latency_samples();
    std::vector<float> padded(input.size() + latency, 0.0F);
    std::copy(input.begin(), input.end(), padded.begin());
    std::vector<float> output(padded.size());
    polynomial.process(padded, output);
    output.erase(output.begin(), output.begin() + static_cast<std::ptrdiff_t>(latency));
    return output;
}

}  // namespace linetune::simulation
