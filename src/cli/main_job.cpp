#include "main_job.hpp"
#include "linetune_version.hpp"
#include "tuning_output.hpp"

#include "linetune/capture/impulse_responses.hpp"
#include "linetune/capture/measure.hpp"
#include "linetune/control/device_settings.hpp"
#include "linetune/control/driver_factory.hpp"
#include "linetune/control/push_plan.hpp"
#include "linetune/control/push_report.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/correction/tuning.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/report/session_report.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace linetune::cli {
namespace {

namespace fs = std::filesystem;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Wall-clock compute time per step and the sound time the sweeps would take in a real room.
struct JobTimes {
    double setup_s = 0.0;           ///< the caller's set-up (the simulated rig, the audio stream)
    double sound_s = 0.0;           ///< sweeps and tails of every pass, both measurements
    double measure_s = 0.0;         ///< running the passes and writing the recordings
    double analysis_s = 0.0;        ///< impulse responses from the recordings
    double tuning_s = 0.0;          ///< averaging, EQ fit, alignment
    double push_s = 0.0;            ///< snapshot, journal, writes and read-back
    double verify_s = 0.0;          ///< analysis of the second measurement
};

capture::MeasureOptions measure_options(const MainJobOptions& job, std::ostream& out) {
    capture::MeasureOptions options = job.measure;
    options.progress = [&out](const capture::MeasureProgress& progress) {
        if (progress.event == capture::MeasureProgress::Event::zone_started) {
            out << "  measuring zone '" << progress.zone << "' (" << progress.zone_number << "/" << progress.zone_count
                << ", " << fixed(progress.sound_s, 1) << " s of sound)\n";
        } else if (progress.event == capture::MeasureProgress::Event::pass_repeated) {
            out << "  zone '" << progress.zone << "': " << progress.xrun_count << " xrun(s), measuring again\n";
        }
    };
    return options;
}

/// One measurement of every zone into folder/measurements and its impulse responses into
/// folder/impulse-responses.
double measure_session(const Venue& venue, CaptureStream& stream, const fs::path& folder, const MainJobOptions& job,
                       std::ostream& out, JobTimes& times) {
    auto start = Clock::now();
    const capture::MeasureOptions options = measure_options(job, out);
    const capture::MeasureResult measured = capture::measure(venue, stream, folder, options);
    times.measure_s += seconds_since(start);
    times.sound_s += measured.sound_s;
    for (const auto& recording : measured.recordings) {
        for (const auto& mic : recording.silent_mics) {
            out << "  zone '" << recording.zone << "': mic '" << mic << "' is silent (peak below "
                << fixed(options.silent_input_threshold_dbfs, 0)
                << " dBFS); check its cable, phantom power and input gain\n";
        }
    }

    start = Clock::now();
    const capture::SessionImpulseResponses responses = capture::write_impulse_responses(folder, {});
    for (const auto& zone : responses.zones) {
        for (const auto& note : zone.notes) {
            out << "  zone '" << zone.zone << "': " << note << '\n';
        }
    }
    return seconds_since(start);
}

/// Reads the present settings of each zone's amplifier channel through its control protocol, read
/// only, so that the tuning removes them and returns absolute settings (re-tuning never stacks).
/// Writes one line per zone, unowned band and note to `out`.
std::map<std::string, correction::ZoneSetting> settings_on_amplifier(const Venue& venue, std::ostream& out) {
    control::DriverSettings settings;
    settings.read_only = true;
    const control::DeviceSettingsReading reading = control::read_device_settings(
        venue, [&settings](const Amplifier& amplifier) { return control::make_device_driver(amplifier, settings); });
    for (const auto& line : control::describe_device_settings(reading)) {
        out << "read from the amplifiers: " << line << '\n';
    }
    return reading.applied;
}

bool confirm_push(const MainJobOptions& options, std::ostream& out) {
    if (options.assume_yes) {
        return true;
    }
    if (isatty(STDIN_FILENO) == 0) {
        out << "\nnot pushed: confirmation needs a terminal; run again with --yes to push without asking\n";
        return false;
    }
    out << "\npush these settings to " << options.push_target << "? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
}

struct ResidualPair {
    double before_db = 0.0;
    double after_db = 0.0;
};

/// Returns the outcome of a mic in a zone's tuning result, or null when the mic was left out.
const correction::MicOutcome* find_mic(const correction::ZoneOutcome& zone, const std::string& mic) {
    for (const auto& outcome : zone.mics) {
        if (outcome.mic == mic) {
            return &outcome;
        }
    }
    return nullptr;
}

/// Returns the reason the tuning left a mic out of a zone, or "no measurement" when it gives none.
std::string rejection_reason(const correction::ZoneOutcome& zone, const std::string& mic) {
    for (const auto& [name, reason] : zone.rejected_mics) {
        if (name == mic) {
            return reason;
        }
    }
    return "no measurement";
}

void print_before_after(std::ostream& out, const correction::TuningResult& before, const correction::TuningResult& after,
                        const std::vector<simulation::ProbeResidual>& probes_before,
                        const std::vector<simulation::ProbeResidual>& probes_after, std::vector<std::string>& warnings) {
    out << "\nmeasured before and after the push: residual RMS in dB (1/6 octave, correctable points of the zone band)\n";
    char line[200];
    std::snprintf(line, sizeof line, "  %-14s %-22s %8s %8s\n", "zone", "position", "before", "after");
    out << line;
    for (std::size_t z = 0; z < before.zones.size() && z < after.zones.size(); ++z) {
        const auto& zone_before = before.zones[z];
        const auto& zone_after = after.zones[z];
        std::snprintf(line, sizeof line, "  %-14s %-22s %8s %8s\n", zone_before.zone.c_str(), "average",
                      fixed(zone_before.residual.rms_before_db, 2).c_str(),
                      fixed(zone_after.residual.rms_before_db, 2).c_str());
        out << line;
        for (const auto& mic : zone_before.mics) {
            const auto& mic_before = mic.residual;
            const correction::MicOutcome* after_mic = find_mic(zone_after, mic.mic);
            if (after_mic == nullptr) {
                std::snprintf(line, sizeof line, "  %-14s %-22s %8s %8s\n", "", ("mic " + mic.mic).c_str(),
                              fixed(mic_before.rms_before_db, 2).c_str(), "-");
                out << line;
                warnings.push_back("zone '" + zone_before.zone + "', mic '" + mic.mic +
                                   "': left out of the second measurement (" + rejection_reason(zone_after, mic.mic) + ")");
                continue;
            }
            const auto& mic_after = after_mic->residual;
            std::snprintf(line, sizeof line, "  %-14s %-22s %8s %8s\n", "", ("mic " + mic.mic).c_str(),
                          fixed(mic_before.rms_before_db, 2).c_str(), fixed(mic_after.rms_before_db, 2).c_str());
            out << line;
            // 0.1 dB is below what a listener hears and above the run-to-run noise of the measurement.
            if (mic_after.rms_before_db > mic_before.rms_before_db + 0.1) {
                warnings.push_back("zone '" + zone_before.zone + "', mic '" + mic.mic +
                                   "': the residual grew from " + fixed(mic_before.rms_before_db, 2) + " to " +
                                   fixed(mic_after.rms_before_db, 2) + " dB");
            }
        }
    }
    if (probes_before.empty()) {
        return;
    }
    out << "\naudience probes not used for fitting (predicted by the simulation, 1/6 octave, whole zone band)\n";
    for (std::size_t i = 0; i < probes_before.size() && i < probes_after.size(); ++i) {
        std::snprintf(line, sizeof line, "  %-14s %-22s %8s %8s\n", probes_before[i].zone.c_str(),
                      ("probe " + probes_before[i].probe).c_str(), fixed(probes_before[i].rms_db, 2).c_str(),
                      fixed(probes_after[i].rms_db, 2).c_str());
        out << line;
        if (probes_after[i].rms_db > probes_before[i].rms_db + 0.1) {
            warnings.push_back("zone '" + probes_before[i].zone + "', probe '" + probes_before[i].probe +
                               "': the residual grew from " + fixed(probes_before[i].rms_db, 2) + " to " +
                               fixed(probes_after[i].rms_db, 2) + " dB");
        }
    }
}

void print_times(std::ostream& out, const JobTimes& times, const std::string& passes_label) {
    // Running the passes is the sound card's time (or the simulation standing for it), so it is not
    // counted as linetune's compute.
    const double compute_s = times.analysis_s + times.tuning_s + times.push_s + times.verify_s;
    out << "\ntime: sound " << fixed(times.sound_s, 1) << " s (sweeps and tails of both measurements); compute "
        << fixed(compute_s, 2) << " s: analysis " << fixed(times.analysis_s, 2) << " s, tuning "
        << fixed(times.tuning_s, 2) << " s, push with read-back " << fixed(times.push_s, 2)
        << " s, analysis of the second measurement " << fixed(times.verify_s, 2) << " s; " << passes_label << " "
        << fixed(times.measure_s, 2) << " s, set-up " << fixed(times.setup_s, 2) << " s\n";
}

nlohmann::json times_json(const JobTimes& times) {
    return {{"setup_s", times.setup_s},   {"sound_s", times.sound_s},   {"measure_compute_s", times.measure_s},
            {"analysis_s", times.analysis_s}, {"tuning_s", times.tuning_s}, {"push_s", times.push_s},
            {"verify_analysis_s", times.verify_s}};
}

nlohmann::json residuals_json(const correction::TuningResult& before, const correction::TuningResult& after) {
    nlohmann::json zones = nlohmann::json::array();
    for (std::size_t z = 0; z < before.zones.size() && z < after.zones.size(); ++z) {
        nlohmann::json mics = nlohmann::json::array();
        for (const auto& mic : before.zones[z].mics) {
            const correction::MicOutcome* after_mic = find_mic(after.zones[z], mic.mic);
            mics.push_back({{"mic", mic.mic},
                            {"rms_before_db", mic.residual.rms_before_db},
                            {"rms_after_db", after_mic == nullptr ? nlohmann::json(nullptr)
                                                                  : nlohmann::json(after_mic->residual.rms_before_db)}});
        }
        zones.push_back({{"zone", before.zones[z].zone},
                         {"rms_before_db", before.zones[z].residual.rms_before_db},
                         {"rms_after_db", after.zones[z].residual.rms_before_db},
                         {"predicted_rms_after_db", before.zones[z].residual.rms_after_db},
                         {"mics", mics}});
    }
    return zones;
}

nlohmann::json probes_json(const std::vector<simulation::ProbeResidual>& before,
                           const std::vector<simulation::ProbeResidual>& after) {
    nlohmann::json probes = nlohmann::json::array();
    for (std::size_t i = 0; i < before.size() && i < after.size(); ++i) {
        probes.push_back({{"probe", before[i].probe},
                          {"zone", before[i].zone},
                          {"rms_before_db", before[i].rms_db},
                          {"rms_after_db", after[i].rms_db}});
    }
    return probes;
}

void print_measured_plots(std::ostream& out, const Venue& venue, const correction::TuningResult& before,
                          const correction::TuningResult& after) {
    for (std::size_t z = 0; z < before.zones.size() && z < after.zones.size(); ++z) {
        const auto& zone = before.zones[z];
        out << '\n';
        print_zone_plot(out, "  zone '" + zone.zone + "': measured spatial average, 1/6 octave, dB", zone.before,
                        "before the push", after.zones[z].before, "after the push", zone.target,
                        find_zone(venue, zone.zone).fit_band_hz);
    }
}

}  // namespace

