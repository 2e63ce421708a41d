#pragma once

// The tuning steps that treat the rig as one system (tuning.cpp calls them): subs aligned to the
// mains by phase, level shading, and the joint fit whose bands are pushed.

#include "linetune/core/frequency_response.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/correction/alignment.hpp"
#include "linetune/correction/eq_fitter.hpp"
#include "linetune/correction/tuning.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace linetune::correction::detail {

/// One zone's measurement at one mic, as the system steps use it.
struct SystemMicData {
    std::string mic;
    double weight = 0.0;               ///< the mic's weight in the zone
    std::optional<double> arrival_ms;  ///< on the absolute time base, applied delay removed; empty without one
    FrequencyResponse response;        ///< smoothed, phase referred to the arrival
    std::optional<FrequencyResponse> windowed;  ///< windowed for the crossover alignment (subs and mains only)
    double arrival_confidence = 0.0;   ///< analysis::Arrival::confidence of arrival_ms
    std::optional<double> level_db;    ///< in-band level, where the mic counts for the zone's level
};

/// One zone and its measurements, in the venue's order.
struct SystemZoneData {
    const Zone* zone = nullptr;
    std::vector<SystemMicData> mics;
};

/// Replaces the onset delay of the subs by their phase alignment to the mains at the crossover,
/// where the venue has both and their measurements carry phase on an absolute time base. Notes
/// in `system` why not otherwise.
void align_subs_by_phase(const Venue& venue, const std::vector<SystemZoneData>& zones,
                         std::vector<ZoneAlignment>& alignments, SystemOutcome& system);

/// With the venue's level_drop_db_per_doubling set, replaces each zone's gain by the level
/// shading gain (distances from the arrival times at `temperature_c`) and reports each mic's
/// level against the target in `system`.
void shade_zone_levels(const Venue& venue, double temperature_c, const std::vector<SystemZoneData>& zones,
                       std::vector<ZoneAlignment>& alignments, SystemOutcome& system);

/// One zone as the joint fit for the push takes it: its setting so far and how its EQ is fitted.
struct JointPushZone {
    std::string zone;
    double delay_ms = 0.0;
    double gain_db = 0.0;
    /// The bands the zone has before the joint fit, which the joint curve is added to.
    std::vector<analysis::ParametricBand> bands;
    /// The fit that gives the pushed bands: the joint curve is added to its target, so that the
    /// fitter keeps the zone's own measurement, band, level rule and device limits.
    EqFitRequest request;
    /// Bands kept as they are and put before the fitted ones: a hang's shared bands below its
    /// coupling frequency (the request then covers the band above it only).
    std::vector<analysis::ParametricBand> fixed_bands;
};

/// Bands that the joint fit sets, and why the other zones keep the bands of their own fit.
struct JointPush {
    std::map<std::string, std::vector<analysis::ParametricBand>> bands;
    std::map<std::string, std::string> kept_own_bands;  ///< zone and reason
};

/// Fits every zone in `push_zones` jointly on the summed response, on top of its bands, and fits
/// each zone's pushed bands again with its joint curve added to the target, within its device limits. Reports
/// per mic the residual of the sum with each zone's own full-band fit against the joint bands
/// in `system`. Needs two zones or more with phase on an absolute time base; zones without one,
/// or all zones when the joint fit cannot run, keep their own bands, with the reason.
/// `review` may move zones from the joint bands back to their own before the report is made.
JointPush fit_jointly_for_push(const Venue& venue, const std::vector<SystemZoneData>& zones,
                               const std::vector<JointPushZone>& push_zones,
                               const std::map<std::string, std::vector<analysis::ParametricBand>>& own_full_band,
                               const std::function<void(JointPush&)>& review, SystemOutcome& system);

/// Whether the joint fit can use a zone's measurement at a mic: phase on an absolute time base.
bool joint_fit_usable(const SystemMicData& mic);

}  // namespace linetune::correction::detail
