#include "linetune/control/osc/virtual_amplifier.hpp"

#include "osc_udp_transport.hpp"
#include "virtual_amplifier_protocol.hpp"

#include "linetune/core/error.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace linetune::control {

namespace asio = boost::asio;
using boost::asio::ip::udp;

/// The socket, thread and fault state behind a VirtualAmplifier.
class VirtualAmplifier::Server {
public:
    Server(DeviceProfile profile, SharedAmplifierState& state, VirtualAmplifierOptions options)
        : protocol_(std::move(profile), state), options_(std::move(options)), receive_buffer_(max_datagram_bytes) {
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
        bind();
        io_context_.restart();
        receive_next();
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
            io_context_.stop();
        });
        thread_.join();
        log("virtual amplifier on " + url() + " stopped");
    }

    [[nodiscard]] std::uint16_t port() const { return port_.load(); }

    [[nodiscard]] std::string url() const { return osc_udp_url(udp::endpoint(asio::ip::address_v4::loopback(), port())); }

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
                                           handle_packet(bytes);
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

    void handle_packet(std::size_t bytes) {
        ++packets_received_;
        std::lock_guard lock(mutex_);
        if (in_outage()) {
            return;
        }
        auto outcome = protocol_.handle(std::span(receive_buffer_.data(), bytes));
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
        send_reply(std::move(outcome.reply), sender_, faults_.reply_delay);
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

    VirtualAmplifierProtocol protocol_;
    VirtualAmplifierOptions options_;

    asio::io_context io_context_;
    udp::socket socket_{io_context_};
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
