#pragma once

#include "linetune/core/device_driver.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <memory>
#include <optional>

namespace linetune::control {

/// Settings that override a profile's "control" object for every driver made.
struct DriverSettings {
    std::optional<std::chrono::milliseconds> reply_timeout;  ///< wait for one reply before sending again
    std::optional<std::size_t> retries;                      ///< sends after the first before giving up
    /// Only reads: over AES70 neither subscribes to changes nor locks objects, so that other
    /// controllers are never blocked by a read.
    bool read_only = false;
};

/// The driver of a venue amplifier, chosen by the "protocol" of its profile's "control" object and
/// aimed at the amplifier's host and port (OSC over UDP or TCP, or AES70 over OCP.1/TCP). Throws Error
/// (configuration) when the amplifier has no host, or its profile names no control protocol
/// linetune speaks.
std::unique_ptr<DeviceDriver> make_device_driver(const Amplifier& amplifier, const DriverSettings& settings = {});

}  // namespace linetune::control
