#include "commands.hpp"
#include "eq_method.hpp"
#include "tuning_output.hpp"
#include "linetune_version.hpp"

#include "linetune/control/device_settings.hpp"
#include "linetune/control/driver_factory.hpp"
#include "linetune/core/error.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/correction/tuning.hpp"
#include "linetune/correction/weather.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

namespace linetune::cli {
namespace {

struct TuneArguments {
    std::string venue_path;
    std::string measurements_dir;
    std::string out_path;
    std::string csv_path;
    std::string applied_path;
    std::string session_dir = "linetune-session";
    bool json = false;
    bool dry_run = false;
    bool read_devices = false;
    // NOTE: auto is the default because the shipped model with its refinement leaves no more
    // residual than the classic optimiser on its held-out problems, in less than 1/5 of its CPU time
    // (docs/learned-model.md).
    std::string method = "auto";
    std::string model_path;
    std::string weather;  ///< "T,RH": tune for this air instead of the air measured in
};

/// Reads the current settings of each zone's amplifier, read-only. Throws Error (device, exit code 3) when
/// an amplifier does not respond; nothing has been written then.
control::DeviceSettingsReading read_settings_from_devices(const Venue& venue) {
    control::DriverSettings settings;
    settings.read_only = true;
    const control::DriverFactory read_only_drivers = [&settings](const Amplifier& amplifier) {
        return control::make_device_driver(amplifier, settings);
    };
    try {
        return control::read_device_settings(venue, read_only_drivers);
    } catch (const Error& failure) {
        throw failure.with_context("--read-devices");
    }
}

int run_tune(const TuneArguments& args) {
    check_output_path("--out", args.out_path);
    check_output_path("--csv", args.csv_path);
    std::optional<analysis::AtmosphericConditions> weather;
    if (!args.weather.empty()) {
        weather = correction::parse_weather(args.weather);
    }
    const EqMethod chosen = choose_eq_method(args.method, args.model_path, std::cerr);
    control::DeviceSettingsReading device_settings;
    std::function<std::map<std::string, correction::ZoneSetting>(const Venue&)> read_applied;
    if (args.read_devices) {
        read_applied = [&device_settings](const Venue& venue) {
            device_settings = read_settings_from_devices(venue);
            return device_settings.applied;
        };
    }
    Venue venue;
    const correction::TuningResult result = tune_from_files(args.venue_path, args.measurements_dir, args.applied_path,
                                                            venue, chosen.fitter.get(), weather, read_applied);
    nlohmann::json document = correction::corrections_json(result);
    document["linetune_version"] = LINETUNE_VERSION;
    document["eq_method"] = eq_method_json(chosen);
    if (args.read_devices) {
        document["settings_read_from_devices"] = control::device_settings_json(device_settings);
    }
    if (!args.out_path.empty()) {
        io::write_text_file(args.out_path, json_text(document));
    }
    if (!args.csv_path.empty()) {
        io::write_text_file(args.csv_path, correction::corrections_csv(result));
    }
    if (args.json) {
        std::cout << json_text(document);
    } else {
        print_eq_method(std::cout, chosen);
        for (const auto& line : control::describe_device_settings(device_settings)) {
            std::cout << "read from the amplifiers: " << line << '\n';
        }
        print_tuning_result(std::cout, result, &venue);
        if (!args.out_path.empty()) {
            std::cout << "\nwrote " << args.out_path << '\n';
        }
    }
    return 0;
}

void add_common_options(CLI::App* command, TuneArguments& args) {
    command->add_option("venue", args.venue_path, "Venue file (JSON): zones, microphones, amplifiers, target")->required();
    command->add_option("--measurements", args.measurements_dir,
                        "Folder of stored measurements laid out as DIR/ZONE/MIC.wav (or .txt/.csv); default: "
                        "'measurements' beside the venue file. Files the venue maps explicitly are read from there instead");
    command->add_option("--applied", args.applied_path,
                        "Corrections file that was active while measuring; its effect is removed so the result is "
                        "the new absolute setting");
    command->add_flag("--json", args.json, "Print the corrections as JSON");
}

/// Adds --read-devices, which replaces --applied by what the amplifiers hold now.
void add_read_devices_option(CLI::App* command, TuneArguments& args) {
    command->add_flag("--read-devices", args.read_devices,
                      "Read each zone's delay, gain and EQ bands from its amplifier over the profile's control protocol "
                      "(OSC or AES70; read only) and remove their effect before fitting, so the result is the new "
                      "absolute setting. Only the bands linetune owns (up to the amplifier's eq.max_bands) count; "
                      "other enabled bands, such as a vendor preset, are listed and left in. Exit code 3 when an "
                      "amplifier does not respond")
        ->excludes(command->get_option("--applied"));
}

}  // namespace

Command add_tune_command(CLI::App& app) {
    auto args = std::make_shared<TuneArguments>();
    auto* command = app.add_subcommand(
        "tune",
        "Compute each zone's EQ (parametric bands), delay and gain from stored measurements so the audience hears "
        "the venue's target, within each amplifier's limits. Prints the settings and the residual deviation per "
        "microphone before and after.");
    add_common_options(command, *args);
    add_read_devices_option(command, *args);
    command->add_option("--out", args->out_path, "Write the corrections file (JSON) here");
    command->add_option("--csv", args->csv_path, "Write the settings as CSV for manual entry, rounded to the device steps");
    command->add_option("--weather", args->weather,
                        "Tune for this air instead of the air measured in, as T,RH (°C and % relative humidity, e.g. "
                        "28,35): the high-frequency air absorption and the arrival times are recomputed from the venue's "
                        "temperature_c and humidity_percent without measuring again");
    add_eq_method_options(command, args->method, args->model_path);
    return {command, [args] { return run_tune(*args); }};
}

}  // namespace linetune::cli
