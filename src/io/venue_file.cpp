#include "linetune/io/venue_file.hpp"

#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/mic_calibration.hpp"
#include "linetune/io/response_text.hpp"

#include "json_fields.hpp"

#include <cctype>
#include <cmath>
#include <set>

namespace linetune::io {
namespace {

using detail::format_number;
using detail::format_quantity;
using detail::JsonObjectReader;
using nlohmann::json;

// Bounds that catch unit mistakes and typos in a venue file, each with what it protects.
constexpr double max_venue_distance_m = 1000.0;   // larger than any festival site; a bigger value is mm or feet
constexpr double min_temperature_c = -30.0;       // outdoor range in which sound speed is still modelled
constexpr double max_temperature_c = 60.0;
constexpr double max_level_offset_db = 20.0;      // zone levels more than 20 dB apart are a different system
constexpr std::size_t max_interface_inputs = 256;
constexpr std::size_t max_interface_outputs = 256;
constexpr double min_interface_rate_hz = 8000.0;    // below this no sweep covers the audio band
constexpr double max_interface_rate_hz = 384000.0;  // the highest rate audio interfaces offer
// Push safety limits: the documented defaults live in core/venue.hpp (PushSafetyLimits); these are
// the widest values a venue file may set, beyond which a push could damage drivers or ears.
constexpr double max_safety_gain_increase_db = 12.0;
constexpr double max_safety_boost_db = 24.0;
constexpr double max_safety_delay_margin_ms = 100.0;

// Largest deviation of a target from its own mean within one zone's fit band. A wider target requests
// more than the gain range of any profile (±15 dB on the generic DSP), so it is a unit
// mistake or a curve meant for another band. Outside the fit bands the target is never used: a
// DRC target with −200 dB at 0 Hz is valid as long as no zone fits that low.
constexpr double max_target_deviation_db = 30.0;

// Default maximum EQ boost per system. Each dB of boost costs amplifier headroom and cone
// excursion. At constant sound pressure the excursion grows 12 dB per octave towards low
// frequencies (displacement ∝ 1/f²), so subs default to a smaller boost than the other systems.
constexpr double default_max_boost_db = 6.0;
constexpr double default_sub_max_boost_db = 3.0;

// Default arrival of fills and delay towers after the mains. Within about 5 to 30 ms the ear still
// fuses the later sound with the first (precedence or Haas effect) and localises to the mains;
// 5 ms keeps the image on the stage without an audible echo.
constexpr double default_fill_precedence_ms = 5.0;
constexpr double max_precedence_ms = 30.0;  // beyond this the later arrival is heard as an echo
// Subs meet the mains between these: below 20 Hz there is no music to align, above 500 Hz a
// subwoofer no longer reaches.
constexpr double min_crossover_hz = 20.0;
constexpr double max_crossover_hz = 500.0;
// A hang's boxes couple where the wavelength is long against their spacing; above 1 kHz no
// hang acts as one source.
constexpr double max_coupling_hz = 1000.0;
// A target that falls faster than 12 dB per doubling would leave the far seats tens of dB down.
constexpr double max_level_drop_db_per_doubling = 12.0;

// Points per octave at which a target is sampled to check its deviation in a band.
constexpr double target_check_points_per_octave = 24.0;

/// Formats a band as "[20, 20000]" for messages.
std::string format_band(const FrequencyBand& band) {
    return "[" + format_number(band.low_hz) + ", " + format_number(band.high_hz) + "]";
}

/// Checks that a profile name is a file stem inside the hardware folder: no folders, no leading dot.
bool is_valid_profile_name(const std::string& name) {
    if (name.empty() || name.front() == '.') {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    });
}

/// Every problem of one venue file, read in the order the checks depend on each other:
/// amplifiers (and their profiles) before zones, zones before the target, microphones and
/// measurements.
class VenueReader {
public:
    VenueReader(const std::filesystem::path& path, const std::filesystem::path& hardware_dir,
                bool require_measurement_files)
        : venue_dir_(path.parent_path()),
          hardware_dir_(hardware_dir),
          require_measurement_files_(require_measurement_files) {
        venue_.file = path;
    }

    Venue read(const json& document) {
        const JsonObjectReader top(document, "", problems_,
                                   {"name", "description", "max_distance_m", "temperature_c", "humidity_percent",
                                    "target", "amplifiers", "zones", "microphones", "measurements",
                                    "audio_interface", "safety", "system"});
        if (!top.valid()) {
            return venue_;
        }

        read_venue_fields(top);
        read_audio_interface(top);
        read_safety(top);
        read_amplifiers(top);
        read_zones(top);
        read_target(top);
        read_microphones(top);
        read_system(top);
        check_zone_coverage();
        check_interface_channels();
        read_measurements(top);
        return venue_;
    }

    [[nodiscard]] const std::vector<std::string>& problems() const { return problems_; }

private:
    Venue venue_;
    std::filesystem::path venue_dir_;
    std::filesystem::path hardware_dir_;
    bool require_measurement_files_ = true;
    std::vector<std::string> problems_;
    std::set<std::string> amplifiers_with_profile_;  // amplifiers whose profile loaded

    void problem(const std::string& text) { problems_.push_back(text); }

