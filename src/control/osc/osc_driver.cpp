#include "linetune/control/osc/osc_driver.hpp"

#include "../device_address.hpp"

#include "osc_udp_transport.hpp"

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/parameter_steps.hpp"
#include "linetune/core/error.hpp"

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
    // Any parameter would do: channel 1 gain exists on every device.
    (void)read(ParameterId{1, ParameterKind::gain_db, 0});
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
    ParameterValue expected;
    try {
        require_parameter_in_profile(profile_, id);
        // Checked here so that a value the device must refuse is never sent; the device checks again.
        expected = quantise_for_device(profile_.limits, id, value);
    } catch (const Error& error) {
        throw error.with_context(description());
    }
    const OscMessage request{scheme_->address(id), {scheme_->encode_value(id, value)}};
    (void)exchange(id, request, expected);
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
                    read_osc_control_settings(profile).verified_on_real_device || options.allow_unverified_remote_host))) {}

}  // namespace linetune::control
