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

namespace x32 {
namespace {

// The X32 scales, after P.-G. Maillot's unofficial X32/M32 OSC protocol document (ranges and step
// counts as quoted from it; the exponential forms fit its example f 0.265 = 124.7 Hz):
//   EQ frequency  Hz = 20 * 1000^x        201 steps
//   EQ gain       dB = -15 + 30 x
//   EQ Q          Q  = 10 * 0.03^x        72 steps
//   fader         -90 dB (off) .. +10 dB, 0.75 = 0 dB, pseudo-logarithmic
//   delay time    0.3 .. 500 ms
// NOTE: none of these is verified against a console. The fader's four straight segments in dB
// and the linear delay scale are assumptions that meet the known points (fader 0, 0.75 and 1).
// No step counts are known for gain, fader and delay, so they are sent unrounded.
constexpr double frequency_min_hz = 20.0;
constexpr double frequency_ratio = 1000.0;  // 20 kHz / 20 Hz
constexpr double frequency_steps = 200.0;   // 201 values
constexpr double eq_gain_min_db = -15.0;
constexpr double eq_gain_span_db = 30.0;
constexpr double q_max = 10.0;
constexpr double q_ratio = 0.03;  // Q at x = 1 over Q at x = 0
constexpr double q_steps = 71.0;  // 72 values
constexpr double delay_min_ms = 0.3;
constexpr double delay_max_ms = 500.0;

double clamp_fraction(double fraction) { return std::clamp(fraction, 0.0, 1.0); }

double on_grid(double fraction, double steps) { return std::round(clamp_fraction(fraction) * steps) / steps; }

}  // namespace

double eq_frequency_hz(double fraction) {
    return frequency_min_hz * std::pow(frequency_ratio, on_grid(fraction, frequency_steps));
}

double eq_frequency_fraction(double freq_hz) {
    return on_grid(std::log(freq_hz / frequency_min_hz) / std::log(frequency_ratio), frequency_steps);
}

double eq_gain_db(double fraction) { return eq_gain_min_db + eq_gain_span_db * clamp_fraction(fraction); }

double eq_gain_fraction(double gain_db) { return clamp_fraction((gain_db - eq_gain_min_db) / eq_gain_span_db); }

double eq_q(double fraction) { return q_max * std::pow(q_ratio, on_grid(fraction, q_steps)); }

double eq_q_fraction(double q) { return on_grid(std::log(q / q_max) / std::log(q_ratio), q_steps); }

// Fader segments, from the top: x >= 0.5: dB = 40 x - 30; x >= 0.25: dB = 80 x - 50;
// x >= 0.0625: dB = 160 x - 70; below: dB = 480 x - 90. They join at -10, -30 and -60 dB.
double fader_db(double fraction) {
    const double x = clamp_fraction(fraction);
    if (x >= 0.5) {
        return 40.0 * x - 30.0;
    }
    if (x >= 0.25) {
        return 80.0 * x - 50.0;
    }
    if (x >= 0.0625) {
        return 160.0 * x - 70.0;
    }
    return 480.0 * x - 90.0;
}

double fader_fraction(double gain_db) {
    if (gain_db >= -10.0) {
        return clamp_fraction((gain_db + 30.0) / 40.0);
    }
    if (gain_db >= -30.0) {
        return (gain_db + 50.0) / 80.0;
    }
    if (gain_db >= -60.0) {
        return (gain_db + 70.0) / 160.0;
    }
    return clamp_fraction((gain_db + 90.0) / 480.0);
}

double delay_ms(double fraction) { return delay_min_ms + (delay_max_ms - delay_min_ms) * clamp_fraction(fraction); }

double delay_fraction(double delay) { return clamp_fraction((delay - delay_min_ms) / (delay_max_ms - delay_min_ms)); }

}  // namespace x32

}  // namespace linetune::control
