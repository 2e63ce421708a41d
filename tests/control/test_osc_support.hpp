#pragma once

// Helpers shared by the OSC tests: the shipped virtual-amp profile, a raw UDP client on
// 127.0.0.1, and an in-process virtual amplifier with its driver.

#include "linetune/control/osc/osc_driver.hpp"
#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "test_support.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace linetune::test {

/// Starts counting the bytes that this thread requests from operator new
/// (test_osc_allocation_counter.cpp replaces the global operator new to count them).
void start_counting_allocations();

/// Stops counting and returns the bytes requested since start_counting_allocations().
std::size_t stop_counting_allocations();

/// The shipped hardware/virtual-amp.json profile.
inline DeviceProfile virtual_amp_profile() {
    return io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json");
}

/// Driver options for tests: a reply timeout far above a loopback round trip (well under 1 ms)
/// even on a loaded machine, and short enough to keep the tests quick.
inline control::OscDriverOptions test_driver_options(std::chrono::milliseconds timeout = std::chrono::milliseconds(200),
                                                     std::size_t retries = 2) {
    control::OscDriverOptions options;
    options.reply_timeout = timeout;
    options.retries = retries;
    return options;
}

/// A UDP socket on 127.0.0.1 that sends raw packets to a port and waits for replies.
class RawOscClient {
public:
    explicit RawOscClient(std::uint16_t port)
        : socket_(io_context_), device_(boost::asio::ip::address_v4::loopback(), port) {
        socket_.open(boost::asio::ip::udp::v4());
        socket_.bind({boost::asio::ip::address_v4::loopback(), 0});
    }

    void send(const std::vector<std::uint8_t>& packet) { socket_.send_to(boost::asio::buffer(packet), device_); }

    void send(const control::OscPacket& packet) { send(control::encode_osc_packet(packet)); }

    /// The next datagram, or empty after the timeout.
    std::optional<std::vector<std::uint8_t>> receive(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
        std::vector<std::uint8_t> buffer(65536);
        std::optional<boost::system::error_code> result;
        std::size_t bytes = 0;
        boost::asio::ip::udp::endpoint sender;
        socket_.async_receive_from(boost::asio::buffer(buffer), sender,
                                   [&](const boost::system::error_code& error, std::size_t count) {
                                       result = error;
                                       bytes = count;
                                   });
        io_context_.restart();
        io_context_.run_for(timeout);
        if (!result) {
            socket_.cancel();
            io_context_.restart();
            io_context_.run();
        }
        if (!result || *result) {
            return std::nullopt;
        }
        buffer.resize(bytes);
        return buffer;
    }

    /// The next reply decoded, failing the test when none comes.
    control::OscPacket receive_packet() {
        const auto bytes = receive();
        REQUIRE_MESSAGE(bytes.has_value(), "no reply from the virtual amplifier within 2 s");
        return control::decode_osc_packet(*bytes);
    }

private:
    boost::asio::io_context io_context_;
    boost::asio::ip::udp::socket socket_;
    boost::asio::ip::udp::endpoint device_;
};

/// Copies of the messages of a packet in order, bundles flattened.
inline std::vector<control::OscMessage> message_copies(const control::OscPacket& packet) {
    std::vector<control::OscMessage> messages;
    for (const auto* message : control::messages_of(packet)) {
        messages.push_back(*message);
    }
    return messages;
}

/// A started in-process virtual amplifier on an ephemeral port with the virtual-amp profile.
struct VirtualAmpFixture {
    DeviceProfile profile = virtual_amp_profile();
    SharedAmplifierState state{neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands)};
    control::VirtualAmplifier amplifier;

    explicit VirtualAmpFixture(control::VirtualAmplifierOptions options = {})
        : amplifier(profile, state, std::move(options)) {
        amplifier.start();
    }

    /// A driver for this amplifier with test timeouts.
    [[nodiscard]] std::unique_ptr<control::OscUdpDriver> driver(
        control::OscDriverOptions options = test_driver_options()) const {
        return std::make_unique<control::OscUdpDriver>("amp-1", "127.0.0.1", amplifier.port(), profile,
                                                       std::move(options));
    }
};

}  // namespace linetune::test
