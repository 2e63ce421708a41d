#include "audio_stream_setup.hpp"
#include "commands.hpp"

#include "linetune/capture/calibrator.hpp"
#include "linetune/capture/impulse_responses.hpp"
#include "linetune/capture/measure.hpp"
#include "linetune/capture/portaudio_stream.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace linetune::cli {
namespace {

namespace fs = std::filesystem;

struct MeasureArguments {
    std::string venue_path;
    std::string device;
    std::string host_api;
    std::vector<std::string> zones;
    std::string session_dir = "session";
    bool resume = false;
    // A 5 s sweep from 20 Hz to 20 kHz at -12 dBFS gives impulse responses well above the noise
    // of a venue during system tech. Shorter sweeps trade that margin for time.
    double sweep_s = 5.0;
    double tail_s = 2.0;  ///< covers the decay of most arenas; give the room's T60 when longer
    double level_dbfs = -12.0;
    std::size_t max_passes = 2;  ///< see capture::MeasureOptions::max_passes
    bool multi_sweep = false;    ///< see capture::MeasureOptions::multi_sweep
    std::size_t repeats = 1;     ///< see capture::MeasureOptions::repeats
    double noise_floor_s = 0.25;  ///< see capture::MeasureOptions::noise_floor_s
    bool zone_bands = false;      ///< see capture::MeasureOptions::sweep_from_zone_band
    bool test_tone = true;        ///< see capture::MeasureOptions::test_tone
    double max_peak_dbfs = -1.0;  ///< see capture::MeasureOptions::max_peak_dbfs
    double max_peak_db_spl = 115.0;  ///< see capture::MeasureOptions::max_peak_db_spl
    std::string calibrate_mic;        ///< --calibrate: record this mic's calibrator tone instead of measuring
    double calibrator_db_spl = 94.0;  ///< see capture::CalibrationOptions::calibrator_db_spl
    double calibration_s = 3.0;       ///< see capture::CalibrationOptions::record_s
};

/// True when standard output is a terminal that can redraw lines in place: TERM is set and not
/// "dumb". Logs and pipes never get the live display.
bool live_display_enabled() {
    const char* term = std::getenv("TERM");
    return isatty(STDOUT_FILENO) != 0 && term != nullptr && *term != '\0' && std::string(term) != "dumb";
}

/// One input that the live display shows: a mic or the loopback, with the mic's calibration.
struct MeteredInput {
    std::string name;
    std::size_t input = 0;  ///< 1-based input of the audio interface
    std::optional<double> sensitivity_dbfs;
};

std::vector<MeteredInput> metered_inputs(const Venue& venue) {
    std::vector<MeteredInput> inputs;
    for (const Microphone& mic : venue.microphones) {
        inputs.push_back({mic.name, mic.input, mic.sensitivity_dbfs});
    }
    if (venue.audio_interface.loopback) {
        inputs.push_back({"loopback", venue.audio_interface.loopback->input, std::nullopt});
    }
    return inputs;
}

/// The live display of `measure` on a terminal. While a pass plays, it shows a progress bar (seconds
/// played and the pass's length) and each input's peak since the last redraw, in dBFS. A mic with a
/// sensitivity_dbfs also shows dB SPL. A thread of its own redraws these lines in place from the
/// stream's LevelMeter. Messages go through print(), which clears the lines first.
class LiveLevels {
public:
    LiveLevels(capture::LevelMeter& meter, std::vector<MeteredInput> inputs, double sample_rate_hz)
        : meter_(meter), inputs_(std::move(inputs)), sample_rate_hz_(sample_rate_hz),
          thread_([this](std::stop_token stop) { run(stop); }) {}

    ~LiveLevels() {
        thread_.request_stop();
        thread_.join();
        const std::lock_guard lock(mutex_);
        clear();
        std::cout << std::flush;
    }

    LiveLevels(const LiveLevels&) = delete;
    LiveLevels& operator=(const LiveLevels&) = delete;

