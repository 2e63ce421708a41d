#pragma once

#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::control {

/// The virtual amplifier's device side without sockets: it turns one received packet into the
/// reply packet and applies the packet's sets to the shared state. Not thread-safe: one server
/// thread calls it.
class VirtualAmplifierProtocol {
public:
    /// Result of handling one packet.
    struct Outcome {
        std::vector<std::uint8_t> reply;  ///< the packet to send back to the sender; empty: send nothing
        bool state_changed = false;
        AmplifierState state;             ///< the state after the packet, when it changed
        std::vector<std::string> log_lines;
    };

    /// Throws Error (configuration) when the state does not fit the profile or the profile's
    /// address scheme is unknown.
    VirtualAmplifierProtocol(DeviceProfile profile, SharedAmplifierState& state);

    /// Replaces the refusal rules; throws Error (configuration) for an entry that names nothing.
    void set_refused_parameters(const std::vector<std::string>& entries);

    /// Handles one packet from a client (a name for its address or connection, received at `now`):
    /// decodes it, applies its sets (all of a bundle or none), and builds the reply with the value
    /// of every query and set. Under a scheme with a remote subscription (x32: "/xremote"), the
    /// subscription is answered with nothing, and a packet with a set is applied but not answered
    /// unless the client sent the subscription within its lifetime, like the console.
    Outcome handle(std::span<const std::uint8_t> packet, const std::string& client,
                   std::chrono::steady_clock::time_point now);

private:
    /// One refusal rule: every set, every set of one kind, or one parameter.
    struct RefusalRule {
        bool every_parameter = false;
        std::optional<ParameterKind> kind;
        std::optional<ParameterId> id;
    };

    /// Reply to one message of the packet: the value now held and the error, if any.
    struct MessageResult {
        std::string address;
        std::optional<ParameterId> id;
        bool is_set = false;
        ParameterValue value_now;
        std::optional<std::string> error;
    };

    /// True (and recorded) when the packet is the scheme's remote subscription message.
    bool accepts_subscription(const OscPacket& packet, const std::string& client,
                              std::chrono::steady_clock::time_point now);
    [[nodiscard]] bool is_subscribed(const std::string& client, std::chrono::steady_clock::time_point now) const;
    MessageResult handle_message(const OscMessage& message, AmplifierState& working) const;
    void apply_set(const OscMessage& message, const ParameterId& id, AmplifierState& working,
                   MessageResult& result) const;
    [[nodiscard]] bool is_refused(const ParameterId& id) const;
    [[nodiscard]] std::vector<std::uint8_t> encode_reply(const std::vector<MessageResult>& results,
                                                         const std::vector<std::string>& extra_errors) const;

    DeviceProfile profile_;
    SharedAmplifierState& state_;
    std::unique_ptr<OscAddressScheme> scheme_;
    std::vector<RefusalRule> refusal_rules_;
    std::optional<OscRemoteSubscription> subscription_;
    std::map<std::string, std::chrono::steady_clock::time_point> subscribed_clients_;  ///< client: last subscription
};

}  // namespace linetune::control
