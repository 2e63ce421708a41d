#include "linetune/io/impulse_response_file.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/wav_writer.hpp"

#include "json_fields.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <string_view>
#include <system_error>

namespace linetune::io {
namespace {

using nlohmann::json;

// Sidecar versions this reader understands; a later version may change the meaning of a key.
constexpr int sidecar_version = 1;

std::string quoted(const std::filesystem::path& path) { return "file '" + path.string() + "'"; }

/// Time-base source for its JSON name, or nothing for an unknown name.
std::optional<TimeBaseSource> parse_time_base_source(std::string_view name) {
    constexpr std::array sources = {TimeBaseSource::file_start, TimeBaseSource::t0_sample_option,
                                    TimeBaseSource::rew_start_time, TimeBaseSource::loopback};
    for (const TimeBaseSource source : sources) {
        if (to_string(source) == name) {
            return source;
        }
    }
    return std::nullopt;
}

json sidecar_json(const MultichannelSignal& impulse_response, const ImpulseResponseOrigin& origin,
                  const std::filesystem::path& wav_path) {
    json document;
    document["format"] = impulse_response_sidecar_format;
    document["version"] = sidecar_version;
    document["audio_file"] = wav_path.filename().string();
    document["sample_rate_hz"] = impulse_response.sample_rate_hz();
    document["frames"] = impulse_response.frame_count();
    document["time_zero_sample"] = impulse_response.time_base.time_zero_sample;
    document["time_base"] = std::string(to_string(impulse_response.time_base.source));
    document["zone"] = origin.zone;
    document["mic"] = origin.mic;
    document["recording"] = origin.recording.generic_string();
    document["recording_channel"] = origin.recording_channel;
    document["latency_samples"] = origin.latency_samples ? json(*origin.latency_samples) : json(nullptr);
    if (origin.band_hz) {
        document["band_hz"] = {{"low_hz", origin.band_hz->low_hz}, {"high_hz", origin.band_hz->high_hz}};
    }
    document["recording_peak_dbfs"] =
        origin.recording_peak_dbfs ? json(*origin.recording_peak_dbfs) : json(nullptr);
    document["flags"] = origin.flags;
    document["notes"] = origin.notes;
    return document;
}

std::vector<std::string> string_list(const detail::JsonObjectReader& reader, std::string_view key) {
    std::vector<std::string> values;
    const json* items = reader.array(key, false);
    if (items == nullptr) {
        return values;
    }
    for (const json& item : *items) {
        if (!item.is_string()) {
            reader.problem("'" + std::string(key) + "' must hold strings only, not " + item.dump());
            continue;
        }
        values.push_back(item.get<std::string>());
    }
    return values;
}

std::optional<FrequencyBand> read_band(const detail::JsonObjectReader& reader, std::vector<std::string>& problems) {
    const json* item = reader.value("band_hz", false);
    if (item == nullptr || item->is_null()) {
        return std::nullopt;
    }
    const detail::JsonObjectReader band(*item, "band_hz", problems, {"low_hz", "high_hz"});
    const auto low = band.number("low_hz", true);
    const auto high = band.number("high_hz", true);
    if (!low || !high) {
        return std::nullopt;
    }
    return FrequencyBand{*low, *high};
}

}  // namespace

std::filesystem::path impulse_response_sidecar_path(const std::filesystem::path& wav_path) {
    std::filesystem::path sidecar = wav_path;
    sidecar.replace_extension(".json");
    return sidecar;
}

void write_impulse_response(const std::filesystem::path& wav_path, const MultichannelSignal& impulse_response,
                            const ImpulseResponseOrigin& origin) {
    const std::filesystem::path sidecar = impulse_response_sidecar_path(wav_path);
    std::error_code error;
    if (wav_path.has_parent_path()) {
        std::filesystem::create_directories(wav_path.parent_path(), error);
        if (error) {
            throw Error("folder '" + wav_path.parent_path().string() + "': cannot be created (" + error.message() +
                            "); choose a writable session folder",
                        ErrorKind::input);
        }
    }
    // Without its sidecar a WAV reads with a relative time base, which is safe. An old sidecar
    // beside a new WAV would claim a time base that is not the WAV's.
    std::filesystem::remove(sidecar, error);
    if (error) {
        throw Error(quoted(sidecar) + ": the old sidecar cannot be removed (" + error.message() +
                    "); make the folder writable");
    }

    try {
        write_wav(wav_path, impulse_response, WavEncoding::float32);
    } catch (const Error& failure) {
        throw failure.with_context(quoted(wav_path));
    }
    write_text_file(sidecar, sidecar_json(impulse_response, origin, wav_path).dump(2) + "\n");
}

std::optional<ImpulseResponseSidecar> read_impulse_response_sidecar(const std::filesystem::path& sidecar_path) {
    const std::string head = "impulse-response sidecar '" + sidecar_path.string() + "'";
    json document;
    try {
        document = detail::parse_json_file(sidecar_path, head);
    } catch (const Error& failure) {
        throw Error(failure.what(), ErrorKind::input);
    }
    const auto format = document.is_object() ? document.find("format") : document.end();
    if (!document.is_object() || format == document.end() || *format != impulse_response_sidecar_format) {
        return std::nullopt;
    }

    std::vector<std::string> problems;
    const detail::JsonObjectReader reader(
        document, "", problems,
        {"format", "version", "audio_file", "sample_rate_hz", "frames", "time_zero_sample", "time_base", "zone",
         "mic", "recording", "recording_channel", "latency_samples", "band_hz", "recording_peak_dbfs", "flags",
         "notes"});
    ImpulseResponseSidecar sidecar;
    const auto version = reader.count("version", true, 1);
    if (version && *version != sidecar_version) {
        reader.problem("version " + std::to_string(*version) + " is not supported (this linetune reads version " +
                       std::to_string(sidecar_version) + "); update linetune or write the sidecar again");
    }
    sidecar.sample_rate_hz = reader.number("sample_rate_hz", true).value_or(0.0);
    sidecar.frames = reader.count("frames", true, 1).value_or(0);
    const auto time_zero = reader.number("time_zero_sample", true);
    const auto source_name = reader.text("time_base", true);
    const auto source = source_name ? parse_time_base_source(*source_name) : std::nullopt;
    if (source_name && !source) {
        reader.problem("'time_base' \"" + *source_name + "\" is unknown (known: file_start, t0_sample_option, "
                       "rew_start_time, loopback)");
    }
    if (time_zero && sidecar.frames > 0 && !(*time_zero >= 0.0 && *time_zero < static_cast<double>(sidecar.frames))) {
        reader.problem("'time_zero_sample' " + detail::format_number(*time_zero) + " lies outside the 0 to " +
                       std::to_string(sidecar.frames - 1) + " samples of the audio");
    }
    sidecar.time_base = {time_zero.value_or(0.0), source.value_or(TimeBaseSource::file_start)};
    sidecar.origin.zone = reader.text("zone", false).value_or("");
    sidecar.origin.mic = reader.text("mic", false).value_or("");
    sidecar.origin.recording = reader.text("recording", false).value_or("");
    sidecar.origin.recording_channel = reader.count("recording_channel", false, 0).value_or(0);
    if (const json* latency = reader.value("latency_samples", false); latency != nullptr && !latency->is_null()) {
        sidecar.origin.latency_samples = reader.number("latency_samples", false);
    }
    sidecar.origin.band_hz = read_band(reader, problems);
    if (const json* peak = reader.value("recording_peak_dbfs", false); peak != nullptr && !peak->is_null()) {
        sidecar.origin.recording_peak_dbfs = reader.number("recording_peak_dbfs", false);
    }
    sidecar.origin.flags = string_list(reader, "flags");
    sidecar.origin.notes = string_list(reader, "notes");

    if (!problems.empty()) {
        throw Error(detail::make_problems_error(head, problems).what(), ErrorKind::input);
    }
    return sidecar;
}

}  // namespace linetune::io
