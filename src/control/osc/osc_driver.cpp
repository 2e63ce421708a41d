#include "linetune/control/osc/osc_driver.hpp"

#include "../device_address.hpp"

#include "osc_tcp_transport.hpp"
#include "osc_udp_transport.hpp"

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/parameter_steps.hpp"
#include "linetune/core/error.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <vector>

namespace linetune::control {

/// The device's reply to one request: the message at the request's address, if any, and the
/// reasons of every "/error" message that came with it.
struct OscDriver::Reply {
    std::optional<OscMessage> message;
    std::vector<std::string> errors;
};

namespace {

constexpr std::string_view error_address = "/error";

std::string error_reason(const OscMessage& message) {
    if (message.arguments.size() == 1) {
        if (const auto* text = std::get_if<std::string>(&message.arguments.front())) {
            return *text;
        }
    }
    return "(unreadable /error " + describe(message) + ")";
}

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += (text.empty() ? "" : "; ") + line;
    }
    return text;
}

OscControlSettings settings_with_options(const DeviceProfile& profile, const OscDriverOptions& options) {
    OscControlSettings settings = read_osc_control_settings(profile);
    if (options.reply_timeout) {
        settings.reply_timeout = *options.reply_timeout;
    }
    if (options.retries) {
        settings.retries = *options.retries;
    }
    return settings;
}

}  // namespace

OscDriver::OscDriver(std::string device_name, DeviceProfile profile, OscDriverOptions options,
                     std::unique_ptr<OscPacketTransport> transport)
    : device_name_(std::move(device_name)),
      profile_(std::move(profile)),
      options_(std::move(options)),
      settings_(settings_with_options(profile_, options_)),
      scheme_(make_osc_address_scheme(settings_.address_scheme)),
      transport_(std::move(transport)) {}

std::string OscDriver::description() const {
    return "amplifier '" + device_name_ + "' (" + transport_->url() + ")";
}

void OscDriver::log(const std::string& line) const {
    if (options_.log) {
        options_.log(description() + ": " + line);
    }
}

void OscDriver::connect() {
    try {
        transport_->open();
    } catch (const Error& error) {
        throw error.with_context("amplifier '" + device_name_ + "'");
    }
    subscription_sent_.reset();
    // Any parameter would do: channel 1 gain exists on every device.
    (void)read(ParameterId{1, ParameterKind::gain_db, 0});
}

void OscDriver::renew_remote_subscription() {
    const auto subscription = scheme_->remote_subscription();
    if (!subscription) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (subscription_sent_ && now - *subscription_sent_ < subscription->renew_after) {
        return;
    }
    // The device does not answer a subscription, so nothing is awaited.
    transport_->send(encode_osc_message(OscMessage{subscription->address, {}}));
    subscription_sent_ = now;
}

ParameterValue OscDriver::held_value(const ParameterId& id, const ParameterValue& value) const {
    try {
        require_parameter_in_profile(profile_, id);
        const ParameterValue quantised = quantise_for_device(profile_.limits, id, value);
        const OscArgument sent = scheme_->encode_value(id, quantised);
        return scheme_->decode_value(id, std::span(&sent, 1));
    } catch (const Error& error) {
        throw error.with_context(description());
    }
}

ParameterValue OscDriver::read(const ParameterId& id) {
    try {
        require_parameter_in_profile(profile_, id);
    } catch (const Error& error) {
        throw error.with_context(description());
    }
    const Reply reply = exchange(id, OscMessage{scheme_->address(id), {}}, std::nullopt);
    try {
        return scheme_->decode_value(id, reply.message->arguments);
    } catch (const Error& error) {
        throw Error(description() + ": unusable reply to the query of " + describe(id) + ": " + error.what(),
                    ErrorKind::device);
    }
}

void OscDriver::write(const ParameterId& id, const ParameterValue& value) {
    if (!scheme_->can_write(id.kind)) {
        throw Error(description() + ": " + describe(id) + " cannot be set through the " +
                        std::string(scheme_->name()) + " scheme (" + scheme_->address(id) +
                        " switches the whole channel); change it on the device",
                    ErrorKind::configuration);
    }
    ParameterValue expected;
    try {
        require_parameter_in_profile(profile_, id);
        // Checked here so that a value the device must refuse is never sent; the device checks again.
        expected = quantise_for_device(profile_.limits, id, value);
        // The device holds the value its wire encoding carries: a float32, or for normalised
        // scales (x32) the nearest step of the console's grid.
        const OscArgument sent = scheme_->encode_value(id, expected);
        expected = scheme_->decode_value(id, std::span(&sent, 1));
    } catch (const Error& error) {
        throw error.with_context(description());
    }
    (void)exchange(id, set_message(id, value), expected);
}

OscMessage OscDriver::set_message(const ParameterId& id, const ParameterValue& value) const {
    return {scheme_->address(id), {scheme_->encode_value(id, value)}};
}

std::string OscDriver::describe_refusal(const ParameterId& id, const OscMessage& request, const Reply& reply) const {
    std::string text = description() + ": the device refused " + describe(request);
    if (reply.message) {
        try {
            text += " and still holds " + describe(scheme_->decode_value(id, reply.message->arguments));
        } catch (const Error&) {
            text += " and answered " + describe(*reply.message);
        }
    }
    return text + ": " + joined(reply.errors);
}

