#include "system_tuning.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/correction/weather.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

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
// Weight of each zone heard alone in the joint fit for the push, against 1 for the summed
// response, because the pushed bands must also serve a listener who hears one zone alone. On the
// built-in rig with every zone pushed, weight 4 kept subs, fill and tower within 0.5 dB of their
// own fits' residuals and lowered the summed residual from 3.35 to 3.07 dB. Weight 1 left them up
// to 0.9 dB worse and did not lower the summed residual further.
constexpr double zone_alone_weight = 4.0;

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

bool joint_fit_usable(const SystemMicData& mic) { return mic.arrival_ms && mic.response.has_phase(); }

namespace {

/// Sum of the bands' magnitudes at freq_hz, in dB.
double bands_db(const std::vector<analysis::ParametricBand>& bands, double freq_hz, double sample_rate_hz) {
    double total = 0.0;
    for (const auto& band : bands) {
        total += analysis::band_magnitude_db(band, freq_hz, sample_rate_hz);
    }
    return total;
}

/// Returns a joint curve's value at freq_hz, linear in log frequency between its grid points.
/// Outside the grid it keeps its end value, which is 0 dB because the curve is 0 outside the zone's band.
double curve_at_db(const std::vector<double>& grid_hz, const std::vector<double>& curve_db, double freq_hz) {
    FrequencyResponse curve;
    curve.freq_hz = grid_hz;
    curve.magnitude_db = curve_db;
    return interpolate_magnitude_db(curve, freq_hz);
}

/// Each zone's bands as magnitude curves on the grid, for the summed-residual prediction, which
/// treats EQ as zero phase as the joint fit does.
std::vector<ZoneCurve> band_curves(std::span<const JointFitZone> zones,
                                   const std::map<std::string, std::vector<analysis::ParametricBand>>& bands,
                                   const std::map<std::string, double>& sample_rate_hz, const std::vector<double>& grid_hz) {
    std::vector<ZoneCurve> curves;
    for (const auto& zone : zones) {
        const auto found = bands.find(zone.zone);
        if (found == bands.end()) {
            continue;
        }
        ZoneCurve curve{zone.zone, {}};
        for (const double f : grid_hz) {
            curve.correction_db.push_back(bands_db(found->second, f, sample_rate_hz.at(zone.zone)));
        }
        curves.push_back(std::move(curve));
    }
    return curves;
}

double weighted_mean_rms_db(const std::vector<SummedResidual>& residuals) {
    double sum = 0.0;
    double weight = 0.0;
    for (const auto& residual : residuals) {
        sum += residual.weight * residual.rms_db;
        weight += residual.weight;
    }
    return weight > 0.0 ? sum / weight : 0.0;
}

/// Fits the zone's pushed bands: its own fit request with the joint curve added to the target.
/// With a zero curve this is the zone's own fit again, so the joint fit only bends the target
/// where the summed response gains from it. The fitter's level rule, boost cap and device limits
/// stay those of the zone's own fit.
std::vector<analysis::ParametricBand> fit_with_joint_curve(const JointPushZone& zone, const JointFitResult& joint,
                                                           std::size_t zone_index) {
    EqFitRequest request = zone.request;
    for (std::size_t i = 0; i < request.target.freq_hz.size(); ++i) {
        request.target.magnitude_db[i] +=
            curve_at_db(joint.freq_hz, joint.joint[zone_index].correction_db, request.target.freq_hz[i]);
    }
    std::vector<analysis::ParametricBand> bands = zone.fixed_bands;
    const EqFitResult fit = ClassicEqFitter().fit(request);
    bands.insert(bands.end(), fit.bands.begin(), fit.bands.end());
    return bands;
}

}  // namespace

