// virtual_amp: linetune's virtual amplifier as a program. It serves the profile's OSC address
// scheme over UDP or TCP (docs/control-osc.md) or an AES70 object tree over OCP.1/TCP
// (docs/control-aes70.md) on 127.0.0.1, keeps the amplifier state in memory and can inject
// faults. The simulated rig runs control::VirtualAmplifier in process instead.

#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/ocp1_device.hpp"
#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/control/push_journal.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <string>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;

struct Arguments {
    std::string profile;
    std::string protocol;  ///< "osc" or "aes70"; empty: the profile's control.protocol
    int port = 0;
    std::string state_file;
    std::string initial_state_file;
    std::optional<std::size_t> drop_after_packets;
    std::optional<long> outage_ms;
    std::vector<std::string> refused_parameters;
    long slow_ms = 0;
};

/// A profile given by name ("virtual-amp", looked up in the hardware folder) or by path.
DeviceProfile load_profile(const std::string& name_or_path) {
    const bool is_path = name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".json";
    return io::read_device_profile(is_path ? fs::path(name_or_path)
                                           : io::default_hardware_dir() / (name_or_path + ".json"));
}

/// The state file's content: the profile name and every channel, channel 1 first, in the
/// format of the push journal's channel states.
std::string state_json(const std::string& profile_name, const AmplifierState& state) {
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& channel : state.channels) {
        channels.push_back(control::channel_state_json(channel));
    }
    return nlohmann::json{{"profile", profile_name}, {"channels", channels}}.dump(2) + "\n";
}

/// Reads a state written by --state-file (the "profile" key is optional) and checks every value
/// against the profile; throws Error (configuration) naming the file.
AmplifierState read_initial_state(const fs::path& path, const DeviceProfile& profile) {
    const std::string head = "initial state '" + path.string() + "'";
    std::ifstream file(path);
    if (!file) {
        throw Error(head + " is not readable; check the path and its permissions", ErrorKind::configuration);
    }
    const auto document = nlohmann::json::parse(file, nullptr, false);
    if (!document.is_object() || !document.contains("channels") || !document["channels"].is_array()) {
        throw Error(head + " is not a JSON object with a \"channels\" array", ErrorKind::configuration);
    }

    AmplifierState state;
    for (const auto& channel : document["channels"]) {
        const std::string where = head + ", channel " + std::to_string(state.channels.size() + 1);
        state.channels.push_back(control::channel_state_from_json(channel, where));
    }
    for (const ParameterId& id : all_parameters(state)) {
        try {
            control::require_parameter_in_profile(profile, id);
            (void)control::quantise_for_device(profile.limits, id, get_parameter(state, id));
        } catch (const Error& error) {
            throw Error(head + ": " + error.what(), ErrorKind::configuration);
        }
    }
    return state;
}

control::VirtualAmplifierFaults faults_from(const Arguments& arguments) {
    control::VirtualAmplifierFaults faults;
    faults.drop_after_packets = arguments.drop_after_packets;
    if (arguments.outage_ms) {
        faults.outage = std::chrono::milliseconds(*arguments.outage_ms);
    }
    faults.refused_parameters = arguments.refused_parameters;
    faults.reply_delay = std::chrono::milliseconds(arguments.slow_ms);
    return faults;
}

void add_options(CLI::App& app, Arguments& arguments) {
    app.add_option("--profile", arguments.profile,
                   "device profile: a name in the hardware folder (virtual-amp) or a path to a .json file")
        ->required();
    app.add_option("--protocol", arguments.protocol,
                   "osc or aes70 (OCP.1 over TCP); default: the profile's control.protocol, osc when it names "
                   "another")
        ->check(CLI::IsMember({"osc", "aes70"}));
    app.add_option("--port", arguments.port, "UDP (OSC) or TCP port on 127.0.0.1; 0 (default) picks a free one")
        ->check(CLI::Range(0, 65535));
    app.add_option("--state-file", arguments.state_file,
                   "JSON file rewritten atomically with the whole state at start and after every change");
    app.add_option("--initial-state", arguments.initial_state_file,
                   "JSON state to start from, in the --state-file format (default: every channel at 0 dB, 0 ms, "
                   "unmuted, bands disabled)")
        ->check(CLI::ExistingFile);
    auto* drop = app.add_option("--drop-after", arguments.drop_after_packets,
                                "handle N packets, then ignore every packet during the outage")
                     ->check(CLI::Range(0, 1000000000));
    app.add_option("--outage-ms", arguments.outage_ms,
                   "length of the --drop-after outage in ms, from the first ignored packet (default: it never ends)")
        ->check(CLI::Range(1L, 86400000L))
        ->needs(drop);
    app.add_option("--refuse", arguments.refused_parameters,
                   "refuse sets of PARAM: all, a parameter name (gain_db, band_q, ...) or an address "
                   "(/ch/1/eq/2/gain_db); repeatable");
    app.add_option("--slow-ms", arguments.slow_ms, "delay every reply by this many ms (default 0)")
        ->check(CLI::Range(0L, 60000L));
}

