#include "linetune/control/aes70/ocp1_device.hpp"

#include "linetune/core/error.hpp"

#include "../loopback_acceptor.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace linetune::control {

namespace asio = boost::asio;
using boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Bytes read from the socket at a time; a message may span many reads or share one with others.
constexpr std::size_t read_chunk_bytes = 16384;

// The KeepAlive rules are checked every tenth of a heartbeat, within 10 to 100 ms: often enough
// that a KeepAlive leaves at most 10 % of a heartbeat late, and rarely enough to cost nothing.
constexpr std::chrono::milliseconds min_keep_alive_tick{10};
constexpr std::chrono::milliseconds max_keep_alive_tick{100};

// Each side drops the link after this many heartbeats without receiving anything.
constexpr int heartbeats_before_close = 3;

// Bytes a connection may have waiting to be written (responses, notifications, KeepAlives). 1 MiB
// is hundreds of full object-tree responses; more means the controller stopped reading, and the
// connection is closed instead of growing the queue further.
constexpr std::size_t max_queued_bytes = 1u << 20;

std::string url_of(std::uint16_t port) { return "ocp1.tcp://127.0.0.1:" + std::to_string(port); }

}  // namespace

/// The acceptor, connections, thread and fault state behind a VirtualAes70Amplifier.
class VirtualAes70Amplifier::Server {
public:
    Server(DeviceProfile profile, SharedAmplifierState& state, VirtualAes70AmplifierOptions options)
        : model_(std::move(profile), state, options.identity), options_(std::move(options)) {
        model_.set_refused_parameters(options_.faults.refused_parameters);
        faults_ = options_.faults;
    }

    ~Server() { stop(); }

    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void start() {
        if (thread_.joinable()) {
            return;
        }
        listen();
        io_context_.restart();
        accept_next();
        thread_ = std::thread([this] { run(); });
        log("AES70 virtual amplifier listening on " + url());
    }

    void stop();

    [[nodiscard]] std::uint16_t port() const { return port_.load(); }
    [[nodiscard]] std::string url() const { return url_of(port()); }
    [[nodiscard]] const Ocp1DeviceLayout& layout() const { return model_.layout(); }
    [[nodiscard]] std::size_t commands_received() const { return commands_received_.load(); }
    [[nodiscard]] std::size_t controllers_connected() const { return controllers_connected_.load(); }

    void set_faults(VirtualAmplifierFaults faults) {
        std::lock_guard lock(mutex_);
        model_.set_refused_parameters(faults.refused_parameters);
        faults_ = std::move(faults);
        messages_since_faults_ = 0;
        outage_start_.reset();
    }

private:
    class Connection;

    void listen() {
        const boost::system::error_code error = open_loopback_acceptor(acceptor_, options_.port);
        if (error) {
            throw Error("AES70 virtual amplifier: cannot listen on " + url_of(options_.port) + ": " + error.message() +
                            "; choose another port, or port 0 for a free one",
                        ErrorKind::device);
        }
        port_ = acceptor_.local_endpoint().port();
    }

    void run() {
        try {
            io_context_.run();
        } catch (const std::exception& error) {
            log(std::string("AES70 virtual amplifier stopped by an unexpected error: ") + error.what());
        }
    }

    void log(const std::string& line) const {
        if (options_.log) {
            options_.log(line);
        }
    }

    void accept_next();
    void handle_message(Connection& connection, std::span<const std::uint8_t> bytes);
    void handle_commands(Connection& connection, const Ocp1Message& message);
    void deliver(const std::vector<Ocp1Delivery>& deliveries);
    void forget(Ocp1ControllerId id);

    /// True when the drop fault swallows this command message; counts it either way.
    bool swallow_command_message() {
        ++messages_since_faults_;
        if (!faults_.drop_after_packets || messages_since_faults_ <= *faults_.drop_after_packets) {
            return false;
        }
        if (!outage_start_) {
            outage_start_ = Clock::now();
            log("AES70 virtual amplifier: outage started after " + std::to_string(*faults_.drop_after_packets) +
                " command messages");
        }
        return in_outage();
    }

    /// True during an outage, when the device sends nothing, not even KeepAlives.
    bool device_silenced() const {
        std::lock_guard lock(mutex_);
        return in_outage();
    }

