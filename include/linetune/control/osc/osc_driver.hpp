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

    /// Opens the transport and queries channel 1's gain: throws Error (device) when no reply comes.
    void connect() override;

    /// Queries the parameter and waits for the reply, sending again after each reply timeout.
    ParameterValue read(const ParameterId& id) override;

    /// Sends the value and waits for the acknowledgement, sending again after each reply timeout.
    /// Throws Error (device) when the device refuses the value or never acknowledges it.
    void write(const ParameterId& id, const ParameterValue& value) override;

    [[nodiscard]] bool can_read_back() const override { return true; }

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

    std::string device_name_;
    DeviceProfile profile_;
    OscDriverOptions options_;
    OscControlSettings settings_;
    std::unique_ptr<OscAddressScheme> scheme_;
    std::unique_ptr<OscPacketTransport> transport_;
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
    OscUdpDriver(std::string device_name, const std::string& host, std::uint16_t port, DeviceProfile profile,
                 OscDriverOptions options = {});
};

}  // namespace linetune::control
