#include "linetune/analysis/deconvolution.hpp"

#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <optional>
#include <string>

namespace linetune::analysis {
namespace {

/// Level relative to the sweep's peak below which samples count as silence when finding the
/// sweep's extent. Raising it cuts deeper into the fades, so the start frequency comes out
/// higher. Lowering it towards -100 dB lets dither or noise in the file widen the extent.
constexpr double silence_threshold_db = -60.0;

/// Only samples whose Hilbert envelope reaches this fraction of its maximum enter the frequency
/// fit. The fades modulate the amplitude and so disturb the instantaneous frequency. At 0.5 the
/// fit starts about half-way through a half-Hann fade-in. A fraction near 1 would also drop the
/// quieter parts of a sweep whose level varies.
constexpr double fit_envelope_fraction = 0.5;

/// Largest RMS deviation of ln(instantaneous frequency) from the fitted line a·t + b for the
/// signal to count as an exponential sweep. Sweeps from generate_exponential_sweep measure about
/// 1.5e-3 and a linear sweep from 20 Hz to 20 kHz about 0.45 (the test signals of
/// test_deconvolution.cpp), so 0.02, a 2 % frequency error, separates them with margin.
constexpr double max_log_frequency_rms_deviation = 0.02;

/// Fraction of the maximum Hilbert envelope that ends the fade-in. Harmonic distortion is not
/// reported for frequencies swept before it. During a fade with gain g, harmonic n is attenuated
/// by g^(n−1) relative to the fundamental, so 0.99 bounds that error to 1 % for H2.
constexpr double fade_in_end_fraction = 0.99;

/// Band edges may lie this fraction outside the measured sweep band, because the measured start
/// and end frequencies sit slightly inside the true ones (the fades are partly below the silence
/// threshold).
constexpr double band_edge_tolerance = 0.01;

/// Tikhonov regularisation of the inverse conj(X)/(|X|² + ε) with ε = (ratio·max|X|)², max over
/// the band. It matters only where |X| falls far below its in-band maximum (a played sweep with a
/// notch or a gap): there the gain stops growing instead of amplifying noise without bound. Its
/// bias on the result is ε/|X|², so 1e-5 (-100 dB) costs under 1e-7 over the 30 dB that a
/// 20 Hz to 20 kHz sweep's pink spectrum spans.
constexpr double regularisation_ratio = 1e-5;

std::string format_hz(double freq_hz) {
    char text[64];
    std::snprintf(text, sizeof text, "%.1f Hz", freq_hz);
    return text;
}

/// Index of the first NaN or infinite sample, or the size when there is none.
std::size_t first_non_finite(std::span<const float> samples) {
    const auto found = std::find_if(samples.begin(), samples.end(),
                                    [](float value) { return !std::isfinite(value); });
    return static_cast<std::size_t>(found - samples.begin());
}

struct NonSilentExtent {
    std::size_t first = 0;
    std::size_t last = 0;
};

NonSilentExtent find_non_silent_extent(std::span<const float> samples, float peak) {
    const auto threshold = static_cast<float>(peak * amplitude_from_db(silence_threshold_db));
    const auto loud = [threshold](float value) { return std::fabs(value) >= threshold; };
    const auto first = std::find_if(samples.begin(), samples.end(), loud);
    const auto last = std::find_if(samples.rbegin(), samples.rend(), loud);
    return {static_cast<std::size_t>(first - samples.begin()),
            static_cast<std::size_t>(samples.rend() - last) - 1};
}

/// Largest Hilbert envelope |z| over the non-silent extent.
double max_envelope(const std::vector<std::complex<double>>& analytic, NonSilentExtent extent) {
    double maximum = 0;
    for (std::size_t n = extent.first; n <= extent.last; ++n) {
        maximum = std::max(maximum, std::abs(analytic[n]));
    }
    return maximum;
}

/// Straight line y = intercept + slope·x fitted by least squares, with its RMS residual.
struct LineFit {
    double intercept = 0;
    double slope = 0;
    double rms_residual = 0;
};

/// Fits ln f(t) = ln f1 + t/L to the instantaneous frequency of the analytic signal z, taking
/// f(t) = arg(z[n+1]·conj(z[n]))·fs/2π at t = (n + 0.5 − first)/fs over the samples whose
/// envelope |z| reaches the fit fraction. Returns nullopt when fewer than three samples qualify
/// or a frequency is not positive.
std::optional<LineFit> fit_log_frequency(const std::vector<std::complex<double>>& analytic,
                                         NonSilentExtent extent, double sample_rate_hz) {
    const double min_envelope = fit_envelope_fraction * max_envelope(analytic, extent);

    // Two passes: sums for the line, then the residual about it (numerically safer than the
    // one-pass formula over 10^6 points).
    std::vector<double> times_s;
    std::vector<double> log_freqs;
    for (std::size_t n = extent.first; n < extent.last; ++n) {
        if (std::abs(analytic[n]) < min_envelope || std::abs(analytic[n + 1]) < min_envelope) {
            continue;
        }
        const double phase_step = std::arg(analytic[n + 1] * std::conj(analytic[n]));
        const double freq_hz = phase_step * sample_rate_hz / (2.0 * pi);
        if (!(freq_hz > 0.0)) {
            return std::nullopt;
        }
        times_s.push_back((static_cast<double>(n - extent.first) + 0.5) / sample_rate_hz);
        log_freqs.push_back(std::log(freq_hz));
    }
    const std::size_t count = times_s.size();
    if (count < 3) {
        return std::nullopt;
    }

    double mean_t = 0;
    double mean_y = 0;
    for (std::size_t i = 0; i < count; ++i) {
        mean_t += times_s[i];
        mean_y += log_freqs[i];
    }
    mean_t /= static_cast<double>(count);
    mean_y /= static_cast<double>(count);
    double covariance = 0;
    double variance_t = 0;
    for (std::size_t i = 0; i < count; ++i) {
        covariance += (times_s[i] - mean_t) * (log_freqs[i] - mean_y);
        variance_t += (times_s[i] - mean_t) * (times_s[i] - mean_t);
    }

    LineFit fit;
    fit.slope = covariance / variance_t;
    fit.intercept = mean_y - fit.slope * mean_t;
    double squared_residuals = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const double residual = log_freqs[i] - (fit.intercept + fit.slope * times_s[i]);
        squared_residuals += residual * residual;
    }
    fit.rms_residual = std::sqrt(squared_residuals / static_cast<double>(count));
    return fit;
}

/// Samples from the first non-silent one until the envelope first reaches the fade-in end
/// fraction of its maximum.
double measure_fade_in_samples(const std::vector<std::complex<double>>& analytic, NonSilentExtent extent) {
    const double end_envelope = fade_in_end_fraction * max_envelope(analytic, extent);
    std::size_t n = extent.first;
    while (n < extent.last && std::abs(analytic[n]) < end_envelope) {
        ++n;
    }
    return static_cast<double>(n - extent.first);
}

void validate_sample_rate(double sample_rate_hz) {
    if (!(sample_rate_hz >= 1000.0 && sample_rate_hz <= 1.0e6)) {
        throw Error("sample rate " + format_significant(sample_rate_hz) +
                        " Hz is outside 1000 to 1000000 Hz; check the file header or the "
                        "--sample-rate option",
                    ErrorKind::configuration);
    }
}

}  // namespace