    /// Runs `write` (which prints whole lines to std::cout) with the display cleared.
    void print(const std::function<void()>& write) {
        const std::lock_guard lock(mutex_);
        clear();
        write();
        std::cout << std::flush;
    }

private:
    // A few redraws per second: readable digits, and the peak of every 0.2 s stays on screen.
    static constexpr auto redraw_interval = std::chrono::milliseconds(200);
    static constexpr std::size_t bar_chars = 30;

    void run(std::stop_token stop) {
        std::unique_lock lock(mutex_);
        while (!stop.stop_requested()) {
            wake_.wait_for(lock, stop, redraw_interval, [] { return false; });
            if (!stop.stop_requested()) {
                draw();
            }
        }
    }

    /// Moves the cursor back over the lines drawn and erases them (ANSI CSI A and J).
    void clear() {
        if (drawn_lines_ == 0) {
            return;
        }
        std::cout << '\r';
        if (drawn_lines_ > 1) {
            std::cout << "\x1b[" << drawn_lines_ - 1 << 'A';
        }
        std::cout << "\x1b[J";
        drawn_lines_ = 0;
    }

    void draw() {
        clear();
        const capture::PassProgress progress = meter_.progress();
        if (progress.total_frames == 0) {
            std::cout << std::flush;
            return;
        }
        const double fraction =
            std::min(1.0, static_cast<double>(progress.frames_done) / static_cast<double>(progress.total_frames));
        const auto filled = static_cast<std::size_t>(std::round(fraction * static_cast<double>(bar_chars)));
        std::string text = "  [" + std::string(filled, '#') + std::string(bar_chars - filled, '-') + "] " +
                           format_fixed(static_cast<double>(progress.frames_done) / sample_rate_hz_, 1) + " / " +
                           format_fixed(static_cast<double>(progress.total_frames) / sample_rate_hz_, 1) + " s";
        // The SPL of a sine with that peak, as the test tone's prediction computes it: a sine's
        // RMS is 3.01 dB under its peak, and sensitivity_dbfs is the RMS level of a 94 dB SPL calibrator.
        const double sine_peak_to_rms_db = 20.0 * std::log10(std::sqrt(2.0));
        constexpr double calibrator_db_spl = 94.0;
        for (const MeteredInput& input : inputs_) {
            const double peak_dbfs = capture::LevelMeter::peak_dbfs(meter_.take_peak(input.input - 1));
            text += "\n    " + input.name + ": " + format_fixed(peak_dbfs, 1) + " dBFS peak";
            if (input.sensitivity_dbfs) {
                text += " (" + format_fixed(peak_dbfs - sine_peak_to_rms_db - *input.sensitivity_dbfs + calibrator_db_spl, 1) +
                        " dB SPL)";
            }
            ++drawn_lines_;
        }
        ++drawn_lines_;
        std::cout << text << std::flush;
    }