/// Runs an amplifier server (OSC or AES70) until SIGTERM or SIGINT and returns the exit code.
template <typename Amplifier>
int serve_until_signal(Amplifier& amplifier, const sigset_t& stop_signals,
                       const std::function<void(std::string_view)>& log) {
    amplifier.start();
    std::cout << "port " << amplifier.port() << std::endl;

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    log(std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
    amplifier.stop();
    return 0;
}

/// Serves until SIGTERM or SIGINT; returns the exit code.
int serve(const Arguments& arguments) {
    const DeviceProfile profile = load_profile(arguments.profile);
    const AmplifierState initial =
        arguments.initial_state_file.empty()
            ? neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands)
            : read_initial_state(arguments.initial_state_file, profile);
    SharedAmplifierState state(initial);

    std::mutex log_mutex;
    control::VirtualAmplifierOptions options;
    options.port = static_cast<std::uint16_t>(arguments.port);
    options.faults = faults_from(arguments);
    options.log = [&log_mutex](std::string_view line) {
        std::lock_guard lock(log_mutex);
        std::cerr << "virtual_amp: " << line << std::endl;
    };
    if (!arguments.state_file.empty()) {
        io::write_text_file(arguments.state_file, state_json(profile.name, initial));
        // Runs on the server thread before the reply goes out, so that a controller that has its
        // acknowledgement finds the change in the file.
        options.on_state_changed = [path = arguments.state_file, name = profile.name](const AmplifierState& now) {
            io::write_text_file(path, state_json(name, now));
        };
    }

    // Blocked before the server thread starts, so that the thread inherits the mask and the
    // signals reach only sigwait below.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const bool aes70 = arguments.protocol.empty() ? control::uses_aes70(profile) : arguments.protocol == "aes70";
    if (aes70) {
        control::VirtualAes70AmplifierOptions aes70_options;
        aes70_options.port = options.port;
        aes70_options.faults = options.faults;
        aes70_options.identity.device_name = "virtual_amp (" + profile.name + ")";
        aes70_options.on_state_changed = options.on_state_changed;
        aes70_options.log = options.log;
        control::VirtualAes70Amplifier amplifier(profile, state, aes70_options);
        return serve_until_signal(amplifier, stop_signals, options.log);
    }
    control::VirtualAmplifier amplifier(profile, state, options);
    return serve_until_signal(amplifier, stop_signals, options.log);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"virtual_amp: linetune's virtual amplifier on 127.0.0.1 with fault injection: an OSC device "
                 "over the profile's transport (UDP, or TCP with its framing) and address scheme (linetune-generic or "
                 "x32), or an AES70 device (OCP.1 over TCP). Prints 'port N' "
                 "first; stops on SIGTERM or SIGINT.\nExit codes: 0 stopped by a signal, 2 usage or configuration "
                 "error, 3 the port cannot be bound."};
    Arguments arguments;
    add_options(app, arguments);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& request) {
        return app.exit(request);
    } catch (const CLI::ParseError& error) {
        std::cerr << "virtual_amp: " << error.what() << "; run 'virtual_amp --help'\n";
        return 2;
    }

    try {
        return serve(arguments);
    } catch (const Error& error) {
        std::cerr << "virtual_amp: " << error.what() << "\n";
        return exit_code_for(error.kind());
    }
}
