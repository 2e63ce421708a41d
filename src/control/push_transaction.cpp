#include "linetune/control/push_transaction.hpp"

#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/parameter_steps.hpp"
#include "linetune/control/push_journal.hpp"
#include "linetune/control/push_safety.hpp"
#include "linetune/core/error.hpp"

#include <array>
#include <map>
#include <span>
#include <thread>
#include <utility>

namespace linetune::control {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array write_phases{WritePhase::reduce, WritePhase::change, WritePhase::raise};

const Amplifier& amplifier_named(const Venue& venue, const std::string& name) {
    for (const auto& amplifier : venue.amplifiers) {
        if (amplifier.name == name) {
            return amplifier;
        }
    }
    throw Error("amplifier '" + name + "' is not in venue '" + venue.name + "'", ErrorKind::configuration);
}

double number_from(const ParameterValue& value, DeviceDriver& driver, const ParameterId& id) {
    if (const double* number = std::get_if<double>(&value)) {
        return *number;
    }
    throw Error(driver.description() + ": " + describe(id) + " was reported as '" + describe(value) +
                    "', not a number; check that the profile matches the device",
                ErrorKind::device);
}

bool flag_from(const ParameterValue& value, DeviceDriver& driver, const ParameterId& id) {
    if (const bool* flag = std::get_if<bool>(&value)) {
        return *flag;
    }
    throw Error(driver.description() + ": " + describe(id) + " was reported as '" + describe(value) +
                    "', not true or false; check that the profile matches the device",
                ErrorKind::device);
}

FilterKind kind_from(const ParameterValue& value, DeviceDriver& driver, const ParameterId& id) {
    if (const FilterKind* kind = std::get_if<FilterKind>(&value)) {
        return *kind;
    }
    throw Error(driver.description() + ": " + describe(id) + " was reported as '" + describe(value) +
                    "', not a filter type; check that the profile matches the device",
                ErrorKind::device);
}

/// When the device can report values, reads a written parameter back and compares it. Throws
/// Error (device) for a mismatch.
void read_back(DeviceDriver& driver, const ParameterWrite& write, const ChannelLimits& limits) {
    if (!driver.can_read_back()) {
        return;
    }
    const auto actual = driver.read(write.id);
    if (!values_match(write.id.kind, write.value, actual, limits)) {
        throw Error(driver.description() + ": " + describe(write.id) + " read back as " + describe(actual) +
                        " after sending " + describe(write.value) + " (the device refused or changed the value)",
                    ErrorKind::device);
    }
}

/// Sends one write and, when the device can report values, compares the read-back. Throws Error
/// (device) for a mismatch.
void send_write(DeviceDriver& driver, const ParameterWrite& write, const ChannelLimits& limits) {
    driver.write(write.id, write.value);
    read_back(driver, write, limits);
}

/// True for the band parameters that one OcaFilterParametric SetMultiple sets together.
bool is_band_shape(ParameterKind kind) {
    return kind == ParameterKind::band_type || kind == ParameterKind::band_freq_hz || kind == ParameterKind::band_q ||
           kind == ParameterKind::band_gain_db;
}

/// Number of writes from `first` on that set the shape of one band in one phase, which an atomic
/// band write may send together; 1 for any other write.
std::size_t band_shape_run(const std::vector<PlannedWrite>& writes, std::size_t first) {
    const auto& head = writes[first];
    if (!is_band_shape(head.write.id.kind)) {
        return 1;
    }
    std::size_t end = first + 1;
    while (end < writes.size() && writes[end].device == head.device && writes[end].phase == head.phase &&
           writes[end].write.id.channel == head.write.id.channel && writes[end].write.id.band == head.write.id.band &&
           is_band_shape(writes[end].write.id.kind)) {
        ++end;
    }
    return end - first;
}

/// Sends a run of writes from band_shape_run and reads each back. Over AES70 a run of several
/// fields goes as one atomic SetMultiple, its other fields taken from channel_state (what the
/// channel contains before the run). Skipping the states between the fields keeps the safe order:
/// the channel passes through fewer states, and each one it reaches was checked. Other drivers,
/// and a device without SetMultiple, get the writes one by one in their planned order.
/// channel_state is updated with the run.
void send_run(DeviceDriver& driver, std::span<const PlannedWrite> run, ChannelState& channel_state,
              const ChannelLimits& limits) {
    for (const auto& planned : run) {
        apply_write(channel_state, planned.write);
    }
    auto* aes70 = dynamic_cast<Aes70Driver*>(&driver);
    const ParameterId& id = run.front().write.id;
    if (run.size() > 1 && aes70 != nullptr && id.band >= 1 && id.band <= channel_state.bands.size() &&
        aes70->write_band_shape(id.channel, id.band, channel_state.bands[id.band - 1])) {
        for (const auto& planned : run) {
            read_back(driver, planned.write, limits);
        }
        return;
    }
    for (const auto& planned : run) {
        send_write(driver, planned.write, limits);
    }
}

/// The parameters of a channel whose read-back differs from the expected state, for messages.
std::string differences(const ChannelState& expected, const ChannelState& actual, std::size_t channel,
                        const ChannelLimits& limits) {
    AmplifierState expected_amp;
    AmplifierState actual_amp;
    expected_amp.channels.push_back(expected);
    actual_amp.channels.push_back(actual);
    std::string text;
    for (auto id : all_parameters(expected_amp)) {
        const auto want = get_parameter(expected_amp, id);
        const auto have = get_parameter(actual_amp, id);
        if (!values_match(id.kind, want, have, limits)) {
            id.channel = channel;
            text += (text.empty() ? "" : ", ") + describe(id) + " is " + describe(have) + " instead of " + describe(want);
        }
    }
    return text;
}

/// The target with every value that differs from the snapshot replaced by the value the device
/// will hold (its own quantisation, such as a console's grid of frequencies). The write order,
/// the journal and the read-back then all use what the device reports.
ChannelState held_by_device(const DeviceDriver& driver, std::size_t channel, const ChannelState& snapshot,
                            const ChannelState& target) {
    AmplifierState before;
    AmplifierState after;
    before.channels.push_back(snapshot);
    after.channels.push_back(target);
    for (const auto& id : all_parameters(after)) {
        const auto value = get_parameter(after, id);
        if (value != get_parameter(before, id)) {
            ParameterId device_id = id;
            device_id.channel = channel;
            set_parameter(after, id, driver.held_value(device_id, value));
        }
    }
    return after.channels.front();
}

/// Merges the writes of several channels of one device by phase, keeping each channel's order.
std::vector<ParameterWrite> merge_by_phase(const std::vector<ChannelWritePlan>& orders) {
    std::vector<ParameterWrite> writes;
    for (const WritePhase phase : write_phases) {
        for (const auto& order : orders) {
            for (const auto& phased : order.writes) {
                if (phased.phase == phase) {
                    writes.push_back(phased.write);
                }
            }
        }
    }
    return writes;
}

/// Makes one attempt to bring a device back to its snapshot. It reads the current state of each
/// channel and orders the writes from there to the snapshot (muted throughout when muted_order).
/// It sends and reads back each write, then reads every channel again and compares it with the
/// snapshot. Throws Error on any failure.
void restore_once(DeviceDriver& driver, const DevicePlan& device, const Amplifier& amplifier, bool muted_order) {
    const auto& limits = amplifier.limits;
    const double sample_rate_hz = amplifier.profile.sample_rate_hz;
    std::vector<ChannelWritePlan> orders;
    for (const auto& channel : device.channels) {
        const auto current = read_channel_state(driver, channel.channel, channel.snapshot.bands.size());
        orders.push_back(muted_order
                             ? order_channel_writes_muted(channel.channel, current, channel.snapshot, sample_rate_hz)
                             : order_channel_writes(channel.channel, current, channel.snapshot, limits, sample_rate_hz));
    }
    for (const auto& write : merge_by_phase(orders)) {
        send_write(driver, write, limits);
    }
    for (const auto& channel : device.channels) {
        const auto current = read_channel_state(driver, channel.channel, channel.snapshot.bands.size());
        const auto mismatch = differences(channel.snapshot, current, channel.channel, limits);
        if (!mismatch.empty()) {
            throw Error(driver.description() + ": after the restore " + mismatch, ErrorKind::device);
        }
    }
}

/// Restores a device to its snapshot, retrying until options.restore_timeout has passed. Attempts
/// alternate between the ordinary order and the muted one. So a device that rejects the lowered
/// gain of the first can still be restored by the second, and one that rejects the mute by the first.
/// reconnect_first: connect before the first attempt too (recovery starts with a fresh driver).
DeviceResult restore_device(DeviceDriver& driver, const DevicePlan& device, const Amplifier& amplifier,
                            const PushOptions& options, bool reconnect_first, DeviceResult result) {
    for (const auto& channel : device.channels) {
        if (!channel.snapshot_known) {
            result.outcome = DeviceOutcome::failed;
            result.detail += "its values before the push are unknown because the device cannot report them, so they "
                             "cannot be restored; check channel " + std::to_string(channel.channel) + " (zone '" +
                             channel.zone + "') by hand";
            return result;
        }
    }

    const auto deadline = Clock::now() + options.restore_timeout;
    std::string last_error;
    for (int attempt = 0;; ++attempt) {
        try {
            if (attempt > 0 || reconnect_first) {
                driver.connect();
            }
            restore_once(driver, device, amplifier, attempt % 2 == 1);
            result.outcome = DeviceOutcome::restored;
            if (attempt > 0) {
                result.detail += (result.detail.empty() ? "" : "; ") + std::string("restored after ") +
                                 std::to_string(attempt + 1) + " attempts";
            }
            return result;
        } catch (const Error& error) {
            last_error = error.what();
        }
        if (Clock::now() + options.retry_interval >= deadline) {
            break;
        }
        std::this_thread::sleep_for(options.retry_interval);
    }
    result.outcome = DeviceOutcome::failed;
    result.detail += (result.detail.empty() ? "" : "; ") + std::string("restore failed for ") +
                     std::to_string(options.restore_timeout.count()) + " ms (last error: " + last_error +
                     "); the channels may hold a mix of old and new values";
    return result;
}

/// Removes the journal after a commit or complete restore, or keeps it when a device may still
/// hold a mix of both states that `push --recover` can restore.
void settle_journal(PushReport& report, const PushPlan& plan) {
    bool recoverable_failure = false;
    for (std::size_t d = 0; d < report.devices.size(); ++d) {
        if (report.devices[d].outcome != DeviceOutcome::failed) {
            continue;
        }
        for (const auto& channel : plan.devices[d].channels) {
            recoverable_failure = recoverable_failure || channel.snapshot_known;
        }
    }
    report.journal_kept = recoverable_failure;
    if (!report.journal_kept) {
        remove_push_journal(report.journal);
    }
}

bool stop_requested(const PushOptions& options) {
    return options.stop_request != nullptr && options.stop_request->load();
}

}  // namespace

