#include "linetune/capture/measure.hpp"
#include "linetune/capture/repeats.hpp"
#include "linetune/capture/room_t60.hpp"

#include "file_names.hpp"
#include "linetune_version.hpp"

#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/io/wav_writer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <system_error>

namespace linetune::capture {
namespace {

std::string zone_label(const std::string& zone) { return "zone '" + zone + "'"; }

/// Throws one configuration Error listing every problem, so a venue is fixed in one go.
void throw_if_problems(const std::string& head, const std::vector<std::string>& problems) {
    if (problems.empty()) {
        return;
    }
    std::string message = head + ": ";
    if (problems.size() == 1) {
        message += problems.front();
    } else {
        message += std::to_string(problems.size()) + " problems:";
        for (const auto& problem : problems) {
            message += "\n  - " + problem;
        }
    }
    throw Error(message, ErrorKind::configuration);
}

/// The zones to measure, in measuring order; names that the venue lacks become problems.
std::vector<const Zone*> selected_zones(const Venue& venue, const MeasureOptions& options,
                                        std::vector<std::string>& problems) {
    std::vector<const Zone*> zones;
    if (options.zones.empty()) {
        for (const Zone& zone : venue.zones) {
            zones.push_back(&zone);
        }
        return zones;
    }
    std::set<std::string> seen;
    for (const std::string& name : options.zones) {
        const auto found = std::find_if(venue.zones.begin(), venue.zones.end(),
                                        [&](const Zone& zone) { return zone.name == name; });
        if (found == venue.zones.end()) {
            problems.push_back(zone_label(name) + " is not in the venue; choose one of its zones");
        } else if (!seen.insert(name).second) {
            problems.push_back(zone_label(name) + " is requested twice; name each zone once");
        } else {
            zones.push_back(&*found);
        }
    }
    return zones;
}

void check_channel(std::size_t channel, std::size_t count, const std::string& what, const std::string& key,
                   std::vector<std::string>& problems) {
    if (channel == 0) {
        problems.push_back(what + " has no " + key + "; set the 1-based channel in the venue file");
    } else if (channel > count) {
        problems.push_back(what + " uses " + key + " " + std::to_string(channel) + ", but the interface has " +
                           std::to_string(count) + "; choose a channel from 1 to " + std::to_string(count));
    }
}

void check_zones(const std::vector<const Zone*>& zones, const Venue& venue, const StreamFormat& format,
                 std::vector<std::string>& problems) {
    const auto& loopback = venue.audio_interface.loopback;
    for (const Zone* zone : zones) {
        const std::string label = zone_label(zone->name);
        check_channel(zone->output, format.output_channels, label, "output", problems);
        if (loopback && zone->output == loopback->output) {
            problems.push_back(label + " plays on output " + std::to_string(zone->output) +
                               ", which is the loopback output; give the zone its own output");
        }
        if (const auto reason = detail::unusable_file_name_reason(zone->name)) {
            problems.push_back(label + " cannot name a session folder: " + *reason + "; rename the zone");
        }
    }
}

void check_microphones(const Venue& venue, const StreamFormat& format, std::vector<std::string>& problems) {
    if (venue.microphones.empty()) {
        problems.emplace_back("the venue has no microphones; add at least one to \"microphones\"");
    }
    const auto& loopback = venue.audio_interface.loopback;
    std::map<std::size_t, std::string> mic_by_input;
    for (const Microphone& mic : venue.microphones) {
        const std::string label = "mic '" + mic.name + "'";
        check_channel(mic.input, format.input_channels, label, "input", problems);
        if (const auto reason = detail::unusable_file_name_reason(mic.name)) {
            problems.push_back(label + " cannot name an impulse-response file: " + *reason + "; rename the mic");
        }
        if (loopback && mic.input == loopback->input) {
            problems.push_back(label + " uses input " + std::to_string(mic.input) +
                               ", which is the loopback input; give the mic its own input");
        }
        const auto [previous, inserted] = mic_by_input.emplace(mic.input, mic.name);
        if (!inserted && mic.input != 0) {
            problems.push_back("mics '" + previous->second + "' and '" + mic.name + "' share input " +
                               std::to_string(mic.input) +
                               ": one pass records each input once, so several positions on one input need "
                               "separate measurements; give each mic its own input");
        }
    }
}

SweepParameters sweep_at_venue_rate(const Venue& venue, const MeasureOptions& options) {
    SweepParameters sweep = options.sweep;
    sweep.sample_rate_hz = venue.audio_interface.sample_rate_hz;
    return sweep;
}

/// Sweep, length and inputs shared by every pass; only the zone's output changes between passes.
struct PassPlan {
    SweepParameters sweep;
    std::vector<float> sweep_samples;
    std::size_t record_frames = 0;
    double sound_s = 0.0;
    std::vector<std::size_t> inputs;      ///< mic inputs in venue order, then the loopback input
    std::vector<std::string> input_names;  ///< "mic 'FOH'" or "loopback", per entry of inputs
};

PassPlan plan_passes(const Venue& venue, const MeasureOptions& options) {
    PassPlan plan;
    plan.sweep = sweep_at_venue_rate(venue, options);
    plan.sweep_samples = generate_exponential_sweep(plan.sweep);
    const double rate_hz = plan.sweep.sample_rate_hz;
    plan.record_frames = plan.sweep_samples.size() + static_cast<std::size_t>(std::round(options.tail_s * rate_hz));
    plan.sound_s = static_cast<double>(plan.record_frames) / rate_hz;
    for (const Microphone& mic : venue.microphones) {
        plan.inputs.push_back(mic.input);
        plan.input_names.push_back("mic '" + mic.name + "'");
    }
    if (venue.audio_interface.loopback) {
        plan.inputs.push_back(venue.audio_interface.loopback->input);
        plan.input_names.emplace_back("loopback");
    }
    return plan;
}

/// Builds a zone's pass: the sweep on the zone's output and on the loopback output, silence elsewhere.
CaptureRequest request_for_zone(const Zone& zone, const Venue& venue, const PassPlan& plan) {
    CaptureRequest request;
    request.output_channels.push_back(zone.output);
    if (venue.audio_interface.loopback) {
        request.output_channels.push_back(venue.audio_interface.loopback->output);
    }
    request.input_channels = plan.inputs;
    request.record_frames = plan.record_frames;
    request.playback = MultichannelSignal(request.output_channels.size(), plan.record_frames, plan.sweep.sample_rate_hz);
    for (std::size_t index = 0; index < request.output_channels.size(); ++index) {
        std::copy(plan.sweep_samples.begin(), plan.sweep_samples.end(), request.playback.channel(index).begin());
    }
    return request;
}

void check_result_shape(const CaptureResult& result, const CaptureRequest& request, const CaptureStream& stream,
                        const std::string& label) {
    const MultichannelSignal& recording = result.recording;
    if (recording.channel_count() != request.input_channels.size() || recording.frame_count() != request.record_frames ||
        std::fabs(recording.sample_rate_hz() - request.playback.sample_rate_hz()) > 1e-6) {
        throw Error(label + ": " + stream.description() + " returned " +
                        std::to_string(recording.channel_count()) + " channels of " +
                        std::to_string(recording.frame_count()) + " frames at " +
                        format_significant(recording.sample_rate_hz()) + " Hz instead of " +
                        std::to_string(request.input_channels.size()) + " channels of " +
                        std::to_string(request.record_frames) + " frames at " +
                        format_significant(request.playback.sample_rate_hz()) +
                        " Hz; report this to the backend's maintainers",
                    ErrorKind::device);
    }
}

/// Plays the pass, and again while it has xruns, up to options.max_passes passes in all; then
/// it is a device error.
CaptureResult play_pass(CaptureStream& stream, const CaptureRequest& request, const MeasureOptions& options,
                        const std::string& label, MeasureProgress progress, std::size_t& passes) {
    for (passes = 1;; ++passes) {
        CaptureResult result;
        try {
            result = stream.play_and_record(request);
        } catch (const Error& failure) {
            throw failure.with_context(label);
        }
        check_result_shape(result, request, stream, label);
        if (result.xrun_count == 0) {
            return result;
        }
        if (passes >= options.max_passes) {
            throw Error(label + ": " + stream.description() + " reported " +
                            std::to_string(result.xrun_count) + " xrun(s) in each of " + std::to_string(passes) +
                            " pass(es), so "
                            "the recording's timing cannot be trusted; raise the interface's buffer size or close "
                            "other programs using it, then measure the zone again",
                        ErrorKind::device);
        }
        progress.event = MeasureProgress::Event::pass_repeated;
        progress.xrun_count = result.xrun_count;
        if (options.progress) {
            options.progress(progress);
        }
    }
}

/// Levels of every input; clipping at any input fails the zone before anything is written.
std::vector<RecordingChannel> judge_inputs(const MultichannelSignal& recording, const PassPlan& plan,
                                           const Venue& venue, const MeasureOptions& options, const std::string& label) {
    std::vector<RecordingChannel> channels;
    std::vector<std::string> clipped;
    for (std::size_t index = 0; index < recording.channel_count(); ++index) {
        const analysis::InputLevel level = analysis::measure_input_level(recording.channel(index), recording.sample_rate_hz());
        RecordingChannel channel;
        channel.channel = index + 1;
        channel.input = plan.inputs[index];
        channel.loopback = index >= venue.microphones.size();
        channel.mic = channel.loopback ? std::string() : venue.microphones[index].name;
        channel.peak_dbfs = level.peak_dbfs;
        channel.clipped = level.clipped;
        channel.silent = !channel.loopback && level.peak_dbfs < options.silent_input_threshold_dbfs;
        if (level.clipped) {
            clipped.push_back("input " + std::to_string(channel.input) + " (" + plan.input_names[index] + ", peak " +
                              format_fixed(level.peak_dbfs, 1) + " dBFS)");
        }
        channels.push_back(std::move(channel));
    }
    if (!clipped.empty()) {
        std::string inputs;
        for (const auto& entry : clipped) {
            inputs += (inputs.empty() ? "" : ", ") + entry;
        }
        throw Error(label + ": clipping at " + inputs + "; nothing was saved for this pass. Lower the "
                        "sweep level (now " + format_fixed(plan.sweep.level_dbfs, 1) +
                        " dBFS) or the input gain and measure the zone again",
                    ErrorKind::device);
    }
    return channels;
}

/// Gives `target` the content of `shared` by a hard link made beside it and renamed over it, so
/// that the path never names a partial file. Returns false where the file system has no hard
/// links; the caller then writes a copy.
bool link_recording(const std::filesystem::path& shared, const std::filesystem::path& target) {
    const std::filesystem::path temporary = target.parent_path() / ("." + target.filename().string() + ".link");
    std::error_code error;
    std::filesystem::remove(temporary, error);
    std::filesystem::create_hard_link(shared, temporary, error);
    if (error) {
        return false;
    }
    std::filesystem::rename(temporary, target, error);
    if (error) {
        std::filesystem::remove(temporary, error);
        return false;
    }
    return true;
}

/// Writes the WAV, then the JSON that marks it complete. An older JSON goes first, so that a
/// crash while the new WAV is written never leaves a JSON describing another recording.
void save_recording(const std::filesystem::path& session_dir, const MultichannelSignal& recording,
                    const RecordingMetadata& metadata, ZoneRecording& saved,
                    const std::filesystem::path& shared_wav = {}) {
    saved.wav_path = recording_wav_path(session_dir, metadata.zone);
    saved.json_path = recording_json_path(session_dir, metadata.zone);
    std::error_code error;
    std::filesystem::create_directories(saved.wav_path.parent_path(), error);
    if (error) {
        throw Error("folder '" + saved.wav_path.parent_path().string() + "' cannot be created (" + error.message() +
                        "); choose a writable session folder",
                    ErrorKind::configuration);
    }
    std::filesystem::remove(saved.json_path, error);
    if (error) {
        throw Error("file '" + saved.json_path.string() + "' cannot be removed (" + error.message() +
                        "); make the session folder writable",
                    ErrorKind::configuration);
    }
    try {
        if (shared_wav.empty() || !link_recording(shared_wav, saved.wav_path)) {
            io::write_wav(saved.wav_path, recording, io::WavEncoding::float32);
        }
    } catch (const Error& failure) {
        throw failure.with_context("file '" + saved.wav_path.string() + "'");
    }
    write_recording_metadata(saved.json_path, metadata);
}

/// The kept recording of a zone's pass: one pass, or the average of its aligned repeats.
struct PassRecording {
    MultichannelSignal recording;
    std::vector<RecordingChannel> channels;  ///< peaks are the largest over the repeats
    std::size_t passes = 0;                  ///< passes played, repeats and xrun repeats together
    std::size_t xrun_count = 0;              ///< of the last kept pass
    std::optional<RepeatSummary> repeats;
};

/// Whether timing between passes still holds, across the zones of one run.
struct TimingState {
    bool xrun_seen = false;  ///< a pass of this run had xruns, so the stream's latency may have moved
};

/// RMS level in dBFS of samples, −300 dBFS for digital silence (as InputLevel::peak_dbfs).
double rms_dbfs(std::span<const float> samples) {
    double sum = 0.0;
    for (const float sample : samples) {
        sum += static_cast<double>(sample) * sample;
    }
    const double mean = samples.empty() ? 0.0 : sum / static_cast<double>(samples.size());
    return mean > 0.0 ? 10.0 * std::log10(mean) : -300.0;
}

/// Records options.noise_floor_s of every input while `output` plays silence and returns each
/// input's RMS level in dBFS (plan.inputs order); empty when options.noise_floor_s is 0. An xrun
/// here does not change the levels, but the latency may have moved (TimingState).
std::vector<double> measure_noise_floor(CaptureStream& stream, const PassPlan& plan, std::size_t output,
                                        const MeasureOptions& options, const std::string& label, TimingState& timing) {
    if (!(options.noise_floor_s > 0.0)) {
        return {};
    }
    const double rate_hz = plan.sweep.sample_rate_hz;
    CaptureRequest request;
    request.output_channels = {output};
    request.input_channels = plan.inputs;
    request.record_frames = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(options.noise_floor_s * rate_hz)));
    request.playback = MultichannelSignal(1, request.record_frames, rate_hz);
    CaptureResult result;
    try {
        result = stream.play_and_record(request);
    } catch (const Error& failure) {
        throw failure.with_context(label + ", noise floor");
    }
    check_result_shape(result, request, stream, label + ", noise floor");
    if (result.xrun_count > 0) {
        timing.xrun_seen = true;
    }
    std::vector<double> levels;
    for (std::size_t index = 0; index < result.recording.channel_count(); ++index) {
        levels.push_back(rms_dbfs(result.recording.channel(index)));
    }
    return levels;
}

