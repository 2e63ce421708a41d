#pragma once

// An in-memory amplifier for the push tests: it records the whole state after every write and
// fails on request at a chosen write, for a number of operations after it, or on every read.

#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace linetune::test {

/// The state and fault settings of one in-memory amplifier, shared with the drivers made for it.
struct MemoryDevice {
    std::string name;
    AmplifierState state;
    bool readable = true;
    /// False for a device like the X32: band_enabled can be read but not written.
    bool per_band_enable = true;
    std::vector<AmplifierState> history;  ///< the state after every applied write, in order
    std::size_t writes_received = 0;      ///< writes that reached the device, failed ones included
    std::size_t operations = 0;           ///< reads and writes, failed ones included

    /// 1-based write at which the device stops responding: that write and the next
    /// outage_operations reads and writes (connects included) throw a timeout.
    std::optional<std::size_t> fail_at_write;
    bool apply_failed_write = false;  ///< the failing write changes the value before the timeout
    std::size_t outage_operations = 0;
    std::size_t outage_left = 0;

    /// 1-based write after which the device holds a different value than was sent (read-back mismatch).
    std::optional<std::size_t> alter_at_write;

    /// Called before each write is applied, with the write's number (1-based).
    std::function<void(std::size_t)> before_write;
};

/// DeviceDriver over a MemoryDevice.
class MemoryDriver final : public DeviceDriver {
public:
    explicit MemoryDriver(std::shared_ptr<MemoryDevice> device) : device_(std::move(device)) {}

    [[nodiscard]] std::string description() const override { return "memory amplifier '" + device_->name + "'"; }

    void connect() override { fail_during_outage("connect"); }

    ParameterValue read(const ParameterId& id) override {
        if (!device_->readable) {
            throw Error(description() + ": cannot report values", ErrorKind::device);
        }
        ++device_->operations;
        fail_during_outage("read of " + describe(id));
        return get_parameter(device_->state, id);
    }

    void write(const ParameterId& id, const ParameterValue& value) override {
        if (!can_write(id.kind)) {
            throw Error(description() + ": " + describe(id) + " cannot be set", ErrorKind::configuration);
        }
        ++device_->operations;
        const std::size_t number = ++device_->writes_received;
        if (device_->before_write) {
            device_->before_write(number);
        }
        if (device_->fail_at_write == number) {
            if (device_->apply_failed_write) {
                apply(id, value);
            }
            device_->outage_left = device_->outage_operations;
            throw Error(description() + ": write of " + describe(id) + " timed out", ErrorKind::device);
        }
        fail_during_outage("write of " + describe(id));
        if (device_->alter_at_write == number) {
            ParameterValue altered = value;
            if (const double* number_value = std::get_if<double>(&value)) {
                altered = *number_value + 1.0;
            } else if (const bool* flag = std::get_if<bool>(&value)) {
                altered = !*flag;
            }
            apply(id, altered);
            return;
        }
        apply(id, value);
    }

    [[nodiscard]] bool can_read_back() const override { return device_->readable; }

    [[nodiscard]] bool can_write(ParameterKind kind) const override {
        return device_->per_band_enable || kind != ParameterKind::band_enabled;
    }

private:
    void apply(const ParameterId& id, const ParameterValue& value) {
        set_parameter(device_->state, id, value);
        device_->history.push_back(device_->state);
    }

    void fail_during_outage(const std::string& what) {
        if (device_->outage_left == 0) {
            return;
        }
        --device_->outage_left;
        throw Error(description() + ": " + what + " timed out", ErrorKind::device);
    }

    std::shared_ptr<MemoryDevice> device_;
};

