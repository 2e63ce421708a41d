#include "commands.hpp"

#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/driver_factory.hpp"
#include "linetune/control/push_plan.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace linetune::cli {
namespace {

struct DevicesArguments {
    std::string venue_path;
    bool probe = false;
    bool json = false;
};

/// Report of one amplifier, or why it could not be reached.
struct DeviceReport {
    std::string amplifier;
    std::string profile;
    std::string address;  ///< the driver's description: name and address
    std::string protocol;
    std::string error;    ///< empty when the device answered
    std::optional<control::Aes70DeviceIdentity> identity;
    std::vector<std::pair<std::size_t, ChannelState>> channels;  ///< channel number and its settings
    std::vector<control::Aes70ObjectInfo> objects;                ///< AES70 object tree (--probe)
};

/// The channels to read: those the venue's zones use, or every channel of the profile with --probe.
std::set<std::size_t> channels_to_read(const Venue& venue, const Amplifier& amplifier, bool probe) {
    std::set<std::size_t> channels;
    if (probe) {
        for (std::size_t c = 1; c <= amplifier.profile.channel_count; ++c) {
            channels.insert(c);
        }
        return channels;
    }
    for (const auto& zone : venue.zones) {
        if (zone.amplifier == amplifier.name) {
            channels.insert(zone.channel);
        }
    }
    return channels;
}

DeviceReport probe_device(const Venue& venue, const Amplifier& amplifier, bool probe) {
    DeviceReport report{amplifier.name, amplifier.profile_name, "amplifier '" + amplifier.name + "' (no control address)",
                        "", "", {}, {}, {}};
    report.protocol = control::uses_aes70(amplifier.profile) ? "aes70" : "osc";
    if (amplifier.host.empty()) {
        report.error = "the venue file gives no \"host\" and \"port\", so linetune cannot reach it";
        return report;
    }

    std::unique_ptr<DeviceDriver> driver;
    control::Aes70Driver* aes70 = nullptr;
    if (report.protocol == "aes70") {
        // Read-only: no subscriptions, because nothing is pushed, and no locks, so that other
        // controllers are never blocked by a look.
        control::Aes70DriverOptions options;
        options.watch_changes = false;
        options.lock_objects = false;
        auto owned = std::make_unique<control::Aes70Driver>(amplifier, options);
        aes70 = owned.get();
        driver = std::move(owned);
    } else {
        driver = control::make_device_driver(amplifier);
    }
    report.address = driver->description();
    try {
        driver->connect();
        if (aes70 != nullptr) {
            report.identity = aes70->identity();
            if (probe) {
                report.objects = aes70->object_tree();
            }
        }
        if (driver->can_read_back()) {
            for (const std::size_t channel : channels_to_read(venue, amplifier, probe)) {
                report.channels.emplace_back(channel,
                                             control::read_channel_state(*driver, channel, control::owned_band_count(amplifier)));
            }
        }
    } catch (const Error& error) {
        if (error.kind() == ErrorKind::configuration) {
            throw;
        }
        report.error = error.what();
    }
    return report;
}

nlohmann::json channel_json(std::size_t channel, const ChannelState& state) {
    nlohmann::json bands = nlohmann::json::array();
    for (const auto& band : state.bands) {
        bands.push_back({{"enabled", band.enabled},
                         {"type", std::string(to_string(band.type))},
                         {"freq_hz", band.freq_hz},
                         {"gain_db", band.gain_db},
                         {"q", band.q}});
    }
    return {{"channel", channel},         {"gain_db", state.gain_db}, {"delay_ms", state.delay_ms},
            {"mute", state.mute},         {"polarity_inverted", state.polarity_inverted},
            {"bands", bands}};
}

nlohmann::json device_json(const DeviceReport& device) {
    nlohmann::json entry{{"amplifier", device.amplifier},
                         {"profile", device.profile},
                         {"address", device.address},
                         {"protocol", device.protocol},
                         {"reachable", device.error.empty()}};
    if (!device.error.empty()) {
        entry["error"] = device.error;
    }
    if (device.identity) {
        entry["identity"] = {{"manufacturer", device.identity->manufacturer},
                             {"model", device.identity->model},
                             {"version", device.identity->version},
                             {"serial_number", device.identity->serial_number},
                             {"device_name", device.identity->device_name}};
        if (device.identity->oca_version) {
            entry["identity"]["oca_version"] = *device.identity->oca_version;
        }
    }
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& [channel, state] : device.channels) {
        channels.push_back(channel_json(channel, state));
    }
    entry["channels"] = channels;
    if (!device.objects.empty()) {
        nlohmann::json objects = nlohmann::json::array();
        for (const auto& object : device.objects) {
            objects.push_back({{"ono", object.ono},
                               {"class_id", control::class_id_text(object.class_id)},
                               {"class", control::class_name(object.class_id)},
                               {"role_path", object.role_path}});
        }
        entry["objects"] = objects;
    }
    return entry;
}

