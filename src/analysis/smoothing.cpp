#include "linetune/analysis/smoothing.hpp"

#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

// Smoothing window
// ----------------
// Every kind uses a rectangular window that is symmetric on a log-frequency axis: the output at f
// is the mean over [f·r⁻¹, f·r] with r = 2^(w/2), w the window width in octaves at f. The mean is
// taken of |H|² (power averaging), so a narrow dip does not pull the result down the way an
// average of dB values does, and a level L spread over the window reads L, not a sum.
//
// The input is treated as piecewise linear between grid points, and the window mean is the exact
// integral of that function over the window divided by the window width. On a uniform FFT grid
// this is the usual bin average with fractional bins at the window edges. On a log-spaced grid it
// weights each point by the frequency span it covers, so a sparse high-frequency tail does not
// dominate. A window narrower than one grid step returns the linear interpolation at f.
//
// Edge handling: near the first and last grid frequency the window is narrowed symmetrically (on
// the log axis) until it fits inside the grid, so the mean stays centred on f and a sloped
// response is not biased at the ends. The last point (and a point at 0 Hz) is therefore
// returned unsmoothed. A flat input stays flat everywhere because every window mean of a constant
// is that constant.
//
// Cost: prefix sums of the trapezoid integrals give each window mean in O(1), and the window edges
// are located with cursors that only move forward, so one call is O(N) whatever the width.
// The prefix sums are compensated (Neumaier summation) because a window's integral is the
// difference of two prefix sums that can be 10¹² times larger than it: above a subwoofer's band
// the power is 120 dB below the bass energy already summed, and plain double sums lose it.

