#pragma once

#include "linetune/capture/recording_file.hpp"
#include "linetune/core/signal.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace linetune::capture {

/// Repeats of one pass aligned on the first and averaged, with the noise figures from their spread.
struct AveragedRepeats {
    MultichannelSignal average;  ///< same channels and length as each repeat
    RepeatSummary summary;
};

/// Aligns repeats 2..N of a pass on repeat 1 and averages them.
///
/// Alignment: the delay d_k of repeat k against repeat 1 is measured by GCC-PHAT with
/// band-limited peak interpolation (analysis::gcc_phat_delay) on the loopback channel, or on the
/// loudest mic without one, and every channel of repeat k is advanced by d_k with the ideal
/// fractional shift Y[f] = X[f]·e^(+j2πf·d_k/M) over a zero-padded FFT of size M.
///
/// Drift: each mic's own GCC-PHAT delay between repeat k and repeat 1, less d_k.
///
/// SNR per third-octave band, from the aligned spectra X_k of the N repeats (X̄ their mean):
/// noise power of one repeat σ² = Σ_bins Σ_k |X_k − X̄|² / (N − 1), and of the average σ²/N;
/// signal power S = Σ_bins |X̄|² − σ²/N (the mean still contains σ²/N of noise). SNR = S / (σ²/N),
/// kept between −60 and 200 dB. Repeat-to-repeat coherence γ² = Σ_bins |Σ_k X_k|² /
/// (N·Σ_bins Σ_k |X_k|²): 1 when the repeats are identical, 1/N for noise alone (the
/// magnitude-squared coherence of synchronous averaging).
///
/// `mic_names` names channels 0..mic_names.size()−1; loopback_channel (0-based) follows them.
/// band_low_hz..band_high_hz (the sweep's band) bounds the bands. Throws Error for fewer than
/// two repeats or repeats of different shapes.
AveragedRepeats average_repeats(const std::vector<MultichannelSignal>& repeats,
                                const std::vector<std::string>& mic_names,
                                std::optional<std::size_t> loopback_channel, double band_low_hz,
                                double band_high_hz);

}  // namespace linetune::capture