    void read_venue_fields(const JsonObjectReader& top) {
        venue_.name = top.text("name", true).value_or("");
        (void)top.text("description", false);

        if (const auto distance = top.number("max_distance_m", true)) {
            venue_.max_distance_m = *distance;
            if (*distance <= 0.0 || *distance > max_venue_distance_m) {
                top.problem("max_distance_m " + format_quantity(*distance, "m") + " is outside 0 to " +
                            format_quantity(max_venue_distance_m, "m") +
                            "; give the largest source-to-listener distance in metres");
            }
        }
        if (const auto temperature = top.number("temperature_c", false)) {
            venue_.temperature_c = *temperature;
            if (*temperature < min_temperature_c || *temperature > max_temperature_c) {
                top.problem("temperature_c " + format_quantity(*temperature, "°C") + " is outside " +
                            format_quantity(min_temperature_c, "°C") + " to " +
                            format_quantity(max_temperature_c, "°C") + "; give the air temperature in °C");
            }
        }
        if (const auto humidity = top.number("humidity_percent", false)) {
            venue_.humidity_percent = *humidity;
            if (*humidity < 0.0 || *humidity > 100.0) {
                top.problem("humidity_percent " + format_quantity(*humidity, "%") +
                            " is outside 0 to 100 %; give the relative humidity");
            }
        }
    }

    // ---- audio interface and push safety ----------------------------------------------------

    void read_audio_interface(const JsonObjectReader& top) {
        const auto* item = top.value("audio_interface", false);
        if (item == nullptr) {
            return;
        }
        const JsonObjectReader reader(*item, "audio_interface", problems_, {"sample_rate_hz", "loopback", "room_t60_s"});
        auto& setup = venue_.audio_interface;
        if (const auto rate = reader.number("sample_rate_hz", false)) {
            if (*rate < min_interface_rate_hz || *rate > max_interface_rate_hz) {
                reader.problem("sample_rate_hz " + format_quantity(*rate, "Hz") + " is outside " +
                               format_quantity(min_interface_rate_hz, "Hz") + " to " +
                               format_quantity(max_interface_rate_hz, "Hz") + "; give the interface's sample rate");
            } else {
                setup.sample_rate_hz = *rate;
            }
        }
        if (const auto t60 = reader.number("room_t60_s", false)) {
            // The measure command's tail range (--tail-s): 0.05 s to 30 s.
            if (*t60 < 0.05 || *t60 > 30.0) {
                reader.problem("room_t60_s " + format_quantity(*t60, "s") +
                               " is outside 0.05 to 30 s; give the room's reverberation time in seconds");
            } else {
                setup.room_t60_s = *t60;
            }
        }
        if (const auto* loopback = reader.value("loopback", false)) {
            const JsonObjectReader route(*loopback, "audio_interface: loopback", problems_, {"output", "input"});
            const auto output = route.count("output", true, 1);
            const auto input = route.count("input", true, 1);
            if (output && *output > max_interface_outputs) {
                route.problem("output " + std::to_string(*output) + " is above " + std::to_string(max_interface_outputs));
            } else if (input && *input > max_interface_inputs) {
                route.problem("input " + std::to_string(*input) + " is above " + std::to_string(max_interface_inputs));
            } else if (output && input) {
                setup.loopback = LoopbackRoute{*output, *input};
            }
        }
    }

    // ---- system tuning: subs-to-mains alignment, hang coupling, level shading --------------------

    void read_system(const JsonObjectReader& top) {
        const auto* item = top.value("system", false);
        if (item == nullptr) {
            return;
        }
        const JsonObjectReader reader(*item, "system", problems_,
                                      {"alignment_mics", "crossover_hz", "coupling_below_hz", "level_drop_db_per_doubling"});
        auto& system = venue_.system;
        if (const auto* mics = reader.array("alignment_mics", false)) {
            for (const auto& mic : *mics) {
                const bool known = mic.is_string() && std::any_of(venue_.microphones.begin(), venue_.microphones.end(),
                                                                  [&](const Microphone& m) { return m.name == mic.get<std::string>(); });
                if (!known) {
                    reader.problem("alignment_mics: " + mic.dump() + " is not a microphone of the venue; name one of \"microphones\"");
                    continue;
                }
                system.alignment_mics.push_back(mic.get<std::string>());
            }
        }
        if (const auto crossover = reader.number("crossover_hz", false)) {
            if (*crossover < min_crossover_hz || *crossover > max_crossover_hz) {
                reader.problem("crossover_hz " + format_quantity(*crossover, "Hz") + " is outside " +
                               format_quantity(min_crossover_hz, "Hz") + " to " + format_quantity(max_crossover_hz, "Hz") +
                               "; give the frequency where subs and mains meet");
            } else {
                system.crossover_hz = *crossover;
            }
        }
        if (const auto coupling = reader.number("coupling_below_hz", false)) {
            if (*coupling < 0.0 || *coupling > max_coupling_hz) {
                reader.problem("coupling_below_hz " + format_quantity(*coupling, "Hz") + " is outside 0 to " +
                               format_quantity(max_coupling_hz, "Hz") + "; 0 turns the coupling off");
            } else {
                system.coupling_below_hz = *coupling;
            }
        }
        if (const auto drop = reader.number("level_drop_db_per_doubling", false)) {
            if (*drop < 0.0 || *drop > max_level_drop_db_per_doubling) {
                reader.problem("level_drop_db_per_doubling " + format_quantity(*drop, "dB") + " is outside 0 to " +
                               format_quantity(max_level_drop_db_per_doubling, "dB") +
                               "; give the level drop per doubling of distance the audience should hear");
            } else {
                system.level_drop_db_per_doubling = *drop;
            }
        }
    }

