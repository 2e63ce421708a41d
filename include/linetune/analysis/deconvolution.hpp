#pragma once

#include <complex>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "linetune/analysis/fft.hpp"

namespace linetune::analysis {

/// Parameters of an exponential sweep measured from its samples.
struct SweepEstimate {
    double start_freq_hz = 0;
    double end_freq_hz = 0;
    double rate_s = 0;  ///< L: the instantaneous frequency is start_freq_hz·e^(t/L)
    double duration_s = 0;
    std::size_t first_sample = 0;  ///< first non-silent sample of the played sweep
    double fade_in_s = 0;  ///< time from first_sample until the envelope reaches 99 % of its maximum
};

/// Measures f1, f2, L and the non-silent extent of a played exponential sweep from its
/// instantaneous frequency. Throws Error when the signal is silent or not an exponential sweep.
SweepEstimate estimate_sweep(std::span<const float> played_sweep, double sample_rate_hz);

/// Frequency range kept by the deconvolution; the gain tapers to zero at both ends.
struct DeconvolutionBand {
    double start_freq_hz = 0;
    double end_freq_hz = 0;
};

/// Width of the raised-cosine taper inside each edge of a deconvolution band, in octaves.
inline constexpr double band_taper_octaves = 1.0 / 6.0;

/// Part of a deconvolution band where the inverse filter has full gain (the band without its
/// tapers).
DeconvolutionBand full_gain_band(const DeconvolutionBand& band);

/// Gain of the band-limiting taper at freq_hz: 0 outside the band, 1 in its full-gain part.
double band_taper_gain(const DeconvolutionBand& band, double freq_hz);

/// Deconvolves recordings of one played exponential sweep into impulse responses, caching the
/// band-limited inverse spectrum per FFT size. Not thread-safe: use one object per thread.
class SweepDeconvolver {
public:
    SweepDeconvolver(std::vector<float> played_sweep, double sample_rate_hz,
                     std::optional<DeconvolutionBand> band = {});

    /// Parameters of the played sweep, measured from its samples.
    [[nodiscard]] const SweepEstimate& sweep() const;

    /// Band kept by the deconvolution (the requested band, or the swept band by default).
    [[nodiscard]] DeconvolutionBand band() const;

    [[nodiscard]] double sample_rate_hz() const;

    /// Returns the circular deconvolution of the recording, of length
    /// next_fast_fft_size(max(recording, sweep length)). The linear impulse response starts at
    /// index 0 plus the system's delay; harmonic impulse responses wrap to the end.
    std::vector<float> deconvolve(std::span<const float> recording);

    /// Number of inverse spectra computed so far (one per FFT size; a test hook for the cache).
    [[nodiscard]] std::size_t inverse_spectra_computed() const;

private:
    struct SizeCache {
        RealFft<float> fft;
        std::vector<std::complex<float>> inverse_spectrum;  ///< prescaled by 1/N
    };

    SizeCache& cache_for_size(std::size_t fft_size);

    std::vector<float> played_sweep_;
    double sample_rate_hz_ = 0;
    SweepEstimate sweep_;
    DeconvolutionBand band_;
    std::map<std::size_t, SizeCache> caches_;
    std::size_t inverse_spectra_computed_ = 0;
};

}  // namespace linetune::analysis
