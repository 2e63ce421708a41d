#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/ocp1_device_model.hpp"

#include "linetune/core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <set>

namespace linetune::control {
namespace {

using Problems = std::vector<std::string>;

// AES70-3 reserves object numbers 0 to 4095 for the managers and the root block; application
// objects start at 4096 (AES70.js's conformance suite checks this).
constexpr OcaONo first_application_ono = 4096;

// Generated layout: channel n's objects lie in a window of 10000 numbers from n·10000, which
// keeps every number readable in a trace ("20013" is channel 2, band 3) and above 4095.
constexpr OcaONo channel_ono_stride = 10000;
constexpr OcaONo gain_offset = 1;
constexpr OcaONo mute_offset = 2;
constexpr OcaONo delay_offset = 3;
constexpr OcaONo polarity_offset = 4;
constexpr OcaONo first_band_offset = 10;  // band b at +10+b

Ocp1DeviceChannelRoles default_roles(std::size_t channel, std::size_t bands) {
    Ocp1DeviceChannelRoles roles;
    roles.block = "Zone" + std::to_string(channel);
    for (std::size_t b = 1; b <= bands; ++b) {
        roles.bands.push_back("PEQ" + std::to_string(b));
    }
    return roles;
}

Ocp1DeviceLayout generated_layout(const DeviceProfile& profile) {
    const std::size_t bands = profile.limits.eq.max_bands;
    if (bands + first_band_offset >= channel_ono_stride) {
        throw Error("profile '" + profile.name + "': " + std::to_string(bands) + " bands do not fit the " +
                        std::to_string(channel_ono_stride) + " object numbers of a channel in the AES70 tree",
                    ErrorKind::configuration);
    }
    const auto max_channels = std::numeric_limits<OcaONo>::max() / channel_ono_stride - 1;
    if (profile.channel_count > max_channels) {
        throw Error("profile '" + profile.name + "': " + std::to_string(profile.channel_count) +
                        " channels exceed the " + std::to_string(max_channels) + " that the AES70 tree can number",
                    ErrorKind::configuration);
    }

    Ocp1DeviceLayout layout;
    for (std::size_t c = 1; c <= profile.channel_count; ++c) {
        const auto base = static_cast<OcaONo>(c) * channel_ono_stride;
        Ocp1DeviceChannelObjects channel;
        channel.block = base;
        channel.gain = base + gain_offset;
        channel.mute = base + mute_offset;
        channel.delay = base + delay_offset;
        channel.polarity = base + polarity_offset;
        channel.roles = default_roles(c, bands);
        for (std::size_t b = 1; b <= bands; ++b) {
            channel.bands.push_back(base + first_band_offset + static_cast<OcaONo>(b));
        }
        layout.channels.push_back(std::move(channel));
    }
    return layout;
}

/// Splits a role path "BLOCK/OBJECT" into the channel block's role and the object's role. A path
/// of another depth, or a block that differs from the channel's first path, is recorded as a problem.
std::string object_role(const std::string& path, std::string& block, const std::string& where, Problems& problems) {
    const auto slash = path.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == path.size() ||
        path.find('/', slash + 1) != std::string::npos) {
        problems.push_back(where + " role path '" + path + "' is not of the form BLOCK/OBJECT, the only form the "
                           "virtual amplifier serves");
        return path;
    }
    const std::string path_block = path.substr(0, slash);
    if (block.empty()) {
        block = path_block;
    } else if (block != path_block) {
        problems.push_back(where + " role path '" + path + "' lies in block '" + path_block + "', but the channel's "
                           "gain lies in '" + block + "'; the virtual amplifier keeps a channel in one block");
    }
    return path.substr(slash + 1);
}

/// Roles of every channel from the profile's role paths; throws Error (configuration) listing
/// every path the virtual amplifier cannot serve.
std::vector<Ocp1DeviceChannelRoles> roles_from_paths(const DeviceProfile& profile,
                                                     const std::vector<Aes70ChannelRolePaths>& paths) {
    Problems problems;
    std::vector<Ocp1DeviceChannelRoles> all;
    for (std::size_t c = 0; c < paths.size(); ++c) {
        const auto& channel = paths[c];
        const std::string where = "channel " + std::to_string(c + 1);
        Ocp1DeviceChannelRoles roles;
        roles.gain = object_role(channel.gain, roles.block, where + " gain", problems);
        roles.mute = object_role(channel.mute, roles.block, where + " mute", problems);
        roles.delay = object_role(channel.delay, roles.block, where + " delay", problems);
        if (channel.polarity) {
            roles.polarity = object_role(*channel.polarity, roles.block, where + " polarity", problems);
        }
        for (std::size_t b = 0; b < channel.bands.size() && b < profile.limits.eq.max_bands; ++b) {
            roles.bands.push_back(
                object_role(channel.bands[b], roles.block, where + " band " + std::to_string(b + 1), problems));
        }
        all.push_back(std::move(roles));
    }
    if (!problems.empty()) {
        std::string message = "profile '" + profile.name + "': the AES70 virtual amplifier cannot build its tree:";
        for (const auto& problem : problems) {
            message += "\n  " + problem;
        }
        throw Error(message, ErrorKind::configuration);
    }
    return all;
}

/// Throws Error (configuration) when two objects of one block share a role, which would make
/// role paths ambiguous.
void require_unique_roles(const DeviceProfile& profile, const Ocp1DeviceLayout& layout) {
    std::set<std::string> blocks;
    for (std::size_t c = 0; c < layout.channels.size(); ++c) {
        const auto& roles = layout.channels[c].roles;
        std::vector<std::string> members{roles.gain, roles.mute, roles.delay};
        if (layout.channels[c].polarity) {
            members.push_back(roles.polarity);
        }
        members.insert(members.end(), roles.bands.begin(), roles.bands.end());
        std::set<std::string> seen;
        for (const auto& role : members) {
            if (!seen.insert(role).second) {
                throw Error("profile '" + profile.name + "': channel " + std::to_string(c + 1) + " has two objects "
                                "with the role '" + role + "'; give each object of a block its own role",
                            ErrorKind::configuration);
            }
        }
        if (!blocks.insert(roles.block).second) {
            throw Error("profile '" + profile.name + "': channels share the block role '" + roles.block +
                            "'; give each channel its own block",
                        ErrorKind::configuration);
        }
    }
}

/// The layout of an AES70 profile. An object map is kept, with a block per channel at n·10000 when
/// that number is free and otherwise at the next free number above every mapped one. Role paths
/// get generated numbers with the roles of the paths.
Ocp1DeviceLayout profile_layout(const DeviceProfile& profile) {
    const Aes70ControlSettings settings = read_aes70_control_settings(profile);
    if (!settings.role_paths.empty()) {
        Ocp1DeviceLayout layout = generated_layout(profile);
        const auto roles = roles_from_paths(profile, settings.role_paths);
        for (std::size_t c = 0; c < layout.channels.size() && c < roles.size(); ++c) {
            layout.channels[c].roles = roles[c];
            if (!settings.role_paths[c].polarity) {
                layout.channels[c].polarity.reset();
            }
        }
        return layout;
    }
    std::set<OcaONo> used;
    for (const auto& channel : settings.channels) {
        used.insert({channel.gain, channel.mute, channel.delay});
        used.insert(channel.bands.begin(), channel.bands.end());
        if (channel.polarity) {
            used.insert(*channel.polarity);
        }
    }
    if (!used.empty() && *used.begin() < first_application_ono) {
        throw Error("profile '" + profile.name + "': object number " + std::to_string(*used.begin()) +
                        " is reserved for managers (AES70 application objects start at 4096); the virtual "
                        "amplifier cannot serve this object map",
                    ErrorKind::configuration);
    }

    Ocp1DeviceLayout layout;
    OcaONo next_free = used.empty() ? first_application_ono : *used.rbegin() + 1;
    for (std::size_t c = 0; c < settings.channels.size(); ++c) {
        const auto& mapped = settings.channels[c];
        Ocp1DeviceChannelObjects channel;
        const auto preferred = static_cast<std::uint64_t>(c + 1) * channel_ono_stride;
        if (preferred <= std::numeric_limits<OcaONo>::max() && !used.contains(static_cast<OcaONo>(preferred))) {
            channel.block = static_cast<OcaONo>(preferred);
        } else {
            while (used.contains(next_free)) {
                ++next_free;
            }
            channel.block = next_free;
        }
        used.insert(channel.block);
        channel.gain = mapped.gain;
        channel.mute = mapped.mute;
        channel.delay = mapped.delay;
        channel.polarity = mapped.polarity;
        channel.bands.assign(mapped.bands.begin(),
                             mapped.bands.begin() + static_cast<std::ptrdiff_t>(profile.limits.eq.max_bands));
        channel.roles = default_roles(c + 1, channel.bands.size());
        layout.channels.push_back(std::move(channel));
    }
    return layout;
}

}  // namespace

Ocp1DeviceLayout ocp1_device_layout(const DeviceProfile& profile) {
    Ocp1DeviceLayout layout = generated_layout(profile);
    if (uses_aes70(profile)) {
        const auto control = nlohmann::json::parse(profile.control_json, nullptr, false);
        if (control.is_object() && (control.contains("objects") || control.contains("role_paths"))) {
            layout = profile_layout(profile);
        }
    }
    require_unique_roles(profile, layout);
    return layout;
}

}  // namespace linetune::control