/// Sets each channel's noise floor and, for mics, the level of the recording's last part and
/// whether the decay reached the noise floor there. The noise of an average of N repeats is
/// 10·log10(N) dB below the floor of one capture.
void judge_decay(PassRecording& kept, const std::vector<double>& noise_floor_dbfs, const MeasureOptions& options) {
    if (noise_floor_dbfs.empty()) {
        return;
    }
    const double rate_hz = kept.recording.sample_rate_hz();
    const std::size_t frames = kept.recording.frame_count();
    const double window_s = std::min(options.decay_window_s, 0.5 * static_cast<double>(frames) / rate_hz);
    const std::size_t window = std::clamp<std::size_t>(static_cast<std::size_t>(std::lround(window_s * rate_hz)), 1, frames);
    const double averaging_db = 10.0 * std::log10(static_cast<double>(kept.repeats ? kept.repeats->count : 1));
    for (std::size_t index = 0; index < kept.channels.size(); ++index) {
        RecordingChannel& channel = kept.channels[index];
        channel.noise_floor_dbfs = noise_floor_dbfs[index];
        if (channel.loopback) {
            continue;
        }
        const auto samples = kept.recording.channel(index);
        channel.tail_end_dbfs = rms_dbfs(samples.subspan(frames - window));
        channel.decay_incomplete = !channel.silent &&
                                   *channel.tail_end_dbfs > noise_floor_dbfs[index] - averaging_db + options.decay_margin_db;
    }
}