namespace linetune::analysis {
namespace {

/// One point of a width-versus-frequency curve; widths interpolate linearly over log frequency
/// between points and are held below the first and above the last.
struct WidthAnchor {
    double freq_hz;
    double width_octaves;
};

// REW's "variable" smoothing as its help text describes it: fine resolution where room modes live,
// 1/6 octave at 1 kHz, 1/3 octave at the top where comb filtering would dominate the plot.
constexpr std::array<WidthAnchor, 3> variable_anchors{{
    {100.0, 1.0 / 48.0},
    {1000.0, 1.0 / 6.0},
    {10000.0, 1.0 / 3.0},
}};

// REW's "psychoacoustic" smoothing as its help states it: 1/3 octave below 100 Hz, 1/6 octave
// above 1 kHz, varying between. Hearing resolves about a third of an octave in the bass and
// finer at higher frequencies, which the ERB below also shows.
constexpr std::array<WidthAnchor, 2> psychoacoustic_anchors{{
    {100.0, 1.0 / 3.0},
    {1000.0, 1.0 / 6.0},
}};

// Equivalent rectangular bandwidth of the auditory filter (Glasberg & Moore, Hearing Research
// 47, 1990): ERB(f) = 24.673 · (4.368 · f / 1000 + 1) = 107.77 · f / 1000 + 24.673 Hz, f in Hz.
// The same constants are REW's ERB smoothing width.
constexpr double erb_offset_hz = 24.673;
constexpr double erb_slope = 107.77 / 1000.0;

// Smoothing fractions parse_smoothing accepts as "1/b".
constexpr std::array<int, 7> accepted_octave_fractions{1, 2, 3, 6, 12, 24, 48};

std::string allowed_smoothing_values() {
    std::string list = "none";
    for (const int fraction : accepted_octave_fractions) {
        list += ", 1/" + std::to_string(fraction);
    }
    return list + ", var, psy, erb";
}

double interpolate_width(std::span<const WidthAnchor> anchors, double freq_hz) {
    if (freq_hz <= anchors.front().freq_hz) {
        return anchors.front().width_octaves;
    }
    if (freq_hz >= anchors.back().freq_hz) {
        return anchors.back().width_octaves;
    }
    std::size_t i = 0;
    while (freq_hz > anchors[i + 1].freq_hz) {
        ++i;
    }
    const double t = std::log(freq_hz / anchors[i].freq_hz) /
                     std::log(anchors[i + 1].freq_hz / anchors[i].freq_hz);
    return anchors[i].width_octaves + t * (anchors[i + 1].width_octaves - anchors[i].width_octaves);
}

/// Width in octaves of the log-symmetric window [f/x, f·x] whose span f·(x − 1/x) is one ERB:
/// x = (q + sqrt(q² + 4)) / 2 with q = ERB(f) / f.
double erb_width_octaves(double freq_hz) {
    const double q = (erb_offset_hz + erb_slope * freq_hz) / freq_hz;
    const double half_ratio = 0.5 * (q + std::sqrt(q * q + 4.0));
    return 2.0 * std::log2(half_ratio);
}

void check_octave_fraction(const Smoothing& smoothing) {
    if (!(smoothing.octave_fraction > 0.0 && std::isfinite(smoothing.octave_fraction))) {
        throw Error("fractional-octave smoothing needs an octave fraction b > 0 (1/b octave), got " +
                        format_significant(smoothing.octave_fraction, 10) + "; use e.g. 6 for 1/6 octave",
                    ErrorKind::configuration);
    }
}

void check_grid(std::span<const double> freq_hz, std::size_t value_count) {
    if (value_count != freq_hz.size()) {
        throw Error("smoothing needs one value per frequency, got " + std::to_string(value_count) +
                    " values for " + std::to_string(freq_hz.size()) + " frequencies");
    }
    for (std::size_t i = 0; i < freq_hz.size(); ++i) {
        if (!(std::isfinite(freq_hz[i]) && freq_hz[i] >= 0.0)) {
            throw Error("smoothing grid point " + std::to_string(i) + " has invalid frequency " +
                        format_significant(freq_hz[i], 10) + " Hz; frequencies must be finite and >= 0 Hz");
        }
        if (i > 0 && !(freq_hz[i] > freq_hz[i - 1])) {
            throw Error("smoothing grid is not strictly ascending at point " + std::to_string(i) +
                        ": " + format_significant(freq_hz[i], 10) + " Hz after " +
                        format_significant(freq_hz[i - 1], 10) + " Hz; sort the response and drop duplicates");
        }
    }
}

/// Window of one output point and the grid segments [x_s, x_s+1] containing its two edges.
struct WindowSpan {
    double lower_hz = 0.0;
    double upper_hz = 0.0;
    std::size_t lower_segment = 0;
    std::size_t upper_segment = 0;
};

/// Moves cursor to the segment s with x_s <= freq <= x_s+1 (the last segment for the top end).
/// Amortised O(1) when successive calls ask for ascending frequencies.
void seek_segment(std::span<const double> freq_hz, double target_hz, std::size_t& cursor) {
    const std::size_t last_segment = freq_hz.size() - 2;
    while (cursor < last_segment && freq_hz[cursor + 1] <= target_hz) {
        ++cursor;
    }
    while (cursor > 0 && freq_hz[cursor] > target_hz) {
        --cursor;
    }
}

/// Windows for every grid point; the grid has at least two points.
std::vector<WindowSpan> plan_windows(std::span<const double> freq_hz, const Smoothing& smoothing) {
    const double lowest_hz = freq_hz.front();
    const double highest_hz = freq_hz.back();
    std::vector<WindowSpan> windows(freq_hz.size());
    std::size_t lower_cursor = 0;
    std::size_t upper_cursor = 0;
    const bool fixed_width = smoothing.kind == SmoothingKind::fractional_octave;
    const double fixed_half_ratio = fixed_width ? std::exp2(0.5 * smoothing_width_octaves(smoothing, 1.0)) : 1.0;

    for (std::size_t i = 0; i < freq_hz.size(); ++i) {
        const double f = freq_hz[i];
        double half_ratio = 1.0;
        if (f > 0.0) {
            half_ratio = fixed_width ? fixed_half_ratio : std::exp2(0.5 * smoothing_width_octaves(smoothing, f));
            // Narrow the window symmetrically where it would cross either end of the grid.
            half_ratio = std::min(half_ratio, highest_hz / f);
            if (lowest_hz > 0.0) {
                half_ratio = std::min(half_ratio, f / lowest_hz);
            }
            half_ratio = std::max(half_ratio, 1.0);
        }

        WindowSpan& window = windows[i];
        window.lower_hz = std::max(f / half_ratio, lowest_hz);
        window.upper_hz = std::min(f * half_ratio, highest_hz);
        seek_segment(freq_hz, window.lower_hz, lower_cursor);
        seek_segment(freq_hz, window.upper_hz, upper_cursor);
        window.lower_segment = lower_cursor;
        window.upper_segment = upper_cursor;
    }
    return windows;
}

/// Exact window means of the piecewise-linear function through (freq_hz[i], values[i]).
class PiecewiseLinearMean {
public:
    PiecewiseLinearMean(std::span<const double> freq_hz, std::span<const double> values)
        : freq_hz_(freq_hz), values_(values), prefix_(freq_hz.size()), prefix_error_(freq_hz.size()) {
        // prefix_[k] + prefix_error_[k] is the integral from freq_hz[0] to freq_hz[k]
        // (trapezoids, Neumaier-compensated).
        double sum = 0.0;
        double compensation = 0.0;
        for (std::size_t k = 0; k + 1 < freq_hz.size(); ++k) {
            const double term = 0.5 * (freq_hz[k + 1] - freq_hz[k]) * (values[k] + values[k + 1]);
            const double total = sum + term;
            compensation += std::fabs(sum) >= std::fabs(term) ? (sum - total) + term
                                                               : (term - total) + sum;
            sum = total;
            prefix_[k + 1] = sum;
            prefix_error_[k + 1] = compensation;
        }
    }

