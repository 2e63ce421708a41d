// The Behringer X32 / Midas M32 channel addresses and their normalised values. Every continuous
// value travels as a float from 0 to 1 that the console maps to its unit; the mappings are in
// device_value_rules.cpp. The console replies to a message without arguments with the value it holds.
//
// NOTE: checked against the virtual amplifier serving this scheme only, never against a console.

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/osc/osc_address_scheme.hpp"

#include "linetune/core/error.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace linetune::control {
namespace {

// A console sends a client the echo of its sets (and every other change) for 10 s after the
// client's "/xremote" (Maillot's X32/M32 OSC protocol document). Renewing after 9 s leaves a
// second for a request in flight.
constexpr std::string_view xremote_address = "/xremote";
constexpr std::chrono::milliseconds xremote_lifetime{10000};
constexpr std::chrono::milliseconds xremote_renew_after{9000};

// Channel numbers are written with two digits ("/ch/01"), so at most 99 fit; the X32 has 32.
constexpr std::size_t max_two_digit_channel = 99;

// EQ type codes of /ch/nn/eq/b/type, indexed by code: 0 LCut, 1 LShv, 2 PEQ, 3 VEQ, 4 HShv,
// 5 HCut. VEQ (a vintage-style bell) has no linetune filter kind, so it is rejected on reading.
constexpr int vintage_eq_code = 3;
constexpr std::array<std::optional<FilterKind>, 6> eq_type_by_code{
    FilterKind::high_pass, FilterKind::low_shelf, FilterKind::peaking, std::nullopt, FilterKind::high_shelf,
    FilterKind::low_pass};

std::string two_digits(std::size_t number) {
    return (number < 10 ? "0" : "") + std::to_string(number);
}

/// Parses "01".."99" (two digits, not 00); empty otherwise.
std::optional<std::size_t> parse_two_digits(std::string_view text) {
    std::size_t value = 0;
    if (text.size() != 2 || std::from_chars(text.data(), text.data() + 2, value).ptr != text.data() + 2 ||
        value == 0) {
        return std::nullopt;
    }
    return value;
}

/// Parses a band number "1".."9" (the X32 writes bands with one digit); empty otherwise.
std::optional<std::size_t> parse_band(std::string_view text) {
    if (text.size() != 1 || text[0] < '1' || text[0] > '9') {
        return std::nullopt;
    }
    return static_cast<std::size_t>(text[0] - '0');
}

[[noreturn]] void reject(const ParameterId& id, std::string_view problem) {
    throw Error("X32 " + describe(id) + ": " + std::string(problem), ErrorKind::device);
}

/// The single float (or, leniently, int32) of a reply, which must lie in 0..1.
double decode_fraction(const ParameterId& id, std::span<const OscArgument> arguments) {
    if (arguments.size() != 1) {
        reject(id, "takes one float from 0 to 1");
    }
    double fraction = 0.0;
    if (const float* single = std::get_if<float>(&arguments.front())) {
        fraction = *single;
    } else if (const std::int32_t* integer = std::get_if<std::int32_t>(&arguments.front())) {
        fraction = *integer;
    } else {
        reject(id, "takes one float from 0 to 1, not another type");
    }
    if (!std::isfinite(fraction) || fraction < 0.0 || fraction > 1.0) {
        reject(id, "takes a float from 0 to 1, not " + std::to_string(fraction));
    }
    return fraction;
}

std::int32_t decode_integer(const ParameterId& id, std::span<const OscArgument> arguments) {
    if (arguments.size() != 1 || !std::holds_alternative<std::int32_t>(arguments.front())) {
        reject(id, "takes one int32");
    }
    return std::get<std::int32_t>(arguments.front());
}

bool decode_switch(const ParameterId& id, std::span<const OscArgument> arguments) {
    const std::int32_t value = decode_integer(id, arguments);
    if (value != 0 && value != 1) {
        reject(id, "takes 0 or 1, not " + std::to_string(value));
    }
    return value == 1;
}

FilterKind decode_eq_type(const ParameterId& id, std::span<const OscArgument> arguments) {
    const std::int32_t code = decode_integer(id, arguments);
    if (code == vintage_eq_code) {
        reject(id, "the band is set to VEQ (type 3), which linetune does not model; set it to PEQ on the console");
    }
    if (code < 0 || code >= static_cast<std::int32_t>(eq_type_by_code.size())) {
        reject(id, "type " + std::to_string(code) + " is not an X32 EQ type (0 to 5)");
    }
    return *eq_type_by_code[static_cast<std::size_t>(code)];
}

std::int32_t eq_type_code(FilterKind kind) {
    for (std::size_t code = 0; code < eq_type_by_code.size(); ++code) {
        if (eq_type_by_code[code] == kind) {
            return static_cast<std::int32_t>(code);
        }
    }
    return 2;  // not reached: every FilterKind has a code
}

}  // namespace

