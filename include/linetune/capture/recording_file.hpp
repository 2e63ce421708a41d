#pragma once

#include "linetune/core/sweep.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace linetune::capture {

/// Value of the "format" key of a recording's JSON metadata.
inline constexpr const char* recording_format = "linetune recording";

/// One channel of a recording: a microphone or the loopback, with its level.
struct RecordingChannel {
    std::size_t channel = 0;  ///< 1-based channel of recording.wav
    std::size_t input = 0;    ///< 1-based input of the audio interface
    std::string mic;          ///< microphone name; empty for the loopback
    bool loopback = false;
    double peak_dbfs = 0.0;
    bool clipped = false;
    bool silent = false;  ///< peak below the silent-input threshold: the mic heard nothing
    /// RMS level of the silent capture made before the pass (MeasureOptions::noise_floor_s);
    /// empty when none was made.
    std::optional<double> noise_floor_dbfs;
    /// Mics: RMS level of the recording's last part (MeasureOptions::decay_window_s), where the
    /// room's decay should have reached the noise floor.
    std::optional<double> tail_end_dbfs;
    /// The tail's end is more than decay_margin_db above the noise floor (of the average, with
    /// repeats): the decay was still going on when the recording ended.
    bool decay_incomplete = false;
    /// Mics, with the test tone (MeasureOptions::test_tone): its peak at this input, the sweep's
    /// peak predicted from it, and that peak in dB SPL when the mic's sensitivity is known.
    std::optional<double> test_tone_peak_dbfs;
    std::optional<double> predicted_peak_dbfs;
    std::optional<double> predicted_peak_db_spl;
    bool heard_test_tone = true;  ///< false for a mic that should hear the zone but did not hear the tone
    /// Mics: the sensitivity (RMS dBFS at 94 dB SPL) that the pass's SPL figures used, and its
    /// source, "calibration file" (SESSION/calibration.json) or "venue file". Both are empty without one.
    std::optional<double> sensitivity_dbfs;
    std::string sensitivity_source;
};

/// The room's T60 that set a pass's tail: from the venue file, or estimated in the same run from
/// the first zone measured (MeasureOptions::estimate_room_t60).
struct RoomT60Record {
    double t60_s = 0.0;
    std::string source;     ///< "venue file" or "estimated"
    std::string zone;       ///< estimated: the zone whose pass gave it
    std::string mic;        ///< estimated: the mic of the longest octave-band decay
    double band_hz = 0.0;   ///< estimated: that band's nominal centre
    std::string metric;     ///< estimated: "T30" or "T20"
    /// Set on the zone that gave the estimate when its first pass had a shorter tail than the
    /// estimate: that pass's tail.
    std::optional<double> first_tail_s;
    /// The zone that gave the estimate was measured again with the longer tail, because its first
    /// tail was shorter and a mic's decay had not reached the noise floor (or no floor was recorded).
    bool remeasured = false;
};

/// Placement of a zone in a multiple-sweep pass, whose recording every zone of the pass shares.
struct MultiSweepPlacement {
    std::vector<std::string> zones;           ///< zones of the pass, in pass order
    std::vector<std::size_t> offsets_frames;  ///< per zone of the pass: start of its sweep
    std::size_t offset_frames = 0;            ///< this zone's sweep start after the start of playback
    std::size_t window_frames = 0;            ///< this zone's impulse response after its offset
    std::size_t max_overlapping = 1;          ///< most sweeps that played at one moment
    double ceiling_dbfs = 0.0;                ///< the level the sum of the overlapping sweeps stayed under
    double sequential_sound_s = 0.0;          ///< the same zones measured one after another
};

/// One mic's figures from the repeats of a pass (RepeatSummary::mics).
struct RepeatMicSummary {
    std::string mic;
    /// Per repeat: how much later the mic heard repeat k than repeat 1 once the repeats are
    /// aligned, in ms (0 for repeat 1). Alignment by the loopback leaves the acoustic drift
    /// (temperature, wind); empty entries where the mic's repeats do not correlate (a silent mic).
    std::vector<std::optional<double>> drift_ms;
    std::vector<double> snr_db;     ///< per band of RepeatSummary::bands_hz: SNR of the average
    std::vector<double> coherence;  ///< per band: repeat-to-repeat coherence, 1/N (noise) to 1 (identical)
};

