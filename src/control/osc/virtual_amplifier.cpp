#include "linetune/control/osc/virtual_amplifier.hpp"

#include "../loopback_acceptor.hpp"
#include "osc_tcp_transport.hpp"
#include "osc_udp_transport.hpp"
#include "virtual_amplifier_protocol.hpp"

#include "linetune/control/osc/osc_control_settings.hpp"
#include "linetune/core/error.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace linetune::control {

namespace asio = boost::asio;
using boost::asio::ip::tcp;
using boost::asio::ip::udp;

namespace {

// Reply bytes a TCP connection may have waiting to be sent. A controller reads each reply before
// it sends the next request, so its queue contains a few replies of under 1 KiB; 1 MiB waiting means
// that it stopped reading, and the connection is closed instead of growing the queue further.
constexpr std::size_t max_queued_reply_bytes = 1u << 20;

/// One controller's TCP connection to the virtual amplifier: its partly received packet and the
/// replies waiting to be written, the front one being written now.
struct TcpConnection {
    TcpConnection(asio::io_context& io_context, OscStreamFraming framing, std::size_t max_packet_bytes)
        : socket(io_context), decoder(framing, max_packet_bytes), read_buffer(16384) {}

    tcp::socket socket;
    OscStreamDecoder decoder;
    std::vector<std::uint8_t> read_buffer;
    std::deque<std::vector<std::uint8_t>> write_queue;
    std::size_t queued_bytes = 0;
};

}  // namespace

/// The socket, thread and fault state behind a VirtualAmplifier.
class VirtualAmplifier::Server {
public:
    Server(DeviceProfile profile, SharedAmplifierState& state, VirtualAmplifierOptions options)
        : settings_(read_osc_control_settings(profile)),
          protocol_(std::move(profile), state),
          options_(std::move(options)),
          receive_buffer_(max_datagram_bytes) {
        protocol_.set_refused_parameters(options_.faults.refused_parameters);
        faults_ = options_.faults;
    }

    ~Server() { stop(); }

    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start() {
        if (thread_.joinable()) {
            return;
        }
        io_context_.restart();
        if (settings_.framing) {
            listen();
            accept_next();
        } else {
            bind();
            receive_next();
        }
        thread_ = std::thread([this] { run(); });
        log("virtual amplifier listening on " + url());
    }

    void stop() {
        if (!thread_.joinable()) {
            return;
        }
        asio::post(io_context_, [this] {
            boost::system::error_code ignored;
            socket_.close(ignored);
            acceptor_.close(ignored);
            for (const auto& connection : connections_) {
                connection->socket.close(ignored);
            }
            connections_.clear();
            io_context_.stop();
        });
        thread_.join();
        log("virtual amplifier on " + url() + " stopped");
    }

    [[nodiscard]] std::uint16_t port() const { return port_.load(); }

    [[nodiscard]] std::string url() const {
        if (settings_.framing) {
            return osc_tcp_url(tcp::endpoint(asio::ip::address_v4::loopback(), port()));
        }
        return osc_udp_url(udp::endpoint(asio::ip::address_v4::loopback(), port()));
    }

    void set_faults(VirtualAmplifierFaults faults) {
        std::lock_guard lock(mutex_);
        protocol_.set_refused_parameters(faults.refused_parameters);
        faults_ = std::move(faults);
        packets_since_faults_ = 0;
        outage_start_.reset();
    }

    [[nodiscard]] std::size_t packets_received() const { return packets_received_.load(); }

private:
    // Largest UDP payload over IPv4, so that any datagram fits the receive buffer whole.
    static constexpr std::size_t max_datagram_bytes = 65507;

    void bind() {
        const udp::endpoint endpoint(asio::ip::address_v4::loopback(), options_.port);
        boost::system::error_code error;
        socket_.open(udp::v4(), error);
        if (!error) {
            socket_.bind(endpoint, error);
        }
        if (error) {
            boost::system::error_code ignored;
            socket_.close(ignored);
            throw Error("virtual amplifier: cannot listen on " + osc_udp_url(endpoint) + ": " + error.message() +
                            "; choose another port, or port 0 for a free one",
                        ErrorKind::device);
        }
        port_ = socket_.local_endpoint().port();
    }

