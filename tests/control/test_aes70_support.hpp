#pragma once

// Helpers of the AES70 tests: the Node OCP.1 test device oca-mini-device.js started on 127.0.0.1
// and stopped by its process id, and profiles and amplifiers that point at it. The device tests
// need node and the copied peers folder (tools/setup.sh puts it in build/aes70-peers, or set
// LINETUNE_AES70_PEERS); without them they skip, except under CI=true, where they fail.

#include "test_support.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace linetune::test::aes70 {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Ports of the Node device: the range set aside for the AES70 controller tests, tried in turn
// from an offset taken from this process's id so that parallel runs rarely try the same port first.
constexpr int first_device_port = 47300;
constexpr int device_port_count = 49;  // 47349 stays free for the refused-connection test

// Float32 read-back: the device stores every number as a 32-bit float, so a value comes back
// within one unit in the last place of its float32 (2^-24 relative) plus the ms-to-s conversion.
constexpr double float32_relative_tolerance = 2.4e-7;

inline bool under_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

/// Returns the copied peers folder: LINETUNE_AES70_PEERS, else aes70-peers in this build folder, else in
/// the source tree's build/ (where tools/setup.sh puts it).
inline fs::path peers_dir() {
    if (const char* dir = std::getenv("LINETUNE_AES70_PEERS"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    const auto this_build = fs::path(LINETUNE_TEST_SCRATCH_DIR).parent_path().parent_path() / "aes70-peers";
    if (fs::exists(this_build)) {
        return this_build;
    }
    return fs::path(LINETUNE_TEST_DATA_DIR).parent_path().parent_path() / "build" / "aes70-peers";
}

inline bool node_on_path() {
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
inline bool device_peer_available() {
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
/// script: a Node script in the peers folder or an absolute path; arguments follow the port.
class NodeDevice {
public:
    explicit NodeDevice(std::vector<std::string> arguments = {}, std::string script = "oca-mini-device.js")
        : arguments_(std::move(arguments)), script_(std::move(script)) {
        const int offset = static_cast<int>(getpid()) % device_port_count;
        for (int attempt = 0; attempt < device_port_count && port_ == 0; ++attempt) {
            start(first_device_port + (offset + attempt) % device_port_count);
        }
        REQUIRE_MESSAGE(port_ != 0, script_ << " did not start on any port from 47300 to 47348");
        MESSAGE(script_ << " listens on 127.0.0.1:" << port_ << " (pid " << pid_ << ")");
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
        const std::string script = fs::path(script_).is_absolute() ? script_ : (peers_dir() / script_).string();
        const std::string port_text = std::to_string(port);
        std::vector<char*> argv{const_cast<char*>("node"), const_cast<char*>(script.c_str()),
                                const_cast<char*>(port_text.c_str())};
        for (auto& argument : arguments_) {
            argv.push_back(argument.data());
        }
        argv.push_back(nullptr);
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

    std::vector<std::string> arguments_;
    std::string script_;
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

inline DeviceProfile mini_device_profile() {
    return io::read_device_profile(io::default_hardware_dir() / "aes70-mini-device.json");
}

inline Amplifier mini_device_amplifier(std::uint16_t port) {
    Amplifier amplifier;
    amplifier.name = "mini-amp";
    amplifier.profile_name = "aes70-mini-device";
    amplifier.profile = mini_device_profile();
    amplifier.limits = amplifier.profile.limits;
    amplifier.host = "127.0.0.1";
    amplifier.port = port;
    return amplifier;
}

inline double number(const ParameterValue& value) {
    REQUIRE(std::holds_alternative<double>(value));
    return std::get<double>(value);
}

inline std::string error_text(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "no error";
}

}  // namespace linetune::test::aes70
