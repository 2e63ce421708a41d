#pragma once

// Private to the control layer: the listening socket of the virtual amplifiers (OSC over TCP and
// AES70), which only ever listen on 127.0.0.1.

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>

namespace linetune::control {

/// Opens acceptor on 127.0.0.1:port (0: a free port) and starts listening. On failure the
/// acceptor is closed again and the error is returned, for the caller to word the message.
inline boost::system::error_code open_loopback_acceptor(boost::asio::ip::tcp::acceptor& acceptor, std::uint16_t port) {
    namespace asio = boost::asio;
    using asio::ip::tcp;
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
    boost::system::error_code error;
    acceptor.open(tcp::v4(), error);
    if (!error) {
        acceptor.set_option(tcp::acceptor::reuse_address(true), error);
    }
    if (!error) {
        acceptor.bind(endpoint, error);
    }
    if (!error) {
        acceptor.listen(asio::socket_base::max_listen_connections, error);
    }
    if (error) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
    }
    return error;
}

}  // namespace linetune::control
