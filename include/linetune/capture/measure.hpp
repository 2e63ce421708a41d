#pragma once

#include "linetune/capture/multi_sweep.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/capture/room_t60.hpp"
#include "linetune/core/capture_stream.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
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
        repeat_started,  ///< repeat repeat_number of repeat_count is about to play (MeasureOptions::repeats > 1)
        /// The first zone's pass gave (or failed to give) the room's T60 (MeasureOptions::estimate_room_t60).
        /// room_t60 is set, tail_s is the tail of later passes, short_tail is true when this zone's
        /// own tail was shorter than the estimate, and remeasure when the zone plays again.
        room_t60_estimated,
    };
    Event event = Event::zone_started;
    std::string zone;
    std::size_t zone_number = 0;  ///< 1-based position among the zones measured
    std::size_t zone_count = 0;
    double sound_s = 0.0;         ///< length of one pass (sweep + tail)
    std::size_t xrun_count = 0;   ///< pass_repeated and zone_finished: xruns of the pass just played
    double sequential_sound_s = 0.0;  ///< multi_sweep_started: the same zones measured one after another
    std::size_t repeat_number = 1;    ///< repeat_started: 1-based repeat about to play
    std::size_t repeat_count = 1;     ///< MeasureOptions::repeats
    /// zone_finished: the metadata just written (levels, timing, repeats); valid during the call only.
    const RecordingMetadata* recording = nullptr;
    const RoomT60Estimate* room_t60 = nullptr;  ///< room_t60_estimated: valid during the call only
    double tail_s = 0.0;                        ///< room_t60_estimated: the tail of the passes that follow
    bool short_tail = false;                    ///< room_t60_estimated: the zone's tail was shorter than the T60
    bool remeasure = false;                     ///< room_t60_estimated: the zone plays again with tail_s
};

/// Settings of a measurement.
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
    /// Passes played and averaged per zone (per multiple-sweep pass). Repeat k is aligned on
    /// repeat 1 to a fraction of a sample before averaging (average_repeats), which lowers
    /// uncorrelated noise by 10·log10(N) dB and measures the drift and SNR per band.
    std::size_t repeats = 1;
    /// Recordings of this session come from another stream (--resume): without a loopback,
    /// their latency may differ, so the timing of every pass of this run is marked invalid.
    bool stream_restarted = false;
    /// Length of the silent capture made before each zone's pass (before the multiple-sweep
    /// pass) to record every input's noise floor; 0 skips it and the decay check. A quarter
    /// second averages the noise of a hall (its slowest common component, 50 Hz hum, over 12 periods).
    double noise_floor_s = 0.0;
    /// The last part of each mic's recording whose level is compared with the noise floor.
    /// 0.1 s is short against any tail (0.05 s at least, then the tail's half is used) yet contains
    /// 4800 samples at 48 kHz, so the RMS of steady noise varies by about 0.1 dB.
    double decay_window_s = 0.1;
    /// A tail end this far above the noise floor is a decay still going on: 3 dB means that the
    /// room's sound still adds as much power as the noise.
    double decay_margin_db = 3.0;
    /// Starts each zone's sweep half an octave below the low end of the zone's fit_band_hz
    /// (zone_sweep_start_hz) instead of at sweep.start_freq_hz, so that a tweeter or fill zone
    /// is not driven at full level far below its crossover. Sequential passes only.
    bool sweep_from_zone_band = false;
    /// Plays a quiet test tone on each zone before its sweep (with multi_sweep, every zone's tone,
    /// one after another, before the pass): the zone's
    /// sweep, shortened to test_tone_s and test_tone_below_db quieter. It checks routing (the
    /// zone's mics hear it) and predicts each mic's sweep peak. A peak over max_peak_dbfs, or over
    /// max_peak_db_spl at a mic with a sensitivity, refuses the sweep before it plays.
    bool test_tone = false;
    /// 30 dB under the sweep: a sweep at −12 dBFS plays its tone at −42 dBFS, quiet for ears and
    /// drivers whatever the routing. A mic that hears the sweep at −20 dBFS still hears the tone
    /// 40 dB above a −90 dBFS noise floor.
    double test_tone_below_db = 30.0;
    /// A third of a second of sweep reaches every frequency of the band. The prediction misses
    /// part of the room's build-up at resonances, which a longer sweep excites more (an estimate).
    double test_tone_s = 0.3;
    /// Predicted sweep peak at any mic input; 1 dB under full scale leaves room for the
    /// prediction's error before the converter clips.
    double max_peak_dbfs = -1.0;
    /// Predicted sweep peak in dB SPL at a calibrated mic. 115 dB SPL: NIOSH's recommended
    /// exposure limit (85 dBA over 8 h, halved per 3 dB) allows 28 s a day at this level.
    double max_peak_db_spl = 115.0;
    /// A zone's mic hears the tone when its peak is this far above the mic's RMS noise floor
    /// (routing is judged only with a noise floor, noise_floor_s > 0). Noise
    /// alone peaks about 13 dB above its RMS over 40 000 samples (4.3 σ), so 20 dB leaves 7 dB.
    double routing_margin_db = 20.0;
    /// Measures every zone in one pass with overlapped sweeps (plan_multi_sweep) instead of one
    /// pass per zone; tail_s is then each zone's impulse-response window.
    bool multi_sweep = false;
    MultiSweepOptions multi_sweep_options;
    /// When the venue file has no audio_interface.room_t60_s, estimates the room's T60 from the
    /// first zone's impulse responses (estimate_room_t60) and gives every later sweep a tail at
    /// least that long. The first zone is measured again with the longer tail, and only its second
    /// pass kept, when its own tail was shorter than the estimate and its decay check found a mic
    /// whose decay had not reached the noise floor. Without a noise floor the check cannot tell, so
    /// the zone is measured again too. Sequential passes only: a multiple-sweep pass has no later sweeps.
    bool estimate_room_t60 = false;
    RoomT60Options room_t60;
    /// Source of each mic's sensitivity_dbfs by mic name ("calibration file"), written into
    /// recording.json. A mic with a sensitivity that is not listed is marked "venue file".
    std::map<std::string, std::string> sensitivity_sources;
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
    std::optional<RoomT60Estimate> room_t60;    ///< the estimate, when MeasureOptions::estimate_room_t60 made one
};

