#include "linetune/control/push_report.hpp"

#include "linetune/control/osc/osc_driver.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <cmath>
#include <cstdio>

namespace linetune::control {
namespace {

std::string signed_fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%+.*f", decimals, value + 0.0);
    return text;
}

std::string band_text(const EqBandState& band) {
    if (!band.enabled) {
        return "off";
    }
    char text[128];
    std::snprintf(text, sizeof text, "%s %.1f Hz %+.2f dB Q %.2f", std::string(to_string(band.type)).c_str(), band.freq_hz,
                  band.gain_db + 0.0, band.q);
    return text;
}

/// "old -> new UNIT", or "value UNIT (unchanged)"; "? -> new UNIT" when the old value is unknown.
std::string change_text(const std::string& old_text, const std::string& new_text, bool known, const std::string& unit = "") {
    const std::string suffix = unit.empty() ? "" : " " + unit;
    if (!known) {
        return "? -> " + new_text + suffix;
    }
    return old_text == new_text ? new_text + suffix + " (unchanged)" : old_text + " -> " + new_text + suffix;
}

/// "  (sent as /ch/01/eq/2/g ,f 0.4)" for a device spoken to over OSC, whose address scheme may
/// carry the value on a scale of its own; empty for other devices.
std::string wire_text(const DeviceDriver& driver, const ParameterWrite& write) {
    const auto* osc = dynamic_cast<const OscDriver*>(&driver);
    if (osc == nullptr) {
        return "";
    }
    try {
        return "  (sent as " + describe(osc->set_message(write.id, write.value)) + ")";
    } catch (const Error& error) {
        return "  (cannot be encoded: " + std::string(error.what()) + ")";
    }
}

std::string phase_name(WritePhase phase) {
    switch (phase) {
    case WritePhase::reduce: return "reduce";
    case WritePhase::change: return "change";
    case WritePhase::raise: return "raise";
    }
    return "change";
}

std::string quieting_text(const ChannelPlan& channel, const ChannelWritePlan& order) {
    if (order.writes.empty()) {
        return "nothing to write";
    }
    if (!channel.snapshot_known) {
        return "gain to its minimum during the changes (the device cannot report its values)";
    }
    if (order.muted_during_changes) {
        return channel.snapshot.mute ? "stays muted" : "muted during the changes, unmuted at the end";
    }
    if (order.gain_margin_db > 0.0) {
        return "gain lowered " + format_fixed(order.gain_margin_db, 2) +
               " dB below the lower of old and new during the EQ changes";
    }
    return "cuts first, boosts last";
}

void append_channel(std::string& text, const DevicePlan& device, const ChannelPlan& channel, const ChannelWritePlan& order) {
    const bool known = channel.snapshot_known;
    const auto& old_state = channel.snapshot;
    const auto& new_state = channel.target;
    text += "zone '" + channel.zone + "' on " + device.amplifier + " channel " + std::to_string(channel.channel) + ": " +
            std::to_string(order.writes.size()) + " write(s), " + quieting_text(channel, order) + "\n";
    text += "  gain_db    " + change_text(signed_fixed(old_state.gain_db, 2), signed_fixed(new_state.gain_db, 2), known, "dB") + "\n";
    text += "  delay_ms   " + change_text(format_fixed(old_state.delay_ms, 3), format_fixed(new_state.delay_ms, 3), known, "ms") + "\n";
    text += "  polarity   " + change_text(old_state.polarity_inverted ? "inverted" : "normal",
                                         new_state.polarity_inverted ? "inverted" : "normal", known) + "\n";
    if (known && old_state.mute) {
        text += "  mute       on: the channel stays muted, a push never unmutes it\n";
    }
    // Runs of bands that stay off are shown as one line ("bands 3-10").
    for (std::size_t b = 0; b < new_state.bands.size();) {
        const auto stays_off = [&](std::size_t i) {
            return known && !old_state.bands[i].enabled && !new_state.bands[i].enabled;
        };
        std::size_t end = b + 1;
        while (stays_off(b) && end < new_state.bands.size() && stays_off(end)) {
            ++end;
        }
        const std::string label = end - b > 1 ? "bands " + std::to_string(b + 1) + "-" + std::to_string(end)
                                              : "band " + std::to_string(b + 1);
        char padded[32];
        std::snprintf(padded, sizeof padded, "  %-11s", label.c_str());
        text += padded + change_text(band_text(old_state.bands[b]), band_text(new_state.bands[b]), known) + "\n";
        b = end;
    }
    if (!known) {
        text += "  (the current values are unknown: " + device.device + " cannot report them)\n";
    }
}

}  // namespace

std::string format_push_plan(const PreparedPush& push) {
    std::string text = "push to venue '" + push.plan.venue_name + "': " + std::to_string(push.writes.size()) +
                       " write(s) to " + std::to_string(push.plan.devices.size()) + " amplifier(s)\n";
    for (std::size_t d = 0; d < push.plan.devices.size(); ++d) {
        const auto& device = push.plan.devices[d];
        text += "\n" + device.device + "\n";
        for (std::size_t c = 0; c < device.channels.size(); ++c) {
            append_channel(text, device, device.channels[c], push.orders[d][c]);
        }
    }
    return text;
}

std::string format_write_order(const PreparedPush& push) {
    std::string text = "writes in sending order (reduce: mutes, gain reductions and EQ cuts; change: delay, polarity "
                       "and other EQ changes; raise: EQ boosts, gain increases and unmutes):\n";
    for (std::size_t i = 0; i < push.writes.size(); ++i) {
        const auto& planned = push.writes[i];
        char prefix[64];
        std::snprintf(prefix, sizeof prefix, "%4zu  %-6s  ", i + 1, phase_name(planned.phase).c_str());
        text += prefix + push.plan.devices[planned.device].amplifier + " " + describe(planned.write.id) + " = " +
                describe(planned.write.value) + wire_text(*push.drivers[planned.device], planned.write) + "\n";
    }
    return text;
}

std::string format_push_report(const PushReport& report) {
    std::string text = (report.recovery ? "recovery of venue '" : "push to venue '") + report.venue_name + "'";
    text += report.failure.empty() ? ": every write went through\n" : " stopped: " + report.failure + "\n";
    for (const auto& device : report.devices) {
        text += "  " + device.device + ": " + std::string(to_string(device.outcome));
        if (!report.recovery) {
            text += " (" + std::to_string(device.writes_sent) + " write(s) sent)";
        }
        if (!device.detail.empty()) {
            text += ": " + device.detail;
        }
        text += "\n";
    }
    if (report.journal_kept) {
        text += "journal kept at " + report.journal.string() +
                ": some amplifiers may hold a mix of old and new values. When they answer again, run "
                "'linetune push --recover --venue VENUE --journal " + report.journal.string() + "'\n";
    } else {
        text += "journal " + report.journal.string() + " removed\n";
    }
    return text;
}

}  // namespace linetune::control
