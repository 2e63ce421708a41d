#include "linetune/analysis/harmonic_distortion.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>
#include <string>

// Harmonic distortion from one exponential sweep (Farina, "Simultaneous measurement of impulse
// response and distortion with a swept-sine technique", AES 108th Convention, 2000).
//
// Why harmonic n shows up as its own impulse response L·ln n early: the sweep's phase is
// φ(t) = 2π·f1·L·(e^(t/L) − 1). A memoryless nonlinearity turns A·sin φ(t) into terms in
// sin(n·φ(t)) and cos(n·φ(t)), and
//     n·φ(t) = 2π·f1·L·(n·e^(t/L) − n) = φ(t + L·ln n) + 2π·f1·L·(1 − n).
// So harmonic n is the same sweep, with the same rate L, advanced by Δt_n = L·ln n and shifted in
// phase by a constant (a whole number of cycles when f1·L is whole, the synchronized sweep of
// Novak et al., JAES 63(10), 2015). Deconvolving by the sweep therefore turns it into an impulse
// response located Δt_n before the linear one, which the circular deconvolution wraps to the end
// of the buffer.
//
// Why |Hn(n·f)| / |H1(f)| is harmonic n's level at excitation frequency f: at the instant the
// sweep excites f, harmonic n sounds at n·f, and the deconvolution assigns each instantaneous
// component to its own frequency. For y = x + a2·x² + a3·x³ with x = A·sin φ:
//     x² = A²/2·(1 − cos 2φ),  x³ = A³/4·(3·sin φ − sin 3φ),
// so relative to the sweep amplitude A, |H1| = 1 + 3/4·a3·A², |H2(2f)| = a2·A/2 and
// |H3(3f)| = a3·A²/4. The ratio is the relative amplitude of the harmonic in the output for a
// sine at f of amplitude A (the sweep's level), the usual definition of harmonic distortion.