OscDriver::Reply OscDriver::exchange(const ParameterId& id, const OscMessage& request,
                                     const std::optional<ParameterValue>& expected) {
    const auto packet = encode_osc_message(request);
    const std::size_t attempts = settings_.retries + 1;
    for (std::size_t attempt = 1; attempt <= attempts; ++attempt) {
        std::optional<Reply> reply;
        try {
            transport_->discard_pending();
            renew_remote_subscription();
            transport_->send(packet);
            reply = await_reply(request.address, id, expected);
        } catch (const Error& error) {
            throw error.with_context("amplifier '" + device_name_ + "'");
        }
        if (reply && !reply->errors.empty()) {
            throw Error(describe_refusal(id, request, *reply), ErrorKind::device);
        }
        if (reply) {
            return std::move(*reply);
        }
        // The device may have lost the subscription (a restart, or a new TCP connection).
        subscription_sent_.reset();
        if (attempt < attempts) {
            log("no reply to " + request.address + " within " + std::to_string(settings_.reply_timeout.count()) +
                " ms; sending again (attempt " + std::to_string(attempt + 1) + " of " + std::to_string(attempts) +
                ")");
        }
    }
    throw Error(description() + ": no reply to " + describe(request) + " after " + std::to_string(attempts) +
                    " attempt(s) of " + std::to_string(settings_.reply_timeout.count()) +
                    " ms; check that the device is on and listens on that port",
                ErrorKind::device);
}

/// Waits one reply timeout for the answer to a request. A reply is the message at the request's
/// address, or "/error" messages alone (an address the device does not know). For a set, an
/// acknowledgement of another value may be a late answer to an earlier request, so the wait goes
/// on for a matching one; the last one seen is taken when the timeout ends.
std::optional<OscDriver::Reply> OscDriver::await_reply(const std::string& address, const ParameterId& id,
                                                       const std::optional<ParameterValue>& expected) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + settings_.reply_timeout;
    std::optional<Reply> unmatched;

    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) {
            return unmatched;
        }
        const auto bytes = transport_->receive(left);
        if (!bytes) {
            return unmatched;
        }

        OscPacket packet;
        try {
            packet = decode_osc_packet(*bytes);
        } catch (const Error& error) {
            log(std::string("ignored a reply: ") + error.what());
            continue;
        }
        const std::vector<const OscMessage*> messages = messages_of(packet);

        Reply reply;
        for (const OscMessage* message : messages) {
            if (message->address == address) {
                reply.message = *message;
            } else if (message->address == error_address) {
                reply.errors.push_back(error_reason(*message));
            }
        }
        if (!reply.message && reply.errors.empty()) {
            const std::string ignored = messages.empty() ? "an empty bundle" : describe(*messages.front());
            log("ignored a reply to another address: " + ignored);
            continue;
        }
        if (!reply.errors.empty() || !expected || !reply.message) {
            return reply;
        }

        try {
            const ParameterValue held = scheme_->decode_value(id, reply.message->arguments);
            if (values_match(id.kind, *expected, held, profile_.limits)) {
                return reply;
            }
        } catch (const Error& error) {
            log(std::string("ignored an acknowledgement: ") + error.what());
            continue;
        }
        log("acknowledgement " + describe(*reply.message) + " differs from the value sent; waiting for another");
        unmatched = std::move(reply);
    }
}

OscUdpDriver::OscUdpDriver(const Amplifier& amplifier, OscDriverOptions options)
    : OscUdpDriver(amplifier.name, amplifier.host, amplifier.port, amplifier.profile, std::move(options)) {}

OscUdpDriver::OscUdpDriver(std::string device_name, const std::string& host, std::uint16_t port,
                           DeviceProfile profile, OscDriverOptions options)
    : OscDriver(device_name, profile, options,
                std::make_unique<OscUdpTransport>(detail::device_endpoint<boost::asio::ip::udp>(
                    device_name, host, port, profile.name,
                    read_osc_control_settings(profile).verified_on_real_device || options.allow_unverified_remote_host))) {
    if (settings().transport != "udp") {
        throw Error("amplifier '" + device_name + "': profile '" + profile.name + "' names transport \"" +
                        settings().transport + "\", so the OSC/UDP driver cannot reach it",
                    ErrorKind::configuration);
    }
}

namespace {

std::unique_ptr<OscPacketTransport> make_tcp_transport(const std::string& device_name, const std::string& host,
                                                       std::uint16_t port, const DeviceProfile& profile,
                                                       const OscDriverOptions& options) {
    const OscControlSettings settings = settings_with_options(profile, options);
    if (settings.transport != "tcp" || !settings.framing) {
        throw Error("amplifier '" + device_name + "': profile '" + profile.name + "' names transport \"" +
                        settings.transport + "\", so the OSC/TCP driver cannot reach it",
                    ErrorKind::configuration);
    }
    const auto endpoint = detail::device_endpoint<boost::asio::ip::tcp>(
        device_name, host, port, profile.name, settings.verified_on_real_device || options.allow_unverified_remote_host);
    const auto connect_timeout = settings.reply_timeout * static_cast<long>(settings.retries + 1);
    return std::make_unique<OscTcpTransport>(endpoint, *settings.framing, settings.max_packet_bytes, connect_timeout);
}

}  // namespace

OscTcpDriver::OscTcpDriver(const Amplifier& amplifier, OscDriverOptions options)
    : OscTcpDriver(amplifier.name, amplifier.host, amplifier.port, amplifier.profile, std::move(options)) {}

OscTcpDriver::OscTcpDriver(std::string device_name, const std::string& host, std::uint16_t port,
                           DeviceProfile profile, OscDriverOptions options)
    : OscDriver(device_name, profile, options, make_tcp_transport(device_name, host, port, profile, options)) {}

std::unique_ptr<OscDriver> make_osc_driver(const Amplifier& amplifier, OscDriverOptions options) {
    if (read_osc_control_settings(amplifier.profile).transport == "tcp") {
        return std::make_unique<OscTcpDriver>(amplifier, std::move(options));
    }
    return std::make_unique<OscUdpDriver>(amplifier, std::move(options));
}

}  // namespace linetune::control
