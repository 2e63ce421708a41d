// Fault injection over AES70: 100 pushes to the Node OCP.1 test device through a TCP proxy on
// 127.0.0.1 that, at a random command of each push, drops the connection, rejects the command
// with ParameterOutOfRange, swallows it (a timeout), or lets a second controller change a value
// on the device first. After every push each channel must hold exactly its old or its new state,
// and the push report must say which. The seed is printed; LINETUNE_FAULT_SEED replays one run.
// The same proxy also plays a device without OcaFilterParametric SetMultiple, to check that a push
// then falls back to single Sets.

#include "test_aes70_support.hpp"
#include "test_push_support.hpp"

#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/driver_factory.hpp"
#include "linetune/control/parameter_steps.hpp"
#include "linetune/control/push_report.hpp"
#include "linetune/control/push_transaction.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;
using namespace linetune::test::aes70;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

enum class Fault { drop_connection, reject_value, swallow_command, foreign_change };

const char* fault_name(Fault fault) {
    switch (fault) {
    case Fault::drop_connection: return "connection dropped";
    case Fault::reject_value: return "value rejected";
    case Fault::swallow_command: return "timeout";
    case Fault::foreign_change: return "another controller's change";
    }
    return "?";
}

// OCP.1 status codes the proxy returns.
constexpr std::uint8_t status_parameter_out_of_range = 7;
constexpr std::uint8_t status_not_implemented = 8;

/// A TCP proxy on an ephemeral loopback port in front of the device. It relays whole OCP.1
/// messages from controller to device and counts their CommandResponseRequired PDUs; when armed,
/// it injects one fault at the chosen command. Device-to-controller bytes are relayed unchanged.
/// It counts SetMultiple commands and, after reject_set_multiple(), replies to them with NotImplemented.
class FaultProxy {
public:
    explicit FaultProxy(std::uint16_t device_port) : device_port_(device_port) {
        accept_next();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~FaultProxy() {
        asio::post(io_, [this] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            for (auto& link : links_) {
                link->close();
            }
        });
        io_.stop();
        thread_.join();
    }

    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    /// Injects fault at the command_number-th command from now (1-based). foreign_change runs on
    /// the proxy thread before that command is passed on.
    void arm(Fault fault, std::size_t command_number, std::function<void()> foreign_change) {
        std::lock_guard lock(mutex_);
        fault_ = fault;
        commands_left_ = command_number;
        foreign_change_ = std::move(foreign_change);
        fired_ = false;
    }

    void disarm() {
        std::lock_guard lock(mutex_);
        commands_left_ = 0;
    }

    [[nodiscard]] bool fired() const {
        std::lock_guard lock(mutex_);
        return fired_;
    }

    /// Makes the proxy reply NotImplemented to every SetMultiple, like a device without it.
    void reject_set_multiple() { reject_set_multiple_ = true; }

    /// Returns the number of SetMultiple commands seen, whether relayed or rejected.
    [[nodiscard]] std::size_t set_multiple_count() const { return set_multiple_count_.load(); }

private:
    class Link : public std::enable_shared_from_this<Link> {
    public:
        Link(FaultProxy& proxy, tcp::socket client) : proxy_(proxy), client_(std::move(client)), upstream_(client_.get_executor()) {}

        void start(std::uint16_t device_port) {
            boost::system::error_code error;
            upstream_.connect({asio::ip::address_v4::loopback(), device_port}, error);
            if (error) {
                close();
                return;
            }
            // Without TCP_NODELAY each relayed Response waits for the delayed ACK (40 ms on Linux).
            client_.set_option(tcp::no_delay(true), error);
            upstream_.set_option(tcp::no_delay(true), error);
            read_header();
            pump_down();
        }

        void close() {
            boost::system::error_code ignored;
            client_.shutdown(tcp::socket::shutdown_both, ignored);
            client_.close(ignored);
            upstream_.shutdown(tcp::socket::shutdown_both, ignored);
            upstream_.close(ignored);
        }

    private:
        void read_header() {
            asio::async_read(client_, asio::buffer(header_), [self = shared_from_this()](auto error, std::size_t) {
                if (error) {
                    self->close();
                    return;
                }
                const std::uint32_t size = (std::uint32_t{self->header_[3]} << 24) | (std::uint32_t{self->header_[4]} << 16) |
                                           (std::uint32_t{self->header_[5]} << 8) | self->header_[6];
                self->message_.assign(self->header_.begin(), self->header_.end());
                self->message_.resize(std::max<std::size_t>(size + 1, self->header_.size()));
                self->read_body();
            });
        }

