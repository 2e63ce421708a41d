#include "linetune/analysis/sweep_recording.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/signal_quality.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>

namespace linetune::analysis {
namespace {

// The linear impulse response is the part of the circular deconvolution that the recording
// after the sweep covers, so a recording must continue this long after the sweep. The same
// minimum as analyze's sweep recordings: shorter tails cut off even a small room's decay.
constexpr double minimum_tail_after_sweep_s = 0.1;

// The pre-roll is kept below this fraction of L·ln 2, the time by which the second harmonic's
// impulse response precedes the linear one (Farina, AES 108th Convention, 2000). It wraps to the
// end of the circular deconvolution, so a larger pre-roll would carry its start, and its decay
// needs the rest of that time to fade.
constexpr double max_pre_roll_fraction_of_h2_advance = 0.25;

// A channel whose impulse response is less than this far above its noise recorded no sweep. It is
// the level at which Arrival::confidence reaches 0, where the envelope peak is no higher than the
// peaks of noise alone.
constexpr double dead_direct_to_noise_db = 10.0;

// The loopback's arrival sets t = 0 for every channel, so it must be timed to a small fraction
// of a sample. Arrival::confidence reaches 1 at 40 dB direct-to-noise, and the arrival finder's
// fractional-delay test keeps its error within 0.05 samples there. A loopback is a cable, so anything weaker
// means a wrong input, an attenuator or an output that was not played.
constexpr double min_loopback_confidence = 1.0;

// A sample at or beyond full scale is clipped even when it is not part of a flat run, because a
// float stream reports an overload that way.
constexpr float full_scale = 1.0F;

std::string channel_label(const SweepRecordingLayout& layout, std::size_t channel) {
    if (channel <= layout.channel_names.size() && !layout.channel_names[channel - 1].empty()) {
        return "channel " + std::to_string(channel) + " (" + layout.channel_names[channel - 1] + ")";
    }
    return "channel " + std::to_string(channel);
}

void validate_recording(const MultichannelSignal& recording, const SweepDeconvolver& deconvolver,
                        const SweepRecordingLayout& layout, const SweepRecordingOptions& options) {
    if (recording.channel_count() == 0 || recording.frame_count() == 0) {
        throw Error("the sweep recording contains no audio; record at least one channel", ErrorKind::input);
    }
    if (std::fabs(recording.sample_rate_hz() - deconvolver.sample_rate_hz()) > 1e-6) {
        throw Error("the sweep recording is at " + format_significant(recording.sample_rate_hz()) +
                        " Hz but the played sweep at " + format_significant(deconvolver.sample_rate_hz()) +
                        " Hz; record at the sweep's sample rate",
                    ErrorKind::configuration);
    }
    if (layout.loopback_channel &&
        (*layout.loopback_channel == 0 || *layout.loopback_channel > recording.channel_count())) {
        throw Error("loopback channel " + std::to_string(*layout.loopback_channel) +
                        " is missing: the recording has channels 1 to " + std::to_string(recording.channel_count()) +
                        "; name the channel that recorded the loopback input",
                    ErrorKind::configuration);
    }
    if (layout.channel_names.size() > recording.channel_count()) {
        throw Error(std::to_string(layout.channel_names.size()) + " channel names were given for a recording of " +
                        std::to_string(recording.channel_count()) + " channels; give one name per channel",
                    ErrorKind::configuration);
    }
    if (!(options.pre_roll_s >= 0.0) || !std::isfinite(options.pre_roll_s)) {
        throw Error("pre-roll " + format_significant(options.pre_roll_s) +
                        " s is invalid; give 0 s or more",
                    ErrorKind::configuration);
    }
    for (std::size_t index = 0; index < recording.channel_count(); ++index) {
        const auto samples = recording.channel(index);
        const auto bad = std::find_if(samples.begin(), samples.end(), [](float x) { return !std::isfinite(x); });
        if (bad != samples.end()) {
            throw Error(channel_label(layout, index + 1) + ", sample " + std::to_string(bad - samples.begin()) +
                        ": the recording contains NaN or infinite values; check the audio interface's driver");
        }
    }
}

/// Samples after the sweep's last non-silent sample; throws when under the minimum tail.
std::size_t tail_after_sweep(const MultichannelSignal& recording, const SweepDeconvolver& deconvolver) {
    const double sample_rate_hz = recording.sample_rate_hz();
    const SweepEstimate& sweep = deconvolver.sweep();
    const double sweep_end = static_cast<double>(sweep.first_sample) + sweep.duration_s * sample_rate_hz;
    const double tail_samples = static_cast<double>(recording.frame_count()) - sweep_end;
    if (tail_samples < minimum_tail_after_sweep_s * sample_rate_hz) {
        throw Error("the sweep recording ends " + format_fixed(1000.0 * tail_samples / sample_rate_hz, 1) +
                    " ms after the sweep; record at least " + format_fixed(1000.0 * minimum_tail_after_sweep_s, 0) +
                    " ms (better: the room's decay time) after the sweep");
    }
    return static_cast<std::size_t>(tail_samples);
}

std::size_t pre_roll_samples(const SweepDeconvolver& deconvolver, const SweepRecordingOptions& options) {
    const double sample_rate_hz = deconvolver.sample_rate_hz();
    const double h2_advance_samples = deconvolver.sweep().rate_s * std::log(2.0) * sample_rate_hz;
    const double requested = std::round(options.pre_roll_s * sample_rate_hz);
    return static_cast<std::size_t>(std::min(requested, std::floor(max_pre_roll_fraction_of_h2_advance * h2_advance_samples)));
}

/// Linear impulse response of one channel: the circular deconvolution d of length N rotated by
/// the pre-roll, [d[N − pre_roll], ..., d[N − 1], d[0], ..., d[tail − 1]].
void deconvolve_channel(std::span<const float> recording, SweepDeconvolver& deconvolver, std::size_t pre_roll,
                        std::size_t tail, std::span<float> impulse_response) {
    const std::vector<float> circular = deconvolver.deconvolve(recording);
    const std::size_t size = circular.size();
    std::copy(circular.end() - static_cast<std::ptrdiff_t>(pre_roll), circular.end(), impulse_response.begin());
    std::copy(circular.begin(), circular.begin() + static_cast<std::ptrdiff_t>(std::min(tail, size)),
              impulse_response.begin() + static_cast<std::ptrdiff_t>(pre_roll));
}

/// Level, clipping, deadness and arrival of one channel.
RecordedChannel assess_channel(std::span<const float> recording, std::span<const float> impulse_response,
                               double sample_rate_hz, const SweepRecordingLayout& layout, std::size_t channel) {
    RecordedChannel result;
    result.channel = channel;
    result.name = channel <= layout.channel_names.size() && !layout.channel_names[channel - 1].empty()
                      ? layout.channel_names[channel - 1]
                      : "channel " + std::to_string(channel);
    result.loopback = layout.loopback_channel == channel;
    const std::string label = channel_label(layout, channel);

    const InputLevel level = measure_input_level(recording, sample_rate_hz);
    result.peak_dbfs = level.peak_dbfs;
    result.clipped = level.clipped;
    if (result.clipped) {
        result.notes.push_back(label + " clipped (peak " + format_fixed(level.peak_dbfs, 1) +
                               " dBFS); lower the output level or the input gain and measure again");
    }

    const bool silent = std::all_of(impulse_response.begin(), impulse_response.end(), [](float x) { return x == 0.0F; });
    if (silent) {
        result.dead = true;
        result.notes.push_back(label + " recorded no sweep: its impulse response is all zero; check the wiring");
        return result;
    }
    Arrival arrival = estimate_arrival(impulse_response, sample_rate_hz);
    // confidence = (direct-to-noise − 10 dB) / 30 dB, clamped: 0 means at most 10 dB.
    if (arrival.confidence <= 0.0) {
        result.dead = true;
        result.notes.push_back(label + " recorded no sweep: its impulse response is less than " +
                               format_fixed(dead_direct_to_noise_db, 0) +
                               " dB above the noise; check the mic, its cable and the input gain");
        return result;
    }
    result.arrival = std::move(arrival);
    return result;
}

/// Decides whether the loopback gives the time base, and notes why not.
LoopbackStatus judge_loopback(const SweepRecordingLayout& layout, const RecordedChannel* loopback,
                              std::vector<std::string>& notes) {
    if (loopback == nullptr) {
        notes.emplace_back("no loopback channel was recorded, so the impulse responses keep a relative time base "
                           "(t = 0 at their first sample): arrival times include the interface's unknown latency");
        return LoopbackStatus::not_recorded;
    }
    const std::string label = channel_label(layout, loopback->channel);
    const std::string consequence = ", so the impulse responses keep a relative time base (t = 0 at their first sample)";
    if (loopback->clipped) {
        notes.push_back("the loopback on " + label + " clipped" + consequence +
                        "; lower the loopback output or its input gain");
        return LoopbackStatus::clipped;
    }
    if (loopback->dead) {
        notes.push_back("the loopback on " + label + " carries no sweep" + consequence +
                        "; wire the loopback output straight to that input");
        return LoopbackStatus::silent;
    }
    if (loopback->arrival->confidence < min_loopback_confidence) {
        notes.push_back("the loopback on " + label + " is too weak: its impulse response is less than 40 dB "
                        "above the noise, too little for sub-sample timing" + consequence +
                        "; raise the loopback level towards -6 dBFS");
        return LoopbackStatus::too_weak;
    }
    if (loopback->arrival->polarity < 0) {
        notes.push_back("the loopback on " + label + " is inverted (polarity -1); its timing is still used, "
                        "but check the loopback cable's wiring");
    }
    return LoopbackStatus::used;
}

}  // namespace

InputLevel measure_input_level(std::span<const float> samples, double sample_rate_hz) {
    const SignalQuality quality = assess_signal_quality(samples, sample_rate_hz);
    const bool full_scale_sample =
        std::any_of(samples.begin(), samples.end(), [](float x) { return std::fabs(x) >= full_scale; });
    return {quality.peak_dbfs, quality.clipped || full_scale_sample};
}

std::string_view to_string(LoopbackStatus status) {
    switch (status) {
    case LoopbackStatus::used: return "used";
    case LoopbackStatus::not_recorded: return "not_recorded";
    case LoopbackStatus::silent: return "silent";
    case LoopbackStatus::too_weak: return "too_weak";
    case LoopbackStatus::clipped: return "clipped";
    }
    return "not_recorded";
}

// Each channel y = h ∗ x is deconvolved with the played sweep x (SweepDeconvolver: band-limited
// spectral division), which gives h band-limited and circular modulo the FFT size. Sample 0 of
// the recording is the start of playback, so a loopback, where h is a pure delay, yields a pulse
// at the audio path's latency. Its sub-sample arrival (estimate_arrival) becomes t = 0 of every
// channel. Mic arrivals are measured by the same estimator on responses limited to the same band,
// so its bias on a band-limited pulse cancels in their difference.
SweepRecordingImpulseResponses impulse_responses_from_sweep_recording(const MultichannelSignal& recording,
                                                                      SweepDeconvolver& deconvolver,
                                                                      const SweepRecordingLayout& layout,
                                                                      const SweepRecordingOptions& options) {
    validate_recording(recording, deconvolver, layout, options);
    const double sample_rate_hz = recording.sample_rate_hz();
    const std::size_t tail = tail_after_sweep(recording, deconvolver);
    const std::size_t pre_roll = pre_roll_samples(deconvolver, options);

    SweepRecordingImpulseResponses result;
    result.pre_roll_samples = pre_roll;
    result.band = deconvolver.band();
    result.impulse_responses = MultichannelSignal(recording.channel_count(), pre_roll + tail, sample_rate_hz);
    for (std::size_t index = 0; index < recording.channel_count(); ++index) {
        deconvolve_channel(recording.channel(index), deconvolver, pre_roll, tail,
                           result.impulse_responses.channel(index));
        result.channels.push_back(assess_channel(recording.channel(index), result.impulse_responses.channel(index),
                                                 sample_rate_hz, layout, index + 1));
    }

    const RecordedChannel* loopback =
        layout.loopback_channel ? &result.channels[*layout.loopback_channel - 1] : nullptr;
    result.loopback_status = judge_loopback(layout, loopback, result.notes);
    if (result.loopback_status == LoopbackStatus::used) {
        const double arrival_sample = loopback->arrival->arrival_sample;
        result.impulse_responses.time_base = {arrival_sample, TimeBaseSource::loopback};
        result.latency_samples = arrival_sample - static_cast<double>(pre_roll);
    }
    return result;
}

SweepRecordingImpulseResponses impulse_responses_from_sweep_recording(const MultichannelSignal& recording,
                                                                      std::span<const float> played_sweep,
                                                                      const SweepRecordingLayout& layout,
                                                                      const SweepRecordingOptions& options) {
    SweepDeconvolver deconvolver(std::vector<float>(played_sweep.begin(), played_sweep.end()),
                                 recording.sample_rate_hz(), options.band);
    return impulse_responses_from_sweep_recording(recording, deconvolver, layout, options);
}

// Fractional shift by the DFT's shift theorem: y[n] = x(n + t0) has Y[k] = X[k]·e^(j2πk·t0/N).
// The input is zero-padded to N >= its length + frames + t0, so the samples before t0 wrap to
// the end of the buffer, beyond the frames returned. At the Nyquist bin of an even N the
// rotated value is replaced by its real part, the only part a real signal can carry there.
std::vector<float> impulse_response_from_time_zero(const MultichannelSignal& impulse_responses,
                                                   std::size_t channel_index, std::size_t frames) {
    if (channel_index >= impulse_responses.channel_count()) {
        throw Error("channel index " + std::to_string(channel_index) + " is beyond the signal's " +
                        std::to_string(impulse_responses.channel_count()) + " channels",
                    ErrorKind::configuration);
    }
    const auto input = impulse_responses.channel(channel_index);
    const double time_zero = impulse_responses.time_base.time_zero_sample;
    const auto padding = static_cast<std::size_t>(std::ceil(std::fabs(time_zero)));
    const std::size_t size = next_fast_fft_size(input.size() + frames + padding + 1);

    RealFft<double> fft(size);
    std::vector<double> samples(input.begin(), input.end());
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    fft.forward(samples, spectrum);
    for (std::size_t k = 0; k < spectrum.size(); ++k) {
        spectrum[k] *= std::polar(1.0, 2.0 * pi * static_cast<double>(k) * time_zero / static_cast<double>(size));
    }
    if (size % 2 == 0) {
        spectrum.back() = spectrum.back().real();
    }
    std::vector<double> shifted(std::min(frames, size));
    fft.inverse(spectrum, shifted);

    std::vector<float> output(frames, 0.0F);
    std::transform(shifted.begin(), shifted.end(), output.begin(), [](double x) { return static_cast<float>(x); });
    return output;
}

// The deconvolution's inverse filter is W(f)·conj(X)/(|X|² + ε) with W the zero-phase band taper
// (band_taper_gain); ε only matters where the sweep has no energy. Multiplying H by W gives the
// response a perfect measurement of h returns. N is at least twice the longer of input and output,
// so the taper's ringing before t = 0 wraps to the end of the buffer and not into the frames returned.
std::vector<float> limit_to_band(std::span<const float> impulse_response, const DeconvolutionBand& band,
                                 double sample_rate_hz, std::size_t frames) {
    if (!(sample_rate_hz > 0.0)) {
        throw Error("sample rate " + format_significant(sample_rate_hz) + " Hz is invalid; give a rate above 0 Hz",
                    ErrorKind::configuration);
    }
    const std::size_t size = next_fast_fft_size(2 * std::max(impulse_response.size(), frames) + 1);
    RealFft<double> fft(size);
    std::vector<double> samples(impulse_response.begin(), impulse_response.end());
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    fft.forward(samples, spectrum);
    const double bin_spacing_hz = sample_rate_hz / static_cast<double>(size);
    for (std::size_t k = 0; k < spectrum.size(); ++k) {
        spectrum[k] *= band_taper_gain(band, static_cast<double>(k) * bin_spacing_hz);
    }
    std::vector<double> limited(frames);
    fft.inverse(spectrum, limited);

    std::vector<float> output(frames);
    std::transform(limited.begin(), limited.end(), output.begin(), [](double x) { return static_cast<float>(x); });
    return output;
}

double impulse_response_error_db(std::span<const float> measured, std::span<const float> reference) {
    double error_energy = 0.0;
    double reference_energy = 0.0;
    for (std::size_t n = 0; n < reference.size(); ++n) {
        const double measured_value = n < measured.size() ? static_cast<double>(measured[n]) : 0.0;
        const double difference = measured_value - static_cast<double>(reference[n]);
        error_energy += difference * difference;
        reference_energy += static_cast<double>(reference[n]) * static_cast<double>(reference[n]);
    }
    if (reference_energy == 0.0) {
        throw Error("the reference impulse response is all zero, so an error relative to it is undefined; "
                    "compare with a non-silent reference",
                    ErrorKind::configuration);
    }
    return db_from_power(error_energy / reference_energy);
}

}  // namespace linetune::analysis
