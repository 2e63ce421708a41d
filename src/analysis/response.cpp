#include "linetune/analysis/response.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdio>
#include <string>

// Frequency response of an impulse response h[n] at sample rate fs:
//   H(f) = Σ_n w_f(n) · h[n] · e^(−j·2π·f·(n − n_ref)/fs)
// Magnitude is 20·log10|H| re full scale (a unit impulse reads 0 dB). Multiplying by
// e^(+j·2π·f·n_ref/fs) removes the linear phase of the delay to the reference sample n_ref, so a
// direct sound at n_ref reads 0° whatever its arrival time.
//
// Plain FFT (no fdw_cycles): w_f(n) = 1. The whole response is zero-padded by fft_padding_factor
// and transformed once. Output frequencies fall between bins and are linearly interpolated: power
// for the magnitude, the delay-removed complex value for the phase.
//
// Frequency-dependent window: at each output frequency f the response is weighted by a Hann
// window centred on n_ref whose total width is fdw_cycles periods of f, i.e. fdw_cycles / f s:
//   w_f(n) = cos²(π·(n − n_ref) / (2·h)) for |n − n_ref| < h, h = fdw_cycles·fs / (2·f) samples.
// Low frequencies see a long window (room modes stay resolved), high frequencies a short one
// (late reflections drop out). The DTFT is evaluated directly at each output frequency, which
// costs Σ_f 2h(f) ≈ fdw_cycles · fs · points_per_octave / (ln 2 · start_freq_hz) operations,
// capped at the response length per point.
//
// Smoothing, when set, averages |H|² (or |H|³ for psy) over each window; the phase is the argument
// of the complex mean of the delay-removed H over the same window (complex smoothing:
// Hatziantoniou & Mourjopoulos, "Generalized fractional-octave smoothing of audio and acoustic
// responses", JAES 48(4), 2000). It is applied to the FFT bins in the plain path and to the output grid after
// the frequency-dependent window.