/// The test tone's reading at one mic (plan.inputs order, mics only).
struct ToneReading {
    double peak_dbfs = 0.0;
    double predicted_peak_dbfs = 0.0;
    std::optional<double> predicted_peak_db_spl;
    bool expected = false;  ///< the mic weighs the zone (every mic when none does)
    bool heard = false;
};

double peak_dbfs_of(std::span<const float> samples) {
    float peak = 0.0f;
    for (const float sample : samples) {
        peak = std::max(peak, std::fabs(sample));
    }
    return peak > 0.0f ? 20.0 * std::log10(static_cast<double>(peak)) : -300.0;
}

/// Tells whether a mic is expected to hear a zone: it weighs the zone, or no mic weighs it.
bool mic_expects_zone(const Venue& venue, const Microphone& mic, const std::string& zone) {
    const auto weighs = [&](const Microphone& candidate) {
        const auto found = candidate.zone_weights.find(zone);
        return found != candidate.zone_weights.end() && found->second > 0.0;
    };
    return weighs(mic) || std::none_of(venue.microphones.begin(), venue.microphones.end(), weighs);
}

/// Plays the test tone on the zone's output: the pass's sweep shortened to test_tone_s and
/// test_tone_below_db quieter, with the pass's tail. From each mic's peak it predicts the
/// sweep's peak (peak + test_tone_below_db) and, with the mic's sensitivity S (RMS dBFS at
/// 94 dB SPL), the SPL of that peak: a sine's RMS is 3.01 dB under its peak, so
/// L = predicted − 3.01 − S + 94. Throws a configuration Error naming every mic over a limit,
/// and one when no expected mic hears the tone (the zone's output reaches none of them).
std::vector<ToneReading> play_test_tone(CaptureStream& stream, const PassPlan& plan, const Zone& zone,
                                        const Venue& venue, const MeasureOptions& options, const std::string& label,
                                        TimingState& timing, const std::vector<double>& noise_floor_dbfs) {
    SweepParameters tone = plan.sweep;
    tone.duration_s = options.test_tone_s;
    tone.level_dbfs -= options.test_tone_below_db;
    tone.fade_in_s = std::min(tone.fade_in_s, tone.duration_s / 4.0);
    tone.fade_out_s = std::min(tone.fade_out_s, tone.duration_s / 4.0);
    const std::vector<float> samples = generate_exponential_sweep(tone);
    CaptureRequest request;
    request.output_channels = {zone.output};
    request.input_channels = plan.inputs;
    request.record_frames = samples.size() + (plan.record_frames - plan.sweep_samples.size());
    request.playback = MultichannelSignal(1, request.record_frames, plan.sweep.sample_rate_hz);
    std::copy(samples.begin(), samples.end(), request.playback.channel(0).begin());
    CaptureResult result;
    try {
        result = stream.play_and_record(request);
    } catch (const Error& failure) {
        throw failure.with_context(label + ", test tone");
    }
    check_result_shape(result, request, stream, label + ", test tone");
    if (result.xrun_count > 0) {
        timing.xrun_seen = true;
    }

    // A sine's RMS is 1/√2 of its peak: 3.01 dB under it.
    const double sine_peak_to_rms_db = 20.0 * std::log10(std::sqrt(2.0));
    constexpr double calibrator_db_spl = 94.0;
    std::vector<ToneReading> readings;
    std::vector<std::string> over;
    bool any_expected = false;
    bool any_heard = false;
    for (std::size_t index = 0; index < venue.microphones.size(); ++index) {
        const Microphone& mic = venue.microphones[index];
        ToneReading reading;
        reading.peak_dbfs = peak_dbfs_of(result.recording.channel(index));
        reading.predicted_peak_dbfs = reading.peak_dbfs + options.test_tone_below_db;
        if (mic.sensitivity_dbfs) {
            reading.predicted_peak_db_spl =
                reading.predicted_peak_dbfs - sine_peak_to_rms_db - *mic.sensitivity_dbfs + calibrator_db_spl;
        }
        // Without a noise floor a quiet tone cannot be distinguished from noise, so routing is not checked.
        reading.expected = mic_expects_zone(venue, mic, zone.name);
        reading.heard = noise_floor_dbfs.empty() || reading.peak_dbfs > noise_floor_dbfs[index] + options.routing_margin_db;
        any_expected = any_expected || reading.expected;
        any_heard = any_heard || (reading.expected && reading.heard);
        const bool over_dbfs = reading.predicted_peak_dbfs > options.max_peak_dbfs;
        const bool over_spl = reading.predicted_peak_db_spl && *reading.predicted_peak_db_spl > options.max_peak_db_spl;
        if (over_dbfs || over_spl) {
            std::string entry = "mic '" + mic.name + "' (input " + std::to_string(mic.input) + ") would reach " +
                                format_fixed(reading.predicted_peak_dbfs, 1) + " dBFS";
            if (reading.predicted_peak_db_spl) {
                entry += " and " + format_fixed(*reading.predicted_peak_db_spl, 1) + " dB SPL";
            }
            const double excess_db = std::max(reading.predicted_peak_dbfs - options.max_peak_dbfs,
                                              reading.predicted_peak_db_spl.value_or(-1e9) - options.max_peak_db_spl);
            entry += " (lower the sweep by at least " + format_fixed(std::ceil(excess_db), 0) + " dB)";
            over.push_back(entry);
        }
        readings.push_back(reading);
    }
    if (!over.empty()) {
        std::string mics;
        for (const auto& entry : over) {
            mics += (mics.empty() ? "" : "; ") + entry;
        }
        throw Error(label + ": the test tone at " + format_fixed(tone.level_dbfs, 1) + " dBFS predicts that the sweep at " +
                        format_fixed(plan.sweep.level_dbfs, 1) + " dBFS would exceed the limits of " +
                        format_fixed(options.max_peak_dbfs, 1) + " dBFS and " + format_fixed(options.max_peak_db_spl, 1) +
                        " dB SPL: " + mics + ". Nothing louder than the test tone was played; lower --level-dbfs or "
                        "the amplifier or input gain",
                    ErrorKind::configuration);
    }
    if (any_expected && !any_heard) {
        throw Error(label + ": none of the zone's mics heard the test tone on output " + std::to_string(zone.output) +
                        " (peaks under their noise floor + " + format_fixed(options.routing_margin_db, 0) +
                        " dB); check that the output reaches the zone's amplifier and that the amplifier is on",
                    ErrorKind::configuration);
    }
    return readings;
}