    [[nodiscard]] double mean(const WindowSpan& window) const {
        const double width_hz = window.upper_hz - window.lower_hz;
        const std::size_t i = window.lower_segment;
        const std::size_t j = window.upper_segment;
        if (!(width_hz > 0.0)) {
            return value_at(window.lower_hz, i);
        }
        // Within one segment the function is linear, so its mean is its value at the centre.
        if (i == j) {
            return value_at(0.5 * (window.lower_hz + window.upper_hz), i);
        }

        const double lower_part = 0.5 * (freq_hz_[i + 1] - window.lower_hz) *
                                  (value_at(window.lower_hz, i) + values_[i + 1]);
        const double upper_part = 0.5 * (window.upper_hz - freq_hz_[j]) *
                                  (values_[j] + value_at(window.upper_hz, j));
        const double middle_part =
            (prefix_[j] - prefix_[i + 1]) + (prefix_error_[j] - prefix_error_[i + 1]);
        return (lower_part + middle_part + upper_part) / width_hz;
    }

private:
    [[nodiscard]] double value_at(double f, std::size_t segment) const {
        const double x0 = freq_hz_[segment];
        const double x1 = freq_hz_[segment + 1];
        const double t = (f - x0) / (x1 - x0);
        return values_[segment] + t * (values_[segment + 1] - values_[segment]);
    }

