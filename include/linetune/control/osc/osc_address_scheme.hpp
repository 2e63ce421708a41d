#pragma once

#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/core/amplifier_state.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace linetune::control {

/// A message that a device needs from a client, renewed before it lapses, before it answers the
/// client's sets (the X32's "/xremote").
struct OscRemoteSubscription {
    std::string address;
    std::chrono::milliseconds lifetime{0};  ///< how long the device honours one message
    std::chrono::milliseconds renew_after{0};  ///< when a client sends it again, below lifetime
};

/// A device's OSC vocabulary: the address and argument type of each linetune parameter.
class OscAddressScheme {
public:
    virtual ~OscAddressScheme() = default;

    /// False for a parameter the scheme can query but not set on its own (x32: band_enabled).
    [[nodiscard]] virtual bool can_write(ParameterKind kind) const {
        (void)kind;
        return true;
    }

    /// The subscription the device needs before it acknowledges sets; empty when it needs none.
    [[nodiscard]] virtual std::optional<OscRemoteSubscription> remote_subscription() const { return std::nullopt; }

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

/// The Behringer X32 / Midas M32 channel scheme, "x32", with the console's normalised 0..1 floats
/// (scales in device_value_rules.hpp, namespace x32) and channel n written as two digits:
///   /ch/{nn}/mix/fader f (gain_db), /ch/{nn}/mix/on i (1 = sounding, so mute is its inverse),
///   /ch/{nn}/preamp/invert i, /ch/{nn}/delay/time f, /ch/{nn}/eq/{b}/type i,
///   /ch/{nn}/eq/{b}/f f, /ch/{nn}/eq/{b}/g f, /ch/{nn}/eq/{b}/q f
/// The console has no switch per band, only the channel's EQ switch /ch/{nn}/eq/on i. Every band's
/// band_enabled reads that switch, because it decides whether any band is heard, and cannot be set.
/// The console acknowledges sets only to clients that sent "/xremote" within the last 10 s.
class X32OscAddressScheme final : public OscAddressScheme {
public:
    static constexpr std::string_view scheme_name = "x32";

    [[nodiscard]] std::string_view name() const override { return scheme_name; }
    [[nodiscard]] bool can_write(ParameterKind kind) const override { return kind != ParameterKind::band_enabled; }
    [[nodiscard]] std::optional<OscRemoteSubscription> remote_subscription() const override;
    /// Throws Error (configuration) for a channel above 99. band_enabled of any band is the
    /// channel's /ch/{nn}/eq/on.
    [[nodiscard]] std::string address(const ParameterId& id) const override;
    [[nodiscard]] std::optional<ParameterId> parse_address(std::string_view address) const override;
    [[nodiscard]] OscArgument encode_value(const ParameterId& id, const ParameterValue& value) const override;
    [[nodiscard]] ParameterValue decode_value(const ParameterId& id,
                                              std::span<const OscArgument> arguments) const override;
};

/// The scheme of that name; throws Error (configuration) listing the known names for any other.
std::unique_ptr<OscAddressScheme> make_osc_address_scheme(std::string_view name);

}  // namespace linetune::control