/// Copies the test tone's readings into the recording's mic channels.
void apply_tone(std::vector<RecordingChannel>& channels, const std::vector<ToneReading>& readings) {
    for (std::size_t index = 0; index < readings.size(); ++index) {
        RecordingChannel& channel = channels[index];
        channel.test_tone_peak_dbfs = readings[index].peak_dbfs;
        channel.predicted_peak_dbfs = readings[index].predicted_peak_dbfs;
        channel.predicted_peak_db_spl = readings[index].predicted_peak_db_spl;
        channel.heard_test_tone = !readings[index].expected || readings[index].heard;
    }
}

void apply_tone(PassRecording& pass, const std::vector<ToneReading>& readings) { apply_tone(pass.channels, readings); }

/// Plays a pass options.repeats times (each repeated on xruns by play_pass) and checks every
/// repeat for clipping. Then it averages the aligned repeats and checks the decay (judge_decay).
PassRecording record_pass(CaptureStream& stream, const CaptureRequest& request, const PassPlan& plan,
                          const Venue& venue, const MeasureOptions& options, const std::string& label,
                          MeasureProgress progress, TimingState& timing,
                          const std::vector<double>& noise_floor_dbfs) {
    PassRecording kept;
    const std::size_t count = std::max<std::size_t>(1, options.repeats);
    std::vector<MultichannelSignal> recordings;
    for (std::size_t repeat = 1; repeat <= count; ++repeat) {
        if (count > 1) {
            progress.event = MeasureProgress::Event::repeat_started;
            progress.repeat_number = repeat;
            progress.repeat_count = count;
            if (options.progress) {
                options.progress(progress);
            }
        }
        std::size_t passes = 0;
        CaptureResult result = play_pass(stream, request, options, label, progress, passes);
        kept.passes += passes;
        kept.xrun_count = result.xrun_count;
        if (passes > 1) {
            timing.xrun_seen = true;
        }
        const std::vector<RecordingChannel> channels = judge_inputs(result.recording, plan, venue, options, label);
        if (kept.channels.empty()) {
            kept.channels = channels;
        } else {
            for (std::size_t index = 0; index < channels.size(); ++index) {
                kept.channels[index].peak_dbfs = std::max(kept.channels[index].peak_dbfs, channels[index].peak_dbfs);
                kept.channels[index].silent = kept.channels[index].silent && channels[index].silent;
            }
        }
        recordings.push_back(std::move(result.recording));
    }
    if (count == 1) {
        kept.recording = std::move(recordings.front());
        judge_decay(kept, noise_floor_dbfs, options);
        return kept;
    }
    std::vector<std::string> mics;
    for (const Microphone& mic : venue.microphones) {
        mics.push_back(mic.name);
    }
    std::optional<std::size_t> loopback;
    if (venue.audio_interface.loopback) {
        loopback = mics.size();
    }
    try {
        AveragedRepeats averaged =
            average_repeats(recordings, mics, loopback, plan.sweep.start_freq_hz, plan.sweep.end_freq_hz);
        kept.recording = std::move(averaged.average);
        kept.repeats = std::move(averaged.summary);
    } catch (const Error& failure) {
        throw failure.with_context(label);
    }
    judge_decay(kept, noise_floor_dbfs, options);
    return kept;
}

