#include "commands.hpp"
#include "tuning_output.hpp"

#include "linetune/report/session_report.hpp"

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

namespace linetune::cli {
namespace {

struct ReportArguments {
    std::string session_dir;
    std::string out_path;
};

int run_report(const ReportArguments& args) {
    check_output_path("--out", args.out_path);
    const std::filesystem::path written = report::write_session_report(args.session_dir, args.out_path);
    std::cout << "report written to " << written.string() << " (open it in any browser; it needs no network)\n";
    return 0;
}

}  // namespace

Command add_report_command(CLI::App& app) {
    auto args = std::make_shared<ReportArguments>();
    CLI::App* command = app.add_subcommand(
        "report", "Write the HTML report of a session folder: per zone and mic the magnitude before and after with "
                  "the target, impulse response, energy-time curve, phase, signal-to-noise ratio, room metrics, "
                  "delays and levels, warnings and the push outcome. One self-contained file with inline SVG plots; "
                  "'linetune run' writes it to SESSION/report.html by itself.");
    command->add_option("session", args->session_dir, "session folder written by 'linetune run' (it contains venue.json)")
        ->required()
        ->check(existing_folder("session folder that 'linetune run' wrote (it contains venue.json)"));
    command->add_option("--out", args->out_path, "HTML file to write (default: SESSION/report.html)");
    return {command, [args] { return run_report(*args); }};
}

}  // namespace linetune::cli
