#pragma once

#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/signal.hpp"
#include "linetune/core/sweep.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace linetune::capture {

/// Settings of the multiple-sweep method.
struct MultiSweepOptions {
    /// Highest harmonic whose impulse response is kept clear of the other zones' linear ones.
    /// A loudspeaker's distortion is dominated by the 2nd and 3rd; higher orders are usually 10 dB
    /// or more below them and are not placed.
    int highest_harmonic = 3;
    /// Extra gap between two responses that must not meet, in seconds. It covers the ringing of
    /// the band-limited pulses: the deconvolution's 1/6-octave band taper at a 20 Hz start
    /// frequency is about 2.3 Hz wide, so a response rings at a low level for tenths of a second.
    /// NOTE: 0.2 s is a margin, not a measured need: with 20 kHz sweeps, 0.02 s and 0.2 s gave the
    /// same crosstalk in the 6-zone test.
    double guard_s = 0.2;
};

/// Plan of one overlapped pass: each zone's sweep offset, the lowered level and the pass's length.
struct MultiSweepPlan {
    std::vector<std::string> zones;           ///< in pass order
    std::vector<std::size_t> offsets_frames;  ///< per zone: start of its sweep after the start of playback
    SweepParameters sweep;                    ///< the sweep each zone plays, its level already lowered
    std::size_t sweep_frames = 0;
    std::size_t pre_roll_frames = 0;  ///< kept before each response, as the sequential method keeps it
    std::size_t window_frames = 0;    ///< each zone's impulse response after its sweep's start (the tail)
    std::size_t record_frames = 0;    ///< the whole pass: last offset + sweep + window
    std::size_t max_overlapping = 1;  ///< most sweeps that play at one moment
    double ceiling_dbfs = 0.0;        ///< the level the sum of the overlapping sweeps stays under
    double sound_s = 0.0;             ///< the pass's length
    double sequential_sound_s = 0.0;  ///< the same sweeps and tails measured one zone after another
};

/// Places the zones' sweeps so that no zone's linear impulse response meets another zone's
/// linear or harmonic one after deconvolution, and lowers each sweep's level so that the sum of
/// the sweeps that play together stays under `sweep.level_dbfs`. `tail_s` is each response's
/// window. Throws a configuration Error when the sweep is too short for the window or the
/// harmonics (it names the shortest sweep that works).
MultiSweepPlan plan_multi_sweep(const std::vector<std::string>& zones, const SweepParameters& sweep, double tail_s,
                                const MultiSweepOptions& options = {});

/// One output's signal for the pass: zone_index's sweep at its offset, record_frames long.
std::vector<float> multi_sweep_playback(const MultiSweepPlan& plan, std::size_t zone_index);

/// The pass's playback on the loopback output: the sweep at offset 0, so the loopback times
/// every zone (they share the interface's clock).
std::vector<float> multi_sweep_loopback_playback(const MultiSweepPlan& plan);

/// Separation quality of one mic's response in a multiple-sweep pass.
struct MultiSweepSeparation {
    /// Energy in the last tenth of the zone's window re the window's energy, in dB. Energy that
    /// does not fit the window spills into the next zone's, so above about −50 dB the tail (the
    /// window) is too short for a clean separation.
    double window_end_db = 0.0;
};

/// Computes the impulse responses of one zone of a multiple-sweep recording. Each mic's response
/// is cut from the circular deconvolution of the whole recording, from pre_roll before the zone's
/// offset to window_frames after it. The loopback (played at offset 0) times them like a
/// sequential recording, and the result has the layout of
/// analysis::impulse_responses_from_sweep_recording. `separation` gets one entry per channel
/// (0 dB for the loopback).
analysis::SweepRecordingImpulseResponses multi_sweep_impulse_responses(
    const MultichannelSignal& recording, analysis::SweepDeconvolver& deconvolver,
    const analysis::SweepRecordingLayout& layout, std::size_t offset_frames, std::size_t window_frames,
    std::vector<MultiSweepSeparation>& separation, const analysis::SweepRecordingOptions& options = {});

}  // namespace linetune::capture