namespace linetune::analysis {
namespace {

/// Highest harmonic order accepted. Harmonic n's window shrinks like L·ln((n+1)/n) ≈ L/n: at 10
/// it is about 0.1·L (70 ms for a 5 s sweep from 20 Hz), so bass resolution is already coarse.
constexpr int max_supported_harmonic = 10;

/// Fraction of each side of a harmonic window faded with a half-Hann, so that cutting a
/// neighbour's ringing does not leak across the spectrum. Larger fades lose more of the impulse
/// response's own tail; 0 (a rectangular window) leaks the most.
constexpr double window_fade_fraction = 0.2;

/// Harmonic levels are reported only for excitation frequencies that the sweep reaches this many
/// Fresnel zones sqrt(L/f) after its fade-in. A sweep rising at df/dt = f/L resolves frequency
/// only to about sqrt(f/L) (its stationary-phase width), so the abrupt start of each harmonic
/// sweep at n·f1 ripples Hn(n·f) within about one zone of it. Measured with L = 0.6 s from 50 Hz:
/// H2 is 10 % off one zone after the start and within 0.1 % after two.
constexpr double harmonic_settling_fresnel_zones = 2.0;

/// Zero padding makes the narrowest averaging band (around the lowest grid frequency) hold at
/// least this many FFT bins, so the average does not fall back to a single bin.
constexpr double min_bins_per_band = 4.0;

/// Largest zero-padded FFT, a memory bound (2^22 doubles is 32 MiB) for very low start
/// frequencies. Beyond it the narrowest bands contain fewer bins than min_bins_per_band.
constexpr std::size_t max_padded_fft_size = std::size_t{1} << 22;

/// Position of harmonic n's impulse response in the circular buffer, in samples, with the extent
/// of its window on either side.
struct HarmonicWindow {
    double center_sample = 0;
    double before_samples = 0;
    double after_samples = 0;
};

/// Windows half-way to the neighbouring harmonics: harmonic n lies a_n = L·ln n·fs before the
/// linear impulse response, and its window reaches half-way to a_(n+1) (earlier) and to a_(n−1)
/// (later). Half-way leaves equal room for the pre-ringing and the tail that the zero-phase band
/// taper gives each impulse response. The linear one (n = 1) gets the same extent after its start
/// as before it, L·ln 2/2, which cuts reverberant tails longer than that.
HarmonicWindow harmonic_window(int harmonic, double rate_samples, double linear_ir_start_sample) {
    const auto advance = [rate_samples](int n) { return rate_samples * std::log(static_cast<double>(n)); };
    HarmonicWindow window;
    window.center_sample = linear_ir_start_sample - advance(harmonic);
    window.before_samples = 0.5 * (advance(harmonic + 1) - advance(harmonic));
    window.after_samples =
        harmonic == 1 ? window.before_samples : 0.5 * (advance(harmonic) - advance(harmonic - 1));
    return window;
}

/// Half-Hann rise from 0 at distance 0 to 1 at distance fade_samples from the window's edge.
double edge_gain(double distance_from_edge, double fade_samples) {
    if (distance_from_edge >= fade_samples) {
        return 1.0;
    }
    return 0.5 - 0.5 * std::cos(pi * std::max(distance_from_edge, 0.0) / fade_samples);
}

/// Samples of the window around one harmonic impulse response, read circularly from the buffer.
std::vector<double> extract_windowed(std::span<const float> deconvolved, const HarmonicWindow& window) {
    const auto size = static_cast<std::ptrdiff_t>(deconvolved.size());
    const double start = window.center_sample - window.before_samples;
    const double end = window.center_sample + window.after_samples;
    const double fade_in = window_fade_fraction * window.before_samples;
    const double fade_out = window_fade_fraction * window.after_samples;

    std::vector<double> samples;
    for (auto i = static_cast<std::ptrdiff_t>(std::ceil(start)); static_cast<double>(i) <= end; ++i) {
        const double position = static_cast<double>(i);
        const double gain = edge_gain(position - start, fade_in) * edge_gain(end - position, fade_out);
        const std::ptrdiff_t wrapped = ((i % size) + size) % size;
        samples.push_back(gain * static_cast<double>(deconvolved[static_cast<std::size_t>(wrapped)]));
    }
    return samples;
}

/// |X[k]|² of samples zero-padded to fft_size, with the bin spacing in Hz.
struct PowerSpectrum {
    std::vector<double> power;
    double bin_spacing_hz = 0;
};

PowerSpectrum power_spectrum(const std::vector<double>& samples, std::size_t fft_size, double sample_rate_hz) {
    RealFft<double> fft(fft_size);
    std::vector<std::complex<double>> bins(fft.bin_count());
    fft.forward(samples, bins);

    PowerSpectrum spectrum;
    spectrum.bin_spacing_hz = sample_rate_hz / static_cast<double>(fft_size);
    spectrum.power.reserve(bins.size());
    for (const auto& bin : bins) {
        spectrum.power.push_back(std::norm(bin));
    }
    return spectrum;
}

/// Mean power over the bins within [f/r, f·r], r = 2^(1/(2·points_per_octave)): the band that
/// one grid point stands for. With no bin inside, the power interpolated linearly at f.
double band_power(const PowerSpectrum& spectrum, double freq_hz, double half_band_ratio) {
    const double last_bin = static_cast<double>(spectrum.power.size() - 1);
    const double low_bin = std::ceil(freq_hz / half_band_ratio / spectrum.bin_spacing_hz);
    const double high_bin = std::min(std::floor(freq_hz * half_band_ratio / spectrum.bin_spacing_hz), last_bin);
    if (high_bin >= low_bin) {
        double sum = 0;
        for (auto k = static_cast<std::size_t>(low_bin); k <= static_cast<std::size_t>(high_bin); ++k) {
            sum += spectrum.power[k];
        }
        return sum / (high_bin - low_bin + 1.0);
    }

    const double position = std::min(freq_hz / spectrum.bin_spacing_hz, last_bin);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, spectrum.power.size() - 1);
    const double fraction = position - static_cast<double>(below);
    return (1.0 - fraction) * spectrum.power[below] + fraction * spectrum.power[above];
}

void validate_inputs(std::span<const float> deconvolved, double sample_rate_hz, const SweepEstimate& sweep,
                     double linear_ir_start_sample, int max_harmonic, double points_per_octave) {
    const std::string prefix = "harmonic distortion: ";
    if (!(sample_rate_hz > 0.0 && std::isfinite(sample_rate_hz))) {
        throw Error(prefix + "sample rate " + format_significant(sample_rate_hz) + " Hz must be positive",
                    ErrorKind::configuration);
    }
    if (!(sweep.rate_s > 0.0 && sweep.start_freq_hz > 0.0 && sweep.end_freq_hz > sweep.start_freq_hz)) {
        throw Error(prefix + "sweep estimate (start " + format_significant(sweep.start_freq_hz) + " Hz, end " +
                        format_significant(sweep.end_freq_hz) + " Hz, rate " + format_significant(sweep.rate_s) +
                        " s) is invalid; pass SweepDeconvolver::sweep() of the deconvolver used",
                    ErrorKind::configuration);
    }
    if (max_harmonic < 2 || max_harmonic > max_supported_harmonic) {
        throw Error(prefix + "highest harmonic " + std::to_string(max_harmonic) + " is outside 2 to " +
                        std::to_string(max_supported_harmonic),
                    ErrorKind::configuration);
    }
    if (!(points_per_octave >= 1.0 && points_per_octave <= 96.0)) {
        throw Error(prefix + "resolution " + format_significant(points_per_octave) +
                        " points per octave is outside 1 to 96",
                    ErrorKind::configuration);
    }
    const auto size = static_cast<double>(deconvolved.size());
    if (!(linear_ir_start_sample >= 0.0 && linear_ir_start_sample < size)) {
        throw Error(prefix + "linear impulse response start " + format_significant(linear_ir_start_sample) +
                    " is outside the deconvolved buffer of " + std::to_string(deconvolved.size()) +
                    " samples; pass the arrival found in that buffer");
    }

    // Every window must fit in the circular buffer without overlapping another through the wrap.
    const double rate_samples = sweep.rate_s * sample_rate_hz;
    const HarmonicWindow highest = harmonic_window(max_harmonic, rate_samples, 0.0);
    const HarmonicWindow linear = harmonic_window(1, rate_samples, 0.0);
    const double needed = -highest.center_sample + highest.before_samples + linear.after_samples;
    if (needed > size) {
        throw Error(prefix + "deconvolved buffer of " + std::to_string(deconvolved.size()) +
                    " samples is shorter than the " + format_significant(std::ceil(needed)) +
                    " samples that the windows of harmonics 1 to " + std::to_string(max_harmonic) +
                    " need; record longer after the sweep or lower the highest harmonic");
    }
}

}  // namespace

