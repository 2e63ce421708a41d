#include "linetune/correction/corrections_file.hpp"

#include "linetune/core/error.hpp"
#include "linetune/correction/system_report.hpp"
#include "linetune/io/json_file.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace linetune::correction {
namespace {

using nlohmann::json;

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

/// A setting value without binary float noise (2.8000000000000003 → 2.8): device steps are
/// far coarser than 1e-6.
double rounded(double value) { return std::round(value * 1e6) / 1e6 + 0.0; }

json residual_json(const Residual& residual) {
    return {{"rms_before_db", number_or_null(residual.rms_before_db)},
            {"rms_after_db", number_or_null(residual.rms_after_db)},
            {"max_before_db", number_or_null(residual.max_before_db)},
            {"max_after_db", number_or_null(residual.max_after_db)}};
}

json curve_json(const FrequencyResponse& response) {
    json values = json::array();
    for (const double value : response.magnitude_db) {
        values.push_back(number_or_null(value));
    }
    return values;
}

json zone_json(const ZoneOutcome& zone) {
    json bands = json::array();
    for (const auto& band : zone.setting.bands) {
        bands.push_back({{"type", analysis::to_string(band.type)},
                         {"freq_hz", rounded(band.freq_hz)},
                         {"gain_db", rounded(band.gain_db)},
                         {"q", rounded(band.q)}});
    }
    json mics = json::array();
    for (const auto& mic : zone.mics) {
        json entry = residual_json(mic.residual);
        entry["mic"] = mic.mic;
        entry["weight"] = mic.weight;
        mics.push_back(entry);
    }
    json rejected = json::array();
    for (const auto& [mic, reason] : zone.rejected_mics) {
        rejected.push_back({{"mic", mic}, {"reason", reason}});
    }
    return {{"zone", zone.zone},
            {"amplifier", zone.amplifier},
            {"channel", zone.channel},
            {"delay_ms", rounded(zone.setting.delay_ms)},
            {"gain_db", rounded(zone.setting.gain_db)},
            {"bands", bands},
            {"polarity_fault", zone.polarity_fault},
            {"residual", residual_json(zone.residual)},
            {"mics", mics},
            {"rejected_mics", rejected},
            {"predicted",
             {{"freq_hz", zone.before.freq_hz},
              {"before_db", curve_json(zone.before)},
              {"after_db", curve_json(zone.after)},
              {"target_db", curve_json(zone.target)}}},
            {"notes", zone.notes}};
}

std::string csv_number(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value + 0.0);
    return text;
}

/// A CSV cell, quoted when it contains a comma, quote or line break.
std::string csv_cell(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) {
        return text;
    }
    std::string quoted = "\"";
    for (const char c : text) {
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return quoted + "\"";
}

double required_number(const json& object, const char* key, const std::string& where) {
    if (!object.contains(key) || !object.at(key).is_number()) {
        throw Error(where + ": \"" + key + "\" is missing or not a number", ErrorKind::configuration);
    }
    return object.at(key).get<double>();
}

/// Reads one entry of a zone's "bands" list; where names the file, zone and band.
analysis::ParametricBand read_band(const json& band, const std::string& where) {
    if (!band.is_object()) {
        throw Error(where + ": must be a JSON object {\"type\", \"freq_hz\", \"gain_db\", \"q\"}, not " + band.dump(),
                    ErrorKind::configuration);
    }
    const auto found_type = band.find("type");
    if (found_type == band.end() || !found_type->is_string()) {
        throw Error(where + ": \"type\" is missing or not a string (one of peaking, low_shelf, high_shelf, "
                            "high_pass, low_pass)",
                    ErrorKind::configuration);
    }
    const std::string type_name = found_type->get<std::string>();
    const auto type = analysis::parse_filter_type(type_name);
    if (!type) {
        throw Error(where + ": type '" + type_name + "' is not one of peaking, low_shelf, high_shelf, high_pass, low_pass",
                    ErrorKind::configuration);
    }
    return {*type, required_number(band, "freq_hz", where), required_number(band, "gain_db", where),
            required_number(band, "q", where)};
}

