#pragma once

#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/control/osc/osc_control_settings.hpp"
#include "linetune/control/osc/osc_transport.hpp"
#include "linetune/core/device_driver.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace linetune::control {

/// Settings of an OSC driver that override its profile or open what the profile keeps closed.
struct OscDriverOptions {
    std::optional<std::chrono::milliseconds> reply_timeout;  ///< replaces control.reply_timeout_ms
    std::optional<std::size_t> retries;                      ///< replaces control.retries
    /// Sends to a host outside loopback although the profile is not verified on a real device.
    bool allow_unverified_remote_host = false;
    /// Receives one line per retry and per ignored reply; may be empty.
    std::function<void(std::string_view)> log;
};

/// DeviceDriver for an OSC device that answers every query and every set with the value it now
/// holds, over any packet transport. A refused set is answered with the old value and an
/// "/error s" message in one bundle, which write() reports as an Error.
class OscDriver : public DeviceDriver {
public:
    /// Throws Error (configuration) when the profile's "control" object is not valid for OSC.
    OscDriver(std::string device_name, DeviceProfile profile, OscDriverOptions options,
              std::unique_ptr<OscPacketTransport> transport);

    [[nodiscard]] std::string description() const override;

    /// Opens the transport, sends the scheme's remote subscription if it has one, and queries
    /// channel 1's gain: throws Error (device) when no reply comes. The subscription is sent again
    /// before any request once its renew_after has passed, and after an unanswered attempt.
    void connect() override;

    /// Queries the parameter and waits for the reply, sending again after each reply timeout.
    ParameterValue read(const ParameterId& id) override;

    /// Sends the value and waits for the acknowledgement, sending again after each reply timeout.
    /// Throws Error (device) when the device refuses the value or never acknowledges it.
    void write(const ParameterId& id, const ParameterValue& value) override;

    [[nodiscard]] bool can_read_back() const override { return true; }

    /// False for what the address scheme can only query (x32: band_enabled, the channel's EQ switch).
    [[nodiscard]] bool can_write(ParameterKind kind) const override { return scheme_->can_write(kind); }

    /// The value rounded to the profile's steps and to the scheme's wire encoding (a float32, or
    /// the nearest step of a console's grid). Throws Error (configuration) like write() for a value
    /// outside the profile's range.
    [[nodiscard]] ParameterValue held_value(const ParameterId& id, const ParameterValue& value) const override;

    /// The message write() sends for the value, in the scheme's encoding (x32: the console's
    /// normalised 0..1 float), for a dry run to show.
    [[nodiscard]] OscMessage set_message(const ParameterId& id, const ParameterValue& value) const;

    /// The profile's settings with the options applied.
    [[nodiscard]] const OscControlSettings& settings() const { return settings_; }

private:
    struct Reply;

    Reply exchange(const ParameterId& id, const OscMessage& request, const std::optional<ParameterValue>& expected);
    std::optional<Reply> await_reply(const std::string& address, const ParameterId& id,
                                     const std::optional<ParameterValue>& expected);
    [[nodiscard]] std::string describe_refusal(const ParameterId& id, const OscMessage& request,
                                               const Reply& reply) const;
    void log(const std::string& line) const;
    void renew_remote_subscription();

    std::string device_name_;
    DeviceProfile profile_;
    OscDriverOptions options_;
    OscControlSettings settings_;
    std::unique_ptr<OscAddressScheme> scheme_;
    std::unique_ptr<OscPacketTransport> transport_;
    /// When the scheme's remote subscription (x32: "/xremote") was last sent; empty when it must be
    /// sent before the next request (never sent, or the last request went unanswered).
    std::optional<std::chrono::steady_clock::time_point> subscription_sent_;
};

/// The OSC driver over UDP for a host and port.
class OscUdpDriver final : public OscDriver {
public:
    /// Driver for a venue's amplifier (its name, host, port and profile).
    explicit OscUdpDriver(const Amplifier& amplifier, OscDriverOptions options = {});

    /// Throws Error (configuration) when the host is empty or the port 0, and when the host is not
    /// loopback ("localhost", 127.0.0.0/8, ::1), unless the profile sets verified_on_real_device or
    /// the options set allow_unverified_remote_host. A host name other than "localhost" counts as
    /// remote and is resolved only once allowed, so no DNS query leaves the machine before then.
    /// Also throws when the profile's transport is not "udp".
    OscUdpDriver(std::string device_name, const std::string& host, std::uint16_t port, DeviceProfile profile,
                 OscDriverOptions options = {});
};

/// The OSC driver over TCP for a host and port, with the profile's framing (control.framing).
class OscTcpDriver final : public OscDriver {
public:
    /// Driver for a venue's amplifier (its name, host, port and profile).
    explicit OscTcpDriver(const Amplifier& amplifier, OscDriverOptions options = {});

    /// Throws Error (configuration) like OscUdpDriver, and when the profile's transport is not
    /// "tcp". A connection attempt may take as long as all attempts of one request
    /// (reply timeout times 1 + retries).
    OscTcpDriver(std::string device_name, const std::string& host, std::uint16_t port, DeviceProfile profile,
                 OscDriverOptions options = {});
};

/// The OSC driver over the transport that the amplifier's profile names (control.transport).
std::unique_ptr<OscDriver> make_osc_driver(const Amplifier& amplifier, OscDriverOptions options = {});

}  // namespace linetune::control
