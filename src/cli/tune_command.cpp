#include "commands.hpp"
#include "tuning_output.hpp"
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

int run_tune(const TuneArguments& args) {
    check_output_path("--out", args.out_path);
    check_output_path("--csv", args.csv_path);
    Venue venue;
    const correction::TuningResult result = tune_from_files(args.venue_path, args.measurements_dir, args.applied_path, venue);
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
        print_tuning_result(std::cout, result);
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

}  // namespace linetune::cli
