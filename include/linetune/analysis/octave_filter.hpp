#pragma once

#include <array>
#include <span>
#include <vector>

namespace linetune::analysis {

/// Nominal mid-band frequencies of the octave bands that room metrics report:
/// 63, 125, 250, 500, 1000, 2000, 4000 and 8000 Hz.
std::vector<double> octave_band_centers_hz();

/// Exact base-10 mid-band frequency of a nominal octave centre (IEC 61260-1:2014):
/// fm = 1000 · 10^(3k/10) Hz for integer k, so 63 Hz maps to 63.096 Hz and 8000 Hz to 7943.3 Hz.
/// Throws Error when the nominal value is not within 2 % of such a frequency.
double exact_octave_center_hz(double nominal_center_hz);

/// Lower edge fm · 10^(−3/20) of the octave band with this nominal centre (IEC 61260-1:2014).
double octave_band_lower_edge_hz(double nominal_center_hz);

/// Upper edge fm · 10^(+3/20) of the octave band with this nominal centre (IEC 61260-1:2014).
double octave_band_upper_edge_hz(double nominal_center_hz);

/// Octave-band filter: a Butterworth band-pass of order 3 (6 poles) as three cascaded biquads.
/// The bilinear transform with both band edges pre-warped makes the response exactly −3 dB at the
/// IEC 61260-1 band edges and 0 dB at the centre.
class OctaveBandFilter {
public:
    /// Designs the filter. Throws Error unless the band's upper edge lies below the Nyquist frequency.
    OctaveBandFilter(double nominal_center_hz, double sample_rate_hz);

    /// Filters the input causally (forward only, from zero state) into an output of the same length.
    [[nodiscard]] std::vector<double> process(std::span<const float> input) const;

    /// Magnitude in dB of the designed digital filter at this frequency (analytic, not measured).
    [[nodiscard]] double magnitude_db(double freq_hz) const;

    [[nodiscard]] double nominal_center_hz() const { return nominal_center_hz_; }
    [[nodiscard]] double center_hz() const { return center_hz_; }  ///< exact base-10 mid-band frequency
    [[nodiscard]] double lower_edge_hz() const { return lower_edge_hz_; }
    [[nodiscard]] double upper_edge_hz() const { return upper_edge_hz_; }
    [[nodiscard]] double sample_rate_hz() const { return sample_rate_hz_; }

private:
    /// One second-order section 'gain · (1 − z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²)'.
    struct Biquad {
        double gain = 1.0;
        double a1 = 0.0;
        double a2 = 0.0;
    };

    double nominal_center_hz_;
    double center_hz_;
    double lower_edge_hz_;
    double upper_edge_hz_;
    double sample_rate_hz_;
    std::array<Biquad, 3> sections_{};
};

}  // namespace linetune::analysis
