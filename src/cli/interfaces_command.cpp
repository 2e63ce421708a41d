#include "commands.hpp"

#include "linetune/capture/portaudio_stream.hpp"
#include "linetune/core/format.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>

namespace linetune::cli {
namespace {

struct InterfacesArguments {
    bool json = false;
};

std::string rates_text(const std::vector<double>& rates_hz) {
    if (rates_hz.empty()) {
        return "none of the standard rates";
    }
    std::string text;
    for (const double rate_hz : rates_hz) {
        text += (text.empty() ? "" : ", ") + format_significant(rate_hz);
    }
    return text + " Hz";
}

nlohmann::json interfaces_json(const capture::AudioInterfaceList& list) {
    nlohmann::json host_apis = nlohmann::json::array();
    for (const auto& host_api : list.host_apis) {
        host_apis.push_back({{"name", host_api.name}, {"device_count", host_api.device_count}});
    }
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& device : list.devices) {
        devices.push_back({{"name", device.name},
                           {"host_api", device.host_api},
                           {"input_channels", device.input_channels},
                           {"output_channels", device.output_channels},
                           {"default_sample_rate_hz", device.default_sample_rate_hz},
                           {"supported_sample_rates_hz", device.supported_sample_rates_hz}});
    }
    return {{"host_apis", host_apis}, {"devices", devices}};
}

int run_interfaces(const InterfacesArguments& args) {
    const capture::AudioInterfaceList list = capture::list_audio_interfaces();
    if (args.json) {
        std::cout << interfaces_json(list).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        return 0;
    }
    for (const auto& host_api : list.host_apis) {
        std::cout << host_api.name << " (" << host_api.device_count << " device"
                  << (host_api.device_count == 1 ? "" : "s") << ")\n";
        for (const auto& device : list.devices) {
            if (device.host_api != host_api.name) {
                continue;
            }
            std::cout << "  '" << device.name << "': " << device.input_channels << " in, " << device.output_channels
                      << " out; rates: " << rates_text(device.supported_sample_rates_hz) << '\n';
        }
    }
    if (list.devices.empty()) {
        std::cout << "no audio devices found; connect the interface or start its audio server (JACK)\n";
    }
    return 0;
}

}  // namespace

Command add_interfaces_command(CLI::App& app) {
    auto args = std::make_shared<InterfacesArguments>();
    auto* command = app.add_subcommand(
        "interfaces",
        "List the audio interfaces PortAudio finds: host APIs (ALSA, JACK, ...), devices, their input and output "
        "channel counts and the standard sample rates each accepts. Amplifiers are listed by 'devices'.");
    command->add_flag("--json", args->json, "Print the list as JSON");
    return {command, [args] { return run_interfaces(*args); }};
}

}  // namespace linetune::cli
