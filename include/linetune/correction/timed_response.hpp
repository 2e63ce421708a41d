#pragma once

#include "linetune/core/frequency_response.hpp"

#include <complex>
#include <string>

namespace linetune::correction {

/// One zone's response at one microphone, placed on the session's absolute time base.
struct TimedResponse {
    std::string zone;
    std::string mic;
    /// Magnitude in dB and phase in degrees with the delay to `arrival_ms` removed, as the
    /// analysis reports it (phase referred to the arrival of the direct sound).
    FrequencyResponse response;
    double arrival_ms = 0.0;  ///< direct-sound arrival on the absolute time base
    double weight = 1.0;      ///< how much this mic counts, >= 0
};

/// Complex response H(f) = 10^(L/20) · e^(j(φ(f) − 2πf·(arrival_ms + delay_ms)/1000)) at freq_hz,
/// magnitude and unwrapped phase interpolated between the response's points. `delay_ms` is a
/// delay set on the zone's channel on top of what was measured. Without phase, φ is taken as 0,
/// which only holds for a zone whose response is close to a pure delay.
std::complex<double> complex_response_at(const TimedResponse& timed, double freq_hz, double delay_ms = 0.0);

}  // namespace linetune::correction
