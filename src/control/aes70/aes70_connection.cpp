#include "linetune/control/aes70/aes70_connection.hpp"

#include "linetune/core/error.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <span>
#include <thread>

namespace linetune::control {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// The link counts as lost after this many heartbeat periods without a message (the rule of
// AES70.js and SwiftOCA, which the Node test device follows too).
constexpr int heartbeats_before_lost = 3;

// The keep-alive timer looks at the link this many times per heartbeat period, so a KeepAlive
// goes out at most a quarter period late.
constexpr int keep_alive_checks_per_heartbeat = 4;

// Commands per message of a batch. OCP.1 allows up to 65535 per message. With 64, a message of
// Gets stays under about 1.2 kB, so a device with a small receive buffer still takes it whole.
// A batch of a whole channel (84 Gets) then takes two messages.
constexpr std::size_t commands_per_batch_message = 64;

std::string method_text(OcaONo target, OcaMethodId method) {
    return "method " + std::to_string(method.def_level) + "." + std::to_string(method.index) + " of object " +
           std::to_string(target);
}

}  // namespace

class Aes70Connection::State {
public:
    State(std::string description, Aes70ConnectionOptions options)
        : description_(std::move(description)), options_(std::move(options)) {}

    ~State() { close(); }

    void open(const tcp::endpoint& endpoint) {
        auto connected = std::make_shared<std::promise<boost::system::error_code>>();
        auto result = connected->get_future();
        socket_.async_connect(endpoint, [connected](const boost::system::error_code& error) {
            connected->set_value(error);
        });
        thread_ = std::thread([this] { io_.run(); });

        if (result.wait_for(options_.connect_timeout) == std::future_status::timeout) {
            asio::post(io_, [this] { close_socket(); });
            result.wait();
            close();
            throw Error(description_ + ": no TCP connection within " + std::to_string(options_.connect_timeout.count()) +
                            " ms; check that the device is on and the address and port are right",
                        ErrorKind::device);
        }
        if (const auto error = result.get()) {
            close();
            throw Error(description_ + ": TCP connection failed (" + error.message() +
                            "); check that the device is on and the address and port are right",
                        ErrorKind::device);
        }

        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        asio::post(io_, [this] {
            boost::system::error_code ignored;
            socket_.set_option(tcp::no_delay(true), ignored);
            last_received_ = last_sent_ = Clock::now();
            read_header();
            send_keep_alive();
            schedule_keep_alive_check();
        });
    }

    Ocp1Response call(OcaONo target, OcaMethodId method, std::uint8_t parameter_count,
                      std::vector<std::uint8_t> parameters) {
        Ocp1Command command{0, target, method, parameter_count, std::move(parameters)};
        std::future<Ocp1Response> reply;
        {
            std::lock_guard lock(mutex_);
            if (!open_) {
                throw Error(description_ + ": cannot call " + method_text(target, method) + ": " +
                                (failure_.empty() ? std::string("the connection is not open") : failure_),
                            ErrorKind::device);
            }
            command.handle = next_handle();
            reply = pending_[command.handle].get_future();
        }
        const std::array commands{command};
        send(encode_ocp1_commands(commands, true));

        if (reply.wait_for(options_.reply_timeout) == std::future_status::timeout) {
            std::lock_guard lock(mutex_);
            pending_.erase(command.handle);
            throw Error(description_ + ": no Response to " + method_text(target, method) + " within " +
                            std::to_string(options_.reply_timeout.count()) + " ms (handle " +
                            std::to_string(command.handle) + "); check that the device is on and not overloaded",
                        ErrorKind::device);
        }
        return reply.get();
    }