    void read_safety(const JsonObjectReader& top) {
        const auto* item = top.value("safety", false);
        if (item == nullptr) {
            return;
        }
        const JsonObjectReader reader(*item, "safety", problems_,
                                      {"max_gain_increase_db", "max_band_boost_db", "max_total_boost_db", "delay_margin_ms"});
        auto& safety = venue_.safety;
        read_safety_limit(reader, "max_gain_increase_db", "dB", max_safety_gain_increase_db, safety.max_gain_increase_db);
        read_safety_limit(reader, "max_band_boost_db", "dB", max_safety_boost_db, safety.max_band_boost_db);
        read_safety_limit(reader, "max_total_boost_db", "dB", max_safety_boost_db, safety.max_total_boost_db);
        read_safety_limit(reader, "delay_margin_ms", "ms", max_safety_delay_margin_ms, safety.delay_margin_ms);
    }

    static void read_safety_limit(const JsonObjectReader& reader, std::string_view key, std::string_view unit,
                                  double widest, double& limit) {
        const auto value = reader.number(key, false);
        if (!value) {
            return;
        }
        if (*value < 0.0 || *value > widest) {
            reader.problem(std::string(key) + " " + format_quantity(*value, unit) + " is outside 0 to " +
                           format_quantity(widest, unit) + "; a wider limit would let a push harm drivers or ears");
            return;
        }
        limit = *value;
    }

    /// Checks that each interface output feeds one zone, that the loopback has its own output and input, and that no
    /// microphone shares the loopback input.
    void check_interface_channels() {
        std::map<std::size_t, std::string> zone_of_output;
        for (const auto& zone : venue_.zones) {
            if (zone.output == 0) {
                continue;
            }
            const auto [entry, inserted] = zone_of_output.emplace(zone.output, zone.name);
            if (!inserted) {
                problem("zone '" + zone.name + "': interface output " + std::to_string(zone.output) +
                        " already feeds zone '" + entry->second + "'; give each zone its own \"output\"");
            }
        }
        const auto& loopback = venue_.audio_interface.loopback;
        if (!loopback) {
            return;
        }
        if (const auto used = zone_of_output.find(loopback->output); used != zone_of_output.end()) {
            problem("audio_interface: loopback output " + std::to_string(loopback->output) + " also feeds zone '" +
                    used->second + "'; wire the loopback from an output of its own");
        }
        for (const auto& mic : venue_.microphones) {
            if (mic.input == loopback->input) {
                problem("microphone '" + mic.name + "': input " + std::to_string(mic.input) +
                        " is the loopback input; give the microphone another input");
            }
        }
    }

    // ---- amplifiers and their limits ------------------------------------------------------

    void read_amplifiers(const JsonObjectReader& top) {
        const auto* list = top.array("amplifiers", true);
        if (list == nullptr) {
            return;
        }
        if (list->empty()) {
            top.problem("\"amplifiers\" is empty; list the amplifiers that drive the zones");
        }
        for (std::size_t index = 0; index < list->size(); ++index) {
            read_amplifier((*list)[index], index);
        }
    }

    void read_amplifier(const json& item, std::size_t index) {
        const auto name = item.is_object() && item.contains("name") && item["name"].is_string()
                              ? item["name"].get<std::string>()
                              : std::string();
        const std::string context = name.empty() ? "amplifier " + std::to_string(index + 1) : "amplifier '" + name + "'";
        const JsonObjectReader reader(item, context, problems_, {"name", "profile", "limits", "host", "port"});
        if (!reader.valid()) {
            return;
        }

        Amplifier amplifier;
        amplifier.name = reader.text("name", true).value_or("");
        amplifier.profile_name = reader.text("profile", true).value_or("");
        read_control_address(reader, amplifier);
        for (const auto& other : venue_.amplifiers) {
            if (!amplifier.name.empty() && other.name == amplifier.name) {
                reader.problem("the name is used twice; give each amplifier its own name");
            }
        }

        if (load_profile(reader, amplifier)) {
            amplifier.limits = amplifier.profile.limits;
            if (const auto* limits = reader.value("limits", false)) {
                tighten_limits(reader, *limits, amplifier);
            }
            amplifiers_with_profile_.insert(amplifier.name);
        }
        venue_.amplifiers.push_back(std::move(amplifier));
    }

    /// "host" and "port" of the amplifier's control endpoint; without them it is export-only.
    static void read_control_address(const JsonObjectReader& reader, Amplifier& amplifier) {
        const auto host = reader.text("host", false);
        const auto port = reader.count("port", false, 1);
        if (host && host->empty()) {
            reader.problem("'host' is empty; give the amplifier's IP address or name, or remove the key");
            return;
        }
        if (host.has_value() != port.has_value()) {
            reader.problem(host ? "'host' is given without 'port'; add the control port (1 to 65535)"
                                : "'port' is given without 'host'; add the amplifier's IP address or name");
            return;
        }
        if (port && *port > 65535) {
            reader.problem("port " + std::to_string(*port) + " is above 65535; give the amplifier's control port");
            return;
        }
        if (host) {
            amplifier.host = *host;
            amplifier.port = static_cast<std::uint16_t>(*port);
        }
    }

    bool load_profile(const JsonObjectReader& reader, Amplifier& amplifier) {
        if (amplifier.profile_name.empty()) {
            return false;
        }
        if (!is_valid_profile_name(amplifier.profile_name)) {
            reader.problem("profile '" + amplifier.profile_name +
                           "' is not a file name; give the stem of a .json file in the hardware folder");
            return false;
        }

        const auto path = hardware_dir_ / (amplifier.profile_name + ".json");
        if (!std::filesystem::is_regular_file(path)) {
            reader.problem("profile '" + amplifier.profile_name + "' not found: no file '" + path.string() +
                           "'; use a profile from that folder or add one");
            return false;
        }
        try {
            amplifier.profile = read_device_profile(path);
        } catch (const Error& error) {
            reader.problem(error.what());
            return false;
        }
        return true;
    }

