#include "linetune/analysis/window.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <cmath>
#include <sstream>
#include <string>

namespace linetune::analysis {
namespace {

void require_taper_fraction(double fraction, const char* field) {
    if (fraction >= 0.0 && fraction <= 1.0) {
        return;
    }
    std::ostringstream message;
    message << field << " " << fraction
            << " is outside [0, 1]: use 0 for a rectangular edge and 1 for a full half-Hann";
    throw Error(message.str(), ErrorKind::configuration);
}

void validate(const LeftRightWindow& window, double sample_rate_hz, double reference_sample) {
    std::ostringstream message;
    if (!(window.left_ms >= 0.0) || !std::isfinite(window.left_ms)) {
        message << "left window width " << window.left_ms << " ms is invalid: use 0 ms or more";
    } else if (!(window.right_ms > 0.0) || !std::isfinite(window.right_ms)) {
        message << "right window width " << window.right_ms
                << " ms is invalid: use more than 0 ms";
    } else if (!(sample_rate_hz > 0.0) || !std::isfinite(sample_rate_hz)) {
        message << "sample rate " << sample_rate_hz << " Hz is invalid: it must be above 0 Hz";
    } else if (!std::isfinite(reference_sample)) {
        message << "window reference sample " << reference_sample << " is not a finite number";
    }
    if (!message.str().empty()) {
        throw Error(message.str(), ErrorKind::configuration);
    }
    require_taper_fraction(window.left_taper_fraction, "left taper fraction");
    require_taper_fraction(window.right_taper_fraction, "right taper fraction");
}

/// Raised-cosine edge: 0 at position 0, 1 at position `width` (both in samples).
double rising_cosine(double position, double width) {
    return 0.5 * (1.0 - std::cos(pi * position / width));
}

}  // namespace

// Tukey window (Harris, "On the use of windows for harmonic analysis with the discrete Fourier
// transform", Proc. IEEE 66(1), 1978). With x = n / (N − 1) and taper fraction α:
//   w = ½·(1 − cos(2πx/α))        for x < α/2
//   w = 1                          for α/2 ≤ x ≤ 1 − α/2
//   w = ½·(1 − cos(2π(1 − x)/α))  for x > 1 − α/2
// The window is symmetric: w[0] = w[N − 1], and both are 0 unless α = 0.
std::vector<double> tukey_window(std::size_t length, double taper_fraction) {
    require_taper_fraction(taper_fraction, "Tukey taper fraction");
    std::vector<double> window(length, 1.0);
    if (length < 2 || taper_fraction == 0.0) {
        return window;
    }

    const double last = static_cast<double>(length - 1);
    for (std::size_t n = 0; n < length; ++n) {
        const double x = static_cast<double>(n) / last;
        if (x < taper_fraction / 2.0) {
            window[n] = 0.5 * (1.0 - std::cos(2.0 * pi * x / taper_fraction));
        } else if (x > 1.0 - taper_fraction / 2.0) {
            window[n] = 0.5 * (1.0 - std::cos(2.0 * pi * (1.0 - x) / taper_fraction));
        }
    }
    return window;
}

// With t = n − reference in samples, L = left width and R = right width in samples,
// TL = left taper fraction · L and TR = right taper fraction · R:
//   w = 0                                   for t < −L or t > R
//   w = ½·(1 − cos(π(t + L)/TL))            for −L ≤ t < −L + TL   (rising half-Hann)
//   w = ½·(1 + cos(π(t − (R − TR))/TR))     for R − TR < t ≤ R     (falling half-Hann)
//   w = 1                                   elsewhere
// This is the shape REW applies when it windows an impulse response for its frequency response:
// the left side suppresses what precedes the arrival, the right side ends the response before
// late reflections and noise.
std::vector<float> apply_left_right_window(std::span<const float> ir, double reference_sample,
                                           double sample_rate_hz, const LeftRightWindow& window) {
    validate(window, sample_rate_hz, reference_sample);

    const double left_samples = samples_from_ms(window.left_ms, sample_rate_hz);
    const double right_samples = samples_from_ms(window.right_ms, sample_rate_hz);
    const double left_taper_samples = window.left_taper_fraction * left_samples;
    const double right_taper_samples = window.right_taper_fraction * right_samples;
    const double right_taper_start = right_samples - right_taper_samples;

    std::vector<float> windowed(ir.size(), 0.0F);
    for (std::size_t n = 0; n < ir.size(); ++n) {
        const double t = static_cast<double>(n) - reference_sample;
        if (t < -left_samples || t > right_samples) {
            continue;
        }

        double gain = 1.0;
        if (t < -left_samples + left_taper_samples) {
            gain = rising_cosine(t + left_samples, left_taper_samples);
        } else if (t > right_taper_start) {
            gain = 1.0 - rising_cosine(t - right_taper_start, right_taper_samples);
        }
        windowed[n] = static_cast<float>(gain * static_cast<double>(ir[n]));
    }
    return windowed;
}

}  // namespace linetune::analysis