    std::vector<Aes70Reply> call_batch(std::vector<Aes70Request> requests) {
        std::vector<Ocp1Command> commands;
        std::vector<std::future<Ocp1Response>> replies;
        {
            std::lock_guard lock(mutex_);
            if (!open_) {
                throw Error(description_ + ": cannot send " + std::to_string(requests.size()) + " commands: " +
                                (failure_.empty() ? std::string("the connection is not open") : failure_),
                            ErrorKind::device);
            }
            for (auto& request : requests) {
                Ocp1Command command{next_handle(), request.target, request.method, request.parameter_count,
                                    std::move(request.parameters)};
                replies.push_back(pending_[command.handle].get_future());
                commands.push_back(std::move(command));
            }
        }
        for (std::size_t first = 0; first < commands.size(); first += commands_per_batch_message) {
            const std::size_t count = std::min(commands_per_batch_message, commands.size() - first);
            send(encode_ocp1_commands(std::span<const Ocp1Command>(commands.data() + first, count), true));
        }

        // Each Response must come within reply_timeout of the one before, so a long batch is not
        // held to the time of a single command.
        std::vector<Aes70Reply> results(commands.size());
        auto deadline = Clock::now() + options_.reply_timeout;
        for (std::size_t i = 0; i < commands.size(); ++i) {
            const auto& command = commands[i];
            if (replies[i].wait_until(deadline) == std::future_status::timeout) {
                std::lock_guard lock(mutex_);
                pending_.erase(command.handle);
                results[i].failure = description_ + ": no Response to " + method_text(command.target_ono, command.method) +
                                     " within " + std::to_string(options_.reply_timeout.count()) + " ms (handle " +
                                     std::to_string(command.handle) + "); check that the device is on and not overloaded";
                continue;
            }
            try {
                results[i].response = replies[i].get();
            } catch (const Error& error) {
                results[i].failure = error.what();
            }
            deadline = Clock::now() + options_.reply_timeout;
        }
        return results;
    }

    void close() {
        fail("the connection was closed", false);
        if (thread_.joinable()) {
            work_guard_.reset();
            asio::post(io_, [this] { close_socket(); });
            if (thread_.get_id() == std::this_thread::get_id()) {
                thread_.detach();  // closed from a notification callback: the thread ends on its own
            } else {
                thread_.join();
            }
        }
    }

    [[nodiscard]] bool is_open() const {
        std::lock_guard lock(mutex_);
        return open_;
    }

    const std::string description_;

private:
    /// Returns a handle unique among outstanding commands. It skips 0, so that a handle never looks unset.
    std::uint32_t next_handle() {
        do {
            ++handle_counter_;
        } while (handle_counter_ == 0 || pending_.contains(handle_counter_));
        return handle_counter_;
    }

    void send(std::vector<std::uint8_t> message) {
        asio::post(io_, [this, bytes = std::move(message)]() mutable {
            write_queue_.push_back(std::move(bytes));
            if (write_queue_.size() == 1) {
                write_next();
            }
        });
    }

    void write_next() {
        asio::async_write(socket_, asio::buffer(write_queue_.front()),
                          [this](const boost::system::error_code& error, std::size_t) {
                              if (error) {
                                  fail("sending failed (" + error.message() + ")", true);
                                  return;
                              }
                              last_sent_ = Clock::now();
                              write_queue_.pop_front();
                              if (!write_queue_.empty()) {
                                  write_next();
                              }
                          });
    }

    void read_header() {
        asio::async_read(socket_, asio::buffer(header_), [this](const boost::system::error_code& error, std::size_t) {
            if (error) {
                fail("the device closed the connection or it broke (" + error.message() + ")", true);
                return;
            }
            Ocp1Header header;
            try {
                header = decode_ocp1_header(header_);
            } catch (const Error& malformed) {
                fail(std::string("the device sent a malformed message: ") + malformed.what(), true);
                return;
            }
            message_.assign(header_.begin(), header_.end());
            message_.resize(header.total_size());
            read_body();
        });
    }

    void read_body() {
        asio::async_read(socket_, asio::buffer(message_.data() + ocp1_header_size, message_.size() - ocp1_header_size),
                         [this](const boost::system::error_code& error, std::size_t) {
                             if (error) {
                                 fail("the connection broke inside a message (" + error.message() + ")", true);
                                 return;
                             }
                             last_received_ = Clock::now();
                             try {
                                 dispatch(decode_ocp1_message(message_));
                             } catch (const Error& malformed) {
                                 fail(std::string("the device sent a malformed message: ") + malformed.what(), true);
                                 return;
                             }
                             read_header();
                         });
    }

