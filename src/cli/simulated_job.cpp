#include "simulated_job.hpp"
#include "main_job.hpp"

#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/probe_residuals.hpp"
#include "linetune/simulation/simulated_capture_stream.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include <chrono>
#include <ostream>

namespace linetune::cli {
namespace {

// The sweep of the simulated measurement: 2 s from 20 Hz to 20 kHz keeps each pass short while
// its energy puts the noise floor of the impulse responses far below what the tuning reads. The
// tail covers the longest transfer function of the built-in rig (the farthest position's travel
// time plus 0.8 s of room decay) with margin, so no reflection wraps into the next response.
constexpr double sweep_duration_s = 2.0;
constexpr double sweep_level_dbfs = -12.0;
constexpr double tail_s = 1.5;

}  // namespace

int run_simulated_job(const SimulatedJobOptions& options) {
    std::ostream& out = job_progress_stream(options.json);
    const std::filesystem::path& session = options.session_dir;

    // The rig and its amplifier: the amplifier's control endpoint runs on 127.0.0.1 in this process
    // and its state is what the simulated signal path applies. A journal of an earlier simulated run
    // refers to that run's virtual amplifier, which ended with it.
    remove_previous_results(session, true, out);
    const auto start = std::chrono::steady_clock::now();
    out << "simulated rig '" << simulation::builtin_venue_name << "': building transfer functions\n";
    const simulation::RigTransferFunctions rig(simulation::builtin_rig());
    SharedAmplifierState amplifier_state(simulation::builtin_initial_amplifier_state());
    const DeviceProfile profile = io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json");
    control::VirtualAmplifier amplifier(profile, amplifier_state);
    amplifier.start();
    io::write_text_file(session / "venue.json", simulation::builtin_venue_json(amplifier.port()));
    const Venue venue = io::read_venue_file(session / "venue.json", io::default_hardware_dir());
    simulation::SimulatedCaptureOptions capture_options;
    capture_options.noise_seed = options.seed;
    simulation::SimulatedCaptureStream stream(venue, rig, amplifier_state, capture_options);

    MainJobOptions job;
    job.session_dir = session;
    job.assume_yes = options.assume_yes;
    job.dry_run = options.dry_run;
    job.json = options.json;
    job.eq_method = options.eq_method;
    job.measure.sweep.duration_s = sweep_duration_s;
    job.measure.sweep.level_dbfs = sweep_level_dbfs;
    job.measure.tail_s = tail_s;
    job.push_target = "the virtual amplifier";
    job.passes_label = "simulating the passes";
    job.probe_residuals = [&] { return simulation::probe_residuals(rig, venue, amplifier_state.snapshot()); };
    job.setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << "virtual amplifier at " << amplifier.url() << "; session folder " << session.string() << "/\n";
    return run_main_job(venue, stream, job);
}

}  // namespace linetune::cli