/// "absolute" with a loopback; otherwise "relative" until the stream had an xrun or restarted.
std::string timing_of(const Venue& venue, const MeasureOptions& options, const TimingState& timing) {
    if (venue.audio_interface.loopback) {
        return "absolute";
    }
    return options.stream_restarted || timing.xrun_seen ? "invalid" : "relative";
}

RecordingMetadata describe_pass(const Venue& venue, const Zone& zone, const PassPlan& plan,
                                const PassRecording& pass, const MeasureOptions& options, const TimingState& timing) {
    RecordingMetadata metadata;
    metadata.venue = venue.name;
    metadata.venue_file = venue.file;
    metadata.zone = zone.name;
    metadata.output = zone.output;
    metadata.sample_rate_hz = plan.sweep.sample_rate_hz;
    metadata.frames = pass.recording.frame_count();
    metadata.channels = pass.channels;
    for (std::size_t index = 0; index < venue.microphones.size() && index < metadata.channels.size(); ++index) {
        const Microphone& mic = venue.microphones[index];
        RecordingChannel& channel = metadata.channels[index];
        channel.sensitivity_dbfs = mic.sensitivity_dbfs;
        if (mic.sensitivity_dbfs) {
            const auto found = options.sensitivity_sources.find(mic.name);
            channel.sensitivity_source = found == options.sensitivity_sources.end() ? "venue file" : found->second;
        }
    }
    if (venue.audio_interface.loopback) {
        metadata.loopback_output = venue.audio_interface.loopback->output;
        metadata.loopback_channel = metadata.channels.size();
    }
    metadata.sweep = plan.sweep;
    metadata.sweep_frames = plan.sweep_samples.size();
    metadata.tail_s = options.tail_s;
    metadata.sound_s = plan.sound_s;
    metadata.xrun_count = pass.xrun_count;
    metadata.passes = pass.passes;
    metadata.timing = timing_of(venue, options, timing);
    metadata.repeats = pass.repeats;
    metadata.temperature_c = venue.temperature_c;
    metadata.humidity_percent = venue.humidity_percent;
    metadata.recorded_utc = utc_timestamp();
    metadata.software = std::string("linetune ") + LINETUNE_VERSION;
    return metadata;
}

