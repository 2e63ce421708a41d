#include "commands.hpp"
#include "linetune_version.hpp"

#include "linetune/core/error.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/correction/tuning.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
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
};

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, std::isfinite(value) ? value + 0.0 : 0.0);
    return std::isfinite(value) ? text : "-";
}

/// Reads the venue and the settings applied while measuring, then tunes. Nothing is written
/// before this returns, so a failure never leaves a partial corrections file.
correction::TuningResult tune_from(const TuneArguments& args, Venue& venue) {
    venue = io::read_venue_file(args.venue_path, io::default_hardware_dir());
    correction::TuneOptions options;
    options.measurements_dir = args.measurements_dir.empty()
                                   ? std::filesystem::path(args.venue_path).parent_path() / "measurements"
                                   : std::filesystem::path(args.measurements_dir);
    if (!args.applied_path.empty()) {
        options.applied = correction::read_zone_settings(args.applied_path, venue.name);
    }
    return correction::tune_venue(venue, options);
}

void print_result(std::ostream& out, const correction::TuningResult& result) {
    out << "venue '" << result.venue_name << "'\n";
    for (const auto& zone : result.zones) {
        out << "\nzone '" << zone.zone << "' on " << zone.amplifier << " channel " << zone.channel << ": delay "
            << fixed(zone.setting.delay_ms, 3) << " ms, gain " << fixed(zone.setting.gain_db, 2) << " dB, "
            << zone.setting.bands.size() << " band(s)" << (zone.polarity_fault ? ", POLARITY FAULT" : "") << '\n';
        for (std::size_t i = 0; i < zone.setting.bands.size(); ++i) {
            const auto& band = zone.setting.bands[i];
            char line[160];
            std::snprintf(line, sizeof line, "  band %2zu  %-10s %9.1f Hz %+7.2f dB  Q %.3f\n", i + 1,
                          std::string(analysis::to_string(band.type)).c_str(), band.freq_hz, band.gain_db + 0.0, band.q);
            out << line;
        }
        out << "  residual in band (dB)         RMS before  RMS after  max before  max after\n";
        char line[200];
        std::snprintf(line, sizeof line, "  %-28s %10s %10s %11s %10s\n", "zone average (correctable)",
                      fixed(zone.residual.rms_before_db, 2).c_str(), fixed(zone.residual.rms_after_db, 2).c_str(),
                      fixed(zone.residual.max_before_db, 2).c_str(), fixed(zone.residual.max_after_db, 2).c_str());
        out << line;
        for (const auto& mic : zone.mics) {
            std::snprintf(line, sizeof line, "  %-28s %10s %10s %11s %10s\n", ("mic " + mic.mic).c_str(),
                          fixed(mic.residual.rms_before_db, 2).c_str(), fixed(mic.residual.rms_after_db, 2).c_str(),
                          fixed(mic.residual.max_before_db, 2).c_str(), fixed(mic.residual.max_after_db, 2).c_str());
            out << line;
        }
        for (const auto& [mic, reason] : zone.rejected_mics) {
            out << "  mic " << mic << " left out: " << reason << '\n';
        }
        for (const auto& note : zone.notes) {
            out << "  note: " << note << '\n';
        }
    }
    for (const auto& note : result.notes) {
        out << "note: " << note << '\n';
    }
}

std::string json_text(const nlohmann::json& document) {
    return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

/// Checks before any work that an output file can be written: its folder exists and the path is
/// not a folder. Nothing is then written unless tuning succeeds.
void check_output_path(const std::string& option, const std::string& path) {
    if (path.empty()) {
        return;
    }
    const std::filesystem::path file(path);
    const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error)) {
        throw Error(option + " '" + path + "': the folder '" + folder.string() + "' does not exist; create it first",
                    ErrorKind::configuration);
    }
    if (std::filesystem::is_directory(file, error)) {
        throw Error(option + " '" + path + "' is a folder; give a file name", ErrorKind::configuration);
    }
}