    /// Applies the venue's "limits" to the amplifier's effective limits. A limit may only
    /// narrow what the profile allows: a wider one is a problem, because linetune would then
    /// write values the device rejects or clips.
    void tighten_limits(const JsonObjectReader& amplifier_reader, const json& limits_json, Amplifier& amplifier) {
        const JsonObjectReader limits(limits_json, amplifier_reader.context(), problems_, {"eq", "delay_ms", "gain_db"});
        if (!limits.valid()) {
            return;
        }
        auto& effective = amplifier.limits;
        const auto& profile = amplifier.profile.limits;

        if (const auto* eq_json = limits.value("eq", false)) {
            const JsonObjectReader eq(*eq_json, limits.context(), problems_,
                                      {"max_bands", "filter_types", "freq_hz", "gain_db", "q"});
            tighten_eq(eq, amplifier);
            tighten_range(eq, "limits.eq.freq_hz", "freq_hz", "Hz", profile.eq.freq_hz, effective.eq.freq_hz, amplifier);
            tighten_range(eq, "limits.eq.gain_db", "gain_db", "dB", profile.eq.gain_db, effective.eq.gain_db, amplifier);
            tighten_range(eq, "limits.eq.q", "q", "", profile.eq.q, effective.eq.q, amplifier);
        }

        if (const auto* delay_json = limits.value("delay_ms", false)) {
            const JsonObjectReader delay(*delay_json, limits.context(), problems_, {"max"});
            if (const auto max = delay.number("max", true)) {
                if (*max > profile.delay_ms.max) {
                    report_widening(delay, "limits.delay_ms.max", *max, "ms", profile.delay_ms.max, amplifier);
                } else if (*max < 0.0) {
                    delay.problem("limits.delay_ms.max " + format_quantity(*max, "ms") + " must be 0 ms or more");
                } else {
                    effective.delay_ms.max = *max;
                }
            }
        }

        tighten_range(limits, "limits.gain_db", "gain_db", "dB", profile.gain_db, effective.gain_db, amplifier);
    }

    void tighten_eq(const JsonObjectReader& eq, Amplifier& amplifier) {
        const auto& profile_eq = amplifier.profile.limits.eq;
        auto& effective_eq = amplifier.limits.eq;

        if (const auto bands = eq.count("max_bands", false, 1)) {
            if (*bands > profile_eq.max_bands) {
                report_widening(eq, "limits.eq.max_bands", static_cast<double>(*bands), "",
                                static_cast<double>(profile_eq.max_bands), amplifier);
            } else {
                effective_eq.max_bands = *bands;
            }
        }

        if (const auto* types = eq.array("filter_types", false)) {
            std::vector<FilterKind> kinds;
            for (const auto& type : *types) {
                const auto kind = type.is_string() ? parse_filter_kind(type.get<std::string>()) : std::nullopt;
                if (!kind) {
                    eq.problem("limits.eq.filter_types entry " + type.dump() +
                               " is not one of peaking, low_shelf, high_shelf, high_pass, low_pass");
                } else if (!profile_eq.offers(*kind)) {
                    eq.problem("limits.eq.filter_types '" + std::string(to_string(*kind)) +
                               "' widens the profile '" + amplifier.profile_name +
                               "', which does not offer it; remove it from the limits");
                } else if (std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) {
                    kinds.push_back(*kind);
                }
            }
            if (types->empty()) {
                eq.problem("limits.eq.filter_types is empty; list at least one filter type or remove the key");
            } else {
                effective_eq.filter_types = kinds;
            }
        }
    }

    /// Narrows effective to the {"min", "max"} of key; step is a property of the device and
    /// cannot be set here.
    void tighten_range(const JsonObjectReader& parent, const std::string& path, std::string_view key,
                       std::string_view unit, const Range& profile, Range& effective, const Amplifier& amplifier) {
        const auto* item = parent.value(key, false);
        if (item == nullptr) {
            return;
        }
        const JsonObjectReader reader(*item, parent.context(), problems_, {"min", "max"});
        Range narrowed = effective;

        if (const auto min = reader.number("min", false)) {
            if (*min < profile.min) {
                report_widening(reader, path + ".min", *min, unit, profile.min, amplifier);
            } else {
                narrowed.min = *min;
            }
        }
        if (const auto max = reader.number("max", false)) {
            if (*max > profile.max) {
                report_widening(reader, path + ".max", *max, unit, profile.max, amplifier);
            } else {
                narrowed.max = *max;
            }
        }
        if (narrowed.min > narrowed.max) {
            reader.problem(path + " leaves an empty range " + format_quantity(narrowed.min, unit) + " to " +
                           format_quantity(narrowed.max, unit) + "; make min at most max");
            return;
        }
        effective = narrowed;
    }

    void report_widening(const JsonObjectReader& reader, const std::string& path, double value,
                         std::string_view unit, double profile_limit, const Amplifier& amplifier) {
        reader.problem(path + " " + format_quantity(value, unit) + " widens the profile '" + amplifier.profile_name +
                       "' limit " + format_quantity(profile_limit, unit) +
                       "; limits may only narrow the profile, so use a value inside it or remove the key");
    }

    const Amplifier* find_amplifier(const std::string& name) const {
        for (const auto& amplifier : venue_.amplifiers) {
            if (amplifier.name == name) {
                return &amplifier;
            }
        }
        return nullptr;
    }

    // Zone and microphone names become folder and file names (DIR/ZONE/MIC.wav), so they may not
    // leave the measurement folder or be empty path parts.
    static void check_name_is_path_safe(const JsonObjectReader& reader, const std::string& name) {
        if (name == "." || name == ".." || name.find_first_of("/\\") != std::string::npos) {
            reader.problem("name '" + name + "' contains a path separator or is '.' or '..'; names become folder and "
                           "file names of the measurements, so use letters, digits, '-' or '_'");
        }
    }

