#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

namespace linetune::correction {

/// Measurements of one zone for system alignment: arrival, polarity and level per mic.
struct ZoneArrivals {
    std::string zone;
    std::string hang;    ///< flown array the zone belongs to; empty: the zone is a unit of its own
    std::string system;  ///< e.g. "mains", "subs", "fills", "delay_towers"
    std::map<std::string, double> arrival_ms;  ///< per mic: direct-sound arrival on the session's absolute time base
    std::map<std::string, int> polarity;       ///< per mic: +1 or −1
    std::map<std::string, double> level_db;    ///< per mic: in-band level (power mean over the zone band)
    double level_offset_db = 0;    ///< target level of this zone relative to the reference system
    double precedence_ms = 0;      ///< arrive this long after the reference system
    /// Latency of the zone's amplifier (device profile) that arrival_ms does not contain: once
    /// tuned, the sound arrives at arrival_ms + device_latency_ms + delay_ms. 0 when the
    /// measurement already went through the amplifier's processing.
    double device_latency_ms = 0;
    bool absolute_timing = true;   ///< false: no loopback or recorded start time, arrivals are relative
    bool polarity_reference = false;  ///< this zone's polarity is the one its hang is judged against
};

/// Delay, gain and findings for one zone.
struct ZoneAlignment {
    std::string zone;
    double delay_ms = 0;  ///< delay to set on the zone's amplifier channel, >= 0
    double gain_db = 0;   ///< gain to set, within the option limits
    std::vector<std::string> notes;
    bool polarity_fault = false;  ///< polarity disagrees with the rest of its hang; not compensated
};

/// Limits and the reference of system alignment.
struct AlignmentOptions {
    std::string reference_system = "mains";
    double max_delay_ms = 1000;  ///< the venue's max_distance_m divided by the speed of sound
    double max_gain_db = 12;
    double min_gain_db = -40;
};

/// Computes each zone's delay, gain and polarity check. Rules:
/// - A unit is a hang (its zones share one delay, because delaying them against each other
///   steers the beam) or a zone without a hang.
/// - The reference system's units get relative delay 0. Any other unit's relative delay is the
///   median over the mics that hear both it and the reference system of
///   (reference arrival + its device latency) − (unit arrival + its device latency), plus the
///   unit's precedence_ms. At each mic, the reference and the unit arrive by their loudest zone
///   there (the earliest when a level is missing). The notes give the median and the spread.
/// - All delays are then shifted so that the smallest is 0; a delay above max_delay_ms throws
///   Error naming the zones.
/// - With more than one system, every zone needs absolute_timing: arrivals of separate recordings
///   without a common time base cannot be compared, so Error names the zones lacking it. With one
///   system nothing is aligned between systems, every delay is 0 and relative timing is fine.
/// - A zone whose polarity differs from its hang's polarity_reference zone, or without one from the
///   majority of all mics of its hang, gets
///   polarity_fault and a "wiring fault?" note. It is not compensated. A hang split evenly gets
///   a note on each zone instead, because the inverted zone cannot be identified.
/// - gain_db = (reference level + level_offset_db) − zone level, the zone level being the mean of
///   its mics' level_db. The reference level is chosen so that the reference system's gains
///   average to 0 (it keeps its level and the others follow it). Gains are clamped to
///   [min_gain_db, max_gain_db] with a note.
/// Throws Error for invalid options or zones (duplicate names, a hang spanning systems, a
/// polarity other than ±1, a unit sharing no mic with the reference system).
std::vector<ZoneAlignment> align_zones(std::span<const ZoneArrivals> zones, const AlignmentOptions& options);

}  // namespace linetune::correction