    capture::LevelMeter& meter_;
    std::vector<MeteredInput> inputs_;
    double sample_rate_hz_;
    std::mutex mutex_;  ///< guards std::cout and drawn_lines_ between the display thread and print()
    std::condition_variable_any wake_;
    std::size_t drawn_lines_ = 0;
    std::jthread thread_;  ///< last: starts after every member it uses exists
};

/// Prints each mic's predicted sweep peak and a warning for a zone mic that missed the test tone.
void print_test_tone(const capture::RecordingMetadata& recording) {
    std::string peaks;
    for (const auto& channel : recording.channels) {
        if (channel.predicted_peak_dbfs) {
            peaks += (peaks.empty() ? "" : ", ") + channel.mic + " " + format_fixed(*channel.predicted_peak_dbfs, 1) +
                     " dBFS";
            if (channel.predicted_peak_db_spl) {
                peaks += " (" + format_fixed(*channel.predicted_peak_db_spl, 1) + " dB SPL)";
            }
        }
    }
    if (!peaks.empty()) {
        std::cout << "zone '" << recording.zone << "': sweep peaks predicted by the test tone: " << peaks << '\n';
    }
    for (const auto& channel : recording.channels) {
        if (!channel.heard_test_tone) {
            std::cout << "warning: zone '" << recording.zone << "': mic '" << channel.mic
                      << "' did not hear the test tone although it weighs the zone; check its cable, phantom power "
                         "and input, and the zone's routing\n";
        }
    }
}

/// Prints the noise floor of every input and a warning for each mic whose decay outlasted the tail.
void print_decay(const capture::RecordingMetadata& recording) {
    std::string levels;
    for (const auto& channel : recording.channels) {
        if (channel.noise_floor_dbfs) {
            levels += (levels.empty() ? "" : ", ") + (channel.loopback ? std::string("loopback") : channel.mic) + " " +
                      format_fixed(*channel.noise_floor_dbfs, 1);
        }
    }
    if (!levels.empty()) {
        std::cout << "zone '" << recording.zone << "': noise floor (dBFS RMS): " << levels << '\n';
    }
    for (const auto& channel : recording.channels) {
        if (channel.decay_incomplete) {
            std::cout << "warning: zone '" << recording.zone << "': mic '" << channel.mic
                      << "': the decay had not reached the noise floor when the recording ended (last part at "
                      << format_fixed(channel.tail_end_dbfs.value_or(0.0), 1) << " dBFS, noise floor "
                      << format_fixed(channel.noise_floor_dbfs.value_or(0.0), 1)
                      << " dBFS); lengthen --tail-s or set audio_interface.room_t60_s to the room's T60\n";
        }
    }
}

/// Returns the zones to measure in this run: the requested ones (or all), less those that
/// --resume finds recorded already.
std::vector<std::string> zones_to_measure(const Venue& venue, const MeasureArguments& args, const fs::path& session) {
    std::vector<std::string> zones = args.zones;
    if (zones.empty()) {
        for (const Zone& zone : venue.zones) {
            zones.push_back(zone.name);
        }
    }
    if (!args.resume) {
        return zones;
    }
    std::vector<std::string> remaining;
    for (const auto& zone : zones) {
        if (fs::exists(capture::recording_json_path(session, zone))) {
            std::cout << "zone '" << zone << "': recorded already, skipped (--resume)\n";
        } else {
            remaining.push_back(zone);
        }
    }
    return remaining;
}

/// Describes the repeats of a recording in one line: alignment, drift and the SNR range of the average.
std::string repeats_summary(const capture::RecordingMetadata& recording) {
    const capture::RepeatSummary& repeats = *recording.repeats;
    double largest_shift_ms = 0.0;
    for (const double shift_ms : repeats.alignment_ms) {
        largest_shift_ms = std::max(largest_shift_ms, std::fabs(shift_ms));
    }
    std::string line = "zone '" + recording.zone + "': " + std::to_string(repeats.count) +
                       " repeats averaged, aligned by the " + repeats.aligned_by + " (shifts up to " +
                       format_fixed(largest_shift_ms, 3) + " ms); drift between repeats ";
    line += repeats.max_drift_ms ? "at most " + format_fixed(*repeats.max_drift_ms, 3) + " ms"
                                 : std::string("not measurable (no mic correlates)");
    const capture::RepeatMicSummary* lowest_mic = nullptr;
    std::size_t lowest_band = 0;
    double highest_db = -1e9;
    for (const auto& mic : repeats.mics) {
        for (std::size_t band = 0; band < mic.snr_db.size(); ++band) {
            if (lowest_mic == nullptr || mic.snr_db[band] < lowest_mic->snr_db[lowest_band]) {
                lowest_mic = &mic;
                lowest_band = band;
            }
            highest_db = std::max(highest_db, mic.snr_db[band]);
        }
    }
    if (lowest_mic != nullptr) {
        line += "; SNR of the average per third octave from " + format_fixed(lowest_mic->snr_db[lowest_band], 1) +
                " dB (mic '" + lowest_mic->mic + "' at " + format_significant(repeats.bands_hz[lowest_band]) +
                " Hz) to " + format_fixed(highest_db, 1) + " dB";
    }
    return line;
}

/// Prints the room's T60 estimated from the first zone, the tail of later sweeps, and whether
/// the zone is measured again because its own tail was shorter.
void print_room_t60(const capture::MeasureProgress& progress) {
    const capture::RoomT60Estimate& estimate = *progress.room_t60;
    for (const auto& note : estimate.notes) {
        std::cout << "zone '" << progress.zone << "': room T60 estimate: " << note << '\n';
    }
    if (!estimate.t60_s) {
        std::cout << "warning: zone '" << progress.zone << "': the room's T60 could not be estimated, so each sweep keeps a "
                  << format_significant(progress.tail_s)
                  << " s tail; set audio_interface.room_t60_s in the venue file if the room decays for longer\n";
        return;
    }
    std::cout << "room T60 estimated from zone '" << progress.zone << "': " << format_fixed(*estimate.t60_s, 2) << " s ("
              << estimate.metric << " of mic '" << estimate.mic << "' in the " << format_significant(estimate.band_hz)
              << " Hz octave, the longest of the 250 Hz to 4 kHz octaves); each later sweep gets a "
              << format_fixed(progress.tail_s, 2) << " s tail" << std::endl;
    if (progress.remeasure) {
        std::cout << "warning: zone '" << progress.zone << "': its tail was shorter than the room's T60 and the decay "
                  << "had not reached the noise floor when the recording ended; measuring the zone again with a "
                  << format_fixed(progress.tail_s, 2) << " s tail" << std::endl;
    } else if (progress.short_tail) {
        std::cout << "zone '" << progress.zone << "': its tail was shorter than the room's T60, but every mic's decay "
                  << "reached the noise floor within it, so the recording is kept" << std::endl;
    }
}

/// Applies the session's calibration file to the venue's mics (it wins over the venue file),
/// prints each mic's sensitivity and its source, and returns the sources by mic name.
std::map<std::string, std::string> apply_session_calibration(Venue& venue, const fs::path& session) {
    const fs::path path = capture::calibration_file_path(session);
    const std::vector<capture::MicCalibration> calibrations = capture::read_calibration_file(path);
    for (const auto& calibration : calibrations) {
        const bool known = std::any_of(venue.microphones.begin(), venue.microphones.end(),
                                       [&](const Microphone& mic) { return mic.name == calibration.mic; });
        if (!known) {
            std::cout << "warning: " << path.string() << " calibrates mic '" << calibration.mic
                      << "', which the venue does not have; it is ignored\n";
        }
    }
    std::map<std::string, std::string> sources;
    for (const capture::SensitivitySource& source : capture::apply_calibrations(venue, calibrations)) {
        std::cout << "mic '" << source.mic << "': ";
        if (source.calibration) {
            const capture::MicCalibration& calibration = *source.calibration;
            std::cout << "sensitivity " << format_fixed(*source.sensitivity_dbfs, 2) << " dBFS from " << path.string()
                      << " (" << format_significant(calibration.calibrator_db_spl) << " dB SPL calibrator at "
                      << format_fixed(calibration.reading.frequency_hz, 1) << " Hz, " << calibration.recorded_utc << ")";
            if (source.venue_sensitivity_dbfs) {
                std::cout << ", instead of the venue file's " << format_fixed(*source.venue_sensitivity_dbfs, 2) << " dBFS";
            }
            sources[source.mic] = source.source;
        } else if (source.sensitivity_dbfs) {
            std::cout << "sensitivity " << format_fixed(*source.sensitivity_dbfs, 2) << " dBFS from the venue file";
        } else {
            std::cout << "no sensitivity, so its levels are in dBFS only (calibrate it with --calibrate "
                      << source.mic << ")";
        }
        std::cout << '\n';
        if (!source.note.empty()) {
            std::cout << "warning: mic '" << source.mic << "': " << source.note << '\n';
        }
    }
    return sources;
}

/// Creates the session folder (--out); throws a configuration Error naming it when that fails.
fs::path create_session_folder(const fs::path& session) {
    std::error_code error;
    fs::create_directories(session, error);
    if (error) {
        throw Error("session folder '" + session.string() + "' cannot be created (" + error.message() +
                        "); choose a writable folder with --out",
                    ErrorKind::configuration);
    }
    return session;
}

/// `measure --calibrate MIC`: records the mic's calibrator tone with every output silent, stores
/// the sensitivity in the session's calibration file and prints the line for the venue file.
int run_calibration(const MeasureArguments& args, const Venue& venue) {
    const fs::path session = args.session_dir;
    const auto mic = std::find_if(venue.microphones.begin(), venue.microphones.end(),
                                  [&](const Microphone& candidate) { return candidate.name == args.calibrate_mic; });
    if (mic == venue.microphones.end()) {
        std::string names;
        for (const Microphone& candidate : venue.microphones) {
            names += (names.empty() ? "'" : ", '") + candidate.name + "'";
        }
        throw Error("--calibrate: mic '" + args.calibrate_mic + "' is not in venue '" + venue.name +
                        "'; choose one of its mics: " + names,
                    ErrorKind::configuration);
    }
    const capture::PortAudioStreamOptions stream_options =
        checked_stream_options(venue, args.device, args.host_api, capture::MeasureOptions{});
    capture::PortAudioCaptureStream stream(stream_options);
    const StopOnSignal stop_on_signal(stream);
    std::cout << "calibrating mic '" << mic->name << "' on input " << mic->input << " through " << stream.description()
              << ": hold the " << format_significant(args.calibrator_db_spl)
              << " dB SPL calibrator on the mic; recording " << format_significant(args.calibration_s)
              << " s with every output silent" << std::endl;
    capture::CalibrationOptions options;
    options.calibrator_db_spl = args.calibrator_db_spl;
    options.record_s = args.calibration_s;
    const capture::MicCalibration calibration = capture::calibrate_microphone(venue, mic->name, stream, options);

    // The folder is created only now, so that a rejected recording leaves nothing behind.
    create_session_folder(session);
    const fs::path path = capture::calibration_file_path(session);
    capture::store_calibration(path, calibration);
    const capture::CalibratorReading& reading = calibration.reading;
    std::cout << "mic '" << mic->name << "': calibrator tone at " << format_fixed(reading.frequency_hz, 1) << " Hz, "
              << format_fixed(reading.tone_rms_dbfs, 2) << " dBFS RMS (level steady within "
              << format_fixed(reading.level_spread_db, 2) << " dB, " << format_fixed(reading.tone_to_noise_db, 1)
              << " dB above the noise of its third octave)\n";
    std::cout << "mic '" << mic->name << "': sensitivity " << format_fixed(calibration.sensitivity_dbfs, 2)
              << " dBFS (RMS at 94 dB SPL) stored in " << path.string() << "; measure --out " << session.string()
              << " uses it instead of the venue file\n";
    std::cout << "to keep it in the venue file, set in mic '" << mic->name << "': \"sensitivity_dbfs\": "
              << format_fixed(calibration.sensitivity_dbfs, 2) << '\n';
    return 0;
}

capture::MeasureOptions measure_options(const MeasureArguments& args, std::vector<std::string> zones) {
    capture::MeasureOptions options;
    options.zones = std::move(zones);
    options.sweep.duration_s = args.sweep_s;
    options.sweep.level_dbfs = args.level_dbfs;
    options.tail_s = args.tail_s;
    options.max_passes = args.max_passes;
    options.multi_sweep = args.multi_sweep;
    options.repeats = args.repeats;
    options.noise_floor_s = args.noise_floor_s;
    options.sweep_from_zone_band = args.zone_bands;
    options.test_tone = args.test_tone;
    options.max_peak_dbfs = args.max_peak_dbfs;
    options.max_peak_db_spl = args.max_peak_db_spl;
    // One multiple-sweep pass has no later sweeps whose tail an estimate could set.
    options.estimate_room_t60 = !args.multi_sweep;
    options.progress = [zone_bands = args.zone_bands](const capture::MeasureProgress& progress) {
        using Event = capture::MeasureProgress::Event;
        if (progress.event == Event::multi_sweep_started) {
            std::cout << "measuring " << progress.zone << " in one multiple-sweep pass ("
                      << format_fixed(progress.sound_s, 1) << " s of sound; one zone after another would take "
                      << format_fixed(progress.sequential_sound_s, 1) << " s, "
                      << format_fixed(progress.sequential_sound_s / progress.sound_s, 2) << " times longer)"
                      << std::endl;
        } else if (progress.event == Event::zone_started) {
            std::cout << "measuring zone '" << progress.zone << "' (" << progress.zone_number << "/"
                      << progress.zone_count << ", " << format_fixed(progress.sound_s, 1) << " s of sound)"
                      << std::endl;
        } else if (progress.event == Event::room_t60_estimated) {
            print_room_t60(progress);
        } else if (progress.event == Event::repeat_started) {
            std::cout << "  repeat " << progress.repeat_number << "/" << progress.repeat_count << std::endl;
        } else if (progress.event == Event::pass_repeated) {
            const bool listed = progress.zone.rfind("zones ", 0) == 0;
            std::cout << (listed ? progress.zone : "zone '" + progress.zone + "'") << ": " << progress.xrun_count
                      << " xrun(s), measuring again" << std::endl;
        } else {
            std::cout << "zone '" << progress.zone << "': recording saved" << std::endl;
            if (progress.recording != nullptr) {
                if (zone_bands) {
                    std::cout << "zone '" << progress.zone << "': swept from "
                              << format_significant(progress.recording->sweep.start_freq_hz) << " Hz (--zone-bands)\n";
                }
                print_decay(*progress.recording);
                print_test_tone(*progress.recording);
            }
            if (progress.recording != nullptr && progress.recording->repeats) {
                std::cout << repeats_summary(*progress.recording) << std::endl;
            }
            if (progress.recording != nullptr && progress.recording->timing == "invalid") {
                std::cout << "zone '" << progress.zone
                          << "': timing against the other zones is invalid: there is no loopback and the stream had "
                             "an xrun or was restarted; wire a loopback to keep zones comparable"
                          << std::endl;
            }
        }
    };
    return options;
}

/// Copies the venue file into the session, so that the session is complete on its own.
void copy_venue(const fs::path& venue_path, const fs::path& session) {
    std::ifstream venue_stream(venue_path);
    std::ostringstream venue_text;
    venue_text << venue_stream.rdbuf();
    io::write_text_file(session / "venue.json", venue_text.str());
}

void print_impulse_responses(const capture::SessionImpulseResponses& responses) {
    for (const auto& note : responses.notes) {
        std::cout << note << '\n';
    }
    for (const auto& zone : responses.zones) {
        std::cout << "zone '" << zone.zone << "': impulse responses of " << zone.mics.size() << " mic(s)";
        if (zone.latency_samples) {
            std::cout << ", loopback latency " << format_fixed(*zone.latency_samples, 2) << " samples";
        }
        std::cout << '\n';
        for (const auto& note : zone.notes) {
            std::cout << "  " << note << '\n';
        }
        for (const auto& mic : zone.mics) {
            for (const auto& note : mic.channel.notes) {
                std::cout << "  mic '" << mic.mic << "': " << note << '\n';
            }
            if (mic.separation) {
                std::cout << "  mic '" << mic.mic << "': separation from the other zones: the window's last tenth holds "
                          << format_fixed(mic.separation->window_end_db, 1) << " dB of its energy\n";
            }
        }
    }
}

int run_measure(const MeasureArguments& args) {
    Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir());
    if (!args.calibrate_mic.empty()) {
        return run_calibration(args, venue);
    }
    const fs::path session = args.session_dir;
    const std::vector<std::string> zones = zones_to_measure(venue, args, session);

