#pragma once

#include "linetune/control/osc/osc_stream_framing.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace linetune::control {

/// Settings for OSC to one device model, read from the "control" object of its profile.
struct OscControlSettings {
    std::string transport = "udp";                 ///< "udp" or "tcp"
    /// Framing of packets over TCP; set exactly when the transport is "tcp".
    std::optional<OscStreamFraming> framing;
    /// Largest packet accepted from the device over TCP.
    std::size_t max_packet_bytes = osc_stream_default_max_packet_bytes;
    std::string address_scheme = "linetune-generic";
    std::chrono::milliseconds reply_timeout{500};  ///< wait for one reply before sending again
    std::size_t retries = 2;                       ///< sends after the first before giving up
    bool verified_on_real_device = false;          ///< allows hosts outside loopback
};

/// Reads and checks the profile's "control" object: protocol "osc", transport "udp" or "tcp"
/// (with framing "length-prefix" or "slip", and the optional max_packet_bytes), a known
/// address_scheme, and the optional reply_timeout_ms, retries and verified_on_real_device.
/// Throws Error (configuration) naming the profile and every problem, also when the profile has
/// no "control" object.
OscControlSettings read_osc_control_settings(const DeviceProfile& profile);

/// True when the profile's "control" object names protocol "osc"; false for other protocols and
/// for profiles without one. Throws nothing.
bool uses_osc(const DeviceProfile& profile);

}  // namespace linetune::control