        void read_body() {
            asio::async_read(client_, asio::buffer(message_.data() + header_.size(), message_.size() - header_.size()),
                             [self = shared_from_this()](auto error, std::size_t) {
                                 if (error) {
                                     self->close();
                                     return;
                                 }
                                 self->forward();
                             });
        }

        /// True for a message of one command to OcaFilterParametric SetMultiple (method 4.11):
        /// PDU bytes 12 to 15, after its size, handle and target, are the method ID.
        [[nodiscard]] bool is_set_multiple() const {
            return message_.size() >= 26 && message_[8] == 0 && message_[9] == 1 && message_[22] == 0 &&
                   message_[23] == 4 && message_[24] == 0 && message_[25] == 11;
        }

        /// Answers the message's one command with a Response of that status and no parameters:
        /// header, then ResponseSize 10, the command's Handle (PDU bytes 4 to 7) and the status.
        void reply_status(std::uint8_t status) {
            auto reply = std::make_shared<std::vector<std::uint8_t>>(std::vector<std::uint8_t>{
                0x3B, 0x00, 0x01, 0x00, 0x00, 0x00, 0x13, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A,
                message_[14], message_[15], message_[16], message_[17], status, 0x00});
            asio::async_write(client_, asio::buffer(*reply), [self = shared_from_this(), reply](auto error, std::size_t) {
                if (error) {
                    self->close();
                    return;
                }
                self->read_header();
            });
        }

        /// Passes one whole message on, or injects the armed fault at its command.
        void forward() {
            constexpr std::uint8_t command_response_required = 1;
            const bool is_command = message_[7] == command_response_required;
            if (is_command && is_set_multiple()) {
                ++proxy_.set_multiple_count_;
                if (proxy_.reject_set_multiple_) {
                    reply_status(status_not_implemented);
                    return;
                }
            }
            const auto fault = is_command ? proxy_.take_fault() : std::nullopt;
            if (fault == Fault::drop_connection) {
                close();
                return;
            }
            if (fault == Fault::swallow_command) {
                read_header();
                return;
            }
            if (fault == Fault::reject_value) {
                reply_status(status_parameter_out_of_range);
                return;
            }
            if (fault == Fault::foreign_change) {
                proxy_.run_foreign_change();
            }
            asio::async_write(upstream_, asio::buffer(message_), [self = shared_from_this()](auto error, std::size_t) {
                if (error) {
                    self->close();
                    return;
                }
                self->read_header();
            });
        }

        void pump_down() {
            upstream_.async_read_some(asio::buffer(down_), [self = shared_from_this()](auto error, std::size_t count) {
                if (error) {
                    self->close();
                    return;
                }
                asio::async_write(self->client_, asio::buffer(self->down_.data(), count),
                                  [self](auto write_error, std::size_t) {
                                      if (write_error) {
                                          self->close();
                                          return;
                                      }
                                      self->pump_down();
                                  });
            });
        }

        FaultProxy& proxy_;
        tcp::socket client_;
        tcp::socket upstream_;
        std::array<std::uint8_t, 10> header_{};
        std::vector<std::uint8_t> message_;
        std::array<std::uint8_t, 4096> down_{};
    };

    void accept_next() {
        acceptor_.async_accept([this](auto error, tcp::socket socket) {
            if (error) {
                return;
            }
            auto link = std::make_shared<Link>(*this, std::move(socket));
            links_.push_back(link);
            link->start(device_port_);
            accept_next();
        });
    }

    std::optional<Fault> take_fault() {
        std::lock_guard lock(mutex_);
        if (commands_left_ == 0 || --commands_left_ != 0) {
            return std::nullopt;
        }
        fired_ = true;
        return fault_;
    }

    void run_foreign_change() {
        std::function<void()> change;
        {
            std::lock_guard lock(mutex_);
            change = foreign_change_;
        }
        if (change) {
            change();
        }
    }

    std::uint16_t device_port_;
    asio::io_context io_;
    tcp::acceptor acceptor_{io_, {asio::ip::address_v4::loopback(), 0}};
    std::thread thread_;
    std::vector<std::shared_ptr<Link>> links_;  // touched on the proxy thread only

    mutable std::mutex mutex_;
    Fault fault_ = Fault::drop_connection;
    std::size_t commands_left_ = 0;
    bool fired_ = false;
    std::function<void()> foreign_change_;
    std::atomic<bool> reject_set_multiple_{false};
    std::atomic<std::size_t> set_multiple_count_{0};
};

