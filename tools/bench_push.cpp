// Benchmark of a whole push to a rig of 24 channels x (16 bands + delay + gain + mute): connect,
// snapshot, journal, ordered writes and full read-back, on 127.0.0.1 with no rate limit. Over
// AES70 against the Node OCP.1 test device (run with 16 filters per zone by oca-wide-device.cjs)
// and over OSC/UDP against the in-process virtual amplifier. It then projects the time on real
// devices from each profile's command rate and gain ramps. Every process it starts is stopped by
// its process id.
//
// Usage: bench_push OCA_WIDE_DEVICE_JS PEERS_DIR

#include "linetune/control/driver_factory.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace {

using namespace linetune;
using namespace linetune::control;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr std::size_t rig_channels = 24;
constexpr std::size_t rig_bands = 16;

// Loopback target for the AES70 push of the whole rig.
constexpr double aes70_target_ms = 500.0;

// Ports tried for the Node device: the range of the AES70 controller tests.
constexpr int first_device_port = 47300;
constexpr int device_port_count = 49;

// Command rate assumed for a profile that states none: "tens of commands per second per device
// at most" is the usual guidance for amplifier control, so 20 per second is taken as typical.
constexpr double assumed_commands_per_s = 20.0;

// Gain ramps: a gain change is made live in steps of at most 1 dB, one step per 50 ms (the slow
// end of the 20 to 50 ms per dB that keeps a change free of clicks).
constexpr double ramp_step_db = 1.0;
constexpr double ramp_step_s = 0.050;

