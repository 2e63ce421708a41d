#pragma once

#include "linetune/control/push_transaction.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/correction/tuning.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace linetune::control {

/// An enabled EQ band on a zone's channel above the bands linetune owns, such as a vendor preset.
/// It stays on the device after a push, so its effect stays in the measurements and the tuning
/// fits around it.
struct UnownedBand {
    std::string zone;
    std::string amplifier;
    std::size_t channel = 0;  ///< 1-based
    std::size_t band = 0;     ///< 1-based slot on the device
    EqBandState state;
};

/// The settings the amplifiers of a venue hold now, per zone.
struct DeviceSettingsReading {
    /// Per zone: gain, delay and the enabled bands among those linetune owns, which a tuning
    /// removes from the measurements (TuneOptions::applied).
    std::map<std::string, correction::ZoneSetting> applied;
    std::map<std::string, ChannelState> channels;  ///< per zone: everything read from its channel
    std::vector<UnownedBand> unowned_bands;        ///< enabled bands outside the owned slots, left as they are
    std::vector<std::string> notes;                ///< muted or polarity-inverted channels
};

/// Connects to every amplifier that drives a zone of the venue and reads each zone's channel:
/// gain, delay, mute, polarity, the bands linetune owns (1 to the effective eq.max_bands) and the
/// profile's further bands, which are reported as unowned when they are enabled and change the
/// response. Sends no write. Throws Error (device) naming the amplifier when it does not answer,
/// and Error (configuration) when its driver cannot be made or the device cannot report its values.
DeviceSettingsReading read_device_settings(const Venue& venue, const DriverFactory& make_driver);

/// One line per zone read, per unowned band and per note, for a terminal.
std::vector<std::string> describe_device_settings(const DeviceSettingsReading& reading);

/// The reading as JSON: "zones" (zone, gain_db, delay_ms, bands), "unowned_bands" and "notes".
nlohmann::json device_settings_json(const DeviceSettingsReading& reading);

}  // namespace linetune::control
