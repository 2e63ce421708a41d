#pragma once

#include "linetune/control/aes70/aes70_connection.hpp"
#include "linetune/control/aes70/aes70_control_settings.hpp"
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

/// Settings of an AES70 driver that override its profile or open what the profile keeps closed.
struct Aes70DriverOptions {
    std::optional<std::chrono::milliseconds> reply_timeout;  ///< replaces control.reply_timeout_ms
    /// Connects to a host outside loopback although the profile is not verified on a real device.
    bool allow_unverified_remote_host = false;
    /// Receives one line per lost link and per ignored message; may be empty.
    std::function<void(std::string_view)> log;
};

/// DeviceDriver for an AES70 device over OCP.1/TCP. It reaches each channel parameter through the
/// object map of the profile: gain through OcaGain, mute through OcaMute, delay through OcaDelay
/// (in seconds on the wire), polarity through OcaPolarity, and each band through one
/// OcaFilterParametric (frequency, shape, width as Q, in-band gain) and its OcaWorker Enabled flag.
class Aes70Driver final : public DeviceDriver {
public:
    /// Driver for a venue's amplifier (its name, host, port and profile).
    explicit Aes70Driver(const Amplifier& amplifier, Aes70DriverOptions options = {});

    /// Throws Error (configuration) when the profile's "control" object is not valid for AES70,
    /// the host is empty or the port 0, or the host is not loopback ("localhost", 127.0.0.0/8,
    /// ::1) unless the profile sets verified_on_real_device or the options allow it. A host name
    /// other than "localhost" counts as remote and is resolved only once allowed.
    Aes70Driver(std::string device_name, const std::string& host, std::uint16_t port, DeviceProfile profile,
                Aes70DriverOptions options = {});

    ~Aes70Driver() override;

    [[nodiscard]] std::string description() const override;

    /// Opens a new OCP.1 connection (closing any earlier one) and checks that every object of the
    /// map exists and has the class the map expects. Throws Error (device) when the device does
    /// not respond and Error (configuration) when the object map does not match the device.
    void connect() override;

    /// Calls the Get method of the parameter's object. Throws Error (device) for a status other
    /// than OK, a timeout or a value linetune cannot represent.
    ParameterValue read(const ParameterId& id) override;

    /// Calls the Set method of the parameter's object and waits for its Response. Throws Error
    /// (device) when the device rejects the value, with the status and what to do.
    void write(const ParameterId& id, const ParameterValue& value) override;

    [[nodiscard]] bool can_read_back() const override { return true; }

    /// The profile's settings with the options applied.
    [[nodiscard]] const Aes70ControlSettings& settings() const { return settings_; }

private:
    struct Target;

    [[nodiscard]] Target target_of(const ParameterId& id) const;
    Ocp1Response call(const ParameterId& id, const Target& target, OcaMethodId method, std::uint8_t parameter_count,
                      std::vector<std::uint8_t> parameters);
    void check_object_class(OcaONo ono, const std::vector<std::uint16_t>& class_prefix, std::string_view what);

    std::string device_name_;
    DeviceProfile profile_;
    Aes70DriverOptions options_;
    Aes70ControlSettings settings_;
    boost::asio::ip::tcp::endpoint endpoint_;
    std::unique_ptr<Aes70Connection> connection_;
};

}  // namespace linetune::control
