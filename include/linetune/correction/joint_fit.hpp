#pragma once

#include "linetune/core/frequency_response.hpp"
#include "linetune/correction/timed_response.hpp"

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace linetune::correction {

/// One zone as the joint fit treats it: its setting so far and where its EQ may act.
struct JointFitZone {
    std::string zone;
    std::string hang;        ///< zones of one hang get one EQ curve below the coupling frequency; empty: none
    double delay_ms = 0.0;   ///< delay set on the zone's channel (system alignment)
    double gain_db = 0.0;    ///< gain set on the zone's channel
    double band_low_hz = 20.0, band_high_hz = 20000.0;  ///< the EQ curve is 0 dB outside this band
    double max_boost_db = 6.0;
    double max_cut_db = 15.0;  ///< positive: the deepest cut allowed
};

/// Settings of the joint fit.
struct JointFitOptions {
    /// Below this frequency the zones of one hang act as one source and get one EQ curve; 0: off.
    double coupling_below_hz = 200.0;
    /// Standard deviation of a random timing difference between two zones' measurements that
    /// does not grow with distance (clock or sweep-start jitter), in ms. Adds to the drift that
    /// temperature_spread_c gives; method in joint_fit.cpp.
    double timing_spread_ms = 0.1;
    /// Standard deviation of the air temperature of each zone's measurement around the others',
    /// in °C; 0: no temperature drift. Each °C moves a zone's arrivals by 0.17 % of their travel
    /// time (about 0.25 ms at 50 m), so far mics lose coherence first.
    double temperature_spread_c = 0.0;
    double temperature_c = 20.0;  ///< air temperature of the measurements, for the drift per °C
    /// Phase spread (standard deviation of 2πf·δ, δ the timing difference) above which a cross
    /// term counts for nothing and the sum is a power sum there, in radians.
    double max_phase_spread_rad = 1.5707963267948966;
    /// Above this frequency only the power sum is used, whatever the timing spread; 0: no limit.
    double complex_sum_max_hz = 0.0;
    double smoothing_fraction = 6.0;  ///< 1/N octave smoothing of the responses (N), for the cross terms
    double points_per_octave = 24.0;  ///< grid the sum is judged on
    double control_points_per_octave = 3.0;  ///< resolution of each zone's EQ curve
    /// Weight, relative to the summed response, of each zone heard alone at the mics that judge
    /// it: above 0 the fit also keeps each zone on the target by itself, as a listener near that
    /// zone alone hears it; 0: the summed response only.
    double zone_alone_weight = 0.0;
    std::size_t max_iterations = 30;
};

/// A zone's EQ curve on the fit's grid, in dB (0 outside its band).
struct ZoneCurve {
    std::string zone;
    std::vector<double> correction_db;
};

/// Residual deviation from the target at one microphone with every zone playing.
struct JointMicOutcome {
    std::string mic;
    double weight = 0.0;
    double rms_uncorrected_db = 0.0;
    double rms_independent_db = 0.0;  ///< each zone fitted on its own measurements
    double rms_joint_db = 0.0;        ///< all zones fitted together on the summed response
    double gain_db = 0.0;             ///< rms_independent_db − rms_joint_db: what the joint fit gains
};

/// Curves from the joint and the independent fit, and their residuals per microphone.
struct JointFitResult {
    std::vector<double> freq_hz;
    std::vector<ZoneCurve> joint;        ///< in the order of the zones given
    std::vector<ZoneCurve> independent;  ///< same order
    std::vector<JointMicOutcome> mics;
    double mean_rms_uncorrected_db = 0.0;  ///< weighted mean over the mics
    double mean_rms_independent_db = 0.0;
    double mean_rms_joint_db = 0.0;
    std::size_t iterations = 0;
};

/// Fits every zone's EQ curve at once against the target at every microphone, where the signal is
/// the sum of every zone's measured contribution (method in joint_fit.cpp), and, for comparison,
/// each zone alone on its own measurements. `responses` holds each zone at each mic that measured
/// it, with the mic's weight in that zone (a mic is judged when any weight is above 0); `target`
/// is the target curve's shape (its level does not matter). Throws Error for an unknown zone, a
/// zone given twice, or no mic to judge.
JointFitResult fit_jointly(std::span<const JointFitZone> zones, std::span<const TimedResponse> responses,
                           const FrequencyResponse& target, const JointFitOptions& options);

/// Residual deviation of the summed response from the target at one microphone.
struct SummedResidual {
    std::string mic;
    double weight = 0.0;
    double rms_db = 0.0;  ///< level removed, over the band the mic judges
};

/// Residual per microphone of the summed response with the given curves on the grid `freq_hz`,
/// for responses that may differ from those fitted (the true ones, in a test). The timing spread
/// of `options` weights the cross terms as in the fit. A zone without a curve gets none.
std::vector<SummedResidual> predict_summed_residuals(std::span<const JointFitZone> zones,
                                                      std::span<const TimedResponse> responses,
                                                      const FrequencyResponse& target, const JointFitOptions& options,
                                                      const std::vector<double>& freq_hz,
                                                      std::span<const ZoneCurve> curves);

}  // namespace linetune::correction
