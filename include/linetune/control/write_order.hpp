#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <vector>

namespace linetune::control {

/// One value to send to a device.
struct ParameterWrite {
    ParameterId id;
    ParameterValue value;

    bool operator==(const ParameterWrite&) const = default;
};

/// Phase of a write. A push sends the reduce writes of every channel of every device first, then
/// every change write, then every raise write. Each channel keeps its own order.
enum class WritePhase {
    reduce,  ///< mutes, gain reductions and EQ cuts
    change,  ///< delay, polarity, and EQ changes that raise some frequencies and lower others
    raise,   ///< EQ boosts, gain increases and unmutes
};

/// A write and the phase it belongs to.
struct PhasedWrite {
    WritePhase phase = WritePhase::change;
    ParameterWrite write;
};

/// The ordered writes that take one channel from one state to another, and how the channel is
/// kept from getting louder than both states while its EQ changes.
struct ChannelWritePlan {
    std::vector<PhasedWrite> writes;
    double gain_margin_db = 0.0;  ///< how far the gain goes below min(old, new) during the EQ changes
    bool muted_during_changes = false;
};

/// Orders the writes that take a channel (1-based) from `from` to `to` so that after every write
/// the channel's magnitude is at or below max(from, to) at every point of a 1/96-octave grid
/// (10 Hz to Nyquist). The order is: gain reduction, EQ cuts, delay and mixed EQ changes, EQ
/// boosts, gain increase. When an intermediate EQ state would rise above both, the gain is first
/// lowered by that margin (rounded down to the gain step). When the gain range cannot go that low,
/// or the polarity changes, the channel is muted during the changes instead. It is unmuted at the
/// end only if `to` is unmuted, so the mute state of `to` is always reached exactly. Both states
/// must have the same number of bands, and enabled bands must be valid at sample_rate_hz.
ChannelWritePlan order_channel_writes(std::size_t channel, const ChannelState& from, const ChannelState& to,
                                      const ChannelLimits& limits, double sample_rate_hz);

/// The writes that take a channel from `from` to `to` with the channel muted during every change
/// (unless both are muted): mute, the changes, then unmute only if `to` is unmuted. A restore
/// falls back to it when the ordinary order failed, because it needs no intermediate gain.
ChannelWritePlan order_channel_writes_muted(std::size_t channel, const ChannelState& from, const ChannelState& to,
                                            double sample_rate_hz);

/// Orders the writes for a channel whose current values are unknown (a device that cannot report
/// them). The gain goes to the bottom of its range first. Then come delay, polarity (only when
/// write_polarity) and every owned band, disabled while its shape is written (only when
/// write_band_enabled: a device without per-band enable hears its shape writes at the lowered gain),
/// and last the gain of `to`. Mute is never written, because the channel's current mute state is unknown.
ChannelWritePlan order_writes_without_readback(std::size_t channel, const ChannelState& to, const ChannelLimits& limits,
                                               bool write_polarity, bool write_band_enabled = true);

/// Applies one write to a channel state (the write's channel number is not checked).
void apply_write(ChannelState& state, const ParameterWrite& write);

/// Largest amount in dB by which the channel, after any one of the writes, is louder than both
/// `from` and `to` at a frequency of freq_hz; 0 when it never is. A muted state is silent.
double max_loudness_excess_db(const ChannelState& from, const std::vector<ParameterWrite>& writes,
                              const ChannelState& to, const std::vector<double>& freq_hz, double sample_rate_hz);

}  // namespace linetune::control
