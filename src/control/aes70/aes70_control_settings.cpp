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

// A command rate above 10000 per second is beyond any device's control processor; below one per
// second a push of a few hundred writes would take minutes.
constexpr double min_commands_per_s = 1.0;
constexpr double max_commands_per_s = 10000.0;

constexpr std::array<std::string_view, 8> known_keys{"protocol",     "transport",          "reply_timeout_ms",
                                                     "heartbeat_ms", "objects",            "role_paths",
                                                     "verified_on_real_device", "max_commands_per_s"};
constexpr std::array<std::string_view, 5> known_channel_keys{"gain", "mute", "delay", "polarity", "bands"};
constexpr std::array<std::string_view, 5> known_role_path_keys{"gain", "mute", "delay", "polarity", "band"};

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
        problems.push_back("control.objects must hold \"channels\": a list with the object numbers of each channel "
                           "(or name the objects by \"role_paths\")");
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

/// Reads one role path pattern: a non-empty text of '/'-separated roles, none of them empty.
std::string read_path_pattern(const nlohmann::json& role_paths, std::string_view key, Problems& problems) {
    const std::string where = "control.role_paths." + std::string(key);
    const auto item = role_paths.find(key);
    if (item == role_paths.end()) {
        problems.push_back(where + " is missing");
        return {};
    }
    const std::string pattern = item->is_string() ? item->get<std::string>() : std::string();
    const bool empty_role = pattern.empty() || pattern.front() == '/' || pattern.back() == '/' ||
                            pattern.find("//") != std::string::npos;
    if (!item->is_string() || empty_role) {
        problems.push_back(where + " " + item->dump() +
                           " must be a role path such as \"Zone{channel}/Gain\": roles separated by '/', none empty");
        return {};
    }
    return pattern;
}

/// Reads "role_paths": one pattern per parameter, expanded for every channel and owned band.
void read_role_paths(const nlohmann::json& control, const DeviceProfile& profile, Aes70ControlSettings& settings,
                     Problems& problems) {
    const auto& role_paths = control["role_paths"];
    if (!role_paths.is_object()) {
        problems.push_back("control.role_paths must be an object of role path patterns (\"gain\", \"mute\", "
                           "\"delay\", \"band\", optional \"polarity\")");
        return;
    }
    for (const auto& [key, value] : role_paths.items()) {
        if (std::find(known_role_path_keys.begin(), known_role_path_keys.end(), key) == known_role_path_keys.end()) {
            problems.push_back("control.role_paths." + key + " is not a known key; remove it or fix its spelling");
        }
    }
    const std::string gain = read_path_pattern(role_paths, "gain", problems);
    const std::string mute = read_path_pattern(role_paths, "mute", problems);
    const std::string delay = read_path_pattern(role_paths, "delay", problems);
    const std::string band = read_path_pattern(role_paths, "band", problems);
    std::optional<std::string> polarity;
    if (role_paths.contains("polarity")) {
        polarity = read_path_pattern(role_paths, "polarity", problems);
    }
    if (!band.empty() && profile.limits.eq.max_bands > 1 && band.find("{band}") == std::string::npos) {
        problems.push_back("control.role_paths.band \"" + band + "\" has no {band}, so every band would be one object");
    }

    std::map<std::string, std::string> owners;
    for (std::size_t c = 1; c <= profile.channel_count; ++c) {
        Aes70ChannelRolePaths paths{expand_role_path(gain, c, 0), expand_role_path(mute, c, 0),
                                    expand_role_path(delay, c, 0), std::nullopt, {}};
        if (polarity) {
            paths.polarity = expand_role_path(*polarity, c, 0);
        }
        for (std::size_t b = 1; b <= profile.limits.eq.max_bands; ++b) {
            paths.bands.push_back(expand_role_path(band, c, b));
        }
        std::vector<std::string> all{paths.gain, paths.mute, paths.delay};
        all.insert(all.end(), paths.bands.begin(), paths.bands.end());
        if (paths.polarity) {
            all.push_back(*paths.polarity);
        }
        for (const auto& path : all) {
            const std::string where = "channel " + std::to_string(c);
            if (!path.empty() && !owners.emplace(path, where).second) {
                problems.push_back("control.role_paths give " + where + " the path \"" + path + "\" of " +
                                   owners[path] + "; every parameter needs its own object (use {channel} and {band})");
                return;
            }
        }
        settings.role_paths.push_back(std::move(paths));
        settings.channels.emplace_back();
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

std::string expand_role_path(const std::string& pattern, std::size_t channel, std::size_t band) {
    std::string path = pattern;
    const auto replace_all = [&path](std::string_view placeholder, const std::string& value) {
        for (auto at = path.find(placeholder); at != std::string::npos; at = path.find(placeholder, at + value.size())) {
            path.replace(at, placeholder.size(), value);
        }
    };
    replace_all("{channel}", std::to_string(channel));
    replace_all("{band}", std::to_string(band));
    return path;
}

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

    if (const auto rate = control.find("max_commands_per_s"); rate != control.end()) {
        if (!rate->is_number() || rate->get<double>() < min_commands_per_s || rate->get<double>() > max_commands_per_s) {
            problems.push_back("control.max_commands_per_s " + rate->dump() + " must be a number from 1 to 10000");
        } else {
            settings.max_commands_per_s = rate->get<double>();
        }
    }

    const bool by_number = control.contains("objects");
    const bool by_role = control.contains("role_paths");
    if (by_number && by_role) {
        problems.push_back("control has both \"objects\" and \"role_paths\"; keep one way of naming the objects");
    } else if (by_role) {
        read_role_paths(control, profile, settings, problems);
    } else {
        read_object_map(control, profile, settings, problems);
    }

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
