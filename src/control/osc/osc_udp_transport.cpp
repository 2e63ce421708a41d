#include "osc_udp_transport.hpp"

#include "linetune/core/error.hpp"

#include <boost/asio/buffer.hpp>

namespace linetune::control {
namespace {

// Largest UDP payload: 65535 minus the 8-byte UDP and 20-byte IPv4 headers. A datagram is one
// OSC packet, so no valid reply is longer.
constexpr std::size_t max_datagram_bytes = 65507;

}  // namespace

std::string osc_udp_url(const boost::asio::ip::udp::endpoint& endpoint) {
    const auto address = endpoint.address();
    const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return "osc.udp://" + host + ":" + std::to_string(endpoint.port());
}

OscUdpTransport::OscUdpTransport(boost::asio::ip::udp::endpoint device)
    : socket_(io_context_), device_(std::move(device)), receive_buffer_(max_datagram_bytes + 1) {}

std::string OscUdpTransport::url() const { return osc_udp_url(device_); }

void OscUdpTransport::fail(const std::string& what, const boost::system::error_code& error) const {
    if (error == boost::asio::error::connection_refused) {
        throw Error(url() + ": " + what + " failed: nothing listens on that port (connection refused); start the "
                        "device or check the port in the venue file",
                    ErrorKind::device);
    }
    throw Error(url() + ": " + what + " failed: " + error.message(), ErrorKind::device);
}

void OscUdpTransport::open() {
    if (socket_.is_open()) {
        return;
    }
    boost::system::error_code error;
    socket_.open(device_.protocol(), error);
    if (!error) {
        // Connecting binds an ephemeral local port on the interface that reaches the device
        // (loopback for 127.0.0.1) and filters out datagrams from anyone else.
        socket_.connect(device_, error);
    }
    if (error) {
        boost::system::error_code ignored;
        socket_.close(ignored);
        fail("opening the UDP socket", error);
    }
}

void OscUdpTransport::send(std::span<const std::uint8_t> packet) {
    if (packet.size() > max_datagram_bytes) {
        throw Error(url() + ": an OSC packet of " + std::to_string(packet.size()) + " bytes exceeds the " +
                        std::to_string(max_datagram_bytes) + "-byte limit of one UDP datagram",
                    ErrorKind::configuration);
    }
    open();
    boost::system::error_code error;
    socket_.send(boost::asio::buffer(packet.data(), packet.size()), 0, error);
    if (error) {
        fail("sending", error);
    }
}

std::optional<std::vector<std::uint8_t>> OscUdpTransport::receive(std::chrono::milliseconds timeout) {
    open();
    std::optional<boost::system::error_code> result;
    std::size_t received_bytes = 0;
    socket_.async_receive(boost::asio::buffer(receive_buffer_),
                          [&result, &received_bytes](const boost::system::error_code& error, std::size_t bytes) {
                              result = error;
                              received_bytes = bytes;
                          });
    io_context_.restart();
    io_context_.run_for(timeout);

    if (!result) {
        // Timed out: cancel the receive and let its handler run, so that it does not fire into
        // this stack frame later. A datagram that arrived in the meantime still completes it.
        socket_.cancel();
        io_context_.restart();
        io_context_.run();
    }
    if (!result || *result == boost::asio::error::operation_aborted) {
        return std::nullopt;
    }
    if (*result) {
        fail("receiving", *result);
    }
    if (received_bytes > max_datagram_bytes) {
        throw Error(url() + ": received a datagram longer than " + std::to_string(max_datagram_bytes) + " bytes",
                    ErrorKind::device);
    }
    return std::vector<std::uint8_t>(receive_buffer_.begin(),
                                     receive_buffer_.begin() + static_cast<std::ptrdiff_t>(received_bytes));
}

void OscUdpTransport::discard_pending() {
    if (!socket_.is_open()) {
        return;
    }
    // A pending "connection refused" from an earlier send is dropped here too; if the device is
    // still away, the next send reports it again.
    boost::system::error_code error;
    while (socket_.available(error) > 0 && !error) {
        socket_.receive(boost::asio::buffer(receive_buffer_), 0, error);
    }
}

}  // namespace linetune::control
