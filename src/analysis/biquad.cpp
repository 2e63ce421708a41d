#include "linetune/analysis/biquad.hpp"

#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

// Filter responses
// ----------------
// Every band is one second-order section designed with the bilinear transform exactly as in
// R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients" (the RBJ Audio
// EQ Cookbook). With
//
//     A = 10^(gain_db / 40),   ω0 = 2π·f0 / fs,   α = sin ω0 / (2Q),
//
// the cookbook gives b0..b2 and a0..a2 for each type (written out in design_biquad); all five are
// divided by a0 here, so a0 is 1 in BiquadCoefficients.
//
// Q conventions, because DSPs differ:
// - peaking: Q is the cookbook's Q, and the bandwidth between the half-gain (gain_db / 2) points
//   is BW octaves with 1/Q = 2·sinh(ln 2 / 2 · BW · ω0 / sin ω0). The gain at f0 is gain_db.
// - shelves: the cookbook's shelf α can be set from a slope S or from a Q; this code takes Q, with
//   α = sin ω0 / (2Q). Q = 1/√2 equals S = 1, the steepest shelf whose magnitude is monotonic.
//   The gain at f0 is gain_db / 2 for every Q. (REW calls these "LS Q"/"HS Q"; its plain
//   "Low shelf"/"High shelf" use a different corner definition.)
// - high_pass, low_pass: second order, −3 dB at f0 for Q = 1/√2 (Butterworth), gain ignored.
//
// The magnitude is evaluated from |H|² = N / D with z⁻¹ = e^−jω, each the squared modulus of a
// real-coefficient polynomial written as its real and imaginary parts:
//     N = (b0 + b1·cos ω + b2·cos 2ω)² + (b1·sin ω + b2·sin 2ω)²
//     D = (1  + a1·cos ω + a2·cos 2ω)² + (a1·sin ω + a2·sin 2ω)²
// This form keeps a zero of N at DC or Nyquist (high-pass, low-pass) at rounding level, where the
// expanded cosine series b0² + b1² + b2² + 2(b0·b1 + b1·b2)·cos ω + ... loses digits. The EQ fitter
// uses the same form for its derivatives.