JointPush fit_jointly_for_push(const Venue& venue, const std::vector<SystemZoneData>& zones,
                               const std::vector<JointPushZone>& push_zones,
                               const std::map<std::string, std::vector<analysis::ParametricBand>>& own_full_band,
                               const std::function<void(JointPush&)>& review, SystemOutcome& system) {
    JointPush push;
    std::vector<JointFitZone> fit_zones;
    std::vector<const JointPushZone*> fit_push_zones;
    std::vector<TimedResponse> measured;     // as measured, for the report
    std::vector<TimedResponse> with_bands;   // with each zone's own bands, which the joint curve adds to
    std::map<std::string, double> sample_rate_hz;
    for (const auto& data : zones) {
        const Zone& zone = *data.zone;
        const auto push_zone = std::find_if(push_zones.begin(), push_zones.end(),
                                            [&](const JointPushZone& p) { return p.zone == zone.name; });
        if (push_zone == push_zones.end()) {
            continue;
        }
        const double rate_hz = push_zone->request.limits.sample_rate_hz;
        std::size_t usable = 0;
        for (const auto& mic : data.mics) {
            if (!joint_fit_usable(mic)) {
                continue;
            }
            measured.push_back(timed_of(zone, mic, mic.response));
            TimedResponse shaped = measured.back();
            for (std::size_t i = 0; i < shaped.response.size(); ++i) {
                shaped.response.magnitude_db[i] += bands_db(push_zone->bands, shaped.response.freq_hz[i], rate_hz);
            }
            with_bands.push_back(std::move(shaped));
            ++usable;
        }
        if (usable == 0) {
            push.kept_own_bands[zone.name] = "no measurement of the zone carries phase on an absolute time base";
            continue;
        }
        JointFitZone fit_zone;
        fit_zone.zone = zone.name;
        fit_zone.hang = zone.hang;
        fit_zone.delay_ms = push_zone->delay_ms;
        fit_zone.gain_db = push_zone->gain_db;
        fit_zone.band_low_hz = zone.fit_band_hz.low_hz;
        fit_zone.band_high_hz = zone.fit_band_hz.high_hz;
        fit_zone.max_boost_db = zone.max_boost_db;
        fit_zones.push_back(fit_zone);
        fit_push_zones.push_back(&*push_zone);
        sample_rate_hz[zone.name] = rate_hz;
    }
    const auto keep_all = [&](const std::string& reason) {
        for (const JointPushZone* zone : fit_push_zones) {
            push.kept_own_bands[zone->zone] = reason;
        }
        system.notes.push_back("joint fit not applied: " + reason);
    };
    if (fit_zones.size() < 2) {
        keep_all("it needs two zones or more measured with phase on an absolute time base");
        return push;
    }

    FrequencyResponse target;
    target.freq_hz = log_frequency_grid(10.0, 24000.0, 6.0);
    for (const double f : target.freq_hz) {
        target.magnitude_db.push_back(target_db(venue, f));
    }
    JointFitOptions options;
    options.coupling_below_hz = venue.system.coupling_below_hz;
    options.zone_alone_weight = zone_alone_weight;
    // NOTE: the temperature drift between the zones' measurements (temperature_spread_c) stays
    // at 0 because nothing records it yet. Repeated measurements of a zone could estimate it.
    //
    // Zones that the review moves back to their own bands are held there (no joint curve) and
    // the others fitted again, because their curves were found on the assumption that those
    // zones take theirs too. The second review only checks: zones it moves back stay back.
    JointFitResult joint;
    std::set<std::string> held_at_own_bands;
    for (int pass = 0; pass < 2; ++pass) {
        std::vector<JointFitZone> pass_zones = fit_zones;
        std::vector<TimedResponse> pass_responses = with_bands;
        for (std::size_t z = 0; z < pass_zones.size(); ++z) {
            if (held_at_own_bands.contains(pass_zones[z].zone)) {
                pass_zones[z].max_boost_db = 0.0;
                pass_zones[z].max_cut_db = 0.0;
            }
        }
        for (std::size_t r = 0; r < pass_responses.size(); ++r) {
            if (held_at_own_bands.contains(pass_responses[r].zone)) {
                pass_responses[r] = measured[r];
                const double rate_hz = sample_rate_hz.at(measured[r].zone);
                for (std::size_t i = 0; i < pass_responses[r].response.size(); ++i) {
                    pass_responses[r].response.magnitude_db[i] +=
                        bands_db(own_full_band.at(measured[r].zone), pass_responses[r].response.freq_hz[i], rate_hz);
                }
            }
        }
        try {
            joint = fit_jointly(pass_zones, pass_responses, target, options);
        } catch (const Error& failure) {
            keep_all(failure.what());
            return push;
        }
        push.bands.clear();
        for (std::size_t z = 0; z < fit_zones.size(); ++z) {
            if (held_at_own_bands.contains(fit_zones[z].zone)) {
                continue;
            }
            try {
                push.bands[fit_zones[z].zone] = fit_with_joint_curve(*fit_push_zones[z], joint, z);
            } catch (const Error& failure) {
                push.kept_own_bands[fit_zones[z].zone] =
                    std::string("its joint curve could not be fitted as bands: ") + failure.what();
            }
        }
        review(push);
        bool moved_back = false;
        for (const auto& zone : fit_zones) {
            if (!push.bands.contains(zone.zone) && !held_at_own_bands.contains(zone.zone)) {
                held_at_own_bands.insert(zone.zone);
                moved_back = true;
            }
        }
        if (!moved_back) {
            break;
        }
    }

    // Report: the sum at each mic with no EQ, with each zone's own full-band fit (what is
    // pushed without the joint fit) and with the bands pushed now.
    std::map<std::string, std::vector<analysis::ParametricBand>> pushed = own_full_band;
    for (const auto& [zone, bands] : push.bands) {
        pushed[zone] = bands;
    }
    const auto none = predict_summed_residuals(fit_zones, measured, target, options, joint.freq_hz, {});
    const auto own = predict_summed_residuals(fit_zones, measured, target, options, joint.freq_hz,
                                              band_curves(fit_zones, own_full_band, sample_rate_hz, joint.freq_hz));
    const auto now = predict_summed_residuals(fit_zones, measured, target, options, joint.freq_hz,
                                              band_curves(fit_zones, pushed, sample_rate_hz, joint.freq_hz));
    for (std::size_t m = 0; m < now.size(); ++m) {
        JointMicOutcome mic;
        mic.mic = now[m].mic;
        mic.weight = now[m].weight;
        mic.rms_uncorrected_db = none[m].rms_db;
        mic.rms_independent_db = own[m].rms_db;
        mic.rms_joint_db = now[m].rms_db;
        mic.gain_db = mic.rms_independent_db - mic.rms_joint_db;
        system.joint_fit.push_back(mic);
    }
    system.mean_rms_independent_db = weighted_mean_rms_db(own);
    system.mean_rms_joint_db = weighted_mean_rms_db(now);
    system.notes.push_back("joint fit of " + std::to_string(fit_zones.size()) + " zones on the summed response, " +
                           std::to_string(push.bands.size()) + " of them pushed with its bands: spatially averaged residual of the sum " +
                           format_fixed(system.mean_rms_joint_db, 2) + " dB against " +
                           format_fixed(system.mean_rms_independent_db, 2) + " dB with each zone's own fit (" +
                           format_fixed(weighted_mean_rms_db(none), 2) + " dB without EQ)");
    return push;
}

}  // namespace linetune::correction::detail