    // ---- zones ----------------------------------------------------------------------------

    void read_zones(const JsonObjectReader& top) {
        const auto* list = top.array("zones", true);
        if (list == nullptr) {
            return;
        }
        if (list->empty()) {
            top.problem("\"zones\" is empty; list the zones to tune");
        }
        for (std::size_t index = 0; index < list->size(); ++index) {
            read_zone((*list)[index], index);
        }

        std::vector<std::string> references;
        for (const auto& zone : venue_.zones) {
            if (zone.polarity_reference) {
                references.push_back("'" + zone.name + "'");
            }
        }
        if (references.size() > 1) {
            problem("zones " + detail::join_names(references) +
                    " are all marked polarity_reference; mark one zone only");
        }

        // A hang is one flown array: its zones share one delay, so they must belong to one system.
        std::map<std::string, const Zone*> first_zone_of_hang;
        for (const auto& zone : venue_.zones) {
            if (zone.hang.empty()) {
                continue;
            }
            const auto [entry, inserted] = first_zone_of_hang.emplace(zone.hang, &zone);
            if (!inserted && entry->second->system != zone.system) {
                problem("hang '" + zone.hang + "' has zone '" + entry->second->name + "' in system '" +
                        entry->second->system + "' and zone '" + zone.name + "' in system '" + zone.system +
                        "'; a hang is one array and belongs to one system: give the zones separate hangs");
            }
        }
    }

    void read_zone(const json& item, std::size_t index) {
        const auto name = item.is_object() && item.contains("name") && item["name"].is_string()
                              ? item["name"].get<std::string>()
                              : std::string();
        const std::string context = name.empty() ? "zone " + std::to_string(index + 1) : "zone '" + name + "'";
        const JsonObjectReader reader(item, context, problems_,
                                      {"name", "hang", "system", "amplifier", "channel", "fit_band_hz",
                                       "level_offset_db", "max_boost_db", "precedence_ms", "polarity_reference",
                                       "averaging", "output"});
        if (!reader.valid()) {
            return;
        }

        Zone zone;
        zone.name = reader.text("name", true).value_or("");
        check_name_is_path_safe(reader, zone.name);
        zone.hang = reader.text("hang", false).value_or("");
        zone.system = reader.text("system", true).value_or("");
        zone.amplifier = reader.text("amplifier", true).value_or("");
        zone.channel = reader.count("channel", true, 1).value_or(0);
        // Without "output" the zones feed the interface outputs in the order they are listed.
        zone.output = reader.count("output", false, 1).value_or(index + 1);
        if (zone.output > max_interface_outputs) {
            reader.problem("output " + std::to_string(zone.output) + " is above " + std::to_string(max_interface_outputs) +
                           "; give the 1-based output of the audio interface that feeds this zone");
        }
        zone.polarity_reference = reader.boolean("polarity_reference").value_or(false);
        if (const auto averaging = reader.text("averaging", false)) {
            bool known = false;
            for (const auto method : {SpatialAveraging::quality_weighted, SpatialAveraging::power, SpatialAveraging::decibel}) {
                if (*averaging == to_string(method)) {
                    zone.averaging = method;
                    known = true;
                }
            }
            if (!known) {
                reader.problem("averaging '" + *averaging + "' is not one of quality_weighted, power, decibel");
            }
        }
        for (const auto& other : venue_.zones) {
            if (!zone.name.empty() && other.name == zone.name) {
                reader.problem("the name is used twice; give each zone its own name");
            }
        }

        const auto* amplifier = find_amplifier(zone.amplifier);
        if (!zone.amplifier.empty() && amplifier == nullptr) {
            reader.problem("amplifier '" + zone.amplifier + "' is not in \"amplifiers\"; add it there or fix the name");
        }
        const bool limits_known = amplifier != nullptr && amplifiers_with_profile_.count(amplifier->name) != 0;

        if (limits_known) {
            check_channel(reader, zone, *amplifier);
        }
        read_fit_band(reader, zone, limits_known ? amplifier : nullptr);
        read_zone_levels(reader, zone, limits_known ? amplifier : nullptr);
        venue_.zones.push_back(std::move(zone));
    }

    void check_channel(const JsonObjectReader& reader, const Zone& zone, const Amplifier& amplifier) {
        if (zone.channel == 0) {
            return;
        }
        if (zone.channel > amplifier.profile.channel_count) {
            reader.problem("channel " + std::to_string(zone.channel) + " exceeds the " +
                           std::to_string(amplifier.profile.channel_count) + " channels of profile '" +
                           amplifier.profile_name + "'; use a channel from 1 to " +
                           std::to_string(amplifier.profile.channel_count));
        }
        for (const auto& other : venue_.zones) {
            if (other.amplifier == zone.amplifier && other.channel == zone.channel) {
                reader.problem("channel " + std::to_string(zone.channel) + " of amplifier '" + zone.amplifier +
                               "' is already used by zone '" + other.name + "'; give each zone its own channel");
            }
        }
    }

