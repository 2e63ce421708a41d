#include "linetune/core/sweep.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <cmath>
#include <string>

namespace linetune {
namespace {

std::string format_value(double value) {
    std::string text = std::to_string(value);
    text.erase(text.find_last_not_of('0') + 1);
    if (!text.empty() && text.back() == '.') {
        text.pop_back();
    }
    return text;
}

/// Half-Hann gain rising from 0 at position 0 to 1 at position length.
double half_hann_rise(double position, double length) {
    if (length <= 0.0 || position >= length) {
        return 1.0;
    }
    return 0.5 - 0.5 * std::cos(pi * position / length);
}

}  // namespace

void validate(const SweepParameters& p) {
    const auto fail = [](const std::string& message) {
        throw Error("invalid sweep: " + message, ErrorKind::configuration);
    };
    if (!(p.sample_rate_hz >= 8000.0 && p.sample_rate_hz <= 768000.0)) {
        fail("sample rate " + format_value(p.sample_rate_hz) + " Hz is outside 8000 to 768000 Hz");
    }
    const double nyquist_hz = p.sample_rate_hz / 2.0;
    if (!(p.start_freq_hz >= 1.0)) {
        fail("start frequency " + format_value(p.start_freq_hz) + " Hz is below 1 Hz");
    }
    if (!(p.end_freq_hz <= nyquist_hz)) {
        fail("end frequency " + format_value(p.end_freq_hz) + " Hz is above the Nyquist frequency " +
             format_value(nyquist_hz) + " Hz of " + format_value(p.sample_rate_hz) + " Hz");
    }
    if (!(p.end_freq_hz >= 2.0 * p.start_freq_hz)) {
        fail("end frequency " + format_value(p.end_freq_hz) +
             " Hz must be at least one octave above the start frequency " +
             format_value(p.start_freq_hz) + " Hz");
    }
    if (!(p.duration_s >= 0.1 && p.duration_s <= 600.0)) {
        fail("duration " + format_value(p.duration_s) + " s is outside 0.1 to 600 s");
    }
    if (!(p.level_dbfs <= 0.0 && p.level_dbfs >= -120.0)) {
        fail("level " + format_value(p.level_dbfs) + " dBFS is outside -120 to 0 dBFS");
    }
    if (!(p.fade_in_s >= 0.0 && p.fade_out_s >= 0.0 &&
          p.fade_in_s + p.fade_out_s <= 0.5 * p.duration_s)) {
        fail("fade-in " + format_value(p.fade_in_s) + " s plus fade-out " +
             format_value(p.fade_out_s) + " s must not be negative or exceed half the duration " +
             format_value(p.duration_s) + " s");
    }
}

double sweep_rate_s(const SweepParameters& p) {
    const double octave_log = std::log(p.end_freq_hz / p.start_freq_hz);
    const double whole_cycles = std::max(1.0, std::round(p.start_freq_hz * p.duration_s / octave_log));
    return whole_cycles / p.start_freq_hz;
}

double sweep_duration_s(const SweepParameters& p) {
    return sweep_rate_s(p) * std::log(p.end_freq_hz / p.start_freq_hz);
}

double instantaneous_frequency_hz(const SweepParameters& p, double time_s) {
    return p.start_freq_hz * std::exp(time_s / sweep_rate_s(p));
}

double harmonic_advance_s(const SweepParameters& p, int harmonic) {
    return sweep_rate_s(p) * std::log(static_cast<double>(harmonic));
}

std::vector<float> generate_exponential_sweep(const SweepParameters& p) {
    validate(p);
    const double rate_s = sweep_rate_s(p);
    const double fs = p.sample_rate_hz;
    const auto length = static_cast<std::size_t>(std::llround(sweep_duration_s(p) * fs));
    const double amplitude = amplitude_from_db(p.level_dbfs);
    const double fade_in_samples = p.fade_in_s * fs;
    const double fade_out_samples = p.fade_out_s * fs;

    std::vector<float> sweep(length);
    for (std::size_t i = 0; i < length; ++i) {
        const double t = static_cast<double>(i) / fs;
        // Phase 2π·f1·L·(e^(t/L) − 1); since f1·L is whole, this equals 2π·f1·L·e^(t/L) mod 2π.
        const double phase = 2.0 * pi * p.start_freq_hz * rate_s * std::expm1(t / rate_s);
        const double from_end = static_cast<double>(length - 1 - i);
        const double gain = half_hann_rise(static_cast<double>(i), fade_in_samples) *
                            half_hann_rise(from_end, fade_out_samples);
        sweep[i] = static_cast<float>(amplitude * gain * std::sin(phase));
    }
    return sweep;
}

}  // namespace linetune
