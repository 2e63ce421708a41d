#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::control {

/// Faults the virtual amplifier injects so that drivers and the push transaction can be tested.
struct VirtualAmplifierFaults {
    /// Packets handled normally before an outage, counted from start() or set_faults(); empty
    /// for no outage. During the outage every packet is ignored: not applied, not answered.
    std::optional<std::size_t> drop_after_packets;
    /// Length of the outage from the first ignored packet; empty: it never ends.
    std::optional<std::chrono::milliseconds> outage;
    /// Sets to refuse: "all", a parameter kind name ("gain_db", "band_q") for every channel and
    /// band, or one address ("/ch/2/eq/3/freq_hz"). A refused set is answered with the old value
    /// and an "/error" message.
    std::vector<std::string> refused_parameters;
    /// Delay of every reply; the value changes when the packet arrives.
    std::chrono::milliseconds reply_delay{0};
};

/// Settings of a virtual amplifier.
struct VirtualAmplifierOptions {
    std::uint16_t port = 0;  ///< UDP or TCP port on 127.0.0.1; 0 lets the system pick a free one
    VirtualAmplifierFaults faults;
    /// Called on the server thread with the whole state after every packet that changed it.
    std::function<void(const AmplifierState&)> on_state_changed;
    /// Receives one line per start, stop, refused set and malformed packet; may be empty.
    std::function<void(std::string_view)> log;
};

/// An amplifier's OSC control endpoint in software. It speaks the address scheme that its
/// profile names ("linetune-generic" or "x32"), over UDP or over TCP with the profile's framing
/// (one reply per packet, on the connection that sent it). It serves queries and sets on
/// 127.0.0.1 from its own thread and keeps the values in a SharedAmplifierState, which the
/// simulated signal path reads. Like a real device, it checks
/// each value against the profile's ranges and rounds it to the profile's step. It also injects
/// faults. The messages of one bundle are applied together or, when one is refused, not at all.
class VirtualAmplifier {
public:
    /// Throws Error (configuration) when the state has more channels or bands than the profile,
    /// the profile's "control" object does not name OSC with a known address scheme, or a
    /// refused parameter names nothing.
    VirtualAmplifier(DeviceProfile profile, SharedAmplifierState& state, VirtualAmplifierOptions options = {});

    /// Stops the server.
    ~VirtualAmplifier();

    VirtualAmplifier(const VirtualAmplifier&) = delete;
    VirtualAmplifier& operator=(const VirtualAmplifier&) = delete;

    /// Binds 127.0.0.1 and starts the server thread; throws Error (device) when the port is taken.
    void start();

    /// Stops serving and joins the server thread; does nothing when not started.
    void stop();

    /// The bound UDP or TCP port; 0 before start().
    [[nodiscard]] std::uint16_t port() const;

    /// "osc.udp://127.0.0.1:PORT", or "osc.tcp://127.0.0.1:PORT" over TCP.
    [[nodiscard]] std::string url() const;

    /// Replaces the faults and restarts the packet count of drop_after_packets; throws Error
    /// (configuration) when a refused parameter names nothing.
    void set_faults(VirtualAmplifierFaults faults);

    /// Packets received since start(), ignored ones included.
    [[nodiscard]] std::size_t packets_received() const;

private:
    class Server;
    std::unique_ptr<Server> server_;
};

}  // namespace linetune::control