    void read_fit_band(const JsonObjectReader& reader, Zone& zone, const Amplifier* amplifier) {
        const auto* band_json = reader.array("fit_band_hz", true);
        if (band_json == nullptr) {
            return;
        }
        if (band_json->size() != 2 || !(*band_json)[0].is_number() || !(*band_json)[1].is_number()) {
            reader.problem("fit_band_hz must be [low, high] in Hz, not " + band_json->dump());
            return;
        }
        auto& band = zone.fit_band_hz;
        band = {(*band_json)[0].get<double>(), (*band_json)[1].get<double>()};
        if (!(band.low_hz > 0.0 && band.low_hz < band.high_hz)) {
            reader.problem("fit_band_hz " + format_band(band) + " must rise from above 0 Hz; give [low, high] in Hz");
            return;
        }
        if (amplifier == nullptr) {
            return;
        }

        // Nyquist first, because a band above it cannot be fitted at all, whatever the EQ range is.
        const auto& profile = amplifier->profile;
        const double nyquist_hz = profile.sample_rate_hz / 2.0;
        const auto& range = amplifier->limits.eq.freq_hz;
        if (band.high_hz >= nyquist_hz) {
            reader.problem("fit_band_hz " + format_band(band) + " reaches the Nyquist frequency " +
                           format_quantity(nyquist_hz, "Hz") + " of profile '" + profile.name + "' (" +
                           format_quantity(profile.sample_rate_hz, "Hz") + " sample rate); lower the band's top");
        } else if (!range.contains(band.low_hz) || !range.contains(band.high_hz)) {
            const bool tightened = range.min != profile.limits.eq.freq_hz.min || range.max != profile.limits.eq.freq_hz.max;
            const std::string owner = tightened ? "amplifier '" + amplifier->name + "' limits"
                                                : "the profile '" + profile.name + "'";
            reader.problem("fit_band_hz " + format_band(band) + " exceeds " + owner + " range " +
                           format_number(range.min) + " to " + format_quantity(range.max, "Hz") +
                           "; narrow the band to that range");
        }
    }

    void read_zone_levels(const JsonObjectReader& reader, Zone& zone, const Amplifier* amplifier) {
        zone.level_offset_db = reader.number("level_offset_db", false).value_or(0.0);
        if (std::fabs(zone.level_offset_db) > max_level_offset_db) {
            reader.problem("level_offset_db " + format_quantity(zone.level_offset_db, "dB") + " is outside ±" +
                           format_quantity(max_level_offset_db, "dB") + "; give the zone's level relative to the target");
        }

        zone.max_boost_db = reader.number("max_boost_db", false)
                                .value_or(zone.system == "subs" ? default_sub_max_boost_db : default_max_boost_db);
        if (zone.max_boost_db < 0.0) {
            reader.problem("max_boost_db " + format_quantity(zone.max_boost_db, "dB") +
                           " must be 0 dB or more; use 0 to allow cuts only");
        } else if (amplifier != nullptr && zone.max_boost_db > amplifier->limits.eq.gain_db.max) {
            reader.problem("max_boost_db " + format_quantity(zone.max_boost_db, "dB") +
                           " exceeds the EQ gain limit " + format_quantity(amplifier->limits.eq.gain_db.max, "dB") +
                           " of amplifier '" + amplifier->name + "'; lower it");
        }

        const bool arrives_after_mains = zone.system == "fills" || zone.system == "delay_towers";
        zone.precedence_ms = reader.number("precedence_ms", false)
                                 .value_or(arrives_after_mains ? default_fill_precedence_ms : 0.0);
        if (zone.precedence_ms < 0.0 || zone.precedence_ms > max_precedence_ms) {
            reader.problem("precedence_ms " + format_quantity(zone.precedence_ms, "ms") + " is outside 0 to " +
                           format_quantity(max_precedence_ms, "ms") +
                           "; a later arrival is heard as an echo, so keep it inside");
        }
    }

    // ---- target ---------------------------------------------------------------------------

    void read_target(const JsonObjectReader& top) {
        const auto* item = top.value("target", true);
        if (item == nullptr) {
            return;
        }
        const auto type = item->is_object() && item->contains("type") && (*item)["type"].is_string()
                              ? (*item)["type"].get<std::string>()
                              : std::string();
        auto& target = venue_.target;

        if (type == "flat") {
            const JsonObjectReader reader(*item, "target", problems_, {"type"});
            target.kind = TargetCurve::Kind::flat;
        } else if (type == "tilt") {
            const JsonObjectReader reader(*item, "target", problems_, {"type", "tilt_db_per_octave", "pivot_hz"});
            target.kind = TargetCurve::Kind::tilt;
            target.tilt_db_per_octave = reader.number("tilt_db_per_octave", true).value_or(0.0);
            target.pivot_hz = reader.number("pivot_hz", true).value_or(1000.0);
            if (target.pivot_hz <= 0.0) {
                reader.problem("pivot_hz " + format_quantity(target.pivot_hz, "Hz") + " must be above 0 Hz");
                return;
            }
        } else if (type == "curve") {
            const JsonObjectReader reader(*item, "target", problems_, {"type", "file"});
            target.kind = TargetCurve::Kind::curve;
            if (!read_target_curve(reader)) {
                return;
            }
        } else {
            const JsonObjectReader reader(*item, "target", problems_, {"type", "tilt_db_per_octave", "pivot_hz", "file"});
            reader.problem("type " + (item->is_object() && item->contains("type") ? (*item)["type"].dump() : "(missing)") +
                           " must be \"flat\", \"tilt\" or \"curve\"");
            return;
        }

        for (const auto& zone : venue_.zones) {
            check_target_in_band(zone);
        }
    }

