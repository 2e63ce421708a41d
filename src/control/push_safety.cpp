#include "linetune/control/push_safety.hpp"

#include "linetune/analysis/biquad.hpp"
#include "linetune/control/channel_loudness.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace linetune::control {
namespace {

std::string signed_db(double value) { return (value >= 0.0 ? "+" : "") + format_significant(value, 4) + " dB"; }

std::string quantity(double value, const char* unit) { return format_significant(value, 6) + " " + unit; }

const Zone* zone_named(const Venue& venue, const std::string& name) {
    for (const auto& zone : venue.zones) {
        if (zone.name == name) {
            return &zone;
        }
    }
    return nullptr;
}

const Amplifier* amplifier_named(const Venue& venue, const std::string& name) {
    for (const auto& amplifier : venue.amplifiers) {
        if (amplifier.name == name) {
            return &amplifier;
        }
    }
    return nullptr;
}

bool has_gain(analysis::FilterType type) {
    return type != analysis::FilterType::high_pass && type != analysis::FilterType::low_pass;
}

std::string offered_types(const EqCapabilities& eq) {
    std::string text;
    for (const auto kind : eq.filter_types) {
        text += (text.empty() ? "" : ", ") + std::string(to_string(kind));
    }
    return text;
}

/// Collects the violations of one zone.
class ZoneChecker {
public:
    ZoneChecker(std::vector<SafetyViolation>& violations, std::string zone) : violations_(violations), zone_(std::move(zone)) {}

    void add(std::string parameter, std::string value, std::string limit, std::string action) const {
        violations_.push_back({zone_, std::move(parameter), std::move(value), std::move(limit), std::move(action)});
    }

