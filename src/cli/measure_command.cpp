#include "audio_stream_setup.hpp"
#include "commands.hpp"

#include "linetune/capture/impulse_responses.hpp"
#include "linetune/capture/measure.hpp"
#include "linetune/capture/portaudio_stream.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
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
};

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

capture::MeasureOptions measure_options(const MeasureArguments& args, std::vector<std::string> zones) {
    capture::MeasureOptions options;
    options.zones = std::move(zones);
    options.sweep.duration_s = args.sweep_s;
    options.sweep.level_dbfs = args.level_dbfs;
    options.tail_s = args.tail_s;
    options.max_passes = args.max_passes;
    options.multi_sweep = args.multi_sweep;
    options.progress = [](const capture::MeasureProgress& progress) {
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
        } else if (progress.event == Event::pass_repeated) {
            const bool listed = progress.zone.rfind("zones ", 0) == 0;
            std::cout << (listed ? progress.zone : "zone '" + progress.zone + "'") << ": " << progress.xrun_count
                      << " xrun(s), measuring again" << std::endl;
        } else {
            std::cout << "zone '" << progress.zone << "': recording saved" << std::endl;
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
    const Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir());
    const fs::path session = args.session_dir;
    const std::vector<std::string> zones = zones_to_measure(venue, args, session);

    if (!zones.empty()) {
        const capture::MeasureOptions options = measure_options(args, zones);
        const capture::PortAudioStreamOptions stream_options =
            checked_stream_options(venue, args.device, args.host_api, options);

        std::error_code error;
        fs::create_directories(session, error);
        if (error) {
            throw Error("session folder '" + session.string() + "' cannot be created (" + error.message() +
                            "); choose a writable folder with --out",
                        ErrorKind::configuration);
        }
        copy_venue(args.venue_path, session);

        capture::PortAudioCaptureStream stream(stream_options);
        std::cout << "measuring through " << stream.description() << " at "
                  << format_significant(venue.audio_interface.sample_rate_hz) << " Hz" << std::endl;
        const StopOnSignal stop_on_signal(stream);
        const capture::MeasureResult result = capture::measure(venue, stream, session, options);
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
    command->add_option("--max-passes", args->max_passes,
                        "Passes played per zone while passes have xruns, before the zone fails")
        ->check(CLI::Range(1, 10))
        ->capture_default_str();
    return {command, [args] { return run_measure(*args); }};
}

}  // namespace linetune::cli
