// OSC over TCP: profile settings for the transport and framing, the driver against the virtual
// amplifier with each framing, packets cut across reads on the device side, reconnection after
// the device closes its connection, the size limit on frames in both directions, and a device that
// keeps serving while one controller stops reading its replies.

#include "linetune/control/driver_factory.hpp"
#include "linetune/control/osc/osc_control_settings.hpp"
#include "linetune/control/osc/osc_driver.hpp"
#include "linetune/control/osc/osc_stream_framing.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace {

using namespace linetune;
using namespace linetune::control;
using namespace std::chrono_literals;
using boost::asio::ip::tcp;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

/// The shipped virtual-amp profile with its control object changed by the given keys.
DeviceProfile profile_with_control(const nlohmann::json& changes) {
    DeviceProfile profile = test::virtual_amp_profile();
    auto control = nlohmann::json::parse(profile.control_json);
    control.update(changes);
    for (auto item = control.begin(); item != control.end();) {
        item = item->is_null() ? control.erase(item) : std::next(item);
    }
    profile.control_json = control.dump();
    return profile;
}

DeviceProfile tcp_profile(OscStreamFraming framing) {
    return profile_with_control({{"transport", "tcp"}, {"framing", std::string(to_string(framing))}});
}

/// The message of the configuration Error that reading the settings throws.
std::string settings_error(const nlohmann::json& changes) {
    try {
        (void)read_osc_control_settings(profile_with_control(changes));
    } catch (const Error& error) {
        CHECK(error.kind() == ErrorKind::configuration);
        return error.what();
    }
    return "(no error)";
}

/// A started in-process virtual amplifier serving OSC over TCP.
struct TcpAmpFixture {
    DeviceProfile profile;
    SharedAmplifierState state;
    VirtualAmplifier amplifier;

    explicit TcpAmpFixture(OscStreamFraming framing, VirtualAmplifierOptions options = {})
        : profile(tcp_profile(framing)),
          state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands)),
          amplifier(profile, state, std::move(options)) {
        amplifier.start();
    }

    [[nodiscard]] std::unique_ptr<OscTcpDriver> driver(OscDriverOptions options = test::test_driver_options()) const {
        return std::make_unique<OscTcpDriver>("amp-1", "127.0.0.1", amplifier.port(), profile, std::move(options));
    }
};

/// A blocking TCP client on 127.0.0.1 for raw frames.
class RawTcpClient {
public:
    explicit RawTcpClient(std::uint16_t port) : socket_(io_context_) {
        socket_.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port));
        socket_.set_option(tcp::no_delay(true));
    }

    void send(std::span<const std::uint8_t> bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size())); }

    /// The next packets the decoder completes, reading until count arrive or the timeout passes.
    std::vector<std::vector<std::uint8_t>> receive(OscStreamDecoder& decoder, std::size_t count,
                                                   std::chrono::milliseconds timeout = 2000ms) {
        std::vector<std::vector<std::uint8_t>> packets;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::vector<std::uint8_t> buffer(4096);
        while (packets.size() < count && std::chrono::steady_clock::now() < deadline) {
            if (socket_.available() == 0) {
                std::this_thread::sleep_for(5ms);
                continue;
            }
            const std::size_t bytes = socket_.read_some(boost::asio::buffer(buffer));
            for (auto& packet : decoder.feed(std::span(buffer.data(), bytes))) {
                packets.push_back(std::move(packet));
            }
        }
        return packets;
    }

    /// True when the device closes the connection within the timeout.
    bool closed_by_peer(std::chrono::milliseconds timeout = 2000ms) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::vector<std::uint8_t> buffer(4096);
        socket_.non_blocking(true);
        while (std::chrono::steady_clock::now() < deadline) {
            boost::system::error_code error;
            (void)socket_.read_some(boost::asio::buffer(buffer), error);
            if (error == boost::asio::error::eof || error == boost::asio::error::connection_reset) {
                return true;
            }
            std::this_thread::sleep_for(5ms);
        }
        return false;
    }

private:
    boost::asio::io_context io_context_;
    tcp::socket socket_;
};

const ParameterId channel_2_gain{2, ParameterKind::gain_db, 0};
const ParameterId channel_3_band_1_freq{3, ParameterKind::band_freq_hz, 1};

}  // namespace

