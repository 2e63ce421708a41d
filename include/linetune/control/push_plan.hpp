#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/correction/tuning.hpp"

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace linetune::control {

/// The setting a push requests for one zone: the corrections file's delay, gain and EQ bands, and
/// optionally a polarity.
struct ZoneTarget {
    correction::ZoneSetting setting;
    std::optional<bool> polarity_inverted;  ///< empty: the channel keeps its polarity
};

/// One amplifier channel of a push: the zone it drives, its state before the push (snapshot) and
/// the state the push sets (target).
struct ChannelPlan {
    std::string zone;
    std::size_t channel = 0;  ///< 1-based
    ChannelState snapshot;  ///< equal to target when snapshot_known is false
    ChannelState target;
    bool snapshot_known = true;  ///< false on a device that cannot report its values
};

/// The channels a push changes on one amplifier.
struct DevicePlan {
    std::string amplifier;  ///< name of the amplifier in the venue
    std::string device;     ///< the driver's description: name and address
    std::vector<ChannelPlan> channels;
};

/// Everything a push changes, device by device, in the venue's amplifier order.
struct PushPlan {
    std::string venue_name;
    std::filesystem::path venue_file;
    std::vector<DevicePlan> devices;
};

/// Number of EQ bands linetune owns on each channel of the amplifier (its effective max_bands);
/// bands above it (presets, crossovers) are never read or written.
std::size_t owned_band_count(const Amplifier& amplifier);

/// The target with every number on the device's step grid (min + k·step, delay from 0 ms), which
/// is the value the device will hold and the one the safety limits are checked against.
ZoneTarget rounded_to_steps(const ZoneTarget& target, const ChannelLimits& limits);

/// Computes the channel state a zone target sets, starting from the snapshot. Bands 1..n of the
/// setting are enabled and the channel's other owned bands disabled, their shape kept. Gain and
/// delay come from the setting, mute from the snapshot, and polarity from the request or else the
/// snapshot. Numbers are rounded to the device's steps. A value that matches the snapshot within
/// the read-back tolerance keeps the snapshot's value, so that it is not written.
///
/// Without per_band_enable (a device that cannot switch single bands, such as the X32), every
/// band keeps the snapshot's enabled state, and an unused band becomes a 0 dB peaking band at its
/// frequency and Q, which is flat. Throws Error (configuration) when the setting has bands but the
/// snapshot's bands are off (the channel's EQ is switched off), because they would not be heard.
ChannelState target_channel_state(const ChannelState& snapshot, const ZoneTarget& target, const ChannelLimits& limits,
                                  bool per_band_enable = true);

/// Reads a corrections file for a push: per zone the setting (as read_zone_settings reads it) and
/// an optional "polarity_inverted" flag. Throws Error (configuration) naming the file and zone when
/// a zone's "amplifier" or "channel" differs from the venue's wiring, or a zone is not in the venue.
std::map<std::string, ZoneTarget> read_push_targets(const std::filesystem::path& corrections_path, const Venue& venue);

}  // namespace linetune::control
