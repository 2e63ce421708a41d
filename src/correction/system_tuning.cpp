#include "system_tuning.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/correction/weather.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace linetune::correction::detail {
namespace {

// The subs' system name and the reference system they are aligned to, as alignment.cpp uses them.
constexpr const char* subs_system = "subs";
constexpr const char* mains_system = "mains";
// The crossover alignment picks its cycle and judges polarity from the onsets, so it uses only
// arrivals at least 19 dB over the noise before them (analysis::Arrival::confidence 0.3). A
// subwoofer measured through EQ that was removed again can fall far below that, and its onset
// is then milliseconds off.
constexpr double min_arrival_confidence = 0.3;

TimedResponse timed_of(const Zone& zone, const SystemMicData& mic, const FrequencyResponse& response) {
    TimedResponse timed;
    timed.zone = zone.name;
    timed.mic = mic.mic;
    timed.response = response;
    timed.arrival_ms = *mic.arrival_ms;
    timed.weight = mic.weight;
    return timed;
}

}  // namespace

void align_subs_by_phase(const Venue& venue, const std::vector<SystemZoneData>& zones,
                         std::vector<ZoneAlignment>& alignments, SystemOutcome& system) {
    std::vector<TimedResponse> subs;
    std::vector<TimedResponse> mains;
    std::vector<std::string> sub_zones;
    bool any_subs = false;
    bool any_mains = false;
    for (const auto& data : zones) {
        const bool is_subs = data.zone->system == subs_system;
        const bool is_mains = data.zone->system == mains_system;
        any_subs = any_subs || is_subs;
        any_mains = any_mains || is_mains;
        if (is_subs) {
            sub_zones.push_back(data.zone->name);
        }
        for (const auto& mic : data.mics) {
            if ((is_subs || is_mains) && mic.arrival_ms && mic.windowed && mic.windowed->has_phase() && mic.weight > 0.0 &&
                mic.arrival_confidence >= min_arrival_confidence) {
                (is_subs ? subs : mains).push_back(timed_of(*data.zone, mic, *mic.windowed));
            }
        }
    }
    if (!any_subs || !any_mains) {
        return;
    }
    const auto onset_only = [&](const std::string& reason) {
        system.notes.push_back("subs aligned to the mains by their onsets only: " + reason);
    };
    if (subs.empty() || mains.empty()) {
        onset_only("their measurements carry no phase on an absolute time base (impulse responses with a loopback "
                   "time base are needed), or their arrivals are less than 19 dB over the noise");
        return;
    }

    CrossoverAlignmentOptions options;
    options.crossover_hz = venue.system.crossover_hz;
    CrossoverAlignment crossover;
    try {
        crossover = align_subs_at_crossover(subs, mains, venue.system.alignment_mics, {}, options);
    } catch (const Error& failure) {
        onset_only(failure.what());
        return;
    }

    // The mains delay the subs follow: the mains zone loudest at the crossover at the reference mics.
    std::map<std::string, double> mains_level;
    for (const auto& timed : mains) {
        const bool reference = venue.system.alignment_mics.empty() ||
                               std::find(venue.system.alignment_mics.begin(), venue.system.alignment_mics.end(),
                                         timed.mic) != venue.system.alignment_mics.end();
        if (reference) {
            mains_level[timed.zone] += std::norm(complex_response_at(timed, crossover.crossover_hz));
        }
    }
    const auto loudest = std::max_element(mains_level.begin(), mains_level.end(),
                                          [](const auto& a, const auto& b) { return a.second < b.second; });
    if (loudest == mains_level.end()) {
        onset_only("no mains zone was measured at the reference microphones");
        return;
    }
    apply_crossover_alignment(alignments, sub_zones, loudest->first, crossover);
    system.crossover = crossover;
}

