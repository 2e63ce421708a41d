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

constexpr std::array<std::string_view, 6> known_keys{"protocol", "transport", "address_scheme", "reply_timeout_ms",
                                                     "retries", "verified_on_real_device"};

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

void read_text_fields(const nlohmann::json& control, OscControlSettings& settings,
                      std::vector<std::string>& problems) {
    const auto protocol = control.find("protocol");
    if (protocol == control.end() || *protocol != "osc") {
        problems.push_back("control.protocol must be \"osc\" for the OSC driver, not " +
                           (protocol == control.end() ? std::string("missing") : protocol->dump()));
    }

    const auto transport = control.find("transport");
    if (transport == control.end() || *transport != "udp") {
        problems.push_back("control.transport " +
                           (transport == control.end() ? std::string("is missing") : transport->dump()) +
                           "; OSC runs over \"udp\" (TCP framings are not supported yet)");
    }

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
