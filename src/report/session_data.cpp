#include "linetune/report/session_report.hpp"

#include "impulse_response_view.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/json_file.hpp"
#include "linetune/io/venue_file.hpp"

#include <algorithm>
#include <string>

namespace linetune::report {
namespace {

namespace fs = std::filesystem;

std::optional<double> optional_number(const nlohmann::json& object, const char* key) {
    const auto found = object.find(key);
    if (found == object.end() || !found->is_number()) {
        return std::nullopt;
    }
    return found->get<double>();
}

std::string text_or(const nlohmann::json& object, const char* key, const std::string& fallback) {
    const auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

/// Reads a curve of corrections.json's "predicted" object. A null entry (not finite when written) becomes NaN.
std::vector<double> curve_values(const nlohmann::json& predicted, const char* key) {
    std::vector<double> values;
    const auto found = predicted.find(key);
    if (found == predicted.end() || !found->is_array()) {
        return values;
    }
    for (const auto& value : *found) {
        values.push_back(value.is_number() ? value.get<double>() : std::nan(""));
    }
    return values;
}

FrequencyResponse predicted_curve(const nlohmann::json& predicted, const char* key) {
    FrequencyResponse curve;
    curve.freq_hz = curve_values(predicted, "freq_hz");
    curve.magnitude_db = curve_values(predicted, key);
    if (curve.magnitude_db.size() != curve.freq_hz.size()) {
        return {};
    }
    return curve;
}

void read_corrections(const nlohmann::json& document, std::vector<ZoneView>& zones) {
    const auto found = document.find("zones");
    if (found == document.end() || !found->is_array()) {
        return;
    }
    for (const auto& entry : *found) {
        const std::string name = text_or(entry, "zone", "");
        const auto zone = std::find_if(zones.begin(), zones.end(), [&](const ZoneView& z) { return z.zone.name == name; });
        if (zone == zones.end()) {
            continue;
        }
        zone->tuned = true;
        zone->delay_ms = optional_number(entry, "delay_ms").value_or(0.0);
        zone->gain_db = optional_number(entry, "gain_db").value_or(0.0);
        zone->polarity_fault = entry.value("polarity_fault", false);
        for (const auto& band : entry.value("bands", nlohmann::json::array())) {
            zone->bands.push_back({text_or(band, "type", "?"), optional_number(band, "freq_hz").value_or(0.0),
                                   optional_number(band, "gain_db").value_or(0.0),
                                   optional_number(band, "q").value_or(0.0)});
        }
        const nlohmann::json predicted = entry.value("predicted", nlohmann::json::object());
        zone->predicted_before = predicted_curve(predicted, "before_db");
        zone->predicted_after = predicted_curve(predicted, "after_db");
        zone->target = predicted_curve(predicted, "target_db");
        if (entry.contains("residual") && entry.at("residual").is_object()) {
            zone->predicted_rms_after_db = optional_number(entry.at("residual"), "rms_after_db");
            zone->rms_before_db = optional_number(entry.at("residual"), "rms_before_db");
        }
        for (const auto& note : entry.value("notes", nlohmann::json::array())) {
            if (note.is_string()) {
                zone->notes.push_back(note.get<std::string>());
            }
        }
        for (const auto& rejected : entry.value("rejected_mics", nlohmann::json::array())) {
            zone->notes.push_back("mic '" + text_or(rejected, "mic", "?") + "' left out of the tuning: " +
                                  text_or(rejected, "reason", "no reason given"));
        }
    }
}

void read_summary(const nlohmann::json& document, SessionView& session) {
    session.pushed = true;
    const nlohmann::json push = document.value("push", nlohmann::json::object());
    session.push_succeeded = push.value("succeeded", false);
    for (const auto& device : push.value("devices", nlohmann::json::array())) {
        session.devices.push_back({text_or(device, "amplifier", "?"), text_or(device, "outcome", "?"),
                                   device.value("writes_sent", 0L)});
    }
    for (const auto& warning : document.value("warnings", nlohmann::json::array())) {
        if (warning.is_string()) {
            session.warnings.push_back(warning.get<std::string>());
        }
    }
    for (const auto& entry : document.value("zones", nlohmann::json::array())) {
        const std::string name = text_or(entry, "zone", "");
        for (auto& zone : session.zones) {
            if (zone.zone.name != name) {
                continue;
            }
            zone.rms_before_db = optional_number(entry, "rms_before_db");
            zone.rms_after_db = optional_number(entry, "rms_after_db");
            for (const auto& mic_entry : entry.value("mics", nlohmann::json::array())) {
                for (auto& mic : zone.mics) {
                    if (mic.mic == text_or(mic_entry, "mic", "")) {
                        mic.rms_before_db = optional_number(mic_entry, "rms_before_db");
                        mic.rms_after_db = optional_number(mic_entry, "rms_after_db");
                    }
                }
            }
        }
    }
}

/// Reads one mic's impulse response from path, or nothing when the file is absent. A file that
/// cannot be analysed becomes a warning, so one bad file never hides the rest of the report.
std::optional<ImpulseResponseView> read_mic_response(const Zone& zone, const Microphone& mic, const fs::path& path,
                                                     std::optional<std::size_t> channel, SessionView& session) {
    std::error_code error;
    if (!fs::is_regular_file(path, error)) {
        return std::nullopt;
    }
    try {
        return read_impulse_response_view(path, channel);
    } catch (const Error& failure) {
        session.warnings.push_back("zone '" + zone.name + "', mic '" + mic.name + "': " + failure.what());
        return std::nullopt;
    }
}

/// Adds the sidecar and analysis flags of every impulse response to the warnings, once per mic.
void collect_flag_warnings(SessionView& session) {
    for (const auto& zone : session.zones) {
        for (const auto& mic : zone.mics) {
            for (const auto* view : {mic.before ? &*mic.before : nullptr, mic.after ? &*mic.after : nullptr}) {
                if (view == nullptr || view->flags.empty()) {
                    continue;
                }
                std::string flags;
                for (const auto& flag : view->flags) {
                    flags += (flags.empty() ? "" : ", ") + flag;
                }
                session.warnings.push_back("zone '" + zone.zone.name + "', mic '" + mic.mic + "' (" +
                                           (view == &*mic.before ? "before" : "after") + "): " + flags);
            }
        }
        for (const auto& note : zone.notes) {
            session.warnings.push_back("zone '" + zone.zone.name + "': " + note);
        }
        if (zone.polarity_fault) {
            session.warnings.push_back("zone '" + zone.zone.name +
                                       "': polarity fault: the zone is inverted against the polarity reference; "
                                       "check the amplifier channel's polarity and the speaker wiring");
        }
    }
}

}  // namespace

SessionView read_session(const fs::path& session_dir) {
    SessionView session;
    session.folder = session_dir;
    const fs::path venue_path = session_dir / "venue.json";
    std::error_code error;
    if (!fs::is_regular_file(venue_path, error)) {
        throw Error("session folder '" + session_dir.string() +
                        "': venue.json not found; give the folder that 'linetune run' wrote (it contains venue.json, "
                        "corrections.json and impulse-responses/)",
                    ErrorKind::configuration);
    }
    session.venue = io::read_venue_file(venue_path, io::default_hardware_dir());

    for (const auto& zone : session.venue.zones) {
        ZoneView view;
        view.zone = zone;
        for (const auto& mic : session.venue.microphones) {
            if (mic.zone_weights.contains(zone.name)) {
                MicView mic_view;
                mic_view.mic = mic.name;
                // Before: where the tuning read it (the venue's measurement map wins over the
                // session's impulse responses). After: only the second measurement of a push.
                const fs::path before_path =
                    measurement_path(session.venue, zone.name, mic.name, session_dir / "impulse-responses");
                const fs::path after_path = session_dir / "after" / "impulse-responses" / zone.name / (mic.name + ".wav");
                mic_view.before = read_mic_response(zone, mic, before_path,
                                                    measurement_channel(session.venue, zone.name, mic.name), session);
                mic_view.after = read_mic_response(zone, mic, after_path, std::nullopt, session);
                view.mics.push_back(std::move(mic_view));
            }
        }
        session.zones.push_back(std::move(view));
    }

    if (fs::is_regular_file(session_dir / "corrections.json", error)) {
        const nlohmann::json corrections =
            io::parse_json_file(session_dir / "corrections.json", "corrections '" + (session_dir / "corrections.json").string() + "'");
        session.linetune_version = text_or(corrections, "linetune_version", "");
        read_corrections(corrections, session.zones);
    } else {
        session.missing.push_back("corrections.json");
    }
    if (fs::is_regular_file(session_dir / "summary.json", error)) {
        const nlohmann::json summary =
            io::parse_json_file(session_dir / "summary.json", "summary '" + (session_dir / "summary.json").string() + "'");
        read_summary(summary, session);
    } else {
        session.missing.push_back("summary.json");
    }
    collect_flag_warnings(session);
    return session;
}

}  // namespace linetune::report