void write_report(const fs::path& session, std::ostream& out) {
    try {
        const fs::path path = report::write_session_report(session);
        out << "report written to " << path.string() << " (open it in any browser)\n";
    } catch (const Error& failure) {
        out << "warning: the HTML report was not written: " << failure.what() << "; run 'linetune report "
            << session.string() << "' to try again\n";
    }
}

std::ostream& job_progress_stream(bool json) { return json ? std::cerr : std::cout; }

void remove_previous_results(const fs::path& session, bool discard_journal, std::ostream& out) {
    std::error_code error;
    if (fs::exists(session / "push-journal.json", error)) {
        if (!discard_journal) {
            throw Error("session folder '" + session.string() +
                            "': push-journal.json of an interrupted push is there; restore the amplifiers with "
                            "'linetune push --recover --journal " + (session / "push-journal.json").string() +
                            "' or choose another --session",
                        ErrorKind::configuration);
        }
        out << "note: removed push-journal.json of an earlier simulated run: its virtual amplifier ended with "
               "that run, so there is nothing to recover\n";
    }
    for (const char* name : {"summary.json", "corrections.json", "corrections.csv", "push-journal.json", "after", "report.html"}) {
        fs::remove_all(session / name, error);
        if (error) {
            throw Error("session folder '" + session.string() + "': '" + name + "' of an earlier run cannot be removed (" +
                            error.message() + "); remove it or choose another --session",
                        ErrorKind::configuration);
        }
    }
}