    void dispatch(Ocp1Message message) {
        for (auto& response : message.responses) {
            std::unique_lock lock(mutex_);
            const auto waiting = pending_.find(response.handle);
            if (waiting == pending_.end()) {
                lock.unlock();
                log("ignored a Response to handle " + std::to_string(response.handle) +
                    ", which no command is waiting for (it may have timed out)");
                continue;
            }
            waiting->second.set_value(std::move(response));
            pending_.erase(waiting);
        }
        for (const auto& notification : message.notifications) {
            if (options_.on_notification) {
                options_.on_notification(notification);
            }
        }
        if (!message.commands.empty()) {
            log("ignored " + std::to_string(message.commands.size()) + " commands the device sent to the controller");
        }
    }

    void send_keep_alive() {
        Ocp1KeepAlive keep_alive;
        keep_alive.heartbeat = options_.heartbeat;
        keep_alive.milliseconds_form = options_.heartbeat.count() % 1000 != 0;
        write_queue_.push_back(encode_ocp1_keep_alive(keep_alive));
        if (write_queue_.size() == 1) {
            write_next();
        }
        last_sent_ = Clock::now();
    }

    void schedule_keep_alive_check() {
        timer_.expires_after(options_.heartbeat / keep_alive_checks_per_heartbeat);
        timer_.async_wait([this](const boost::system::error_code& error) {
            if (error || !is_open()) {
                return;
            }
            const auto now = Clock::now();
            if (now - last_received_ > heartbeats_before_lost * options_.heartbeat) {
                fail("no message from the device for " +
                         std::to_string(heartbeats_before_lost * options_.heartbeat.count()) +
                         " ms (3 heartbeat periods): the link is lost",
                     true);
                return;
            }
            if (now - last_sent_ >= options_.heartbeat) {
                send_keep_alive();
            }
            schedule_keep_alive_check();
        });
    }

    /// Marks the link lost or closed, fails every waiting call with the reason and closes the
    /// socket. Only the first reason counts.
    void fail(const std::string& reason, bool unexpected) {
        std::map<std::uint32_t, std::promise<Ocp1Response>> waiting;
        {
            std::lock_guard lock(mutex_);
            if (!failure_.empty()) {
                return;
            }
            failure_ = reason;
            open_ = false;
            waiting.swap(pending_);
        }
        if (unexpected) {
            log(description_ + ": " + reason);
            close_socket();
        }
        for (auto& [handle, promise] : waiting) {
            promise.set_exception(std::make_exception_ptr(
                Error(description_ + ": no Response to handle " + std::to_string(handle) + ": " + reason,
                      ErrorKind::device)));
        }
    }

    void close_socket() {
        boost::system::error_code ignored;
        timer_.cancel();
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

    void log(const std::string& line) const {
        if (options_.log) {
            options_.log(line);
        }
    }

    Aes70ConnectionOptions options_;
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_guard_{io_.get_executor()};
    tcp::socket socket_{io_};
    asio::steady_timer timer_{io_};
    std::thread thread_;

    // Touched only on the network thread.
    std::array<std::uint8_t, ocp1_header_size> header_{};
    std::vector<std::uint8_t> message_;
    std::deque<std::vector<std::uint8_t>> write_queue_;
    Clock::time_point last_received_;
    Clock::time_point last_sent_;

    // Shared with callers, under mutex_.
    mutable std::mutex mutex_;
    bool open_ = false;
    std::string failure_;
    std::uint32_t handle_counter_ = 0;
    std::map<std::uint32_t, std::promise<Ocp1Response>> pending_;
};

Aes70Connection::Aes70Connection(std::string description, Aes70ConnectionOptions options)
    : state_(std::make_unique<State>(std::move(description), std::move(options))) {}

Aes70Connection::~Aes70Connection() = default;

void Aes70Connection::open(const tcp::endpoint& endpoint) { state_->open(endpoint); }

Ocp1Response Aes70Connection::call(OcaONo target, OcaMethodId method, std::uint8_t parameter_count,
                                   std::vector<std::uint8_t> parameters) {
    return state_->call(target, method, parameter_count, std::move(parameters));
}

std::vector<Aes70Reply> Aes70Connection::call_batch(std::vector<Aes70Request> requests) {
    return state_->call_batch(std::move(requests));
}

void Aes70Connection::close() { state_->close(); }

bool Aes70Connection::is_open() const { return state_->is_open(); }

const std::string& Aes70Connection::description() const { return state_->description_; }

}  // namespace linetune::control