/// Returns the room's T60 from the venue file as recorded with each pass, or nothing without one.
std::optional<RoomT60Record> venue_room_t60(const Venue& venue) {
    if (!venue.audio_interface.room_t60_s) {
        return std::nullopt;
    }
    RoomT60Record room;
    room.t60_s = *venue.audio_interface.room_t60_s;
    room.source = "venue file";
    return room;
}

std::string zone_list_label(const std::vector<const Zone*>& zones) {
    std::string names;
    for (const Zone* zone : zones) {
        names += (names.empty() ? "" : ", ") + ("'" + zone->name + "'");
    }
    return "zones " + names;
}

/// The multiple-sweep pass: every zone's sweep on its output at its planned offset, the
/// loopback's copy of the sweep at offset 0.
CaptureRequest multi_sweep_request(const std::vector<const Zone*>& zones, const Venue& venue, const PassPlan& plan,
                                   const MultiSweepPlan& sweeps) {
    CaptureRequest request;
    for (const Zone* zone : zones) {
        request.output_channels.push_back(zone->output);
    }
    if (venue.audio_interface.loopback) {
        request.output_channels.push_back(venue.audio_interface.loopback->output);
    }
    request.input_channels = plan.inputs;
    request.record_frames = sweeps.record_frames;
    request.playback = MultichannelSignal(request.output_channels.size(), sweeps.record_frames, plan.sweep.sample_rate_hz);
    for (std::size_t index = 0; index < request.output_channels.size(); ++index) {
        const std::vector<float> samples =
            index < zones.size() ? multi_sweep_playback(sweeps, index) : multi_sweep_loopback_playback(sweeps);
        std::copy(samples.begin(), samples.end(), request.playback.channel(index).begin());
    }
    return request;
}

MeasureResult measure_multi_sweep(const Venue& venue, CaptureStream& stream, const std::filesystem::path& session_dir,
                                  const MeasureOptions& options, const std::vector<const Zone*>& zones) {
    std::vector<std::string> names;
    for (const Zone* zone : zones) {
        names.push_back(zone->name);
    }
    const MultiSweepPlan sweeps = plan_multi_sweep(names, sweep_at_venue_rate(venue, options), options.tail_s,
                                                   options.multi_sweep_options);
    PassPlan plan = plan_passes(venue, options);
    plan.sweep = sweeps.sweep;
    plan.sweep_samples = generate_exponential_sweep(sweeps.sweep);
    // A zone's test tone is followed by one zone's window, as in a sequential pass.
    PassPlan tone_plan = plan;
    tone_plan.record_frames = plan.sweep_samples.size() + sweeps.window_frames;
    plan.record_frames = sweeps.record_frames;
    plan.sound_s = sweeps.sound_s;

    const std::string label = zone_list_label(zones);
    MeasureProgress progress{MeasureProgress::Event::multi_sweep_started, label, 1, zones.size(), sweeps.sound_s, 0,
                             sweeps.sequential_sound_s, 1, options.repeats, nullptr};
    if (options.progress) {
        options.progress(progress);
    }
    const CaptureRequest request = multi_sweep_request(zones, venue, plan, sweeps);
    TimingState timing;
    const std::vector<double> noise_floor =
        measure_noise_floor(stream, plan, zones.front()->output, options, label, timing);
    // Every zone's tone plays, one zone after another, before any sweep of the pass.
    // NOTE: each tone predicts one zone's sweep peak. Where M sweeps overlap, a mic that hears
    // all of them can peak up to 20·log10(M) dB higher, but the clipping stop still guards full scale.
    std::vector<std::vector<ToneReading>> tones(zones.size());
    for (std::size_t index = 0; index < zones.size() && options.test_tone; ++index) {
        tones[index] = play_test_tone(stream, tone_plan, *zones[index], venue, options, zone_label(zones[index]->name),
                                      timing, noise_floor);
    }
    const PassRecording pass = record_pass(stream, request, plan, venue, options, label, progress, timing, noise_floor);
    MeasureResult measured;
    measured.sound_s = sweeps.sound_s * static_cast<double>(pass.passes);
    measured.multi_sweep = sweeps;

    std::filesystem::path shared_wav;
    for (std::size_t index = 0; index < zones.size(); ++index) {
        ZoneRecording saved;
        saved.zone = zones[index]->name;
        saved.metadata = describe_pass(venue, *zones[index], plan, pass, options, timing);
        saved.metadata.room_t60 = venue_room_t60(venue);
        saved.metadata.multi_sweep = MultiSweepPlacement{names,
                                                         sweeps.offsets_frames,
                                                         sweeps.offsets_frames[index],
                                                         sweeps.window_frames,
                                                         sweeps.max_overlapping,
                                                         sweeps.ceiling_dbfs,
                                                         sweeps.sequential_sound_s};
        apply_tone(saved.metadata.channels, tones[index]);
        for (const RecordingChannel& channel : saved.metadata.channels) {
            if (channel.silent) {
                saved.silent_mics.push_back(channel.mic);
            }
        }
        save_recording(session_dir, pass.recording, saved.metadata, saved, shared_wav);
        shared_wav = saved.wav_path;

        progress.event = MeasureProgress::Event::zone_finished;
        progress.zone = zones[index]->name;
        progress.zone_number = index + 1;
        progress.xrun_count = pass.xrun_count;
        progress.recording = &saved.metadata;
        if (options.progress) {
            options.progress(progress);
        }
        progress.recording = nullptr;
        measured.recordings.push_back(std::move(saved));
    }
    return measured;
}

}  // namespace

