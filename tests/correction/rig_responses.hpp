#pragma once

// Responses of the simulated rig as the tuning analyses them: one TimedResponse per zone and
// position, smoothed to 1/6 octave with the phase referred to the estimated arrival.

#include "linetune/analysis/arrival.hpp"
#include "linetune/analysis/response.hpp"
#include "linetune/correction/timed_response.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include <optional>
#include <string>
#include <vector>

namespace linetune::test {

/// Settings of one simulated measurement of a zone at a position.
struct RigMeasurement {
    double polarity = 1.0;      ///< −1 inverts the recording, as a swapped speaker cable does
    double extra_delay_ms = 0.0;  ///< added to the arrival, as a temperature drift between zones does
    std::optional<double> fdw_cycles;  ///< frequency-dependent window, as the alignment's responses use
};

/// The zone's transfer function at the position analysed as the tuning does: the arrival found by
/// the arrival estimator, the 1/6-octave response on 24 points per octave from 20 Hz to 20 kHz
/// with its phase referred to that arrival.
inline correction::TimedResponse rig_response(const simulation::RigTransferFunctions& rig, const std::string& zone,
                                              const std::string& position, const RigMeasurement& measurement = {}) {
    const auto ir = rig.transfer_function(zone, position);
    std::vector<float> samples(ir.begin(), ir.end());
    for (float& sample : samples) {
        sample = static_cast<float>(sample * measurement.polarity);
    }
    const double arrival_sample = analysis::estimate_arrival(samples, rig.sample_rate_hz()).arrival_sample;
    analysis::ResponseOptions options;
    options.start_freq_hz = 20.0;
    options.end_freq_hz = 20000.0;
    options.points_per_octave = 24.0;
    options.smoothing = {analysis::SmoothingKind::fractional_octave, 6.0};
    options.fdw_cycles = measurement.fdw_cycles;

    correction::TimedResponse timed;
    timed.zone = zone;
    timed.mic = position;
    timed.response = analysis::compute_frequency_response(samples, rig.sample_rate_hz(), arrival_sample, options);
    timed.arrival_ms = 1000.0 * arrival_sample / rig.sample_rate_hz() + measurement.extra_delay_ms;
    return timed;
}

/// rig_response of each zone at each position.
inline std::vector<correction::TimedResponse> rig_responses(const simulation::RigTransferFunctions& rig,
                                                            const std::vector<std::string>& zones,
                                                            const std::vector<std::string>& positions,
                                                            const RigMeasurement& measurement = {}) {
    std::vector<correction::TimedResponse> responses;
    for (const auto& zone : zones) {
        for (const auto& position : positions) {
            responses.push_back(rig_response(rig, zone, position, measurement));
        }
    }
    return responses;
}

}  // namespace linetune::test