std::string_view to_string(DeviceOutcome outcome) {
    switch (outcome) {
    case DeviceOutcome::verified: return "verified";
    case DeviceOutcome::unverified: return "unverified";
    case DeviceOutcome::unchanged: return "unchanged";
    case DeviceOutcome::restored: return "restored";
    case DeviceOutcome::failed: return "FAILED";
    }
    return "FAILED";
}

bool PushReport::succeeded() const {
    if (!failure.empty()) {
        return false;
    }
    for (const auto& device : devices) {
        if (device.outcome != DeviceOutcome::verified && device.outcome != DeviceOutcome::unverified &&
            device.outcome != DeviceOutcome::unchanged) {
            return false;
        }
    }
    return true;
}

ChannelState read_channel_state(DeviceDriver& driver, std::size_t channel, std::size_t band_count) {
    const auto read_number = [&](ParameterKind kind, std::size_t band) {
        const ParameterId id{channel, kind, band};
        return number_from(driver.read(id), driver, id);
    };
    const auto read_flag = [&](ParameterKind kind, std::size_t band) {
        const ParameterId id{channel, kind, band};
        return flag_from(driver.read(id), driver, id);
    };

    ChannelState state;
    state.gain_db = read_number(ParameterKind::gain_db, 0);
    state.delay_ms = read_number(ParameterKind::delay_ms, 0);
    state.mute = read_flag(ParameterKind::mute, 0);
    state.polarity_inverted = read_flag(ParameterKind::polarity_inverted, 0);
    for (std::size_t b = 1; b <= band_count; ++b) {
        EqBandState band;
        band.enabled = read_flag(ParameterKind::band_enabled, b);
        const ParameterId type_id{channel, ParameterKind::band_type, b};
        band.type = kind_from(driver.read(type_id), driver, type_id);
        band.freq_hz = read_number(ParameterKind::band_freq_hz, b);
        band.gain_db = read_number(ParameterKind::band_gain_db, b);
        band.q = read_number(ParameterKind::band_q, b);
        state.bands.push_back(band);
    }
    return state;
}

