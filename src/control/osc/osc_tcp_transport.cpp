#include "osc_tcp_transport.hpp"

#include "linetune/core/error.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace linetune::control {
namespace {

// One read takes what the kernel holds up to this size; larger packets arrive over several reads.
constexpr std::size_t read_chunk_bytes = 16384;

}  // namespace

std::string osc_tcp_url(const boost::asio::ip::tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return "osc.tcp://" + host + ":" + std::to_string(endpoint.port());
}

OscTcpTransport::OscTcpTransport(boost::asio::ip::tcp::endpoint device, OscStreamFraming framing,
                                 std::size_t max_packet_bytes, std::chrono::milliseconds connect_timeout)
    : socket_(io_context_),
      device_(std::move(device)),
      connect_timeout_(connect_timeout),
      decoder_(framing, max_packet_bytes),
      read_buffer_(read_chunk_bytes) {}

std::string OscTcpTransport::url() const { return osc_tcp_url(device_); }

void OscTcpTransport::close() {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    decoder_.reset();
    received_packets_.clear();
}

void OscTcpTransport::fail(const std::string& what, const boost::system::error_code& error) {
    close();
    if (error == boost::asio::error::connection_refused) {
        throw Error(url() + ": " + what + " failed: nothing listens on that port (connection refused); start the "
                        "device or check the port in the venue file",
                    ErrorKind::device);
    }
    throw Error(url() + ": " + what + " failed: " + error.message(), ErrorKind::device);
}

void OscTcpTransport::open() {
    if (socket_.is_open()) {
        return;
    }
    std::optional<boost::system::error_code> result;
    socket_.async_connect(device_, [&result](const boost::system::error_code& error) { result = error; });
    io_context_.restart();
    io_context_.run_for(connect_timeout_);
    if (!result) {
        // Cancel by closing, then let the handler run so that it does not fire into this frame later.
        boost::system::error_code ignored;
        socket_.close(ignored);
        io_context_.restart();
        io_context_.run();
        throw Error(url() + ": connecting timed out after " + std::to_string(connect_timeout_.count()) +
                        " ms; check that the device is on and the host and port in the venue file",
                    ErrorKind::device);
    }
    if (*result) {
        fail("connecting", *result);
    }
    // Control messages are small and each waits for its reply, so Nagle's algorithm would only
    // add delay.
    boost::system::error_code ignored;
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
}

void OscTcpTransport::send(std::span<const std::uint8_t> packet) {
    const std::vector<std::uint8_t> frame = frame_osc_packet(packet, decoder_.framing());
    open();
    boost::system::error_code error;
    boost::asio::write(socket_, boost::asio::buffer(frame), error);
    if (error) {
        fail("sending", error);
    }
}

void OscTcpTransport::accept_bytes(std::size_t count) {
    try {
        for (auto& packet : decoder_.feed(std::span(read_buffer_.data(), count))) {
            received_packets_.push_back(std::move(packet));
        }
    } catch (const Error& error) {
        close();
        throw Error(url() + ": " + error.what(), ErrorKind::device);
    }
}

std::optional<std::vector<std::uint8_t>> OscTcpTransport::receive(std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    open();
    while (received_packets_.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        std::optional<boost::system::error_code> result;
        std::size_t received_bytes = 0;
        socket_.async_read_some(boost::asio::buffer(read_buffer_),
                                [&result, &received_bytes](const boost::system::error_code& error, std::size_t bytes) {
                                    result = error;
                                    received_bytes = bytes;
                                });
        io_context_.restart();
        io_context_.run_for(left);
        if (!result) {
            // Timed out: cancel the read and let its handler run. Bytes that arrived in the
            // meantime still complete it and are kept.
            socket_.cancel();
            io_context_.restart();
            io_context_.run();
        }
        if (result && !*result) {
            accept_bytes(received_bytes);
            continue;
        }
        if (!result || *result == boost::asio::error::operation_aborted) {
            return std::nullopt;
        }
        if (*result == boost::asio::error::eof || *result == boost::asio::error::connection_reset) {
            // The device closed the connection: the request is lost, as a UDP datagram can be,
            // and the driver's next attempt connects again.
            close();
            return std::nullopt;
        }
        fail("receiving", *result);
    }
    auto packet = std::move(received_packets_.front());
    received_packets_.pop_front();
    return packet;
}

void OscTcpTransport::discard_pending() {
    if (!socket_.is_open()) {
        return;
    }
    boost::system::error_code error;
    while (socket_.available(error) > 0 && !error) {
        const std::size_t count = socket_.read_some(boost::asio::buffer(read_buffer_), error);
        if (!error) {
            accept_bytes(count);
        }
    }
    received_packets_.clear();
}

}  // namespace linetune::control
