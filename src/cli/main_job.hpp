#pragma once

#include "eq_method.hpp"

#include "linetune/capture/measure.hpp"
#include "linetune/core/capture_stream.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/simulation/probe_residuals.hpp"

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace linetune::cli {

/// Settings of the main job, whichever rig it measures.
struct MainJobOptions {
    std::filesystem::path session_dir;  ///< created by the caller, venue.json written into it
    bool assume_yes = false;            ///< push without asking
    bool dry_run = false;               ///< stop after tuning: nothing is pushed
    bool json = false;                  ///< print the summary as JSON
    capture::MeasureOptions measure;    ///< sweep, tail and passes; the job sets the progress lines
    std::string push_target = "the amplifiers";  ///< what the confirmation question names
    std::string passes_label = "playing and recording the passes";  ///< the time line's name for measuring
    double setup_s = 0.0;               ///< the caller's set-up time, reported in the time line
    const EqMethod* eq_method = nullptr;  ///< the EQ fitter and its model; null: the classic fitter
    /// Residuals at positions no fit saw, for the amplifier's present state; empty when the rig
    /// cannot predict them (a real room). Called before the push and after it.
    std::function<std::vector<simulation::ProbeResidual>()> probe_residuals;
};

/// Sink for the job's progress lines: stdout normally, stderr when stdout carries JSON.
std::ostream& job_progress_stream(bool json);

/// Removes what an earlier run wrote into the session folder (summary, corrections, after/), so
/// that a run that stops early never leaves an older summary beside new corrections. A push
/// journal of an earlier run is removed when discard_journal is set (its amplifier ended with that
/// run); otherwise it means an interrupted push and the run stops with a configuration error.
void remove_previous_results(const std::filesystem::path& session, bool discard_journal, std::ostream& out);

/// Writes SESSION/report.html and says where. A failure is only a warning: the session's files
/// are complete without the report, and `linetune report` can write it again.
void write_report(const std::filesystem::path& session, std::ostream& out);

/// The whole job on an open stream: measures every zone, analyses, tunes with the amplifiers'
/// present settings removed, shows the result, pushes after confirmation, verifies, measures again
/// and shows before and after with a time breakdown, and writes summary.json. Returns the exit code.
int run_main_job(const Venue& venue, CaptureStream& stream, const MainJobOptions& options);

}  // namespace linetune::cli
