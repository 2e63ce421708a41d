#include "linetune/correction/alignment.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// System alignment
// ----------------
// Delay. Zones are grouped into units: all zones of one hang form one unit, and a zone without a
// hang is a unit alone. For a unit U outside the reference system R and each mic m that measured
// both, with t = arrival_ms + device_latency_ms of the zone that arrives at m:
//
//     d_m = t_R(m) − t_U(m),      relative_U = median_m d_m + precedence_U
//
// t_R(m) and t_U(m) come from the zone of R (or of U) that is loudest at m, because a listener
// there hears and localises that wavefront. The earliest is used when a zone lacks a level at m. Units of R have relative delay 0. The median ignores one mic with a wrong arrival (a
// reflection taken as the direct sound) where a mean would not. The spread max d_m − min d_m is
// reported: a single delay aligns two sources on one surface only, so mics away from it disagree
// by the path-length difference and a large spread means the zones overlap over a wide area.
// Finally every delay is relative_U − min_U relative_U, so that no delay is negative.
// Arrivals are onsets of the impulse responses. A subwoofer's onset at low frequencies is vague
// (on the simulated rig it spreads by 4 to 10 ms across mics), so this places subs against the
// mains only to a few milliseconds. The tuning then replaces the subs' delay by their phase
// alignment at the crossover (system_alignment.cpp) wherever the measurements carry phase on an
// absolute time base with confident arrivals.
//
// Gain. With level_z the mean of zone z's level_db over its mics (each already a power mean over
// the zone band) and L0 = mean over the reference system's zones of (level_z − level_offset_z):
//
//     gain_z = L0 + level_offset_z − level_z
//
// The reference system's gains then average to 0, and every zone lands at L0 plus its offset.
// Without a level for any reference zone, L0 is taken over all zones that have levels.