// The sweep is x(t) = A·sin(2π·f1·L·(e^(t/L) − 1)), so its instantaneous frequency is
// f(t) = f1·e^(t/L) and ln f(t) = ln f1 + t/L is a straight line in t (Farina, "Simultaneous
// measurement of impulse response and distortion with a swept-sine technique", AES 108th
// Convention, 2000). The instantaneous frequency is the phase derivative of the analytic signal
// x + j·H{x}; fitting the line gives f1 at the first non-silent sample and L = 1/slope, and
// f2 = f1·e^(T/L) with T the non-silent duration, matching T = L·ln(f2/f1) of the generator.
SweepEstimate estimate_sweep(std::span<const float> played_sweep, double sample_rate_hz) {
    validate_sample_rate(sample_rate_hz);
    const auto minimum_samples = static_cast<std::size_t>(std::ceil(0.01 * sample_rate_hz));
    if (played_sweep.size() < minimum_samples) {
        throw Error("played sweep has " + std::to_string(played_sweep.size()) +
                    " samples, fewer than the 10 ms (" + std::to_string(minimum_samples) +
                    " samples) needed to measure a sweep; pass the whole sweep file");
    }
    if (const std::size_t bad = first_non_finite(played_sweep); bad < played_sweep.size()) {
        throw Error("played sweep sample " + std::to_string(bad) + " is " +
                    format_significant(played_sweep[bad]) +
                    "; the sweep must contain finite samples only, so regenerate the sweep file");
    }

    float peak = 0;
    for (const float value : played_sweep) {
        peak = std::max(peak, std::fabs(value));
    }
    if (peak == 0.0F) {
        throw Error("played sweep is silent (all " + std::to_string(played_sweep.size()) +
                    " samples are zero); pass the sweep file that was played, not a recording "
                    "channel");
    }

    const NonSilentExtent extent = find_non_silent_extent(played_sweep, peak);
    const auto analytic = analytic_signal(played_sweep);
    const double fade_in_samples = measure_fade_in_samples(analytic, extent);
    const auto fit = fit_log_frequency(analytic, extent, sample_rate_hz);
    const std::string not_a_sweep = "played sweep is not an exponential sweep: ";
    if (!fit || !(fit->slope > 0.0)) {
        throw Error(not_a_sweep + "its instantaneous frequency does not rise over samples " +
                    std::to_string(extent.first) + " to " + std::to_string(extent.last) +
                    "; pass a sweep generated with a rising exponential (log) frequency");
    }
    if (fit->rms_residual > max_log_frequency_rms_deviation) {
        throw Error(not_a_sweep + "ln(frequency) deviates from a straight line in time by " +
                    format_significant(fit->rms_residual) + " RMS, above the limit " +
                    format_significant(max_log_frequency_rms_deviation) +
                    "; linear sweeps, noise and music cannot be deconvolved as a log sweep");
    }

    SweepEstimate estimate;
    estimate.first_sample = extent.first;
    estimate.fade_in_s = fade_in_samples / sample_rate_hz;
    estimate.duration_s = static_cast<double>(extent.last - extent.first + 1) / sample_rate_hz;
    estimate.rate_s = 1.0 / fit->slope;
    estimate.start_freq_hz = std::exp(fit->intercept);
    // The fit extrapolates to the last sample and may overshoot a sweep that ends at Nyquist.
    estimate.end_freq_hz = std::min(estimate.start_freq_hz * std::exp(estimate.duration_s * fit->slope),
                                    sample_rate_hz / 2.0);
    if (estimate.end_freq_hz < 2.0 * estimate.start_freq_hz) {
        throw Error(not_a_sweep + "it spans " + format_hz(estimate.start_freq_hz) + " to " +
                    format_hz(estimate.end_freq_hz) +
                    ", less than the one octave a measurement sweep needs");
    }
    return estimate;
}

