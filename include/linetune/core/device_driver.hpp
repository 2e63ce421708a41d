#pragma once

#include "linetune/core/amplifier_state.hpp"

#include <functional>
#include <string>

namespace linetune {

/// Connection to one amplifier or DSP processor: the OSC drivers and the AES70 driver implement
/// it, and the push transaction is written against it alone. Every call throws Error
/// (ErrorKind::device) naming the device when it fails or times out, and ErrorKind::configuration
/// for a parameter the device does not have.
class DeviceDriver {
public:
    virtual ~DeviceDriver() = default;

    /// The device's name and address for messages ("amplifier 'amp-1' (osc.udp://127.0.0.1:9000)").
    [[nodiscard]] virtual std::string description() const = 0;

    /// Opens the connection and checks that the device answers.
    virtual void connect() = 0;

    /// Current value as the device reports it.
    virtual ParameterValue read(const ParameterId& id) = 0;

    /// Sends a new value; returns once the device has accepted it (or, for protocols without
    /// acknowledgement, once it is sent). read() afterwards gives the read-back.
    virtual void write(const ParameterId& id, const ParameterValue& value) = 0;

    /// False for devices that cannot report their values: pushes to them stay "unverified".
    [[nodiscard]] virtual bool can_read_back() const = 0;

    /// False for a parameter the device reports but cannot set on its own, such as band_enabled
    /// on a console that switches the EQ of a whole channel. A push then leaves it as it is.
    [[nodiscard]] virtual bool can_write(ParameterKind kind) const {
        (void)kind;
        return true;
    }

    /// The value the device holds after a set of `value`, after its own quantisation (a console's
    /// fixed grid of frequencies, for example). A push compares read-backs with it.
    [[nodiscard]] virtual ParameterValue held_value(const ParameterId& id, const ParameterValue& value) const {
        (void)id;
        return value;
    }

    /// Asks to be told when another controller changes a value; returns false when the protocol
    /// or device cannot notify. The callback may run on another thread.
    virtual bool subscribe(std::function<void(const ParameterId&, const ParameterValue&)> on_change) {
        (void)on_change;
        return false;
    }
};

}  // namespace linetune
