#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace linetune::simulation {

/// Coefficients of the weak non-linearity y = x + a2·x² + a3·x³ of a simulated amplifier.
struct PolynomialCoefficients {
    double a2 = 0.0;
    double a3 = 0.0;
};

/// Coefficients whose 2nd and 3rd harmonics of a full-scale sine are harmonic2_db and
/// harmonic3_db re the fundamental (a2 = 2·10^(H2/20), a3 = 4·10^(H3/20)); a level below
/// off_threshold_db switches its term off.
PolynomialCoefficients polynomial_for_harmonics(double harmonic2_db, double harmonic3_db, double off_threshold_db = -200.0);

/// Taps of the linear-phase low-pass FIR that interpolates to twice the sample rate and
/// decimates back (odd length, unit gain at 0 Hz), as normalised at the doubled rate.
const std::vector<double>& oversampling_lowpass_taps();

/// Streaming y = x + a2·x² + a3·x³ with the distortion computed at twice the sample rate and
/// low-pass filtered before decimation, so harmonics above the Nyquist frequency are removed
/// instead of folding back. The output lags the input by latency_samples() (linear part included).
/// process() never allocates, so an audio callback may call it; one object per channel.
class OversampledPolynomial {
public:
    explicit OversampledPolynomial(PolynomialCoefficients coefficients);

    /// Delay of the output behind the input, in whole samples at the input rate.
    [[nodiscard]] std::size_t latency_samples() const { return latency_samples_; }

    /// Processes input.size() samples into output (the same size; the two may be the same buffer).
    void process(std::span<const float> input, std::span<float> output) noexcept;

    /// Clears the filter history, as if only silence had been played before.
    void reset() noexcept;

private:
    double process_sample(double x) noexcept;

    PolynomialCoefficients coefficients_;
    std::size_t latency_samples_ = 0;
    std::vector<double> even_phase_reversed_;  ///< interpolation taps 2·h[2j], oldest input first
    std::vector<double> odd_phase_reversed_;   ///< interpolation taps 2·h[2j+1], oldest input first
    std::vector<double> decimation_reversed_;  ///< h[k], oldest oversampled sample first
    std::vector<double> input_history_;        ///< twice the interpolation length, see push()
    std::vector<double> distortion_history_;   ///< twice the decimation length
    std::size_t input_position_ = 0;
    std::size_t distortion_position_ = 0;
    double pending_odd_distortion_ = 0.0;  ///< odd oversampled sample, pushed after the even one's output
};

/// Applies the oversampled polynomial to a whole signal with its latency removed: the output has
/// the input's length, is time-aligned with it, and its linear part equals the input exactly.
std::vector<float> apply_oversampled_polynomial(std::span<const float> input, PolynomialCoefficients coefficients);

}  // namespace linetune::simulation