/// Alignment and averaging of a pass's repeats, and the noise figures they give.
struct RepeatSummary {
    std::size_t count = 1;
    std::string aligned_by;             ///< "loopback" or "mic 'NAME'" (the loudest mic, without a loopback)
    std::vector<double> alignment_ms;   ///< per repeat: shift removed to align it on repeat 1 (0 for repeat 1)
    std::optional<double> max_drift_ms;  ///< largest |drift| of any mic; empty when no mic correlates
    std::vector<double> bands_hz;       ///< centres of the third-octave bands inside the sweep's band
    std::vector<RepeatMicSummary> mics;  ///< venue order
};

/// The JSON metadata written beside a recording's WAV; its presence marks the recording complete.
struct RecordingMetadata {
    std::string venue;
    std::filesystem::path venue_file;
    std::string zone;
    std::size_t output = 0;  ///< 1-based interface output that played the sweep to the zone
    std::optional<std::size_t> loopback_output;  ///< 1-based interface output that played the loopback's copy
    double sample_rate_hz = 0.0;
    std::size_t frames = 0;
    std::vector<RecordingChannel> channels;  ///< mics in venue order, then the loopback
    std::optional<std::size_t> loopback_channel;  ///< 1-based channel of the loopback, when recorded
    SweepParameters sweep;      ///< as requested; the played sweep is generate_exponential_sweep(sweep)
    std::size_t sweep_frames = 0;  ///< length of the played sweep
    double tail_s = 0.0;        ///< recorded after the sweep
    double sound_s = 0.0;       ///< sweep + tail: how long the pass took in real time
    std::size_t xrun_count = 0;  ///< of the kept pass
    std::size_t passes = 1;      ///< 2 when the first pass had xruns and was repeated
    std::optional<double> temperature_c;
    std::optional<double> humidity_percent;
    std::string recorded_utc;   ///< end of the pass, ISO 8601 ("2025-06-01T20:15:03Z")
    std::string software;       ///< "linetune 0.1.0"
    std::optional<MultiSweepPlacement> multi_sweep;  ///< set for a zone of a multiple-sweep pass
    /// Time base: "absolute" (timed by the loopback), "relative" (no loopback, so zones share the
    /// stream's constant latency) or "invalid". Invalid means no loopback and an xrun or stream
    /// restart before or during this pass, so its latency may differ from the other zones'.
    std::string timing = "absolute";
    std::optional<RepeatSummary> repeats;  ///< set when the pass was played several times and averaged
    std::optional<RoomT60Record> room_t60;  ///< set when a T60 (venue file or estimate) was known for the pass
};

/// SESSION/measurements/ZONE: the folder of one zone's recording.
std::filesystem::path recording_folder(const std::filesystem::path& session_dir, const std::string& zone);

/// The WAV of a zone's recording: SESSION/measurements/ZONE/recording.wav.
std::filesystem::path recording_wav_path(const std::filesystem::path& session_dir, const std::string& zone);

/// The JSON of a zone's recording: SESSION/measurements/ZONE/recording.json.
std::filesystem::path recording_json_path(const std::filesystem::path& session_dir, const std::string& zone);

/// Writes the metadata as JSON atomically; throws Error naming the file.
void write_recording_metadata(const std::filesystem::path& json_path, const RecordingMetadata& metadata);

/// Reads and checks recording metadata; throws an input Error naming the file and the field.
RecordingMetadata read_recording_metadata(const std::filesystem::path& json_path);

/// Returns the present time as ISO 8601 UTC ("2025-06-01T20:15:03Z"), as recordings and
/// calibrations record it.
std::string utc_timestamp();

}  // namespace linetune::capture