PreparedPush prepare_push(const Venue& venue, const std::map<std::string, ZoneTarget>& targets,
                          const DriverFactory& make_driver, const PushOptions& options) {
    // An amplifier without a control address is set by hand. Report that before the limits,
    // whose list would otherwise count it as a value beyond them.
    for (const auto& zone : venue.zones) {
        if (targets.count(zone.name) == 0) {
            continue;
        }
        for (const auto& amplifier : venue.amplifiers) {
            if (amplifier.name == zone.amplifier && amplifier.host.empty()) {
                throw Error("amplifier '" + amplifier.name + "' has no host/port in the venue file: add them or "
                            "export the CSV for manual entry ('linetune tune --csv'); nothing was sent",
                            ErrorKind::configuration);
            }
        }
    }
    if (const auto violations = check_target_limits(venue, targets); !violations.empty()) {
        throw safety_error(venue.name, violations);
    }

    PreparedPush push;
    push.plan.venue_name = venue.name;
    push.plan.venue_file = venue.file;
    for (const auto& amplifier : venue.amplifiers) {
        std::vector<const Zone*> zones;
        for (const auto& zone : venue.zones) {
            if (zone.amplifier == amplifier.name && targets.count(zone.name) != 0) {
                zones.push_back(&zone);
            }
        }
        if (zones.empty()) {
            continue;
        }

        auto driver = make_driver(amplifier);
        driver->connect();
        DevicePlan device{amplifier.name, driver->description(), {}};
        const bool readable = driver->can_read_back();
        const bool per_band_enable = driver->can_write(ParameterKind::band_enabled);
        for (const Zone* zone : zones) {
            ChannelPlan channel;
            channel.zone = zone->name;
            channel.channel = zone->channel;
            channel.snapshot_known = readable;
            auto unknown = neutral_amplifier_state(1, owned_band_count(amplifier)).channels.front();
            for (auto& band : unknown.bands) {
                // NOTE: a device that neither reports values nor switches single bands is assumed
                // to have its channel EQ on; nothing can check it.
                band.enabled = !per_band_enable;
            }
            channel.snapshot = readable ? read_channel_state(*driver, zone->channel, owned_band_count(amplifier)) : unknown;
            try {
                channel.target = target_channel_state(channel.snapshot, targets.at(zone->name), amplifier.limits,
                                                      per_band_enable);
            } catch (const Error& error) {
                throw error.with_context(driver->description() + ": zone '" + zone->name + "', channel " +
                                         std::to_string(zone->channel) + "; nothing was sent");
            }
            channel.target = held_by_device(*driver, zone->channel, channel.snapshot, channel.target);
            if (!readable) {
                channel.snapshot = channel.target;
            }
            device.channels.push_back(std::move(channel));
        }
        push.plan.devices.push_back(std::move(device));
        push.amplifiers.push_back(amplifier);
        push.drivers.push_back(std::move(driver));
    }

    if (const auto violations = check_change_limits(venue, push.plan, targets, options.allow_polarity_change); !violations.empty()) {
        throw safety_error(venue.name, violations);
    }

    for (std::size_t d = 0; d < push.plan.devices.size(); ++d) {
        const auto& amplifier = push.amplifiers[d];
        std::vector<ChannelWritePlan> orders;
        for (const auto& channel : push.plan.devices[d].channels) {
            const auto& zone_target = targets.at(channel.zone);
            orders.push_back(channel.snapshot_known
                                 ? order_channel_writes(channel.channel, channel.snapshot, channel.target, amplifier.limits,
                                                        amplifier.profile.sample_rate_hz)
                                 : order_writes_without_readback(channel.channel, channel.target, amplifier.limits,
                                                                 zone_target.polarity_inverted.has_value(),
                                                                 push.drivers[d]->can_write(ParameterKind::band_enabled)));
        }
        push.orders.push_back(std::move(orders));
    }
    for (const WritePhase phase : write_phases) {
        for (std::size_t d = 0; d < push.orders.size(); ++d) {
            for (const auto& order : push.orders[d]) {
                for (const auto& phased : order.writes) {
                    if (phased.phase == phase) {
                        push.writes.push_back({d, phase, phased.write});
                    }
                }
            }
        }
    }
    return push;
}

