#include "linetune/control/osc/osc_control_settings.hpp"

#include "../device_address.hpp"

#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace linetune::control {
namespace {

// A reply slower than a minute means the device is gone, and a timeout below 1 ms would expire
// before a reply can cross even loopback.
constexpr long long min_reply_timeout_ms = 1;
constexpr long long max_reply_timeout_ms = 60000;

// Each retry costs one reply timeout per parameter, so more than 10 only delays the failure
// report of a device that is gone.
constexpr long long max_retries = 10;

// A stream packet limit below 64 bytes would reject ordinary replies ("/ch/10/eq/10/freq_hz ,f"
// alone takes 32), and above 16 MiB one hostile frame ties up that much memory.
constexpr long long min_max_packet_bytes = 64;
constexpr long long max_max_packet_bytes = 16 * 1024 * 1024;

constexpr std::array<std::string_view, 8> known_keys{"protocol",         "transport", "framing",
                                                     "max_packet_bytes", "address_scheme", "reply_timeout_ms",
                                                     "retries",          "verified_on_real_device"};

/// Reads an integer key in [min, max] into value; records a problem otherwise.
void read_integer(const nlohmann::json& control, std::string_view key, long long min, long long max,
                  std::string_view unit, long long& value, std::vector<std::string>& problems) {
    const auto item = control.find(key);
    if (item == control.end()) {
        return;
    }
    if (!item->is_number_integer() || item->get<long long>() < min || item->get<long long>() > max) {
        problems.push_back("control." + std::string(key) + " " + item->dump() + " must be a whole number from " +
                           std::to_string(min) + " to " + std::to_string(max) + std::string(unit));
        return;
    }
    value = item->get<long long>();
}

/// Reads control.transport and, for TCP, control.framing.
void read_transport(const nlohmann::json& control, OscControlSettings& settings, std::vector<std::string>& problems) {
    const auto transport = control.find("transport");
    if (transport == control.end() || (*transport != "udp" && *transport != "tcp")) {
        problems.push_back("control.transport " +
                           (transport == control.end() ? std::string("is missing") : transport->dump()) +
                           "; OSC runs over \"udp\" or \"tcp\"");
        return;
    }
    settings.transport = transport->get<std::string>();

    const auto framing = control.find("framing");
    if (settings.transport == "udp") {
        if (framing != control.end()) {
            problems.push_back("control.framing applies only to \"tcp\": a UDP datagram carries one whole packet; "
                               "remove it or set control.transport to \"tcp\"");
        }
        return;
    }
    const std::string name = framing != control.end() && framing->is_string() ? framing->get<std::string>() : "";
    settings.framing = parse_osc_stream_framing(name);
    if (!settings.framing) {
        problems.push_back("control.framing " + (framing == control.end() ? std::string("is missing") : framing->dump()) +
                           "; OSC over TCP needs \"length-prefix\" (OSC 1.0, liblo) or \"slip\" (OSC 1.1, osc.js), "
                           "whichever the device speaks");
    }
}

void read_text_fields(const nlohmann::json& control, OscControlSettings& settings,
                      std::vector<std::string>& problems) {
    const auto protocol = control.find("protocol");
    if (protocol == control.end() || *protocol != "osc") {
        problems.push_back("control.protocol must be \"osc\" for the OSC driver, not " +
                           (protocol == control.end() ? std::string("missing") : protocol->dump()));
    }

    read_transport(control, settings, problems);

    const auto scheme = control.find("address_scheme");
    if (scheme == control.end() || !scheme->is_string()) {
        problems.push_back("control.address_scheme must name the OSC address scheme, e.g. \"" +
                           std::string(GenericOscAddressScheme::scheme_name) + "\"");
    } else {
        settings.address_scheme = scheme->get<std::string>();
        try {
            (void)make_osc_address_scheme(settings.address_scheme);
        } catch (const Error& error) {
            problems.push_back(std::string("control.address_scheme: ") + error.what());
        }
    }

    detail::read_verified_flag(control, settings.verified_on_real_device, problems);
}

}  // namespace

bool uses_osc(const DeviceProfile& profile) {
    const auto control = nlohmann::json::parse(profile.control_json, nullptr, false);
    return control.is_object() && control.value("protocol", std::string()) == "osc";
}

OscControlSettings read_osc_control_settings(const DeviceProfile& profile) {
    const std::string head = "profile '" + profile.name + "'";
    if (profile.control_json.empty()) {
        throw Error(head + " has no \"control\" object, so linetune cannot reach the device; add one (see "
                           "docs/device-profiles.md)",
                    ErrorKind::configuration);
    }
    const auto control = nlohmann::json::parse(profile.control_json, nullptr, false);
    if (!control.is_object()) {
        throw Error(head + ": \"control\" is not a JSON object", ErrorKind::configuration);
    }

    OscControlSettings settings;
    std::vector<std::string> problems;
    for (const auto& [key, value] : control.items()) {
        if (std::find(known_keys.begin(), known_keys.end(), key) == known_keys.end()) {
            problems.push_back("control." + key + " is not a known key; remove it or fix its spelling");
        }
    }
    read_text_fields(control, settings, problems);

    long long timeout_ms = settings.reply_timeout.count();
    read_integer(control, "reply_timeout_ms", min_reply_timeout_ms, max_reply_timeout_ms, " ms", timeout_ms,
                 problems);
    settings.reply_timeout = std::chrono::milliseconds(timeout_ms);

    auto max_packet_bytes = static_cast<long long>(settings.max_packet_bytes);
    read_integer(control, "max_packet_bytes", min_max_packet_bytes, max_max_packet_bytes, " bytes", max_packet_bytes,
                 problems);
    settings.max_packet_bytes = static_cast<std::size_t>(max_packet_bytes);
    if (control.contains("max_packet_bytes") && settings.transport != "tcp") {
        problems.push_back("control.max_packet_bytes applies only to \"tcp\"; a UDP datagram is at most 65507 bytes");
    }

    auto retries = static_cast<long long>(settings.retries);
    read_integer(control, "retries", 0, max_retries, "", retries, problems);
    settings.retries = static_cast<std::size_t>(retries);

    if (!problems.empty()) {
        std::string message = head + ":";
        for (const auto& problem : problems) {
            message += "\n  " + problem;
        }
        throw Error(message, ErrorKind::configuration);
    }
    return settings;
}

}  // namespace linetune::control
