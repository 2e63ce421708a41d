#include "virtual_amplifier_protocol.hpp"

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/osc/osc_control_settings.hpp"
#include "linetune/core/error.hpp"

#include <algorithm>

namespace linetune::control {
namespace {

constexpr std::string_view error_address = "/error";

// Largest UDP payload over IPv4; a reply that would not fit one datagram is replaced by an error.
constexpr std::size_t max_reply_bytes = 65507;

std::vector<std::uint8_t> encode_error(const std::string& reason) {
    return encode_osc_message(OscMessage{std::string(error_address), {reason}});
}

void check_state_fits_profile(const AmplifierState& state, const DeviceProfile& profile) {
    if (state.channels.size() > profile.channel_count) {
        throw Error("virtual amplifier: the state has " + std::to_string(state.channels.size()) +
                        " channels, but profile '" + profile.name + "' has " + std::to_string(profile.channel_count),
                    ErrorKind::configuration);
    }
    for (std::size_t c = 0; c < state.channels.size(); ++c) {
        if (state.channels[c].bands.size() > profile.limits.eq.max_bands) {
            throw Error("virtual amplifier: channel " + std::to_string(c + 1) + " of the state has " +
                            std::to_string(state.channels[c].bands.size()) + " bands, but profile '" + profile.name +
                            "' allows " + std::to_string(profile.limits.eq.max_bands),
                        ErrorKind::configuration);
        }
    }
}

}  // namespace

VirtualAmplifierProtocol::VirtualAmplifierProtocol(DeviceProfile profile, SharedAmplifierState& state)
    : profile_(std::move(profile)),
      state_(state),
      scheme_(make_osc_address_scheme(read_osc_control_settings(profile_).address_scheme)),
      subscription_(scheme_->remote_subscription()) {
    check_state_fits_profile(state_.snapshot(), profile_);
}

bool VirtualAmplifierProtocol::accepts_subscription(const OscPacket& packet, const std::string& client,
                                                    std::chrono::steady_clock::time_point now) {
    const auto* message = std::get_if<OscMessage>(&packet.content);
    if (!subscription_ || message == nullptr || message->address != subscription_->address) {
        return false;
    }
    subscribed_clients_[client] = now;
    // Forget clients whose subscription lapsed, so the table stays as small as the live clients.
    std::erase_if(subscribed_clients_,
                  [&](const auto& entry) { return now - entry.second >= subscription_->lifetime; });
    return true;
}

bool VirtualAmplifierProtocol::is_subscribed(const std::string& client,
                                             std::chrono::steady_clock::time_point now) const {
    if (!subscription_) {
        return true;
    }
    const auto found = subscribed_clients_.find(client);
    return found != subscribed_clients_.end() && now - found->second < subscription_->lifetime;
}

void VirtualAmplifierProtocol::set_refused_parameters(const std::vector<std::string>& entries) {
    std::vector<RefusalRule> rules;
    for (const auto& entry : entries) {
        RefusalRule rule;
        if (entry == "all") {
            rule.every_parameter = true;
        } else if (const auto kind = parse_parameter_kind(entry)) {
            rule.kind = kind;
        } else if (const auto id = scheme_->parse_address(entry)) {
            rule.id = id;
        } else {
            throw Error("invalid parameter to refuse '" + entry +
                            "': give \"all\", a parameter name (gain_db, delay_ms, mute, polarity_inverted, "
                            "band_enabled, band_type, band_freq_hz, band_gain_db, band_q) or an address such as "
                            "/ch/1/eq/2/gain_db",
                        ErrorKind::configuration);
        }
        rules.push_back(rule);
    }
    refusal_rules_ = std::move(rules);
}

bool VirtualAmplifierProtocol::is_refused(const ParameterId& id) const {
    return std::any_of(refusal_rules_.begin(), refusal_rules_.end(), [&id](const RefusalRule& rule) {
        return rule.every_parameter || rule.kind == id.kind || rule.id == id;
    });
}

VirtualAmplifierProtocol::Outcome VirtualAmplifierProtocol::handle(std::span<const std::uint8_t> packet_bytes,
                                                                   const std::string& client,
                                                                   std::chrono::steady_clock::time_point now) {
    Outcome outcome;
    OscPacket packet;
    try {
        packet = decode_osc_packet(packet_bytes);
    } catch (const Error& error) {
        outcome.log_lines.emplace_back(error.what());
        outcome.reply = encode_error(error.what());
        return outcome;
    }
    if (accepts_subscription(packet, client, now)) {
        return outcome;
    }
    const std::vector<const OscMessage*> messages = messages_of(packet);

    const AmplifierState original = state_.snapshot();
    AmplifierState working = original;
    std::vector<MessageResult> results;
    for (const OscMessage* message : messages) {
        results.push_back(handle_message(*message, working));
        if (results.back().error) {
            outcome.log_lines.push_back(*results.back().error);
        }
    }

    // OSC 1.0 requires the messages of a bundle to take effect together. So one refused set undoes
    // the bundle's other sets, and every reply then carries the value still held.
    std::vector<std::string> extra_errors;
    const auto set_count = std::count_if(results.begin(), results.end(), [](const auto& r) { return r.is_set; });
    const bool any_refused = std::any_of(results.begin(), results.end(),
                                         [](const auto& r) { return r.is_set && r.error.has_value(); });
    if (any_refused && set_count > 1) {
        working = original;
        for (auto& result : results) {
            if (result.id) {
                result.value_now = get_parameter(original, *result.id);
            }
        }
        extra_errors.push_back("none of the bundle's " + std::to_string(set_count) +
                               " sets was applied, because one was refused");
    }

    if (working != original) {
        state_.replace(working);
        outcome.state_changed = true;
        outcome.state = std::move(working);
    }
    if (set_count > 0 && !is_subscribed(client, now)) {
        outcome.log_lines.push_back("applied the sets of a client without a live " + subscription_->address +
                                    " subscription, so they are not acknowledged");
        return outcome;
    }
    outcome.reply = encode_reply(results, extra_errors);
    return outcome;
}

VirtualAmplifierProtocol::MessageResult VirtualAmplifierProtocol::handle_message(const OscMessage& message,
                                                                                 AmplifierState& working) const {
    MessageResult result;
    result.address = message.address;
    const auto id = scheme_->parse_address(message.address);
    if (!id) {
        const bool pattern = message.address.find_first_of("*?[]{}") != std::string::npos;
        result.error = pattern ? "address '" + message.address +
                                     "' is a pattern; the virtual amplifier matches literal addresses only"
                               : "address '" + message.address + "' is not in the " +
                                     std::string(scheme_->name()) + " scheme (such as " +
                                     scheme_->address({1, ParameterKind::gain_db, 0}) + ")";
        return result;
    }
    try {
        result.value_now = get_parameter(working, *id);
    } catch (const Error& error) {
        result.error = message.address + ": " + error.what();
        return result;
    }
    result.id = id;
    if (!message.arguments.empty()) {
        apply_set(message, *id, working, result);
    }
    return result;
}

void VirtualAmplifierProtocol::apply_set(const OscMessage& message, const ParameterId& id, AmplifierState& working,
                                         MessageResult& result) const {
    result.is_set = true;
    try {
        const ParameterValue requested = scheme_->decode_value(id, message.arguments);
        if (is_refused(id)) {
            throw Error(message.address + ": " + describe(requested) + " rejected by fault injection",
                        ErrorKind::device);
        }
        const ParameterValue held = quantise_for_device(profile_.limits, id, requested);
        set_parameter(working, id, held);
        if (!scheme_->can_write(id.kind) && id.kind == ParameterKind::band_enabled) {
            // The channel's EQ switch (x32 /ch/nn/eq/on) switches every band of the channel.
            for (std::size_t band = 1; band <= working.channels.at(id.channel - 1).bands.size(); ++band) {
                set_parameter(working, ParameterId{id.channel, id.kind, band}, held);
            }
        }
        result.value_now = held;
    } catch (const Error& error) {
        result.error = error.what();
    }
}

std::vector<std::uint8_t> VirtualAmplifierProtocol::encode_reply(const std::vector<MessageResult>& results,
                                                                 const std::vector<std::string>& extra_errors) const {
    std::vector<OscMessage> replies;
    for (const auto& result : results) {
        if (result.id) {
            replies.push_back(OscMessage{result.address, {scheme_->encode_value(*result.id, result.value_now)}});
        }
        if (result.error) {
            replies.push_back(OscMessage{std::string(error_address), {*result.error}});
        }
    }
    for (const auto& error : extra_errors) {
        replies.push_back(OscMessage{std::string(error_address), {error}});
    }

    std::vector<std::uint8_t> bytes;
    if (replies.size() == 1) {
        bytes = encode_osc_message(replies.front());
    } else {
        // Several replies (an empty bundle gets an empty one) travel as one bundle, so a refusal's
        // "/error" arrives in the same datagram as the value it belongs to.
        OscBundle bundle;
        for (auto& reply : replies) {
            bundle.elements.push_back(OscPacket{std::move(reply)});
        }
        bytes = encode_osc_packet(OscPacket{std::move(bundle)});
    }
    if (bytes.size() > max_reply_bytes) {
        return encode_error("the reply of " + std::to_string(bytes.size()) + " bytes would exceed one UDP datagram; "
                            "send fewer messages per bundle");
    }
    return bytes;
}

}  // namespace linetune::control
