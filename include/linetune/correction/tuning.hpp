#pragma once

#include "linetune/analysis/air_absorption.hpp"
#include "linetune/analysis/biquad.hpp"
#include "linetune/analysis/smoothing.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/correction/joint_fit.hpp"
#include "linetune/correction/level_shading.hpp"
#include "linetune/correction/system_alignment.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace linetune::correction {

/// The absolute setting of one zone's amplifier channel: delay, gain and EQ bands.
struct ZoneSetting {
    double delay_ms = 0.0;
    double gain_db = 0.0;
    std::vector<analysis::ParametricBand> bands;
};

class EqFitter;

/// Settings of a tuning run.
struct TuneOptions {
    std::filesystem::path measurements_dir;  ///< root of DIR/<zone>/<mic>.wav; the venue's map wins
    /// Settings the amplifiers held while the measurements were taken. Their effect is removed
    /// before fitting, so the result is the new absolute setting and never a correction on top.
    std::map<std::string, ZoneSetting> applied;
    analysis::Smoothing smoothing{analysis::SmoothingKind::fractional_octave, 6.0};  ///< fit resolution
    double points_per_octave = 24.0;  ///< grid of the fitted and reported responses
    const EqFitter* fitter = nullptr;  ///< EQ fitter per zone; null: the classic fitter
    /// Air to tune for instead of the air measured in (the venue's temperature_c and
    /// humidity_percent): air absorption and arrival times are recomputed, nothing is measured again.
    std::optional<analysis::AtmosphericConditions> weather;
};

/// Residual deviation from the target (level removed) in a zone's band, before and after.
struct Residual {
    double rms_before_db = 0.0;
    double rms_after_db = 0.0;
    double max_before_db = 0.0;
    double max_after_db = 0.0;
};

/// One microphone's view of a zone: its response and residuals before and after the correction.
struct MicOutcome {
    std::string mic;
    double weight = 0.0;
    Residual residual;
};

/// The tuning result of one zone.
struct ZoneOutcome {
    std::string zone;
    std::string amplifier;
    std::size_t channel = 0;
    ZoneSetting setting;
    bool polarity_fault = false;
    FrequencyResponse before;     ///< spatial average, applied correction removed
    FrequencyResponse after;      ///< predicted: before + new EQ + gain change
    FrequencyResponse target;     ///< zone target on the same grid, level-aligned with `before`
    Residual residual;            ///< over the correctable points of the average
    std::vector<MicOutcome> mics;
    std::vector<std::pair<std::string, std::string>> rejected_mics;  ///< mic, reason
    std::vector<std::string> notes;
};

/// Findings on the rig as one system: subs aligned to the mains, the joint fit against
/// independent fitting, and levels against the shading target.
struct SystemOutcome {
    std::optional<CrossoverAlignment> crossover;  ///< empty when the venue has no subs and mains to align
    std::vector<JointMicOutcome> joint_fit;       ///< per mic: residual of the summed response, joint vs independent
    double mean_rms_independent_db = 0.0;
    double mean_rms_joint_db = 0.0;
    std::vector<MicLevelDeviation> levels;        ///< with level_drop_db_per_doubling set
    std::vector<std::string> notes;
};

/// The whole tuning run: one outcome per zone, in the venue's order.
struct TuningResult {
    std::string venue_name;
    std::vector<ZoneOutcome> zones;
    SystemOutcome system;
    std::vector<std::string> notes;
};

/// Reads and analyses every zone's measurements, averages them per zone, fits EQ with the
/// classic fitter within each amplifier's limits, aligns delays and levels between systems, and
/// predicts the result per mic. Throws Error (nothing is returned, so no corrections file is
/// written) when a measurement is missing or unusable, sample rates differ, or a zone cannot be tuned.
TuningResult tune_venue(const Venue& venue, const TuneOptions& options);

}  // namespace linetune::correction