DeconvolutionBand full_gain_band(const DeconvolutionBand& band) {
    const double taper_ratio = std::exp2(band_taper_octaves);
    return {band.start_freq_hz * taper_ratio, band.end_freq_hz / taper_ratio};
}

// Raised cosine over log frequency: g = 0.5 − 0.5·cos(π·u) with u = log2(f/f_start)/w rising from
// 0 to 1 across the lower taper of w octaves, and mirrored at the top. Zero-phase, so it adds no
// delay to the impulse response.
double band_taper_gain(const DeconvolutionBand& band, double freq_hz) {
    if (!(freq_hz > band.start_freq_hz && freq_hz < band.end_freq_hz)) {
        return 0.0;
    }
    const double octaves_from_edge =
        std::min(std::log2(freq_hz / band.start_freq_hz), std::log2(band.end_freq_hz / freq_hz));
    if (octaves_from_edge >= band_taper_octaves) {
        return 1.0;
    }
    return 0.5 - 0.5 * std::cos(pi * octaves_from_edge / band_taper_octaves);
}

SweepDeconvolver::SweepDeconvolver(std::vector<float> played_sweep, double sample_rate_hz,
                                   std::optional<DeconvolutionBand> band)
    : played_sweep_(std::move(played_sweep)), sample_rate_hz_(sample_rate_hz) {
    sweep_ = estimate_sweep(played_sweep_, sample_rate_hz_);
    band_ = band.value_or(DeconvolutionBand{sweep_.start_freq_hz, sweep_.end_freq_hz});

    const std::string requested = "deconvolution band " + format_hz(band_.start_freq_hz) +
                                  " to " + format_hz(band_.end_freq_hz);
    const double min_width_ratio = std::exp2(2.0 * band_taper_octaves);
    if (!(band_.start_freq_hz > 0.0 && band_.end_freq_hz >= band_.start_freq_hz * min_width_ratio)) {
        throw Error(requested + " is invalid: the end must be at least " +
                        format_significant(2.0 * band_taper_octaves) +
                        " octave above a positive start, so that the edge tapers do not overlap",
                    ErrorKind::configuration);
    }
    if (band_.start_freq_hz < sweep_.start_freq_hz * (1.0 - band_edge_tolerance) ||
        band_.end_freq_hz > sweep_.end_freq_hz * (1.0 + band_edge_tolerance)) {
        throw Error(requested + " reaches outside the swept band " +
                        format_hz(sweep_.start_freq_hz) + " to " + format_hz(sweep_.end_freq_hz) +
                        " measured from the played sweep, where the inverse would amplify noise; "
                        "choose a band inside the swept one",
                    ErrorKind::configuration);
    }
}

const SweepEstimate& SweepDeconvolver::sweep() const { return sweep_; }

DeconvolutionBand SweepDeconvolver::band() const { return band_; }

double SweepDeconvolver::sample_rate_hz() const { return sample_rate_hz_; }