/// True when two writes in sending order set the shape of the same band in the same phase, so
/// that the push sends them in one SetMultiple.
bool same_band_shape_run(const PlannedWrite& before, const PlannedWrite& after) {
    const auto is_shape = [](ParameterKind kind) {
        return kind == ParameterKind::band_type || kind == ParameterKind::band_freq_hz || kind == ParameterKind::band_q ||
               kind == ParameterKind::band_gain_db;
    };
    return is_shape(before.write.id.kind) && is_shape(after.write.id.kind) && before.device == after.device &&
           before.phase == after.phase && before.write.id.channel == after.write.id.channel &&
           before.write.id.band == after.write.id.band;
}

/// Messages of commands the push sends to the device: per write a Set and a Get. A run of one
/// band's shape writes takes two: one SetMultiple and one batch of the Gets of its fields.
std::size_t commands_of(const PreparedPush& push) {
    std::size_t commands = 0;
    for (std::size_t i = 0; i < push.writes.size();) {
        std::size_t end = i + 1;
        while (end < push.writes.size() && same_band_shape_run(push.writes[end - 1], push.writes[end])) {
            ++end;
        }
        commands += 2;
        i = end;
    }
    return commands;
}

std::uint64_t fault_seed() {
    if (const char* text = std::getenv("LINETUNE_FAULT_SEED"); text != nullptr && *text != '\0') {
        return std::strtoull(text, nullptr, 0);
    }
    return 20261205;
}

/// A random correction for one zone within the memory venue's safety limits: gain from 6 dB
/// below to 2.5 dB above the current one, delay 0 to 20 ms, one to three peaking bands of at
/// most +2 dB (three overlapping +2 dB bands stay under the +6 dB summed limit).
ZoneTarget random_target(std::mt19937_64& random, double current_gain_db) {
    std::uniform_real_distribution<double> gain_change_db(-6.0, 2.5);
    std::uniform_real_distribution<double> delay_ms(0.0, 20.0);
    std::uniform_real_distribution<double> log_freq(std::log(40.0), std::log(16000.0));
    std::uniform_real_distribution<double> band_gain_db(-8.0, 2.0);
    std::uniform_real_distribution<double> q(0.5, 4.0);
    std::uniform_int_distribution<int> band_count(1, 3);
    std::vector<analysis::ParametricBand> bands;
    for (int b = band_count(random); b > 0; --b) {
        bands.push_back(linetune::test::peaking(std::round(std::exp(log_freq(random))), std::round(band_gain_db(random) * 10) / 10,
                                                std::round(q(random) * 100) / 100));
    }
    const double gain_db = std::clamp(std::round((current_gain_db + gain_change_db(random)) * 10) / 10, -40.0, 6.0);
    return linetune::test::zone_target(gain_db, std::round(delay_ms(random) * 100) / 100, bands);
}

bool states_match(const ChannelState& expected, const ChannelState& actual, const ChannelLimits& limits) {
    AmplifierState expected_amp{{expected}};
    AmplifierState actual_amp{{actual}};
    for (const auto& id : all_parameters(expected_amp)) {
        if (!values_match(id.kind, get_parameter(expected_amp, id), get_parameter(actual_amp, id), limits)) {
            return false;
        }
    }
    return true;
}