void check_measurement_setup(const Venue& venue, const StreamFormat& format, const MeasureOptions& options) {
    std::vector<std::string> problems;
    const double venue_rate_hz = venue.audio_interface.sample_rate_hz;
    if (std::fabs(format.sample_rate_hz - venue_rate_hz) > 1e-6) {
        problems.push_back("the audio interface runs at " + format_significant(format.sample_rate_hz) +
                           " Hz but the venue's audio_interface.sample_rate_hz is " + format_significant(venue_rate_hz) +
                           " Hz; set the interface to " + format_significant(venue_rate_hz) +
                           " Hz or change the venue file");
    }
    if (const auto& loopback = venue.audio_interface.loopback) {
        check_channel(loopback->output, format.output_channels, "the loopback", "output", problems);
        check_channel(loopback->input, format.input_channels, "the loopback", "input", problems);
    }
    const std::vector<const Zone*> zones = selected_zones(venue, options, problems);
    check_zones(zones, venue, format, problems);
    if (options.multi_sweep) {
        // One pass plays every zone at once, so each needs an output of its own.
        std::map<std::size_t, std::string> zone_by_output;
        for (const Zone* zone : zones) {
            const auto [previous, inserted] = zone_by_output.emplace(zone->output, zone->name);
            if (!inserted) {
                problems.push_back("zones '" + previous->second + "' and '" + zone->name + "' share output " +
                                   std::to_string(zone->output) +
                                   ", but a multiple-sweep pass plays every zone at once; measure them one after "
                                   "another (without --multi-sweep)");
            }
        }
    }
    check_microphones(venue, format, problems);
    if (options.repeats < 1) {
        problems.emplace_back("the number of repeats is 0; play each pass at least once (--repeats 1)");
    }
    if (!(options.tail_s > 0.0) || !std::isfinite(options.tail_s)) {
        problems.push_back("the tail after the sweep is " + format_significant(options.tail_s) +
                           " s; record at least the room's decay time (over 0 s)");
    }
    try {
        validate(sweep_at_venue_rate(venue, options));
    } catch (const Error& failure) {
        problems.emplace_back(failure.what());
    }
    if (options.sweep_from_zone_band && options.multi_sweep) {
        problems.emplace_back("sweeps from the zones' bands need one pass per zone, but a multiple-sweep pass plays "
                              "one sweep for every zone; choose one of the two");
    } else if (options.sweep_from_zone_band) {
        for (const Zone* zone : zones) {
            const double start_hz = zone_sweep_start_hz(*zone, options.sweep.start_freq_hz);
            if (start_hz >= options.sweep.end_freq_hz) {
                problems.push_back(zone_label(zone->name) + ": its sweep would start at " + format_significant(start_hz) +
                                   " Hz, half an octave below its fit_band_hz, above the sweep's end " +
                                   format_significant(options.sweep.end_freq_hz) +
                                   " Hz; raise the sweep's end or check the zone's fit_band_hz");
            }
        }
    }
    throw_if_problems("measurement of venue '" + venue.name + "'", problems);
}

double zone_sweep_start_hz(const Zone& zone, double start_freq_hz) {
    // Half an octave: a factor of 2^(1/2).
    return std::max(start_freq_hz, zone.fit_band_hz.low_hz / std::sqrt(2.0));
}

double tail_for_room(const Venue& venue, double tail_s) {
    return std::max(tail_s, venue.audio_interface.room_t60_s.value_or(0.0));
}

