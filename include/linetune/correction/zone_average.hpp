#pragma once

#include "linetune/analysis/room_metrics.hpp"
#include "linetune/core/frequency_response.hpp"

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace linetune::correction {

/// One mic's analysed measurement of one zone.
struct MicResponse {
    std::string mic;
    double weight = 1.0;  ///< relative weight of this position, >= 0; 0 leaves the mic out
    FrequencyResponse response;  ///< smoothed magnitude in dB (phase optional), ascending frequencies
    double peak_to_noise_db = 0;  ///< data quality of the impulse response (SignalQuality)
    std::vector<double> coherence;  ///< optional magnitude-squared coherence per response point, 0..1
    std::vector<std::string> flags;  ///< analysis flags: dead, clipped, not_impulse_response, truncated, ...
    /// Octave bands of the position's impulse response (decay time, direct-to-reverberant ratio);
    /// empty for a frequency-response export. Sets the seat-to-seat spread the room is expected
    /// to add (spatial_shrink.cpp).
    std::vector<analysis::ReverberantBand> reverberant_field;
};

/// Rule that combines the mics' responses into one.
enum class AveragingMethod {
    power,             ///< weighted mean of |H|², in dB
    decibel,           ///< weighted mean of the dB values
    quality_weighted,  ///< mean of |H|² with per-point weights from weight, peak-to-noise and coherence
};

/// Averaging method used unless the venue file names another.
inline constexpr AveragingMethod default_averaging_method = AveragingMethod::quality_weighted;

/// The spatial average of one zone, with the mics used and those rejected.
struct ZoneAverage {
    FrequencyResponse average;  ///< magnitude only (phase is not averaged across positions)
    std::vector<double> weight_sum;  ///< per average point: sum of the weights that formed it
    std::vector<std::string> used_mics;  ///< in input order
    std::vector<std::pair<std::string, std::string>> rejected;  ///< mic and the reason it was left out
    std::vector<std::string> notes;
};

/// Averages the mics' responses of one zone on one log-frequency grid after rejecting flagged and
/// outlying mics, judging level and shape over [band_start_hz, band_end_hz]. Throws Error for
/// malformed input and when no mic remains.
ZoneAverage average_zone(std::span<const MicResponse> mics, AveragingMethod method,
                         double band_start_hz, double band_end_hz);

}  // namespace linetune::correction
