#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace linetune::cli {

/// A subcommand as registered with CLI11 and the function that runs it after parsing.
struct Command {
    CLI::App* subcommand = nullptr;
    std::function<int()> run;  ///< returns the process exit code
};

/// Option check: a finite number in [min, max], with a message naming the option's unit.
CLI::Validator number_in_range(double min, double max, const std::string& unit);

/// Option check: an existing file that is not a folder. The message names the `expected` file
/// (e.g. "venue file (JSON)") so the user knows what to give instead.
CLI::Validator existing_file(const std::string& expected);

/// Option check: an existing folder; the message names the `expected` folder.
CLI::Validator existing_folder(const std::string& expected);

/// Registers `analyze`: impulse-response and measurement-file analysis.
Command add_analyze_command(CLI::App& app);

/// Registers `batch`: analysis of every measurement file under a folder, in parallel.
Command add_batch_command(CLI::App& app);

/// Registers `sweep`: writes an exponential sine sweep to a WAV file.
Command add_sweep_command(CLI::App& app);

/// Registers `tune`: per-zone EQ, delay and gain from stored measurements.
Command add_tune_command(CLI::App& app);

/// Registers `push`: sends a corrections file to the amplifiers (journal, safe order, read-back,
/// restore), or restores an interrupted push with --recover.
Command add_push_command(CLI::App& app);

/// Registers `devices`: identity, reachable objects and current settings of the venue's amplifiers.
Command add_devices_command(CLI::App& app);

/// Registers `run`: the main job (measure, tune, push, verify) on a venue, the simulated rig or stored measurements.
Command add_run_command(CLI::App& app);

/// Registers `interfaces`: PortAudio host APIs and devices with channel counts and sample rates.
Command add_interfaces_command(CLI::App& app);

/// Registers `measure`: per-zone sweeps through a PortAudio interface into a session folder.
Command add_measure_command(CLI::App& app);

/// Registers `report`: the self-contained HTML report of a session folder.
Command add_report_command(CLI::App& app);

}  // namespace linetune::cli