    /// True while an outage that has started lasts.
    bool in_outage() const {
        return outage_start_ && (!faults_.outage || Clock::now() - *outage_start_ < *faults_.outage);
    }

    Ocp1DeviceModel model_;
    VirtualAes70AmplifierOptions options_;

    asio::io_context io_context_;
    tcp::acceptor acceptor_{io_context_};
    std::thread thread_;
    std::atomic<std::uint16_t> port_{0};
    std::atomic<std::size_t> commands_received_{0};
    std::atomic<std::size_t> controllers_connected_{0};
    Ocp1ControllerId next_controller_id_ = 1;
    std::map<Ocp1ControllerId, std::shared_ptr<Connection>> connections_;

    // Guards the faults and the model, which set_faults changes from another thread.
    mutable std::mutex mutex_;
    VirtualAmplifierFaults faults_;
    std::size_t messages_since_faults_ = 0;
    std::optional<Clock::time_point> outage_start_;
};

/// One controller's TCP connection: reassembles messages, queues writes and keeps the link alive.
class VirtualAes70Amplifier::Server::Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server& server, tcp::socket socket, Ocp1ControllerId id)
        : server_(server), socket_(std::move(socket)), keep_alive_timer_(server.io_context_), id_(id) {
        boost::system::error_code ignored;
        const auto peer = socket_.remote_endpoint(ignored);
        peer_ = peer.address().to_string() + ":" + std::to_string(peer.port());
        socket_.set_option(tcp::no_delay(true), ignored);
        last_received_ = last_sent_ = Clock::now();
    }

    void start() { read_next(); }

    [[nodiscard]] Ocp1ControllerId id() const { return id_; }
    [[nodiscard]] const std::string& peer() const { return peer_; }

    /// Adopts the controller's heartbeat and sends KeepAlives in the form the controller used.
    void adopt_heartbeat(const Ocp1KeepAlive& keep_alive) {
        if (keep_alive.heartbeat.count() <= 0) {
            // A heartbeat of 0 would close the link at once; the link keeps its previous rule instead.
            server_.log("AES70 virtual amplifier: controller " + std::to_string(id_) +
                        " sent a KeepAlive of 0 ms; ignored");
            return;
        }
        const bool first = heartbeat_.count() == 0;
        heartbeat_ = keep_alive.heartbeat;
        milliseconds_form_ = keep_alive.milliseconds_form || heartbeat_.count() % 1000 != 0;
        if (first) {
            schedule_keep_alive_check();
        }
    }

    void send(std::vector<std::uint8_t> message) {
        if (closed_) {
            return;
        }
        if (queued_bytes_ + message.size() > max_queued_bytes) {
            close("the controller stopped reading: " + std::to_string(queued_bytes_) +
                  " bytes are waiting to be sent, the limit is " + std::to_string(max_queued_bytes));
            return;
        }
        last_sent_ = Clock::now();
        queued_bytes_ += message.size();
        queue_.push_back(std::move(message));
        if (queue_.size() == 1) {
            write_next();
        }
    }

    void close(const std::string& reason) {
        if (closed_) {
            return;
        }
        closed_ = true;
        boost::system::error_code ignored;
        keep_alive_timer_.cancel();
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        server_.log("AES70 virtual amplifier: controller " + std::to_string(id_) + " (" + peer_ +
                    ") disconnected: " + reason);
        server_.forget(id_);
    }

