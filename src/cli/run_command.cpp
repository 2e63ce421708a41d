#include "audio_stream_setup.hpp"
#include "commands.hpp"
#include "eq_method.hpp"
#include "main_job.hpp"
#include "linetune_version.hpp"
#include "simulated_job.hpp"
#include "tuning_output.hpp"

#include "linetune/capture/portaudio_stream.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/json_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"

#include <filesystem>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

namespace linetune::cli {
namespace {

struct RunArguments {
    std::string venue_path;
    std::string measurements_dir;
    std::string applied_path;
    std::string session_dir = "linetune-session";
    bool simulate = false;
    bool dry_run = false;
    bool yes = false;
    bool json = false;
    std::uint64_t seed = 1;
    std::string device;
    std::string host_api;
    // The defaults of `linetune measure`: a 5 s sweep at -12 dBFS gives impulse responses well
    // above the noise of a venue during system tech; a 2 s tail covers the decay of most arenas.
    double sweep_s = 5.0;
    double tail_s = 2.0;
    std::size_t max_passes = 2;  ///< see capture::MeasureOptions::max_passes
    std::string method = "auto";  ///< as `tune --method`
    std::string model_path;
};

std::filesystem::path create_session_folder(const std::string& session_dir) {
    const std::filesystem::path session(session_dir);
    std::error_code error;
    std::filesystem::create_directories(session, error);
    if (error) {
        throw Error("session folder '" + session.string() + "' cannot be created (" + error.message() +
                        "); give a new or writable folder with --session",
                    ErrorKind::configuration);
    }
    return session;
}

/// Returns a path of the venue file made absolute against the venue's folder, keeping a "#channel" suffix.
std::string absolute_venue_path(const std::filesystem::path& venue_dir, const std::string& text) {
    const auto hash = text.rfind('#');
    const bool has_channel = hash != std::string::npos && hash + 1 < text.size() &&
                             text.find_first_not_of("0123456789", hash + 1) == std::string::npos;
    const std::string file = has_channel ? text.substr(0, hash) : text;
    const std::string suffix = has_channel ? text.substr(hash) : "";
    std::error_code error;
    const auto absolute = std::filesystem::weakly_canonical(venue_dir / file, error);
    return (error ? std::filesystem::absolute(venue_dir / file) : absolute).string() + suffix;
}

/// Copies the venue file into the session, so that the session is complete on its own. The paths
/// in it (measurement map, target curve, calibration files) are relative to the venue's folder, so
/// the copy gets them as absolute paths.
void copy_venue_file(const std::string& venue_path, const std::filesystem::path& session) {
    const std::filesystem::path venue_dir = std::filesystem::path(venue_path).parent_path();
    nlohmann::json venue = io::parse_json_file(venue_path, "venue '" + venue_path + "'");
    if (auto measurements = venue.find("measurements"); measurements != venue.end() && measurements->is_object()) {
        for (auto& zone : measurements->items()) {
            for (auto& mic : zone.value().items()) {
                if (mic.value().is_string()) {
                    mic.value() = absolute_venue_path(venue_dir, mic.value().get<std::string>());
                }
            }
        }
    }
    if (auto target = venue.find("target"); target != venue.end() && target->is_object()) {
        if (auto file = target->find("file"); file != target->end() && file->is_string()) {
            *file = absolute_venue_path(venue_dir, file->get<std::string>());
        }
    }
    if (auto mics = venue.find("microphones"); mics != venue.end() && mics->is_array()) {
        for (auto& mic : *mics) {
            if (auto file = mic.find("calibration_file"); file != mic.end() && file->is_string()) {
                *file = absolute_venue_path(venue_dir, file->get<std::string>());
            }
        }
    }
    io::write_text_file(session / "venue.json", json_text(venue));
}

/// The main job on the venue's amplifiers, measuring through a PortAudio interface. The device and
/// the measurement are checked, and a journal of an interrupted push is looked for, before any sound.
int run_through_audio_interface(const RunArguments& args, const EqMethod& eq_method) {
    if (!args.applied_path.empty()) {
        throw Error("--applied '" + args.applied_path + "' is only for --measurements: measuring through the audio "
                        "interface reads the settings the amplifiers have now; leave out --applied",
                    ErrorKind::configuration);
    }
    const auto start = std::chrono::steady_clock::now();
    const Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir());
    MainJobOptions job;
    job.assume_yes = args.yes;
    job.dry_run = args.dry_run;
    job.json = args.json;
    job.eq_method = &eq_method;
    job.measure.sweep.duration_s = args.sweep_s;
    job.measure.tail_s = args.tail_s;
    job.measure.max_passes = args.max_passes;
    const capture::PortAudioStreamOptions stream_options =
        checked_stream_options(venue, args.device, args.host_api, job.measure);

