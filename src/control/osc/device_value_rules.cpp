#include "linetune/control/osc/device_value_rules.hpp"

#include "linetune/control/parameter_steps.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace linetune::control {
namespace {

// Values arrive as OSC float32, so a limit such as 0.3 may come back as 0.30000001. Two units in
// the last place of a float32 mantissa (2 * 2^-23, relative) absorb that rounding, and nothing a
// user could mean lies that close to a limit.
constexpr double float32_relative_slack = 2.0 * 1.1920928955078125e-7;

/// Range of a numeric parameter; the delay line runs from 0 ms to its max.
Range range_of(ParameterKind kind, const ChannelLimits& limits) {
    switch (kind) {
    case ParameterKind::gain_db: return limits.gain_db;
    case ParameterKind::delay_ms: return {0.0, limits.delay_ms.max, limits.delay_ms.step};
    case ParameterKind::band_freq_hz: return limits.eq.freq_hz;
    case ParameterKind::band_gain_db: return limits.eq.gain_db;
    case ParameterKind::band_q: return limits.eq.q;
    case ParameterKind::mute:
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled:
    case ParameterKind::band_type: break;
    }
    return {};
}

std::string_view unit_of(ParameterKind kind) {
    switch (kind) {
    case ParameterKind::gain_db:
    case ParameterKind::band_gain_db: return " dB";
    case ParameterKind::delay_ms: return " ms";
    case ParameterKind::band_freq_hz: return " Hz";
    default: return "";
    }
}

double quantise_number(const ParameterId& id, double value, const Range& range) {
    const auto show = [&id](double number) { return format_significant(number, 9) + std::string(unit_of(id.kind)); };
    const double slack_min = float32_relative_slack * std::max(std::fabs(range.min), 1.0);
    const double slack_max = float32_relative_slack * std::max(std::fabs(range.max), 1.0);
    if (!std::isfinite(value)) {
        throw Error(describe(id) + ": " + show(value) + " is not a finite number", ErrorKind::configuration);
    }
    if (value < range.min - slack_min) {
        throw Error(describe(id) + ": " + show(value) + " is below the minimum " + show(range.min),
                    ErrorKind::configuration);
    }
    if (value > range.max + slack_max) {
        throw Error(describe(id) + ": " + show(value) + " is above the maximum " + show(range.max),
                    ErrorKind::configuration);
    }
    return std::clamp(round_to_step(value, range.min, range.step), range.min, range.max);
}

}  // namespace

void require_parameter_in_profile(const DeviceProfile& profile, const ParameterId& id) {
    if (id.channel == 0 || id.channel > profile.channel_count) {
        throw Error(describe(id) + ": profile '" + profile.name + "' has channels 1 to " +
                        std::to_string(profile.channel_count),
                    ErrorKind::configuration);
    }
    if (is_band_parameter(id.kind) && (id.band == 0 || id.band > profile.limits.eq.max_bands)) {
        throw Error(describe(id) + ": profile '" + profile.name + "' lets linetune use bands 1 to " +
                        std::to_string(profile.limits.eq.max_bands),
                    ErrorKind::configuration);
    }
}

ParameterValue quantise_for_device(const ChannelLimits& limits, const ParameterId& id, const ParameterValue& value) {
    switch (id.kind) {
    case ParameterKind::mute:
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled:
        if (std::holds_alternative<bool>(value)) {
            return value;
        }
        break;
    case ParameterKind::band_type:
        if (const FilterKind* kind = std::get_if<FilterKind>(&value)) {
            if (!limits.eq.offers(*kind)) {
                throw Error(describe(id) + ": the EQ bank offers no '" + std::string(to_string(*kind)) +
                                "' filter",
                            ErrorKind::configuration);
            }
            return value;
        }
        break;
    case ParameterKind::gain_db:
    case ParameterKind::delay_ms:
    case ParameterKind::band_freq_hz:
    case ParameterKind::band_gain_db:
    case ParameterKind::band_q:
        if (const double* number = std::get_if<double>(&value)) {
            return quantise_number(id, *number, range_of(id.kind, limits));
        }
        break;
    }
    throw Error(describe(id) + ": value " + describe(value) + " has the wrong type for this parameter",
                ErrorKind::configuration);
}

}  // namespace linetune::control
