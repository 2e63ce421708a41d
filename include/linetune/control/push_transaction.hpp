#pragma once

#include "linetune/control/push_plan.hpp"
#include "linetune/control/write_order.hpp"
#include "linetune/core/device_driver.hpp"
#include "linetune/core/venue.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::control {

/// Makes the driver of a venue amplifier: make_device_driver for real devices, in-memory or
/// in-process drivers in tests and simulations.
using DriverFactory = std::function<std::unique_ptr<DeviceDriver>(const Amplifier&)>;

/// Settings of a push or a recovery.
struct PushOptions {
    bool allow_polarity_change = false;
    /// How long a restore keeps retrying a device that times out or rejects a value, counted per
    /// device. 30 s covers a network switch port coming back up or a short Wi-Fi drop-out. After
    /// it the device is reported FAILED and the journal is kept.
    std::chrono::milliseconds restore_timeout{30000};
    std::chrono::milliseconds retry_interval{250};  ///< pause between restore attempts
    /// When set to true (by a SIGINT handler, for example), the push sends no further write and
    /// restores the snapshot. A running restore is not stopped.
    const std::atomic<bool>* stop_request = nullptr;
};

/// One write in sending order, with the device of the plan it goes to.
struct PlannedWrite {
    std::size_t device = 0;  ///< index into PushPlan::devices
    WritePhase phase = WritePhase::change;
    ParameterWrite write;
};

/// A checked and planned push that has sent nothing yet: each device is connected, its snapshot
/// read and every safety limit passed.
struct PreparedPush {
    PushPlan plan;
    std::vector<Amplifier> amplifiers;                   ///< per device of the plan
    std::vector<std::unique_ptr<DeviceDriver>> drivers;  ///< per device of the plan
    std::vector<std::vector<ChannelWritePlan>> orders;   ///< per device and channel of the plan
    std::vector<PlannedWrite> writes;                    ///< every write, in sending order
};

/// Outcome of a push or recovery on one device.
enum class DeviceOutcome {
    verified,             ///< every write read back as sent
    unverified,           ///< every write sent, but the device cannot report its values
    unchanged,            ///< nothing was written to it
    restored,             ///< the snapshot was written back and read back
    failed,               ///< neither state could be confirmed: the channel may hold a mix of both
};

/// "verified", "unverified", "unchanged", "restored" or "FAILED".
std::string_view to_string(DeviceOutcome outcome);

/// The outcome of one device and the reason for it.
struct DeviceResult {
    std::string amplifier;
    std::string device;
    DeviceOutcome outcome = DeviceOutcome::unchanged;
    std::size_t writes_sent = 0;
    std::string detail;  ///< why it was restored or failed; empty for verified and unchanged
};

/// The result of a push or a recovery, for the CLI to print and `run` to show.
struct PushReport {
    std::string venue_name;
    bool recovery = false;
    std::vector<DeviceResult> devices;
    std::string failure;  ///< what stopped the push; empty when every write went through
    std::filesystem::path journal;
    bool journal_kept = false;

    /// True when every device has the new settings (verified, unverified or unchanged).
    [[nodiscard]] bool succeeded() const;
};

/// Checks the targets against the safety limits, connects to each amplifier that drives a zone of
/// the targets, reads the snapshot of those channels, checks the limits that need it and orders
/// the writes. Sends no write. Throws Error (configuration) listing every safety violation, or
/// Error (device) when a device does not respond.
PreparedPush prepare_push(const Venue& venue, const std::map<std::string, ZoneTarget>& targets,
                          const DriverFactory& make_driver, const PushOptions& options);

/// Sends a prepared push: writes the journal (flushed to disk) before the first write, then every
/// write in order, reading each back. When all went through, removes the journal. On the first
/// timeout, rejected value, read-back mismatch or stop request it restores every device that was
/// written to, with the same safe order, retrying for options.restore_timeout. The journal is then
/// removed only when every device was restored. Throws Error (configuration) before any write
/// when the journal exists already (an earlier push was interrupted) or cannot be written.
PushReport execute_push(PreparedPush& push, const std::filesystem::path& journal_path, const PushOptions& options);

/// A checked recovery that has sent nothing yet. restore is shown like a push: each channel's
/// snapshot is what the device holds now and its target is the journal's snapshot, with the writes
/// of a first restore attempt in sending order.
struct PreparedRecovery {
    PushPlan journal;     ///< the journal as read
    PreparedPush restore;
};

/// Reads the journal of an interrupted push, connects to each of its amplifiers, reads what their
/// channels hold now and checks the journal's snapshot against each amplifier's effective limits
/// and the venue's safety.max_band_boost_db and safety.max_total_boost_db. The gain-increase
/// limit does not apply, because the state before a push may legitimately be louder. Sends no
/// write. Throws Error (configuration) when the journal is unreadable, was written for another
/// venue, names an amplifier the venue no longer has at the same address, or holds a value beyond
/// a limit; Error (device) when a device does not respond.
PreparedRecovery prepare_recovery(const Venue& venue, const std::filesystem::path& journal_path,
                                  const DriverFactory& make_driver, const PushOptions& options);

/// Restores every device of a prepared recovery to the journal's snapshot, with the safe order and
/// read-back, retrying for options.restore_timeout, and removes the journal when all were restored.
PushReport execute_recovery(PreparedRecovery& recovery, const std::filesystem::path& journal_path,
                            const PushOptions& options);

/// prepare_recovery followed by execute_recovery, without asking.
PushReport recover_push(const Venue& venue, const std::filesystem::path& journal_path, const DriverFactory& make_driver,
                        const PushOptions& options);

/// Reads every parameter linetune owns on one channel: gain, delay, mute, polarity and bands
/// 1..band_count. Throws Error (device) when the device returns the wrong type of value.
ChannelState read_channel_state(DeviceDriver& driver, std::size_t channel, std::size_t band_count);

}  // namespace linetune::control
