#pragma once

#include "linetune/core/signal.hpp"

#include <cstddef>
#include <span>
#include <vector>

namespace linetune::analysis {

/// Delay of one signal relative to another, from GCC-PHAT.
struct TimeDelay {
    double delay_samples = 0;  ///< positive when `other` lags `reference`; sub-sample
    /// Height of the PHAT-weighted cross-correlation at the delay: the mean over frequency bins
    /// (DC and Nyquist excluded) of cos(phase error). 1 when every bin agrees on one delay,
    /// near 0 for unrelated signals.
    double confidence = 0;
    int polarity = 1;  ///< −1 when `other` is an inverted copy of `reference` (the correlation peak is negative)
};

/// Delay of `other` relative to `reference` within ±max_lag_samples, by GCC-PHAT with
/// band-limited interpolation of the correlation peak. Throws Error for an empty input.
TimeDelay gcc_phat_delay(std::span<const float> reference, std::span<const float> other,
                         std::size_t max_lag_samples);

/// All pairwise delays of a multichannel recording (spectra computed once per channel);
/// [i][j] is the delay of channel j relative to channel i, and [j][i] = −[i][j].
std::vector<std::vector<TimeDelay>> gcc_phat_delay_matrix(const MultichannelSignal& signal,
                                                          std::size_t max_lag_samples);

/// Precision of gcc_phat_delay in samples for one dominant path at 40 dB SNR or better, as the
/// unit tests enforce it.
double gcc_phat_precision_samples();

}  // namespace linetune::analysis
