// The AES70 virtual amplifier over TCP on 127.0.0.1, on port 0 so that parallel runs never
// collide. The tests run linetune's own AES70 driver against it and check message framing across
// TCP splits and joins, the KeepAlive rules, notifications between controllers, fault injection
// and a peer that sends bytes that are not OCP.1. Every server is stopped by its destructor.

#include "linetune/control/aes70/aes70_connection.hpp"
#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/aes70/ocp1_device.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <doctest/doctest.h>

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

// Generous waits for a reply on loopback: far above the microseconds it takes, so a loaded
// machine does not fail the tests.
constexpr auto reply_wait = 3000ms;

// Float32 read-back: one unit in the last place of a float32 (2^-24 relative) plus the ms-to-s
// conversion on the wire.
constexpr double float32_relative_tolerance = 2.4e-7;

DeviceProfile profile_named(const std::string& name) {
    return io::read_device_profile(io::default_hardware_dir() / (name + ".json"));
}

/// A started AES70 virtual amplifier over its own state.
struct RunningAmplifier {
    explicit RunningAmplifier(const std::string& profile_name, VirtualAes70AmplifierOptions options = {})
        : profile(profile_named(profile_name)),
          state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands)),
          amplifier(profile, state, std::move(options)) {
        amplifier.start();
    }

    DeviceProfile profile;
    SharedAmplifierState state;
    VirtualAes70Amplifier amplifier;
};

/// A controller written on raw sockets, so that a test decides how bytes are split.
class RawController {
public:
    explicit RawController(std::uint16_t port) : socket_(io_context_) {
        socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
        socket_.set_option(tcp::no_delay(true));
    }

    void send(std::span<const std::uint8_t> bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }

    /// Sends the bytes one write at a time, n bytes each, with a pause so that TCP delivers them apart.
    void send_in_pieces(std::span<const std::uint8_t> bytes, std::size_t n) {
        for (std::size_t at = 0; at < bytes.size(); at += n) {
            send(bytes.subspan(at, std::min(n, bytes.size() - at)));
            std::this_thread::sleep_for(2ms);
        }
    }

    /// The next whole message, or empty when none arrives within the wait or the device closed
    /// the connection.
    std::optional<Ocp1Message> receive(std::chrono::milliseconds wait = reply_wait) {
        std::vector<std::uint8_t> header(ocp1_header_size);
        if (!read_exactly(header, wait)) {
            return std::nullopt;
        }
        const Ocp1Header decoded = decode_ocp1_header(header);
        header.resize(decoded.total_size());
        std::span<std::uint8_t> body(header.data() + ocp1_header_size, decoded.total_size() - ocp1_header_size);
        if (!read_exactly(body, wait)) {
            return std::nullopt;
        }
        return decode_ocp1_message(header);
    }

    /// The next message that is not a KeepAlive.
    std::optional<Ocp1Message> receive_skipping_keep_alives(std::chrono::milliseconds wait = reply_wait) {
        for (;;) {
            auto message = receive(wait);
            if (!message || message->type != Ocp1PduType::keep_alive) {
                return message;
            }
        }
    }

    /// True when the device closes the connection within the wait; other messages are read and dropped.
    bool closed_by_device_within(std::chrono::milliseconds wait) {
        const auto end = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < end) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            std::array<std::uint8_t, 256> scratch{};
            if (!wait_readable(left)) {
                return false;
            }
            boost::system::error_code error;
            socket_.read_some(asio::buffer(scratch), error);
            if (error) {
                return true;
            }
        }
        return false;
    }

private:
    bool wait_readable(std::chrono::milliseconds wait) {
        pollfd descriptor{socket_.native_handle(), POLLIN, 0};
        return ::poll(&descriptor, 1, static_cast<int>(wait.count())) > 0;
    }

    bool read_exactly(std::span<std::uint8_t> into, std::chrono::milliseconds wait) {
        std::size_t done = 0;
        while (done < into.size()) {
            if (!wait_readable(wait)) {
                return false;
            }
            boost::system::error_code error;
            done += socket_.read_some(asio::buffer(into.data() + done, into.size() - done), error);
            if (error) {
                return false;
            }
        }
        return true;
    }

    asio::io_context io_context_;
    tcp::socket socket_;
};

