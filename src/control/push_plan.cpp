#include "linetune/control/push_plan.hpp"

#include "linetune/control/parameter_steps.hpp"
#include "linetune/core/error.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/io/json_file.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

namespace linetune::control {
namespace {

FilterKind filter_kind_of(analysis::FilterType type) {
    switch (type) {
    case analysis::FilterType::peaking: return FilterKind::peaking;
    case analysis::FilterType::low_shelf: return FilterKind::low_shelf;
    case analysis::FilterType::high_shelf: return FilterKind::high_shelf;
    case analysis::FilterType::high_pass: return FilterKind::high_pass;
    case analysis::FilterType::low_pass: return FilterKind::low_pass;
    }
    return FilterKind::peaking;
}

/// Returns the requested number, or the snapshot's when the device would hold the same value.
double kept_if_same(double snapshot, double requested, ParameterKind kind, const ChannelLimits& limits) {
    return values_match(kind, requested, snapshot, limits) ? snapshot : requested;
}

}  // namespace

std::size_t owned_band_count(const Amplifier& amplifier) { return amplifier.limits.eq.max_bands; }

ZoneTarget rounded_to_steps(const ZoneTarget& target, const ChannelLimits& limits) {
    ZoneTarget rounded = target;
    auto& setting = rounded.setting;
    setting.gain_db = round_to_step(setting.gain_db, limits.gain_db.min, limits.gain_db.step);
    setting.delay_ms = round_to_step(setting.delay_ms, 0.0, limits.delay_ms.step);
    for (auto& band : setting.bands) {
        band.freq_hz = round_to_step(band.freq_hz, limits.eq.freq_hz.min, limits.eq.freq_hz.step);
        band.gain_db = round_to_step(band.gain_db, limits.eq.gain_db.min, limits.eq.gain_db.step);
        band.q = round_to_step(band.q, limits.eq.q.min, limits.eq.q.step);
    }
    return rounded;
}

ChannelState target_channel_state(const ChannelState& snapshot, const ZoneTarget& target, const ChannelLimits& limits,
                                  bool per_band_enable) {
    const auto& setting = rounded_to_steps(target, limits).setting;
    if (setting.bands.size() > snapshot.bands.size()) {
        throw Error("the setting has " + std::to_string(setting.bands.size()) + " bands but linetune owns " +
                        std::to_string(snapshot.bands.size()) + " on the channel; re-tune within the amplifier's limits",
                    ErrorKind::configuration);
    }

    ChannelState state = snapshot;
    state.gain_db = kept_if_same(snapshot.gain_db, setting.gain_db, ParameterKind::gain_db, limits);
    state.delay_ms = kept_if_same(snapshot.delay_ms, setting.delay_ms, ParameterKind::delay_ms, limits);
    state.polarity_inverted = target.polarity_inverted.value_or(snapshot.polarity_inverted);
    for (std::size_t b = 0; b < state.bands.size(); ++b) {
        auto& band = state.bands[b];
        const auto& old_band = snapshot.bands[b];
        if (b >= setting.bands.size() && per_band_enable) {
            band.enabled = false;
            continue;
        }
        if (b >= setting.bands.size()) {
            // A peaking band of 0 dB is flat at any frequency and Q, so only type and gain change.
            band.type = FilterKind::peaking;
            band.gain_db = kept_if_same(old_band.gain_db, 0.0, ParameterKind::band_gain_db, limits);
            continue;
        }
        if (!per_band_enable && !old_band.enabled) {
            throw Error("band " + std::to_string(b + 1) + ": the EQ of the channel is switched off, and the device "
                            "switches it only for the whole channel, so the correction's bands would not be heard; "
                            "switch the channel's EQ on with flat bands (0 dB) on the device and push again",
                        ErrorKind::configuration);
        }
        const auto& requested = setting.bands[b];
        band.enabled = true;
        band.type = filter_kind_of(requested.type);
        band.freq_hz = kept_if_same(old_band.freq_hz, requested.freq_hz, ParameterKind::band_freq_hz, limits);
        band.gain_db = kept_if_same(old_band.gain_db, requested.gain_db, ParameterKind::band_gain_db, limits);
        band.q = kept_if_same(old_band.q, requested.q, ParameterKind::band_q, limits);
    }
    return state;
}

std::map<std::string, ZoneTarget> read_push_targets(const std::filesystem::path& corrections_path, const Venue& venue) {
    const auto settings = correction::read_zone_settings(corrections_path, venue.name);
    const std::string label = "file '" + corrections_path.string() + "'";

    // read_zone_settings has checked that the file is a corrections file of this venue, with a
    // named object per zone; parse_json_file still reports a file changed since as an Error.
    const auto document = io::parse_json_file(corrections_path, label, ErrorKind::configuration);

    std::map<std::string, ZoneTarget> targets;
    for (const auto& entry : document.at("zones")) {
        const std::string zone_name = entry.at("zone").get<std::string>();
        const std::string where = label + ", zone '" + zone_name + "'";
        const Zone* zone = nullptr;
        for (const auto& candidate : venue.zones) {
            if (candidate.name == zone_name) {
                zone = &candidate;
            }
        }
        if (zone == nullptr) {
            throw Error(where + ": the zone is not in venue '" + venue.name +
                            "'; tune again with the current venue file",
                        ErrorKind::configuration);
        }
        if (entry.contains("amplifier") && entry.at("amplifier") != zone->amplifier) {
            throw Error(where + ": it was tuned for amplifier " + entry.at("amplifier").dump() + " but the venue wires the zone to '" +
                            zone->amplifier + "'; tune again with the current venue file",
                        ErrorKind::configuration);
        }
        if (entry.contains("channel") && entry.at("channel") != zone->channel) {
            throw Error(where + ": it was tuned for channel " + entry.at("channel").dump() +
                            " but the venue wires the zone to channel " + std::to_string(zone->channel) +
                            "; tune again with the current venue file",
                        ErrorKind::configuration);
        }

        ZoneTarget target;
        target.setting = settings.at(zone_name);
        if (entry.contains("polarity_inverted")) {
            if (!entry.at("polarity_inverted").is_boolean()) {
                throw Error(where + ": \"polarity_inverted\" must be true or false", ErrorKind::configuration);
            }
            target.polarity_inverted = entry.at("polarity_inverted").get<bool>();
        }
        targets[zone_name] = target;
    }
    return targets;
}

}  // namespace linetune::control
