#pragma once

#include "linetune/analysis/biquad.hpp"

#include <torch/torch.h>

namespace linetune::learned {

// Differentiable RBJ cookbook biquads (R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad
// filter coefficients"), the same designs as analysis::design_biquad, written in torch so that a
// loss on the corrected response back-propagates to each band's frequency, gain and Q.

/// Biquad coefficients (b0, b1, b2, a1, a2), a0 normalised to 1, stacked in the last dimension.
/// freq_hz, gain_db and q broadcast against each other; gain_db is ignored by the pass filters.
torch::Tensor biquad_coefficients(analysis::FilterType type, const torch::Tensor& freq_hz,
                                  const torch::Tensor& gain_db, const torch::Tensor& q, double sample_rate_hz);

/// Magnitude in dB of bands at eval_freq_hz: band parameters of shape [..., 1] against
/// frequencies of shape [F] give [..., F].
torch::Tensor band_magnitude_db(analysis::FilterType type, const torch::Tensor& freq_hz, const torch::Tensor& gain_db,
                                const torch::Tensor& q, const torch::Tensor& eval_freq_hz, double sample_rate_hz);

/// Phase in radians, in (−π, π], of the same bands at eval_freq_hz.
torch::Tensor band_phase_rad(analysis::FilterType type, const torch::Tensor& freq_hz, const torch::Tensor& gain_db,
                             const torch::Tensor& q, const torch::Tensor& eval_freq_hz, double sample_rate_hz);

}  // namespace linetune::learned
