#pragma once

#include "linetune/control/osc/osc_transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

namespace linetune::control {

/// OSC over UDP to one device endpoint. The socket is connected, so the kernel passes on only
/// datagrams from the device's address and port and reports an ICMP "port unreachable" as
/// connection refused.
class OscUdpTransport final : public OscPacketTransport {
public:
    explicit OscUdpTransport(boost::asio::ip::udp::endpoint device);

    [[nodiscard]] std::string url() const override;
    void open() override;
    void send(std::span<const std::uint8_t> packet) override;
    std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout) override;
    void discard_pending() override;

private:
    [[noreturn]] void fail(const std::string& what, const boost::system::error_code& error) const;

    boost::asio::io_context io_context_;
    boost::asio::ip::udp::socket socket_;
    boost::asio::ip::udp::endpoint device_;
    std::vector<std::uint8_t> receive_buffer_;
};

/// liblo-style URL of a UDP endpoint: "osc.udp://127.0.0.1:9000", "osc.udp://[::1]:9000".
std::string osc_udp_url(const boost::asio::ip::udp::endpoint& endpoint);

}  // namespace linetune::control
