#pragma once

// Internal to the analysis layer: a response band-passed to where its power lies, used by the
// arrival estimate and the impulse-response check to judge a band-limited response (a subwoofer)
// without the noise outside its band.

#include <optional>
#include <span>
#include <vector>

namespace linetune::analysis::detail {

/// The input band-passed (zero phase) to the band where its power lies, with the band's edges.
struct BandLimitedResponse {
    std::vector<float> samples;
    double low_hz = 0.0;
    double high_hz = 0.0;
};

/// Band-passes the input to the contiguous 1/3-octave bands around its strongest one whose mean
/// power density lies within 20 dB of it. Returns nothing when those span the whole grid, because
/// band-limiting would then remove no noise.
std::optional<BandLimitedResponse> band_limited_response(std::span<const float> ir, double sample_rate_hz);

}  // namespace linetune::analysis::detail