TEST_SUITE("control") {

TEST_CASE("tcp profiles read transport and framing") {
    const auto prefixed = read_osc_control_settings(tcp_profile(OscStreamFraming::length_prefix));
    CHECK(prefixed.transport == "tcp");
    CHECK(prefixed.framing == OscStreamFraming::length_prefix);
    CHECK(prefixed.max_packet_bytes == osc_stream_default_max_packet_bytes);

    const auto slip = read_osc_control_settings(profile_with_control(
        {{"transport", "tcp"}, {"framing", "slip"}, {"max_packet_bytes", 4096}}));
    CHECK(slip.framing == OscStreamFraming::slip);
    CHECK(slip.max_packet_bytes == 4096);

    const auto udp = read_osc_control_settings(test::virtual_amp_profile());
    CHECK(udp.transport == "udp");
    CHECK_FALSE(udp.framing.has_value());
}

TEST_CASE("tcp profile errors name the key and the fix") {
    CHECK(contains(settings_error({{"transport", "tcp"}}), "control.framing is missing"));
    CHECK(contains(settings_error({{"transport", "tcp"}, {"framing", "cobs"}}),
                   "control.framing \"cobs\"; OSC over TCP needs \"length-prefix\""));
    CHECK(contains(settings_error({{"framing", "slip"}}), "control.framing applies only to \"tcp\""));
    CHECK(contains(settings_error({{"transport", "tcp"}, {"framing", "slip"}, {"max_packet_bytes", 16}}),
                   "control.max_packet_bytes 16 must be a whole number from 64 to 16777216 bytes"));
    CHECK(contains(settings_error({{"max_packet_bytes", 4096}}), "control.max_packet_bytes applies only to \"tcp\""));
    CHECK(contains(settings_error({{"transport", "serial"}}), "control.transport \"serial\"; OSC runs over \"udp\" or \"tcp\""));
}

TEST_CASE("osc driver writes and reads over tcp with each framing") {
    for (const auto framing : {OscStreamFraming::length_prefix, OscStreamFraming::slip}) {
        CAPTURE(to_string(framing));
        TcpAmpFixture fixture(framing);
        CHECK(contains(fixture.amplifier.url(), "osc.tcp://127.0.0.1:"));
        auto driver = fixture.driver();
        CHECK(contains(driver->description(), "(osc.tcp://127.0.0.1:"));
        driver->connect();

        driver->write(channel_2_gain, -6.5);
        driver->write(channel_3_band_1_freq, 250.0);
        driver->write({1, ParameterKind::band_type, 2}, FilterKind::high_shelf);
        driver->write({4, ParameterKind::mute, 0}, true);

        const AmplifierState state = fixture.state.snapshot();
        CHECK(state.channels[1].gain_db == doctest::Approx(-6.5).epsilon(1e-12));
        CHECK(state.channels[2].bands[0].freq_hz == doctest::Approx(250.0).epsilon(1e-12));
        CHECK(state.channels[0].bands[1].type == FilterKind::high_shelf);
        CHECK(state.channels[3].mute);
        CHECK(std::get<double>(driver->read(channel_2_gain)) == doctest::Approx(-6.5).epsilon(1e-7));
        CHECK(std::get<bool>(driver->read({4, ParameterKind::mute, 0})));
    }
}

TEST_CASE("device factory picks tcp from the profile") {
    TcpAmpFixture fixture(OscStreamFraming::slip);
    Amplifier amplifier;
    amplifier.name = "amp-tcp";
    amplifier.host = "127.0.0.1";
    amplifier.port = fixture.amplifier.port();
    amplifier.profile = fixture.profile;
    amplifier.profile_name = fixture.profile.name;

    auto driver = make_device_driver(amplifier, DriverSettings{});
    CHECK(contains(driver->description(), "osc.tcp://127.0.0.1:" + std::to_string(fixture.amplifier.port())));
    driver->write(channel_2_gain, -2.0);
    CHECK(fixture.state.snapshot().channels[1].gain_db == doctest::Approx(-2.0));

    // The UDP driver refuses a TCP profile instead of sending datagrams to a TCP port.
    CHECK_THROWS_WITH_AS(OscUdpDriver("amp-tcp", "127.0.0.1", 9, fixture.profile),
                         doctest::Contains("names transport \"tcp\", so the OSC/UDP driver cannot reach it"), Error);
}

TEST_CASE("virtual amplifier joins packets cut across tcp reads") {
    for (const auto framing : {OscStreamFraming::length_prefix, OscStreamFraming::slip}) {
        CAPTURE(to_string(framing));
        TcpAmpFixture fixture(framing);
        RawTcpClient client(fixture.amplifier.port());

        // Three sets in one stream, written one byte at a time, then one write holding two queries.
        std::vector<std::uint8_t> stream;
        for (const auto& message : {OscMessage{"/ch/1/gain_db", {-1.5f}}, OscMessage{"/ch/1/delay_ms", {2.5f}},
                                    OscMessage{"/ch/1/eq/1/q", {1.5f}}}) {
            const auto frame = frame_osc_packet(encode_osc_message(message), framing);
            stream.insert(stream.end(), frame.begin(), frame.end());
        }
        for (const std::uint8_t byte : stream) {
            client.send(std::span(&byte, 1));
        }
        std::vector<std::uint8_t> queries = frame_osc_packet(encode_osc_message({"/ch/1/gain_db", {}}), framing);
        const auto second = frame_osc_packet(encode_osc_message({"/ch/1/delay_ms", {}}), framing);
        queries.insert(queries.end(), second.begin(), second.end());
        client.send(queries);

        OscStreamDecoder decoder(framing);
        const auto replies = client.receive(decoder, 5);
        REQUIRE(replies.size() == 5);
        CHECK(test::message_copies(decode_osc_packet(replies[3])).front() == OscMessage{"/ch/1/gain_db", {-1.5f}});
        CHECK(test::message_copies(decode_osc_packet(replies[4])).front() == OscMessage{"/ch/1/delay_ms", {2.5f}});
        CHECK(fixture.state.snapshot().channels[0].bands[0].q == doctest::Approx(1.5));
    }
}

TEST_CASE("virtual amplifier closes a connection with an oversize frame") {
    std::vector<std::string> log_lines;
    std::mutex log_mutex;
    VirtualAmplifierOptions options;
    options.log = [&](std::string_view line) {
        std::lock_guard lock(log_mutex);
        log_lines.emplace_back(line);
    };
    TcpAmpFixture fixture(OscStreamFraming::length_prefix, options);
    RawTcpClient client(fixture.amplifier.port());
    // 0x7FFFFFFC bytes announced: far above the 65536-byte default limit.
    client.send(std::vector<std::uint8_t>{0x7F, 0xFF, 0xFF, 0xFC, '/', 'a', 0, 0});
    CHECK(client.closed_by_peer());
    std::lock_guard lock(log_mutex);
    const bool logged = std::any_of(log_lines.begin(), log_lines.end(), [](const std::string& line) {
        return contains(line, "closing a TCP connection") && contains(line, "above the limit of 65536 bytes");
    });
    CHECK(logged);
}

TEST_CASE("osc tcp driver reconnects after the device restarts") {
    auto fixture = std::make_unique<TcpAmpFixture>(OscStreamFraming::length_prefix);
    const std::uint16_t port = fixture->amplifier.port();
    auto driver = fixture->driver();
    driver->write(channel_2_gain, -1.0);

    // The device goes away, closing the connection, and comes back on the same port.
    const DeviceProfile profile = fixture->profile;
    fixture.reset();
    SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
    VirtualAmplifierOptions options;
    options.port = port;
    VirtualAmplifier restarted(profile, state, options);
    restarted.start();

    driver->write(channel_2_gain, -3.0);
    CHECK(state.snapshot().channels[1].gain_db == doctest::Approx(-3.0));
}

TEST_CASE("osc tcp driver connect fails when nothing listens") {
    // Bind a port, then release it, so that nothing listens there.
    std::uint16_t port = 0;
    {
        boost::asio::io_context io_context;
        tcp::acceptor acceptor(io_context, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
        port = acceptor.local_endpoint().port();
    }
    OscTcpDriver driver("amp-1", "127.0.0.1", port, tcp_profile(OscStreamFraming::slip), test::test_driver_options());
    try {
        driver.connect();
        FAIL("connect succeeded with nothing listening");
    } catch (const Error& error) {
        CAPTURE(error.what());
        CHECK(error.kind() == ErrorKind::device);
        CHECK(contains(error.what(), "amplifier 'amp-1'"));
        CHECK(contains(error.what(), "osc.tcp://127.0.0.1:" + std::to_string(port)));
        CHECK(contains(error.what(), "connection refused"));
    }
}

TEST_CASE("osc tcp driver rejects a reply above its size limit") {
    // A fake device that answers every connection with a length prefix of 1 MiB.
    boost::asio::io_context io_context;
    tcp::acceptor acceptor(io_context, tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    std::thread device([&acceptor] {
        tcp::socket socket(acceptor.get_executor());
        acceptor.accept(socket);
        std::vector<std::uint8_t> request(64);
        boost::system::error_code error;
        (void)socket.read_some(boost::asio::buffer(request), error);
        const std::vector<std::uint8_t> reply{0x00, 0x10, 0x00, 0x00, '/', 'c', 'h', 0};
        boost::asio::write(socket, boost::asio::buffer(reply), error);
        (void)socket.read_some(boost::asio::buffer(request), error);  // until the driver closes
    });

    OscTcpDriver driver("amp-1", "127.0.0.1", acceptor.local_endpoint().port(),
                        tcp_profile(OscStreamFraming::length_prefix), test::test_driver_options(500ms, 0));
    try {
        (void)driver.read(channel_2_gain);
        FAIL("a 1 MiB frame was accepted");
    } catch (const Error& error) {
        CAPTURE(error.what());
        CHECK(error.kind() == ErrorKind::device);
        CHECK(contains(error.what(), "announces 1048576 bytes, above the limit of 65536 bytes"));
    }
    device.join();
}

TEST_CASE("virtual amplifier serves others while a controller stops reading") {
    std::vector<std::string> log_lines;
    std::mutex log_mutex;
    VirtualAmplifierOptions options;
    options.log = [&](std::string_view line) {
        std::lock_guard lock(log_mutex);
        log_lines.emplace_back(line);
    };
    const auto logged_stall = [&] {
        std::lock_guard lock(log_mutex);
        return std::any_of(log_lines.begin(), log_lines.end(),
                           [](const std::string& line) { return contains(line, "the controller stopped reading"); });
    };
    TcpAmpFixture fixture(OscStreamFraming::length_prefix, options);

    // A controller with a 4 KiB receive buffer that sends queries and never reads the replies.
    // Each query (24 bytes) gets a 28-byte reply, so sending stops, with the connection closed,
    // once the device's 1 MiB reply queue and the kernel buffers are full. 64 MiB of queries is
    // far beyond that and ends the test instead of a hang if the device never closes it.
    boost::asio::io_context io_context;
    tcp::socket stalled(io_context);
    stalled.open(tcp::v4());
    stalled.set_option(boost::asio::socket_base::receive_buffer_size(4096));
    stalled.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), fixture.amplifier.port()));
    const auto query = frame_osc_packet(encode_osc_message({"/ch/1/gain_db", {}}), OscStreamFraming::length_prefix);
    std::vector<std::uint8_t> chunk;
    while (chunk.size() < 65536) {
        chunk.insert(chunk.end(), query.begin(), query.end());
    }
    std::atomic<std::size_t> sent_bytes{0};
    std::thread sender([&] {
        boost::system::error_code error;
        while (!error && sent_bytes.load() < (64u << 20)) {
            sent_bytes += boost::asio::write(stalled, boost::asio::buffer(chunk), error);
        }
    });

    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!logged_stall() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    const bool stall_detected = logged_stall();
    CHECK(stall_detected);

    // Another controller is served meanwhile.
    auto driver = fixture.driver();
    CHECK_NOTHROW(driver->write(channel_2_gain, -4.0));
    CHECK(fixture.state.snapshot().channels[1].gain_db == doctest::Approx(-4.0));

    // Wakes the sender if it still blocks, so that the thread ends either way.
    ::shutdown(stalled.native_handle(), SHUT_RDWR);
    sender.join();
    MESSAGE("the stalled controller sent " << sent_bytes.load() << " bytes of queries before the device closed it");
}

}
