#include "linetune/capture/recording_file.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/json_file.hpp"
#include "linetune/io/text_file_writer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string_view>

namespace linetune::capture {
namespace {

using nlohmann::json;

// Metadata versions this reader understands; a later version may change the meaning of a key.
constexpr int recording_version = 1;

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

json optional_count(const std::optional<std::size_t>& value) { return value ? json(*value) : json(nullptr); }

json sweep_json(const SweepParameters& sweep, std::size_t sweep_frames) {
    return {{"start_freq_hz", sweep.start_freq_hz}, {"end_freq_hz", sweep.end_freq_hz},
            {"duration_s", sweep.duration_s},       {"sample_rate_hz", sweep.sample_rate_hz},
            {"level_dbfs", sweep.level_dbfs},       {"fade_in_s", sweep.fade_in_s},
            {"fade_out_s", sweep.fade_out_s},       {"frames", sweep_frames}};
}

json room_t60_json(const RoomT60Record& room) {
    json item = {{"t60_s", room.t60_s}, {"source", room.source}};
    if (room.source == "estimated") {
        item["zone"] = room.zone;
        item["mic"] = room.mic;
        item["band_hz"] = room.band_hz;
        item["metric"] = room.metric;
        item["first_tail_s"] = optional_number(room.first_tail_s);
        item["remeasured"] = room.remeasured;
    }
    return item;
}

json channel_json(const RecordingChannel& channel) {
    json item = {{"channel", channel.channel}, {"input", channel.input},   {"loopback", channel.loopback},
                 {"peak_dbfs", channel.peak_dbfs}, {"clipped", channel.clipped}, {"silent", channel.silent}};
    item["mic"] = channel.loopback ? json(nullptr) : json(channel.mic);
    item["noise_floor_dbfs"] = optional_number(channel.noise_floor_dbfs);
    item["tail_end_dbfs"] = optional_number(channel.tail_end_dbfs);
    item["decay_incomplete"] = channel.decay_incomplete;
    item["test_tone_peak_dbfs"] = optional_number(channel.test_tone_peak_dbfs);
    item["predicted_peak_dbfs"] = optional_number(channel.predicted_peak_dbfs);
    item["predicted_peak_db_spl"] = optional_number(channel.predicted_peak_db_spl);
    item["heard_test_tone"] = channel.heard_test_tone;
    if (!channel.loopback) {
        item["sensitivity_dbfs"] = optional_number(channel.sensitivity_dbfs);
        item["sensitivity_source"] = channel.sensitivity_source.empty() ? json(nullptr) : json(channel.sensitivity_source);
    }
    return item;
}

/// Value of a key converted to T; a missing key or a value of another type becomes an input
/// Error naming the key, which the caller prefixes with the file.
template <typename T>
T field(const json& object, std::string_view key) {
    const auto found = object.find(std::string(key));
    if (found == object.end()) {
        throw Error("missing key '" + std::string(key) + "'");
    }
    try {
        return found->get<T>();
    } catch (const json::exception&) {
        throw Error("'" + std::string(key) + "' has the wrong type: " + found->dump());
    }
}

/// Like field, but null or a missing key gives nothing.
template <typename T>
std::optional<T> optional_field(const json& object, std::string_view key) {
    const auto found = object.find(std::string(key));
    if (found == object.end() || found->is_null()) {
        return std::nullopt;
    }
    return field<T>(object, key);
}

SweepParameters read_sweep(const json& item, std::size_t& sweep_frames) {
    SweepParameters sweep;
    sweep.start_freq_hz = field<double>(item, "start_freq_hz");
    sweep.end_freq_hz = field<double>(item, "end_freq_hz");
    sweep.duration_s = field<double>(item, "duration_s");
    sweep.sample_rate_hz = field<double>(item, "sample_rate_hz");
    sweep.level_dbfs = field<double>(item, "level_dbfs");
    sweep.fade_in_s = field<double>(item, "fade_in_s");
    sweep.fade_out_s = field<double>(item, "fade_out_s");
    sweep_frames = field<std::size_t>(item, "frames");
    return sweep;
}

json multi_sweep_json(const MultiSweepPlacement& placement) {
    return {{"zones", placement.zones},
            {"offsets_frames", placement.offsets_frames},
            {"offset_frames", placement.offset_frames},
            {"window_frames", placement.window_frames},
            {"max_overlapping", placement.max_overlapping},
            {"ceiling_dbfs", placement.ceiling_dbfs},
            {"sequential_sound_s", placement.sequential_sound_s}};
}

MultiSweepPlacement read_multi_sweep(const json& item) {
    MultiSweepPlacement placement;
    placement.zones = field<std::vector<std::string>>(item, "zones");
    placement.offsets_frames = field<std::vector<std::size_t>>(item, "offsets_frames");
    placement.offset_frames = field<std::size_t>(item, "offset_frames");
    placement.window_frames = field<std::size_t>(item, "window_frames");
    placement.max_overlapping = field<std::size_t>(item, "max_overlapping");
    placement.ceiling_dbfs = field<double>(item, "ceiling_dbfs");
    placement.sequential_sound_s = field<double>(item, "sequential_sound_s");
    if (placement.zones.size() != placement.offsets_frames.size() || placement.window_frames == 0) {
        throw Error("'multi_sweep' lists " + std::to_string(placement.zones.size()) + " zones but " +
                    std::to_string(placement.offsets_frames.size()) + " offsets, or an empty window");
    }
    return placement;
}

json optional_numbers(const std::vector<std::optional<double>>& values) {
    json list = json::array();
    for (const auto& value : values) {
        list.push_back(optional_number(value));
    }
    return list;
}

json repeats_json(const RepeatSummary& summary) {
    json mics = json::array();
    for (const RepeatMicSummary& mic : summary.mics) {
        mics.push_back({{"mic", mic.mic},
                        {"drift_ms", optional_numbers(mic.drift_ms)},
                        {"snr_db", mic.snr_db},
                        {"coherence", mic.coherence}});
    }
    return {{"count", summary.count},
            {"aligned_by", summary.aligned_by},
            {"alignment_ms", summary.alignment_ms},
            {"max_drift_ms", optional_number(summary.max_drift_ms)},
            {"bands_hz", summary.bands_hz},
            {"mics", mics}};
}

RepeatSummary read_repeats(const json& item) {
    RepeatSummary summary;
    summary.count = field<std::size_t>(item, "count");
    summary.aligned_by = field<std::string>(item, "aligned_by");
    summary.alignment_ms = field<std::vector<double>>(item, "alignment_ms");
    summary.max_drift_ms = optional_field<double>(item, "max_drift_ms");
    summary.bands_hz = field<std::vector<double>>(item, "bands_hz");
    const json mics = field<json>(item, "mics");
    if (!mics.is_array()) {
        throw Error("'repeats.mics' must be an array, not " + mics.dump());
    }
    for (const json& entry : mics) {
        RepeatMicSummary mic;
        mic.mic = field<std::string>(entry, "mic");
        const json drift = field<json>(entry, "drift_ms");
        if (!drift.is_array()) {
            throw Error("'repeats.mics.drift_ms' must be an array, not " + drift.dump());
        }
        for (const json& value : drift) {
            mic.drift_ms.push_back(value.is_null() ? std::nullopt : std::optional<double>(value.get<double>()));
        }
        mic.snr_db = field<std::vector<double>>(entry, "snr_db");
        mic.coherence = field<std::vector<double>>(entry, "coherence");
        if (mic.drift_ms.size() != summary.count || mic.snr_db.size() != summary.bands_hz.size() ||
            mic.coherence.size() != summary.bands_hz.size()) {
            throw Error("'repeats': mic '" + mic.mic + "' has " + std::to_string(mic.drift_ms.size()) +
                        " drifts for " + std::to_string(summary.count) + " repeats, or a value per band missing");
        }
        summary.mics.push_back(std::move(mic));
    }
    if (summary.count < 2 || summary.alignment_ms.size() != summary.count) {
        throw Error("'repeats' has count " + std::to_string(summary.count) + " and " +
                    std::to_string(summary.alignment_ms.size()) + " alignments; a count of 2 or more needs one each");
    }
    return summary;
}

RoomT60Record read_room_t60(const json& item) {
    RoomT60Record room;
    room.t60_s = field<double>(item, "t60_s");
    room.source = field<std::string>(item, "source");
    if (room.source != "venue file" && room.source != "estimated") {
        throw Error("'room_t60': 'source' is \"" + room.source + "\"; expected \"venue file\" or \"estimated\"");
    }
    if (room.source == "estimated") {
        room.zone = field<std::string>(item, "zone");
        room.mic = field<std::string>(item, "mic");
        room.band_hz = field<double>(item, "band_hz");
        room.metric = field<std::string>(item, "metric");
        room.first_tail_s = optional_field<double>(item, "first_tail_s");
        room.remeasured = optional_field<bool>(item, "remeasured").value_or(false);
    }
    return room;
}

RecordingChannel read_channel(const json& item) {
    RecordingChannel channel;
    channel.channel = field<std::size_t>(item, "channel");
    channel.input = field<std::size_t>(item, "input");
    channel.loopback = field<bool>(item, "loopback");
    channel.mic = optional_field<std::string>(item, "mic").value_or("");
    channel.peak_dbfs = field<double>(item, "peak_dbfs");
    channel.clipped = field<bool>(item, "clipped");
    channel.silent = field<bool>(item, "silent");
    channel.noise_floor_dbfs = optional_field<double>(item, "noise_floor_dbfs");
    channel.tail_end_dbfs = optional_field<double>(item, "tail_end_dbfs");
    channel.decay_incomplete = optional_field<bool>(item, "decay_incomplete").value_or(false);
    channel.test_tone_peak_dbfs = optional_field<double>(item, "test_tone_peak_dbfs");
    channel.predicted_peak_dbfs = optional_field<double>(item, "predicted_peak_dbfs");
    channel.predicted_peak_db_spl = optional_field<double>(item, "predicted_peak_db_spl");
    channel.heard_test_tone = optional_field<bool>(item, "heard_test_tone").value_or(true);
    channel.sensitivity_dbfs = optional_field<double>(item, "sensitivity_dbfs");
    channel.sensitivity_source = optional_field<std::string>(item, "sensitivity_source").value_or("");
    if (!channel.loopback && channel.mic.empty()) {
        throw Error("channel " + std::to_string(channel.channel) + " is neither the loopback nor a named mic");
    }
    return channel;
}

/// Checks that the channels are numbered 1..N in order and that the loopback entry matches.
void check_channels(const RecordingMetadata& metadata) {
    for (std::size_t index = 0; index < metadata.channels.size(); ++index) {
        if (metadata.channels[index].channel != index + 1) {
            throw Error("channel entry " + std::to_string(index + 1) + " has number " +
                        std::to_string(metadata.channels[index].channel) + "; channels must be listed as 1, 2, 3, ...");
        }
    }
    if (metadata.loopback_channel) {
        const std::size_t loopback = *metadata.loopback_channel;
        if (loopback == 0 || loopback > metadata.channels.size() || !metadata.channels[loopback - 1].loopback) {
            throw Error("'loopback_channel' " + std::to_string(loopback) + " is not a loopback entry of 'channels'");
        }
    }
}

RecordingMetadata metadata_from_json(const json& document) {
    if (field<std::string>(document, "format") != recording_format) {
        throw Error("'format' is not \"" + std::string(recording_format) + "\"");
    }
    if (const int version = field<int>(document, "version"); version != recording_version) {
        throw Error("version " + std::to_string(version) + " is not supported (this linetune reads version " +
                    std::to_string(recording_version) + "); update linetune");
    }

    RecordingMetadata metadata;
    metadata.venue = field<std::string>(document, "venue");
    metadata.venue_file = field<std::string>(document, "venue_file");
    metadata.zone = field<std::string>(document, "zone");
    metadata.output = field<std::size_t>(document, "output");
    metadata.loopback_output = optional_field<std::size_t>(document, "loopback_output");
    metadata.sample_rate_hz = field<double>(document, "sample_rate_hz");
    metadata.frames = field<std::size_t>(document, "frames");
    metadata.loopback_channel = optional_field<std::size_t>(document, "loopback_channel");

    const json channels = field<json>(document, "channels");
    if (!channels.is_array() || channels.empty()) {
        throw Error("'channels' must be a non-empty array, not " + channels.dump());
    }
    for (const json& item : channels) {
        metadata.channels.push_back(read_channel(item));
    }

    metadata.sweep = read_sweep(field<json>(document, "sweep"), metadata.sweep_frames);
    metadata.tail_s = field<double>(document, "tail_s");
    metadata.sound_s = field<double>(document, "sound_s");
    metadata.xrun_count = field<std::size_t>(document, "xrun_count");
    metadata.passes = field<std::size_t>(document, "passes");
    metadata.temperature_c = optional_field<double>(document, "temperature_c");
    metadata.humidity_percent = optional_field<double>(document, "humidity_percent");
    metadata.recorded_utc = field<std::string>(document, "recorded_utc");
    metadata.software = field<std::string>(document, "software");
    if (const auto found = document.find("multi_sweep"); found != document.end() && !found->is_null()) {
        metadata.multi_sweep = read_multi_sweep(*found);
        if (metadata.frames < metadata.multi_sweep->offset_frames + metadata.sweep_frames +
                                  metadata.multi_sweep->window_frames) {
            throw Error("'multi_sweep': the zone's offset, sweep and window exceed the recording's frames");
        }
    }

    // Recordings from before the "timing" key: a loopback gave absolute timing.
    metadata.timing = optional_field<std::string>(document, "timing")
                          .value_or(metadata.loopback_channel ? "absolute" : "relative");
    if (metadata.timing != "absolute" && metadata.timing != "relative" && metadata.timing != "invalid") {
        throw Error("'timing' is \"" + metadata.timing + "\"; expected \"absolute\", \"relative\" or \"invalid\"");
    }
    if (const auto found = document.find("repeats"); found != document.end() && !found->is_null()) {
        metadata.repeats = read_repeats(*found);
    }
    if (const auto found = document.find("room_t60"); found != document.end() && !found->is_null()) {
        metadata.room_t60 = read_room_t60(*found);
    }

    check_channels(metadata);
    return metadata;
}

}  // namespace

std::filesystem::path recording_folder(const std::filesystem::path& session_dir, const std::string& zone) {
    return session_dir / "measurements" / zone;
}

std::filesystem::path recording_wav_path(const std::filesystem::path& session_dir, const std::string& zone) {
    return recording_folder(session_dir, zone) / "recording.wav";
}

std::filesystem::path recording_json_path(const std::filesystem::path& session_dir, const std::string& zone) {
    return recording_folder(session_dir, zone) / "recording.json";
}

void write_recording_metadata(const std::filesystem::path& json_path, const RecordingMetadata& metadata) {
    json document;
    document["format"] = recording_format;
    document["version"] = recording_version;
    document["software"] = metadata.software;
    document["recorded_utc"] = metadata.recorded_utc;
    document["venue"] = metadata.venue;
    document["venue_file"] = metadata.venue_file.string();
    document["zone"] = metadata.zone;
    document["output"] = metadata.output;
    document["loopback_output"] = optional_count(metadata.loopback_output);
    document["sample_rate_hz"] = metadata.sample_rate_hz;
    document["frames"] = metadata.frames;
    document["loopback_channel"] = optional_count(metadata.loopback_channel);
    document["channels"] = json::array();
    for (const RecordingChannel& channel : metadata.channels) {
        document["channels"].push_back(channel_json(channel));
    }
    document["sweep"] = sweep_json(metadata.sweep, metadata.sweep_frames);
    document["tail_s"] = metadata.tail_s;
    document["sound_s"] = metadata.sound_s;
    document["xrun_count"] = metadata.xrun_count;
    document["passes"] = metadata.passes;
    document["temperature_c"] = optional_number(metadata.temperature_c);
    document["humidity_percent"] = optional_number(metadata.humidity_percent);
    if (metadata.multi_sweep) {
        document["multi_sweep"] = multi_sweep_json(*metadata.multi_sweep);
    }
    document["timing"] = metadata.timing;
    if (metadata.repeats) {
        document["repeats"] = repeats_json(*metadata.repeats);
    }
    if (metadata.room_t60) {
        document["room_t60"] = room_t60_json(*metadata.room_t60);
    }
    io::write_text_file(json_path, document.dump(2) + "\n");
}

RecordingMetadata read_recording_metadata(const std::filesystem::path& json_path) {
    const std::string label = "recording metadata '" + json_path.string() + "'";
    // Every JSON fault (syntax, a number beyond double range, a folder) names the file.
    const json document = io::parse_json_file(json_path, label, ErrorKind::input);
    try {
        return metadata_from_json(document);
    } catch (const Error& failure) {
        throw Error(label + ": " + failure.what() + "; measure the zone again");
    }
}

std::string utc_timestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

}  // namespace linetune::capture
