#pragma once

#include "linetune/control/osc/osc_stream_framing.hpp"
#include "linetune/control/osc/osc_transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <deque>

namespace linetune::control {

/// OSC over TCP to one device endpoint, each packet framed by a length prefix or SLIP. The
/// connection opens on the first use. When the device closes it, receive() reports no packet,
/// as a lost UDP reply does, and the next send() connects again.
class OscTcpTransport final : public OscPacketTransport {
public:
    /// connect_timeout bounds each connection attempt.
    OscTcpTransport(boost::asio::ip::tcp::endpoint device, OscStreamFraming framing, std::size_t max_packet_bytes,
                    std::chrono::milliseconds connect_timeout);

    [[nodiscard]] std::string url() const override;
    void open() override;
    void send(std::span<const std::uint8_t> packet) override;
    /// Throws Error (device) and closes the connection when the stream is out of step (a frame
    /// above the size limit or a broken SLIP escape).
    std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) override;
    void discard_pending() override;

private:
    [[noreturn]] void fail(const std::string& what, const boost::system::error_code& error);
    void close();
    /// Feeds received bytes to the decoder, queueing the packets they complete.
    void accept_bytes(std::size_t count);

    boost::asio::io_context io_context_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::ip::tcp::endpoint device_;
    std::chrono::milliseconds connect_timeout_;
    OscStreamDecoder decoder_;
    std::deque<std::vector<std::uint8_t>> received_packets_;
    std::vector<std::uint8_t> read_buffer_;
};

/// liblo-style URL of a TCP endpoint: "osc.tcp://127.0.0.1:9000", "osc.tcp://[::1]:9000".
std::string osc_tcp_url(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace linetune::control
