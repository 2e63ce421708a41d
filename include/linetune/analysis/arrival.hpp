#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace linetune::analysis {

/// Timing of an impulse response: sample peak, ISO 3382-1 start and the direct sound.
/// Sample positions count from the first sample of the input (index 0).
struct Arrival {
    double arrival_sample = 0;    ///< direct-sound arrival: its Hilbert-envelope peak, sub-sample
    std::size_t peak_sample = 0;  ///< first index of the largest |x| in the whole input
    std::size_t start_sample = 0; ///< first index whose |x| >= peak·10^(−20/20) (ISO 3382-1 start)
    double onset_sample = 0;      ///< where the direct sound's envelope first rises to 20 dB below its peak, sub-sample
    int polarity = 1;             ///< +1 or −1: sign of the largest sample in the direct sound
    /// clamp((direct_to_noise_db − 10 dB) / 30 dB, 0, 1): 0 at 10 dB, 1 at 40 dB and above.
    /// direct_to_noise_db is the direct sound's envelope peak over the RMS envelope of the noise
    /// before it, or of the last 10 % of the input when less than 1 ms precedes the arrival. When it is
    /// under 20 dB for a band-limited response (a subwoofer), both are taken in the response's own
    /// band if that raises the ratio by 6 dB or more, and a note names the band.
    double confidence = 0;
    double peak_position_fraction = 0;  ///< peak_sample / input length: near 0.5 for a centred export
    std::vector<std::string> notes;     ///< findings a user should read, e.g. a stronger later path
};

/// Finds the sample peak, the ISO 3382-1 start and the direct sound (the first strong arrival,
/// not necessarily the largest sample) of an impulse response. Throws Error for an empty or
/// all-zero input, a non-finite sample or a sample rate that is not positive.
/// Times in the notes count from time_zero_sample (the signal's time base).
Arrival estimate_arrival(std::span<const float> ir, double sample_rate_hz, double time_zero_sample = 0.0);

}  // namespace linetune::analysis
