#include "linetune/capture/impulse_responses.hpp"

#include "file_names.hpp"

#include "linetune/capture/multi_sweep.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/impulse_response_file.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <system_error>

namespace linetune::capture {
namespace {

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

/// Zone folders of the session that hold a complete recording, sorted by name; folders with a
/// WAV but no JSON are noted as unfinished.
std::vector<std::string> complete_zones(const std::filesystem::path& session_dir, std::vector<std::string>& notes) {
    const std::filesystem::path measurements = session_dir / "measurements";
    std::error_code error;
    if (!std::filesystem::is_directory(measurements, error)) {
        throw Error("session " + quoted(session_dir) + " has no 'measurements' folder; measure the zones first",
                    ErrorKind::input);
    }
    std::vector<std::string> zones;
    for (const auto& entry : std::filesystem::directory_iterator(measurements, error)) {
        if (!entry.is_directory()) {
            continue;
        }
        const std::string zone = entry.path().filename().string();
        if (std::filesystem::is_regular_file(recording_json_path(session_dir, zone), error)) {
            zones.push_back(zone);
        } else if (std::filesystem::exists(recording_wav_path(session_dir, zone), error)) {
            notes.push_back("zone '" + zone + "': " + quoted(recording_wav_path(session_dir, zone)) +
                            " has no recording.json, so its pass did not finish; it was skipped, so measure the zone again");
        }
    }
    if (error) {
        throw Error("folder " + quoted(measurements) + " cannot be listed (" + error.message() + ")", ErrorKind::input);
    }
    std::sort(zones.begin(), zones.end());
    return zones;
}

/// Reads the recording's WAV and checks it against its metadata.
MultichannelSignal read_recording(const std::filesystem::path& wav_path, const std::filesystem::path& json_path,
                                  const RecordingMetadata& metadata) {
    io::AudioFile audio = io::read_audio_file(wav_path);
    const MultichannelSignal& signal = audio.signal;
    if (signal.channel_count() != metadata.channels.size() || signal.frame_count() != metadata.frames ||
        std::fabs(signal.sample_rate_hz() - metadata.sample_rate_hz) > 1e-6) {
        throw Error("recording " + quoted(wav_path) + " (" + std::to_string(signal.channel_count()) + " channels, " +
                    std::to_string(signal.frame_count()) + " frames at " + format_significant(signal.sample_rate_hz()) +
                    " Hz) disagrees with " + quoted(json_path) + " (" + std::to_string(metadata.channels.size()) +
                    " channels, " + std::to_string(metadata.frames) + " frames at " +
                    format_significant(metadata.sample_rate_hz) + " Hz); measure the zone again");
    }
    return std::move(audio.signal);
}

/// The played sweep, regenerated from the metadata; it must have the length that was played.
std::vector<float> played_sweep(const RecordingMetadata& metadata, const std::filesystem::path& json_path) {
    std::vector<float> sweep = generate_exponential_sweep(metadata.sweep);
    if (sweep.size() != metadata.sweep_frames) {
        throw Error(quoted(json_path) + ": the sweep it describes has " + std::to_string(sweep.size()) +
                    " samples, but " + std::to_string(metadata.sweep_frames) +
                    " were played; the recording was made by a linetune whose sweep differs, so measure again");
    }
    return sweep;
}

analysis::SweepRecordingLayout layout_of(const RecordingMetadata& metadata) {
    analysis::SweepRecordingLayout layout;
    layout.loopback_channel = metadata.loopback_channel;
    for (const RecordingChannel& channel : metadata.channels) {
        layout.channel_names.push_back(channel.loopback ? "loopback" : "mic '" + channel.mic + "'");
    }
    return layout;
}

std::vector<std::string> flags_of(const analysis::RecordedChannel& channel, analysis::LoopbackStatus loopback) {
    std::vector<std::string> flags;
    if (channel.clipped) {
        flags.emplace_back("clipped");
    }
    if (channel.dead) {
        flags.emplace_back("dead");
    }
    if (loopback != analysis::LoopbackStatus::used) {
        flags.emplace_back("relative_timing");
    }
    return flags;
}

/// Copies one mic's impulse response into a one-channel signal with the shared time base.
MultichannelSignal single_channel(const MultichannelSignal& impulse_responses, std::size_t index) {
    MultichannelSignal one(1, impulse_responses.frame_count(), impulse_responses.sample_rate_hz());
    const auto source = impulse_responses.channel(index);
    std::copy(source.begin(), source.end(), one.channel(0).begin());
    one.time_base = impulse_responses.time_base;
    return one;
}

/// Rebuilds the deconvolver only when the sweep differs from the previous zone's.
class DeconvolverCache {
public:
    analysis::SweepDeconvolver& get(const RecordingMetadata& metadata, const std::filesystem::path& json_path,
                                    const analysis::SweepRecordingOptions& options) {
        const SweepParameters& sweep = metadata.sweep;
        const bool same = deconvolver_ && sweep.start_freq_hz == sweep_.start_freq_hz &&
                          sweep.end_freq_hz == sweep_.end_freq_hz && sweep.duration_s == sweep_.duration_s &&
                          sweep.sample_rate_hz == sweep_.sample_rate_hz && sweep.level_dbfs == sweep_.level_dbfs &&
                          sweep.fade_in_s == sweep_.fade_in_s && sweep.fade_out_s == sweep_.fade_out_s;
        if (!same) {
            deconvolver_ = std::make_unique<analysis::SweepDeconvolver>(played_sweep(metadata, json_path),
                                                                        sweep.sample_rate_hz, options.band);
            sweep_ = sweep;
        }
        return *deconvolver_;
    }

private:
    std::unique_ptr<analysis::SweepDeconvolver> deconvolver_;
    SweepParameters sweep_;
};

ZoneImpulseResponses process_zone(const std::filesystem::path& session_dir, const std::string& zone,
                                  const ImpulseResponseOptions& options, DeconvolverCache& deconvolvers) {
    const std::filesystem::path json_path = recording_json_path(session_dir, zone);
    const std::filesystem::path wav_path = recording_wav_path(session_dir, zone);
    const RecordingMetadata metadata = read_recording_metadata(json_path);
    const MultichannelSignal recording = read_recording(wav_path, json_path, metadata);
    analysis::SweepDeconvolver& deconvolver = deconvolvers.get(metadata, json_path, options.deconvolution);

    analysis::SweepRecordingImpulseResponses responses;
    std::vector<MultiSweepSeparation> separation;
    try {
        if (const auto& placement = metadata.multi_sweep) {
            responses = multi_sweep_impulse_responses(recording, deconvolver, layout_of(metadata),
                                                      placement->offset_frames, placement->window_frames, separation,
                                                      options.deconvolution);
        } else {
            responses = analysis::impulse_responses_from_sweep_recording(recording, deconvolver, layout_of(metadata),
                                                                         options.deconvolution);
        }
    } catch (const Error& failure) {
        throw failure.with_context("recording " + quoted(wav_path));
    }

    ZoneImpulseResponses result;
    result.zone = zone;
    result.loopback_status = responses.loopback_status;
    result.latency_samples = responses.latency_samples;
    result.notes = responses.notes;
    for (std::size_t index = 0; index < metadata.channels.size(); ++index) {
        const RecordingChannel& channel = metadata.channels[index];
        if (channel.loopback) {
            continue;
        }
        if (const auto reason = detail::unusable_file_name_reason(channel.mic)) {
            throw Error(quoted(json_path) + ": mic '" + channel.mic + "' cannot name a file: " + *reason +
                        "; rename the mic and measure again");
        }
        MicImpulseResponse mic;
        mic.mic = channel.mic;
        mic.wav_path = session_dir / "impulse-responses" / zone / (channel.mic + ".wav");
        mic.channel = responses.channels[index];

        io::ImpulseResponseOrigin origin;
        origin.zone = zone;
        origin.mic = channel.mic;
        origin.recording = std::filesystem::path("..") / ".." / "measurements" / zone / "recording.wav";
        origin.recording_channel = channel.channel;
        origin.latency_samples = responses.latency_samples;
        origin.band_hz = FrequencyBand{responses.band.start_freq_hz, responses.band.end_freq_hz};
        origin.recording_peak_dbfs = mic.channel.peak_dbfs;
        origin.flags = flags_of(mic.channel, responses.loopback_status);
        origin.notes = mic.channel.notes;
        origin.notes.insert(origin.notes.end(), responses.notes.begin(), responses.notes.end());
        if (!separation.empty()) {
            mic.separation = separation[index];
            origin.notes.push_back("multiple-sweep pass: the last tenth of the zone's window holds " +
                                   format_fixed(separation[index].window_end_db, 1) +
                                   " dB of its energy (above -50 dB, lengthen --tail-s)");
        }
        io::write_impulse_response(mic.wav_path, single_channel(responses.impulse_responses, index), origin);
        result.mics.push_back(std::move(mic));
    }
    return result;
}

}  // namespace

SessionImpulseResponses write_impulse_responses(const std::filesystem::path& session_dir,
                                                const ImpulseResponseOptions& options) {
    SessionImpulseResponses session;
    std::vector<std::string> zones = options.zones;
    if (zones.empty()) {
        zones = complete_zones(session_dir, session.notes);
    } else {
        std::error_code error;
        for (const std::string& zone : zones) {
            if (const auto reason = detail::unusable_file_name_reason(zone)) {
                throw Error("zone '" + zone + "' cannot name a session folder: " + *reason + "; give a zone name",
                            ErrorKind::configuration);
            }
            if (!std::filesystem::is_regular_file(recording_json_path(session_dir, zone), error)) {
                throw Error("zone '" + zone + "' has no complete recording in session " + quoted(session_dir) +
                                " (no " + quoted(recording_json_path(session_dir, zone)) + "); measure the zone first",
                            ErrorKind::input);
            }
        }
        std::sort(zones.begin(), zones.end());
    }

    DeconvolverCache deconvolvers;
    for (const std::string& zone : zones) {
        session.zones.push_back(process_zone(session_dir, zone, options, deconvolvers));
    }
    return session;
}

}  // namespace linetune::capture
