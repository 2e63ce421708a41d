#pragma once

#include "linetune/analysis/arrival.hpp"
#include "linetune/analysis/deconvolution.hpp"
#include "linetune/core/signal.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::analysis {

/// Roles of the channels of a multichannel sweep recording.
struct SweepRecordingLayout {
    /// 1-based channel that recorded the played sweep through a cable from output to input.
    /// Unset when there is none, so the impulse responses keep a relative time base.
    std::optional<std::size_t> loopback_channel;
    /// Name of each channel for messages ("mic 'FOH'", "loopback"), in channel order; channels
    /// without a name are called "channel N".
    std::vector<std::string> channel_names;
};

/// Settings of impulse_responses_from_sweep_recording.
struct SweepRecordingOptions {
    std::optional<DeconvolutionBand> band;  ///< kept band; default: the swept band
    /// Samples kept before the start of playback, so that the band-limited pulse's pre-ringing
    /// and the noise before the arrival stay in the file. At most a quarter of the time by which
    /// the second harmonic's impulse response precedes the linear one, so that it stays out.
    double pre_roll_s = 0.01;
};

/// Peak level and clipping of one recorded input.
struct InputLevel {
    double peak_dbfs = 0.0;  ///< largest |sample|; -300 dBFS for digital silence
    bool clipped = false;    ///< a sample at or beyond full scale, or a flat run of 3 or more at |x| >= 0.999
};

/// Measures the peak level and clipping of one recorded input. Throws Error for a non-finite sample.
InputLevel measure_input_level(std::span<const float> samples, double sample_rate_hz);

/// Whether the loopback channel gave the absolute time base, and if not, why.
enum class LoopbackStatus {
    used,          ///< the impulse responses' t = 0 is the loopback's arrival
    not_recorded,  ///< the layout names no loopback channel
    silent,        ///< the loopback channel carries no sweep (not wired, wrong input)
    too_weak,      ///< the loopback's impulse response is too close to the noise for sub-sample timing
    clipped,       ///< the loopback input clipped, so its timing cannot be trusted
};

/// Name of a loopback status as written in JSON ("used", "not_recorded", ...).
std::string_view to_string(LoopbackStatus status);

/// Levels and findings of one channel of a sweep recording and its impulse response.
struct RecordedChannel {
    std::size_t channel = 1;  ///< 1-based
    std::string name;         ///< from the layout, or "channel N"
    bool loopback = false;
    double peak_dbfs = 0.0;   ///< largest |sample| of the recording
    bool clipped = false;     ///< a full-scale sample, or a flat run of 3 or more at |x| >= 0.999
    /// No sweep recorded: the impulse response's direct sound is less than 10 dB above its noise.
    bool dead = false;
    /// Direct sound in the impulse response, positions in impulse-response samples (subtract the
    /// time base's time_zero_sample for the arrival after t = 0); unset for a dead channel.
    std::optional<Arrival> arrival;
    std::vector<std::string> notes;  ///< one sentence per finding, naming the channel
};

/// Impulse responses of every channel of a sweep recording and what was found on the way.
struct SweepRecordingImpulseResponses {
    /// One impulse response per recording channel, loopback included, sharing one time base:
    /// t = 0 at the loopback's arrival (source loopback) when status is used, else the first
    /// sample (source file_start). Index pre_roll_samples is the start of playback.
    MultichannelSignal impulse_responses;
    std::vector<RecordedChannel> channels;  ///< in recording order
    LoopbackStatus loopback_status = LoopbackStatus::not_recorded;
    /// Latency of the audio path: the loopback's arrival after the start of playback, in samples,
    /// sub-sample; set when loopback_status is used.
    std::optional<double> latency_samples;
    std::size_t pre_roll_samples = 0;
    DeconvolutionBand band;          ///< band the impulse responses are limited to
    std::vector<std::string> notes;  ///< recording-wide findings, e.g. why the timing is relative
};

/// Deconvolves every channel of a recording of the played sweep into an impulse response and,
/// with a usable loopback channel, sets their time base to the loopback's sub-sample arrival.
/// Sample 0 of the recording must be the start of playback, and the recording must continue at
/// least 0.1 s after the sweep. Throws Error for a recording at another sample rate, too short,
/// or a loopback channel beyond the recording's channels (ErrorKind::configuration).
SweepRecordingImpulseResponses impulse_responses_from_sweep_recording(const MultichannelSignal& recording,
                                                                      SweepDeconvolver& deconvolver,
                                                                      const SweepRecordingLayout& layout,
                                                                      const SweepRecordingOptions& options = {});

/// The same for a played sweep given as samples (builds the deconvolver with options.band).
SweepRecordingImpulseResponses impulse_responses_from_sweep_recording(const MultichannelSignal& recording,
                                                                      std::span<const float> played_sweep,
                                                                      const SweepRecordingLayout& layout,
                                                                      const SweepRecordingOptions& options = {});

/// One channel (0-based index) of a signal shifted by band-limited (DFT) interpolation so that
/// index 0 is t = 0 of its time base; frames long, zero beyond the end of the input.
std::vector<float> impulse_response_from_time_zero(const MultichannelSignal& impulse_responses,
                                                   std::size_t channel_index, std::size_t frames);

/// A known impulse response limited to the band a deconvolution keeps (the same zero-phase taper),
/// frames long, so that it can be compared sample by sample with a measured one.
std::vector<float> limit_to_band(std::span<const float> impulse_response, const DeconvolutionBand& band,
                                 double sample_rate_hz, std::size_t frames);

/// Error energy of a measured impulse response against a reference over the reference's
/// length: 10·log10(Σ(m − r)² / Σr²) in dB. Throws Error for an all-zero reference.
double impulse_response_error_db(std::span<const float> measured, std::span<const float> reference);

}  // namespace linetune::analysis