/// Checks, before any audio, that the stream and venue allow the measurement. The stream's rate
/// must equal the venue's, and every zone output, mic input and loopback channel must exist.
/// Each mic needs its own input, and the zones must exist with names usable as folder names.
/// Throws one configuration Error that lists every problem with its zone, mic or channel.
void check_measurement_setup(const Venue& venue, const StreamFormat& format, const MeasureOptions& options);

/// Returns the start of a zone's sweep with MeasureOptions::sweep_from_zone_band: half an octave below
/// the zone's fit band, fit_band_hz.low_hz / √2, where a 24 dB/octave crossover at the band's
/// edge already attenuates by 12 dB. Never below start_freq_hz.
double zone_sweep_start_hz(const Zone& zone, double start_freq_hz);

/// The tail recorded after each sweep: tail_s, or the room's T60 when the venue gives a longer
/// one (audio_interface.room_t60_s), so that the decay reaches the noise floor within the tail.
double tail_for_room(const Venue& venue, double tail_s);

/// Measures the zones one after another: per zone, one pass that plays the sweep on the zone's
/// output and on the loopback output and records every mic input and the loopback input. Each
/// recording is written to SESSION/measurements/ZONE/recording.wav and then recording.json as
/// soon as its pass ends. Throws a configuration Error before any audio (check_measurement_setup).
/// Throws a device Error for clipping at any input, and then nothing is written for that zone, or
/// for xruns in a repeated pass. Zones finished before a failure stay on disk. With
/// options.multi_sweep, one pass plays every zone's sweep at its planned offset and each zone's
/// folder gets the pass's recording (a hard link where the file system allows) with its placement.
/// The tail is tail_for_room(venue, options.tail_s), or longer after a T60 estimate
/// (options.estimate_room_t60). With options.noise_floor_s, a silent capture
/// before each pass records every input's noise floor, and each mic's decay is checked against it.
MeasureResult measure(const Venue& venue, CaptureStream& stream, const std::filesystem::path& session_dir,
                      const MeasureOptions& options);

}  // namespace linetune::capture