HarmonicDistortion measure_harmonic_distortion(std::span<const float> deconvolved, double sample_rate_hz,
                                               const SweepEstimate& sweep, double linear_ir_start_sample,
                                               int max_harmonic, double points_per_octave,
                                               std::optional<DeconvolutionBand> band) {
    validate_inputs(deconvolved, sample_rate_hz, sweep, linear_ir_start_sample, max_harmonic, points_per_octave);

    // Only the full-gain part of the band is usable: in the tapers the deconvolution has
    // attenuated H1 and Hn by different amounts.
    const DeconvolutionBand full = full_gain_band(band.value_or(DeconvolutionBand{sweep.start_freq_hz, sweep.end_freq_hz}));
    const double half_band_ratio = std::exp2(0.5 / points_per_octave);
    HarmonicDistortion result;
    if (full.end_freq_hz / half_band_ratio > full.start_freq_hz * half_band_ratio) {
        // Grid points whose averaging band lies wholly inside the full-gain band.
        result.freq_hz = log_frequency_grid(full.start_freq_hz * half_band_ratio,
                                            full.end_freq_hz / half_band_ratio, points_per_octave);
    }
    const std::size_t point_count = result.freq_hz.size();
    result.harmonic_percent.assign(static_cast<std::size_t>(max_harmonic - 1),
                                   std::vector<double>(point_count, std::numeric_limits<double>::quiet_NaN()));
    if (point_count == 0) {
        return result;
    }

    // One FFT size for all windows, zero-padded so the narrowest band contains enough bins.
    const double rate_samples = sweep.rate_s * sample_rate_hz;
    std::vector<std::vector<double>> windowed;
    std::size_t longest = 0;
    for (int n = 1; n <= max_harmonic; ++n) {
        windowed.push_back(extract_windowed(deconvolved, harmonic_window(n, rate_samples, linear_ir_start_sample)));
        longest = std::max(longest, windowed.back().size());
    }
    const double narrowest_band_hz = result.freq_hz.front() * (half_band_ratio - 1.0 / half_band_ratio);
    const auto padded_for_resolution =
        static_cast<std::size_t>(std::ceil(min_bins_per_band * sample_rate_hz / narrowest_band_hz));
    const std::size_t fft_size =
        next_fast_fft_size(std::max(longest, std::min(padded_for_resolution, max_padded_fft_size)));

    const PowerSpectrum fundamental = power_spectrum(windowed[0], fft_size, sample_rate_hz);
    std::vector<PowerSpectrum> harmonics;
    for (std::size_t i = 1; i < windowed.size(); ++i) {
        harmonics.push_back(power_spectrum(windowed[i], fft_size, sample_rate_hz));
    }

    for (std::size_t i = 0; i < point_count; ++i) {
        const double freq_hz = result.freq_hz[i];
        const double fundamental_power = band_power(fundamental, freq_hz, half_band_ratio);
        result.fundamental_db.push_back(db_from_power(fundamental_power));

        const double excitation_time_s = sweep.rate_s * std::log(freq_hz / sweep.start_freq_hz);
        const double settled_time_s = sweep.fade_in_s + harmonic_settling_fresnel_zones * std::sqrt(sweep.rate_s / freq_hz);
        const bool settled = excitation_time_s >= settled_time_s;

        double harmonic_power_sum = 0;
        bool any_in_band = false;
        for (std::size_t h = 0; h < harmonics.size(); ++h) {
            const double harmonic_freq_hz = static_cast<double>(h + 2) * freq_hz;
            if (harmonic_freq_hz * half_band_ratio > full.end_freq_hz || !settled || !(fundamental_power > 0.0)) {
                continue;  // not measurable here: stays NaN and leaves the THD out
            }
            const double power = band_power(harmonics[h], harmonic_freq_hz, half_band_ratio);
            result.harmonic_percent[h][i] = 100.0 * std::sqrt(power / fundamental_power);
            harmonic_power_sum += power;
            any_in_band = true;
        }
        result.thd_percent.push_back(any_in_band ? 100.0 * std::sqrt(harmonic_power_sum / fundamental_power)
                                                 : std::numeric_limits<double>::quiet_NaN());
    }
    return result;
}

}  // namespace linetune::analysis
