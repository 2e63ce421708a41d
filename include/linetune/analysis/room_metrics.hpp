#pragma once

// ISO 3382-1:2009 room-acoustic metrics from a measured impulse response.
//
// Choices that a second implementation must copy to agree with this one:
// - Start: the caller passes the start sample, the first sample whose |h| is within 20 dB of
//   the peak, as ISO 3382-1 defines it. The octave-band impulse responses use the broadband start,
//   with no correction for the group delay of the band filter.
// - Octave bands: nominal 63 Hz … 8 kHz, OctaveBandFilter (Butterworth order 3, i.e. 6 poles,
//   bilinear transform with pre-warped IEC 61260-1 base-10 edges), run forward over the whole
//   response from sample 0 with zero initial state. A band whose upper edge exceeds 0.45 · fs
//   is skipped with a warning.
// - Noise: Lundeby et al. (1995), iterated on the squared response from the start sample (see
//   estimate_noise_lundeby for every constant). The decay curve is the Schroeder integral
//   truncated at the crosspoint plus the energy of the fitted exponential decay after it;
//   no noise is subtracted.
// - Decay times: least-squares line through every sample of the decay curve (in dB) between the
//   evaluation limits (EDT 0 … −10 dB, T20 −5 … −25 dB, T30 −5 … −35 dB), T = −60 dB / slope.
//   A decay time is reported only when the decay range (the depth of the decay curve at the
//   crosspoint) reaches the evaluation range's lower limit plus 10 dB.
// - Clarity and definition: energy sums from the start sample. The late energy is the same
//   noise-compensated sum that the decay curve uses, so noise after the crosspoint is left out.
//   When the crosspoint comes before the 50 or 80 ms limit, that metric is not reported.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::analysis {

/// ISO 3382-1 metrics of one octave band, or of the unfiltered (broadband) response.
struct BandMetrics {
    double center_hz = 0;  ///< nominal octave centre; 0 for broadband
    std::optional<double> edt_s, t20_s, t30_s;
    std::optional<double> edt_correlation, t20_correlation, t30_correlation;  ///< |r| of the regression
    std::optional<double> c50_db, c80_db, d50;
    double noise_floor_db = 0;         ///< noise power relative to the band's largest squared sample
    double decay_range_db = 0;         ///< depth of the noise-compensated decay curve at the crosspoint
    std::vector<std::string> warnings;  ///< each skipped metric with its reason, and doubtful fits
};

/// Broadband metrics and one entry per nominal octave band (63 Hz … 8 kHz, skipped bands included).
struct RoomMetrics {
    BandMetrics broadband;
    std::vector<BandMetrics> octave_bands;
};

/// Background noise and decay found by Lundeby's iteration on a squared impulse response.
struct NoiseEstimate {
    double noise_power = 0;              ///< mean squared sample of the noise (0: the response ends in silence)
    std::size_t crosspoint_sample = 0;   ///< where the fitted decay meets the noise (index into the response)
    double decay_rate_db_per_s = 0;      ///< late decay rate (positive); 0 when no decay was found
    double crosspoint_power = 0;         ///< fitted decay's power per sample at the crosspoint
    bool converged = false;              ///< the crosspoint settled within the iteration limit
};

/// Computes the broadband and octave-band metrics of an impulse response from the start sample.
RoomMetrics compute_room_metrics(std::span<const float> ir, double sample_rate_hz, std::size_t start_sample);

/// Computes the metrics of one (band-filtered) impulse response from the start sample.
BandMetrics compute_band_metrics(std::span<const double> band_ir, double sample_rate_hz, std::size_t start_sample,
                                 double center_hz);

/// Estimates the background noise and the crosspoint with Lundeby's iterative method.
NoiseEstimate estimate_noise_lundeby(std::span<const double> squared_ir, double sample_rate_hz,
                                     std::size_t start_sample);

/// Schroeder decay curve in dB, 0 dB at the start sample, noise-compensated, one value per sample
/// from the start to the crosspoint (exclusive).
std::vector<double> schroeder_decay_db(std::span<const double> band_ir, double sample_rate_hz,
                                       std::size_t start_sample);

}  // namespace linetune::analysis

namespace linetune::analysis {

/// Direct and reverberant sound of one octave band at one position, for the statistics of the
/// level at unmeasured seats (correction/spatial_shrink.cpp).
struct ReverberantBand {
    double center_hz = 0;                  ///< nominal octave centre
    std::optional<double> decay_time_s;    ///< T30, else T20, else EDT; unset without a decay
    double direct_to_reverberant_db = 0;   ///< energy of the direct sound over the energy after it
};

/// Octave bands 63 Hz … 8 kHz (those below 0.45 · fs) of an impulse response: decay time and the
/// direct-to-reverberant ratio. The direct sound is the band's energy from 1 ms before the
/// ISO 3382-1 start sample to max(2.5 ms, 3 periods of the band centre) after it. The
/// reverberant sound is the energy after that, noise removed (Lundeby). Empty for a silent response.
std::vector<ReverberantBand> octave_band_reverberant_field(std::span<const float> ir, double sample_rate_hz);

}  // namespace linetune::analysis