void print_channel(std::size_t channel, const ChannelState& state) {
    std::cout << "  channel " << channel << ": gain " << format_significant(state.gain_db, 4) << " dB, delay "
              << format_significant(state.delay_ms, 6) << " ms, " << (state.mute ? "muted" : "unmuted")
              << (state.polarity_inverted ? ", polarity inverted" : "") << '\n';
    for (std::size_t b = 0; b < state.bands.size(); ++b) {
        const auto& band = state.bands[b];
        std::cout << "    band " << b + 1 << ": " << (band.enabled ? "on " : "off") << ' ' << to_string(band.type) << ' '
                  << format_significant(band.freq_hz, 5) << " Hz " << format_significant(band.gain_db, 4) << " dB Q "
                  << format_significant(band.q, 4) << '\n';
    }
}

void print_device(const DeviceReport& device) {
    std::cout << device.address << ", profile '" << device.profile << "', " << device.protocol << '\n';
    if (!device.error.empty()) {
        std::cout << "  UNREACHABLE: " << device.error << '\n';
        return;
    }
    if (device.identity) {
        const auto& identity = *device.identity;
        std::cout << "  model: " << (identity.manufacturer.empty() ? "?" : identity.manufacturer) << ' '
                  << (identity.model.empty() ? "?" : identity.model) << ", version "
                  << (identity.version.empty() ? "?" : identity.version) << ", serial number "
                  << (identity.serial_number.empty() ? "?" : identity.serial_number) << ", device name '"
                  << identity.device_name << "'\n";
    } else {
        std::cout << "  identity: not reported (OSC has no standard identity query)\n";
    }
    for (const auto& [channel, state] : device.channels) {
        print_channel(channel, state);
    }
    if (!device.objects.empty()) {
        std::cout << "  objects (" << device.objects.size() << "):\n";
        for (const auto& object : device.objects) {
            std::cout << "    " << object.ono << ' ' << control::class_name(object.class_id) << " '" << object.role_path
                      << "'\n";
        }
    }
}

int run_devices(const DevicesArguments& args) {
    const Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir());
    std::vector<DeviceReport> devices;
    for (const auto& amplifier : venue.amplifiers) {
        devices.push_back(probe_device(venue, amplifier, args.probe));
    }

    bool all_reachable = true;
    for (const auto& device : devices) {
        all_reachable = all_reachable && device.error.empty();
    }
    if (args.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& device : devices) {
            list.push_back(device_json(device));
        }
        std::cout << nlohmann::json{{"venue", venue.name}, {"amplifiers", list}}.dump(2) << '\n';
    } else {
        for (const auto& device : devices) {
            print_device(device);
        }
    }
    if (!all_reachable) {
        std::cerr << "linetune: some amplifiers did not answer; check that they are on, and their host and port in '"
                  << args.venue_path << "'\n";
        return exit_code_for(ErrorKind::device);
    }
    return 0;
}

}  // namespace

Command add_devices_command(CLI::App& app) {
    auto args = std::make_shared<DevicesArguments>();
    CLI::App* devices = app.add_subcommand(
        "devices", "Connect to the venue's amplifiers and show their identity and current settings (sends no change)");
    devices->add_option("venue", args->venue_path, "Venue file (VENUE.json) naming the amplifiers")
        ->required()
        ->check(existing_file("venue file (JSON)"));
    devices->add_flag("--probe", args->probe,
                      "Read every channel of each profile, not only those the zones use, and list every AES70 object "
                      "with its class and role path");
    devices->add_flag("--json", args->json, "Print JSON instead of text");
    return {devices, [args] { return run_devices(*args); }};
}

}  // namespace linetune::cli
