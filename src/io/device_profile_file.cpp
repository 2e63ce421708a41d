#include "linetune/io/device_profile_file.hpp"

#include "json_fields.hpp"

#include <cstdlib>

#ifndef LINETUNE_HARDWARE_DIR
#error "LINETUNE_HARDWARE_DIR must name the repository's hardware folder (set in src/io/meson.build)"
#endif

namespace linetune::io {
namespace {

using detail::format_quantity;
using detail::JsonObjectReader;

// Bounds that catch unit mistakes and typos, not limits of real devices.
constexpr std::size_t max_profile_channels = 256;   // larger consoles are several profiles
constexpr double min_profile_sample_rate_hz = 8000.0;
constexpr double max_profile_sample_rate_hz = 768000.0;
constexpr double max_profile_latency_ms = 1000.0;   // a latency above 1 s is a unit mistake (µs?)

/// Reads {"min", "max", "step"} and checks min < max and 0 <= step <= max - min.
Range read_range(const JsonObjectReader& parent, std::string_view key, std::string_view unit,
                 std::vector<std::string>& problems) {
    Range range;
    const auto* item = parent.value(key, true);
    if (item == nullptr) {
        return range;
    }

    const JsonObjectReader reader(*item, parent.context(), problems, {"min", "max", "step"});
    const std::string name(key);
    const auto min = reader.number("min", true);
    const auto max = reader.number("max", true);
    const auto step = reader.number("step", true);
    range.min = min.value_or(0.0);
    range.max = max.value_or(0.0);
    range.step = step.value_or(0.0);

    if (min && max && *min >= *max) {
        reader.problem(name + ".min " + format_quantity(*min, unit) + " must be below " + name + ".max " +
                       format_quantity(*max, unit) + "; swap or fix them");
    }
    if (min && max && step && *min < *max && (*step < 0.0 || *step > *max - *min)) {
        reader.problem(name + ".step " + format_quantity(*step, unit) + " must be 0 (continuous) up to " +
                       format_quantity(*max - *min, unit) + " (max - min)");
    }
    return range;
}

void read_eq(const JsonObjectReader& top, DeviceProfile& profile, std::vector<std::string>& problems) {
    const auto* item = top.value("eq", true);
    if (item == nullptr) {
        return;
    }
    const JsonObjectReader eq(*item, top.context(), problems, {"max_bands", "filter_types", "freq_hz", "gain_db", "q"});
    auto& capabilities = profile.limits.eq;

    if (const auto bands = eq.count("max_bands", true, 0)) {
        capabilities.max_bands = *bands;
        if (*bands == 0) {
            eq.problem("eq.max_bands is 0, so linetune could set no EQ band; give the number of bands "
                       "linetune may use (at least 1)");
        }
    }

    if (const auto* types = eq.array("filter_types", true)) {
        for (const auto& type : *types) {
            const auto kind = type.is_string() ? parse_filter_kind(type.get<std::string>()) : std::nullopt;
            if (!kind) {
                eq.problem("eq.filter_types entry " + type.dump() +
                           " is not one of peaking, low_shelf, high_shelf, high_pass, low_pass");
            } else if (capabilities.offers(*kind)) {
                eq.problem("eq.filter_types lists '" + type.get<std::string>() + "' twice; list it once");
            } else {
                capabilities.filter_types.push_back(*kind);
            }
        }
        if (types->empty()) {
            eq.problem("eq.filter_types is empty; list the filter shapes the EQ bank offers");
        }
    }

    capabilities.freq_hz = read_range(eq, "freq_hz", "Hz", problems);
    capabilities.gain_db = read_range(eq, "gain_db", "dB", problems);
    capabilities.q = read_range(eq, "q", "", problems);

    if (capabilities.freq_hz.min <= 0.0 && eq.value("freq_hz", false) != nullptr) {
        eq.problem("eq.freq_hz.min " + format_quantity(capabilities.freq_hz.min, "Hz") + " must be above 0 Hz");
    }
    const double nyquist_hz = profile.sample_rate_hz / 2.0;
    if (profile.sample_rate_hz > 0.0 && capabilities.freq_hz.max > nyquist_hz) {
        eq.problem("eq.freq_hz.max " + format_quantity(capabilities.freq_hz.max, "Hz") +
                   " is above the Nyquist frequency " + format_quantity(nyquist_hz, "Hz") + " of sample_rate_hz " +
                   format_quantity(profile.sample_rate_hz, "Hz") + "; lower it");
    }
    if (capabilities.q.min <= 0.0 && eq.value("q", false) != nullptr) {
        eq.problem("eq.q.min " + format_quantity(capabilities.q.min, "") + " must be above 0");
    }
}

void read_delay(const JsonObjectReader& top, DeviceProfile& profile, std::vector<std::string>& problems) {
    const auto* item = top.value("delay_ms", true);
    if (item == nullptr) {
        return;
    }
    const JsonObjectReader delay(*item, top.context(), problems, {"max", "step"});
    const auto max = delay.number("max", true);
    const auto step = delay.number("step", true);
    profile.limits.delay_ms.max = max.value_or(0.0);
    profile.limits.delay_ms.step = step.value_or(0.0);

    if (max && *max < 0.0) {
        delay.problem("delay_ms.max " + format_quantity(*max, "ms") + " must be 0 ms or more");
    }
    if (max && step && (*step < 0.0 || *step > *max)) {
        delay.problem("delay_ms.step " + format_quantity(*step, "ms") + " must be 0 (continuous) up to delay_ms.max " +
                      format_quantity(*max, "ms"));
    }
}

void read_device_fields(const JsonObjectReader& top, DeviceProfile& profile, std::vector<std::string>& problems) {
    profile.name = top.text("name", true).value_or("");
    profile.description = top.text("description", true).value_or("");
    profile.verified_against = top.text("verified_against", true).value_or("");

    if (const auto channels = top.count("channels", true, 1)) {
        profile.channel_count = *channels;
        if (*channels > max_profile_channels) {
            top.problem("channels " + std::to_string(*channels) + " is above " + std::to_string(max_profile_channels) +
                        "; split a larger device into several profiles");
        }
    }
    if (const auto rate = top.number("sample_rate_hz", true)) {
        profile.sample_rate_hz = *rate;
        if (*rate < min_profile_sample_rate_hz || *rate > max_profile_sample_rate_hz) {
            top.problem("sample_rate_hz " + format_quantity(*rate, "Hz") + " is outside " +
                        format_quantity(min_profile_sample_rate_hz, "Hz") + " to " +
                        format_quantity(max_profile_sample_rate_hz, "Hz") + "; give the DSP's sample rate in Hz");
        }
    }
    if (const auto latency = top.number("latency_ms", true)) {
        profile.latency_ms = *latency;
        if (*latency < 0.0 || *latency > max_profile_latency_ms) {
            top.problem("latency_ms " + format_quantity(*latency, "ms") + " is outside 0 to " +
                        format_quantity(max_profile_latency_ms, "ms") + "; give the DSP latency in milliseconds");
        }
    }

    read_eq(top, profile, problems);
    read_delay(top, profile, problems);
    profile.limits.gain_db = read_range(top, "gain_db", "dB", problems);

    if (const auto* control = top.value("control", false)) {
        if (control->is_object()) {
            profile.control_json = control->dump();
        } else {
            top.problem("'control' must be a JSON object {...}, not " + std::string(control->type_name()));
        }
    }
}

}  // namespace

DeviceProfile read_device_profile(const std::filesystem::path& path) {
    const std::string head = "profile '" + path.string() + "'";
    const auto json = detail::parse_json_file(path, head);

    std::vector<std::string> problems;
    const JsonObjectReader top(json, "", problems,
                               {"name", "description", "verified_against", "channels", "sample_rate_hz",
                                "latency_ms", "eq", "delay_ms", "gain_db", "control"});
    DeviceProfile profile;
    if (top.valid()) {
        // The sample rate is read before the EQ so that the EQ range can be checked against Nyquist.
        read_device_fields(top, profile, problems);
    }

    // Venues name a profile by its file stem, so a different "name" would be reported under a
    // name the user cannot find.
    const auto stem = path.stem().string();
    if (!profile.name.empty() && profile.name != stem) {
        top.problem("name '" + profile.name + "' differs from the file name '" + stem +
                    "'; make them equal, because venues name a profile by its file name");
    }

    if (!problems.empty()) {
        throw detail::make_problems_error(head, problems);
    }
    return profile;
}

std::filesystem::path default_hardware_dir() {
    const char* override_dir = std::getenv("LINETUNE_HARDWARE_DIR");
    if (override_dir != nullptr && *override_dir != '\0') {
        return override_dir;
    }
    return LINETUNE_HARDWARE_DIR;
}

}  // namespace linetune::io
