#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

namespace linetune::correction {

/// One microphone's in-band level of one zone and how far it is from the zone.
struct ShadingMic {
    std::string mic;
    double level_db = 0.0;     ///< in-band level (power mean over the zone's band), gain removed
    double distance_m = 0.0;   ///< path length from the zone, > 0
    double weight = 1.0;       ///< how much the position counts, > 0
};

/// A zone for level shading: its system, target offset and levels at its microphones.
struct ShadingZone {
    std::string zone;
    std::string system;
    double level_offset_db = 0.0;  ///< target level relative to the reference system
    std::vector<ShadingMic> mics;
};

/// How the target level falls across the audience.
struct ShadingTarget {
    /// Target level drop per doubling of the distance from the zone, in dB: 0 keeps every seat at
    /// one level, 6 is free-field spreading (no shading).
    double drop_db_per_doubling = 0.0;
    std::string reference_system = "mains";
};

/// A microphone's level against its target once the zone's gain is set.
struct MicLevelDeviation {
    std::string zone;
    std::string mic;
    double distance_m = 0.0;
    double level_db = 0.0;      ///< measured level plus the zone's gain
    double target_db = 0.0;     ///< reference level + zone offset − drop · log2(distance / 1 m)
    double deviation_db = 0.0;  ///< level_db − target_db
};

/// Gains per zone and the level deviation per microphone.
struct LevelShading {
    std::map<std::string, double> gain_db;  ///< per zone
    std::vector<MicLevelDeviation> mics;
    double reference_level_db = 0.0;  ///< level of the target at 1 m
};

/// Sets each zone's gain so that its mics follow the target level, which falls by
/// drop_db_per_doubling per doubling of distance: the gain is the weighted mean of (target −
/// level) over the zone's mics, the least-squares fit. The reference level is chosen so that
/// the reference system's gains average to 0 dB (all zones when it has none). Throws Error for a
/// non-positive distance or weight, a drop outside 0 to 12 dB, or a zone without mics.
LevelShading shade_levels(std::span<const ShadingZone> zones, const ShadingTarget& target);

}  // namespace linetune::correction