/// Reads one entry of the "zones" list; label names the file.
std::pair<std::string, ZoneSetting> read_zone(const json& zone, const std::string& label) {
    if (!zone.is_object() || !zone.contains("zone") || !zone.at("zone").is_string()) {
        throw Error(label + ": a zone entry has no \"zone\" name", ErrorKind::configuration);
    }
    const std::string name = zone.at("zone").get<std::string>();
    const std::string where = label + ", zone '" + name + "'";
    ZoneSetting setting;
    setting.delay_ms = required_number(zone, "delay_ms", where);
    setting.gain_db = required_number(zone, "gain_db", where);

    const auto bands = zone.find("bands");
    if (bands != zone.end() && !bands->is_array()) {
        throw Error(where + ": \"bands\" must be a JSON array [...], not " + std::string(bands->type_name()),
                    ErrorKind::configuration);
    }
    if (bands != zone.end()) {
        for (const auto& band : *bands) {
            setting.bands.push_back(read_band(band, where + ", band " + std::to_string(setting.bands.size() + 1)));
        }
    }
    return {name, setting};
}

}  // namespace

json corrections_json(const TuningResult& result) {
    json zones = json::array();
    for (const auto& zone : result.zones) {
        zones.push_back(zone_json(zone));
    }
    return {{"format", "linetune corrections"}, {"format_version", 1}, {"venue", result.venue_name},
            {"zones", zones}, {"system", system_outcome_json(result.system)}, {"notes", result.notes}};
}

std::string corrections_csv(const TuningResult& result) {
    std::ostringstream out;
    out << "zone,amplifier,channel,setting,type,freq_hz,gain_db,q,delay_ms\n";
    for (const auto& zone : result.zones) {
        const std::string prefix = csv_cell(zone.zone) + "," + csv_cell(zone.amplifier) + "," + std::to_string(zone.channel) + ",";
        out << prefix << "delay,,,,," << csv_number(zone.setting.delay_ms, 3) << '\n';
        out << prefix << "gain,,," << csv_number(zone.setting.gain_db, 2) << ",,\n";
        for (std::size_t i = 0; i < zone.setting.bands.size(); ++i) {
            const auto& band = zone.setting.bands[i];
            out << prefix << "band " << i + 1 << "," << analysis::to_string(band.type) << "," << csv_number(band.freq_hz, 1)
                << "," << csv_number(band.gain_db, 2) << "," << csv_number(band.q, 3) << ",\n";
        }
    }
    return out.str();
}

std::map<std::string, ZoneSetting> read_zone_settings(const std::filesystem::path& path, const std::string& venue_name) {
    const std::string label = "file '" + path.string() + "'";
    const json document = io::parse_json_file(path, label, ErrorKind::configuration);
    if (!document.is_object() || !document.contains("zones") || !document.at("zones").is_array()) {
        throw Error(label + ": not a corrections file (no \"zones\" list)", ErrorKind::configuration);
    }

    const auto found_venue = document.find("venue");
    if (found_venue == document.end() || !found_venue->is_string()) {
        throw Error(label + ": \"venue\" is missing or not a string; a corrections file names the venue it was made "
                            "for, so write it again with 'linetune tune --out'",
                    ErrorKind::configuration);
    }
    const std::string file_venue = found_venue->get<std::string>();
    if (file_venue != venue_name) {
        throw Error(label + ": it was made for venue '" + file_venue + "', not '" + venue_name +
                        "'; give the corrections file of this venue",
                    ErrorKind::configuration);
    }

    std::map<std::string, ZoneSetting> settings;
    for (const auto& zone : document.at("zones")) {
        auto [name, setting] = read_zone(zone, label);
        if (settings.contains(name)) {
            throw Error(label + ": zone '" + name + "' is listed twice; keep one entry per zone",
                        ErrorKind::configuration);
        }
        settings.emplace(name, std::move(setting));
    }
    return settings;
}

}  // namespace linetune::correction
