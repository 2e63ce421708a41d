#include "commands.hpp"
#include "linetune_version.hpp"
#include "simulated_job.hpp"
#include "tuning_output.hpp"

#include "linetune/core/error.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/io/text_file_writer.hpp"

#include <filesystem>
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
};

std::filesystem::path create_session_folder(const std::string& session_dir) {
    const std::filesystem::path session(session_dir);
    std::error_code error;
    std::filesystem::create_directories(session, error);
    if (error) {
        throw Error("session folder '" + session.string() + "' cannot be created (" + error.message() + ")",
                    ErrorKind::configuration);
    }
    return session;
}

/// The main job on stored measurements: tune, show, and write a session folder with the venue,
/// the corrections, a CSV for manual entry and the writes a push would make.
int run_on_stored_measurements(const RunArguments& args) {
    if (!args.dry_run) {
        throw Error("pushing stored-measurement results from 'run' is not available: give --dry-run, then push the "
                    "session's corrections.json with 'linetune push'",
                    ErrorKind::configuration);
    }
    Venue venue;
    const correction::TuningResult result =
        tune_from_files(args.venue_path, args.measurements_dir, args.applied_path, venue);
    const auto session = create_session_folder(args.session_dir);

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
    print_tuning_result(std::cout, result);
    std::cout << "\ndry run: nothing was sent to any amplifier. Session written to " << session.string()
              << "/ (venue.json, corrections.json, corrections.csv, push-plan.json)\n";
    return 0;
}

int run_job(const RunArguments& args) {
    if (args.simulate) {
        if (!args.venue_path.empty() || !args.measurements_dir.empty()) {
            throw Error("--simulate runs the built-in simulated rig and takes no venue file or --measurements",
                        ErrorKind::configuration);
        }
        SimulatedJobOptions options;
        options.session_dir = create_session_folder(args.session_dir);
        options.assume_yes = args.yes;
        options.dry_run = args.dry_run;
        options.seed = args.seed;
        options.json = args.json;
        return run_simulated_job(options);
    }
    if (args.venue_path.empty()) {
        throw Error("run needs a venue file (run VENUE.json --measurements DIR --dry-run) or --simulate",
                    ErrorKind::configuration);
    }
    if (args.measurements_dir.empty()) {
        throw Error("measuring through an audio interface is not available yet; give --measurements DIR with stored "
                    "measurements, or try the whole job on the simulated rig with --simulate",
                    ErrorKind::configuration);
    }
    return run_on_stored_measurements(args);
}

}  // namespace

Command add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArguments>();
    auto* command = app.add_subcommand(
        "run",
        "The main job: measure every zone, analyse, tune, show the result, push to the amplifiers after "
        "confirmation, verify and measure again. --simulate does it on the built-in simulated rig and virtual "
        "amplifier; VENUE.json --measurements DIR --dry-run tunes stored measurements and writes the session only.");
    command->add_option("venue", args->venue_path, "Venue file (JSON): zones, microphones, amplifiers, target");
    command->add_flag("--simulate", args->simulate,
                      "Run the whole job on the built-in simulated rig and virtual amplifier (no sound card, no "
                      "amplifier needed)");
    command->add_option("--measurements", args->measurements_dir,
                        "Folder of stored measurements laid out as DIR/ZONE/MIC.wav (or .txt/.csv)");
    command->add_option("--applied", args->applied_path,
                        "Corrections file that was active while measuring; its effect is removed so the result is "
                        "the new absolute setting");
    command->add_flag("--dry-run", args->dry_run, "Tune and write the session, but send nothing to any amplifier");
    command->add_flag("--yes,-y", args->yes, "Push without asking for confirmation (the safety limits still apply)");
    command->add_option("--seed", args->seed, "Seed of the simulated rig's noise (--simulate), 0 to 4294967295")
        ->check(CLI::Range(0.0, 4294967295.0))
        ->capture_default_str();
    command->add_option("--session", args->session_dir, "Session folder to write")->capture_default_str();
    command->add_flag("--json", args->json, "Print the result as JSON");
    return {command, [args] { return run_job(*args); }};
}

}  // namespace linetune::cli