private:
    void read_next() {
        auto on_read = [self = shared_from_this()](const boost::system::error_code& error, std::size_t bytes) {
            self->on_read(error, bytes);
        };
        socket_.async_read_some(asio::buffer(chunk_), std::move(on_read));
    }

    void on_read(const boost::system::error_code& error, std::size_t bytes) {
        if (closed_) {
            return;
        }
        if (error) {
            close(error == asio::error::eof ? "the controller closed the connection" : error.message());
            return;
        }
        last_received_ = Clock::now();
        pending_.insert(pending_.end(), chunk_.begin(), chunk_.begin() + static_cast<std::ptrdiff_t>(bytes));
        try {
            take_whole_messages();
        } catch (const std::exception& failure) {
            close(std::string("protocol error: ") + failure.what());
            return;
        }
        // Handling may take long (a state file written per Set on a busy disk), so the link
        // counts as heard until the handling ends, not only until the bytes arrived.
        last_received_ = Clock::now();
        if (!closed_) {
            read_next();
        }
    }

    /// Hands every complete message of the pending bytes to the server; a partial one waits for
    /// more bytes. The header check bounds a message to ocp1_max_message_size.
    void take_whole_messages() {
        std::size_t start = 0;
        while (!closed_ && pending_.size() - start >= ocp1_header_size) {
            const std::span<const std::uint8_t> rest(pending_.data() + start, pending_.size() - start);
            const Ocp1Header header = decode_ocp1_header(rest);
            if (rest.size() < header.total_size()) {
                break;
            }
            server_.handle_message(*this, rest.first(header.total_size()));
            start += header.total_size();
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(start));
    }

    void write_next() {
        asio::async_write(socket_, asio::buffer(queue_.front()),
                          [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
                              if (self->closed_) {
                                  return;
                              }
                              if (error) {
                                  self->close("write failed: " + error.message());
                                  return;
                              }
                              self->queued_bytes_ -= self->queue_.front().size();
                              self->queue_.pop_front();
                              if (!self->queue_.empty()) {
                                  self->write_next();
                              }
                          });
    }

    void schedule_keep_alive_check() {
        const auto tick = std::clamp(heartbeat_ / 10, min_keep_alive_tick, max_keep_alive_tick);
        keep_alive_timer_.expires_after(tick);
        keep_alive_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
            if (!error && !self->closed_) {
                self->check_keep_alive();
            }
        });
    }

    void check_keep_alive() {
        const auto now = Clock::now();
        boost::system::error_code ignored;
        if (socket_.available(ignored) > 0) {
            last_received_ = now;  // bytes wait in the socket: the controller is alive, this side is behind
        }
        if (now - last_received_ > heartbeats_before_close * heartbeat_) {
            close("no message for " + std::to_string(heartbeats_before_close) + " heartbeats of " +
                  std::to_string(heartbeat_.count()) + " ms");
            return;
        }
        if (now - last_sent_ >= heartbeat_ && !server_.device_silenced()) {
            send(encode_ocp1_keep_alive(Ocp1KeepAlive{heartbeat_, milliseconds_form_}));
        }
        schedule_keep_alive_check();
    }

    Server& server_;
    tcp::socket socket_;
    asio::steady_timer keep_alive_timer_;
    Ocp1ControllerId id_;
    std::string peer_;
    std::array<std::uint8_t, read_chunk_bytes> chunk_{};
    std::vector<std::uint8_t> pending_;
    std::deque<std::vector<std::uint8_t>> queue_;  ///< messages to write, the front one being written
    std::size_t queued_bytes_ = 0;
    std::chrono::milliseconds heartbeat_{0};  ///< 0 until the controller sends a KeepAlive
    bool milliseconds_form_ = false;
    Clock::time_point last_received_;
    Clock::time_point last_sent_;
    bool closed_ = false;
};

void VirtualAes70Amplifier::Server::stop() {
    if (!thread_.joinable()) {
        return;
    }
    asio::post(io_context_, [this] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        const auto open = connections_;
        for (const auto& [id, connection] : open) {
            connection->close("the amplifier stops");
        }
        io_context_.stop();
    });
    thread_.join();
    log("AES70 virtual amplifier on " + url() + " stopped");
}

void VirtualAes70Amplifier::Server::accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
        if (error == asio::error::operation_aborted || !acceptor_.is_open()) {
            return;
        }
        if (error) {
            log("AES70 virtual amplifier: accepting a connection failed: " + error.message());
        } else if (connections_.size() >= options_.max_controllers) {
            log("AES70 virtual amplifier: a connection was refused because " + std::to_string(connections_.size()) +
                " controllers, the maximum, are connected");
            boost::system::error_code ignored;
            socket.close(ignored);
        } else {
            const Ocp1ControllerId id = next_controller_id_++;
            auto connection = std::make_shared<Connection>(*this, std::move(socket), id);
            connections_.emplace(id, connection);
            controllers_connected_ = connections_.size();
            log("AES70 virtual amplifier: controller " + std::to_string(id) + " connected from " +
                connection->peer());
            connection->start();
        }
        accept_next();
    });
}

