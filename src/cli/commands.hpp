#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace linetune::cli {

/// A subcommand as registered with CLI11 and the function that runs it after parsing.
struct Command {
    CLI::App* subcommand = nullptr;
    std::function<int()> run;  ///< returns the process exit code
};

/// Registers `analyze`: impulse-response and measurement-file analysis.
Command add_analyze_command(CLI::App& app);

/// Registers `sweep`: writes an exponential sine sweep to a WAV file.
Command add_sweep_command(CLI::App& app);

}  // namespace linetune::cli
