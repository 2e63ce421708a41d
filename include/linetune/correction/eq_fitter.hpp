#pragma once

#include "linetune/analysis/biquad.hpp"
#include "linetune/core/frequency_response.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace linetune::correction {

/// EQ limits of one amplifier channel, from its device profile.
struct EqLimits {
    std::size_t max_bands = 10;
    std::vector<analysis::FilterType> allowed_types{analysis::FilterType::peaking,
                                                    analysis::FilterType::low_shelf,
                                                    analysis::FilterType::high_shelf};
    double min_freq_hz = 20, max_freq_hz = 20000;
    double min_gain_db = -15, max_gain_db = 6;  ///< max_gain_db is the boost cap (subs use less)
    double min_q = 0.3, max_q = 10;
    double freq_step_hz = 0;  ///< 0 = continuous; results are rounded to steps
    double gain_step_db = 0;  ///< 0 = continuous
    double q_step = 0;        ///< 0 = continuous
    double sample_rate_hz = 48000;  ///< the device's DSP rate
};

/// One zone's EQ problem: a measured response, a target curve, the zone's band and the limits.
struct EqFitRequest {
    FrequencyResponse measured;  ///< smoothed magnitude in dB (phase ignored), ascending frequencies
    FrequencyResponse target;    ///< target curve in dB, any grid (interpolated), relative level
    /// Operating band. Outside it the EQ boosts by at most 0.1 dB and cuts by at most 2 dB or
    /// down to the in-band level, whichever is deeper.
    double band_start_hz = 20, band_end_hz = 20000;
    EqLimits limits;
    std::vector<double> weights;  ///< optional per measured point (data quality), empty = all 1
};

/// Bands found for one zone, with the predicted response and error figures.
struct EqFitResult {
    std::vector<analysis::ParametricBand> bands;  ///< rounded to the device steps, within limits
    double level_offset_db = 0;  ///< broadband level measured − target in band (for the zone gain)
    FrequencyResponse predicted;  ///< measured + EQ, on the measured grid
    /// RMS and maximum |measured + EQ − target − offset| over the correctable points.
    double rms_before_db = 0, rms_after_db = 0, max_before_db = 0, max_after_db = 0;
    std::vector<bool> correctable;  ///< per measured point: inside the band and not a deep narrow dip
    std::vector<std::string> notes;
};

/// Interface of an EQ fitter: zone response, target and limits in, bands out.
class EqFitter {
public:
    virtual ~EqFitter() = default;

    /// Fits bands to a request; throws Error for an invalid request or limits.
    virtual EqFitResult fit(const EqFitRequest& request) const = 0;
};

/// Greedy band placement refined by Levenberg–Marquardt under the device's limits.
class ClassicEqFitter final : public EqFitter {
public:
    EqFitResult fit(const EqFitRequest& request) const override;

    /// Fits from given initial bands (a learned model's prediction) instead of the greedy
    /// placement from no band: refines them together by Levenberg–Marquardt, drops weak ones,
    /// adds bands greedily and swaps weak ones as fit() does but with fewer steps, then rounds and
    /// checks them as fit() does. It never restarts from scratch. refine = false skips all but
    /// the rounding and the check. Bands of types the device does not allow and bands beyond
    /// max_bands are dropped.
    EqFitResult fit_from(const EqFitRequest& request, const std::vector<analysis::ParametricBand>& initial_bands,
                         bool refine = true) const;
};

}  // namespace linetune::correction
