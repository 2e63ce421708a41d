#include "linetune/control/channel_loudness.hpp"

#include <cmath>
#include <limits>

namespace linetune::control {
namespace {

// The grid starts at 10 Hz, below the lowest band any profile allows (20 Hz), so the skirts of a
// low shelf or a sub-bass peak are inside it.
constexpr double grid_start_hz = 10.0;

}  // namespace

std::vector<double> loudness_grid_hz(double sample_rate_hz, double points_per_octave) {
    std::vector<double> grid;
    const double nyquist_hz = sample_rate_hz / 2.0;
    for (int k = 0;; ++k) {
        const double freq_hz = grid_start_hz * std::exp2(k / points_per_octave);
        if (freq_hz >= nyquist_hz) {
            break;
        }
        grid.push_back(freq_hz);
    }
    return grid;
}

std::vector<double> band_magnitude_db(const EqBandState& band, const std::vector<double>& freq_hz,
                                      double sample_rate_hz) {
    std::vector<double> magnitude_db(freq_hz.size(), 0.0);
    if (!band.enabled) {
        return magnitude_db;
    }
    const auto coefficients = analysis::design_biquad(analysis::parametric_band_of(band), sample_rate_hz);
    for (std::size_t i = 0; i < freq_hz.size(); ++i) {
        magnitude_db[i] = analysis::biquad_magnitude_db(coefficients, freq_hz[i], sample_rate_hz);
    }
    return magnitude_db;
}

std::vector<double> eq_magnitude_db(const std::vector<EqBandState>& bands, const std::vector<double>& freq_hz,
                                    double sample_rate_hz) {
    std::vector<double> sum_db(freq_hz.size(), 0.0);
    for (const auto& band : bands) {
        if (!band.enabled) {
            continue;
        }
        const auto band_db = band_magnitude_db(band, freq_hz, sample_rate_hz);
        for (std::size_t i = 0; i < sum_db.size(); ++i) {
            sum_db[i] += band_db[i];
        }
    }
    return sum_db;
}

std::vector<double> channel_magnitude_db(const ChannelState& channel, const std::vector<double>& freq_hz,
                                         double sample_rate_hz) {
    if (channel.mute) {
        return std::vector<double>(freq_hz.size(), -std::numeric_limits<double>::infinity());
    }
    auto magnitude_db = eq_magnitude_db(channel.bands, freq_hz, sample_rate_hz);
    for (double& value : magnitude_db) {
        value += channel.gain_db;
    }
    return magnitude_db;
}

}  // namespace linetune::control