    if (!zones.empty()) {
        capture::MeasureOptions options = measure_options(args, zones);
        options.sensitivity_sources = apply_session_calibration(venue, session);
        if (const double tail_s = capture::tail_for_room(venue, options.tail_s); tail_s > options.tail_s) {
            std::cout << "tail after each sweep: " << format_significant(tail_s)
                      << " s, the room's T60 from the venue file (audio_interface.room_t60_s), instead of --tail-s "
                      << format_significant(options.tail_s) << " s\n";
        }
        // Zones recorded by an earlier run came through another stream, whose latency may differ.
        options.stream_restarted = args.resume && zones.size() < (args.zones.empty() ? venue.zones.size() : args.zones.size());
        const capture::PortAudioStreamOptions stream_options =
            checked_stream_options(venue, args.device, args.host_api, options);

        create_session_folder(session);
        copy_venue(args.venue_path, session);

        capture::PortAudioCaptureStream stream(stream_options);
        std::cout << "measuring through " << stream.description() << " at "
                  << format_significant(venue.audio_interface.sample_rate_hz) << " Hz" << std::endl;
        const StopOnSignal stop_on_signal(stream);
        std::unique_ptr<LiveLevels> live;
        if (live_display_enabled()) {
            live = std::make_unique<LiveLevels>(stream.meter(), metered_inputs(venue), venue.audio_interface.sample_rate_hz);
            options.progress = [print = options.progress, display = live.get()](const capture::MeasureProgress& progress) {
                display->print([&] { print(progress); });
            };
        }
        const capture::MeasureResult result = capture::measure(venue, stream, session, options);
        live.reset();
        for (const auto& recording : result.recordings) {
            for (const auto& mic : recording.silent_mics) {
                std::cout << "zone '" << recording.zone << "': mic '" << mic
                          << "' is silent (peak below " << format_fixed(options.silent_input_threshold_dbfs, 0)
                          << " dBFS); check its cable, phantom power and input gain\n";
            }
        }
    }

