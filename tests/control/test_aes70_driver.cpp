// The AES70 driver: its profile object map, and reads, writes and a push against the Node OCP.1
// test device oca-mini-device.js (started on 127.0.0.1, stopped by its process id). The device
// tests need node and the copied peers folder (tools/setup.sh puts it in build/aes70-peers, or set
// LINETUNE_AES70_PEERS); without them they skip, except under CI=true, where they fail.

#include "test_push_support.hpp"
#include "test_support.hpp"

#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/driver_factory.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace linetune;
using namespace linetune::control;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Ports of the Node device: the range set aside for these tests, tried in turn from an offset
// taken from this process's id so that parallel runs rarely try the same port first.
constexpr int first_device_port = 47500;
constexpr int device_port_count = 100;

// Float32 read-back: the device stores every number as a 32-bit float, so a value comes back
// within one unit in the last place of its float32 (2^-24 relative) plus the ms-to-s conversion.
constexpr double float32_relative_tolerance = 2.4e-7;

bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

/// Returns the copied peers folder: LINETUNE_AES70_PEERS, else aes70-peers in this build folder, else in
/// the source tree's build/ (where tools/setup.sh puts it).
fs::path peers_dir() {
    if (const char* dir = std::getenv("LINETUNE_AES70_PEERS"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    const auto this_build = fs::path(LINETUNE_TEST_SCRATCH_DIR).parent_path().parent_path() / "aes70-peers";
    if (fs::exists(this_build)) {
        return this_build;
    }
    return fs::path(LINETUNE_TEST_DATA_DIR).parent_path().parent_path() / "build" / "aes70-peers";
}

bool node_on_path() {
    const char* path = std::getenv("PATH");
    std::stringstream folders(path != nullptr ? path : "");
    for (std::string folder; std::getline(folders, folder, ':');) {
        if (!folder.empty() && access((fs::path(folder) / "node").c_str(), X_OK) == 0) {
            return true;
        }
    }
    return false;
}

/// True when node and the peers folder with its installed npm packages are present. Otherwise
/// logs why the test skips, or fails under CI=true.
bool device_peer_available() {
    std::string missing;
    if (!node_on_path()) {
        missing = "node is not installed (Debian package nodejs)";
    } else if (!fs::exists(peers_dir() / "oca-mini-device.js") || !fs::exists(peers_dir() / "node_modules" / "aes70")) {
        missing = "the AES70 peers are not installed in " + peers_dir().string() + " (run tools/setup.sh)";
    }
    if (missing.empty()) {
        return true;
    }
    if (under_ci()) {
        FAIL(missing << " and CI=true");
    }
    MESSAGE("skipped: " << missing);
    return false;
}

/// oca-mini-device.js running on 127.0.0.1; the destructor stops it (SIGTERM) by its process id.
class NodeDevice {
public:
    NodeDevice() {
        const int offset = static_cast<int>(getpid()) % device_port_count;
        for (int attempt = 0; attempt < device_port_count && port_ == 0; ++attempt) {
            start(first_device_port + (offset + attempt) % device_port_count);
        }
        REQUIRE_MESSAGE(port_ != 0, "oca-mini-device.js did not start on any port from 47500 to 47599");
        MESSAGE("oca-mini-device.js listens on 127.0.0.1:" << port_ << " (pid " << pid_ << ")");
    }

    ~NodeDevice() { stop(); }

    NodeDevice(const NodeDevice&) = delete;
    NodeDevice& operator=(const NodeDevice&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    /// Starts the device on one port and waits for its "listening" line; stops it when it does not come.
    void start(int port) {
        int pipe_fds[2] = {-1, -1};
        REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
        const std::string script = (peers_dir() / "oca-mini-device.js").string();
        const std::string port_text = std::to_string(port);
        std::vector<char*> argv{const_cast<char*>("node"), const_cast<char*>(script.c_str()),
                                const_cast<char*>(port_text.c_str()), nullptr};
        const int status = posix_spawnp(&pid_, "node", &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(pipe_fds[1]);
        REQUIRE_MESSAGE(status == 0, "cannot start node");

        std::string output;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (output.find("listening") == std::string::npos && output.find("rror") == std::string::npos &&
               std::chrono::steady_clock::now() < deadline) {
            pollfd poll_fd{pipe_fds[0], POLLIN, 0};
            if (poll(&poll_fd, 1, 100) > 0) {
                char buffer[512];
                const ssize_t count = ::read(pipe_fds[0], buffer, sizeof buffer);
                if (count <= 0) {
                    break;
                }
                output.append(buffer, static_cast<std::size_t>(count));
            }
        }
        close(pipe_fds[0]);
        if (output.find("listening") != std::string::npos) {
            port_ = static_cast<std::uint16_t>(port);
            return;
        }
        stop();  // EADDRINUSE or no start: try the next port
    }

    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

DeviceProfile mini_device_profile() {
    return io::read_device_profile(io::default_hardware_dir() / "aes70-mini-device.json");
}

Amplifier mini_device_amplifier(std::uint16_t port) {
    Amplifier amplifier;
    amplifier.name = "mini-amp";
    amplifier.profile_name = "aes70-mini-device";
    amplifier.profile = mini_device_profile();
    amplifier.limits = amplifier.profile.limits;
    amplifier.host = "127.0.0.1";
    amplifier.port = port;
    return amplifier;
}

double number(const ParameterValue& value) {
    REQUIRE(std::holds_alternative<double>(value));
    return std::get<double>(value);
}

std::string error_text(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

TEST_SUITE("AES70 driver") {
    TEST_CASE("profile object map matches the Node device") {
        const auto settings = read_aes70_control_settings(mini_device_profile());
        REQUIRE(settings.channels.size() == 2);
        CHECK(settings.channels[0].gain == 10001);
        CHECK(settings.channels[0].mute == 10002);
        CHECK(settings.channels[0].delay == 10003);
        CHECK(settings.channels[1].bands == std::vector<OcaONo>{20011, 20012, 20013, 20014});
        CHECK_FALSE(settings.channels[0].polarity.has_value());
        CHECK(settings.heartbeat == 1000ms);
        CHECK(settings.reply_timeout == 500ms);
        CHECK(uses_aes70(mini_device_profile()));
    }

    TEST_CASE("broken object map lists every problem") {
        auto profile = mini_device_profile();
        profile.control_json = R"({"protocol":"aes70","transport":"udp","heartbeat_ms":50,"colour":1,)"
                               R"("objects":{"channels":[{"gain":0,"mute":10002,"delay":10002,"bands":[10011]}]}})";
        const std::string message = error_text([&] { (void)read_aes70_control_settings(profile); });
        CHECK(message.find("profile 'aes70-mini-device'") != std::string::npos);
        CHECK(message.find("control.transport \"udp\"") != std::string::npos);
        CHECK(message.find("control.heartbeat_ms 50 must be a whole number from 200 to 60000 ms") != std::string::npos);
        CHECK(message.find("control.colour is not a known key") != std::string::npos);
        CHECK(message.find("channels[0].gain 0 must be an object number") != std::string::npos);
        CHECK(message.find("reuses object number 10002") != std::string::npos);
        CHECK(message.find("lists 1 channels but the profile has 2") != std::string::npos);
        CHECK(message.find("lists 1 filters but eq.max_bands is 4") != std::string::npos);
    }

    TEST_CASE("factory picks AES70 and keeps to loopback") {
        auto amplifier = mini_device_amplifier(47599);
        const auto driver = make_device_driver(amplifier);
        CHECK(driver->description() == "amplifier 'mini-amp' (ocp1.tcp://127.0.0.1:47599)");
        CHECK(dynamic_cast<Aes70Driver*>(driver.get()) != nullptr);

        amplifier.host = "192.0.2.7";  // TEST-NET-1: never contacted, the check comes first
        const std::string message = error_text([&] { (void)make_device_driver(amplifier); });
        CHECK(message.find("is not a loopback address") != std::string::npos);
    }

    TEST_CASE("refused connection is a device error") {
        // Port 47599 of the test range with nothing listening (the Node device is not started here).
        Aes70Driver driver(mini_device_amplifier(47599), {});
        try {
            driver.connect();
            MESSAGE("something listens on 127.0.0.1:47599; the refused-connection check is skipped");
        } catch (const Error& error) {
            CHECK(error.kind() == ErrorKind::device);
            CHECK(std::string(error.what()).find("TCP connection failed") != std::string::npos);
        }
    }

    TEST_CASE("silent device times out") {
        // A TCP listener on an ephemeral loopback port that accepts and reads but never sends a Response.
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
        const auto port = acceptor.local_endpoint().port();
        std::thread listener([&] {
            boost::asio::ip::tcp::socket peer(io);
            acceptor.accept(peer);
            std::array<char, 256> sink{};
            boost::system::error_code error;
            while (!error) {
                (void)peer.read_some(boost::asio::buffer(sink), error);
            }
        });
        {
            Aes70DriverOptions options;
            options.reply_timeout = 100ms;
            Aes70Driver driver(mini_device_amplifier(port), options);
            const std::string message = error_text([&] { driver.connect(); });
            CHECK(message.find("no Response to method 1.1 of object 10001 within 100 ms") != std::string::npos);
        }  // the driver closes its connection, which ends the listener's read loop
        listener.join();
    }

    TEST_CASE("malformed reply ends the link") {
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
        const auto port = acceptor.local_endpoint().port();
        std::thread listener([&] {
            boost::asio::ip::tcp::socket peer(io);
            acceptor.accept(peer);
            std::array<char, 256> sink{};
            boost::system::error_code error;
            (void)peer.read_some(boost::asio::buffer(sink), error);
            const std::array<std::uint8_t, 12> not_ocp1{'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '4', '0', '0'};
            boost::asio::write(peer, boost::asio::buffer(not_ocp1), error);
            while (!error) {
                (void)peer.read_some(boost::asio::buffer(sink), error);
            }
        });
        {
            Aes70DriverOptions options;
            options.reply_timeout = 2000ms;  // the malformed reply must end the call long before this
            Aes70Driver driver(mini_device_amplifier(port), options);
            const std::string message = error_text([&] { driver.connect(); });
            CHECK(message.find("the device sent a malformed message") != std::string::npos);
            CHECK(message.find("sync byte is 0x48") != std::string::npos);
        }
        listener.join();
    }

    TEST_CASE("reads and writes reach the Node device") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver writer(mini_device_amplifier(device.port()), {});
        Aes70Driver checker(mini_device_amplifier(device.port()), {});  // a second OCP.1 connection
        writer.connect();
        checker.connect();

        // The Node device starts at 0 dB, 0 s, unmuted, bands at 1 kHz, PEQ, Q 1, 0 dB, enabled.
        CHECK(number(checker.read({1, ParameterKind::gain_db, 0})) == 0.0);
        CHECK(checker.read({1, ParameterKind::band_type, 2}) == ParameterValue{FilterKind::peaking});
        CHECK(checker.read({1, ParameterKind::polarity_inverted, 0}) == ParameterValue{false});

        writer.write({1, ParameterKind::gain_db, 0}, -3.5);
        writer.write({2, ParameterKind::mute, 0}, true);
        writer.write({1, ParameterKind::delay_ms, 0}, 12.5);
        writer.write({2, ParameterKind::delay_ms, 0}, 3.48);  // zone 2's delay is an OcaDelayExtended
        writer.write({1, ParameterKind::band_type, 2}, FilterKind::high_shelf);
        writer.write({1, ParameterKind::band_freq_hz, 2}, 315.0);
        writer.write({1, ParameterKind::band_q, 2}, 1.4);
        writer.write({1, ParameterKind::band_gain_db, 2}, -2.0);
        writer.write({1, ParameterKind::band_enabled, 2}, false);

        CHECK(number(checker.read({1, ParameterKind::gain_db, 0})) == -3.5);
        CHECK(checker.read({2, ParameterKind::mute, 0}) == ParameterValue{true});
        CHECK(checker.read({1, ParameterKind::mute, 0}) == ParameterValue{false});
        CHECK(number(checker.read({1, ParameterKind::delay_ms, 0})) ==
              doctest::Approx(12.5).epsilon(float32_relative_tolerance));
        CHECK(number(checker.read({2, ParameterKind::delay_ms, 0})) ==
              doctest::Approx(3.48).epsilon(float32_relative_tolerance));
        CHECK(checker.read({1, ParameterKind::band_type, 2}) == ParameterValue{FilterKind::high_shelf});
        CHECK(number(checker.read({1, ParameterKind::band_freq_hz, 2})) == 315.0);
        CHECK(number(checker.read({1, ParameterKind::band_q, 2})) == doctest::Approx(1.4).epsilon(float32_relative_tolerance));
        CHECK(number(checker.read({1, ParameterKind::band_gain_db, 2})) == -2.0);
        CHECK(checker.read({1, ParameterKind::band_enabled, 2}) == ParameterValue{false});
        CHECK(checker.read({1, ParameterKind::band_enabled, 1}) == ParameterValue{true});
        CHECK(number(checker.read({2, ParameterKind::band_freq_hz, 2})) == 1000.0);  // channel 2 untouched
    }

    TEST_CASE("rejected values name the status") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver driver(mini_device_amplifier(device.port()), {});
        driver.connect();

        Error out_of_range("none");
        try {
            driver.write({1, ParameterKind::gain_db, 0}, 20.0);  // the device allows -60 to +12 dB
        } catch (const Error& error) {
            out_of_range = error;
        }
        CHECK(out_of_range.kind() == ErrorKind::device);
        const std::string message = out_of_range.what();
        CHECK(message.find("amplifier 'mini-amp' (ocp1.tcp://127.0.0.1:") != std::string::npos);
        CHECK(message.find("channel 1 gain_db") != std::string::npos);
        CHECK(message.find("OcaGain method 4.2 on object 10001 returned ParameterOutOfRange") != std::string::npos);
        CHECK(number(driver.read({1, ParameterKind::gain_db, 0})) == 0.0);  // unchanged

        const std::string polarity = error_text([&] { driver.write({1, ParameterKind::polarity_inverted, 0}, true); });
        CHECK(polarity.find("maps no OcaPolarity object") != std::string::npos);
        driver.write({1, ParameterKind::polarity_inverted, 0}, false);  // nothing to send

        const std::string missing_band = error_text([&] { (void)driver.read({1, ParameterKind::band_q, 5}); });
        CHECK(missing_band.find("maps bands 1 to 4") != std::string::npos);
    }

    TEST_CASE("object map checked against the device") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        auto amplifier = mini_device_amplifier(device.port());
        // Channel 1's gain mapped to its mute object, and channel 2's mute to an object that does not exist.
        amplifier.profile.control_json =
            R"({"protocol":"aes70","transport":"tcp","objects":{"channels":[)"
            R"({"gain":10002,"mute":10001,"delay":10003,"bands":[10011,10012,10013,10014]},)"
            R"({"gain":20001,"mute":29999,"delay":20003,"bands":[20011,20012,20013,20014]}]}})";
        Aes70Driver swapped(amplifier, {});
        const std::string message = error_text([&] { swapped.connect(); });
        CHECK(message.find("channel 1 gain (object 10002) has class 1.1.1.2, not 1.1.1.5") != std::string::npos);
    }

    TEST_CASE("keepalive holds an idle link") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver driver(mini_device_amplifier(device.port()), {});
        driver.connect();
        // The device adopts the 1 s heartbeat and drops a controller that is silent for 3 s. The
        // driver sends a KeepAlive after each idle second, so the link survives 3.5 s without commands.
        std::this_thread::sleep_for(3500ms);
        driver.write({1, ParameterKind::gain_db, 0}, -1.0);
        CHECK(number(driver.read({1, ParameterKind::gain_db, 0})) == -1.0);
    }

    TEST_CASE("push to the Node device ends verified") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Venue venue = test::memory_venue(1);
        venue.amplifiers[0] = mini_device_amplifier(device.port());
        venue.amplifiers[0].name = "amp-1";  // the memory venue's zones name amp-1
        const std::map<std::string, ZoneTarget> targets{
            {"zone-1", test::zone_target(-4.5, 3.48, {test::peaking(125.0, -6.0, 4.0), test::peaking(2500.0, 3.0, 1.0)})},
            {"zone-2", test::zone_target(2.5, 0.0, {{analysis::FilterType::high_pass, 35.0, 0.0, 0.71}})}};
        const auto factory = [](const Amplifier& amplifier) { return make_device_driver(amplifier); };

        auto push = prepare_push(venue, targets, factory, test::quick_options());
        const auto report = execute_push(push, test::scratch_dir("push-aes70") / "push-journal.json", test::quick_options());
        CHECK(report.succeeded());
        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == DeviceOutcome::verified);
        CHECK(report.devices[0].device.find("ocp1.tcp://127.0.0.1:") != std::string::npos);

        Aes70Driver checker(venue.amplifiers[0], {});
        checker.connect();
        CHECK(number(checker.read({1, ParameterKind::gain_db, 0})) == -4.5);
        CHECK(number(checker.read({1, ParameterKind::delay_ms, 0})) == doctest::Approx(3.48).epsilon(float32_relative_tolerance));
        CHECK(number(checker.read({1, ParameterKind::band_freq_hz, 1})) == 125.0);
        CHECK(number(checker.read({1, ParameterKind::band_gain_db, 1})) == -6.0);
        CHECK(number(checker.read({1, ParameterKind::band_q, 1})) == 4.0);
        CHECK(number(checker.read({1, ParameterKind::band_freq_hz, 2})) == 2500.0);
        CHECK(checker.read({1, ParameterKind::band_enabled, 3}) == ParameterValue{false});
        CHECK(number(checker.read({2, ParameterKind::gain_db, 0})) == 2.5);
        CHECK(checker.read({2, ParameterKind::band_type, 1}) == ParameterValue{FilterKind::high_pass});
        CHECK(number(checker.read({2, ParameterKind::band_freq_hz, 1})) == 35.0);
        CHECK(checker.read({2, ParameterKind::band_enabled, 2}) == ParameterValue{false});
        CHECK(checker.read({1, ParameterKind::mute, 0}) == ParameterValue{false});
    }
}

}  // namespace
