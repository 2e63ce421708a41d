#include "linetune/control/device_settings.hpp"

#include "linetune/analysis/biquad.hpp"
#include "linetune/control/push_plan.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <algorithm>

namespace linetune::control {
namespace {

/// True when the band alters the response: it is enabled, and it is a pass filter or has a gain.
/// A peaking or shelving band at 0 dB is flat, which is how devices without per-band enable
/// leave an unused band.
bool changes_response(const EqBandState& band) {
    if (!band.enabled) {
        return false;
    }
    return band.type == FilterKind::high_pass || band.type == FilterKind::low_pass || band.gain_db != 0.0;
}

correction::ZoneSetting owned_setting(const ChannelState& state, std::size_t owned_bands) {
    correction::ZoneSetting setting;
    setting.gain_db = state.gain_db;
    setting.delay_ms = state.delay_ms;
    for (std::size_t b = 0; b < owned_bands && b < state.bands.size(); ++b) {
        if (state.bands[b].enabled) {
            setting.bands.push_back(analysis::parametric_band_of(state.bands[b]));
        }
    }
    return setting;
}

std::string band_text(const EqBandState& band) {
    return std::string(to_string(band.type)) + " " + format_fixed(band.freq_hz, 1) + " Hz " +
           (band.gain_db >= 0.0 ? "+" : "") + format_fixed(band.gain_db, 2) + " dB Q " + format_fixed(band.q, 2);
}

nlohmann::json band_json(const EqBandState& band) {
    return {{"type", std::string(to_string(band.type))},
            {"freq_hz", band.freq_hz},
            {"gain_db", band.gain_db},
            {"q", band.q}};
}

/// Reads the zones an amplifier drives into the reading.
void read_amplifier(const Venue& venue, const Amplifier& amplifier, DeviceDriver& driver,
                    DeviceSettingsReading& reading) {
    driver.connect();
    if (!driver.can_read_back()) {
        throw Error(driver.description() + " cannot report its values, so its settings cannot be read; give the "
                        "settings it held while measuring as a corrections file instead",
                    ErrorKind::configuration);
    }
    const std::size_t owned_bands = owned_band_count(amplifier);
    // The profile's bands above the venue's effective eq.max_bands are read too, to report them.
    const std::size_t device_bands = std::max(owned_bands, amplifier.profile.limits.eq.max_bands);
    for (const auto& zone : venue.zones) {
        if (zone.amplifier != amplifier.name) {
            continue;
        }
        const ChannelState state = read_channel_state(driver, zone.channel, device_bands);
        reading.applied[zone.name] = owned_setting(state, owned_bands);
        reading.channels[zone.name] = state;
        for (std::size_t b = owned_bands; b < state.bands.size(); ++b) {
            if (changes_response(state.bands[b])) {
                reading.unowned_bands.push_back({zone.name, amplifier.name, zone.channel, b + 1, state.bands[b]});
            }
        }
        const std::string where = "zone '" + zone.name + "' (" + driver.description() + ", channel " +
                                  std::to_string(zone.channel) + ")";
        if (state.mute) {
            reading.notes.push_back(where + " is muted now; measurements taken while it was muted hold no signal "
                                            "from it");
        }
        if (state.polarity_inverted) {
            reading.notes.push_back(where + " has its polarity inverted now; the tuning keeps it as measured");
        }
    }
}

}  // namespace

DeviceSettingsReading read_device_settings(const Venue& venue, const DriverFactory& make_driver) {
    DeviceSettingsReading reading;
    for (const auto& amplifier : venue.amplifiers) {
        const bool drives_a_zone = std::any_of(venue.zones.begin(), venue.zones.end(),
                                               [&](const Zone& zone) { return zone.amplifier == amplifier.name; });
        if (!drives_a_zone) {
            continue;
        }
        const auto driver = make_driver(amplifier);
        read_amplifier(venue, amplifier, *driver, reading);
    }
    return reading;
}

std::vector<std::string> describe_device_settings(const DeviceSettingsReading& reading) {
    std::vector<std::string> lines;
    for (const auto& [zone, setting] : reading.applied) {
        lines.push_back("zone '" + zone + "' holds now: gain " + format_fixed(setting.gain_db, 2) + " dB, delay " +
                        format_fixed(setting.delay_ms, 3) + " ms, " + std::to_string(setting.bands.size()) +
                        " enabled band(s) that linetune owns; their effect is removed before fitting");
    }
    for (const auto& band : reading.unowned_bands) {
        lines.push_back("zone '" + band.zone + "': band " + std::to_string(band.band) + " of amplifier '" +
                        band.amplifier + "' channel " + std::to_string(band.channel) + " (" + band_text(band.state) +
                        ") is not one linetune owns; it stays on the device and in the measurements");
    }
    for (const auto& note : reading.notes) {
        lines.push_back(note);
    }
    return lines;
}

nlohmann::json device_settings_json(const DeviceSettingsReading& reading) {
    nlohmann::json zones = nlohmann::json::array();
    for (const auto& [zone, setting] : reading.applied) {
        nlohmann::json bands = nlohmann::json::array();
        for (const auto& band : setting.bands) {
            bands.push_back({{"type", std::string(analysis::to_string(band.type))},
                             {"freq_hz", band.freq_hz},
                             {"gain_db", band.gain_db},
                             {"q", band.q}});
        }
        zones.push_back({{"zone", zone}, {"gain_db", setting.gain_db}, {"delay_ms", setting.delay_ms}, {"bands", bands}});
    }
    nlohmann::json unowned = nlohmann::json::array();
    for (const auto& band : reading.unowned_bands) {
        unowned.push_back({{"zone", band.zone},
                           {"amplifier", band.amplifier},
                           {"channel", band.channel},
                           {"band", band.band},
                           {"setting", band_json(band.state)}});
    }
    return {{"zones", zones}, {"unowned_bands", unowned}, {"notes", reading.notes}};
}

}  // namespace linetune::control