    /// Reports a number that is not finite; returns false for it.
    bool finite(const std::string& parameter, double value) const {
        if (std::isfinite(value)) {
            return true;
        }
        add(parameter, format_significant(value), "not a finite number", "fix the corrections file or tune again");
        return false;
    }

private:
    std::vector<SafetyViolation>& violations_;
    std::string zone_;
};

/// Checks one band; returns true when it can be evaluated as a biquad.
bool check_band(const ZoneChecker& check, std::size_t index, const analysis::ParametricBand& band,
                const Amplifier& amplifier, const PushSafetyLimits& safety) {
    const auto& eq = amplifier.limits.eq;
    const std::string name = "band " + std::to_string(index);
    const std::string retune = "tune again within amplifier '" + amplifier.name + "''s limits";
    const bool finite_freq = check.finite(name + " freq_hz", band.freq_hz);
    const bool finite_gain = check.finite(name + " gain_db", band.gain_db);
    const bool finite_q = check.finite(name + " q", band.q);
    bool valid = finite_freq && finite_gain && finite_q;
    if (!valid) {
        return false;
    }

    const auto kind = parse_filter_kind(analysis::to_string(band.type));
    if (!kind || !eq.offers(*kind)) {
        check.add(name + " type", std::string(analysis::to_string(band.type)),
                  "not offered by amplifier '" + amplifier.name + "' (it offers " + offered_types(eq) + ")", retune);
    }
    const double nyquist_hz = amplifier.profile.sample_rate_hz / 2.0;
    if (!eq.freq_hz.contains(band.freq_hz) || band.freq_hz >= nyquist_hz) {
        check.add(name + " freq_hz", quantity(band.freq_hz, "Hz"),
                  "outside the EQ frequency range " + format_significant(eq.freq_hz.min) + " to " +
                      format_significant(std::min(eq.freq_hz.max, nyquist_hz)) + " Hz of amplifier '" + amplifier.name + "'",
                  retune);
        valid = false;
    }
    if (!eq.q.contains(band.q) || !(band.q > 0.0)) {
        check.add(name + " q", format_significant(band.q), "outside the Q range " + format_significant(eq.q.min) + " to " +
                  format_significant(eq.q.max) + " of amplifier '" + amplifier.name + "'", retune);
        valid = valid && band.q > 0.0;
    }
    if (has_gain(band.type)) {
        if (band.gain_db > safety.max_band_boost_db) {
            check.add(name + " gain_db", signed_db(band.gain_db),
                      "above the limit " + signed_db(safety.max_band_boost_db) + " per band (safety.max_band_boost_db)",
                      "lower the band's boost, or raise safety.max_band_boost_db in the venue file");
        }
        if (!eq.gain_db.contains(band.gain_db)) {
            check.add(name + " gain_db", signed_db(band.gain_db),
                      "outside the EQ gain range " + signed_db(eq.gain_db.min) + " to " + signed_db(eq.gain_db.max) +
                          " of amplifier '" + amplifier.name + "'",
                      retune);
        }
    }
    return valid;
}

void check_delay(const ZoneChecker& check, double delay_ms, const Venue& venue, const Amplifier& amplifier) {
    if (!check.finite("delay_ms", delay_ms)) {
        return;
    }
    const double speed_m_per_s = speed_of_sound_m_per_s(venue.temperature_c);
    const double travel_ms = 1000.0 * venue.max_distance_m / speed_m_per_s;
    // The tuning bounds a delay by the travel time plus the profile's latency (it compensates
    // amplifiers of different latency), so the push allows the same plus the margin.
    const double latency_ms = amplifier.profile.latency_ms;
    const double limit_ms = travel_ms + latency_ms + venue.safety.delay_margin_ms;
    if (delay_ms < 0.0) {
        check.add("delay_ms", quantity(delay_ms, "ms"), "below 0 ms", "fix the corrections file or tune again");
    }
    if (delay_ms > limit_ms) {
        check.add("delay_ms", quantity(delay_ms, "ms"),
                  "above the limit " + format_fixed(limit_ms, 2) + " ms (max_distance_m " +
                      format_significant(venue.max_distance_m) + " m / c " + format_fixed(speed_m_per_s, 1) + " m/s = " +
                      format_fixed(travel_ms, 2) + " ms, plus the profile's latency " + format_significant(latency_ms) +
                      " ms and safety.delay_margin_ms " +
                      format_significant(venue.safety.delay_margin_ms) + " ms)",
                  "check the zone's arrival time (a reflection or a wrapped impulse response gives such delays), or "
                  "raise max_distance_m or safety.delay_margin_ms in the venue file");
    }
    if (delay_ms > amplifier.limits.delay_ms.max) {
        check.add("delay_ms", quantity(delay_ms, "ms"),
                  "above the delay limit " + quantity(amplifier.limits.delay_ms.max, "ms") + " of amplifier '" +
                      amplifier.name + "'",
                  "tune again within the amplifier's limits");
    }
}

void check_zone_target(const ZoneChecker& check, const ZoneTarget& requested, const Venue& venue, const Amplifier& amplifier) {
    const auto& limits = amplifier.limits;
    const ZoneTarget target = rounded_to_steps(requested, limits);
    const auto& setting = target.setting;

    if (check.finite("gain_db", setting.gain_db) && !limits.gain_db.contains(setting.gain_db)) {
        check.add("gain_db", signed_db(setting.gain_db),
                  "outside the gain range " + signed_db(limits.gain_db.min) + " to " + signed_db(limits.gain_db.max) +
                      " of amplifier '" + amplifier.name + "'",
                  "tune again within the amplifier's limits");
    }
    check_delay(check, setting.delay_ms, venue, amplifier);

    if (setting.bands.size() > owned_band_count(amplifier)) {
        check.add("bands", std::to_string(setting.bands.size()),
                  "more than the " + std::to_string(owned_band_count(amplifier)) + " bands linetune may use on amplifier '" +
                      amplifier.name + "' (eq.max_bands)",
                  "tune again within the amplifier's limits");
    }
    bool all_valid = true;
    for (std::size_t b = 0; b < setting.bands.size(); ++b) {
        all_valid = check_band(check, b + 1, setting.bands[b], amplifier, venue.safety) && all_valid;
    }
    if (!all_valid) {
        return;  // the sum needs every band as a valid biquad; the bad bands are reported above
    }

    std::vector<EqBandState> bands;
    for (const auto& band : setting.bands) {
        bands.push_back({true, parse_filter_kind(analysis::to_string(band.type)).value_or(FilterKind::peaking), band.freq_hz,
                         band.gain_db, band.q});
    }
    const auto peak = max_eq_sum_db(bands, amplifier.profile.sample_rate_hz);
    if (peak.magnitude_db > venue.safety.max_total_boost_db) {
        check.add("EQ sum at " + format_significant(peak.freq_hz, 4) + " Hz", signed_db(peak.magnitude_db),
                  "above the limit " + signed_db(venue.safety.max_total_boost_db) +
                      " summed over the bands (safety.max_total_boost_db)",
                  "reduce the overlapping boosts, or raise safety.max_total_boost_db in the venue file");
    }
}

/// Checks one journal snapshot of a channel before it is restored.
void check_restore_channel(const ZoneChecker& check, const ChannelState& snapshot, const Venue& venue,
                           const Amplifier& amplifier) {
    const auto& limits = amplifier.limits;
    const std::string action = "the journal holds a state linetune will not restore; check the journal, or set the "
                               "channel by hand and delete the journal";
    if (check.finite("gain_db", snapshot.gain_db) && !limits.gain_db.contains(snapshot.gain_db)) {
        check.add("gain_db", signed_db(snapshot.gain_db),
                  "outside the gain range " + signed_db(limits.gain_db.min) + " to " + signed_db(limits.gain_db.max) +
                      " of amplifier '" + amplifier.name + "'",
                  action);
    }
    if (check.finite("delay_ms", snapshot.delay_ms) &&
        !(snapshot.delay_ms >= 0.0 && snapshot.delay_ms <= limits.delay_ms.max)) {
        check.add("delay_ms", quantity(snapshot.delay_ms, "ms"),
                  "outside the delay range 0 to " + quantity(limits.delay_ms.max, "ms") + " of amplifier '" +
                      amplifier.name + "'",
                  action);
    }
    if (snapshot.bands.size() > owned_band_count(amplifier)) {
        check.add("bands", std::to_string(snapshot.bands.size()),
                  "more than the " + std::to_string(owned_band_count(amplifier)) + " bands linetune may use on amplifier '" +
                      amplifier.name + "' (eq.max_bands)",
                  action);
    }

    // A disabled band is silent, so only the device's ranges apply to it, not the boost limits.
    PushSafetyLimits disabled_band_safety = venue.safety;
    disabled_band_safety.max_band_boost_db = std::numeric_limits<double>::infinity();
    bool all_valid = true;
    for (std::size_t b = 0; b < snapshot.bands.size(); ++b) {
        const auto& band = snapshot.bands[b];
        const auto& safety = band.enabled ? venue.safety : disabled_band_safety;
        all_valid = check_band(check, b + 1, analysis::parametric_band_of(band), amplifier, safety) && all_valid;
    }
    if (!all_valid) {
        return;  // the sum needs every band as a valid biquad; the bad bands are reported above
    }
    const auto peak = max_eq_sum_db(snapshot.bands, amplifier.profile.sample_rate_hz);
    if (peak.magnitude_db > venue.safety.max_total_boost_db) {
        check.add("EQ sum at " + format_significant(peak.freq_hz, 4) + " Hz", signed_db(peak.magnitude_db),
                  "above the limit " + signed_db(venue.safety.max_total_boost_db) +
                      " summed over the enabled bands (safety.max_total_boost_db)",
                  action);
    }
}

}  // namespace

