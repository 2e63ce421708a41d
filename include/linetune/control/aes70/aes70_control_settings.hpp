#pragma once

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <optional>
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

/// Settings for AES70 over OCP.1/TCP to one device model, read from the "control" object of its
/// profile.
struct Aes70ControlSettings {
    std::chrono::milliseconds reply_timeout{500};  ///< wait for one Response before giving up
    std::chrono::milliseconds heartbeat{1000};     ///< KeepAlive period; the link is lost after 3 of them
    bool verified_on_real_device = false;          ///< allows hosts outside loopback
    std::vector<Aes70ChannelObjects> channels;     ///< channel 1 first
};

/// Reads and checks the profile's "control" object: protocol "aes70", transport "tcp", an object
/// map "objects" with one entry per profile channel and at least max_bands bands each, and the
/// optional reply_timeout_ms, heartbeat_ms and verified_on_real_device. Throws Error
/// (configuration) naming the profile and every problem.
Aes70ControlSettings read_aes70_control_settings(const DeviceProfile& profile);

/// True when the profile's "control" object names protocol "aes70". Throws nothing.
bool uses_aes70(const DeviceProfile& profile);

}  // namespace linetune::control
