#pragma once

#include "linetune/analysis/smoothing.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include <string>
#include <vector>

namespace linetune::simulation {

/// Deviation of one zone's predicted response from its target at one audience probe.
struct ProbeResidual {
    std::string probe;
    std::string zone;
    double rms_db = 0.0;  ///< RMS of (response − target − mean) over the zone's fit band
    double max_db = 0.0;  ///< largest |response − target − mean| over the band
};

/// For every audience probe of the rig (positions the venue does not list, so no fit saw them)
/// and every zone that covers it with a weight above 0: the predicted response through the
/// amplifier state, smoothed, against the zone's target over the zone's fit band, level removed.
std::vector<ProbeResidual> probe_residuals(const RigTransferFunctions& rig, const Venue& venue,
                                           const AmplifierState& state,
                                           const analysis::Smoothing& smoothing = {analysis::SmoothingKind::fractional_octave,
                                                                                   6.0});

}  // namespace linetune::simulation
