#pragma once

#include "linetune/core/amplifier_state.hpp"

#include <complex>
#include <optional>
#include <string_view>

namespace linetune::analysis {

/// Shape of one parametric filter band.
enum class FilterType { peaking, low_shelf, high_shelf, high_pass, low_pass };

/// Name of a filter type as written in JSON and tables ("peaking", "low_shelf", ...).
std::string_view to_string(FilterType type);

/// Filter type for a name that to_string returns; empty for any other text.
std::optional<FilterType> parse_filter_type(std::string_view text);

/// One parametric filter band as a DSP shows it: type, centre or corner frequency, gain and Q.
/// Gain is ignored by high_pass and low_pass. For shelves, Q is the RBJ shelf Q: Q 0.7071 is
/// slope S = 1, the steepest shelf without overshoot.
struct ParametricBand {
    FilterType type = FilterType::peaking;
    double freq_hz = 1000;
    double gain_db = 0;
    double q = 0.7071;
};

/// The filter type of a device's filter kind (the two enums share their names).
FilterType filter_type_of(FilterKind kind);

/// A band as an amplifier holds it (EqBandState), as the biquad designer takes it.
ParametricBand parametric_band_of(const EqBandState& band);

/// Biquad coefficients of H(z) = (b0 + b1·z⁻¹ + b2·z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²), a0 normalised to 1.
struct BiquadCoefficients {
    double b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
};

/// Designs the RBJ Audio EQ Cookbook biquad (R. Bristow-Johnson) of a band; throws a
/// configuration Error for a frequency outside (0, Nyquist), a Q that is not positive or a
/// sample rate that is not positive.
BiquadCoefficients design_biquad(const ParametricBand& band, double sample_rate_hz);

/// Complex response H(e^jω) of a biquad at freq_hz, with ω = 2π·freq_hz / sample_rate_hz.
std::complex<double> biquad_response(const BiquadCoefficients& coefficients, double freq_hz,
                                     double sample_rate_hz);

/// Magnitude 20·log10|H| of a biquad at freq_hz, computed from |H|² without complex arithmetic.
double biquad_magnitude_db(const BiquadCoefficients& coefficients, double freq_hz,
                           double sample_rate_hz);

/// Magnitude in dB of one band at freq_hz (designs the biquad, then evaluates it).
double band_magnitude_db(const ParametricBand& band, double freq_hz, double sample_rate_hz);

}  // namespace linetune::analysis
