#include "linetune/analysis/octave_filter.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <cmath>
#include <complex>
#include <sstream>
#include <string>

namespace linetune::analysis {
namespace {

// Octave ratio of the base-10 system, G = 10^(3/10) ≈ 1.9953 (IEC 61260-1:2014).
// Band k has the exact mid-band frequency fm = 1000 Hz · G^k and edges fm · G^(∓1/2).
constexpr double reference_freq_hz = 1000.0;
constexpr double octave_exponent = 3.0 / 10.0;
constexpr double half_octave_exponent = 3.0 / 20.0;

// How far a nominal centre may sit from its exact base-10 frequency. The IEC nominal values
// differ from the exact ones by at most 1 % (16 kHz against 15.85 kHz). Bands are a factor 2 apart,
// so a 2 % window accepts every nominal value and the exact values, and still rejects
// frequencies that are no octave centre at all.
constexpr double nominal_center_tolerance = 0.02;

// Order of the Butterworth low-pass prototype. The band-pass transform doubles it to 6 poles,
// which gives a ≥ 40 dB stop band two octaves from the centre, and 3 biquads.
constexpr int prototype_order = 3;

std::string format_hz(double freq_hz) {
    std::ostringstream text;
    text.precision(6);
    text << freq_hz << " Hz";
    return text.str();
}

/// Pre-warped analog angular frequency 2·fs·tan(π·f/fs) that the bilinear transform maps to f.
double prewarped_rad_per_s(double freq_hz, double sample_rate_hz) {
    return 2.0 * sample_rate_hz * std::tan(pi * freq_hz / sample_rate_hz);
}

}  // namespace

std::vector<double> octave_band_centers_hz() {
    return {63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0};
}

double exact_octave_center_hz(double nominal_center_hz) {
    if (!std::isfinite(nominal_center_hz) || nominal_center_hz <= 0.0) {
        throw Error("octave band centre " + format_hz(nominal_center_hz) +
                        " is invalid: give a positive nominal centre such as 63, 125 … 8000 Hz",
                    ErrorKind::configuration);
    }

    // k = round(log_G(f / 1000 Hz)) with log_G(x) = log10(x) / 0.3.
    const double band_index = std::round(std::log10(nominal_center_hz / reference_freq_hz) / octave_exponent);
    const double exact_hz = reference_freq_hz * std::pow(10.0, octave_exponent * band_index);

    if (std::fabs(nominal_center_hz / exact_hz - 1.0) > nominal_center_tolerance) {
        throw Error("octave band centre " + format_hz(nominal_center_hz) +
                        " is not an IEC 61260-1 octave centre (the nearest is " + format_hz(exact_hz) +
                        ", and the value must lie within 2 % of it): use a nominal centre such as 63, "
                        "125 … 8000 Hz",
                    ErrorKind::configuration);
    }
    return exact_hz;
}

double octave_band_lower_edge_hz(double nominal_center_hz) {
    return exact_octave_center_hz(nominal_center_hz) * std::pow(10.0, -half_octave_exponent);
}

double octave_band_upper_edge_hz(double nominal_center_hz) {
    return exact_octave_center_hz(nominal_center_hz) * std::pow(10.0, half_octave_exponent);
}

// Design: the bilinear transform of an analog Butterworth band-pass.
//
//   1. Pre-warp both edges: Ω1,2 = 2·fs·tan(π·f1,2/fs); Ω0² = Ω1·Ω2, B = Ω2 − Ω1.
//   2. Low-pass prototype poles of order N = 3 on the unit circle: p_k = e^(jπ(2k + N − 1)/(2N)),
//      k = 1 … N, that is −1/2 ± j·√3/2 and −1.
//   3. Low-pass to band-pass, s → (s² + Ω0²)/(B·s): each p gives the two roots of
//      s² − p·B·s + Ω0² = 0. The roots of p and of its conjugate are conjugates of each other,
//      so the six poles form three conjugate pairs (one pair per section). Each section keeps one
//      zero at s = 0 and one at s = ∞: H_i(s) = K_i · s / ((s − s_i)(s − s_i*)).
//   4. Bilinear transform s = 2·fs·(1 − z⁻¹)/(1 + z⁻¹): a pole maps to z_i = (2fs + s_i)/(2fs − s_i),
//      s = 0 to z = 1 and s = ∞ to z = −1, so each section becomes
//      g_i · (1 − z⁻²) / (1 − 2·Re(z_i)·z⁻¹ + |z_i|²·z⁻²).
//   5. Gains: each g_i makes its section 0 dB at the digital centre ωc = 2·atan(Ω0/(2fs)), the
//      frequency the analog centre Ω0 maps to. The analog Butterworth band-pass is 0 dB at Ω0 and
//      −3 dB at Ω1 and Ω2, so the digital filter is −3 dB exactly at f1 and f2.
OctaveBandFilter::OctaveBandFilter(double nominal_center_hz, double sample_rate_hz)
    : nominal_center_hz_(nominal_center_hz),
      center_hz_(exact_octave_center_hz(nominal_center_hz)),
      lower_edge_hz_(octave_band_lower_edge_hz(nominal_center_hz)),
      upper_edge_hz_(octave_band_upper_edge_hz(nominal_center_hz)),
      sample_rate_hz_(sample_rate_hz) {
    if (!std::isfinite(sample_rate_hz) || sample_rate_hz <= 0.0) {
        throw Error("octave band " + format_hz(nominal_center_hz) + ": sample rate " + format_hz(sample_rate_hz) +
                    " is invalid: it must be positive");
    }
    if (upper_edge_hz_ >= 0.5 * sample_rate_hz) {
        throw Error("octave band " + format_hz(nominal_center_hz) + ": its upper edge " +
                    format_hz(upper_edge_hz_) + " is not below the Nyquist frequency " +
                    format_hz(0.5 * sample_rate_hz) + ": leave this band out or use a sample rate above " +
                    format_hz(2.0 * upper_edge_hz_));
    }

    const double lower_rad_per_s = prewarped_rad_per_s(lower_edge_hz_, sample_rate_hz);
    const double upper_rad_per_s = prewarped_rad_per_s(upper_edge_hz_, sample_rate_hz);
    const double center_rad_per_s_squared = lower_rad_per_s * upper_rad_per_s;
    const double bandwidth_rad_per_s = upper_rad_per_s - lower_rad_per_s;

    // Each section needs one pole of its conjugate pair: both roots of the prototype pole in the
    // upper half plane, and one root of the real pole −1.
    std::array<std::complex<double>, prototype_order> analog_poles;
    for (int k = 1; k <= prototype_order; ++k) {
        const std::complex<double> prototype_pole =
            std::polar(1.0, pi * (2.0 * k + prototype_order - 1.0) / (2.0 * prototype_order));
        const std::complex<double> sum = prototype_pole * bandwidth_rad_per_s;
        const std::complex<double> root = std::sqrt(sum * sum - 4.0 * center_rad_per_s_squared);
        // For k = 1 the two roots are poles of two different sections. k = 2 (the real prototype
        // pole) gives one conjugate pair. k = 3 gives the conjugates of k = 1 and is skipped.
        if (k == 1) {
            analog_poles[0] = 0.5 * (sum + root);
            analog_poles[1] = 0.5 * (sum - root);
        } else if (k == 2) {
            analog_poles[2] = 0.5 * (sum + root);
        }
    }

    const double two_fs = 2.0 * sample_rate_hz;
    const double center_rad_per_sample = 2.0 * std::atan(std::sqrt(center_rad_per_s_squared) / two_fs);
    const std::complex<double> z_inverse = std::polar(1.0, -center_rad_per_sample);
    for (std::size_t i = 0; i < sections_.size(); ++i) {
        const std::complex<double> digital_pole = (two_fs + analog_poles[i]) / (two_fs - analog_poles[i]);
        Biquad& section = sections_[i];
        section.a1 = -2.0 * digital_pole.real();
        section.a2 = std::norm(digital_pole);

        const std::complex<double> response = (1.0 - z_inverse * z_inverse) /
                                              (1.0 + section.a1 * z_inverse + section.a2 * z_inverse * z_inverse);
        section.gain = 1.0 / std::abs(response);
    }
}

// Direct form II transposed per section, all three sections per sample so that the sections'
// recursions overlap in the CPU pipeline. State and arithmetic are double because the poles of the
// 63 Hz band at 96 kHz sit within 0.0015 of the unit circle, where float coefficients would move them.
std::vector<double> OctaveBandFilter::process(std::span<const float> input) const {
    std::vector<double> output(input.size());
    std::array<double, 3> state1{};
    std::array<double, 3> state2{};

    for (std::size_t n = 0; n < input.size(); ++n) {
        double sample = input[n];
        for (std::size_t i = 0; i < sections_.size(); ++i) {
            const Biquad& section = sections_[i];
            const double x = section.gain * sample;
            const double y = x + state1[i];
            state1[i] = state2[i] - section.a1 * y;
            state2[i] = -x - section.a2 * y;
            sample = y;
        }
        output[n] = sample;
    }
    return output;
}

double OctaveBandFilter::magnitude_db(double freq_hz) const {
    const std::complex<double> z_inverse = std::polar(1.0, -2.0 * pi * freq_hz / sample_rate_hz_);
    std::complex<double> response = 1.0;
    for (const Biquad& section : sections_) {
        response *= section.gain * (1.0 - z_inverse * z_inverse) /
                    (1.0 + section.a1 * z_inverse + section.a2 * z_inverse * z_inverse);
    }
    return db_from_amplitude(std::abs(response));
}

}  // namespace linetune::analysis
