#pragma once

#include "linetune/core/frequency_response.hpp"
#include "linetune/correction/zone_average.hpp"

#include <span>
#include <vector>

namespace linetune::correction {

/// A zone average whose deviation from the target is held back where the positions disagree.
struct ShrunkAverage {
    FrequencyResponse response;  ///< target + level + factor · (average − target − level), on the average's grid
    std::vector<double> factor;  ///< per point, 0..1: the part of the average's deviation kept (1 = all)
};

/// Shrinks the average's deviation from the target point by point towards 0 by the factor
/// A²/(A² + (σ² + C²)/n_eff), averaged over 1/3 octave. A is the average's deviation and σ² the
/// positions' variance pooled with the spread their rooms predict. C is the part of A that the
/// reverberation adds, from each mic's reverberant_field. Method and reasons: spatial_shrink.cpp. target must be
/// on the average's grid; mics are the positions that formed the average (weight > 0). With fewer
/// than two such positions the average is returned unchanged with every factor 1. Throws Error
/// when target's grid differs from the average's or no point lies in the band.
ShrunkAverage shrink_to_spatial_agreement(const FrequencyResponse& average, std::span<const MicResponse> mics,
                                          const FrequencyResponse& target, double band_start_hz, double band_end_hz);

}  // namespace linetune::correction