std::size_t SweepDeconvolver::inverse_spectra_computed() const { return inverse_spectra_computed_; }

// Band-limited inverse of the played sweep x, the spectral division of Müller & Massarani,
// "Transfer-function measurement with sweeps", JAES 49(6), 2001, with a taper and regularisation:
//     Hinv(f) = W(f)·conj(X(f)) / (|X(f)|² + ε)
// X is the DFT of x zero-padded to the FFT size N, W the band taper (band_taper_gain) and ε the
// regularisation above. Then IDFT(Y·Hinv) = h ⊛ IDFT(W·|X|²/(|X|²+ε)): the system's impulse
// response, band-limited, and circular modulo N. The spectrum is computed in double, stored in
// float and scaled by 1/N, so deconvolve() needs no separate normalisation pass.
SweepDeconvolver::SizeCache& SweepDeconvolver::cache_for_size(std::size_t fft_size) {
    if (const auto found = caches_.find(fft_size); found != caches_.end()) {
        return found->second;
    }

    RealFft<double> sweep_fft(fft_size);
    std::vector<std::complex<double>> sweep_spectrum(sweep_fft.bin_count());
    const std::vector<double> sweep_samples(played_sweep_.begin(), played_sweep_.end());
    sweep_fft.forward(sweep_samples, sweep_spectrum);

    const double bin_spacing_hz = sample_rate_hz_ / static_cast<double>(fft_size);
    std::vector<double> taper_gains(sweep_spectrum.size());
    double max_in_band_power = 0;
    for (std::size_t k = 0; k < sweep_spectrum.size(); ++k) {
        taper_gains[k] = band_taper_gain(band_, static_cast<double>(k) * bin_spacing_hz);
        if (taper_gains[k] > 0.0) {
            max_in_band_power = std::max(max_in_band_power, std::norm(sweep_spectrum[k]));
        }
    }
    const double epsilon = regularisation_ratio * regularisation_ratio * max_in_band_power;
    const double scale = 1.0 / static_cast<double>(fft_size);

    std::vector<std::complex<float>> inverse(sweep_spectrum.size());
    for (std::size_t k = 0; k < sweep_spectrum.size(); ++k) {
        if (taper_gains[k] == 0.0) {
            continue;  // already zero: outside the band nothing is kept, so no noise is amplified
        }
        const std::complex<double> value = taper_gains[k] * scale * std::conj(sweep_spectrum[k]) /
                                           (std::norm(sweep_spectrum[k]) + epsilon);
        inverse[k] = std::complex<float>(value);
    }

    ++inverse_spectra_computed_;
    const auto [inserted, unused] =
        caches_.emplace(fft_size, SizeCache{RealFft<float>(fft_size), std::move(inverse)});
    return inserted->second;
}

// One r2c, one complex multiply and one c2r on buffers cached per FFT size.
std::vector<float> SweepDeconvolver::deconvolve(std::span<const float> recording) {
    if (recording.size() < played_sweep_.size()) {
        throw Error("recording of " + std::to_string(recording.size()) +
                    " samples is shorter than the played sweep of " +
                    std::to_string(played_sweep_.size()) +
                    " samples; record the whole sweep plus the decay of the room");
    }

    const std::size_t fft_size = next_fast_fft_size(recording.size());
    SizeCache& cache = cache_for_size(fft_size);
    const auto time = cache.fft.time_buffer();
    std::copy(recording.begin(), recording.end(), time.begin());
    std::fill(time.begin() + static_cast<std::ptrdiff_t>(recording.size()), time.end(), 0.0F);
    cache.fft.execute_forward();

    // Written out because std::complex's operator* follows the NaN rules of C99 Annex G, which
    // GCC implements (without -ffast-math) as a branch to a library call per product.
    const auto bins = cache.fft.bin_buffer();
    const std::complex<float>* inverse = cache.inverse_spectrum.data();
    for (std::size_t k = 0; k < bins.size(); ++k) {
        const float re = bins[k].real() * inverse[k].real() - bins[k].imag() * inverse[k].imag();
        const float im = bins[k].real() * inverse[k].imag() + bins[k].imag() * inverse[k].real();
        bins[k] = {re, im};
    }
    cache.fft.execute_inverse();

    // A NaN or infinity anywhere in the input spreads to every output sample through the FFTs
    // (inf·0 is NaN at the zeroed out-of-band bins), so checking one sample is enough.
    if (!std::isfinite(time[0])) {
        const std::size_t bad = first_non_finite(recording);
        throw Error("recording sample " + std::to_string(bad) + " is " +
                    format_significant(bad < recording.size() ? recording[bad] : time[0]) +
                    "; the recording must contain finite samples only, so check the file");
    }
    return {time.begin(), time.end()};
}

}  // namespace linetune::analysis
