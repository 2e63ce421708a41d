#pragma once

// Notices changes that another controller makes to the properties an AES70 driver controls,
// from the PropertyChanged notifications of its subscriptions.

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/amplifier_state.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace linetune::control {

/// A property value that changed without linetune sending it.
struct Aes70ForeignChange {
    ParameterId id;
    OcaONo ono = 0;
    std::vector<std::uint8_t> value;  ///< the new value as encoded on the wire
};

/// The value linetune last wrote or read for each watched property, and the changes that
/// notifications report beyond them. A device notifies every subscriber of every Set, linetune's
/// own included, so a notification whose value equals the expected one is taken as linetune's
/// own; any other notification of a watched property, one that linetune never read included, is
/// a change by another controller. NOTE: another controller setting the value linetune expects anyway goes unnoticed, which
/// is harmless because the device then holds what linetune wants. Thread-safe: notifications
/// arrive on the connection's network thread.
class Aes70PropertyWatch {
public:
    using PropertyKey = std::pair<OcaONo, std::uint32_t>;

    /// Forgets every watched property, expected value and recorded change.
    void clear();

    /// Watches one property of an object as the parameter id.
    void watch(OcaONo ono, OcaPropertyId property, const ParameterId& id);

    /// Records the value linetune sent or read. Returns the value expected before, if any.
    std::optional<std::vector<std::uint8_t>> expect(OcaONo ono, OcaPropertyId property, std::vector<std::uint8_t> value);

    /// Restores an expectation that expect() replaced (after a Set the device rejected).
    void restore(OcaONo ono, OcaPropertyId property, std::optional<std::vector<std::uint8_t>> value);

    /// The expected values of every watched property that has one, with its parameter.
    [[nodiscard]] std::vector<std::pair<ParameterId, std::vector<std::uint8_t>>> expected_values() const;

    /// Handles one EV1 notification: a PropertyChanged (event 1.1, CurrentChanged) of a watched
    /// property whose value differs from the expected one (or has none) is recorded and passed to
    /// on_change.
    void on_notification(const Ocp1Notification& notification);

    /// Returns the oldest recorded change and removes it; empty when there is none.
    std::optional<Aes70ForeignChange> take_change();

    /// Receives each recorded change on the network thread; may be empty.
    void set_on_change(std::function<void(const Aes70ForeignChange&)> on_change);

private:
    mutable std::mutex mutex_;
    std::map<PropertyKey, ParameterId> watched_;
    std::map<PropertyKey, std::vector<std::uint8_t>> expected_;
    std::vector<Aes70ForeignChange> changes_;
    std::function<void(const Aes70ForeignChange&)> on_change_;
};

}  // namespace linetune::control