namespace {

/// The zone's pass as kept, and the plan it was played with.
struct ZonePass {
    PassPlan plan;
    PassRecording pass;
};

/// Plays one zone: the noise floor, the test tone (options.test_tone) and the sweep's passes.
ZonePass play_zone(const Zone& zone, const Venue& venue, CaptureStream& stream, const MeasureOptions& zone_options,
                   const MeasureProgress& progress, TimingState& timing) {
    ZonePass played{plan_passes(venue, zone_options), {}};
    const std::string label = zone_label(zone.name);
    const CaptureRequest request = request_for_zone(zone, venue, played.plan);
    const std::vector<double> noise_floor =
        measure_noise_floor(stream, played.plan, zone.output, zone_options, label, timing);
    std::vector<ToneReading> tone;
    if (zone_options.test_tone) {
        tone = play_test_tone(stream, played.plan, zone, venue, zone_options, label, timing, noise_floor);
    }
    played.pass = record_pass(stream, request, played.plan, venue, zone_options, label, progress, timing, noise_floor);
    apply_tone(played.pass, tone);
    return played;
}

/// Estimates the room's T60 from the first zone's kept pass (estimate_room_t60 on its mics).
RoomT60Estimate estimate_from_pass(const ZonePass& played, const Venue& venue, const MeasureOptions& options,
                                   const std::string& label) {
    std::vector<std::string> mics;
    for (const Microphone& mic : venue.microphones) {
        mics.push_back(mic.name);
    }
    std::optional<std::size_t> loopback;
    if (venue.audio_interface.loopback) {
        loopback = mics.size() + 1;
    }
    try {
        return estimate_room_t60(played.pass.recording, played.plan.sweep_samples, mics, loopback, options.room_t60);
    } catch (const Error& failure) {
        throw failure.with_context(label + ", room T60 estimate");
    }
}

/// Estimates the room's T60 from the first zone's pass, reports it through the progress callback,
/// and plays the zone again with a tail as long as the estimate when its own tail was shorter and
/// cut the decay. Returns the record of the estimate for every recording, or nothing without one.
std::optional<RoomT60Record> settle_room_t60(ZonePass& played, const Zone& zone, const Venue& venue,
                                             CaptureStream& stream, MeasureOptions& zone_options,
                                             MeasureProgress progress, TimingState& timing, MeasureResult& measured) {
    const double requested_tail_s = zone_options.tail_s;
    measured.room_t60 = estimate_from_pass(played, venue, zone_options, zone_label(zone.name));
    const RoomT60Estimate& estimate = *measured.room_t60;

    // A tail shorter than the T60 still contains the whole decay when the decay reached the noise
    // floor within it, as the decay check measures. Without a noise floor that is unknown.
    const bool short_tail = estimate.t60_s && *estimate.t60_s > requested_tail_s;
    const bool decay_cut = std::any_of(played.pass.channels.begin(), played.pass.channels.end(),
                                       [](const RecordingChannel& channel) {
                                           return !channel.loopback &&
                                                  (channel.decay_incomplete || !channel.noise_floor_dbfs);
                                       });
    const bool remeasure = short_tail && decay_cut;
    std::optional<RoomT60Record> room;
    if (estimate.t60_s) {
        room = RoomT60Record{*estimate.t60_s, "estimated", zone.name, estimate.mic, estimate.band_hz,
                             estimate.metric, std::nullopt, remeasure};
        if (short_tail) {
            room->first_tail_s = requested_tail_s;
        }
    }

    progress.event = MeasureProgress::Event::room_t60_estimated;
    progress.room_t60 = &estimate;
    progress.tail_s = room ? std::max(requested_tail_s, room->t60_s) : requested_tail_s;
    progress.short_tail = short_tail;
    progress.remeasure = remeasure;
    if (zone_options.progress) {
        zone_options.progress(progress);
    }
    progress.room_t60 = nullptr;
    if (!remeasure) {
        return room;
    }

    zone_options.tail_s = progress.tail_s;
    progress.event = MeasureProgress::Event::zone_started;
    progress.sound_s = plan_passes(venue, zone_options).sound_s;
    if (zone_options.progress) {
        zone_options.progress(progress);
    }
    played = play_zone(zone, venue, stream, zone_options, progress, timing);
    measured.sound_s += played.plan.sound_s * static_cast<double>(played.pass.passes);
    return room;
}

}  // namespace

MeasureResult measure(const Venue& venue, CaptureStream& stream, const std::filesystem::path& session_dir,
                      const MeasureOptions& requested) {
    MeasureOptions options = requested;
    options.tail_s = tail_for_room(venue, requested.tail_s);
    try {
        check_measurement_setup(venue, stream.format(), options);
    } catch (const Error& failure) {
        throw failure.with_context(stream.description());
    }
    std::vector<std::string> unused;
    const std::vector<const Zone*> zones = selected_zones(venue, options, unused);
    if (options.multi_sweep) {
        return measure_multi_sweep(venue, stream, session_dir, options, zones);
    }
    MeasureResult measured;
    TimingState timing;
    std::optional<RoomT60Record> room = venue_room_t60(venue);
    bool estimating = options.estimate_room_t60 && !room;
    for (std::size_t number = 1; number <= zones.size(); ++number) {
        const Zone& zone = *zones[number - 1];
        MeasureOptions zone_options = options;
        if (options.sweep_from_zone_band) {
            zone_options.sweep.start_freq_hz = zone_sweep_start_hz(zone, options.sweep.start_freq_hz);
        }
        if (room) {
            zone_options.tail_s = std::max(options.tail_s, room->t60_s);
        }
        MeasureProgress progress{MeasureProgress::Event::zone_started,
                                 zone.name,
                                 number,
                                 zones.size(),
                                 plan_passes(venue, zone_options).sound_s,
                                 0,
                                 0.0,
                                 1,
                                 options.repeats,
                                 nullptr};
        if (options.progress) {
            options.progress(progress);
        }

        ZonePass played = play_zone(zone, venue, stream, zone_options, progress, timing);
        measured.sound_s += played.plan.sound_s * static_cast<double>(played.pass.passes);
        if (estimating) {
            // Only the first zone measured gives the estimate, so that every later tail follows it.
            estimating = false;
            room = settle_room_t60(played, zone, venue, stream, zone_options, progress, timing, measured);
        }

        ZoneRecording saved;
        saved.zone = zone.name;
        saved.metadata = describe_pass(venue, zone, played.plan, played.pass, zone_options, timing);
        saved.metadata.room_t60 = room;
        for (const RecordingChannel& channel : saved.metadata.channels) {
            if (channel.silent) {
                saved.silent_mics.push_back(channel.mic);
            }
        }
        save_recording(session_dir, played.pass.recording, saved.metadata, saved);
        if (room) {
            // Only the zone that gave the estimate had a tail chosen without it.
            room->first_tail_s.reset();
            room->remeasured = false;
        }

        progress.event = MeasureProgress::Event::zone_finished;
        progress.xrun_count = played.pass.xrun_count;
        progress.recording = &saved.metadata;
        if (options.progress) {
            options.progress(progress);
        }
        progress.recording = nullptr;
        measured.recordings.push_back(std::move(saved));
    }
    return measured;
}

}  // namespace linetune::capture