TEST_SUITE("AES70 fault injection") {
    TEST_CASE("interrupted pushes leave old or new state") {
        if (!device_peer_available()) {
            return;
        }
        const std::uint64_t seed = fault_seed();
        MESSAGE("fault injection seed " << seed << " (set LINETUNE_FAULT_SEED to replay)");
        std::mt19937_64 random(seed);

        NodeDevice device;
        FaultProxy proxy(device.port());
        Venue venue = linetune::test::memory_venue(1);
        venue.amplifiers[0] = mini_device_amplifier(proxy.port());
        venue.amplifiers[0].name = "amp-1";
        const Amplifier direct = mini_device_amplifier(device.port());
        const ChannelLimits limits = venue.amplifiers[0].limits;

        Aes70DriverOptions unwatched;
        unwatched.watch_changes = false;
        Aes70Driver checker(direct, unwatched);  // reads the device directly, past the proxy
        checker.connect();
        Aes70Driver other(direct, unwatched);    // the other controller
        other.connect();

        DriverSettings short_timeouts;
        // Short enough for a quick suite, long enough that an honest reply on a loaded 2-core CI
        // machine is not mistaken for the swallowed one (100 ms did once).
        short_timeouts.reply_timeout = 250ms;
        const auto factory = [&](const Amplifier& amplifier) { return make_device_driver(amplifier, short_timeouts); };
        auto options = linetune::test::quick_options();
        options.retry_interval = 20ms;

        std::map<std::string, int> counts;
        const auto journal = linetune::test::scratch_dir("aes70-faults") / "push-journal.json";
        std::filesystem::remove(journal);
        int pushes = 0;
        for (int attempt = 0; pushes < 100 && attempt < 300; ++attempt) {
            const double gain_1 = number(checker.read({1, ParameterKind::gain_db, 0}));
            const double gain_2 = number(checker.read({2, ParameterKind::gain_db, 0}));
            const std::map<std::string, ZoneTarget> targets{{"zone-1", random_target(random, gain_1)},
                                                            {"zone-2", random_target(random, gain_2)}};
            PreparedPush push;
            try {
                push = prepare_push(venue, targets, factory, options);
            } catch (const Error& error) {
                REQUIRE_MESSAGE(error.kind() == ErrorKind::configuration, error.what());
                continue;  // a random target beyond a safety limit: draw another
            }
            ++pushes;

            const auto fault = static_cast<Fault>(std::uniform_int_distribution<int>(0, 3)(random));
            const std::size_t command_count = commands_of(push);
            const std::size_t command = std::uniform_int_distribution<std::size_t>(1, command_count)(random);
            const ParameterId foreign_id{std::uniform_int_distribution<std::size_t>(1, 2)(random), ParameterKind::gain_db, 0};
            proxy.arm(fault, command, [&] { other.write(foreign_id, -33.33); });  // targets are whole 0.1 dB

            const auto report = execute_push(push, journal, options);
            proxy.disarm();
            const std::string printed = format_push_report(report);
            INFO("push " << pushes << ": " << fault_name(fault) << " at command " << command << " of "
                         << command_count << "\n" << printed);
            REQUIRE(proxy.fired());
            REQUIRE(report.devices.size() == 1);
            const auto outcome = report.devices[0].outcome;

            bool all_old = true;
            bool all_new = true;
            for (const auto& channel : push.plan.devices[0].channels) {
                const auto now = read_channel_state(checker, channel.channel, channel.snapshot.bands.size());
                all_old = all_old && states_match(channel.snapshot, now, limits);
                all_new = all_new && states_match(channel.target, now, limits);
            }
            CHECK((all_old || all_new));
            if (outcome == DeviceOutcome::restored) {
                CHECK(all_old);
                CHECK(printed.find("restored") != std::string::npos);
            } else {
                // A fault on the last Get can come after every value was already right.
                CHECK(outcome == DeviceOutcome::verified);
                CHECK(all_new);
                CHECK(printed.find("verified") != std::string::npos);
            }
            CHECK_FALSE(std::filesystem::exists(journal));
            ++counts[std::string(fault_name(fault)) + " -> " + std::string(to_string(outcome))];
        }
        CHECK(pushes == 100);
        CHECK(proxy.set_multiple_count() > 0);
        MESSAGE("SetMultiple commands over the 100 pushes: " << proxy.set_multiple_count());
        for (const auto& [what, count] : counts) {
            MESSAGE(what << ": " << count);
        }
    }

    TEST_CASE("push falls back to single Sets without SetMultiple") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        FaultProxy proxy(device.port());
        proxy.reject_set_multiple();
        Venue venue = linetune::test::memory_venue(1);
        venue.amplifiers[0] = mini_device_amplifier(proxy.port());
        venue.amplifiers[0].name = "amp-1";
        const auto factory = [](const Amplifier& amplifier) { return make_device_driver(amplifier); };
        const auto options = linetune::test::quick_options();
        const std::map<std::string, ZoneTarget> targets{
            {"zone-1", linetune::test::zone_target(-6.0, 1.5, {linetune::test::peaking(250.0, -4.0, 2.0),
                                                                linetune::test::peaking(3150.0, 1.5, 1.4)})},
            {"zone-2", linetune::test::zone_target(-3.0, 0.0, {linetune::test::peaking(800.0, -2.5, 0.7)})}};
        const auto journal = linetune::test::scratch_dir("aes70-no-set-multiple") / "push-journal.json";
        std::filesystem::remove(journal);

        auto push = prepare_push(venue, targets, factory, options);
        REQUIRE(commands_of(push) < 2 * push.writes.size());  // the push has band runs to combine
        const auto report = execute_push(push, journal, options);

        INFO(format_push_report(report));
        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == DeviceOutcome::verified);
        // The driver sends one SetMultiple, receives NotImplemented, and sends single Sets from then on.
        CHECK(proxy.set_multiple_count() == 1);
        Aes70Driver checker(mini_device_amplifier(device.port()), {});
        checker.connect();
        for (const auto& channel : push.plan.devices[0].channels) {
            const auto now = read_channel_state(checker, channel.channel, channel.snapshot.bands.size());
            CHECK(states_match(channel.target, now, venue.amplifiers[0].limits));
        }
    }
}

}  // namespace