namespace linetune::analysis {
namespace {

constexpr std::array<std::pair<FilterType, std::string_view>, 5> filter_type_names{{
    {FilterType::peaking, "peaking"},
    {FilterType::low_shelf, "low_shelf"},
    {FilterType::high_shelf, "high_shelf"},
    {FilterType::high_pass, "high_pass"},
    {FilterType::low_pass, "low_pass"},
}};

std::string band_location(const ParametricBand& band) {
    return std::string("band ") + std::string(to_string(band.type)) + " at " +
           format_significant(band.freq_hz) + " Hz";
}

// The checks come first and the message is built only on failure, because the EQ fitter designs
// thousands of biquads per fit.
void validate_band(const ParametricBand& band, double sample_rate_hz) {
    if (!(sample_rate_hz > 0.0) || !std::isfinite(sample_rate_hz)) {
        throw Error(band_location(band) + ": sample rate " + format_significant(sample_rate_hz) +
                        " Hz is invalid; give the DSP's sample rate in Hz (e.g. 48000)",
                    ErrorKind::configuration);
    }
    const double nyquist_hz = sample_rate_hz / 2.0;
    if (!(band.freq_hz > 0.0 && band.freq_hz < nyquist_hz)) {
        throw Error(band_location(band) +
                        ": frequency must lie between 0 Hz and the Nyquist frequency " +
                        format_significant(nyquist_hz) + " Hz (sample rate " +
                        format_significant(sample_rate_hz) + " Hz); move the band or raise the sample rate",
                    ErrorKind::configuration);
    }
    if (!(band.q > 0.0) || !std::isfinite(band.q)) {
        throw Error(band_location(band) + ": Q " + format_significant(band.q) +
                        " is invalid; Q must be above 0 (0.7071 is Butterworth for filters and "
                        "slope S = 1 for shelves)",
                    ErrorKind::configuration);
    }
    if (!std::isfinite(band.gain_db)) {
        throw Error(band_location(band) + ": gain is not a finite number of dB; give the gain in dB",
                    ErrorKind::configuration);
    }
}

BiquadCoefficients normalised(double b0, double b1, double b2, double a0, double a1, double a2) {
    return {b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0};
}

}  // namespace

std::string_view to_string(FilterType type) {
    for (const auto& [known_type, name] : filter_type_names) {
        if (known_type == type) {
            return name;
        }
    }
    return "unknown";
}

std::optional<FilterType> parse_filter_type(std::string_view text) {
    for (const auto& [type, name] : filter_type_names) {
        if (name == text) {
            return type;
        }
    }
    return std::nullopt;
}

BiquadCoefficients design_biquad(const ParametricBand& band, double sample_rate_hz) {
    validate_band(band, sample_rate_hz);

    const double a = std::pow(10.0, band.gain_db / 40.0);
    const double w0 = 2.0 * pi * band.freq_hz / sample_rate_hz;
    const double cos_w0 = std::cos(w0);
    const double alpha = std::sin(w0) / (2.0 * band.q);
    const double two_sqrt_a_alpha = 2.0 * std::sqrt(a) * alpha;

    switch (band.type) {
    case FilterType::peaking:
        return normalised(1.0 + alpha * a, -2.0 * cos_w0, 1.0 - alpha * a,  //
                          1.0 + alpha / a, -2.0 * cos_w0, 1.0 - alpha / a);
    case FilterType::low_shelf:
        return normalised(a * ((a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha),
                          2.0 * a * ((a - 1.0) - (a + 1.0) * cos_w0),
                          a * ((a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha),
                          (a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha,
                          -2.0 * ((a - 1.0) + (a + 1.0) * cos_w0),
                          (a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha);
    case FilterType::high_shelf:
        return normalised(a * ((a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha),
                          -2.0 * a * ((a - 1.0) + (a + 1.0) * cos_w0),
                          a * ((a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha),
                          (a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha,
                          2.0 * ((a - 1.0) - (a + 1.0) * cos_w0),
                          (a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha);
    case FilterType::high_pass:
        return normalised((1.0 + cos_w0) / 2.0, -(1.0 + cos_w0), (1.0 + cos_w0) / 2.0,  //
                          1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha);
    case FilterType::low_pass:
        return normalised((1.0 - cos_w0) / 2.0, 1.0 - cos_w0, (1.0 - cos_w0) / 2.0,  //
                          1.0 + alpha, -2.0 * cos_w0, 1.0 - alpha);
    }
    throw Error("band at " + format_significant(band.freq_hz) + " Hz: unknown filter type",
                ErrorKind::configuration);
}

std::complex<double> biquad_response(const BiquadCoefficients& c, double freq_hz,
                                     double sample_rate_hz) {
    const double w = 2.0 * pi * freq_hz / sample_rate_hz;
    const std::complex<double> z1 = std::polar(1.0, -w);
    const std::complex<double> z2 = z1 * z1;
    return (c.b0 + c.b1 * z1 + c.b2 * z2) / (1.0 + c.a1 * z1 + c.a2 * z2);
}

double biquad_magnitude_db(const BiquadCoefficients& c, double freq_hz, double sample_rate_hz) {
    const double w = 2.0 * pi * freq_hz / sample_rate_hz;
    const double cos_w = std::cos(w);
    const double sin_w = std::sin(w);
    const double cos_2w = std::cos(2.0 * w);
    const double sin_2w = std::sin(2.0 * w);
    const double numerator_real = c.b0 + c.b1 * cos_w + c.b2 * cos_2w;
    const double numerator_imag = c.b1 * sin_w + c.b2 * sin_2w;
    const double denominator_real = 1.0 + c.a1 * cos_w + c.a2 * cos_2w;
    const double denominator_imag = c.a1 * sin_w + c.a2 * sin_2w;
    const double power = (numerator_real * numerator_real + numerator_imag * numerator_imag) /
                         (denominator_real * denominator_real + denominator_imag * denominator_imag);
    // An exact zero (a high-pass at DC) maps to the silence floor of db_from_power.
    return db_from_power(power);
}

double band_magnitude_db(const ParametricBand& band, double freq_hz, double sample_rate_hz) {
    return biquad_magnitude_db(design_biquad(band, sample_rate_hz), freq_hz, sample_rate_hz);
}

FilterType filter_type_of(FilterKind kind) {
    switch (kind) {
    case FilterKind::peaking: return FilterType::peaking;
    case FilterKind::low_shelf: return FilterType::low_shelf;
    case FilterKind::high_shelf: return FilterType::high_shelf;
    case FilterKind::high_pass: return FilterType::high_pass;
    case FilterKind::low_pass: return FilterType::low_pass;
    }
    return FilterType::peaking;
}

ParametricBand parametric_band_of(const EqBandState& band) {
    return {filter_type_of(band.type), band.freq_hz, band.gain_db, band.q};
}

}  // namespace linetune::analysis
