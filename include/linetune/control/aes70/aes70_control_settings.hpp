#pragma once

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace linetune::control {

/// Object numbers of one amplifier channel's AES70 objects, from the profile's object map.
struct Aes70ChannelObjects {
    OcaONo gain = 0;                  ///< OcaGain
    OcaONo mute = 0;                  ///< OcaMute
    OcaONo delay = 0;                 ///< OcaDelay or OcaDelayExtended
    std::optional<OcaONo> polarity;   ///< OcaPolarity; empty when the channel has none
    std::vector<OcaONo> bands;        ///< OcaFilterParametric per band, band 1 first
};

/// Role paths of one amplifier channel's AES70 objects ("Zone1/Gain"): the roles of the blocks
/// from the root block down to the object, joined by '/'. The driver resolves them to object
/// numbers when it connects.
struct Aes70ChannelRolePaths {
    std::string gain;
    std::string mute;
    std::string delay;
    std::optional<std::string> polarity;
    std::vector<std::string> bands;  ///< band 1 first
};

/// Settings for AES70 over OCP.1/TCP to one device model, read from the "control" object of its
/// profile.
struct Aes70ControlSettings {
    std::chrono::milliseconds reply_timeout{500};  ///< wait for one Response before giving up
    std::chrono::milliseconds heartbeat{1000};     ///< KeepAlive period; the link is lost after 3 of them
    bool verified_on_real_device = false;          ///< allows hosts outside loopback
    /// Largest command rate the device accepts; 0 means no limit. The driver spaces its commands
    /// to keep under it.
    double max_commands_per_s = 0.0;
    /// Object numbers per channel, channel 1 first. With role_paths they are 0 until the driver
    /// has resolved the paths on the device.
    std::vector<Aes70ChannelObjects> channels;
    /// Role paths per channel when the profile names objects by role path ("role_paths") instead
    /// of by object number ("objects"); empty otherwise.
    std::vector<Aes70ChannelRolePaths> role_paths;
};

/// Reads and checks the profile's "control" object: protocol "aes70", transport "tcp", either an
/// object map "objects" with one entry per profile channel and at least max_bands bands each, or
/// "role_paths" with a path pattern per parameter ("Zone{channel}/PEQ{band}"), and the optional
/// reply_timeout_ms, heartbeat_ms, max_commands_per_s and verified_on_real_device. Throws Error
/// (configuration) naming the profile and every problem.
Aes70ControlSettings read_aes70_control_settings(const DeviceProfile& profile);

/// Replaces every "{channel}" in pattern by channel and every "{band}" by band.
std::string expand_role_path(const std::string& pattern, std::size_t channel, std::size_t band);

/// True when the profile's "control" object names protocol "aes70". Throws nothing.
bool uses_aes70(const DeviceProfile& profile);

}  // namespace linetune::control