int run_tune(const TuneArguments& args) {
    check_output_path("--out", args.out_path);
    check_output_path("--csv", args.csv_path);
    Venue venue;
    const correction::TuningResult result = tune_from(args, venue);
    nlohmann::json document = correction::corrections_json(result);
    document["linetune_version"] = LINETUNE_VERSION;
    if (!args.out_path.empty()) {
        io::write_text_file(args.out_path, json_text(document));
    }
    if (!args.csv_path.empty()) {
        io::write_text_file(args.csv_path, correction::corrections_csv(result));
    }
    if (args.json) {
        std::cout << json_text(document);
    } else {
        print_result(std::cout, result);
        if (!args.out_path.empty()) {
            std::cout << "\nwrote " << args.out_path << '\n';
        }
    }
    return 0;
}

/// The main job on stored measurements: tune, show, and write a session folder with the venue,
/// the corrections, a CSV for manual entry and the writes a push would make.
int run_job(const TuneArguments& args) {
    if (!args.dry_run) {
        throw Error("pushing to amplifiers is not available yet: give --dry-run to tune and write the session only",
                    ErrorKind::configuration);
    }
    if (args.measurements_dir.empty()) {
        throw Error("run needs --measurements DIR (capture from an audio interface is not available yet)",
                    ErrorKind::configuration);
    }
    Venue venue;
    const correction::TuningResult result = tune_from(args, venue);

    const std::filesystem::path session(args.session_dir);
    std::error_code error;
    std::filesystem::create_directories(session, error);
    if (error) {
        throw Error("session folder '" + session.string() + "' cannot be created (" + error.message() + ")",
                    ErrorKind::configuration);
    }
    std::ifstream venue_stream(args.venue_path);
    std::ostringstream venue_text;
    venue_text << venue_stream.rdbuf();
    nlohmann::json document = correction::corrections_json(result);
    document["linetune_version"] = LINETUNE_VERSION;

    nlohmann::json plan = nlohmann::json::array();
    for (const auto& zone : result.zones) {
        plan.push_back({{"amplifier", zone.amplifier}, {"channel", zone.channel}, {"delay_ms", zone.setting.delay_ms},
                        {"gain_db", zone.setting.gain_db}, {"band_count", zone.setting.bands.size()}});
    }
    io::write_text_file(session / "venue.json", venue_text.str());
    io::write_text_file(session / "corrections.json", json_text(document));
    io::write_text_file(session / "corrections.csv", correction::corrections_csv(result));
    io::write_text_file(session / "push-plan.json",
                        json_text({{"dry_run", true}, {"note", "nothing was sent to any device"}, {"writes", plan}}));

    if (args.json) {
        std::cout << json_text(document);
        return 0;
    }
    print_result(std::cout, result);
    std::cout << "\ndry run: nothing was sent to any amplifier. Session written to " << session.string()
              << "/ (venue.json, corrections.json, corrections.csv, push-plan.json)\n";
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

}  // namespace

Command add_tune_command(CLI::App& app) {
    auto args = std::make_shared<TuneArguments>();
    auto* command = app.add_subcommand(
        "tune",
        "Compute each zone's EQ (parametric bands), delay and gain from stored measurements so the audience hears "
        "the venue's target, within each amplifier's limits. Prints the settings and the residual deviation per "
        "microphone before and after.");
    add_common_options(command, *args);
    command->add_option("--out", args->out_path, "Write the corrections file (JSON) here");
    command->add_option("--csv", args->csv_path, "Write the settings as CSV for manual entry, rounded to the device steps");
    return {command, [args] { return run_tune(*args); }};
}

Command add_run_command(CLI::App& app) {
    auto args = std::make_shared<TuneArguments>();
    auto* command = app.add_subcommand(
        "run",
        "The main job: analyse the measurements, tune every zone, show the result and write a session folder "
        "(venue, corrections, CSV and the writes a push would make). Today only --dry-run on stored "
        "measurements is available.");
    add_common_options(command, *args);
    command->add_flag("--dry-run", args->dry_run, "Tune and write the session, but send nothing to any amplifier");
    command->add_option("--session", args->session_dir, "Session folder to write")->capture_default_str();
    return {command, [args] { return run_job(*args); }};
}

}  // namespace linetune::cli