/// Returns limits like the virtual amplifier's profile, with 4 owned bands of the five filter
/// types. EQ: 20 Hz to 20 kHz, ±15 dB in 0.1 dB steps, Q 0.3 to 10 in 0.01 steps. Delay up to
/// 1000 ms in 0.02 ms steps, output gain −40 to +12 dB in 0.1 dB steps.
inline ChannelLimits memory_amplifier_limits() {
    ChannelLimits limits;
    limits.eq.max_bands = 4;
    limits.eq.filter_types = {FilterKind::peaking, FilterKind::low_shelf, FilterKind::high_shelf, FilterKind::high_pass,
                              FilterKind::low_pass};
    limits.eq.freq_hz = {20.0, 20000.0, 0.0};
    limits.eq.gain_db = {-15.0, 15.0, 0.1};
    limits.eq.q = {0.3, 10.0, 0.01};
    limits.delay_ms = {1000.0, 0.02};
    limits.gain_db = {-40.0, 12.0, 0.1};
    return limits;
}

/// Builds a venue of one or more in-memory amplifiers ("amp-1", "amp-2", ...) with two zones each
/// ("zone-1", "zone-2", ... on channels 1 and 2), 40 m max distance at 20 °C and default safety limits.
inline Venue memory_venue(std::size_t amplifier_count = 1) {
    Venue venue;
    venue.name = "memory venue";
    venue.file = "memory-venue.json";
    venue.max_distance_m = 40.0;
    std::size_t zone_number = 1;
    for (std::size_t a = 1; a <= amplifier_count; ++a) {
        Amplifier amplifier;
        amplifier.name = "amp-" + std::to_string(a);
        amplifier.profile_name = "memory";
        amplifier.profile.name = "memory";
        amplifier.profile.channel_count = 2;
        amplifier.profile.sample_rate_hz = 48000.0;
        amplifier.profile.latency_ms = 1.0;
        amplifier.profile.limits = memory_amplifier_limits();
        amplifier.limits = amplifier.profile.limits;
        amplifier.host = "127.0.0.1";
        amplifier.port = 9;  // never opened: the memory driver ignores the address
        venue.amplifiers.push_back(amplifier);
        for (std::size_t channel = 1; channel <= 2; ++channel) {
            Zone zone;
            zone.name = "zone-" + std::to_string(zone_number++);
            zone.system = "mains";
            zone.amplifier = amplifier.name;
            zone.channel = channel;
            venue.zones.push_back(zone);
        }
    }
    return venue;
}

/// In-memory devices for every amplifier of a venue and the factory that hands out their drivers.
struct MemoryRig {
    std::map<std::string, std::shared_ptr<MemoryDevice>> devices;

    explicit MemoryRig(const Venue& venue) {
        for (const auto& amplifier : venue.amplifiers) {
            auto device = std::make_shared<MemoryDevice>();
            device->name = amplifier.name;
            device->state = neutral_amplifier_state(amplifier.profile.channel_count, amplifier.limits.eq.max_bands);
            devices[amplifier.name] = device;
        }
    }

    [[nodiscard]] control::DriverFactory factory() const {
        return [devices = devices](const Amplifier& amplifier) -> std::unique_ptr<DeviceDriver> {
            return std::make_unique<MemoryDriver>(devices.at(amplifier.name));
        };
    }

    MemoryDevice& operator[](const std::string& name) { return *devices.at(name); }
};

/// A zone target of the given gain and delay with peaking bands (freq_hz, gain_db, q).
inline control::ZoneTarget zone_target(double gain_db, double delay_ms,
                                       std::vector<analysis::ParametricBand> bands = {}) {
    control::ZoneTarget target;
    target.setting.gain_db = gain_db;
    target.setting.delay_ms = delay_ms;
    target.setting.bands = std::move(bands);
    return target;
}

inline analysis::ParametricBand peaking(double freq_hz, double gain_db, double q) {
    return {analysis::FilterType::peaking, freq_hz, gain_db, q};
}

/// Options with short restore retries, so that failing cases end quickly.
inline control::PushOptions quick_options() {
    control::PushOptions options;
    options.restore_timeout = std::chrono::milliseconds(2000);
    options.retry_interval = std::chrono::milliseconds(1);
    return options;
}

}  // namespace linetune::test