    void listen() {
        const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), options_.port);
        const boost::system::error_code error = open_loopback_acceptor(acceptor_, options_.port);
        if (error) {
            throw Error("virtual amplifier: cannot listen on " + osc_tcp_url(endpoint) + ": " + error.message() +
                            "; choose another port, or port 0 for a free one",
                        ErrorKind::device);
        }
        port_ = acceptor_.local_endpoint().port();
    }

    void accept_next() {
        auto connection = std::make_shared<TcpConnection>(io_context_, *settings_.framing, settings_.max_packet_bytes);
        acceptor_.async_accept(connection->socket, [this, connection](const boost::system::error_code& error) {
            if (error == asio::error::operation_aborted || !acceptor_.is_open()) {
                return;
            }
            if (!error) {
                boost::system::error_code ignored;
                connection->socket.set_option(tcp::no_delay(true), ignored);
                connections_.insert(connection);
                read_next(connection);
            }
            accept_next();
        });
    }

    void read_next(const std::shared_ptr<TcpConnection>& connection) {
        connection->socket.async_read_some(
            asio::buffer(connection->read_buffer),
            [this, connection](const boost::system::error_code& error, std::size_t bytes) {
                if (error == asio::error::operation_aborted || !connection->socket.is_open()) {
                    return;
                }
                if (error) {
                    // The controller closed the connection (end of stream) or it broke.
                    drop(connection, error == asio::error::eof ? std::string() : error.message());
                    return;
                }
                std::vector<std::vector<std::uint8_t>> packets;
                try {
                    packets = connection->decoder.feed(std::span(connection->read_buffer.data(), bytes));
                } catch (const Error& framing_error) {
                    drop(connection, framing_error.what());
                    return;
                }
                for (const auto& packet : packets) {
                    if (auto reply = handle_packet(packet, tcp_client_name(*connection))) {
                        send_reply(std::move(*reply), connection, faults_delay());
                    }
                }
                read_next(connection);
            });
    }

    /// Closes a controller's connection; a non-empty reason is logged.
    void drop(const std::shared_ptr<TcpConnection>& connection, const std::string& reason) {
        if (!reason.empty()) {
            log("virtual amplifier: closing a TCP connection: " + reason);
        }
        boost::system::error_code ignored;
        connection->socket.close(ignored);
        connections_.erase(connection);
    }

    void send_reply(std::vector<std::uint8_t> reply, const std::shared_ptr<TcpConnection>& connection,
                    std::chrono::milliseconds delay) {
        auto frame = frame_osc_packet(reply, *settings_.framing);
        if (delay.count() <= 0) {
            write_frame(std::move(frame), connection);
            return;
        }
        auto timer = std::make_shared<asio::steady_timer>(io_context_, delay);
        timer->async_wait([this, timer, frame = std::move(frame), connection](const boost::system::error_code& error) mutable {
            if (!error) {
                write_frame(std::move(frame), connection);
            }
        });
    }

    /// Queues a reply and starts writing it unless a write is under way, so that a controller
    /// that stops reading never blocks the server thread, which serves every controller.
    void write_frame(std::vector<std::uint8_t> frame, const std::shared_ptr<TcpConnection>& connection) {
        if (!connection->socket.is_open()) {
            return;
        }
        if (connection->queued_bytes + frame.size() > max_queued_reply_bytes) {
            drop(connection, "the controller stopped reading: " + std::to_string(connection->queued_bytes) +
                                 " reply bytes are waiting, the limit is " + std::to_string(max_queued_reply_bytes));
            return;
        }
        connection->queued_bytes += frame.size();
        connection->write_queue.push_back(std::move(frame));
        if (connection->write_queue.size() == 1) {
            write_next(connection);
        }
    }

    void write_next(const std::shared_ptr<TcpConnection>& connection) {
        asio::async_write(connection->socket, asio::buffer(connection->write_queue.front()),
                          [this, connection](const boost::system::error_code& error, std::size_t) {
                              if (error == asio::error::operation_aborted || !connection->socket.is_open()) {
                                  return;
                              }
                              if (error) {
                                  drop(connection, "reply failed: " + error.message());
                                  return;
                              }
                              connection->queued_bytes -= connection->write_queue.front().size();
                              connection->write_queue.pop_front();
                              if (!connection->write_queue.empty()) {
                                  write_next(connection);
                              }
                          });
    }

    std::chrono::milliseconds faults_delay() {
        std::lock_guard lock(mutex_);
        return faults_.reply_delay;
    }

    void run() {
        try {
            io_context_.run();
        } catch (const std::exception& error) {
            log(std::string("virtual amplifier stopped by an unexpected error: ") + error.what());
        }
    }

    void log(const std::string& line) const {
        if (options_.log) {
            options_.log(line);
        }
    }

    void receive_next() {
        socket_.async_receive_from(asio::buffer(receive_buffer_), sender_,
                                   [this](const boost::system::error_code& error, std::size_t bytes) {
                                       if (error == asio::error::operation_aborted || !socket_.is_open()) {
                                           return;
                                       }
                                       if (!error) {
                                           if (auto reply = handle_packet(std::span(receive_buffer_.data(), bytes),
                                                                          osc_udp_url(sender_))) {
                                               send_reply(std::move(*reply), sender_, faults_delay());
                                           }
                                       }
                                       receive_next();
                                   });
    }

    /// True when the drop fault swallows this packet; counts it either way.
    bool in_outage() {
        ++packets_since_faults_;
        if (!faults_.drop_after_packets || packets_since_faults_ <= *faults_.drop_after_packets) {
            return false;
        }
        const auto now = std::chrono::steady_clock::now();
        if (!outage_start_) {
            outage_start_ = now;
            log("virtual amplifier: outage started after " + std::to_string(*faults_.drop_after_packets) + " packets");
        }
        return !faults_.outage || now - *outage_start_ < *faults_.outage;
    }

    /// A client's name for the remote subscriptions: one per TCP connection, as a device sees it.
    static std::string tcp_client_name(const TcpConnection& connection) {
        return "tcp connection " + std::to_string(reinterpret_cast<std::uintptr_t>(&connection));
    }

    /// Applies one packet from a client and returns the reply to send; empty while an outage
    /// swallows packets and when the protocol sends nothing back.
    std::optional<std::vector<std::uint8_t>> handle_packet(std::span<const std::uint8_t> packet,
                                                           const std::string& client) {
        ++packets_received_;
        std::lock_guard lock(mutex_);
        if (in_outage()) {
            return std::nullopt;
        }
        auto outcome = protocol_.handle(packet, client, std::chrono::steady_clock::now());
        for (const auto& line : outcome.log_lines) {
            log("virtual amplifier: " + line);
        }
        if (outcome.state_changed && options_.on_state_changed) {
            try {
                options_.on_state_changed(outcome.state);
            } catch (const std::exception& error) {
                log(std::string("virtual amplifier: the state change callback failed: ") + error.what());
            }
        }
        if (outcome.reply.empty()) {
            return std::nullopt;
        }
        return std::move(outcome.reply);
    }

    void send_reply(std::vector<std::uint8_t> reply, const udp::endpoint& destination, std::chrono::milliseconds delay) {
        if (delay.count() <= 0) {
            send_now(reply, destination);
            return;
        }
        auto timer = std::make_shared<asio::steady_timer>(io_context_, delay);
        timer->async_wait([this, timer, reply = std::move(reply), destination](const boost::system::error_code& error) {
            if (!error) {
                send_now(reply, destination);
            }
        });
    }

    void send_now(const std::vector<std::uint8_t>& reply, const udp::endpoint& destination) {
        boost::system::error_code error;
        socket_.send_to(asio::buffer(reply), destination, 0, error);
        if (error) {
            log("virtual amplifier: reply to " + osc_udp_url(destination) + " failed: " + error.message());
        }
    }

    OscControlSettings settings_;
    VirtualAmplifierProtocol protocol_;
    VirtualAmplifierOptions options_;

    asio::io_context io_context_;
    udp::socket socket_{io_context_};
    // OSC over TCP, when the profile's control.transport is "tcp": the listening socket and the
    // open connections, touched only on the server thread.
    tcp::acceptor acceptor_{io_context_};
    std::set<std::shared_ptr<TcpConnection>> connections_;
    udp::endpoint sender_;
    std::vector<std::uint8_t> receive_buffer_;
    std::thread thread_;
    std::atomic<std::uint16_t> port_{0};
    std::atomic<std::size_t> packets_received_{0};

    // Guards the faults and the protocol's refusal rules, which set_faults changes from another thread.
    std::mutex mutex_;
    VirtualAmplifierFaults faults_;
    std::size_t packets_since_faults_ = 0;
    std::optional<std::chrono::steady_clock::time_point> outage_start_;
};

VirtualAmplifier::VirtualAmplifier(DeviceProfile profile, SharedAmplifierState& state, VirtualAmplifierOptions options)
    : server_(std::make_unique<Server>(std::move(profile), state, std::move(options))) {}

VirtualAmplifier::~VirtualAmplifier() = default;

void VirtualAmplifier::start() { server_->start(); }

void VirtualAmplifier::stop() { server_->stop(); }

std::uint16_t VirtualAmplifier::port() const { return server_->port(); }

std::string VirtualAmplifier::url() const { return server_->url(); }

void VirtualAmplifier::set_faults(VirtualAmplifierFaults faults) { server_->set_faults(std::move(faults)); }

std::size_t VirtualAmplifier::packets_received() const { return server_->packets_received(); }

}  // namespace linetune::control
