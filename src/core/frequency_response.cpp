#include "linetune/core/frequency_response.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace linetune {
namespace {

/// Index i such that freq_hz[i] <= f < freq_hz[i + 1], for f strictly inside the range.
std::size_t bracket_index(const std::vector<double>& freq_hz, double f) {
    const auto upper = std::upper_bound(freq_hz.begin(), freq_hz.end(), f);
    return static_cast<std::size_t>(upper - freq_hz.begin()) - 1;
}

/// Position of f between two frequencies on a log axis (0 at f0, 1 at f1); linear when f0 is 0 Hz.
double log_fraction(double f0, double f1, double f) {
    if (f0 <= 0.0) {
        return (f - f0) / (f1 - f0);
    }
    return std::log(f / f0) / std::log(f1 / f0);
}

double interpolate(const std::vector<double>& freq_hz, const std::vector<double>& values, double f) {
    assert(!freq_hz.empty() && freq_hz.size() == values.size());
    if (f <= freq_hz.front()) {
        return values.front();
    }
    if (f >= freq_hz.back()) {
        return values.back();
    }
    const std::size_t i = bracket_index(freq_hz, f);
    const double t = log_fraction(freq_hz[i], freq_hz[i + 1], f);
    return values[i] + t * (values[i + 1] - values[i]);
}

}  // namespace

double interpolate_magnitude_db(const FrequencyResponse& response, double freq_hz) {
    return interpolate(response.freq_hz, response.magnitude_db, freq_hz);
}

double interpolate_phase_deg(const FrequencyResponse& response, double freq_hz) {
    if (!response.has_phase()) {
        return 0.0;
    }

    // Unwrap before interpolating so that a jump from +179° to -179° is read as 2°, not -358°.
    std::vector<double> unwrapped(response.phase_deg);
    for (std::size_t i = 1; i < unwrapped.size(); ++i) {
        const double step = unwrapped[i] - unwrapped[i - 1];
        unwrapped[i] -= 360.0 * std::round(step / 360.0);
    }
    const double phase = interpolate(response.freq_hz, unwrapped, freq_hz);
    return std::remainder(phase, 360.0);
}

std::vector<double> log_frequency_grid(double start_hz, double end_hz, double points_per_octave) {
    assert(start_hz > 0.0 && end_hz >= start_hz && points_per_octave > 0.0);
    const double octaves = std::log2(end_hz / start_hz);
    const auto steps = static_cast<std::size_t>(std::floor(octaves * points_per_octave + 1e-9));

    std::vector<double> grid;
    grid.reserve(steps + 1);
    for (std::size_t i = 0; i <= steps; ++i) {
        grid.push_back(start_hz * std::exp2(static_cast<double>(i) / points_per_octave));
    }
    return grid;
}

}  // namespace linetune