int run_main_job(const Venue& venue, CaptureStream& stream, const MainJobOptions& options) {
    std::ostream& out = job_progress_stream(options.json);
    const fs::path& session = options.session_dir;
    JobTimes times;
    times.setup_s = options.setup_s;

    // Measure and analyse.
    out << "\nmeasuring " << venue.zones.size() << " zones\n";
    times.analysis_s = measure_session(venue, stream, session, options, out, times);

    // Tune, taking the amplifier's present settings out of the measurements.
    auto start = Clock::now();
    correction::TuneOptions tune_options;
    tune_options.measurements_dir = session / "impulse-responses";
    tune_options.applied = settings_on_amplifier(venue, out);
    tune_options.fitter = options.eq_method ? options.eq_method->fitter.get() : nullptr;
    const correction::TuningResult tuning = correction::tune_venue(venue, tune_options);
    times.tuning_s = seconds_since(start);
    nlohmann::json corrections = correction::corrections_json(tuning);
    corrections["linetune_version"] = LINETUNE_VERSION;
    if (options.eq_method) {
        corrections["eq_method"] = eq_method_json(*options.eq_method);
    }
    io::write_text_file(session / "corrections.json", json_text(corrections));
    io::write_text_file(session / "corrections.csv", correction::corrections_csv(tuning));
    if (!options.json) {
        out << '\n';
        if (options.eq_method) {
            print_eq_method(out, *options.eq_method);
        }
        print_tuning_result(out, tuning, &venue);
    }
    if (options.dry_run) {
        out << "\ndry run: nothing was sent to any amplifier. Session written to " << session.string() << "/\n";
        write_report(session, out);
        if (options.json) {
            std::cout << json_text(corrections);
        }
        return 0;
    }

    // Push after confirmation: the plan, the safety limits and the journal come first.
    std::map<std::string, control::ZoneTarget> targets;
    for (const auto& zone : tuning.zones) {
        targets[zone.zone].setting = zone.setting;
    }
    const control::PushOptions push_options;
    start = Clock::now();
    control::PreparedPush prepared = control::prepare_push(
        venue, targets, [](const Amplifier& amp) { return control::make_device_driver(amp); }, push_options);
    times.push_s = seconds_since(start);
    out << '\n' << control::format_push_plan(prepared);
    const std::vector<simulation::ProbeResidual> probes_before =
        options.probe_residuals ? options.probe_residuals() : std::vector<simulation::ProbeResidual>{};
    if (!confirm_push(options, out)) {
        return 2;
    }
    start = Clock::now();
    const control::PushReport report = control::execute_push(prepared, session / "push-journal.json", push_options);
    times.push_s += seconds_since(start);
    out << '\n' << control::format_push_report(report);
    if (!report.succeeded()) {
        return 3;
    }

    // Measure again with the new settings in the amplifier and compare.
    out << "\nmeasuring again with the new settings\n";
    double after_analysis_s = measure_session(venue, stream, session / "after", options, out, times);
    start = Clock::now();
    correction::TuneOptions after_options;
    after_options.measurements_dir = session / "after" / "impulse-responses";
    after_options.fitter = tune_options.fitter;
    const correction::TuningResult after = correction::tune_venue(venue, after_options);
    times.verify_s = after_analysis_s + seconds_since(start);

    const std::vector<simulation::ProbeResidual> probes_after =
        options.probe_residuals ? options.probe_residuals() : std::vector<simulation::ProbeResidual>{};
    std::vector<std::string> warnings;
    print_before_after(out, tuning, after, probes_before, probes_after, warnings);
    if (!options.json) {
        print_measured_plots(out, venue, tuning, after);
    }
    for (const auto& warning : warnings) {
        out << "warning: " << warning << '\n';
    }
    print_times(out, times, options.passes_label);

    nlohmann::json summary = {
        {"venue", venue.name},
        {"linetune_version", LINETUNE_VERSION},
        {"push", {{"succeeded", report.succeeded()}, {"devices", nlohmann::json::array()}}},
        {"zones", residuals_json(tuning, after)},
        {"warnings", warnings},
        {"times", times_json(times)},
    };
    if (options.probe_residuals) {
        summary["probes"] = probes_json(probes_before, probes_after);
    }
    for (const auto& device : report.devices) {
        summary["push"]["devices"].push_back(
            {{"amplifier", device.amplifier}, {"outcome", std::string(control::to_string(device.outcome))},
             {"writes_sent", device.writes_sent}});
    }
    io::write_text_file(session / "summary.json", json_text(summary));
    write_report(session, out);
    if (options.json) {
        std::cout << json_text(summary);
    } else {
        out << "session written to " << session.string()
            << "/ (venue.json, measurements/, impulse-responses/, corrections.json, corrections.csv, after/, "
               "summary.json, report.html)\n";
    }
    return 0;
}

}  // namespace linetune::cli
