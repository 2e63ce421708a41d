#include "linetune/control/osc/osc_address_scheme.hpp"

#include "linetune/core/error.hpp"

#include <charconv>
#include <cmath>

namespace linetune::control {
namespace {

// Channel and band numbers above this are typing errors, because profiles allow at most 256
// channels. The cap also keeps the parsed number far from overflow.
constexpr std::size_t max_address_index = 9999;

/// Parses a 1-based decimal index without sign or leading zeros ("1", "12"); empty otherwise.
std::optional<std::size_t> parse_index(std::string_view text) {
    if (text.empty() || text.front() == '0') {
        return std::nullopt;
    }
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size() || value > max_address_index) {
        return std::nullopt;
    }
    return value;
}

/// Splits "/a/b/c" into "a", "b", "c"; empty parts (as in "//" or a trailing '/') make it fail.
std::optional<std::vector<std::string_view>> split_address(std::string_view address) {
    if (address.empty() || address.front() != '/') {
        return std::nullopt;
    }
    std::vector<std::string_view> parts;
    std::size_t start = 1;
    while (start <= address.size()) {
        const std::size_t slash = address.find('/', start);
        const std::size_t end = slash == std::string_view::npos ? address.size() : slash;
        if (end == start) {
            return std::nullopt;
        }
        parts.push_back(address.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

/// The name after "eq/{b}/" of a band parameter ("freq_hz" for band_freq_hz).
std::string_view band_field_name(ParameterKind kind) {
    constexpr std::size_t band_prefix_length = std::string_view("band_").size();
    return to_string(kind).substr(band_prefix_length);
}

std::string type_tags_of(std::span<const OscArgument> arguments) {
    std::string tags = ",";
    for (const auto& argument : arguments) {
        tags += osc_type_tag(argument);
    }
    return tags;
}

[[noreturn]] void reject_arguments(const ParameterId& id, std::span<const OscArgument> arguments,
                                   std::string_view expected) {
    const GenericOscAddressScheme scheme;
    throw Error(scheme.address(id) + " takes " + std::string(expected) + ", not arguments '" +
                    type_tags_of(arguments) + "'",
                ErrorKind::device);
}

double decode_number(const ParameterId& id, std::span<const OscArgument> arguments) {
    constexpr std::string_view expected = "one number (f, or d, i, h)";
    if (arguments.size() != 1) {
        reject_arguments(id, arguments, expected);
    }
    const OscArgument& argument = arguments.front();
    double value = 0.0;
    if (const float* single = std::get_if<float>(&argument)) {
        value = *single;
    } else if (const double* wide = std::get_if<double>(&argument)) {
        value = *wide;
    } else if (const std::int32_t* integer = std::get_if<std::int32_t>(&argument)) {
        value = *integer;
    } else if (const std::int64_t* wide_integer = std::get_if<std::int64_t>(&argument)) {
        value = static_cast<double>(*wide_integer);
    } else {
        reject_arguments(id, arguments, expected);
    }
    if (!std::isfinite(value)) {
        const GenericOscAddressScheme scheme;
        throw Error(scheme.address(id) + " takes a finite number, not " + std::to_string(value), ErrorKind::device);
    }
    return value;
}

bool decode_flag(const ParameterId& id, std::span<const OscArgument> arguments) {
    constexpr std::string_view expected = "one int32 0 or 1 (or T, F)";
    if (arguments.size() != 1) {
        reject_arguments(id, arguments, expected);
    }
    const OscArgument& argument = arguments.front();
    if (const bool* flag = std::get_if<bool>(&argument)) {
        return *flag;
    }
    std::int64_t number = -1;
    if (const std::int32_t* integer = std::get_if<std::int32_t>(&argument)) {
        number = *integer;
    } else if (const std::int64_t* wide_integer = std::get_if<std::int64_t>(&argument)) {
        number = *wide_integer;
    } else {
        reject_arguments(id, arguments, expected);
    }
    if (number != 0 && number != 1) {
        const GenericOscAddressScheme scheme;
        throw Error(scheme.address(id) + " takes 0 or 1, not " + std::to_string(number), ErrorKind::device);
    }
    return number == 1;
}

FilterKind decode_filter_kind(const ParameterId& id, std::span<const OscArgument> arguments) {
    constexpr std::string_view expected = "one string (s or S) naming the filter type";
    if (arguments.size() != 1) {
        reject_arguments(id, arguments, expected);
    }
    std::string_view text;
    if (const std::string* string = std::get_if<std::string>(&arguments.front())) {
        text = *string;
    } else if (const OscSymbol* symbol = std::get_if<OscSymbol>(&arguments.front())) {
        text = symbol->text;
    } else {
        reject_arguments(id, arguments, expected);
    }
    const auto kind = parse_filter_kind(text);
    if (!kind) {
        const GenericOscAddressScheme scheme;
        throw Error(scheme.address(id) + ": filter type '" + std::string(text) +
                        "' is not one of peaking, low_shelf, high_shelf, high_pass, low_pass",
                    ErrorKind::device);
    }
    return *kind;
}

}  // namespace

std::string GenericOscAddressScheme::address(const ParameterId& id) const {
    std::string text = "/ch/" + std::to_string(id.channel) + "/";
    if (is_band_parameter(id.kind)) {
        text += "eq/" + std::to_string(id.band) + "/" + std::string(band_field_name(id.kind));
    } else {
        text += std::string(to_string(id.kind));
    }
    return text;
}

std::optional<ParameterId> GenericOscAddressScheme::parse_address(std::string_view address) const {
    const auto parts = split_address(address);
    if (!parts || parts->size() < 3 || (*parts)[0] != "ch") {
        return std::nullopt;
    }
    const auto channel = parse_index((*parts)[1]);
    if (!channel) {
        return std::nullopt;
    }

    if (parts->size() == 3) {
        const auto kind = parse_parameter_kind((*parts)[2]);
        if (!kind || is_band_parameter(*kind)) {
            return std::nullopt;
        }
        return ParameterId{*channel, *kind, 0};
    }

    if (parts->size() != 5 || (*parts)[2] != "eq") {
        return std::nullopt;
    }
    const auto band = parse_index((*parts)[3]);
    const auto kind = parse_parameter_kind("band_" + std::string((*parts)[4]));
    if (!band || !kind) {
        return std::nullopt;
    }
    return ParameterId{*channel, *kind, *band};
}

OscArgument GenericOscAddressScheme::encode_value(const ParameterId& id, const ParameterValue& value) const {
    switch (id.kind) {
    case ParameterKind::mute:
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled:
        if (const bool* flag = std::get_if<bool>(&value)) {
            return std::int32_t{*flag ? 1 : 0};
        }
        break;
    case ParameterKind::band_type:
        if (const FilterKind* kind = std::get_if<FilterKind>(&value)) {
            return std::string(to_string(*kind));
        }
        break;
    case ParameterKind::gain_db:
    case ParameterKind::delay_ms:
    case ParameterKind::band_freq_hz:
    case ParameterKind::band_gain_db:
    case ParameterKind::band_q:
        if (const double* number = std::get_if<double>(&value)) {
            // OSC 'f' is float32: the value is rounded to 24 significant bits on the wire.
            return static_cast<float>(*number);
        }
        break;
    }
    throw Error(describe(id) + ": value " + describe(value) + " has the wrong type for this parameter",
                ErrorKind::configuration);
}

ParameterValue GenericOscAddressScheme::decode_value(const ParameterId& id,
                                                     std::span<const OscArgument> arguments) const {
    switch (id.kind) {
    case ParameterKind::mute:
    case ParameterKind::polarity_inverted:
    case ParameterKind::band_enabled: return decode_flag(id, arguments);
    case ParameterKind::band_type: return decode_filter_kind(id, arguments);
    case ParameterKind::gain_db:
    case ParameterKind::delay_ms:
    case ParameterKind::band_freq_hz:
    case ParameterKind::band_gain_db:
    case ParameterKind::band_q: break;
    }
    return decode_number(id, arguments);
}

std::unique_ptr<OscAddressScheme> make_osc_address_scheme(std::string_view name) {
    if (name == GenericOscAddressScheme::scheme_name) {
        return std::make_unique<GenericOscAddressScheme>();
    }
    if (name == X32OscAddressScheme::scheme_name) {
        return std::make_unique<X32OscAddressScheme>();
    }
    throw Error("OSC address scheme '" + std::string(name) + "' is unknown; the known schemes are '" +
                    std::string(GenericOscAddressScheme::scheme_name) + "' and '" +
                    std::string(X32OscAddressScheme::scheme_name) + "'",
                ErrorKind::configuration);
}

}  // namespace linetune::control