std::vector<std::uint8_t> command_message(std::uint32_t handle, OcaONo target, OcaMethodId method,
                                          std::uint8_t count = 0, std::vector<std::uint8_t> parameters = {}) {
    const Ocp1Command command{handle, target, method, count, std::move(parameters)};
    return encode_ocp1_commands(std::span(&command, 1), true);
}

std::vector<std::uint8_t> set_gain_message(std::uint32_t handle, OcaONo gain, float gain_db) {
    return command_message(handle, gain, {4, 2}, 1, Ocp1Writer().f32(gain_db).take());
}

}  // namespace

TEST_SUITE("aes70 virtual amplifier") {
    TEST_CASE("driver writes and reads every parameter") {
        RunningAmplifier running("aes70-mini-device");
        const std::uint16_t port = running.amplifier.port();
        REQUIRE(port != 0);
        Aes70Driver driver("virtual", "127.0.0.1", port, running.profile);
        driver.connect();

        const std::vector<std::pair<ParameterId, ParameterValue>> writes{
            {{1, ParameterKind::gain_db, 0}, -7.5},
            {{2, ParameterKind::delay_ms, 0}, 12.5},
            {{2, ParameterKind::mute, 0}, true},
            {{1, ParameterKind::band_enabled, 2}, true},
            {{1, ParameterKind::band_type, 2}, FilterKind::high_shelf},
            {{1, ParameterKind::band_freq_hz, 2}, 315.0},
            {{1, ParameterKind::band_q, 2}, 1.4},
            {{1, ParameterKind::band_gain_db, 2}, -2.5},
        };
        for (const auto& [id, value] : writes) {
            CAPTURE(describe(id));
            driver.write(id, value);
            const ParameterValue read = driver.read(id);
            const ParameterValue held = running.state.get(id);
            if (const double* number = std::get_if<double>(&value)) {
                CHECK(std::get<double>(read) == doctest::Approx(*number).epsilon(float32_relative_tolerance));
                CHECK(std::get<double>(held) == doctest::Approx(*number).epsilon(float32_relative_tolerance));
            } else {
                CHECK(read == value);
                CHECK(held == value);
            }
        }
    }

    TEST_CASE("out of range set returns its status") {
        // linetune's driver checks its profile's limits before sending, so a raw command does it.
        RunningAmplifier running("aes70-mini-device");
        RawController controller(running.amplifier.port());
        controller.send(set_gain_message(9, 10001, 40.0F));
        const auto reply = controller.receive();
        REQUIRE(reply);
        REQUIRE(reply->responses.size() == 1);
        CHECK(reply->responses[0].handle == 9);
        CHECK(reply->responses[0].status == OcaStatus::parameter_out_of_range);
        CHECK(std::get<double>(running.state.get({1, ParameterKind::gain_db, 0})) == 0.0);
    }

    TEST_CASE("message split into single bytes is reassembled") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        const auto message = set_gain_message(1, 10001, -3.0F);
        controller.send_in_pieces(message, 1);
        const auto reply = controller.receive();
        REQUIRE(reply);
        REQUIRE(reply->responses.size() == 1);
        CHECK(reply->responses[0].status == OcaStatus::ok);
        CHECK(std::get<double>(running.state.get({1, ParameterKind::gain_db, 0})) == -3.0);
    }

    TEST_CASE("messages cut across their boundary") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        auto joined = set_gain_message(1, 10001, -1.0F);
        const auto second = command_message(2, 20001, {4, 1});
        joined.insert(joined.end(), second.begin(), second.end());
        // Cut across the boundary: the first message and 5 bytes of the second, then the rest.
        const std::size_t cut = joined.size() - second.size() + 5;
        controller.send(std::span(joined).first(cut));
        std::this_thread::sleep_for(20ms);
        controller.send(std::span(joined).subspan(cut));

        const auto first_reply = controller.receive();
        const auto second_reply = controller.receive();
        REQUIRE(first_reply);
        REQUIRE(second_reply);
        CHECK(first_reply->responses.at(0).handle == 1);
        CHECK(second_reply->responses.at(0).handle == 2);
        CHECK(second_reply->responses.at(0).parameter_count == 3);
    }

    TEST_CASE("several commands in one message") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        const std::vector<Ocp1Command> commands{
            {1, 10001, {4, 1}, 0, {}}, {2, 4095, {1, 1}, 0, {}}, {3, 10002, {4, 2}, 1, {1}}};
        controller.send(encode_ocp1_commands(commands, true));
        const auto reply = controller.receive();
        REQUIRE(reply);
        REQUIRE(reply->responses.size() == 3);
        CHECK(reply->responses[0].status == OcaStatus::ok);
        CHECK(reply->responses[1].status == OcaStatus::bad_ono);
        CHECK(reply->responses[2].status == OcaStatus::ok);
        CHECK(std::get<bool>(running.state.get({1, ParameterKind::mute, 0})));
    }

    TEST_CASE("command without response runs silently") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        const Ocp1Command command{1, 10001, {4, 2}, 1, Ocp1Writer().f32(-4.0F).take()};
        controller.send(encode_ocp1_commands(std::span(&command, 1), false));
        controller.send(command_message(2, 10001, {4, 1}));
        const auto reply = controller.receive();
        REQUIRE(reply);
        CHECK(reply->responses.at(0).handle == 2);
        CHECK(Ocp1Reader(reply->responses.at(0).parameters, "gain").f32() == -4.0F);
    }

    TEST_CASE("silence closes the link") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        // A 300 ms heartbeat in the milliseconds form: the device sends KeepAlives in that form.
        controller.send(encode_ocp1_keep_alive(Ocp1KeepAlive{300ms, true}));
        const auto keep_alive = controller.receive(1000ms);
        REQUIRE(keep_alive);
        CHECK(keep_alive->type == Ocp1PduType::keep_alive);
        CHECK(keep_alive->keep_alive->heartbeat == 300ms);
        CHECK(keep_alive->keep_alive->milliseconds_form);
        // Silent from now on: the device drops the link after 3 heartbeats (900 ms).
        CHECK(controller.closed_by_device_within(5000ms));
    }

    TEST_CASE("active controller stays connected") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        controller.send(encode_ocp1_keep_alive(Ocp1KeepAlive{1000ms, false}));
        for (int i = 0; i < 8; ++i) {  // 8 × 500 ms: longer than 3 heartbeats
            std::this_thread::sleep_for(500ms);
            controller.send(encode_ocp1_keep_alive(Ocp1KeepAlive{1000ms, false}));
        }
        controller.send(command_message(5, 10001, {1, 5}));
        const auto reply = controller.receive_skipping_keep_alives();
        REQUIRE(reply);
        CHECK(reply->responses.at(0).handle == 5);
        CHECK(running.amplifier.controllers_connected() == 1);
    }

    TEST_CASE("set notifies another controller") {
        RunningAmplifier running("virtual-amp");
        std::mutex mutex;
        std::vector<Ocp1Notification> received;
        Aes70ConnectionOptions options;
        options.on_notification = [&](const Ocp1Notification& notification) {
            std::lock_guard lock(mutex);
            received.push_back(notification);
        };
        const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), running.amplifier.port());
        Aes70Connection watcher("watcher", options);
        watcher.open(endpoint);
        Ocp1Writer subscription;
        subscription.ono(10011).member_id({1, 1}).ono(55).member_id({1, 1});
        subscription.blob(std::vector<std::uint8_t>{}).u8(1).blob(std::vector<std::uint8_t>{});
        REQUIRE(watcher.call(oca_subscription_manager_ono, {3, 1}, 5, subscription.take()).status == OcaStatus::ok);

        Aes70Connection editor("editor", {});
        editor.open(endpoint);
        Ocp1Writer all;
        all.u16(0x0d).f32(315.0F).u8(1).f32(1.4F).f32(-2.0F).f32(0.0F);
        REQUIRE(editor.call(10011, {4, 11}, 6, all.take()).status == OcaStatus::ok);
        // The watcher's own round trip arrives after the notifications the set caused.
        REQUIRE(watcher.call(10011, {4, 1}, 0, {}).status == OcaStatus::ok);

        std::lock_guard lock(mutex);
        REQUIRE(received.size() == 3);  // frequency, width, in-band gain
        std::vector<OcaPropertyId> properties;
        for (const auto& notification : received) {
            CHECK(notification.target_ono == 55);
            CHECK(notification.emitter_ono == 10011);
            properties.push_back(Ocp1Reader(notification.event_data, "event").member_id());
        }
        CHECK(properties == std::vector<OcaPropertyId>{{4, 1}, {4, 3}, {4, 4}});
    }

    TEST_CASE("lock holds against another connection") {
        RunningAmplifier running("virtual-amp");
        const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), running.amplifier.port());
        auto holder = std::make_unique<Aes70Connection>("holder", Aes70ConnectionOptions{});
        holder->open(endpoint);
        Aes70Connection other("other", {});
        other.open(endpoint);
        REQUIRE(holder->call(10001, {1, 3}, 0, {}).status == OcaStatus::ok);
        CHECK(other.call(10001, {4, 1}, 0, {}).status == OcaStatus::locked);

        // Closing the holder's connection releases its lock.
        holder.reset();
        for (int i = 0; i < 100 && running.amplifier.controllers_connected() > 1; ++i) {
            std::this_thread::sleep_for(10ms);
        }
        CHECK(other.call(10001, {4, 1}, 0, {}).status == OcaStatus::ok);
    }

    TEST_CASE("drop fault silences the device") {
        VirtualAes70AmplifierOptions options;
        options.faults.drop_after_packets = 1;
        options.faults.outage = 300ms;
        RunningAmplifier running("virtual-amp", options);
        RawController controller(running.amplifier.port());
        controller.send(set_gain_message(1, 10001, -1.0F));
        REQUIRE(controller.receive());

        controller.send(set_gain_message(2, 10001, -2.0F));
        CHECK_FALSE(controller.receive(100ms));
        CHECK(std::get<double>(running.state.get({1, ParameterKind::gain_db, 0})) == -1.0);

        std::this_thread::sleep_for(400ms);
        controller.send(command_message(3, 10001, {4, 1}));
        const auto reply = controller.receive();
        REQUIRE(reply);
        CHECK(reply->responses.at(0).handle == 3);
        CHECK(running.amplifier.commands_received() == 3);
    }

    TEST_CASE("slow fault delays the response") {
        VirtualAes70AmplifierOptions options;
        options.faults.reply_delay = 300ms;
        RunningAmplifier running("virtual-amp", options);
        RawController controller(running.amplifier.port());
        controller.send(set_gain_message(1, 10001, -6.0F));
        CHECK_FALSE(controller.receive(100ms));
        CHECK(std::get<double>(running.state.get({1, ParameterKind::gain_db, 0})) == -6.0);
        CHECK(controller.receive(5000ms));
    }

    TEST_CASE("refused set is a device error") {
        VirtualAes70AmplifierOptions options;
        options.faults.refused_parameters = {"band_gain_db"};
        RunningAmplifier running("aes70-mini-device", options);
        Aes70Driver driver("virtual", "127.0.0.1", running.amplifier.port(), running.profile);
        driver.connect();
        try {
            driver.write({1, ParameterKind::band_gain_db, 1}, -3.0);
            FAIL("the refused write succeeded");
        } catch (const Error& error) {
            CHECK(error.kind() == ErrorKind::device);
            CHECK(std::string(error.what()).find("ProcessingFailed") != std::string::npos);
        }
        driver.write({1, ParameterKind::band_freq_hz, 1}, 500.0);
    }

    TEST_CASE("non-OCP.1 bytes close one connection") {
        RunningAmplifier running("virtual-amp");
        RawController healthy(running.amplifier.port());
        RawController broken(running.amplifier.port());
        const std::vector<std::uint8_t> garbage{'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1'};
        broken.send(garbage);
        CHECK(broken.closed_by_device_within(3000ms));

        healthy.send(command_message(1, 10001, {1, 5}));
        const auto reply = healthy.receive();
        REQUIRE(reply);
        CHECK(Ocp1Reader(reply->responses.at(0).parameters, "role").string() == "Gain");
    }

    TEST_CASE("oversized message size closes the connection") {
        RunningAmplifier running("virtual-amp");
        RawController controller(running.amplifier.port());
        // MessageSize 0x7fffffff: the device must not wait for, or reserve, 2 GiB.
        const std::vector<std::uint8_t> header{0x3b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01};
        controller.send(header);
        CHECK(controller.closed_by_device_within(3000ms));
    }

    TEST_CASE("taken port is a device error") {
        RunningAmplifier running("virtual-amp");
        VirtualAes70AmplifierOptions options;
        options.port = running.amplifier.port();
        SharedAmplifierState state(neutral_amplifier_state(8, 10));
        VirtualAes70Amplifier second(running.profile, state, options);
        try {
            second.start();
            FAIL("a second server bound the same port");
        } catch (const Error& error) {
            CHECK(error.kind() == ErrorKind::device);
            CHECK(std::string(error.what()).find("cannot listen on ocp1.tcp://127.0.0.1:") != std::string::npos);
        }
    }
}
