#pragma once

#include "linetune/capture/multi_sweep.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/core/capture_stream.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace linetune::capture {

/// A step of a sequential measurement, reported to the progress callback.
struct MeasureProgress {
    enum class Event {
        zone_started,   ///< the zone's pass is about to play
        pass_repeated,  ///< the pass had xruns and plays once more
        zone_finished,  ///< the zone's recording is on disk
        multi_sweep_started,  ///< the one pass of every zone is about to play (MeasureOptions::multi_sweep)
    };
    Event event = Event::zone_started;
    std::string zone;
    std::size_t zone_number = 0;  ///< 1-based position among the zones measured
    std::size_t zone_count = 0;
    double sound_s = 0.0;         ///< length of one pass (sweep + tail)
    std::size_t xrun_count = 0;   ///< pass_repeated and zone_finished: xruns of the pass just played
    double sequential_sound_s = 0.0;  ///< multi_sweep_started: the same zones measured one after another
};

/// Settings of a sequential measurement.
struct MeasureOptions {
    std::vector<std::string> zones;  ///< zone names to measure, in this order; empty: every zone in venue order
    /// The sweep played on each zone's output and on the loopback output. Its sample_rate_hz is
    /// ignored: the venue's audio_interface.sample_rate_hz is used.
    SweepParameters sweep;
    double tail_s = 1.0;  ///< recorded after the sweep ends; at least the room's decay time
    /// A mic input whose peak stays below this level is flagged silent. A sweep at 80 dB SPL
    /// reaches about −40 dBFS at the gain that puts 120 dB SPL at 0 dBFS, while an unplugged
    /// or muted input carries only preamp noise, typically −90 dBFS or lower.
    double silent_input_threshold_dbfs = -70.0;
    /// Passes played in all when passes have xruns, before the zone fails. Two ride out a single
    /// disturbance (another program starting); a stream that keeps dropping buffers needs a larger
    /// buffer, which only the user can set.
    std::size_t max_passes = 2;
    /// Measures every zone in one pass with overlapped sweeps (plan_multi_sweep) instead of one
    /// pass per zone; tail_s is then each zone's impulse-response window.
    bool multi_sweep = false;
    MultiSweepOptions multi_sweep_options;
    std::function<void(const MeasureProgress&)> progress;  ///< called on the measuring thread; may be empty
};

/// One zone's finished recording.
struct ZoneRecording {
    std::string zone;
    std::filesystem::path wav_path;
    std::filesystem::path json_path;
    RecordingMetadata metadata;
    std::vector<std::string> silent_mics;  ///< mics flagged silent, venue order
};

/// Recordings of a sequential measurement and the sound time they took.
struct MeasureResult {
    std::vector<ZoneRecording> recordings;  ///< in measuring order
    double sound_s = 0.0;  ///< total time audio played, repeated passes included
    std::optional<MultiSweepPlan> multi_sweep;  ///< the pass's plan, when MeasureOptions::multi_sweep
};

/// Checks, before any audio, that the stream and venue allow the measurement. The stream's rate
/// must equal the venue's, and every zone output, mic input and loopback channel must exist.
/// Each mic needs its own input, and the zones must exist with names usable as folder names.
/// Throws one configuration Error that lists every problem with its zone, mic or channel.
void check_measurement_setup(const Venue& venue, const StreamFormat& format, const MeasureOptions& options);

/// Measures the zones one after another: per zone, one pass that plays the sweep on the zone's
/// output and on the loopback output and records every mic input and the loopback input. Each
/// recording is written to SESSION/measurements/ZONE/recording.wav and then recording.json as
/// soon as its pass ends. Throws a configuration Error before any audio (check_measurement_setup).
/// Throws a device Error for clipping at any input, and then nothing is written for that zone, or
/// for xruns in a repeated pass. Zones finished before a failure stay on disk. With
/// options.multi_sweep, one pass plays every zone's sweep at its planned offset and each zone's
/// folder gets the pass's recording (a hard link where the file system allows) with its placement.
MeasureResult measure(const Venue& venue, CaptureStream& stream, const std::filesystem::path& session_dir,
                      const MeasureOptions& options);

}  // namespace linetune::capture
