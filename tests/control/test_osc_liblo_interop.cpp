// Interoperability with liblo 0.31's command-line tools (Debian package liblo-tools): oscsend
// sets the virtual amplifier, oscsend's encoder output is decoded by ours, and oscdump decodes what
// our encoder sends, over UDP and over TCP with liblo's length prefix. SLIP-framed TCP is checked
// both ways against osc.js (npm "osc" 2.4.5) through tests/control/osc_slip_peer.js. Without the
// tools the tests skip, except under CI=true, where they fail.

#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/control/osc/osc_stream_framing.hpp"
#include "test_osc_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
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

/// True when the program is on PATH.
bool tool_available_quietly(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream folders(path != nullptr ? path : "");
    for (std::string folder; std::getline(folders, folder, ':');) {
        if (!folder.empty() && access((fs::path(folder) / program).c_str(), X_OK) == 0) {
            return true;
        }
    }
    return false;
}

/// True when the program is on PATH. When it is not, the test logs why it skips; under CI=true it
/// fails instead, because CI must run it.
bool tool_available(const std::string& program) {
    if (tool_available_quietly(program)) {
        return true;
    }
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
        FAIL(program << " is not installed and CI=true; install the Debian package liblo-tools");
    }
    MESSAGE("skipped: " << program << " not found; install the Debian package liblo-tools");
    return false;
}

/// A child process started with posix_spawnp; the destructor stops it (SIGTERM) by its id and
/// reaps it.
class ChildProcess {
public:
    /// Starts the program; with capture_stdout, its standard output can be read with read_lines.
    ChildProcess(const std::vector<std::string>& arguments, bool capture_stdout) {
        int pipe_fds[2] = {-1, -1};
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (capture_stdout) {
            REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
            posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
        }
        std::vector<char*> argv;
        for (const auto& argument : arguments) {
            argv.push_back(const_cast<char*>(argument.c_str()));
        }
        argv.push_back(nullptr);
        const int status = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (capture_stdout) {
            close(pipe_fds[1]);
            stdout_fd_ = pipe_fds[0];
        }
        REQUIRE_MESSAGE(status == 0, "cannot start " << arguments.front());
    }

    ~ChildProcess() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        if (stdout_fd_ >= 0) {
            close(stdout_fd_);
        }
    }

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }

    /// Waits for the process to end and returns its exit status (-1 when a signal ended it).
    int wait_exit() {
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    /// Reads standard output until it contains count lines, ends, or the timeout passes.
    std::vector<std::string> read_lines(std::size_t count, std::chrono::milliseconds timeout) {
        read_until([this, count] { return lines_in(buffer_) >= count; }, timeout);
        std::vector<std::string> lines;
        std::stringstream stream(buffer_);
        for (std::string line; std::getline(stream, line);) {
            lines.push_back(line);
        }
        return lines;
    }

    /// Reads standard output until it ends or the timeout passes, and returns all of it.
    std::string read_all(std::chrono::milliseconds timeout) {
        read_until([] { return false; }, timeout);
        return buffer_;
    }

private:
    void read_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                    std::chrono::steady_clock::now());
            pollfd descriptor{stdout_fd_, POLLIN, 0};
            if (left.count() <= 0 || poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) {
                break;
            }
            char chunk[4096];
            const ssize_t bytes = read(stdout_fd_, chunk, sizeof chunk);
            if (bytes <= 0) {
                break;
            }
            buffer_.append(chunk, static_cast<std::size_t>(bytes));
        }
    }

    static std::size_t lines_in(const std::string& text) {
        return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    }

    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string buffer_;
};

/// Runs a program to its end and returns its standard output.
std::string output_of(const std::vector<std::string>& arguments) {
    ChildProcess child(arguments, true);
    std::string output = child.read_all(5000ms);
    CHECK(child.wait_exit() == 0);
    return output;
}

/// Socket inodes the process holds, from its /proc/PID/fd links ("socket:[12345]").
std::vector<std::string> socket_inodes(pid_t pid) {
    std::vector<std::string> inodes;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
        const std::string target = fs::read_symlink(entry.path(), error).string();
        if (target.rfind("socket:[", 0) == 0) {
            inodes.push_back(target.substr(8, target.size() - 9));
        }
    }
    return inodes;
}

/// The local UDP port of a socket with one of these inodes, from /proc/net/udp; 0 when none.
std::uint16_t udp_port_of(const std::vector<std::string>& inodes) {
    for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
        std::ifstream file(table);
        std::string line;
        std::getline(file, line);  // header
        while (std::getline(file, line)) {
            std::stringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            if (std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) {
                return static_cast<std::uint16_t>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16));
            }
        }
    }
    return 0;
}