    print_impulse_responses(capture::write_impulse_responses(session, {}));
    std::cout << "session written to " << session.string() << "/ (venue.json, measurements/, impulse-responses/)\n";
    return 0;
}

}  // namespace

Command add_measure_command(CLI::App& app) {
    auto args = std::make_shared<MeasureArguments>();
    auto* command = app.add_subcommand(
        "measure",
        "Measure the venue's zones through an audio interface (PortAudio): per zone, a sweep on the zone's output "
        "and the loopback output while every mic input and the loopback input record. Each recording is saved as "
        "soon as its pass ends; then the impulse responses of the session are written.");
    command->add_option("venue", args->venue_path, "Venue file (JSON): zones with outputs, mics with inputs, loopback")
        ->required()
        ->check(existing_file("venue file (JSON)"));
    command->add_option("--device", args->device,
                        "Part of the audio interface's name, as 'linetune interfaces' lists it (default: the host "
                        "API's default device)");
    command->add_option("--host-api", args->host_api, "Part of the PortAudio host API's name (ALSA, JACK, ...)");
    command->add_option("--zones", args->zones, "Zones to measure, comma-separated, in this order (default: all)")
        ->delimiter(',');
    command->add_option("--out", args->session_dir, "Session folder to write")->capture_default_str();
    command->add_flag("--resume", args->resume,
                      "Skip zones whose recording is complete in the session folder (measurements/ZONE/"
                      "recording.json)");
    command->add_option("--sweep-s", args->sweep_s, "Sweep length in seconds")
        ->check(number_in_range(0.1, 60.0, "s"))
        ->capture_default_str();
    command->add_option("--tail-s", args->tail_s,
                        "Silence recorded after each sweep in seconds; at least the room's decay time (T60)")
        ->check(number_in_range(0.05, 30.0, "s"))
        ->capture_default_str();
    command->add_option("--level-dbfs", args->level_dbfs, "Peak level of the sweep in dBFS")
        ->check(number_in_range(-60.0, 0.0, "dBFS"))
        ->capture_default_str();
    command->add_flag("--multi-sweep", args->multi_sweep,
                      "Measure every zone in one pass: the zones' sweeps overlap, placed so that no zone's impulse "
                      "response meets another's or its harmonics, each quieter so that together they stay under "
                      "--level-dbfs; --tail-s is each zone's impulse-response window");
    command->add_option("--repeats", args->repeats,
                        "Passes played and averaged per zone, aligned on the first to a fraction of a sample; the "
                        "recording's JSON gets the drift between repeats and the SNR per third octave")
        ->check(CLI::Range(1, 20))
        ->capture_default_str();
    command->add_flag("--zone-bands", args->zone_bands,
                      "Start each zone's sweep half an octave below the low end of its fit_band_hz, so that a "
                      "tweeter or fill zone is not driven at full level far below its crossover");
    command->add_flag("--test-tone,!--no-test-tone", args->test_tone,
                      "Play a quiet test tone (the sweep, 0.3 s long and 30 dB quieter) on each zone first: it checks "
                      "that the zone's mics hear it and refuses a sweep predicted over --max-peak-dbfs or "
                      "--max-peak-db-spl (default: on; with --multi-sweep every zone's tone plays before the pass)");
    command->add_option("--max-peak-dbfs", args->max_peak_dbfs, "Largest predicted sweep peak at any mic input")
        ->check(number_in_range(-60.0, 0.0, "dBFS"))
        ->capture_default_str();
    command->add_option("--max-peak-db-spl", args->max_peak_db_spl,
                        "Largest predicted sweep peak at a mic with a sensitivity_dbfs in the venue file")
        ->check(number_in_range(60.0, 140.0, "dB SPL"))
        ->capture_default_str();
    command->add_option("--noise-floor-s", args->noise_floor_s,
                        "Silence recorded before each pass to measure every input's noise floor, which the end of "
                        "each mic's tail is checked against; 0 skips both")
        ->check(number_in_range(0.0, 5.0, "s"))
        ->capture_default_str();
    command->add_option("--calibrate", args->calibrate_mic,
                        "Calibrate this mic instead of measuring: with every output silent, record its input while "
                        "a calibrator sits on it, check that it is one steady tone, and store the mic's sensitivity "
                        "in the session's calibration.json, which later runs with the same --out use")
        ->check(CLI::Validator(
            [](const std::string& value) {
                return value.empty() ? std::string("give a mic name from the venue file's microphones")
                                     : std::string();
            },
            "MIC"));
    command->add_option("--calibrator-db-spl", args->calibrator_db_spl,
                        "Level of the calibrator's tone, as printed on it (94 or 114 dB SPL)")
        ->check(number_in_range(80.0, 140.0, "dB SPL"))
        ->capture_default_str();
    command->add_option("--calibration-s", args->calibration_s, "Length of the calibrator recording in seconds")
        ->check(number_in_range(1.0, 30.0, "s"))
        ->capture_default_str();
    command->add_option("--max-passes", args->max_passes,
                        "Passes played per zone while passes have xruns, before the zone fails")
        ->check(CLI::Range(1, 10))
        ->capture_default_str();
    return {command, [args] { return run_measure(*args); }};
}

}  // namespace linetune::cli
