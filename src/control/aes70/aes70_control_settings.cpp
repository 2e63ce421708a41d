#include "linetune/control/aes70/aes70_control_settings.hpp"

#include "../device_address.hpp"

#include "linetune/core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <string>
#include <string_view>

namespace linetune::control {
namespace {

// A Response slower than a minute means the device is gone, and a timeout below 1 ms expires
// before a reply can cross even loopback.
constexpr long long min_reply_timeout_ms = 1;
constexpr long long max_reply_timeout_ms = 60000;

// Each side sends a KeepAlive after one heartbeat of silence and drops the link after three.
// Below 200 ms a device that checks its timers every 100 ms (as the Node test device does) may
// drop a healthy link; above a minute a lost link goes unnoticed for minutes.
constexpr long long min_heartbeat_ms = 200;
constexpr long long max_heartbeat_ms = 60000;

constexpr std::array<std::string_view, 6> known_keys{"protocol",     "transport", "reply_timeout_ms",
                                                     "heartbeat_ms", "objects",   "verified_on_real_device"};
constexpr std::array<std::string_view, 5> known_channel_keys{"gain", "mute", "delay", "polarity", "bands"};

using Problems = std::vector<std::string>;

void read_integer(const nlohmann::json& control, std::string_view key, long long min, long long max,
                  std::string_view unit, long long& value, Problems& problems) {
    const auto item = control.find(key);
    if (item == control.end()) {
        return;
    }
    if (!item->is_number_integer() || item->get<long long>() < min || item->get<long long>() > max) {
        problems.push_back("control." + std::string(key) + " " + item->dump() + " must be a whole number from " +
                           std::to_string(min) + " to " + std::to_string(max) + std::string(unit));
        return;
    }
    value = item->get<long long>();
}

/// Reads an object number: a whole number from 1 to 2^32 − 1. Records a problem and returns 0 otherwise.
OcaONo read_ono(const nlohmann::json& item, const std::string& where, Problems& problems) {
    if (!item.is_number_unsigned() || item.get<unsigned long long>() == 0 ||
        item.get<unsigned long long>() > std::numeric_limits<OcaONo>::max()) {
        problems.push_back(where + " " + item.dump() + " must be an object number from 1 to 4294967295");
        return 0;
    }
    return static_cast<OcaONo>(item.get<unsigned long long>());
}

Aes70ChannelObjects read_channel(const nlohmann::json& entry, const std::string& where, Problems& problems) {
    Aes70ChannelObjects objects;
    if (!entry.is_object()) {
        problems.push_back(where + " must be an object {\"gain\": ONo, \"mute\": ONo, \"delay\": ONo, \"bands\": [...]}");
        return objects;
    }
    for (const auto& [key, value] : entry.items()) {
        if (std::find(known_channel_keys.begin(), known_channel_keys.end(), key) == known_channel_keys.end()) {
            problems.push_back(where + "." + key + " is not a known key; remove it or fix its spelling");
        }
    }
    const auto required = [&](std::string_view key, OcaONo& ono) {
        const auto item = entry.find(key);
        if (item == entry.end()) {
            problems.push_back(where + "." + std::string(key) + " is missing");
            return;
        }
        ono = read_ono(*item, where + "." + std::string(key), problems);
    };
    required("gain", objects.gain);
    required("mute", objects.mute);
    required("delay", objects.delay);
    if (const auto polarity = entry.find("polarity"); polarity != entry.end()) {
        objects.polarity = read_ono(*polarity, where + ".polarity", problems);
    }
    const auto bands = entry.find("bands");
    if (bands == entry.end() || !bands->is_array()) {
        problems.push_back(where + ".bands must be a list of OcaFilterParametric object numbers, band 1 first");
        return objects;
    }
    for (std::size_t b = 0; b < bands->size(); ++b) {
        objects.bands.push_back(read_ono((*bands)[b], where + ".bands[" + std::to_string(b) + "]", problems));
    }
    return objects;
}

/// Reads "objects": {"channels": [...]} and checks it against the profile's channels and bands.
void read_object_map(const nlohmann::json& control, const DeviceProfile& profile, Aes70ControlSettings& settings,
                     Problems& problems) {
    const auto objects = control.find("objects");
    if (objects == control.end() || !objects->is_object() || !objects->contains("channels") ||
        !(*objects)["channels"].is_array()) {
        problems.push_back("control.objects must hold \"channels\": a list with the object numbers of each channel");
        return;
    }
    const auto& channels = (*objects)["channels"];
    if (channels.size() != profile.channel_count) {
        problems.push_back("control.objects.channels lists " + std::to_string(channels.size()) +
                           " channels but the profile has " + std::to_string(profile.channel_count));
    }
    std::map<OcaONo, std::string> owners;
    for (std::size_t c = 0; c < channels.size(); ++c) {
        const std::string where = "control.objects.channels[" + std::to_string(c) + "]";
        auto channel = read_channel(channels[c], where, problems);
        if (channel.bands.size() < profile.limits.eq.max_bands) {
            problems.push_back(where + ".bands lists " + std::to_string(channel.bands.size()) +
                               " filters but eq.max_bands is " + std::to_string(profile.limits.eq.max_bands));
        }
        std::vector<OcaONo> all{channel.gain, channel.mute, channel.delay};
        all.insert(all.end(), channel.bands.begin(), channel.bands.end());
        if (channel.polarity) {
            all.push_back(*channel.polarity);
        }
        for (const OcaONo ono : all) {
            if (ono != 0 && !owners.emplace(ono, where).second) {
                problems.push_back(where + " reuses object number " + std::to_string(ono) + " of " + owners[ono] +
                                   "; every parameter needs its own object");
            }
        }
        settings.channels.push_back(std::move(channel));
    }
}

void read_text_fields(const nlohmann::json& control, Aes70ControlSettings& settings, Problems& problems) {
    if (control.value("protocol", std::string()) != "aes70") {
        problems.push_back("control.protocol must be \"aes70\" for the AES70 driver");
    }
    const auto transport = control.find("transport");
    if (transport == control.end() || *transport != "tcp") {
        problems.push_back("control.transport " +
                           (transport == control.end() ? std::string("is missing") : transport->dump()) +
                           "; AES70 runs over OCP.1 \"tcp\" (UDP and WebSocket are not supported yet)");
    }
    detail::read_verified_flag(control, settings.verified_on_real_device, problems);
}

}  // namespace

bool uses_aes70(const DeviceProfile& profile) {
    const auto control = nlohmann::json::parse(profile.control_json, nullptr, false);
    return control.is_object() && control.value("protocol", std::string()) == "aes70";
}

Aes70ControlSettings read_aes70_control_settings(const DeviceProfile& profile) {
    const std::string head = "profile '" + profile.name + "'";
    const auto control = nlohmann::json::parse(profile.control_json, nullptr, false);
    if (!control.is_object()) {
        throw Error(head + " has no \"control\" object, so linetune cannot reach the device; add one (see "
                           "docs/control-aes70.md)",
                    ErrorKind::configuration);
    }

    Aes70ControlSettings settings;
    Problems problems;
    for (const auto& [key, value] : control.items()) {
        if (std::find(known_keys.begin(), known_keys.end(), key) == known_keys.end()) {
            problems.push_back("control." + key + " is not a known key; remove it or fix its spelling");
        }
    }
    read_text_fields(control, settings, problems);

    long long timeout_ms = settings.reply_timeout.count();
    read_integer(control, "reply_timeout_ms", min_reply_timeout_ms, max_reply_timeout_ms, " ms", timeout_ms, problems);
    settings.reply_timeout = std::chrono::milliseconds(timeout_ms);

    long long heartbeat_ms = settings.heartbeat.count();
    read_integer(control, "heartbeat_ms", min_heartbeat_ms, max_heartbeat_ms, " ms", heartbeat_ms, problems);
    settings.heartbeat = std::chrono::milliseconds(heartbeat_ms);

    read_object_map(control, profile, settings, problems);

    if (!problems.empty()) {
        std::string message = head + ":";
        for (const auto& problem : problems) {
            message += "\n  " + problem;
        }
        throw Error(message, ErrorKind::configuration);
    }
    return settings;
}

}  // namespace linetune::control
