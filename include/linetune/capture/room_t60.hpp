#pragma once

#include "linetune/core/signal.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::capture {

/// The rule that turns a first measurement's impulse responses into the room's T60.
struct RoomT60Options {
    /// Octave bands considered: 250 Hz to 4 kHz, where a sweep's tail must let the room decay.
    /// Below 250 Hz a short first sweep gives few periods for the band filter's decay, and above
    /// 4 kHz air absorption shortens the decay, so neither sets the tail.
    double low_band_hz = 250.0;
    double high_band_hz = 4000.0;
    /// Sanity bounds. A decay time outside 0.1 s to 10 s comes from a fit on noise, a truncated
    /// response or a loudspeaker's own ringing rather than from a room, so it is ignored with a note.
    double min_t60_s = 0.1;
    double max_t60_s = 10.0;
};

/// The room's T60 estimated from one pass: the longest decay time of the octave bands
/// low_band_hz…high_band_hz (T30 where the decay range allows it, else T20) over every mic
/// that heard the sweep.
struct RoomT60Estimate {
    std::optional<double> t60_s;  ///< empty when no band gave a decay time within the bounds
    std::string mic;       ///< the mic whose band gave the longest decay
    double band_hz = 0.0;  ///< nominal centre of that octave band
    std::string metric;    ///< "T30" or "T20"
    std::size_t values = 0;  ///< decay times within the sanity bounds, over every mic and band
    std::vector<std::string> notes;  ///< decay times outside the bounds, and mics without a response
};

/// Estimates the room's T60 from a pass's recording, whose channels are every mic and then the
/// loopback when loopback_channel (1-based) is set, and whose sample 0 is the start of playback.
/// Each mic's impulse response (deconvolution by the played sweep) gets ISO 3382-1 octave-band
/// decay times.
/// Throws Error for a recording that cannot be deconvolved (too short, another sample rate).
RoomT60Estimate estimate_room_t60(const MultichannelSignal& recording, std::span<const float> played_sweep,
                                  const std::vector<std::string>& mic_names,
                                  std::optional<std::size_t> loopback_channel, const RoomT60Options& options = {});

}  // namespace linetune::capture
