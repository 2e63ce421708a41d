#pragma once

#include "eq_method.hpp"

#include <cstdint>
#include <filesystem>

namespace linetune::cli {

/// Settings of `linetune run --simulate`.
struct SimulatedJobOptions {
    std::filesystem::path session_dir;  ///< created by the caller
    bool assume_yes = false;            ///< push without asking
    bool dry_run = false;               ///< stop after tuning: nothing is pushed
    bool json = false;                  ///< print the summary as JSON
    std::uint64_t seed = 1;             ///< the simulated rig's noise
    const EqMethod* eq_method = nullptr;  ///< the EQ fitter and its model; null: the classic fitter
};

/// The whole job on the built-in simulated rig: starts the virtual amplifier on loopback,
/// measures every zone, analyses, tunes, shows the result, pushes after confirmation, verifies,
/// measures again and shows before and after with a time breakdown. Returns the exit code.
int run_simulated_job(const SimulatedJobOptions& options);

}  // namespace linetune::cli
