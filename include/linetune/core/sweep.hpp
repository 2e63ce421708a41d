#pragma once

#include <vector>

namespace linetune {

/// Exponential sine sweep settings. The duration is a request: the generated sweep is the
/// synchronized sweep nearest to it (see generate_exponential_sweep).
struct SweepParameters {
    double start_freq_hz = 20.0;
    double end_freq_hz = 20000.0;
    double duration_s = 5.0;
    double sample_rate_hz = 48000.0;
    double level_dbfs = -6.0;     ///< peak level of the sweep before fades
    double fade_in_s = 0.05;      ///< half-Hann fade at the start; shortens the lowest octave
    double fade_out_s = 0.005;    ///< half-Hann fade at the end; keeps the end click-free
};

/// Checks every field and throws a configuration Error naming the field, its value and the
/// limit (e.g. end frequency above Nyquist).
void validate(const SweepParameters& parameters);

/// Sweep rate L in seconds: the instantaneous frequency is f1·e^(t/L).
/// L = round(f1·T / ln(f2/f1)) / f1 so that f1·L is a whole number of cycles (synchronized sweep,
/// Novak, Lotton & Simon, JAES 63(10), 2015): then every harmonic starts in phase.
double sweep_rate_s(const SweepParameters& parameters);

/// Actual duration T = L·ln(f2/f1) of the synchronized sweep, in seconds.
double sweep_duration_s(const SweepParameters& parameters);

/// Instantaneous frequency f1·e^(t/L) at time_s after the start of the sweep.
double instantaneous_frequency_hz(const SweepParameters& parameters, double time_s);

/// Time by which the impulse response of harmonic n precedes the linear one after
/// deconvolution: Δt = L·ln(n) (Farina, AES 108th Convention, 2000).
double harmonic_advance_s(const SweepParameters& parameters, int harmonic);

/// Samples of x(t) = A·sin(2π·f1·L·(e^(t/L) − 1)) with fades applied; length round(T·fs).
std::vector<float> generate_exponential_sweep(const SweepParameters& parameters);

}  // namespace linetune