void VirtualAes70Amplifier::Server::forget(Ocp1ControllerId id) {
    {
        std::lock_guard lock(mutex_);
        model_.disconnect(id);
    }
    connections_.erase(id);
    controllers_connected_ = connections_.size();
}

void VirtualAes70Amplifier::Server::handle_message(Connection& connection, std::span<const std::uint8_t> bytes) {
    const Ocp1Message message = decode_ocp1_message(bytes);
    switch (message.type) {
    case Ocp1PduType::keep_alive: connection.adopt_heartbeat(*message.keep_alive); return;
    case Ocp1PduType::command:
    case Ocp1PduType::command_response_required: handle_commands(connection, message); return;
    case Ocp1PduType::response:
    case Ocp1PduType::notification:
    case Ocp1PduType::notification2:
        log("AES70 virtual amplifier: controller " + std::to_string(connection.id()) + " sent a message of PDU type " +
            std::to_string(static_cast<int>(message.type)) + ", which a device does not expect; ignored");
        return;
    }
}

void VirtualAes70Amplifier::Server::handle_commands(Connection& connection, const Ocp1Message& message) {
    ++commands_received_;
    std::vector<Ocp1Response> responses;
    std::vector<Ocp1Delivery> deliveries;
    std::chrono::milliseconds reply_delay{0};
    {
        std::lock_guard lock(mutex_);
        if (swallow_command_message()) {
            return;
        }
        reply_delay = faults_.reply_delay;
        for (const auto& command : message.commands) {
            Ocp1CommandOutcome outcome = model_.handle(connection.id(), command);
            for (const auto& line : outcome.log_lines) {
                log("AES70 virtual amplifier: controller " + std::to_string(connection.id()) + ", object " +
                    std::to_string(command.target_ono) + ": " + line);
            }
            if (outcome.state_changed && options_.on_state_changed) {
                try {
                    options_.on_state_changed(outcome.state);
                } catch (const std::exception& error) {
                    log(std::string("AES70 virtual amplifier: the state change callback failed: ") + error.what());
                }
            }
            deliveries.insert(deliveries.end(), std::make_move_iterator(outcome.notifications.begin()),
                              std::make_move_iterator(outcome.notifications.end()));
            responses.push_back(std::move(outcome.response));
        }
    }

    // Notifications leave before the Response, so a controller that has the Response of its Set
    // has the notification of that Set too.
    deliver(deliveries);
    if (message.type != Ocp1PduType::command_response_required) {
        return;
    }
    auto reply = encode_ocp1_responses(responses);
    if (reply_delay.count() <= 0) {
        connection.send(std::move(reply));
        return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io_context_, reply_delay);
    timer->async_wait([this, timer, id = connection.id(), reply = std::move(reply)](
                          const boost::system::error_code& error) mutable {
        const auto target = connections_.find(id);
        if (!error && target != connections_.end()) {
            target->second->send(std::move(reply));
        }
    });
}

void VirtualAes70Amplifier::Server::deliver(const std::vector<Ocp1Delivery>& deliveries) {
    for (const auto& delivery : deliveries) {
        const auto target = connections_.find(delivery.controller);
        if (target != connections_.end()) {
            target->second->send(encode_ocp1_notifications(std::span(&delivery.notification, 1)));
        }
    }
}

VirtualAes70Amplifier::VirtualAes70Amplifier(DeviceProfile profile, SharedAmplifierState& state,
                                             VirtualAes70AmplifierOptions options)
    : server_(std::make_unique<Server>(std::move(profile), state, std::move(options))) {}

VirtualAes70Amplifier::~VirtualAes70Amplifier() = default;

void VirtualAes70Amplifier::start() { server_->start(); }

void VirtualAes70Amplifier::stop() { server_->stop(); }

std::uint16_t VirtualAes70Amplifier::port() const { return server_->port(); }

std::string VirtualAes70Amplifier::url() const { return server_->url(); }

const Ocp1DeviceLayout& VirtualAes70Amplifier::layout() const { return server_->layout(); }

void VirtualAes70Amplifier::set_faults(VirtualAmplifierFaults faults) { server_->set_faults(std::move(faults)); }

std::size_t VirtualAes70Amplifier::commands_received() const { return server_->commands_received(); }

std::size_t VirtualAes70Amplifier::controllers_connected() const { return server_->controllers_connected(); }

}  // namespace linetune::control