    std::span<const double> freq_hz_;
    std::span<const double> values_;
    std::vector<double> prefix_;
    std::vector<double> prefix_error_;
};

std::vector<double> window_means(std::span<const double> freq_hz, std::span<const double> values,
                                 const std::vector<WindowSpan>& windows) {
    const PiecewiseLinearMean integral(freq_hz, values);
    std::vector<double> means(windows.size());
    for (std::size_t i = 0; i < windows.size(); ++i) {
        means[i] = integral.mean(windows[i]);
    }
    return means;
}

bool smooths(const Smoothing& smoothing) {
    if (smoothing.kind == SmoothingKind::fractional_octave) {
        check_octave_fraction(smoothing);
    }
    return smoothing.kind != SmoothingKind::none;
}

}  // namespace

Smoothing parse_smoothing(std::string_view text) {
    if (text == "none") {
        return {};
    }
    if (text == "var") {
        return {SmoothingKind::variable, 0.0};
    }
    if (text == "psy") {
        return {SmoothingKind::psychoacoustic, 0.0};
    }
    if (text == "erb") {
        return {SmoothingKind::erb, 0.0};
    }
    for (const int fraction : accepted_octave_fractions) {
        if (text == "1/" + std::to_string(fraction)) {
            return {SmoothingKind::fractional_octave, static_cast<double>(fraction)};
        }
    }
    throw Error("smoothing '" + std::string(text) + "' is not valid; use one of " +
                    allowed_smoothing_values(),
                ErrorKind::configuration);
}

std::string to_string(const Smoothing& smoothing) {
    switch (smoothing.kind) {
    case SmoothingKind::none: return "none";
    case SmoothingKind::fractional_octave: return "1/" + format_significant(smoothing.octave_fraction, 10);
    case SmoothingKind::variable: return "var";
    case SmoothingKind::psychoacoustic: return "psy";
    case SmoothingKind::erb: return "erb";
    }
    return "none";
}

double smoothing_width_octaves(const Smoothing& smoothing, double freq_hz) {
    if (!(freq_hz > 0.0)) {
        return 0.0;
    }
    switch (smoothing.kind) {
    case SmoothingKind::none: return 0.0;
    case SmoothingKind::fractional_octave:
        check_octave_fraction(smoothing);
        return 1.0 / smoothing.octave_fraction;
    case SmoothingKind::variable: return interpolate_width(variable_anchors, freq_hz);
    case SmoothingKind::psychoacoustic: return interpolate_width(psychoacoustic_anchors, freq_hz);
    case SmoothingKind::erb: return erb_width_octaves(freq_hz);
    }
    return 0.0;
}

std::vector<double> smooth_power(std::span<const double> freq_hz, std::span<const double> power,
                                 const Smoothing& smoothing) {
    check_grid(freq_hz, power.size());
    for (std::size_t i = 0; i < power.size(); ++i) {
        if (!(std::isfinite(power[i]) && power[i] >= 0.0)) {
            throw Error("smoothing input power at " + format_significant(freq_hz[i], 10) + " Hz is " +
                        format_significant(power[i], 10) + "; power must be finite and >= 0");
        }
    }
    if (!smooths(smoothing) || power.size() < 2) {
        return {power.begin(), power.end()};
    }
    const auto windows = plan_windows(freq_hz, smoothing);

    if (smoothing.kind != SmoothingKind::psychoacoustic) {
        return window_means(freq_hz, power, windows);
    }

    // Cubic mean (REW's psychoacoustic smoothing: the cube root of the mean of the cubed
    // magnitudes): |H|_s = (mean |H|³)^(1/3), so the smoothed power is (mean P^(3/2))^(2/3).
    // Cubing weights peaks more than dips, as hearing does.
    std::vector<double> cubed_magnitude(power.size());
    std::transform(power.begin(), power.end(), cubed_magnitude.begin(),
                   [](double p) { return p * std::sqrt(p); });
    auto means = window_means(freq_hz, cubed_magnitude, windows);
    for (double& value : means) {
        value = std::pow(std::max(value, 0.0), 2.0 / 3.0);
    }
    return means;
}

std::vector<std::complex<double>> smooth_complex(std::span<const double> freq_hz,
                                                 std::span<const std::complex<double>> spectrum,
                                                 const Smoothing& smoothing) {
    check_grid(freq_hz, spectrum.size());
    if (!smooths(smoothing) || spectrum.size() < 2) {
        return {spectrum.begin(), spectrum.end()};
    }
    const auto windows = plan_windows(freq_hz, smoothing);

    std::vector<double> part(spectrum.size());
    std::transform(spectrum.begin(), spectrum.end(), part.begin(),
                   [](const std::complex<double>& value) { return value.real(); });
    const auto real_means = window_means(freq_hz, part, windows);
    std::transform(spectrum.begin(), spectrum.end(), part.begin(),
                   [](const std::complex<double>& value) { return value.imag(); });
    const auto imag_means = window_means(freq_hz, part, windows);

    std::vector<std::complex<double>> means(spectrum.size());
    for (std::size_t i = 0; i < means.size(); ++i) {
        means[i] = {real_means[i], imag_means[i]};
    }
    return means;
}

FrequencyResponse smooth_response(const FrequencyResponse& response, const Smoothing& smoothing) {
    if (response.has_phase() && response.phase_deg.size() != response.size()) {
        throw Error("response has " + std::to_string(response.phase_deg.size()) +
                    " phase values for " + std::to_string(response.size()) +
                    " frequencies; give one phase per frequency or none");
    }
    std::vector<double> power(response.magnitude_db.size());
    std::transform(response.magnitude_db.begin(), response.magnitude_db.end(), power.begin(),
                   [](double level_db) { return power_from_db(level_db); });

    const auto smoothed = smooth_power(response.freq_hz, power, smoothing);

    FrequencyResponse result{response.freq_hz, std::vector<double>(smoothed.size()),
                             response.phase_deg};
    std::transform(smoothed.begin(), smoothed.end(), result.magnitude_db.begin(),
                   [](double p) { return db_from_power(p); });
    return result;
}

}  // namespace linetune::analysis