std::string X32OscAddressScheme::address(const ParameterId& id) const {
    if (id.channel == 0 || id.channel > max_two_digit_channel) {
        throw Error("X32 " + describe(id) + ": channels are written with two digits, 01 to 99",
                    ErrorKind::configuration);
    }
    const std::string channel = "/ch/" + two_digits(id.channel);
    const std::string band = channel + "/eq/" + std::to_string(id.band);
    switch (id.kind) {
    case ParameterKind::gain_db: return channel + "/mix/fader";
    case ParameterKind::mute: return channel + "/mix/on";
    case ParameterKind::polarity_inverted: return channel + "/preamp/invert";
    case ParameterKind::delay_ms: return channel + "/delay/time";
    case ParameterKind::band_type: return band + "/type";
    case ParameterKind::band_freq_hz: return band + "/f";
    case ParameterKind::band_gain_db: return band + "/g";
    case ParameterKind::band_q: return band + "/q";
    case ParameterKind::band_enabled: return channel + "/eq/on";
    }
    return channel;  // not reached: every ParameterKind has an address
}

std::optional<OscRemoteSubscription> X32OscAddressScheme::remote_subscription() const {
    return OscRemoteSubscription{std::string(xremote_address), xremote_lifetime, xremote_renew_after};
}

std::optional<ParameterId> X32OscAddressScheme::parse_address(std::string_view address) const {
    constexpr std::string_view prefix = "/ch/";
    if (address.substr(0, prefix.size()) != prefix || address.size() < prefix.size() + 3) {
        return std::nullopt;
    }
    const auto channel = parse_two_digits(address.substr(prefix.size(), 2));
    const std::string_view rest = address.substr(prefix.size() + 2);
    if (!channel) {
        return std::nullopt;
    }
    // The channel's EQ switch stands for band_enabled of band 1; it switches every band.
    if (rest == "/eq/on") {
        return ParameterId{*channel, ParameterKind::band_enabled, 1};
    }
    static constexpr std::array<std::pair<std::string_view, ParameterKind>, 4> channel_fields{{
        {"/mix/fader", ParameterKind::gain_db},
        {"/mix/on", ParameterKind::mute},
        {"/preamp/invert", ParameterKind::polarity_inverted},
        {"/delay/time", ParameterKind::delay_ms},
    }};
    for (const auto& [field, kind] : channel_fields) {
        if (rest == field) {
            return ParameterId{*channel, kind, 0};
        }
    }

    constexpr std::string_view eq = "/eq/";
    if (rest.substr(0, eq.size()) != eq || rest.size() < eq.size() + 3) {
        return std::nullopt;
    }
    const auto band = parse_band(rest.substr(eq.size(), 1));
    const std::string_view field = rest.substr(eq.size() + 1);
    static constexpr std::array<std::pair<std::string_view, ParameterKind>, 4> band_fields{{
        {"/type", ParameterKind::band_type},
        {"/f", ParameterKind::band_freq_hz},
        {"/g", ParameterKind::band_gain_db},
        {"/q", ParameterKind::band_q},
    }};
    for (const auto& [name, kind] : band_fields) {
        if (band && field == name) {
            return ParameterId{*channel, kind, *band};
        }
    }
    return std::nullopt;
}

OscArgument X32OscAddressScheme::encode_value(const ParameterId& id, const ParameterValue& value) const {
    const double* number = std::get_if<double>(&value);
    const bool* flag = std::get_if<bool>(&value);
    const FilterKind* kind = std::get_if<FilterKind>(&value);
    switch (id.kind) {
    case ParameterKind::gain_db:
        if (number) return static_cast<float>(x32::fader_fraction(*number));
        break;
    case ParameterKind::delay_ms:
        if (number) return static_cast<float>(x32::delay_fraction(*number));
        break;
    case ParameterKind::band_freq_hz:
        if (number) return static_cast<float>(x32::eq_frequency_fraction(*number));
        break;
    case ParameterKind::band_gain_db:
        if (number) return static_cast<float>(x32::eq_gain_fraction(*number));
        break;
    case ParameterKind::band_q:
        if (number) return static_cast<float>(x32::eq_q_fraction(*number));
        break;
    case ParameterKind::mute:
        // "on" means the channel sounds, so a muted channel sends 0.
        if (flag) return std::int32_t{*flag ? 0 : 1};
        break;
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled:
        if (flag) return std::int32_t{*flag ? 1 : 0};
        break;
    case ParameterKind::band_type:
        if (kind) return eq_type_code(*kind);
        break;
    }
    throw Error("X32 " + describe(id) + ": value " + describe(value) + " has the wrong type for this parameter",
                ErrorKind::configuration);
}

ParameterValue X32OscAddressScheme::decode_value(const ParameterId& id, std::span<const OscArgument> arguments) const {
    switch (id.kind) {
    case ParameterKind::gain_db: return x32::fader_db(decode_fraction(id, arguments));
    case ParameterKind::delay_ms: return x32::delay_ms(decode_fraction(id, arguments));
    case ParameterKind::band_freq_hz: return x32::eq_frequency_hz(decode_fraction(id, arguments));
    case ParameterKind::band_gain_db: return x32::eq_gain_db(decode_fraction(id, arguments));
    case ParameterKind::band_q: return x32::eq_q(decode_fraction(id, arguments));
    case ParameterKind::mute: return !decode_switch(id, arguments);
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled: return decode_switch(id, arguments);
    case ParameterKind::band_type: return decode_eq_type(id, arguments);
    }
    reject(id, "is not a parameter of the x32 scheme");
}

}  // namespace linetune::control
