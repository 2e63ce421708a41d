#include "linetune/analysis/channel_analysis.hpp"

#include "linetune/analysis/response.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace linetune::analysis {
namespace {

// A direct sound later than this with no time base is suspicious: 100 ms is 34 m of air, and
// REW-style centred exports put it near 1 s. Delay towers can arrive later, so the position in
// the file decides too.
constexpr double centred_ir_min_arrival_ms = 100.0;
// ...and it must sit this far into the file: an acoustic delay leaves a short pre-arrival region
// relative to the decay that follows, while a centred export puts a third or more of the file before it.
constexpr double centred_ir_min_fraction = 0.25;
// A recording must continue this long after the sweep ends, or the linear impulse response has no
// room to decay before the buffer wraps into the harmonic responses.
constexpr double minimum_tail_after_sweep_s = 0.1;
// All pairwise delays cost N² cross-spectra, so above this many channels only delays to channel 1
// are computed. 16 channels are 120 pairs, an estimated second for 3 s recordings.
constexpr std::size_t max_channels_for_delay_matrix = 16;
// Recordings that are not impulse responses are cross-correlated over at most this many seconds.
constexpr double max_cross_correlation_s = 60.0;
// Below this GCC-PHAT correlation (the mean cosine of the phase error) a delay is flagged as
// unreliable. Unrelated noise gives under 0.2 in the tests, and the real 8-mic recording 0.77 to 0.91.
constexpr double min_delay_confidence = 0.3;
// An impulse response is analysed up to this long after its largest sample. Reverberation times
// of even large halls and churches are typically well under this, and longer files would cost
// memory in proportion (a 10-minute file took gigabytes before this limit).
constexpr double max_response_after_peak_s = 20.0;

std::string channel_context(std::size_t channel) { return "channel " + std::to_string(channel); }

/// The linear impulse response of a sweep recording: the part of the circular deconvolution
/// that the recording's tail after the sweep covers.
std::vector<float> linear_impulse_response(std::span<const float> recording, SweepDeconvolver& deconvolver,
                                           std::optional<HarmonicDistortion>* distortion,
                                           double sample_rate_hz) {
    const SweepEstimate& sweep = deconvolver.sweep();
    const auto sweep_end = static_cast<double>(sweep.first_sample) + sweep.duration_s * sample_rate_hz;
    const double tail_samples = static_cast<double>(recording.size()) - sweep_end;
    if (tail_samples < 0.0) {
        throw Error("the recording (" + format_fixed(static_cast<double>(recording.size()) / sample_rate_hz, 3) +
                    " s) is shorter than the sweep it should contain (" + format_fixed(sweep_end / sample_rate_hz, 3) +
                    " s); record the whole sweep and the room's decay after it");
    }
    if (tail_samples < minimum_tail_after_sweep_s * sample_rate_hz) {
        throw Error("the recording ends " +
                    format_fixed(1000.0 * tail_samples / sample_rate_hz, 1) +
                    " ms after the sweep; record at least " +
                    format_fixed(1000.0 * minimum_tail_after_sweep_s, 0) +
                    " ms (better: the room's decay time) of silence after the sweep");
    }

    std::vector<float> deconvolved = deconvolver.deconvolve(recording);
    const auto linear_length = static_cast<std::size_t>(tail_samples);
    if (distortion != nullptr) {
        // Harmonic n sits L·ln n before the linear response's own start (the system's delay
        // included), so the start is found first on the linear part.
        const Arrival linear = estimate_arrival(std::span<const float>(deconvolved).first(linear_length), sample_rate_hz);
        *distortion = measure_harmonic_distortion(deconvolved, sample_rate_hz, sweep,
                                                  static_cast<double>(linear.start_sample));
    }
    deconvolved.resize(linear_length);
    return deconvolved;
}

/// Flags a main peak that sits far into a file with no time base: a centred export, not a delay.
void flag_centred_impulse_response(ChannelAnalysis& result, const TimeBase& time_base, std::size_t frames) {
    if (time_base.is_absolute() || !result.arrival) {
        return;
    }
    const double arrival_ms = ms_from_samples(result.arrival->arrival_sample, result.sample_rate_hz);
    const double fraction = result.arrival->arrival_sample / static_cast<double>(frames);
    if (arrival_ms < centred_ir_min_arrival_ms || fraction < centred_ir_min_fraction) {
        return;
    }
    result.flags.emplace_back("centred_ir");
    result.notes.push_back("the direct sound sits at " + format_fixed(arrival_ms, 1) + " ms, " +
                           format_fixed(100.0 * fraction, 0) +
                           " % into a file with no time base: this looks like an impulse response "
                           "exported with its peak moved away from the start (e.g. REW without "
                           "'t=0 at sample'), not an acoustic delay; arrival_ms counts from the first "
                           "sample; give --t0-sample to place t = 0");
}

void analyze_impulse_response(ChannelAnalysis& result, std::span<const float> ir, const Arrival& arrival,
                              const TimeBase& time_base, const AnalysisOptions& options) {
    result.arrival = arrival;
    for (const auto& note : result.arrival->notes) {
        result.notes.push_back(note);
    }
    flag_centred_impulse_response(result, time_base, ir.size());

    result.metrics = compute_room_metrics(ir, result.sample_rate_hz, result.arrival->start_sample);

    // Windowing shapes only the response; the metrics above need the whole decay.
    std::vector<float> windowed;
    std::span<const float> response_ir = ir;
    if (options.response_window) {
        windowed = apply_left_right_window(ir, arrival.arrival_sample, result.sample_rate_hz, *options.response_window);
        response_ir = windowed;
    }

    ResponseOptions response_options;
    response_options.smoothing = options.smoothing;
    response_options.points_per_octave = options.response_points_per_octave;
    response_options.end_freq_hz = std::min(response_options.end_freq_hz, 0.45 * result.sample_rate_hz);
    response_options.fdw_cycles = options.fdw_cycles;
    FrequencyResponse response =
        compute_frequency_response(response_ir, result.sample_rate_hz, arrival.arrival_sample, response_options);
    if (options.phase_split) {
        result.phase_split = split_minimum_excess_phase(response_ir, result.sample_rate_hz, response.freq_hz);
    }
    if (options.mic_calibration) {
        response = io::apply_mic_calibration(response, *options.mic_calibration);
    }
    result.response = std::move(response);
}

ChannelAnalysis analyze_audio_channel(std::span<const float> samples, std::size_t channel, double sample_rate_hz,
                                      const TimeBase& time_base, const AnalysisOptions& options,
                                      SweepDeconvolver* deconvolver) {
    ChannelAnalysis result;
    result.channel = channel;
    result.sample_rate_hz = sample_rate_hz;
    result.frames = samples.size();
    result.time_zero_sample = time_base.time_zero_sample;

    // A sweep recording is judged on its own samples (clipping, level), then deconvolved.
    std::vector<float> deconvolved;
    std::span<const float> ir = samples;
    if (deconvolver != nullptr) {
        const SignalQuality recording_quality = assess_signal_quality(samples, sample_rate_hz);
        if (recording_quality.clipped) {
            result.flags.emplace_back("clipped");
            result.notes.push_back("the recording clips (" + std::to_string(recording_quality.clipped_samples) +
                                   " samples at full scale): lower the sweep level or the input gain and measure again");
        }
        if (recording_quality.dead) {
            result.quality = recording_quality;
            result.flags.emplace_back("dead");
            result.notes.emplace_back("the recording is silent: check the microphone, its phantom power and the input routing");
            return result;
        }
        deconvolved = linear_impulse_response(samples, *deconvolver,
                                              options.distortion ? &result.distortion : nullptr, sample_rate_hz);
        ir = deconvolved;
    }

    result.quality = assess_signal_quality(ir, sample_rate_hz);
    const SignalQuality& quality = *result.quality;
    if (quality.dead) {
        result.flags.emplace_back("dead");
        result.notes.emplace_back("the channel is silent or holds no signal: it is not analysed");
        return result;
    }
    if (quality.clipped && !result.has_flag("clipped")) {
        result.flags.emplace_back("clipped");
        result.notes.push_back(std::to_string(quality.clipped_samples) +
                               " samples sit at full scale: the measurement clipped; lower the level and measure again");
    }
    // Peak and start are defined for any signal; the arrival only for impulse responses.
    const Arrival timing = estimate_arrival(ir, sample_rate_hz, time_base.time_zero_sample);
    result.peak_sample = timing.peak_sample;
    result.start_sample = timing.start_sample;
    if (!quality.impulse_response) {
        result.flags.emplace_back("not_impulse_response");
        result.notes.push_back("not an impulse response: " + quality.not_impulse_response_reason +
                               "; delays between channels are still reported, and a sweep recording needs --sweep");
        return result;
    }
    if (!quality.impulse_response_note.empty()) {
        result.notes.push_back(quality.impulse_response_note);
    }
    if (quality.truncated) {
        result.flags.emplace_back("truncated");
        result.notes.emplace_back("the decay does not reach the noise floor before the file ends: decay metrics "
                                  "are biased short; export or record a longer response");
    }
    const auto analysed_end = std::min(
        ir.size(), timing.peak_sample + static_cast<std::size_t>(max_response_after_peak_s * sample_rate_hz));
    if (analysed_end < ir.size()) {
        result.notes.push_back("only the first " + format_fixed(ms_from_samples(static_cast<double>(analysed_end), sample_rate_hz) / 1000.0, 1) +
                               " s (up to " + format_fixed(max_response_after_peak_s, 0) +
                               " s after the peak) are analysed for metrics and the response");
        ir = ir.first(analysed_end);
    }
    analyze_impulse_response(result, ir, timing, time_base, options);
    return result;
}

ChannelAnalysis analyze_response_trace(const io::MeasuredResponse& trace, std::size_t index, const AnalysisOptions& options) {
    ChannelAnalysis result;
    result.channel = index;
    result.trace_name = trace.trace_name;
    result.notes = trace.warnings;
    FrequencyResponse response = smooth_response(trace.response, options.smoothing);
    if (options.mic_calibration) {
        response = io::apply_mic_calibration(response, *options.mic_calibration);
    }
    result.response = std::move(response);
    return result;
}

/// Delay of each channel relative to channel 1: from the arrival times when both are impulse
/// responses, else from GCC-PHAT.
void add_delays_to_channel_1(FileAnalysis& file, const AnalysisOptions& options, bool allow_cross_correlation) {
    const MultichannelSignal& signal = file.measurement.signal;
    if (signal.channel_count() < 2 || options.channel) {
        return;
    }
    const double fs = signal.sample_rate_hz();
    const bool all_impulse_responses = std::all_of(file.channels.begin(), file.channels.end(),
                                                   [](const ChannelAnalysis& c) { return c.arrival.has_value(); });
    if (all_impulse_responses) {
        const double reference = file.channels.front().arrival->arrival_sample;
        for (auto& channel : file.channels) {
            channel.delay_to_channel_1_ms = ms_from_samples(channel.arrival->arrival_sample - reference, fs);
        }
        return;
    }
    if (!allow_cross_correlation) {
        return;
    }

    const auto max_lag = static_cast<std::size_t>(std::min(
        samples_from_ms(options.max_delay_ms, fs), static_cast<double>(signal.frame_count() / 2)));
    // Long recordings are cross-correlated over their first minutes only: that is plenty of
    // signal for a delay, and a whole 10-minute file would need gigabytes of spectra.
    const std::size_t frames = std::min(signal.frame_count(), static_cast<std::size_t>(max_cross_correlation_s * fs));
    MultichannelSignal head(signal.channel_count(), frames, fs);
    for (std::size_t c = 0; c < signal.channel_count(); ++c) {
        std::copy_n(signal.channel(c).begin(), frames, head.channel(c).begin());
    }
    const auto lag = std::min(max_lag, frames / 2);

    std::vector<TimeDelay> to_channel_1(file.channels.size());
    if (signal.channel_count() <= max_channels_for_delay_matrix) {
        file.delay_matrix = gcc_phat_delay_matrix(head, lag);
        to_channel_1 = file.delay_matrix[0];
    } else {
        for (std::size_t c = 0; c < file.channels.size(); ++c) {
            to_channel_1[c] = gcc_phat_delay(head.channel(0), head.channel(c), lag);
        }
    }
    const bool reference_dead = file.channels.front().has_flag("dead");
    for (std::size_t c = 0; c < file.channels.size(); ++c) {
        ChannelAnalysis& channel = file.channels[c];
        if (reference_dead || channel.has_flag("dead")) {
            continue;  // no delay to or from a silent channel
        }
        channel.delay_to_channel_1_ms = ms_from_samples(to_channel_1[c].delay_samples, fs);
        channel.delay_confidence = to_channel_1[c].confidence;
        if (c > 0 && to_channel_1[c].confidence < min_delay_confidence) {
            channel.flags.emplace_back("delay_unreliable");
            channel.notes.push_back("the delay to channel 1 rests on a weak correlation (" +
                                    format_fixed(to_channel_1[c].confidence, 2) +
                                    "): the channels may not share a source, or the delay exceeds --max-delay-ms");
        }
    }
}

}  // namespace

