#include "linetune/capture/measure.hpp"

#include "file_names.hpp"
#include "linetune_version.hpp"

#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/io/wav_writer.hpp"

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

std::string utc_timestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
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

RecordingMetadata describe_pass(const Venue& venue, const Zone& zone, const PassPlan& plan,
                                std::vector<RecordingChannel> channels, const CaptureResult& result,
                                std::size_t passes, const MeasureOptions& options) {
    RecordingMetadata metadata;
    metadata.venue = venue.name;
    metadata.venue_file = venue.file;
    metadata.zone = zone.name;
    metadata.output = zone.output;
    metadata.sample_rate_hz = plan.sweep.sample_rate_hz;
    metadata.frames = result.recording.frame_count();
    metadata.channels = std::move(channels);
    if (venue.audio_interface.loopback) {
        metadata.loopback_output = venue.audio_interface.loopback->output;
        metadata.loopback_channel = metadata.channels.size();
    }
    metadata.sweep = plan.sweep;
    metadata.sweep_frames = plan.sweep_samples.size();
    metadata.tail_s = options.tail_s;
    metadata.sound_s = plan.sound_s;
    metadata.xrun_count = result.xrun_count;
    metadata.passes = passes;
    metadata.temperature_c = venue.temperature_c;
    metadata.humidity_percent = venue.humidity_percent;
    metadata.recorded_utc = utc_timestamp();
    metadata.software = std::string("linetune ") + LINETUNE_VERSION;
    return metadata;
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
    plan.record_frames = sweeps.record_frames;
    plan.sound_s = sweeps.sound_s;

    const std::string label = zone_list_label(zones);
    MeasureProgress progress{MeasureProgress::Event::multi_sweep_started, label, 1, zones.size(), sweeps.sound_s, 0,
                             sweeps.sequential_sound_s};
    if (options.progress) {
        options.progress(progress);
    }
    const CaptureRequest request = multi_sweep_request(zones, venue, plan, sweeps);
    std::size_t passes = 0;
    const CaptureResult result = play_pass(stream, request, options, label, progress, passes);
    MeasureResult measured;
    measured.sound_s = sweeps.sound_s * static_cast<double>(passes);
    measured.multi_sweep = sweeps;
    const std::vector<RecordingChannel> channels = judge_inputs(result.recording, plan, venue, options, label);

    std::filesystem::path shared_wav;
    for (std::size_t index = 0; index < zones.size(); ++index) {
        ZoneRecording saved;
        saved.zone = zones[index]->name;
        saved.metadata = describe_pass(venue, *zones[index], plan, channels, result, passes, options);
        saved.metadata.multi_sweep = MultiSweepPlacement{names,
                                                         sweeps.offsets_frames,
                                                         sweeps.offsets_frames[index],
                                                         sweeps.window_frames,
                                                         sweeps.max_overlapping,
                                                         sweeps.ceiling_dbfs,
                                                         sweeps.sequential_sound_s};
        for (const RecordingChannel& channel : saved.metadata.channels) {
            if (channel.silent) {
                saved.silent_mics.push_back(channel.mic);
            }
        }
        save_recording(session_dir, result.recording, saved.metadata, saved, shared_wav);
        shared_wav = saved.wav_path;
        measured.recordings.push_back(std::move(saved));

        progress.event = MeasureProgress::Event::zone_finished;
        progress.zone = zones[index]->name;
        progress.zone_number = index + 1;
        progress.xrun_count = result.xrun_count;
        if (options.progress) {
            options.progress(progress);
        }
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
    if (!(options.tail_s > 0.0) || !std::isfinite(options.tail_s)) {
        problems.push_back("the tail after the sweep is " + format_significant(options.tail_s) +
                           " s; record at least the room's decay time (over 0 s)");
    }
    try {
        validate(sweep_at_venue_rate(venue, options));
    } catch (const Error& failure) {
        problems.emplace_back(failure.what());
    }
    throw_if_problems("measurement of venue '" + venue.name + "'", problems);
}

MeasureResult measure(const Venue& venue, CaptureStream& stream, const std::filesystem::path& session_dir,
                      const MeasureOptions& options) {
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
    const PassPlan plan = plan_passes(venue, options);

    MeasureResult measured;
    for (std::size_t number = 1; number <= zones.size(); ++number) {
        const Zone& zone = *zones[number - 1];
        MeasureProgress progress{MeasureProgress::Event::zone_started, zone.name, number, zones.size(), plan.sound_s, 0,
                                 0.0};
        if (options.progress) {
            options.progress(progress);
        }

        const CaptureRequest request = request_for_zone(zone, venue, plan);
        std::size_t passes = 0;
        const CaptureResult result = play_pass(stream, request, options, zone_label(zone.name), progress, passes);
        measured.sound_s += plan.sound_s * static_cast<double>(passes);
        std::vector<RecordingChannel> channels =
            judge_inputs(result.recording, plan, venue, options, zone_label(zone.name));

        ZoneRecording saved;
        saved.zone = zone.name;
        saved.metadata = describe_pass(venue, zone, plan, std::move(channels), result, passes, options);
        for (const RecordingChannel& channel : saved.metadata.channels) {
            if (channel.silent) {
                saved.silent_mics.push_back(channel.mic);
            }
        }
        save_recording(session_dir, result.recording, saved.metadata, saved);
        measured.recordings.push_back(std::move(saved));

        progress.event = MeasureProgress::Event::zone_finished;
        progress.xrun_count = result.xrun_count;
        if (options.progress) {
            options.progress(progress);
        }
    }
    return measured;
}

}  // namespace linetune::capture
