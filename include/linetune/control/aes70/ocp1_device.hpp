#pragma once

#include "linetune/control/aes70/ocp1_device_model.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace linetune::control {

/// Settings of an AES70 virtual amplifier.
struct VirtualAes70AmplifierOptions {
    std::uint16_t port = 0;  ///< TCP port on 127.0.0.1; 0 lets the system pick a free one
    /// The faults of the OSC virtual amplifier, applied to OCP.1: drop_after_packets counts
    /// command messages (KeepAlives are not counted), a refused Set returns ProcessingFailed, and
    /// reply_delay delays every Response.
    VirtualAmplifierFaults faults;
    /// Controllers connected at once; a further connection is accepted and closed at once.
    std::size_t max_controllers = 32;
    Ocp1DeviceIdentity identity;
    /// Called on the server thread with the whole state after every command that changed it,
    /// before the Response is sent.
    std::function<void(const AmplifierState&)> on_state_changed;
    /// Receives one line per start, stop, connection, refused set and protocol error; may be empty.
    std::function<void(std::string_view)> log;
};

/// An amplifier's AES70 endpoint in software: an OCP.1/TCP device on 127.0.0.1 with its own
/// thread, serving the object tree of Ocp1DeviceModel to several controllers at once. It keeps
/// its values in a SharedAmplifierState, the same one the OSC virtual amplifier and the
/// simulated signal path use. It reassembles messages that TCP splits or joins, keeps each
/// connection alive by the KeepAlive rules (a KeepAlive after one heartbeat of silence, the
/// connection closed after three heartbeats without a message), delivers PropertyChanged
/// notifications to subscribers and injects faults.
class VirtualAes70Amplifier {
public:
    /// Throws Error (configuration) when the state does not fit the profile, the profile's
    /// object map is invalid, or a refused parameter names nothing.
    VirtualAes70Amplifier(DeviceProfile profile, SharedAmplifierState& state, VirtualAes70AmplifierOptions options = {});

    /// Stops the server.
    ~VirtualAes70Amplifier();

    VirtualAes70Amplifier(const VirtualAes70Amplifier&) = delete;
    VirtualAes70Amplifier& operator=(const VirtualAes70Amplifier&) = delete;

    /// Listens on 127.0.0.1 and starts the server thread; throws Error (device) when the port is taken.
    void start();

    /// Closes every connection and joins the server thread; does nothing when not started.
    void stop();

    /// The bound TCP port; 0 before start().
    [[nodiscard]] std::uint16_t port() const;

    /// "ocp1.tcp://127.0.0.1:PORT".
    [[nodiscard]] std::string url() const;

    /// Object numbers of the tree it serves.
    [[nodiscard]] const Ocp1DeviceLayout& layout() const;

    /// Replaces the faults and restarts the message count of drop_after_packets; throws Error
    /// (configuration) when a refused parameter names nothing.
    void set_faults(VirtualAmplifierFaults faults);

    /// Command messages received since start(), ignored ones included.
    [[nodiscard]] std::size_t commands_received() const;

    /// Controllers connected now.
    [[nodiscard]] std::size_t controllers_connected() const;

private:
    class Server;
    std::unique_ptr<Server> server_;
};

}  // namespace linetune::control
