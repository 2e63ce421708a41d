#pragma once

#include "linetune/control/push_plan.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/venue.hpp"

#include <map>
#include <string>
#include <vector>

namespace linetune::control {

/// One value of a push beyond a limit.
struct SafetyViolation {
    std::string zone;
    std::string parameter;  ///< "gain_db", "band 2 gain_db", "EQ sum", "host", ...
    std::string value;      ///< the requested value with its unit
    std::string limit;      ///< the limit with its unit and where it comes from
    std::string action;     ///< what to change

    /// "zone 'Z': PARAMETER VALUE exceeds LIMIT; ACTION".
    [[nodiscard]] std::string describe() const;
};

/// Checks every zone target against the limits that need no snapshot. The zone must be in the
/// venue and its amplifier must have a control address. Every number must be finite and, rounded
/// to the device's steps, inside the amplifier's effective limits (band count, filter types,
/// frequency below Nyquist, EQ gain, Q, delay, output gain). Each band's gain is at most
/// safety.max_band_boost_db. The EQ's summed magnitude on a 1/24-octave grid (and at each band's
/// frequency) is at most safety.max_total_boost_db. The delay is at most max_distance_m / c +
/// safety.delay_margin_ms.
std::vector<SafetyViolation> check_target_limits(const Venue& venue, const std::map<std::string, ZoneTarget>& targets);

/// Checks what needs the snapshot: each zone's gain rises at most safety.max_gain_increase_db
/// above the snapshot, and no polarity changes unless allow_polarity_change is set. On a channel
/// whose snapshot is unknown (a device that cannot report values) any polarity the targets request
/// needs allow_polarity_change.
std::vector<SafetyViolation> check_change_limits(const Venue& venue, const PushPlan& plan,
                                                 const std::map<std::string, ZoneTarget>& targets,
                                                 bool allow_polarity_change);

/// Checks the snapshots of a push journal before they are restored: gain and delay inside the
/// amplifier's ranges, at most its owned band count, and every band inside its EQ ranges (type,
/// frequency below Nyquist, gain, Q). Enabled bands also obey safety.max_band_boost_db and their
/// summed magnitude safety.max_total_boost_db. safety.max_gain_increase_db and the delay limit
/// from max_distance_m do not apply: the state before a push was set by hand and may exceed them.
std::vector<SafetyViolation> check_restore_limits(const Venue& venue, const PushPlan& journal);

/// The configuration Error that lists every violation and states that nothing was sent.
Error safety_error(const std::string& venue_name, const std::vector<SafetyViolation>& violations);

/// Largest sum of the bands' magnitudes in dB over a 1/24-octave grid from 10 Hz to Nyquist and at
/// each band's own frequency, and the frequency where it occurs.
struct EqPeak {
    double magnitude_db = 0.0;
    double freq_hz = 0.0;
};
EqPeak max_eq_sum_db(const std::vector<EqBandState>& bands, double sample_rate_hz);

}  // namespace linetune::control