PushReport execute_push(PreparedPush& push, const std::filesystem::path& journal_path, const PushOptions& options) {
    std::error_code error;
    if (std::filesystem::exists(journal_path, error)) {
        throw Error("push journal '" + journal_path.string() +
                        "' exists: an earlier push was interrupted and its amplifiers may hold a mix of old and new "
                        "values. Run 'linetune push --recover --venue VENUE --journal " + journal_path.string() +
                        "' first; nothing was sent",
                    ErrorKind::configuration);
    }

    PushReport report;
    report.venue_name = push.plan.venue_name;
    report.journal = journal_path;
    for (const auto& device : push.plan.devices) {
        report.devices.push_back({device.amplifier, device.device, DeviceOutcome::unchanged, 0, {}});
    }
    write_push_journal(journal_path, push.plan);

    // Values of each channel as the writes go out (device, channel number), which fills the
    // fields that an atomic band write does not change.
    std::vector<std::map<std::size_t, ChannelState>> channel_states(push.plan.devices.size());
    for (std::size_t d = 0; d < push.plan.devices.size(); ++d) {
        for (const auto& channel : push.plan.devices[d].channels) {
            channel_states[d][channel.channel] = channel.snapshot;
        }
    }

    for (std::size_t i = 0; i < push.writes.size();) {
        const auto& planned = push.writes[i];
        if (stop_requested(options)) {
            report.failure = "stopped on request before " + describe(planned.write.id) + " of " +
                             push.plan.devices[planned.device].device;
            break;
        }
        const std::size_t run = band_shape_run(push.writes, i);
        auto& result = report.devices[planned.device];
        result.writes_sent += run;
        try {
            send_run(*push.drivers[planned.device], std::span(push.writes).subspan(i, run),
                     channel_states[planned.device][planned.write.id.channel], push.amplifiers[planned.device].limits);
        } catch (const Error& failure) {
            report.failure = failure.what();
            break;
        }
        i += run;
    }

    if (report.failure.empty()) {
        for (std::size_t d = 0; d < report.devices.size(); ++d) {
            auto& result = report.devices[d];
            if (!push.drivers[d]->can_read_back()) {
                result.outcome = DeviceOutcome::unverified;
                result.detail = "the device cannot report its values, so the writes were not read back";
            } else {
                result.outcome = DeviceOutcome::verified;
            }
        }
        settle_journal(report, push.plan);
        return report;
    }

    for (std::size_t d = 0; d < report.devices.size(); ++d) {
        auto& result = report.devices[d];
        if (result.writes_sent == 0) {
            continue;
        }
        result = restore_device(*push.drivers[d], push.plan.devices[d], push.amplifiers[d], options, false, result);
    }
    settle_journal(report, push.plan);
    return report;
}

