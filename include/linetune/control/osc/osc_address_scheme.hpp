#pragma once

#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/core/amplifier_state.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace linetune::control {

/// A device's OSC vocabulary: the address and argument type of each linetune parameter.
class OscAddressScheme {
public:
    virtual ~OscAddressScheme() = default;

    /// The name a profile's "control.address_scheme" gives ("linetune-generic").
    [[nodiscard]] virtual std::string_view name() const = 0;

    /// The literal address of one parameter ("/ch/1/eq/2/freq_hz").
    [[nodiscard]] virtual std::string address(const ParameterId& id) const = 0;

    /// The parameter an address names; empty for an address outside the scheme.
    [[nodiscard]] virtual std::optional<ParameterId> parse_address(std::string_view address) const = 0;

    /// The argument that carries a value of the parameter. Throws Error (configuration) when the
    /// value has the wrong alternative for the parameter.
    [[nodiscard]] virtual OscArgument encode_value(const ParameterId& id, const ParameterValue& value) const = 0;

    /// The value that the arguments of a set or a reply carry. Throws Error (ErrorKind::device)
    /// with the reason when they are not one argument of a type the parameter accepts.
    [[nodiscard]] virtual ParameterValue decode_value(const ParameterId& id,
                                                      std::span<const OscArgument> arguments) const = 0;
};

/// linetune's generic scheme, "linetune-generic":
///   /ch/{n}/gain_db f, /ch/{n}/delay_ms f, /ch/{n}/mute i, /ch/{n}/polarity_inverted i,
///   /ch/{n}/eq/{b}/enabled i, /ch/{n}/eq/{b}/type s, /ch/{n}/eq/{b}/freq_hz f,
///   /ch/{n}/eq/{b}/gain_db f, /ch/{n}/eq/{b}/q f
/// with channel n and band b counted from 1 and written without leading zeros.
class GenericOscAddressScheme final : public OscAddressScheme {
public:
    static constexpr std::string_view scheme_name = "linetune-generic";

    [[nodiscard]] std::string_view name() const override { return scheme_name; }
    [[nodiscard]] std::string address(const ParameterId& id) const override;
    [[nodiscard]] std::optional<ParameterId> parse_address(std::string_view address) const override;
    [[nodiscard]] OscArgument encode_value(const ParameterId& id, const ParameterValue& value) const override;
    [[nodiscard]] ParameterValue decode_value(const ParameterId& id,
                                              std::span<const OscArgument> arguments) const override;
};

/// The scheme of that name; throws Error (configuration) listing the known names for any other.
std::unique_ptr<OscAddressScheme> make_osc_address_scheme(std::string_view name);

}  // namespace linetune::control