    bool read_target_curve(const JsonObjectReader& reader) {
        const auto file = reader.text("file", true);
        if (!file) {
            return false;
        }
        auto& target = venue_.target;
        target.file = venue_dir_ / *file;
        if (!std::filesystem::is_regular_file(target.file)) {
            reader.problem("curve file '" + *file + "' not found (looked for '" + target.file.string() +
                           "'); give a path relative to the venue file");
            return false;
        }

        try {
            const auto traces = read_response_text(target.file);
            if (!traces.empty()) {
                target.curve = traces.front().response;
            }
        } catch (const Error& error) {
            reader.problem(error.what());
            return false;
        }

        if (target.curve.size() == 0) {
            reader.problem("curve file '" + *file + "' has no points; give frequency and level rows");
            return false;
        }
        for (std::size_t i = 0; i < target.curve.size(); ++i) {
            if (!std::isfinite(target.curve.magnitude_db[i]) || !std::isfinite(target.curve.freq_hz[i])) {
                reader.problem("curve file '" + *file + "' has a value that is not a finite number at " +
                               format_quantity(target.curve.freq_hz[i], "Hz") + "; fix that row");
                return false;
            }
        }
        return true;
    }

    /// Checks the target over one zone's fit band: it must be covered by the curve and stay
    /// within max_target_deviation_db of its own mean there.
    void check_target_in_band(const Zone& zone) {
        const auto& band = zone.fit_band_hz;
        if (!(band.low_hz > 0.0 && band.low_hz < band.high_hz)) {
            return;  // the band itself is already reported
        }
        const auto& target = venue_.target;
        const std::string context = "zone '" + zone.name + "'";

        std::vector<double> freqs_hz = log_frequency_grid(band.low_hz, band.high_hz, target_check_points_per_octave);
        freqs_hz.push_back(band.high_hz);
        if (target.kind == TargetCurve::Kind::curve) {
            const auto& curve_hz = target.curve.freq_hz;
            if (curve_hz.front() > band.low_hz || curve_hz.back() < band.high_hz) {
                problem(context + ": target curve '" + target.file.filename().string() + "' covers " +
                        format_number(curve_hz.front()) + " to " + format_quantity(curve_hz.back(), "Hz") +
                        ", not the whole fit band " + format_number(band.low_hz) + " to " +
                        format_quantity(band.high_hz, "Hz") + "; extend the curve or narrow the band");
                return;
            }
            for (const double f : curve_hz) {
                if (f >= band.low_hz && f <= band.high_hz) {
                    freqs_hz.push_back(f);
                }
            }
        }

        double sum_db = 0.0;
        std::vector<double> values_db;
        for (const double f : freqs_hz) {
            values_db.push_back(target_db(venue_, f));
            sum_db += values_db.back();
        }
        const double mean_db = sum_db / static_cast<double>(values_db.size());
        double worst_db = 0.0;
        for (const double value : values_db) {
            worst_db = std::max(worst_db, std::fabs(value - mean_db));
        }
        if (worst_db > max_target_deviation_db) {
            problem(context + ": the target deviates " + format_quantity(std::round(worst_db * 10.0) / 10.0, "dB") +
                    " from its mean in the fit band " + format_number(band.low_hz) + " to " +
                    format_quantity(band.high_hz, "Hz") + ", more than ±" +
                    format_quantity(max_target_deviation_db, "dB") + "; use a gentler target or a narrower band");
        }
    }

    // ---- microphones ----------------------------------------------------------------------

    void read_microphones(const JsonObjectReader& top) {
        const auto* list = top.array("microphones", true);
        if (list == nullptr) {
            return;
        }
        for (std::size_t index = 0; index < list->size(); ++index) {
            read_microphone((*list)[index], index);
        }
    }

    void read_microphone(const json& item, std::size_t index) {
        const auto name = item.is_object() && item.contains("name") && item["name"].is_string()
                              ? item["name"].get<std::string>()
                              : std::string();
        const std::string context = name.empty() ? "microphone " + std::to_string(index + 1) : "microphone '" + name + "'";
        const JsonObjectReader reader(item, context, problems_,
                                      {"name", "input", "calibration_file", "position_m", "zones", "sensitivity_dbfs"});
        if (!reader.valid()) {
            return;
        }

        Microphone mic;
        mic.name = reader.text("name", true).value_or("");
        check_name_is_path_safe(reader, mic.name);
        for (const auto& other : venue_.microphones) {
            if (!mic.name.empty() && other.name == mic.name) {
                reader.problem("the name is used twice; give each microphone its own name");
            }
        }
        mic.input = reader.count("input", true, 1).value_or(0);
        if (mic.input > max_interface_inputs) {
            reader.problem("input " + std::to_string(mic.input) + " is above " + std::to_string(max_interface_inputs) +
                           "; give the 1-based input of the audio interface");
        }

        read_calibration(reader, mic);
        if (const auto sensitivity = reader.number("sensitivity_dbfs", false)) {
            // A calibrator's 94 dB SPL reads between digital silence and full scale.
            if (*sensitivity < -120.0 || *sensitivity > 0.0) {
                reader.problem("sensitivity_dbfs " + format_quantity(*sensitivity, "dBFS") +
                               " is outside -120 to 0 dBFS; give the RMS level a 94 dB SPL calibrator reads");
            } else {
                mic.sensitivity_dbfs = *sensitivity;
            }
        }
        read_position(reader, mic);
        read_zone_weights(reader, mic);
        venue_.microphones.push_back(std::move(mic));
    }

    void read_calibration(const JsonObjectReader& reader, Microphone& mic) {
        const auto file = reader.text("calibration_file", false);
        if (!file) {
            return;
        }
        mic.calibration_file = venue_dir_ / *file;
        if (!std::filesystem::is_regular_file(mic.calibration_file)) {
            reader.problem("calibration_file '" + *file + "' not found (looked for '" + mic.calibration_file.string() +
                           "'); give a path relative to the venue file");
            return;
        }
        try {
            mic.calibration = read_mic_calibration(mic.calibration_file).deviation;
        } catch (const Error& error) {
            reader.problem(error.what());
        }
    }