void shade_zone_levels(const Venue& venue, double temperature_c, const std::vector<SystemZoneData>& zones,
                       std::vector<ZoneAlignment>& alignments, SystemOutcome& system) {
    if (!venue.system.level_drop_db_per_doubling) {
        return;
    }
    std::vector<ShadingZone> shading_zones;
    for (const auto& data : zones) {
        ShadingZone zone;
        zone.zone = data.zone->name;
        zone.system = data.zone->system;
        zone.level_offset_db = data.zone->level_offset_db;
        for (const auto& mic : data.mics) {
            if (mic.level_db && mic.arrival_ms && *mic.arrival_ms > 0.0 && mic.weight > 0.0) {
                zone.mics.push_back({mic.mic, *mic.level_db, path_length_m(*mic.arrival_ms, temperature_c), mic.weight});
            }
        }
        if (zone.mics.empty()) {
            system.notes.push_back("level shading skipped: zone '" + zone.zone +
                                   "' has no level with an absolute arrival time, so its distances are unknown");
            return;
        }
        shading_zones.push_back(std::move(zone));
    }
    ShadingTarget target;
    target.drop_db_per_doubling = *venue.system.level_drop_db_per_doubling;
    const bool has_mains = std::any_of(zones.begin(), zones.end(),
                                       [](const SystemZoneData& d) { return d.zone->system == mains_system; });
    target.reference_system = has_mains ? mains_system : zones.front().zone->system;
    const LevelShading shading = shade_levels(shading_zones, target);
    for (auto& alignment : alignments) {
        const auto gain = shading.gain_db.find(alignment.zone);
        if (gain != shading.gain_db.end()) {
            alignment.notes.push_back("gain " + format_fixed(alignment.gain_db, 2) + " dB replaced by level shading to " +
                                      format_fixed(target.drop_db_per_doubling, 1) + " dB per doubling of distance: " +
                                      format_fixed(gain->second, 2) + " dB");
            alignment.gain_db = gain->second;
        }
    }
    system.levels = shading.mics;
}

void report_joint_fit(const Venue& venue, const std::vector<SystemZoneData>& zones,
                      const std::vector<ZoneOutcome>& outcomes, SystemOutcome& system) {
    std::vector<JointFitZone> fit_zones;
    std::vector<TimedResponse> responses;
    for (std::size_t z = 0; z < zones.size(); ++z) {
        const Zone& zone = *zones[z].zone;
        const auto outcome = std::find_if(outcomes.begin(), outcomes.end(),
                                          [&](const ZoneOutcome& o) { return o.zone == zone.name; });
        std::size_t usable = 0;
        for (const auto& mic : zones[z].mics) {
            if (mic.arrival_ms && mic.response.has_phase()) {
                responses.push_back(timed_of(zone, mic, mic.response));
                ++usable;
            }
        }
        if (usable == 0 || outcome == outcomes.end()) {
            continue;
        }
        JointFitZone fit_zone;
        fit_zone.zone = zone.name;
        fit_zone.hang = zone.hang;
        fit_zone.delay_ms = outcome->setting.delay_ms;
        fit_zone.gain_db = outcome->setting.gain_db;
        fit_zone.band_low_hz = zone.fit_band_hz.low_hz;
        fit_zone.band_high_hz = zone.fit_band_hz.high_hz;
        fit_zone.max_boost_db = zone.max_boost_db;
        fit_zones.push_back(fit_zone);
    }
    if (fit_zones.size() < 2) {
        system.notes.push_back("joint fit not reported: it needs two zones or more measured with phase on an absolute "
                               "time base");
        return;
    }
    std::erase_if(responses, [&](const TimedResponse& timed) {
        return std::none_of(fit_zones.begin(), fit_zones.end(), [&](const JointFitZone& z) { return z.zone == timed.zone; });
    });

    FrequencyResponse target;
    target.freq_hz = log_frequency_grid(10.0, 24000.0, 6.0);
    for (const double f : target.freq_hz) {
        target.magnitude_db.push_back(target_db(venue, f));
    }
    JointFitOptions options;
    options.coupling_below_hz = venue.system.coupling_below_hz;
    try {
        const JointFitResult joint = fit_jointly(fit_zones, responses, target, options);
        system.joint_fit = joint.mics;
        system.mean_rms_independent_db = joint.mean_rms_independent_db;
        system.mean_rms_joint_db = joint.mean_rms_joint_db;
        system.notes.push_back("joint fit of " + std::to_string(fit_zones.size()) +
                               " zones on the summed response: spatially averaged residual " +
                               format_fixed(joint.mean_rms_joint_db, 2) + " dB against " +
                               format_fixed(joint.mean_rms_independent_db, 2) +
                               " dB when each zone is fitted alone (EQ curves, not yet the pushed bands)");
    } catch (const Error& failure) {
        system.notes.push_back(std::string("joint fit not reported: ") + failure.what());
    }
}

}  // namespace linetune::correction::detail
