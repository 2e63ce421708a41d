#pragma once

#include "linetune/control/aes70/ocp1_message.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::control {

/// Settings of one OCP.1/TCP controller connection.
struct Aes70ConnectionOptions {
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds reply_timeout{500};  ///< wait for one Response before giving up
    /// KeepAlive period sent to the device: each side sends a KeepAlive after one period of
    /// silence, and the link counts as lost after three periods without any message.
    std::chrono::milliseconds heartbeat{1000};
    /// Receives each EV1 notification on the connection's network thread; may be empty.
    std::function<void(const Ocp1Notification&)> on_notification;
    /// Receives one line per lost link and per ignored message; may be empty.
    std::function<void(std::string_view)> log;
};

/// One command of a batch: the object, the method and its encoded parameters.
struct Aes70Request {
    OcaONo target = 0;
    OcaMethodId method;
    std::uint8_t parameter_count = 0;
    std::vector<std::uint8_t> parameters;
};

/// The result of one command of a batch: its Response, whatever its status, or the reason no
/// Response came (the same text call() would throw).
struct Aes70Reply {
    std::optional<Ocp1Response> response;
    std::string failure;  ///< empty when response is set
};

/// A controller's OCP.1 connection over TCP. A network thread reads every message, matches each
/// Response to its command by handle, passes notifications on and keeps the link alive; call()
/// may be used from any thread. Every failure throws Error (device) starting with the
/// connection's description.
class Aes70Connection {
public:
    /// description names the device in messages ("amplifier 'amp-1' (ocp1.tcp://127.0.0.1:65032)").
    Aes70Connection(std::string description, Aes70ConnectionOptions options);
    ~Aes70Connection();

    Aes70Connection(const Aes70Connection&) = delete;
    Aes70Connection& operator=(const Aes70Connection&) = delete;

    /// Connects, starts the network thread and sends the first KeepAlive. Throws Error (device)
    /// when the connection is refused or does not complete within connect_timeout.
    void open(const boost::asio::ip::tcp::endpoint& endpoint);

    /// Sends a CommandResponseRequired and returns its Response, whatever its status. Throws Error
    /// (device) when no Response arrives within reply_timeout or the link is lost.
    Ocp1Response call(OcaONo target, OcaMethodId method, std::uint8_t parameter_count,
                      std::vector<std::uint8_t> parameters);

    /// Sends the commands several per message without waiting between them and returns one reply
    /// per command, in the order given; Responses are matched to commands by handle. A command
    /// whose Response does not come within reply_timeout of the previous one (or of sending),
    /// or that the lost link cuts off, gets a failure instead. Throws Error (device) only when
    /// the connection is not open.
    std::vector<Aes70Reply> call_batch(std::vector<Aes70Request> requests);

    /// Closes the socket and stops the network thread; pending calls fail. Safe to call twice.
    void close();

    /// False before open(), after close() and once the link is lost.
    [[nodiscard]] bool is_open() const;

    [[nodiscard]] const std::string& description() const;

private:
    class State;
    std::unique_ptr<State> state_;
};

}  // namespace linetune::control
