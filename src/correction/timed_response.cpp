#include "linetune/correction/timed_response.hpp"

#include "linetune/core/units.hpp"

namespace linetune::correction {

std::complex<double> complex_response_at(const TimedResponse& timed, double freq_hz, double delay_ms) {
    const double magnitude = amplitude_from_db(interpolate_magnitude_db(timed.response, freq_hz));
    const double phase_rad = interpolate_phase_deg(timed.response, freq_hz) * pi / 180.0 -
                             2.0 * pi * freq_hz * (timed.arrival_ms + delay_ms) / 1000.0;
    return std::polar(magnitude, phase_rad);
}

}  // namespace linetune::correction