/// The UDP port that the process bound, waiting up to 5 s for it to start listening.
std::uint16_t wait_for_udp_port(pid_t pid) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        if (const std::uint16_t port = udp_port_of(socket_inodes(pid))) {
            return port;
        }
        std::this_thread::sleep_for(50ms);
    }
    return 0;
}

/// The local port of a listening TCP socket (state 0A) with one of these inodes, from
/// /proc/net/tcp; 0 when none.
std::uint16_t tcp_listen_port_of(const std::vector<std::string>& inodes) {
    constexpr std::string_view listen_state = "0A";
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream file(table);
        std::string line;
        std::getline(file, line);  // header
        while (std::getline(file, line)) {
            std::stringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
            fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
            if (state == listen_state && std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) {
                return static_cast<std::uint16_t>(std::stoul(local.substr(local.find(':') + 1), nullptr, 16));
            }
        }
    }
    return 0;
}

/// The TCP port that the process listens on, waiting up to 5 s for it.
std::uint16_t wait_for_tcp_port(pid_t pid) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        if (const std::uint16_t port = tcp_listen_port_of(socket_inodes(pid))) {
            return port;
        }
        std::this_thread::sleep_for(50ms);
    }
    return 0;
}

/// The shipped virtual-amp profile switched to OSC over TCP with the framing.
DeviceProfile tcp_profile(OscStreamFraming framing) {
    DeviceProfile profile = test::virtual_amp_profile();
    auto control = nlohmann::json::parse(profile.control_json);
    control["transport"] = "tcp";
    control["framing"] = std::string(to_string(framing));
    profile.control_json = control.dump();
    return profile;
}

/// The copied peers folder with osc.js installed: LINETUNE_AES70_PEERS, else aes70-peers in this
/// build folder (where tools/setup.sh puts it).
fs::path osc_js_peers_dir() {
    if (const char* dir = std::getenv("LINETUNE_AES70_PEERS"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    return fs::path(LINETUNE_TEST_SCRATCH_DIR).parent_path().parent_path() / "aes70-peers";
}

/// True when node and osc.js are installed. When they are not, the test logs why it skips; under
/// CI=true it fails instead.
bool osc_js_available() {
    std::string missing;
    if (!tool_available_quietly("node")) {
        missing = "node is not installed (Debian package nodejs)";
    } else if (!fs::exists(osc_js_peers_dir() / "node_modules" / "osc")) {
        missing = "osc.js is not installed in " + osc_js_peers_dir().string() + " (run tools/setup.sh)";
    }
    if (missing.empty()) {
        return true;
    }
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
        FAIL(missing << " and CI=true");
    }
    MESSAGE("skipped: " << missing);
    return false;
}

/// Arguments that run osc_slip_peer.js with osc.js found through NODE_PATH.
std::vector<std::string> slip_peer_command(const std::vector<std::string>& arguments) {
    std::vector<std::string> command{"env", "NODE_PATH=" + (osc_js_peers_dir() / "node_modules").string(), "node",
                                     (fs::path(LINETUNE_TEST_DATA_DIR).parent_path() / "control" / "osc_slip_peer.js").string()};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return command;
}

/// oscdump's line without its leading time tag ("eebdbfbf.71ea9a3c /x ..." becomes "/x ...").
std::string without_timetag(const std::string& line) {
    const auto space = line.find(' ');
    return space == std::string::npos ? line : line.substr(space + 1);
}

}  // namespace