std::string SafetyViolation::describe() const {
    std::string text = "zone '" + zone + "': " + parameter;
    if (!value.empty()) {
        text += " " + value;
    }
    text += " is " + limit;
    if (!action.empty()) {
        text += "; " + action;
    }
    return text;
}

EqPeak max_eq_sum_db(const std::vector<EqBandState>& bands, double sample_rate_hz) {
    auto freq_hz = loudness_grid_hz(sample_rate_hz, 24.0);
    // A peak narrower than the grid spacing (Q 10 spans about 1/7 octave at half gain) is still
    // caught at its own frequency.
    for (const auto& band : bands) {
        if (band.enabled) {
            freq_hz.push_back(band.freq_hz);
        }
    }
    const auto sum_db = eq_magnitude_db(bands, freq_hz, sample_rate_hz);
    EqPeak peak{-std::numeric_limits<double>::infinity(), 0.0};
    for (std::size_t i = 0; i < freq_hz.size(); ++i) {
        if (sum_db[i] > peak.magnitude_db) {
            peak = {sum_db[i], freq_hz[i]};
        }
    }
    return peak;
}

std::vector<SafetyViolation> check_target_limits(const Venue& venue, const std::map<std::string, ZoneTarget>& targets) {
    std::vector<SafetyViolation> violations;
    for (const auto& [zone_name, target] : targets) {
        const ZoneChecker check(violations, zone_name);
        const Zone* zone = zone_named(venue, zone_name);
        if (zone == nullptr) {
            check.add("the zone", "", "not in venue '" + venue.name + "'", "use the corrections file made for this venue");
            continue;
        }
        const Amplifier* amplifier = amplifier_named(venue, zone->amplifier);
        if (amplifier == nullptr) {
            check.add("amplifier '" + zone->amplifier + "'", "", "not in venue '" + venue.name + "'",
                      "add it to \"amplifiers\" or fix the zone");
            continue;
        }
        if (amplifier->host.empty()) {
            check.add("amplifier '" + amplifier->name + "'", "",
                      "not reachable because the venue file gives it no \"host\" and \"port\"",
                      "add its control address, or enter the settings by hand from 'linetune tune --csv'");
        }
        check_zone_target(check, target, venue, *amplifier);
    }
    return violations;
}

