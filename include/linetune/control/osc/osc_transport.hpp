#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::control {

/// A connection that carries whole OSC packets to one device and back: one datagram per packet
/// over UDP. Stream transports add a framing (length prefix or SLIP) behind the same calls.
/// Every call throws Error (ErrorKind::device) naming url() when the operating system reports a
/// failure.
class OscPacketTransport {
public:
    virtual ~OscPacketTransport() = default;

    /// The device's address as a liblo-style URL ("osc.udp://127.0.0.1:9000").
    [[nodiscard]] virtual std::string url() const = 0;

    /// Opens the socket; calling it again on an open transport does nothing.
    virtual void open() = 0;

    /// Sends one packet.
    virtual void send(std::span<const std::uint8_t> packet) = 0;

    /// The next packet from the device; empty when none arrives within the timeout.
    virtual std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) = 0;

    /// Drops packets that have arrived but were not read yet (late replies to earlier requests).
    virtual void discard_pending() = 0;
};

}  // namespace linetune::control