    std::ostream& out = job_progress_stream(args.json);
    job.session_dir = create_session_folder(args.session_dir);
    remove_previous_results(job.session_dir, false, out);
    copy_venue_file(args.venue_path, job.session_dir);
    capture::PortAudioCaptureStream stream(stream_options);
    const StopOnSignal stop_on_signal(stream);
    job.setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << "measuring through " << stream.description() << " at "
        << format_significant(venue.audio_interface.sample_rate_hz) << " Hz; session folder "
        << job.session_dir.string() << "/\n";
    return run_main_job(venue, stream, job);
}

/// The main job on stored measurements: tune, show, and write a session folder with the venue,
/// the corrections, a CSV for manual entry and the writes a push would make.
int run_on_stored_measurements(const RunArguments& args, const EqMethod& eq_method) {
    if (!args.dry_run) {
        throw Error("pushing stored-measurement results from 'run' is not available: give --dry-run, then push the "
                    "session's corrections.json with 'linetune push'",
                    ErrorKind::configuration);
    }
    Venue venue;
    const correction::TuningResult result =
        tune_from_files(args.venue_path, args.measurements_dir, args.applied_path, venue, eq_method.fitter.get());
    const auto session = create_session_folder(args.session_dir);

    nlohmann::json document = correction::corrections_json(result);
    document["linetune_version"] = LINETUNE_VERSION;
    document["eq_method"] = eq_method_json(eq_method);

    nlohmann::json plan = nlohmann::json::array();
    for (const auto& zone : result.zones) {
        plan.push_back({{"zone", zone.zone}, {"amplifier", zone.amplifier}, {"channel", zone.channel},
                        {"delay_ms", zone.setting.delay_ms},
                        {"gain_db", zone.setting.gain_db}, {"band_count", zone.setting.bands.size()}});
    }
    copy_venue_file(args.venue_path, session);
    io::write_text_file(session / "corrections.json", json_text(document));
    io::write_text_file(session / "corrections.csv", correction::corrections_csv(result));
    io::write_text_file(session / "push-plan.json",
                        json_text({{"dry_run", true}, {"note", "nothing was sent to any device"}, {"writes", plan}}));

    if (args.json) {
        write_report(session, std::cerr);
        std::cout << json_text(document);
        return 0;
    }
    print_eq_method(std::cout, eq_method);
    print_tuning_result(std::cout, result, &venue);
    std::cout << "\ndry run: nothing was sent to any amplifier. Session written to " << session.string()
              << "/ (venue.json, corrections.json, corrections.csv, push-plan.json, report.html)\n";
    write_report(session, std::cout);
    return 0;
}

int run_job(const RunArguments& args) {
    if (args.simulate && (!args.venue_path.empty() || !args.measurements_dir.empty() || !args.applied_path.empty())) {
        throw Error("--simulate runs the built-in simulated rig and takes no venue file, --measurements or --applied "
                    "(it reads the settings from its virtual amplifier)",
                    ErrorKind::configuration);
    }
    if (!args.simulate && args.venue_path.empty()) {
        throw Error("run needs a venue file (run VENUE.json, or run VENUE.json --measurements DIR --dry-run) or "
                    "--simulate",
                    ErrorKind::configuration);
    }
    const EqMethod eq_method = choose_eq_method(args.method, args.model_path, std::cerr);
    if (args.simulate) {
        SimulatedJobOptions options;
        options.session_dir = create_session_folder(args.session_dir);
        options.assume_yes = args.yes;
        options.dry_run = args.dry_run;
        options.seed = args.seed;
        options.json = args.json;
        options.eq_method = &eq_method;
        return run_simulated_job(options);
    }
    if (args.measurements_dir.empty()) {
        return run_through_audio_interface(args, eq_method);
    }
    return run_on_stored_measurements(args, eq_method);
}

}  // namespace

Command add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArguments>();
    auto* command = app.add_subcommand(
        "run",
        "The main job: measure every zone, analyse, tune, show the result, push to the amplifiers after "
        "confirmation, verify and measure again. VENUE.json does it on the venue's amplifiers through an audio "
        "interface (PortAudio); --simulate on the built-in simulated rig and virtual amplifier; VENUE.json "
        "--measurements DIR --dry-run tunes stored measurements and writes the session only.");
    command->add_option("venue", args->venue_path, "Venue file (JSON): zones, microphones, amplifiers, target");
    auto* simulate = command->add_flag("--simulate", args->simulate,
                                       "Run the whole job on the built-in simulated rig and virtual amplifier (no "
                                       "sound card, no amplifier needed)");
    auto* measurements = command->add_option("--measurements", args->measurements_dir,
                                             "Folder of stored measurements laid out as DIR/ZONE/MIC.wav (or "
                                             ".txt/.csv)");
    command->add_option("--applied", args->applied_path,
                        "Corrections file that was active while measuring; its effect is removed so the result is "
                        "the new absolute setting");
    add_eq_method_options(command, args->method, args->model_path);
    command->add_flag("--dry-run", args->dry_run, "Tune and write the session, but send nothing to any amplifier");
    command->add_flag("--yes,-y", args->yes, "Push without asking for confirmation (the safety limits still apply)");
    command->add_option("--seed", args->seed, "Seed of the simulated rig's noise (--simulate), 0 to 4294967295")
        ->check(CLI::Range(0.0, 4294967295.0))
        ->capture_default_str()
        ->needs(simulate);
    command->add_option("--session", args->session_dir, "Session folder to write")->capture_default_str();
    command->add_flag("--json", args->json,
                      "Print the session's summary.json (with --dry-run: the corrections) on standard output "
                      "instead of the tables; progress goes to standard error");
    const std::vector<CLI::Option*> audio_options = {
        command->add_option("--device", args->device,
                            "Part of the audio interface's name, as 'linetune interfaces' lists it (default: the host "
                            "API's default device)"),
        command->add_option("--host-api", args->host_api, "Part of the PortAudio host API's name (ALSA, JACK, ...)"),
        command->add_option("--sweep-s", args->sweep_s, "Sweep length in seconds")
            ->check(number_in_range(0.1, 60.0, "s"))
            ->capture_default_str(),
        command->add_option("--tail-s", args->tail_s,
                            "Silence recorded after each sweep in seconds; at least the room's decay time (T60)")
            ->check(number_in_range(0.05, 30.0, "s"))
            ->capture_default_str(),
        command->add_option("--max-passes", args->max_passes,
                            "Passes played per zone while passes have xruns, before the zone fails")
            ->check(CLI::Range(1, 10))
            ->capture_default_str(),
    };
    for (auto* option : audio_options) {
        option->excludes(simulate)->excludes(measurements);
    }
    return {command, [args] { return run_job(*args); }};
}

}  // namespace linetune::cli
