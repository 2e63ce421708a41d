#include "linetune/simulation/probe_residuals.hpp"

#include <algorithm>
#include <cmath>

namespace linetune::simulation {
namespace {

// Density of the grid the residual is taken on: 1/24 octave resolves every feature a 1/6-octave
// smoothing leaves, the grid the tuning reports on as well.
constexpr double residual_points_per_octave = 24.0;

}  // namespace

std::vector<ProbeResidual> probe_residuals(const RigTransferFunctions& rig, const Venue& venue,
                                           const AmplifierState& state, const analysis::Smoothing& smoothing) {
    std::vector<ProbeResidual> residuals;
    for (const auto& probe : rig.rig().probes) {
        for (const auto& zone : venue.zones) {
            const auto weight = probe.zone_weights.find(zone.name);
            if (weight == probe.zone_weights.end() || weight->second <= 0.0) {
                continue;
            }
            analysis::ResponseOptions options;
            options.start_freq_hz = zone.fit_band_hz.low_hz;
            options.end_freq_hz = zone.fit_band_hz.high_hz;
            options.points_per_octave = residual_points_per_octave;
            options.smoothing = smoothing;
            const auto response = rig.predicted_response(venue, state, zone.name, probe.name, options);

            // Deviation d = response − target; the level is removed by subtracting its mean, as
            // the tuning's residuals do, because zone gains are judged separately.
            std::vector<double> deviation;
            for (std::size_t i = 0; i < response.size(); ++i) {
                const double f = response.freq_hz[i];
                if (f >= zone.fit_band_hz.low_hz && f <= zone.fit_band_hz.high_hz) {
                    deviation.push_back(response.magnitude_db[i] - target_db(venue, zone, f));
                }
            }
            if (deviation.empty()) {
                continue;
            }
            double mean = 0.0;
            for (const double d : deviation) {
                mean += d;
            }
            mean /= static_cast<double>(deviation.size());
            ProbeResidual residual{probe.name, zone.name, 0.0, 0.0};
            for (const double d : deviation) {
                residual.rms_db += (d - mean) * (d - mean);
                residual.max_db = std::max(residual.max_db, std::fabs(d - mean));
            }
            residual.rms_db = std::sqrt(residual.rms_db / static_cast<double>(deviation.size()));
            residuals.push_back(residual);
        }
    }
    return residuals;
}

}  // namespace linetune::simulation