/// The Node device, started with 24 zones of 16 filters; stopped by its process id.
class NodeDevice {
public:
    NodeDevice(const std::string& wrapper, const std::string& peers) {
        for (int attempt = 0; attempt < device_port_count && port_ == 0; ++attempt) {
            start(wrapper, peers, first_device_port + (static_cast<int>(getpid()) + attempt) % device_port_count);
        }
        if (port_ == 0) {
            throw Error("the Node OCP.1 device did not start on any port from 47300 to 47348 (is node installed and " +
                            peers + " set up by tools/setup.sh?)",
                        ErrorKind::device);
        }
    }
    ~NodeDevice() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
    }
    NodeDevice(const NodeDevice&) = delete;
    NodeDevice& operator=(const NodeDevice&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    void start(const std::string& wrapper, const std::string& peers, int port) {
        int pipe_fds[2] = {-1, -1};
        if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
            return;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
        std::vector<std::string> arguments{"node", wrapper, std::to_string(port), "--zones=" + std::to_string(rig_channels),
                                           "--bands=" + std::to_string(rig_bands),
                                           "--device=" + (fs::path(peers) / "oca-mini-device.js").string()};
        std::vector<char*> argv;
        for (auto& argument : arguments) {
            argv.push_back(argument.data());
        }
        argv.push_back(nullptr);
        const int status = posix_spawnp(&pid_, "node", &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(pipe_fds[1]);
        std::string output;
        const auto deadline = Clock::now() + std::chrono::seconds(10);
        while (status == 0 && output.find("listening") == std::string::npos && output.find("rror") == std::string::npos &&
               Clock::now() < deadline) {
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
        if (status == 0 && output.find("listening") != std::string::npos) {
            port_ = static_cast<std::uint16_t>(port);
            return;
        }
        if (status == 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
    }

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

/// Returns the rig profile: base widened to 24 channels of 16 owned bands, with the given control object.
DeviceProfile rig_profile(DeviceProfile base, const nlohmann::json& control) {
    base.channel_count = rig_channels;
    base.limits.eq.max_bands = rig_bands;
    base.control_json = control.dump();
    return base;
}

/// Returns the Node device object map: zone z is block z*10000 with gain +1, mute +2, delay +3 and
/// filter b at +10+b.
nlohmann::json node_object_map() {
    nlohmann::json channels = nlohmann::json::array();
    for (std::size_t z = 1; z <= rig_channels; ++z) {
        const std::size_t base = z * 10000;
        nlohmann::json bands = nlohmann::json::array();
        for (std::size_t b = 1; b <= rig_bands; ++b) {
            bands.push_back(base + 10 + b);
        }
        channels.push_back({{"gain", base + 1}, {"mute", base + 2}, {"delay", base + 3}, {"bands", bands}});
    }
    return {{"protocol", "aes70"}, {"transport", "tcp"}, {"objects", {{"channels", channels}}}};
}

Venue rig_venue(const DeviceProfile& profile, std::uint16_t port) {
    Venue venue;
    venue.name = "bench rig";
    venue.file = "bench-rig.json";
    venue.max_distance_m = 40.0;
    Amplifier amplifier;
    amplifier.name = "rig-amp";
    amplifier.profile_name = profile.name;
    amplifier.profile = profile;
    amplifier.limits = profile.limits;
    amplifier.host = "127.0.0.1";
    amplifier.port = port;
    venue.amplifiers.push_back(amplifier);
    for (std::size_t c = 1; c <= rig_channels; ++c) {
        Zone zone;
        zone.name = "zone-" + std::to_string(c);
        zone.system = "mains";
        zone.amplifier = amplifier.name;
        zone.channel = c;
        venue.zones.push_back(zone);
    }
    return venue;
}

/// 16 bands per zone, log-spaced from 40 Hz to 16 kHz: cuts of 1 to 4 dB, with a +1 dB boost
/// every fourth band (two octaves apart, so the summed boost stays far below +6 dB). Gain 2 dB
/// below 0 dB, and a delay that differs per zone.
std::map<std::string, ZoneTarget> rig_targets() {
    std::map<std::string, ZoneTarget> targets;
    for (std::size_t c = 1; c <= rig_channels; ++c) {
        ZoneTarget target;
        target.setting.gain_db = -2.0;
        target.setting.delay_ms = 0.5 * static_cast<double>(c);
        for (std::size_t b = 0; b < rig_bands; ++b) {
            const double freq_hz = std::round(40.0 * std::pow(400.0, static_cast<double>(b) / (rig_bands - 1)));
            const double gain_db = b % 4 == 3 ? 1.0 : -1.0 - static_cast<double>(b % 4);
            target.setting.bands.push_back({analysis::FilterType::peaking, freq_hz, gain_db, 2.0});
        }
        targets["zone-" + std::to_string(c)] = target;
    }
    return targets;
}

struct PushTiming {
    double prepare_ms = 0.0;  ///< connect, object check, subscriptions, snapshot, plan
    double execute_ms = 0.0;  ///< journal, writes, read-back
    std::size_t writes = 0;
};

PushTiming time_push(const Venue& venue, const fs::path& journal) {
    fs::remove(journal);
    const auto factory = [](const Amplifier& amplifier) { return make_device_driver(amplifier); };
    PushOptions options;
    const auto start = Clock::now();
    auto push = prepare_push(venue, rig_targets(), factory, options);
    const auto prepared = Clock::now();
    const auto report = execute_push(push, journal, options);
    const auto done = Clock::now();
    if (!report.succeeded()) {
        throw Error("the benchmark push failed: " + report.failure, ErrorKind::device);
    }
    return {std::chrono::duration<double, std::milli>(prepared - start).count(),
            std::chrono::duration<double, std::milli>(done - prepared).count(), push.writes.size()};
}

void print_timing(const std::string& what, const PushTiming& timing) {
    std::printf("%s: %.1f ms in all (%.1f ms connect and snapshot, %.1f ms for %zu writes with read-back)\n",
                what.c_str(), timing.prepare_ms + timing.execute_ms, timing.prepare_ms, timing.execute_ms, timing.writes);
}

/// Projected time of this rig's push on a real device of each profile in hardware/: its commands
/// (the snapshot reads, one Set and one Get per write) at the profile's command rate, plus the
/// gain changes ramped in 1 dB steps.
void print_projections(std::size_t writes) {
    const std::size_t snapshot_reads = rig_channels * (4 + 5 * rig_bands);
    const std::size_t commands = snapshot_reads + 2 * writes;
    const double gain_change_db = 2.0;  // every zone goes from 0 dB to -2 dB
    const double ramp_s = rig_channels * std::ceil(gain_change_db / ramp_step_db) * ramp_step_s;
    std::printf("projected on real devices for this rig (%zu commands; gain ramps of %.0f dB per %.0f ms add %.1f s):\n",
                commands, ramp_step_db, ramp_step_s * 1000.0, ramp_s);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(io::default_hardware_dir())) {
        if (entry.path().extension() == ".json") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        const auto profile = io::read_device_profile(file);
        const auto control = nlohmann::json::parse(profile.control_json, nullptr, false);
        if (!control.is_object()) {
            continue;
        }
        const bool stated = control.contains("max_commands_per_s");
        const double rate = stated ? control["max_commands_per_s"].get<double>() : assumed_commands_per_s;
        const double seconds = static_cast<double>(commands) / rate + ramp_s;
        std::printf("  %-20s %-6s %6.0f commands/s (%s): %.1f s\n", profile.name.c_str(),
                    control.value("protocol", std::string("?")).c_str(), rate,
                    stated ? "control.max_commands_per_s" : "assumed, the profile states none", seconds);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: bench_push OCA_WIDE_DEVICE_JS PEERS_DIR\n";
        return 2;
    }
    try {
        const fs::path journal = fs::temp_directory_path() / ("bench-push-journal-" + std::to_string(getpid()) + ".json");

        const auto aes70_base = io::read_device_profile(io::default_hardware_dir() / "aes70-mini-device.json");
        NodeDevice device(argv[1], argv[2]);
        const auto aes70_timing = time_push(rig_venue(rig_profile(aes70_base, node_object_map()), device.port()), journal);
        print_timing("AES70 over OCP.1/TCP on loopback, Node test device", aes70_timing);
        std::printf("  target: at most %.0f ms: %s\n", aes70_target_ms,
                    aes70_timing.prepare_ms + aes70_timing.execute_ms <= aes70_target_ms ? "met" : "MISSED");

        const auto osc_base = io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json");
        const auto osc_profile = rig_profile(osc_base, nlohmann::json::parse(osc_base.control_json));
        SharedAmplifierState state(neutral_amplifier_state(rig_channels, rig_bands));
        VirtualAmplifier amplifier(osc_profile, state);
        amplifier.start();
        const auto osc_timing = time_push(rig_venue(osc_profile, amplifier.port()), journal);
        amplifier.stop();
        print_timing("OSC over UDP on loopback, in-process virtual amplifier", osc_timing);

        print_projections(aes70_timing.writes);
    } catch (const Error& error) {
        std::cerr << "bench_push: " << error.what() << '\n';
        return exit_code_for(error.kind());
    }
    return 0;
}