namespace linetune::analysis {
namespace {

// Highest output frequency as a fraction of Nyquist: the band above it is shaped by the
// converters' anti-aliasing filters, not by the system under test.
constexpr double max_fraction_of_nyquist = 0.95;

// Zero padding of the plain FFT. Padding to 4× the response length places bins a quarter of
// 1/duration apart, so linear interpolation between bins stays exact for the direct sound and
// smooth filters. A component at the response's far end rotates by up to 90° between bins and
// loses up to 3 dB in the interpolated value, which matters only for unsmoothed late reflections.
constexpr std::size_t fft_padding_factor = 4;
// Padding stops growing past this size: bins of a 2^18-point FFT are 0.18 Hz apart at 48 kHz,
// finer than the 1/48-octave grid down to 25 Hz, and four times longer responses (minutes of
// reverberation) would need 64 MB per transform for no visible gain.
constexpr std::size_t max_padded_fft_size = std::size_t{1} << 18;

// Smallest FFT used; keeps the bin grid usable for very short responses.
constexpr std::size_t minimum_fft_size = 4096;

// Minimum width of a frequency-dependent window in cycles: a window shorter than one period has
// no frequency resolution left.
constexpr double minimum_fdw_cycles = 1.0;

void validate_input(std::span<const float> ir, double sample_rate_hz, double reference_sample) {
    if (ir.empty()) {
        throw Error("impulse response is empty; a frequency response needs at least one sample");
    }
    if (!(sample_rate_hz > 0.0 && std::isfinite(sample_rate_hz))) {
        throw Error("sample rate " + format_significant(sample_rate_hz, 10) + " Hz is not valid; it must be > 0 Hz");
    }
    const double last_sample = static_cast<double>(ir.size() - 1);
    if (!(reference_sample >= 0.0 && reference_sample <= last_sample)) {
        throw Error("reference sample " + format_significant(reference_sample, 10) +
                    " is outside the impulse response (0 to " + format_significant(last_sample, 10) +
                    "); pass the arrival sample of the direct sound");
    }
    for (std::size_t n = 0; n < ir.size(); ++n) {
        if (!std::isfinite(ir[n])) {
            throw Error("impulse response sample " + std::to_string(n) + " is not finite; the " +
                        "measurement is corrupt and must be repeated");
        }
    }
}

/// Output grid from the options, with the end clipped to max_fraction_of_nyquist.
std::vector<double> output_grid(const ResponseOptions& options, double sample_rate_hz) {
    const auto fail = [](const std::string& message) {
        throw Error("invalid response options: " + message, ErrorKind::configuration);
    };
    const double highest_hz = max_fraction_of_nyquist * sample_rate_hz / 2.0;
    const double end_hz = std::min(options.end_freq_hz, highest_hz);
    if (!(options.start_freq_hz > 0.0)) {
        fail("start frequency " + format_significant(options.start_freq_hz, 10) + " Hz must be > 0 Hz");
    }
    if (!(end_hz > options.start_freq_hz)) {
        fail("start frequency " + format_significant(options.start_freq_hz, 10) +
             " Hz must be below the end frequency " + format_significant(end_hz, 10) +
             " Hz (the requested end, clipped to 0.95 × Nyquist of " +
             format_significant(sample_rate_hz, 10) + " Hz)");
    }
    if (!(options.points_per_octave > 0.0 && options.points_per_octave <= 10000.0)) {
        fail("points per octave " + format_significant(options.points_per_octave, 10) +
             " is outside 0 to 10000; 48 is typical");
    }
    if (options.fdw_cycles && !(*options.fdw_cycles >= minimum_fdw_cycles && std::isfinite(*options.fdw_cycles))) {
        fail("frequency-dependent window of " + format_significant(*options.fdw_cycles, 10) +
             " cycles is below the minimum " + format_significant(minimum_fdw_cycles, 10) +
             " cycle; 15 is typical");
    }
    return log_frequency_grid(options.start_freq_hz, end_hz, options.points_per_octave);
}

double phase_deg(std::complex<double> value) {
    const double phase = std::arg(value) * 180.0 / pi;
    return phase <= -180.0 ? phase + 360.0 : phase;
}

FrequencyResponse plain_fft_response(std::span<const float> ir, double sample_rate_hz,
                                     double reference_sample, const ResponseOptions& options,
                                     std::vector<double> grid_hz) {
    const std::size_t fft_size =
        next_fast_fft_size(std::max({std::min(fft_padding_factor * ir.size(), max_padded_fft_size), ir.size(),
                                     minimum_fft_size}));
    RealFft<double> fft(fft_size);
    auto time = fft.time_buffer();
    std::copy(ir.begin(), ir.end(), time.begin());
    std::fill(time.begin() + static_cast<std::ptrdiff_t>(ir.size()), time.end(), 0.0);
    fft.execute_forward();
    const auto bins = fft.bin_buffer();

    // Remove the delay to the reference: multiply bin k by e^(+j·2π·k·n_ref/N). The phase is
    // reduced modulo N first so that it stays exact for long responses.
    const double size = static_cast<double>(fft_size);
    std::vector<double> bin_freq_hz(bins.size());
    std::vector<std::complex<double>> spectrum(bins.size());
    std::vector<double> power(bins.size());
    for (std::size_t k = 0; k < bins.size(); ++k) {
        const double turns = std::fmod(static_cast<double>(k) * reference_sample, size) / size;
        spectrum[k] = bins[k] * std::polar(1.0, 2.0 * pi * turns);
        power[k] = std::norm(bins[k]);
        bin_freq_hz[k] = static_cast<double>(k) * sample_rate_hz / size;
    }
    if (options.smoothing.kind != SmoothingKind::none) {
        power = smooth_power(bin_freq_hz, power, options.smoothing);
        spectrum = smooth_complex(bin_freq_hz, spectrum, options.smoothing);
    }

    FrequencyResponse response{std::move(grid_hz), {}, {}};
    response.magnitude_db.reserve(response.size());
    response.phase_deg.reserve(response.size());
    for (const double f : response.freq_hz) {
        // The grid ends at 0.95 × Nyquist, so bin k + 1 always exists.
        const double position = f * size / sample_rate_hz;
        const auto k = static_cast<std::size_t>(position);
        const double t = position - static_cast<double>(k);
        const double interpolated_power = (1.0 - t) * power[k] + t * power[k + 1];
        const std::complex<double> interpolated = (1.0 - t) * spectrum[k] + t * spectrum[k + 1];
        response.magnitude_db.push_back(db_from_power(interpolated_power));
        response.phase_deg.push_back(phase_deg(interpolated));
    }
    return response;
}

/// Delay-removed DTFT at freq_hz of the response under a Hann window of half_width_samples
/// centred on reference_sample.
std::complex<double> windowed_dtft(std::span<const float> ir, double sample_rate_hz,
                                   double reference_sample, double freq_hz,
                                   double half_width_samples) {
    const double last_sample = static_cast<double>(ir.size() - 1);
    const auto first = static_cast<std::size_t>(std::max(0.0, std::ceil(reference_sample - half_width_samples)));
    const auto last = static_cast<std::size_t>(std::min(last_sample, std::floor(reference_sample + half_width_samples)));
    const double omega = 2.0 * pi * freq_hz / sample_rate_hz;

    // e^(−jω(n − n_ref)) advanced by one rotation per sample; the rounding error grows by about
    // 1e-16 per step, negligible over the longest window.
    std::complex<double> phasor = std::polar(1.0, -omega * (static_cast<double>(first) - reference_sample));
    const std::complex<double> step = std::polar(1.0, -omega);
    std::complex<double> sum{0.0, 0.0};
    for (std::size_t n = first; n <= last; ++n) {
        const double offset = static_cast<double>(n) - reference_sample;
        const double weight = 0.5 + 0.5 * std::cos(pi * offset / half_width_samples);
        sum += (weight * static_cast<double>(ir[n])) * phasor;
        phasor *= step;
    }
    return sum;
}

FrequencyResponse windowed_response(std::span<const float> ir, double sample_rate_hz,
                                    double reference_sample, const ResponseOptions& options,
                                    std::vector<double> grid_hz) {
    const double cycles = *options.fdw_cycles;
    std::vector<std::complex<double>> spectrum(grid_hz.size());
    std::vector<double> power(grid_hz.size());
    for (std::size_t i = 0; i < grid_hz.size(); ++i) {
        // NOTE: where the half width exceeds the data around the reference, the window is cut by
        // the response's ends and the resolution there is that of the recording, not of the window.
        const double half_width_samples = cycles * sample_rate_hz / (2.0 * grid_hz[i]);
        spectrum[i] = windowed_dtft(ir, sample_rate_hz, reference_sample, grid_hz[i], half_width_samples);
        power[i] = std::norm(spectrum[i]);
    }
    if (options.smoothing.kind != SmoothingKind::none) {
        power = smooth_power(grid_hz, power, options.smoothing);
        spectrum = smooth_complex(grid_hz, spectrum, options.smoothing);
    }

    FrequencyResponse response{std::move(grid_hz), std::vector<double>(power.size()),
                               std::vector<double>(power.size())};
    for (std::size_t i = 0; i < power.size(); ++i) {
        response.magnitude_db[i] = db_from_power(power[i]);
        response.phase_deg[i] = phase_deg(spectrum[i]);
    }
    return response;
}

}  // namespace

FrequencyResponse compute_frequency_response(std::span<const float> ir, double sample_rate_hz,
                                             double reference_sample, const ResponseOptions& options) {
    validate_input(ir, sample_rate_hz, reference_sample);
    auto grid_hz = output_grid(options, sample_rate_hz);
    if (options.fdw_cycles) {
        return windowed_response(ir, sample_rate_hz, reference_sample, options, std::move(grid_hz));
    }
    return plain_fft_response(ir, sample_rate_hz, reference_sample, options, std::move(grid_hz));
}

}  // namespace linetune::analysis
