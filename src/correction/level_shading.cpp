#include "linetune/correction/level_shading.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <cmath>

// Level shading
// -------------
// The target at a mic at distance d from the zone it judges is
//
//     T(d) = L0 + offset_z − D · log2(d / 1 m)
//
// with D the drop per doubling of distance. A zone's gain g_z minimises Σ_m w_m (L_m + g_z − T)²
// over its mics, so g_z = Σ w_m (T(d_m) − L_m) / Σ w_m: a single gain per zone cannot bend the
// level across its mics, so their spread around the target stays and is reported. L0 is chosen
// so that the reference system's gains average to 0 dB, as the level alignment does: every gain
// is then relative to the reference system as it is. D = 0 reduces to matching each zone's mean
// level to the reference plus its offset, the alignment's own rule.

namespace linetune::correction {
namespace {

// A target that falls faster than 12 dB per doubling is not a shading a PA can deliver: free-field
// spreading already falls 6 dB, and the seats furthest away would be left tens of dB down.
constexpr double max_drop_db_per_doubling = 12.0;

double level_gap_db(const ShadingZone& zone, double drop_db_per_doubling) {
    double sum = 0.0;
    double weight = 0.0;
    for (const auto& mic : zone.mics) {
        sum += mic.weight * (zone.level_offset_db - drop_db_per_doubling * std::log2(mic.distance_m) - mic.level_db);
        weight += mic.weight;
    }
    return sum / weight;
}

}  // namespace

LevelShading shade_levels(std::span<const ShadingZone> zones, const ShadingTarget& target) {
    require(std::isfinite(target.drop_db_per_doubling) && target.drop_db_per_doubling >= 0.0 &&
                target.drop_db_per_doubling <= max_drop_db_per_doubling,
            "level drop " + format_fixed(target.drop_db_per_doubling, 1) + " dB per doubling of distance is outside 0 to " +
                format_fixed(max_drop_db_per_doubling, 0) + " dB; give the drop the audience should hear",
            ErrorKind::configuration);
    for (const auto& zone : zones) {
        require(!zone.mics.empty(), "zone '" + zone.zone + "' has no microphone level to shade", ErrorKind::input);
        for (const auto& mic : zone.mics) {
            require(std::isfinite(mic.distance_m) && mic.distance_m > 0.0 && std::isfinite(mic.level_db) &&
                        mic.weight > 0.0,
                    "zone '" + zone.zone + "', mic '" + mic.mic + "': distance " + format_fixed(mic.distance_m, 2) +
                        " m, level or weight is invalid; distances and weights must be above 0");
        }
    }

    // With L0 = 0 first, g_z = gap_z; then L0 shifts every gain by the same amount.
    LevelShading result;
    double reference_sum = 0.0;
    std::size_t reference_count = 0;
    double all_sum = 0.0;
    for (const auto& zone : zones) {
        const double gap_db = level_gap_db(zone, target.drop_db_per_doubling);
        result.gain_db[zone.zone] = gap_db;
        all_sum += gap_db;
        if (zone.system == target.reference_system) {
            reference_sum += gap_db;
            ++reference_count;
        }
    }
    if (zones.empty()) {
        return result;
    }
    const double mean_gap_db = reference_count > 0 ? reference_sum / static_cast<double>(reference_count)
                                                   : all_sum / static_cast<double>(zones.size());
    result.reference_level_db = -mean_gap_db;
    for (const auto& zone : zones) {
        double& gain_db = result.gain_db[zone.zone];
        gain_db -= mean_gap_db;
        for (const auto& mic : zone.mics) {
            MicLevelDeviation deviation;
            deviation.zone = zone.zone;
            deviation.mic = mic.mic;
            deviation.distance_m = mic.distance_m;
            deviation.level_db = mic.level_db + gain_db;
            deviation.target_db = result.reference_level_db + zone.level_offset_db -
                                  target.drop_db_per_doubling * std::log2(mic.distance_m);
            deviation.deviation_db = deviation.level_db - deviation.target_db;
            result.mics.push_back(deviation);
        }
    }
    return result;
}

}  // namespace linetune::correction
