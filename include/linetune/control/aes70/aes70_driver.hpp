#pragma once

#include "linetune/control/aes70/aes70_connection.hpp"
#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/aes70_discovery.hpp"
#include "linetune/core/device_driver.hpp"
#include "linetune/core/venue.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace linetune::control {

/// Settings of an AES70 driver that override its profile or open what the profile keeps closed.
struct Aes70DriverOptions {
    std::optional<std::chrono::milliseconds> reply_timeout;  ///< replaces control.reply_timeout_ms
    /// Connects to a host outside loopback although the profile is not verified on a real device.
    bool allow_unverified_remote_host = false;
    /// Receives one line per lost link and per ignored message; may be empty.
    std::function<void(std::string_view)> log;
    /// Subscribes to PropertyChanged of every mapped object, so that a change made by another
    /// controller fails the driver's next call (and a push restores its snapshot).
    bool watch_changes = true;
    /// Locks every mapped object against writes by other controllers (OcaRoot LockReadonly) while
    /// connected, where the device offers locks on all of them. close() and the destructor unlock.
    bool lock_objects = true;
};

class Aes70PropertyWatch;

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

    /// Passes each change made by another controller to on_change (on the network thread) as well
    /// as failing the next call. Returns false when the device rejected the subscriptions or
    /// options.watch_changes is off. Call after connect().
    bool subscribe(std::function<void(const ParameterId&, const ParameterValue&)> on_change) override;

    /// Sets a band's shape, frequency, Q and gain in one atomic OcaFilterParametric SetMultiple
    /// (the device applies all four or none) and leaves its Enabled flag. Returns false, having
    /// changed nothing, when the device returns BadMethod or NotImplemented. After that it returns
    /// false without sending, and the caller sets the fields one by one. Throws like write() otherwise.
    bool write_band_shape(std::size_t channel, std::size_t band, const EqBandState& state);

    /// Sets a band's shape, frequency, Q and gain in one SetMultiple (four single Sets where the
    /// device has no SetMultiple), then its Enabled flag. Throws like write().
    void write_band(std::size_t channel, std::size_t band, const EqBandState& state);

    /// False once the device has returned BadMethod or NotImplemented for a SetMultiple.
    [[nodiscard]] bool offers_set_multiple() const { return offers_set_multiple_; }

    /// The DeviceManager's model, manufacturer, version, serial number and device name.
    Aes70DeviceIdentity identity();

    /// Every object under the root block with its class and role path.
    std::vector<Aes70ObjectInfo> object_tree();

    /// Unlocks what connect() locked and closes the connection. Safe to call twice.
    void close();

    /// True when connect() subscribed to every mapped object.
    [[nodiscard]] bool subscribed() const { return subscribed_; }

    /// Number of objects connect() locked (0 when the device offers no locks).
    [[nodiscard]] std::size_t locked_object_count() const { return locked_.size(); }

    /// What the last connect() found changed since the earlier connection: one line per property
    /// whose value differs from what linetune last wrote or read. Empty after a first connect.
    [[nodiscard]] const std::vector<std::string>& changes_found_on_reconnect() const { return reconnect_changes_; }

    /// The profile's settings with the options applied; with role paths, the object numbers are
    /// those resolved by the last connect().
    [[nodiscard]] const Aes70ControlSettings& settings() const { return settings_; }

private:
    struct Target;

    [[nodiscard]] Target target_of(const ParameterId& id) const;
    Ocp1Response call(const ParameterId& id, const Target& target, OcaMethodId method, std::uint8_t parameter_count,
                      std::vector<std::uint8_t> parameters);
    Ocp1Response call_on_device(OcaONo ono, OcaMethodId method, std::uint8_t parameter_count,
                                std::vector<std::uint8_t> parameters);
    void throw_on_foreign_change();
    std::vector<Aes70Reply> call_batch_on_device(std::vector<Aes70Request> requests);
    Ocp1Response checked_response(const ParameterId& id, const Target& target, OcaMethodId method, Aes70Reply reply) const;
    void prefetch_channel(std::size_t channel);
    void prefetch(const std::vector<ParameterId>& parameters);
    std::optional<Aes70Reply> take_prefetched(const ParameterId& id);
    void check_object_class(OcaONo ono, const std::vector<std::uint16_t>& class_prefix, std::string_view what,
                            const Aes70Reply& reply) const;
    void resolve_role_paths();
    void check_object_map();
    void watch_properties();
    void verify_after_reconnect();
    void lock_mapped_objects();
    void unlock_objects();
    [[nodiscard]] std::vector<OcaONo> mapped_objects() const;

    std::string device_name_;
    DeviceProfile profile_;
    Aes70DriverOptions options_;
    Aes70ControlSettings settings_;
    boost::asio::ip::tcp::endpoint endpoint_;
    std::unique_ptr<Aes70Connection> connection_;
    std::shared_ptr<Aes70PropertyWatch> watch_;
    bool subscribed_ = false;
    bool connected_before_ = false;
    std::vector<OcaONo> locked_;
    std::vector<std::string> reconnect_changes_;
    std::chrono::steady_clock::time_point last_command_{};
    /// Get replies fetched ahead for the channel that a run of reads is in. Every write clears
    /// them, so a read after a write always sends its own Get.
    std::vector<std::pair<ParameterId, Aes70Reply>> prefetched_;
    std::chrono::steady_clock::time_point prefetched_at_{};
    bool last_call_was_read_ = false;
    bool offers_set_multiple_ = true;
};

}  // namespace linetune::control