    void read_position(const JsonObjectReader& reader, Microphone& mic) {
        const auto* position = reader.array("position_m", false);
        if (position == nullptr) {
            return;
        }
        if (position->size() != 3 || !std::all_of(position->begin(), position->end(), [](const json& v) { return v.is_number(); })) {
            reader.problem("position_m must be [x, y, z] in metres, not " + position->dump());
            return;
        }
        mic.position_m = std::array<double, 3>{(*position)[0].get<double>(), (*position)[1].get<double>(),
                                               (*position)[2].get<double>()};
    }

    void read_zone_weights(const JsonObjectReader& reader, Microphone& mic) {
        const auto* zones = reader.value("zones", true);
        if (zones == nullptr) {
            return;
        }
        if (!zones->is_object() || zones->empty()) {
            reader.problem("\"zones\" must be an object {\"zone\": weight, ...} with at least one zone, not " + zones->dump());
            return;
        }
        for (const auto& entry : zones->items()) {
            if (!has_zone(entry.key())) {
                reader.problem("zones: zone '" + entry.key() + "' is not in \"zones\"; fix the name");
                continue;
            }
            if (!entry.value().is_number() || entry.value().get<double>() < 0.0) {
                reader.problem("zones: weight " + entry.value().dump() + " of zone '" + entry.key() +
                               "' must be a number of at least 0");
                continue;
            }
            mic.zone_weights[entry.key()] = entry.value().get<double>();
        }
    }

    bool has_zone(const std::string& name) const {
        return std::any_of(venue_.zones.begin(), venue_.zones.end(), [&](const Zone& z) { return z.name == name; });
    }

    const Microphone* find_microphone(const std::string& name) const {
        for (const auto& mic : venue_.microphones) {
            if (mic.name == name) {
                return &mic;
            }
        }
        return nullptr;
    }

    /// Reports each zone without a microphone of weight above 0, because its response would be unknown.
    void check_zone_coverage() {
        for (const auto& zone : venue_.zones) {
            const bool judged = std::any_of(venue_.microphones.begin(), venue_.microphones.end(), [&](const Microphone& mic) {
                const auto weight = mic.zone_weights.find(zone.name);
                return weight != mic.zone_weights.end() && weight->second > 0.0;
            });
            if (!zone.name.empty() && !judged) {
                problem("zone '" + zone.name + "' has no microphone; give it a weight above 0 in a microphone's \"zones\"");
            }
        }
    }

    // ---- measurement map ------------------------------------------------------------------

    void read_measurements(const JsonObjectReader& top) {
        const auto* map = top.value("measurements", false);
        if (map == nullptr) {
            return;
        }
        if (!map->is_object()) {
            top.problem("\"measurements\" must be an object {\"zone\": {\"microphone\": \"file[#channel]\"}}");
            return;
        }
        for (const auto& zone_entry : map->items()) {
            const std::string context = "measurements of zone '" + zone_entry.key() + "'";
            if (!has_zone(zone_entry.key())) {
                problem(context + ": the zone is not in \"zones\"; fix the name");
                continue;
            }
            if (!zone_entry.value().is_object()) {
                problem(context + ": must be an object {\"microphone\": \"file[#channel]\"}");
                continue;
            }
            for (const auto& mic_entry : zone_entry.value().items()) {
                read_measurement_source(context, zone_entry.key(), mic_entry.key(), mic_entry.value());
            }
        }
    }

    void read_measurement_source(const std::string& context, const std::string& zone_name, const std::string& mic_name,
                                 const json& value) {
        const std::string where = context + ", microphone '" + mic_name + "'";
        const auto* mic = find_microphone(mic_name);
        if (mic == nullptr) {
            problem(where + ": the microphone is not in \"microphones\"; fix the name");
            return;
        }
        if (mic->zone_weights.count(zone_name) == 0) {
            problem(where + ": the microphone does not judge this zone; add the zone to its \"zones\" or remove the entry");
            return;
        }
        if (!value.is_string() || value.get<std::string>().empty()) {
            problem(where + ": must be a file path string \"file[#channel]\", not " + value.dump());
            return;
        }

        // "file.wav#2" names channel 2; a '#' followed by anything but digits is part of the name.
        std::string text = value.get<std::string>();
        MeasurementSource source;
        const auto hash = text.rfind('#');
        if (hash != std::string::npos && hash + 1 < text.size() &&
            std::all_of(text.begin() + static_cast<std::ptrdiff_t>(hash + 1), text.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
            const auto channel = std::stoul(text.substr(hash + 1));
            text.resize(hash);
            if (channel == 0) {
                problem(where + ": channel #0 is invalid; channels count from 1");
                return;
            }
            source.channel = channel;
        }
        source.file = venue_dir_ / text;
        if (require_measurement_files_ && !std::filesystem::is_regular_file(source.file)) {
            problem(where + ": file '" + text + "' not found (looked for '" + source.file.string() +
                    "'); give a path relative to the venue file");
            return;
        }
        venue_.measurements[zone_name][mic_name] = source;
    }
};

}  // namespace

Venue read_venue_file(const std::filesystem::path& path, const std::filesystem::path& hardware_dir,
                      bool require_measurement_files) {
    const std::string head = "venue '" + path.string() + "'";
    const auto document = detail::parse_json_file(path, head);

    VenueReader reader(path, hardware_dir, require_measurement_files);
    auto venue = reader.read(document);
    if (!reader.problems().empty()) {
        throw detail::make_problems_error(head, reader.problems());
    }
    return venue;
}

}  // namespace linetune::io
