// Interoperability with liblo 0.31's command-line tools (Debian package liblo-tools): oscsend
// sets the virtual amplifier, oscsend's encoder output is decoded by ours, and oscdump decodes what
// our encoder sends. Without the tools the tests skip, except under CI=true, where they fail.

#include "linetune/control/osc/osc_packet.hpp"
#include "test_osc_support.hpp"

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

/// True when the program is on PATH. When it is not, the test logs why it skips; under CI=true it
/// fails instead, because CI must run it.
bool tool_available(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream folders(path != nullptr ? path : "");
    for (std::string folder; std::getline(folders, folder, ':');) {
        if (!folder.empty() && access((fs::path(folder) / program).c_str(), X_OK) == 0) {
            return true;
        }
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

}