std::vector<SafetyViolation> check_change_limits(const Venue& venue, const PushPlan& plan,
                                                 const std::map<std::string, ZoneTarget>& targets,
                                                 bool allow_polarity_change) {
    std::vector<SafetyViolation> violations;
    for (const auto& device : plan.devices) {
        for (const auto& channel : device.channels) {
            const ZoneChecker check(violations, channel.zone);
            if (!channel.snapshot_known) {
                // NOTE: without a snapshot the gain increase cannot be checked. The push lowers
                // the gain to the bottom of its range before the other writes instead.
                const auto target = targets.find(channel.zone);
                if (target != targets.end() && target->second.polarity_inverted && !allow_polarity_change) {
                    check.add("polarity_inverted", *target->second.polarity_inverted ? "true" : "false",
                              "requested on a device that cannot report its current polarity, which needs "
                              "--allow-polarity-change",
                              "check the wiring of the zone first, then push again with --allow-polarity-change");
                }
                continue;
            }
            const double increase_db = channel.target.gain_db - channel.snapshot.gain_db;
            if (increase_db > venue.safety.max_gain_increase_db) {
                check.add("gain_db", signed_db(channel.target.gain_db),
                          signed_db(increase_db) + " above the current " + signed_db(channel.snapshot.gain_db) +
                              ", more than the limit " + signed_db(venue.safety.max_gain_increase_db) +
                              " per push (safety.max_gain_increase_db)",
                          "raise the gain over several pushes with a measurement between, or raise "
                          "safety.max_gain_increase_db in the venue file");
            }
            if (channel.target.polarity_inverted != channel.snapshot.polarity_inverted && !allow_polarity_change) {
                check.add("polarity_inverted", channel.target.polarity_inverted ? "true" : "false",
                          "a change from the current polarity, which needs --allow-polarity-change",
                          "check the wiring of the zone first, then push again with --allow-polarity-change");
            }
        }
    }
    return violations;
}

std::vector<SafetyViolation> check_restore_limits(const Venue& venue, const PushPlan& journal) {
    std::vector<SafetyViolation> violations;
    for (const auto& device : journal.devices) {
        const Amplifier* amplifier = amplifier_named(venue, device.amplifier);
        if (amplifier == nullptr) {
            continue;  // the recovery rejects an amplifier the venue no longer has before this check
        }
        for (const auto& channel : device.channels) {
            if (channel.snapshot_known) {
                check_restore_channel(ZoneChecker(violations, channel.zone), channel.snapshot, venue, *amplifier);
            }
        }
    }
    return violations;
}

Error safety_error(const std::string& venue_name, const std::vector<SafetyViolation>& violations) {
    std::string message = "push to venue '" + venue_name + "' rejected, nothing was sent: " +
                          std::to_string(violations.size()) + " value(s) beyond the limits";
    for (const auto& violation : violations) {
        message += "\n  " + violation.describe();
    }
    return Error(message, ErrorKind::configuration);
}

}  // namespace linetune::control