bool ChannelAnalysis::has_flag(std::string_view flag) const {
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

FileAnalysis analyze_measurement(io::Measurement measurement, const AnalysisOptions& options,
                                 SweepDeconvolver* deconvolver) {
    FileAnalysis file;
    file.measurement = std::move(measurement);
    const io::Measurement& m = file.measurement;

    if (m.kind == io::MeasurementKind::frequency_response) {
        for (std::size_t i = 0; i < m.responses.size(); ++i) {
            if (!options.channel || *options.channel == i + 1) {
                file.channels.push_back(analyze_response_trace(m.responses[i], i + 1, options));
            }
        }
        return file;
    }

    const MultichannelSignal& signal = m.signal;
    if (options.channel && *options.channel > signal.channel_count()) {
        throw Error("--channel " + std::to_string(*options.channel) + " does not exist: the file has " +
                        std::to_string(signal.channel_count()) + " channel(s)",
                    ErrorKind::input);
    }
    if (deconvolver != nullptr && std::fabs(deconvolver->sample_rate_hz() - signal.sample_rate_hz()) > 1e-6) {
        throw Error("the recording is at " + format_fixed(signal.sample_rate_hz(), 0) + " Hz but the sweep at " +
                    format_fixed(deconvolver->sample_rate_hz(), 0) + " Hz; record at the sweep's sample rate");
    }

    for (std::size_t c = 0; c < signal.channel_count(); ++c) {
        if (options.channel && *options.channel != c + 1) {
            continue;
        }
        try {
            file.channels.push_back(analyze_audio_channel(signal.channel(c), c + 1, signal.sample_rate_hz(),
                                                          signal.time_base, options, deconvolver));
        } catch (const Error& error) {
            throw error.with_context(channel_context(c + 1));
        }
    }
    // Deconvolved channels are compared by arrival only: their raw samples are sweeps.
    add_delays_to_channel_1(file, options, deconvolver == nullptr);

    file.time_base = signal.time_base;
    file.measurement.signal = MultichannelSignal();
    return file;
}

}  // namespace linetune::analysis