PreparedRecovery prepare_recovery(const Venue& venue, const std::filesystem::path& journal_path,
                                  const DriverFactory& make_driver, const PushOptions& /*options*/) {
    PreparedRecovery recovery;
    recovery.journal = read_push_journal(journal_path);
    const PushPlan& journal = recovery.journal;
    if (journal.venue_name != venue.name) {
        throw Error("push journal '" + journal_path.string() + "' was written for venue '" + journal.venue_name +
                        "', not '" + venue.name + "'; give the venue file of that push (it was '" +
                        journal.venue_file.string() + "')",
                    ErrorKind::configuration);
    }

    // Every device is made and checked before any is connected to or written to.
    auto& push = recovery.restore;
    push.plan.venue_name = journal.venue_name;
    push.plan.venue_file = venue.file;
    for (const auto& device : journal.devices) {
        push.amplifiers.push_back(amplifier_named(venue, device.amplifier));
        push.drivers.push_back(make_driver(push.amplifiers.back()));
        if (push.drivers.back()->description() != device.device) {
            throw Error("push journal '" + journal_path.string() + "': amplifier '" + device.amplifier + "' was " +
                            device.device + " during the push but the venue now gives " +
                            push.drivers.back()->description() + "; restore the venue file's address of that push",
                        ErrorKind::configuration);
        }
    }
    if (const auto violations = check_restore_limits(venue, journal); !violations.empty()) {
        std::string message = "push journal '" + journal_path.string() + "': recovery of venue '" + venue.name +
                              "' rejected, nothing was sent: " + std::to_string(violations.size()) +
                              " value(s) of the saved state beyond the limits";
        for (const auto& violation : violations) {
            message += "\n  " + violation.describe();
        }
        throw Error(message, ErrorKind::configuration);
    }

    // Present values of each channel, so the restore is shown as a change from them.
    for (std::size_t d = 0; d < journal.devices.size(); ++d) {
        const auto& saved = journal.devices[d];
        auto& driver = *push.drivers[d];
        const auto& amplifier = push.amplifiers[d];
        driver.connect();
        const bool readable = driver.can_read_back();
        DevicePlan device{saved.amplifier, saved.device, {}};
        std::vector<ChannelWritePlan> orders;
        for (const auto& channel : saved.channels) {
            ChannelPlan shown = channel;
            shown.snapshot_known = readable && channel.snapshot_known;
            shown.target = channel.snapshot;
            shown.snapshot = shown.snapshot_known
                                 ? read_channel_state(driver, channel.channel, channel.snapshot.bands.size())
                                 : channel.snapshot;
            orders.push_back(order_channel_writes(channel.channel, shown.snapshot, shown.target, amplifier.limits,
                                                  amplifier.profile.sample_rate_hz));
            device.channels.push_back(std::move(shown));
        }
        push.plan.devices.push_back(std::move(device));
        push.orders.push_back(std::move(orders));
    }
    for (const WritePhase phase : write_phases) {
        for (std::size_t d = 0; d < push.orders.size(); ++d) {
            for (const auto& order : push.orders[d]) {
                for (const auto& phased : order.writes) {
                    if (phased.phase == phase) {
                        push.writes.push_back({d, phase, phased.write});
                    }
                }
            }
        }
    }
    return recovery;
}

PushReport execute_recovery(PreparedRecovery& recovery, const std::filesystem::path& journal_path,
                            const PushOptions& options) {
    const PushPlan& journal = recovery.journal;
    auto& push = recovery.restore;
    PushReport report;
    report.venue_name = journal.venue_name;
    report.recovery = true;
    report.journal = journal_path;
    for (std::size_t d = 0; d < journal.devices.size(); ++d) {
        DeviceResult result{journal.devices[d].amplifier, journal.devices[d].device, DeviceOutcome::unchanged, 0, {}};
        report.devices.push_back(
            restore_device(*push.drivers[d], journal.devices[d], push.amplifiers[d], options, true, result));
    }
    settle_journal(report, journal);
    return report;
}

PushReport recover_push(const Venue& venue, const std::filesystem::path& journal_path, const DriverFactory& make_driver,
                        const PushOptions& options) {
    auto recovery = prepare_recovery(venue, journal_path, make_driver, options);
    return execute_recovery(recovery, journal_path, options);
}

}  // namespace linetune::control
