#include "commands.hpp"

#include "linetune/analysis/batch.hpp"
#include "linetune/core/error.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>

namespace linetune::cli {
namespace {

struct BatchArguments {
    std::string input_dir;
    std::string output_dir;
    std::size_t jobs = 0;
    bool force = false;
    bool json = false;
};

/// Rewrites one stderr line per finished file ("\r[12/25] path"); only called on a terminal.
void show_progress(std::size_t done_count, std::size_t total_count, const std::string& path) {
    std::cerr << "\r\033[K[" << done_count << '/' << total_count << "] " << path << std::flush;
}

int run_batch_command(const BatchArguments& args) {
    analysis::BatchOptions options;
    options.input_dir = args.input_dir;
    options.output_dir = args.output_dir;
    options.jobs = args.jobs;
    options.force = args.force;

    const bool terminal = isatty(STDERR_FILENO) == 1;
    const analysis::BatchResult result =
        analysis::run_batch(options, terminal ? analysis::BatchProgress(show_progress) : analysis::BatchProgress());
    if (terminal) {
        std::cerr << "\r\033[K" << std::flush;
    }

    const double files_per_s = result.wall_time_s > 0.0 ? static_cast<double>(result.analysed_count) / result.wall_time_s : 0.0;
    for (const auto& failure : result.failures) {
        std::cerr << "linetune: " << failure.message << '\n';
    }
    if (args.json) {
        nlohmann::json summary;
        summary["output_dir"] = result.output_dir.string();
        summary["files_analysed"] = result.analysed_count;
        summary["files_resumed"] = result.resumed_count;
        summary["files_skipped"] = result.skipped_count;
        summary["files_failed"] = result.failed_count;
        summary["wall_time_s"] = result.wall_time_s;
        summary["files_per_s"] = files_per_s;
        std::cout << summary.dump(2) << '\n';
    } else {
        std::cout << std::fixed << std::setprecision(2) << "files analysed: " << result.analysed_count
                  << "\nresumed (up to date): " << result.resumed_count
                  << "\nskipped (not measurements): " << result.skipped_count
                  << "\nfailed: " << result.failed_count << "\nwall time: " << result.wall_time_s
                  << " s (" << files_per_s << " files/s analysed)\noutput: " << result.output_dir.string()
                  << " (summary.csv, summary.json, failures.csv, files/)\n";
    }
    return result.failed_count > 0 ? 1 : 0;
}

}  // namespace

Command add_batch_command(CLI::App& app) {
    auto args = std::make_shared<BatchArguments>();
    auto* command = app.add_subcommand(
        "batch",
        "Analyse every measurement file under a folder (recursively) with a pool of worker threads. Writes "
        "summary.csv and summary.json (one row per file and channel), failures.csv and one analyze --json "
        "object per file under OUT/files/. A re-run resumes: files whose JSON is newer than the file are "
        "not analysed again unless --force. Files that are not measurements are skipped and counted; files "
        "that cannot be read are listed in failures.csv (exit code 1).");
    command->add_option("dir", args->input_dir, "Folder of measurement files")->required();
    command->add_option("--out", args->output_dir, "Output folder (default: DIR/linetune-batch)");
    command->add_option("--jobs", args->jobs, "Worker threads (default: the hardware's thread count)")
        ->check(number_in_range(1, 1024, "threads"));
    command->add_flag("--force", args->force, "Analyse every file again, even when its JSON is up to date");
    command->add_flag("--json", args->json, "Print the run summary as JSON on stdout");
    return {command, [args] { return run_batch_command(*args); }};
}

}  // namespace linetune::cli
