#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace linetune::analysis {

/// Levels and data-quality findings for one channel; levels in dB re full scale (|x| = 1.0),
/// RMS without the +3 dB sine correction of AES17.
struct SignalQuality {
    double peak_dbfs = 0;
    double rms_dbfs = 0;
    double crest_factor_db = 0;        ///< peak_dbfs − rms_dbfs
    bool clipped = false;              ///< true when clipped_samples > 0
    std::size_t clipped_samples = 0;   ///< samples in flat runs of >= 3 with |x| >= 0.999 (−0.009 dBFS)
    double noise_floor_dbfs = 0;       ///< 10th percentile of short-block RMS levels
    double peak_to_noise_db = 0;       ///< peak_dbfs − noise_floor_dbfs
    bool dead = false;                 ///< all zero, constant, or peak below −100 dBFS
    bool impulse_response = false;     ///< one decaying event, not a sweep, crest factor >= 12 dB
    std::string not_impulse_response_reason;  ///< why impulse_response is false; empty when true
    /// Set when the input counts as an impulse response only in the band where its power lies.
    std::string impulse_response_note;
    bool truncated = false;            ///< the decay is still falling when the input ends
};

/// Measures levels, clipping, noise floor and decides whether the input is a usable impulse
/// response. Throws Error for a non-finite sample or a sample rate that is not positive.
SignalQuality assess_signal_quality(std::span<const float> samples, double sample_rate_hz);

}  // namespace linetune::analysis
