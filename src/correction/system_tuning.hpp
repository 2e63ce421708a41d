#pragma once

// The tuning steps that treat the rig as one system (tuning.cpp calls them): subs aligned to the
// mains by phase, level shading, and the joint fit reported against independent fitting.

#include "linetune/core/frequency_response.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/correction/alignment.hpp"
#include "linetune/correction/tuning.hpp"

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

/// Fits every zone jointly on the summed response with the settings found and reports per mic
/// the residual against independent fitting in `system`. Needs two zones or more with phase on
/// an absolute time base; notes why not otherwise.
void report_joint_fit(const Venue& venue, const std::vector<SystemZoneData>& zones,
                      const std::vector<ZoneOutcome>& outcomes, SystemOutcome& system);

}  // namespace linetune::correction::detail