namespace linetune::correction {
namespace {

std::string format_value(double value, const char* format = "%.3f") {
    std::array<char, 64> buffer{};
    std::snprintf(buffer.data(), buffer.size(), format, value);
    return buffer.data();
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

std::string quoted_list(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& name : names) {
        list += (list.empty() ? "" : ", ") + quoted(name);
    }
    return list;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    if (values.size() % 2 == 1) {
        return values[middle];
    }
    return 0.5 * (values[middle - 1] + values[middle]);
}

// Zones that share one delay.
struct Unit {
    std::string hang;  // empty for a zone without a hang
    std::string system;
    std::vector<std::size_t> zones;
    bool reference = false;
    double relative_delay_ms = 0;
};

void validate_options(const AlignmentOptions& options) {
    require(!options.reference_system.empty(), "the reference system name is empty; name the system the others align to",
            ErrorKind::configuration);
    require(std::isfinite(options.max_delay_ms) && options.max_delay_ms > 0,
            "maximum delay " + format_value(options.max_delay_ms, "%g") +
                " ms is invalid; it must be positive (the venue's max_distance_m divided by the speed of sound)",
            ErrorKind::configuration);
    require(std::isfinite(options.min_gain_db) && std::isfinite(options.max_gain_db) &&
                options.min_gain_db <= options.max_gain_db,
            "gain limits " + format_value(options.min_gain_db, "%g") + " dB to " +
                format_value(options.max_gain_db, "%g") + " dB are invalid; the minimum must not exceed the maximum",
            ErrorKind::configuration);
}

void validate_zone(const ZoneArrivals& zone) {
    require(!zone.zone.empty(), "a zone has an empty name; every zone needs a name", ErrorKind::configuration);
    const std::string name = "zone " + quoted(zone.zone);
    require(!zone.system.empty(), name + " has no system; set e.g. \"mains\" or \"fills\"", ErrorKind::configuration);
    require(std::isfinite(zone.level_offset_db) && std::isfinite(zone.precedence_ms),
            name + ": level offset or precedence is not a finite number", ErrorKind::configuration);
    require(std::isfinite(zone.device_latency_ms) && zone.device_latency_ms >= 0,
            name + ": device latency " + format_value(zone.device_latency_ms, "%g") +
                " ms is invalid; it must be >= 0 ms (check the device profile)",
            ErrorKind::configuration);
    for (const auto& [mic, arrival_ms] : zone.arrival_ms) {
        require(std::isfinite(arrival_ms), name + ", mic " + quoted(mic) + ": arrival time is not a finite number");
    }
    for (const auto& [mic, level_db] : zone.level_db) {
        require(std::isfinite(level_db), name + ", mic " + quoted(mic) + ": level is not a finite number");
    }
    for (const auto& [mic, polarity] : zone.polarity) {
        require(polarity == 1 || polarity == -1,
                name + ", mic " + quoted(mic) + ": polarity " + std::to_string(polarity) + " is invalid; use +1 or -1");
    }
}

std::vector<Unit> group_units(std::span<const ZoneArrivals> zones, const AlignmentOptions& options) {
    std::vector<Unit> units;
    std::map<std::string, std::size_t> unit_of_hang;
    for (std::size_t i = 0; i < zones.size(); ++i) {
        const auto& zone = zones[i];
        if (!zone.hang.empty() && unit_of_hang.contains(zone.hang)) {
            Unit& unit = units[unit_of_hang[zone.hang]];
            const auto& first = zones[unit.zones.front()];
            require(first.system == zone.system,
                    "hang " + quoted(zone.hang) + " has zone " + quoted(first.zone) + " in system " +
                        quoted(first.system) + " and zone " + quoted(zone.zone) + " in system " + quoted(zone.system) +
                        "; a hang belongs to one system",
                    ErrorKind::configuration);
            require(first.precedence_ms == zone.precedence_ms,
                    "zones " + quoted(first.zone) + " and " + quoted(zone.zone) + " of hang " + quoted(zone.hang) +
                        " set precedence " + format_value(first.precedence_ms, "%g") + " ms and " +
                        format_value(zone.precedence_ms, "%g") +
                        " ms; zones of one hang share one delay, so give them the same precedence",
                    ErrorKind::configuration);
            unit.zones.push_back(i);
            continue;
        }
        if (!zone.hang.empty()) {
            unit_of_hang[zone.hang] = units.size();
        }
        units.push_back(Unit{zone.hang, zone.system, {i}, zone.system == options.reference_system, 0});
    }
    return units;
}

// Returns arrival plus device latency at a mic for the loudest of the zones there. The earliest
// is used when any of them lacks a level at that mic, and nothing when none measured the mic.
std::optional<double> arrival_at(std::span<const ZoneArrivals> zones, const std::vector<std::size_t>& indices,
                                 const std::string& mic) {
    std::optional<double> earliest_ms;
    std::optional<double> loudest_ms;
    double loudest_level_db = 0;
    bool all_levels = true;
    for (const std::size_t index : indices) {
        const auto& zone = zones[index];
        const auto arrival = zone.arrival_ms.find(mic);
        if (arrival == zone.arrival_ms.end()) {
            continue;
        }
        const double time_ms = arrival->second + zone.device_latency_ms;
        earliest_ms = earliest_ms ? std::min(*earliest_ms, time_ms) : time_ms;

        const auto level = zone.level_db.find(mic);
        if (level == zone.level_db.end()) {
            all_levels = false;
        } else if (!loudest_ms || level->second > loudest_level_db) {
            loudest_ms = time_ms;
            loudest_level_db = level->second;
        }
    }
    return all_levels ? loudest_ms : earliest_ms;
}

std::vector<std::string> zone_names(std::span<const ZoneArrivals> zones, const std::vector<std::size_t>& indices) {
    std::vector<std::string> names;
    for (const std::size_t index : indices) {
        names.push_back(zones[index].zone);
    }
    return names;
}

std::string unit_label(std::span<const ZoneArrivals> zones, const Unit& unit) {
    if (!unit.hang.empty()) {
        return "hang " + quoted(unit.hang);
    }
    return "zone " + quoted(zones[unit.zones.front()].zone);
}

void require_absolute_timing(std::span<const ZoneArrivals> zones, const std::vector<std::string>& systems) {
    std::vector<std::string> relative;
    for (const auto& zone : zones) {
        if (!zone.absolute_timing) {
            relative.push_back(zone.zone);
        }
    }
    if (relative.empty()) {
        return;
    }
    throw Error("zones " + quoted_list(relative) +
                " have no absolute time base (no loopback reference or recorded start time), so their arrival "
                "times cannot be compared with those of other recordings and the delays between systems " +
                quoted_list(systems) + " cannot be derived; measure with a loopback channel or set these delays by hand");
}

// Sets relative_delay_ms of every unit outside the reference system and notes how it was derived.
void derive_relative_delays(std::span<const ZoneArrivals> zones, std::vector<Unit>& units,
                            const AlignmentOptions& options, std::vector<ZoneAlignment>& results) {
    std::vector<std::size_t> reference_zones;
    for (const auto& unit : units) {
        if (unit.reference) {
            reference_zones.insert(reference_zones.end(), unit.zones.begin(), unit.zones.end());
        }
    }

    for (auto& unit : units) {
        if (unit.reference) {
            continue;
        }
        std::set<std::string> mics;
        for (const std::size_t index : unit.zones) {
            for (const auto& [mic, arrival_ms] : zones[index].arrival_ms) {
                mics.insert(mic);
            }
        }

        std::vector<double> differences_ms;
        std::vector<std::string> shared_mics;
        for (const auto& mic : mics) {
            const auto reference_ms = arrival_at(zones, reference_zones, mic);
            const auto unit_ms = arrival_at(zones, unit.zones, mic);
            if (reference_ms && unit_ms) {
                differences_ms.push_back(*reference_ms - *unit_ms);
                shared_mics.push_back(mic);
            }
        }
        require(!differences_ms.empty(),
                unit_label(zones, unit) + " (system " + quoted(unit.system) + ") shares no mic with the reference system " +
                    quoted(options.reference_system) + "; measure both systems at one mic position or more");

        // NOTE: the median is unweighted because ZoneArrivals carries no per-mic confidence, so a
        // mic where one system is barely audible counts as much as one in their overlap.
        const double median_ms = median(differences_ms);
        const auto [smallest, largest] = std::minmax_element(differences_ms.begin(), differences_ms.end());
        const double precedence_ms = zones[unit.zones.front()].precedence_ms;
        unit.relative_delay_ms = median_ms + precedence_ms;

        std::string note = "delay to " + quoted(options.reference_system) + " from " +
                           std::to_string(differences_ms.size()) + " mics (" + quoted_list(shared_mics) +
                           "): median " + format_value(median_ms) + " ms, spread " +
                           format_value(*largest - *smallest) + " ms";
        if (precedence_ms != 0) {
            note += ", plus precedence " + format_value(precedence_ms, "%g") + " ms";
        }
        for (const std::size_t index : unit.zones) {
            results[index].notes.push_back(note);
        }
    }
}

void check_hang_latencies(std::span<const ZoneArrivals> zones, const std::vector<Unit>& units,
                          std::vector<ZoneAlignment>& results) {
    for (const auto& unit : units) {
        double lowest_ms = zones[unit.zones.front()].device_latency_ms;
        double highest_ms = lowest_ms;
        for (const std::size_t index : unit.zones) {
            lowest_ms = std::min(lowest_ms, zones[index].device_latency_ms);
            highest_ms = std::max(highest_ms, zones[index].device_latency_ms);
        }
        if (highest_ms == lowest_ms) {
            continue;
        }
        for (const std::size_t index : unit.zones) {
            results[index].notes.push_back("device latencies in " + unit_label(zones, unit) + " differ by " +
                                           format_value(highest_ms - lowest_ms) +
                                           " ms, which steers its beam; its zones share one delay, so use "
                                           "amplifier settings with equal latency");
        }
    }
}

void assign_delays(std::span<const ZoneArrivals> zones, const std::vector<Unit>& units, const AlignmentOptions& options,
                   std::vector<ZoneAlignment>& results) {
    double smallest_ms = units.front().relative_delay_ms;
    for (const auto& unit : units) {
        smallest_ms = std::min(smallest_ms, unit.relative_delay_ms);
    }

    std::vector<std::string> too_long;
    double longest_ms = 0;
    for (const auto& unit : units) {
        const double delay_ms = unit.relative_delay_ms - smallest_ms;
        for (const std::size_t index : unit.zones) {
            results[index].delay_ms = delay_ms;
        }
        if (delay_ms > options.max_delay_ms) {
            const auto names = zone_names(zones, unit.zones);
            too_long.insert(too_long.end(), names.begin(), names.end());
            longest_ms = std::max(longest_ms, delay_ms);
        }
    }
    if (!too_long.empty()) {
        throw Error("zones " + quoted_list(too_long) + " need up to " + format_value(longest_ms) +
                    " ms of delay, above the limit " + format_value(options.max_delay_ms, "%g") +
                    " ms (the venue's max_distance_m divided by the speed of sound); check their arrival times "
                    "and time base, or raise max_distance_m if the venue is that deep");
    }
}

// Sign of the sum of the polarities of the given zones' mics: +1, -1 or 0 for a tie.
int majority_polarity(std::span<const ZoneArrivals> zones, const std::vector<std::size_t>& indices) {
    int sum = 0;
    for (const std::size_t index : indices) {
        for (const auto& [mic, polarity] : zones[index].polarity) {
            sum += polarity;
        }
    }
    return (sum > 0) - (sum < 0);
}

// A zone is flagged when its majority polarity differs from the hang's polarity reference zone or,
// without one, from the majority of all mics of its hang;
// such a zone always disagrees with the majority of the rest of the hang too. When the hang's
// mics split evenly (e.g. two zones, one inverted), no zone can be singled out and each zone that
// differs from another gets a note instead.
void check_polarity(std::span<const ZoneArrivals> zones, const std::vector<Unit>& units,
                    std::vector<ZoneAlignment>& results) {
    for (const auto& unit : units) {
        if (unit.zones.size() < 2) {
            continue;
        }
        int hang_polarity = majority_polarity(zones, unit.zones);
        for (const std::size_t index : unit.zones) {
            // The venue's polarity reference, where it is in this hang, decides over the majority.
            if (zones[index].polarity_reference && majority_polarity(zones, {index}) != 0) {
                hang_polarity = majority_polarity(zones, {index});
            }
        }
        for (const std::size_t index : unit.zones) {
            const int zone_polarity = majority_polarity(zones, {index});
            if (zone_polarity == 0) {
                if (!zones[index].polarity.empty()) {
                    results[index].notes.push_back("polarity is split evenly between its mics; check their arrivals");
                }
                continue;
            }
            if (hang_polarity == 0) {
                results[index].notes.push_back("polarity of " + unit_label(zones, unit) +
                                               " is split evenly between its zones, so the inverted one cannot "
                                               "be told apart: wiring fault? check every zone of the hang");
                continue;
            }
            if (zone_polarity != hang_polarity) {
                results[index].polarity_fault = true;
                results[index].notes.push_back(
                    "polarity " + std::string(zone_polarity > 0 ? "+1" : "-1") + " at its mics while the rest of " +
                    unit_label(zones, unit) + " is " + (hang_polarity > 0 ? "+1" : "-1") +
                    ": wiring fault? Not compensated; check the speaker cable and amplifier output");
            }
        }
    }
}

// Mean of the zone's level_db over all its mics. Levels at mics outside the zone's coverage
// therefore lower it: pass only the mics the zone is meant to cover.
std::optional<double> zone_level_db(const ZoneArrivals& zone) {
    if (zone.level_db.empty()) {
        return std::nullopt;
    }
    double sum = 0;
    for (const auto& [mic, level_db] : zone.level_db) {
        sum += level_db;
    }
    return sum / static_cast<double>(zone.level_db.size());
}

void assign_gains(std::span<const ZoneArrivals> zones, const AlignmentOptions& options,
                  std::vector<ZoneAlignment>& results) {
    double reference_sum = 0;
    std::size_t reference_count = 0;
    double all_sum = 0;
    std::size_t all_count = 0;
    for (const auto& zone : zones) {
        const auto level = zone_level_db(zone);
        if (!level) {
            continue;
        }
        all_sum += *level - zone.level_offset_db;
        ++all_count;
        if (zone.system == options.reference_system) {
            reference_sum += *level - zone.level_offset_db;
            ++reference_count;
        }
    }
    if (all_count == 0) {
        for (auto& result : results) {
            result.notes.push_back("no level measured: gain left at 0 dB");
        }
        return;
    }
    const bool from_reference = reference_count > 0;
    const double reference_level_db =
        from_reference ? reference_sum / static_cast<double>(reference_count) : all_sum / static_cast<double>(all_count);

    for (std::size_t i = 0; i < zones.size(); ++i) {
        const auto level = zone_level_db(zones[i]);
        if (!level) {
            results[i].notes.push_back("no level measured: gain left at 0 dB");
            continue;
        }
        if (!from_reference) {
            results[i].notes.push_back("no level of the reference system " + quoted(options.reference_system) +
                                       ": gains match the zones to their common mean");
        }
        const double gain_db = reference_level_db + zones[i].level_offset_db - *level;
        results[i].gain_db = std::clamp(gain_db, options.min_gain_db, options.max_gain_db);
        if (results[i].gain_db != gain_db) {
            results[i].notes.push_back("gain " + format_value(gain_db, "%+.1f") + " dB clamped to " +
                                       format_value(results[i].gain_db, "%+.1f") + " dB (limits " +
                                       format_value(options.min_gain_db, "%+g") + " dB to " +
                                       format_value(options.max_gain_db, "%+g") + " dB); the zone misses its target level");
        }
    }
}

}  // namespace

std::vector<ZoneAlignment> align_zones(std::span<const ZoneArrivals> zones, const AlignmentOptions& options) {
    validate_options(options);
    std::set<std::string> names;
    std::vector<std::string> systems;
    for (const auto& zone : zones) {
        validate_zone(zone);
        require(names.insert(zone.zone).second, "zone " + quoted(zone.zone) + " appears twice; give each zone one entry",
                ErrorKind::configuration);
        if (std::find(systems.begin(), systems.end(), zone.system) == systems.end()) {
            systems.push_back(zone.system);
        }
    }

    std::vector<ZoneAlignment> results;
    for (const auto& zone : zones) {
        results.push_back(ZoneAlignment{zone.zone, 0, 0, {}, false});
    }
    if (zones.empty()) {
        return results;
    }

    std::vector<Unit> units = group_units(zones, options);
    check_hang_latencies(zones, units, results);
    check_polarity(zones, units, results);
    assign_gains(zones, options, results);

    // With a single system nothing is aligned between systems, so relative timing is fine.
    if (systems.size() == 1) {
        for (auto& result : results) {
            result.notes.push_back("only system " + quoted(systems.front()) + " is present: no delay between systems");
        }
        return results;
    }
    require(std::find(systems.begin(), systems.end(), options.reference_system) != systems.end(),
            "the reference system " + quoted(options.reference_system) + " has no zone among the systems " +
                quoted_list(systems) + "; measure it or set the reference system to one of them",
            ErrorKind::configuration);
    require_absolute_timing(zones, systems);

    derive_relative_delays(zones, units, options, results);
    for (const auto& unit : units) {
        if (unit.reference && zones[unit.zones.front()].precedence_ms != 0) {
            for (const std::size_t index : unit.zones) {
                results[index].notes.push_back("precedence ignored: the reference system is not delayed against itself");
            }
        }
    }
    assign_delays(zones, units, options, results);
    return results;
}

}  // namespace linetune::correction