TEST_SUITE("control") {

TEST_CASE("oscsend sets the virtual amplifier") {
    if (!tool_available("oscsend")) {
        return;
    }
    test::VirtualAmpFixture fixture;
    const std::string url = fixture.amplifier.url();

    CHECK(output_of({"oscsend", url, "/ch/1/gain_db", "f", "-3"}).empty());
    CHECK(output_of({"oscsend", url, "/ch/2/eq/4/type", "s", "high_shelf"}).empty());
    CHECK(output_of({"oscsend", url, "/ch/2/eq/4/enabled", "T"}).empty());
    CHECK(output_of({"oscsend", url, "/ch/3/mute", "i", "1"}).empty());
    CHECK(output_of({"oscsend", url, "/ch/3/delay_ms", "d", "7.5"}).empty());

    // The driver's queries travel behind oscsend's datagrams on the same socket, so the
    // amplifier has handled the sets when it answers them.
    auto driver = fixture.driver();
    CHECK(std::get<double>(driver->read({1, ParameterKind::gain_db, 0})) == -3.0);
    CHECK(std::get<FilterKind>(driver->read({2, ParameterKind::band_type, 4})) == FilterKind::high_shelf);
    CHECK(std::get<bool>(driver->read({2, ParameterKind::band_enabled, 4})));
    CHECK(std::get<bool>(driver->read({3, ParameterKind::mute, 0})));
    CHECK(std::get<double>(driver->read({3, ParameterKind::delay_ms, 0})) == 7.5);
}

TEST_CASE("osc decoder reads oscsend's packets") {
    if (!tool_available("oscsend")) {
        return;
    }
    // "oscsend - ..." writes the encoded packet to standard output instead of a socket.
    const std::string bytes = output_of({"oscsend", "-", "/x/y", "ifsSTFNIhdcm", "-7", "2.5", "abc", "sym", "3",
                                         "4.5", "c", "0x90407f00"});
    const std::vector<std::uint8_t> packet(bytes.begin(), bytes.end());

    const OscPacket decoded = decode_osc_packet(packet);
    const OscMessage expected{"/x/y",
                              {std::int32_t{-7}, 2.5f, std::string("abc"), OscSymbol{"sym"}, true, false, OscNil{},
                               OscImpulse{}, std::int64_t{3}, 4.5, OscChar{'c'}, OscMidi{0x00, 0x90, 0x40, 0x7F}}};
    CHECK(decoded == OscPacket{expected});
}

TEST_CASE("oscdump decodes what the osc encoder sends") {
    if (!tool_available("oscdump")) {
        return;
    }
    // Port 0: the system picks a free port, found through /proc. liblo 0.31 takes a host in a
    // server URL as a multicast group, so oscdump cannot be bound to 127.0.0.1 alone. It listens
    // on every interface for the few seconds of this test, and only this test sends to it.
    ChildProcess oscdump({"oscdump", "-L", "0"}, true);
    const std::uint16_t port = wait_for_udp_port(oscdump.pid());
    REQUIRE_MESSAGE(port != 0, "oscdump did not open a UDP port within 5 s");

    test::RawOscClient client(port);
    client.send(OscPacket{OscMessage{"/ch/1/gain_db", {-3.0f}}});
    client.send(OscPacket{OscMessage{"/ch/1/eq/2/type", {std::string("low_shelf")}}});
    client.send(OscPacket{OscMessage{"/types", {std::int32_t{-7}, 2.5f, std::string("abc"), OscSymbol{"sym"}, true,
                                                false, OscNil{}, OscImpulse{}, std::int64_t{-3}, 4.5, OscChar{'c'},
                                                OscMidi{0x00, 0x90, 0x40, 0x7F}}}});
    client.send(OscPacket{OscMessage{"/blob", {OscBlob{{1, 2, 3, 4, 5}}}}});
    // liblo 0.31 rejects 'r' (RGBA) as an invalid message, so it is left out here.
    client.send(OscPacket{OscMessage{"/time", {OscTimetag{0x0000000500000001ULL}}}});
    OscBundle bundle;
    bundle.elements = {OscPacket{OscMessage{"/ch/2/gain_db", {-6.0f}}},
                       OscPacket{OscMessage{"/ch/2/mute", {std::int32_t{1}}}}};
    client.send(OscPacket{bundle});
    client.send(OscPacket{OscMessage{"/query", {}}});

    const auto lines = oscdump.read_lines(8, 5000ms);
    REQUIRE(lines.size() == 8);
    std::vector<std::string> messages;
    for (const auto& line : lines) {
        messages.push_back(without_timetag(line));
    }
    CHECK(messages[0] == "/ch/1/gain_db f -3.000000");
    CHECK(messages[1] == "/ch/1/eq/2/type s \"low_shelf\"");
    CHECK(messages[2] == "/types ifsSTFNIhdcm -7 2.500000 \"abc\" 'sym #T #F Nil Infinitum -3 4.500000 'c' "
                         "MIDI [0x00 0x90 0x40 0x7f]");
    CHECK(messages[3] == "/blob b [5b 0x1 0x2 0x3 0x4 0x5]");
    CHECK(messages[4] == "/time t 00000005.00000001");
    CHECK(messages[5] == "/ch/2/gain_db f -6.000000");
    CHECK(messages[6] == "/ch/2/mute i 1");
    CHECK(messages[7] == "/query ");
    // oscdump prints each message of a bundle with the bundle's time tag.
    CHECK(lines[5].substr(0, lines[5].find(' ')) == lines[6].substr(0, lines[6].find(' ')));
}

TEST_CASE("oscsend over tcp sets the virtual amplifier") {
    if (!tool_available("oscsend")) {
        return;
    }
    // liblo's TCP client frames each packet with an int32 length prefix (OSC 1.0).
    const DeviceProfile profile = tcp_profile(OscStreamFraming::length_prefix);
    SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
    VirtualAmplifier amplifier(profile, state);
    amplifier.start();
    const std::string url = amplifier.url();
    REQUIRE(url.rfind("osc.tcp://127.0.0.1:", 0) == 0);

    CHECK(output_of({"oscsend", url, "/ch/1/gain_db", "f", "-3"}).empty());
    CHECK(output_of({"oscsend", url, "/ch/2/eq/4/type", "s", "high_shelf"}).empty());
    CHECK(output_of({"oscsend", url, "/ch/3/delay_ms", "d", "7.5"}).empty());

    // Each oscsend has its own connection, so its last packet may still be queued on the server
    // thread when oscsend exits: wait up to 2 s for the state to show it.
    for (int attempt = 0; attempt < 200 && state.snapshot().channels[2].delay_ms != 7.5; ++attempt) {
        std::this_thread::sleep_for(10ms);
    }
    const AmplifierState held = state.snapshot();
    CHECK(held.channels[0].gain_db == -3.0);
    CHECK(held.channels[1].bands[3].type == FilterKind::high_shelf);
    CHECK(held.channels[2].delay_ms == 7.5);
}

TEST_CASE("oscdump decodes what the osc encoder sends over tcp") {
    if (!tool_available("oscdump")) {
        return;
    }
    // As for UDP, liblo 0.31 cannot bind a TCP server to 127.0.0.1 alone; it listens on every
    // interface for the few seconds of this test, and only this test connects to it.
    ChildProcess oscdump({"oscdump", "-L", "osc.tcp://:0"}, true);
    const std::uint16_t port = wait_for_tcp_port(oscdump.pid());
    REQUIRE_MESSAGE(port != 0, "oscdump did not open a TCP port within 5 s");

    boost::asio::io_context io_context;
    boost::asio::ip::tcp::socket socket(io_context);
    socket.connect({boost::asio::ip::address_v4::loopback(), port});
    std::vector<std::uint8_t> stream;
    OscBundle bundle;
    bundle.elements = {OscPacket{OscMessage{"/ch/2/gain_db", {-6.0f}}},
                       OscPacket{OscMessage{"/ch/2/mute", {std::int32_t{1}}}}};
    for (const auto& packet : {OscPacket{OscMessage{"/ch/1/gain_db", {-3.0f}}},
                               OscPacket{OscMessage{"/blob", {OscBlob{{0xC0, 0xDB, 3}}}}}, OscPacket{bundle},
                               OscPacket{OscMessage{"/ch/1/eq/2/type", {std::string("low_shelf")}}}}) {
        const auto frame = frame_osc_packet(encode_osc_packet(packet), OscStreamFraming::length_prefix);
        stream.insert(stream.end(), frame.begin(), frame.end());
    }
    // One write holding every frame, then the rest of a stream cut in the middle of a prefix.
    boost::asio::write(socket, boost::asio::buffer(stream));
    const auto last = frame_osc_packet(encode_osc_message({"/query", {}}), OscStreamFraming::length_prefix);
    boost::asio::write(socket, boost::asio::buffer(last.data(), 2));
    std::this_thread::sleep_for(50ms);
    boost::asio::write(socket, boost::asio::buffer(last.data() + 2, last.size() - 2));

    const auto lines = oscdump.read_lines(6, 5000ms);
    REQUIRE(lines.size() == 6);
    CHECK(without_timetag(lines[0]) == "/ch/1/gain_db f -3.000000");
    CHECK(without_timetag(lines[1]) == "/blob b [3b 0xc0 0xdb 0x3]");
    CHECK(without_timetag(lines[2]) == "/ch/2/gain_db f -6.000000");
    CHECK(without_timetag(lines[3]) == "/ch/2/mute i 1");
    CHECK(without_timetag(lines[4]) == "/ch/1/eq/2/type s \"low_shelf\"");
    CHECK(without_timetag(lines[5]) == "/query ");
}

TEST_CASE("osc.js sets the virtual amplifier over slip tcp") {
    if (!osc_js_available()) {
        return;
    }
    const DeviceProfile profile = tcp_profile(OscStreamFraming::slip);
    SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
    VirtualAmplifier amplifier(profile, state);
    amplifier.start();

    const nlohmann::json messages = nlohmann::json::array({
        {{"address", "/ch/1/gain_db"}, {"args", {{{"type", "f"}, {"value", -4.5}}}}},
        {{"address", "/ch/2/eq/3/freq_hz"}, {"args", {{{"type", "f"}, {"value", 315}}}}},
        {{"address", "/ch/2/eq/3/type"}, {"args", {{{"type", "s"}, {"value", "low_shelf"}}}}},
        {{"address", "/ch/3/mute"}, {"args", {{{"type", "T"}, {"value", true}}}}},
        {{"address", "/ch/1/gain_db"}, {"args", nlohmann::json::array()}},
    });
    ChildProcess peer(slip_peer_command({"send", std::to_string(amplifier.port()), messages.dump()}), true);
    const auto lines = peer.read_lines(5, 5000ms);
    CHECK(peer.wait_exit() == 0);

    // osc.js decodes each reply; the amplifier answers a set and a query with the value it holds.
    REQUIRE(lines.size() == 5);
    CHECK(nlohmann::json::parse(lines[0]) == nlohmann::json::parse(R"({"address":"/ch/1/gain_db","args":[{"type":"f","value":-4.5}]})"));
    CHECK(nlohmann::json::parse(lines[2]) == nlohmann::json::parse(R"({"address":"/ch/2/eq/3/type","args":[{"type":"s","value":"low_shelf"}]})"));
    CHECK(nlohmann::json::parse(lines[4]) == nlohmann::json::parse(R"({"address":"/ch/1/gain_db","args":[{"type":"f","value":-4.5}]})"));
    const AmplifierState held = state.snapshot();
    CHECK(held.channels[0].gain_db == -4.5);
    CHECK(held.channels[1].bands[2].freq_hz == 315.0);
    CHECK(held.channels[1].bands[2].type == FilterKind::low_shelf);
    CHECK(held.channels[2].mute);
}

TEST_CASE("osc.js decodes what the osc encoder sends over slip tcp") {
    if (!osc_js_available()) {
        return;
    }
    ChildProcess peer(slip_peer_command({"receive", "4"}), true);
    const auto port_line = peer.read_lines(1, 5000ms);
    REQUIRE(port_line.size() == 1);
    REQUIRE(port_line[0].rfind("port ", 0) == 0);
    const auto port = static_cast<std::uint16_t>(std::stoul(port_line[0].substr(5)));

    boost::asio::io_context io_context;
    boost::asio::ip::tcp::socket socket(io_context);
    socket.connect({boost::asio::ip::address_v4::loopback(), port});
    OscBundle bundle;
    bundle.elements = {OscPacket{OscMessage{"/ch/2/gain_db", {-6.0f}}},
                       OscPacket{OscMessage{"/ch/2/delay_ms", {12.5f}}}};
    // The blob holds both SLIP special bytes, which must arrive escaped and come back whole.
    for (const auto& packet : {OscPacket{OscMessage{"/ch/1/eq/1/q", {1.41f}}},
                               OscPacket{OscMessage{"/blob", {OscBlob{{0xC0, 0xDB, 0xDC, 0xDD}}}}}, OscPacket{bundle}}) {
        const auto frame = frame_osc_packet(encode_osc_packet(packet), OscStreamFraming::slip);
        boost::asio::write(socket, boost::asio::buffer(frame));
    }

    const auto lines = peer.read_lines(5, 5000ms);
    CHECK(peer.wait_exit() == 0);
    REQUIRE(lines.size() == 5);
    const auto q = nlohmann::json::parse(lines[1]);
    CHECK(q["address"] == "/ch/1/eq/1/q");
    CHECK(q["args"][0]["type"] == "f");
    CHECK(q["args"][0]["value"].get<double>() == doctest::Approx(1.41).epsilon(1e-6));
    // osc.js prints a blob as an object of byte values keyed by index.
    CHECK(nlohmann::json::parse(lines[2]) ==
          nlohmann::json::parse(R"({"address":"/blob","args":[{"type":"b","value":{"0":192,"1":219,"2":220,"3":221}}]})"));
    CHECK(nlohmann::json::parse(lines[3]) == nlohmann::json::parse(R"({"address":"/ch/2/gain_db","args":[{"type":"f","value":-6}]})"));
    CHECK(nlohmann::json::parse(lines[4]) == nlohmann::json::parse(R"({"address":"/ch/2/delay_ms","args":[{"type":"f","value":12.5}]})"));
}

}
