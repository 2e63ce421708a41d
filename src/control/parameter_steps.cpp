#include "linetune/control/parameter_steps.hpp"

#include <algorithm>
#include <cmath>

namespace linetune::control {
namespace {

// Relative precision of a float32: 2^-23 is one unit in the last place of the 24-bit mantissa.
// Two units allow for a device that converts through another unit (seconds to ms) before storing.
constexpr double float32_relative_precision = 2.0 * 1.1920928955078125e-7;

// Absolute floor for values near 0 (0 dB, 0 ms), where a relative tolerance vanishes but a device
// may still return a tiny residue of its own arithmetic.
constexpr double float32_absolute_floor = 1e-6;

// Slack on the grid index so that a value already on the grid (k + 1e-12 after division) is not
// moved one step by floor().
constexpr double grid_index_slack = 1e-9;

/// Rounds a grid value min + k·step, computed in binary floating point (0.3 + 970·0.01 gives
/// 10.000000000000002), to the decimals of the step, so that it equals the decimal a device shows
/// and compares equal with the range's ends.
double clean_grid_value(double value, double step) {
    const double decimals = std::max(0.0, std::ceil(-std::log10(step) - 1e-9)) + 1.0;
    const double scale = std::pow(10.0, decimals);
    return std::round(value * scale) / scale;
}

}  // namespace

double step_of(ParameterKind kind, const ChannelLimits& limits) {
    switch (kind) {
    case ParameterKind::gain_db: return limits.gain_db.step;
    case ParameterKind::delay_ms: return limits.delay_ms.step;
    case ParameterKind::band_freq_hz: return limits.eq.freq_hz.step;
    case ParameterKind::band_gain_db: return limits.eq.gain_db.step;
    case ParameterKind::band_q: return limits.eq.q.step;
    case ParameterKind::mute:
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled:
    case ParameterKind::band_type: return 0.0;
    }
    return 0.0;
}

double round_to_step(double value, double min, double step) {
    if (!(step > 0.0)) {
        return value;
    }
    return clean_grid_value(min + std::round((value - min) / step) * step, step);
}

double floor_to_step(double value, double min, double step) {
    if (!(step > 0.0)) {
        return value;
    }
    return clean_grid_value(min + std::floor((value - min) / step + grid_index_slack) * step, step);
}

double readback_tolerance(ParameterKind kind, double expected, const ChannelLimits& limits) {
    const double float_tolerance = std::max(std::fabs(expected) * float32_relative_precision, float32_absolute_floor);
    return step_of(kind, limits) / 2.0 + float_tolerance;
}

bool values_match(ParameterKind kind, const ParameterValue& expected, const ParameterValue& actual,
                  const ChannelLimits& limits) {
    if (expected.index() != actual.index()) {
        return false;
    }
    if (const double* number = std::get_if<double>(&expected)) {
        const double read = std::get<double>(actual);
        return std::isfinite(read) && std::fabs(read - *number) <= readback_tolerance(kind, *number, limits);
    }
    return expected == actual;
}

}  // namespace linetune::control
