#pragma once

#include <cstddef>
#include <vector>

namespace linetune {

/// A magnitude response at arbitrary ascending frequencies, with phase where the source has it.
struct FrequencyResponse {
    std::vector<double> freq_hz;
    std::vector<double> magnitude_db;
    std::vector<double> phase_deg;  ///< empty when the source carries no phase

    [[nodiscard]] bool has_phase() const { return !phase_deg.empty(); }
    [[nodiscard]] std::size_t size() const { return freq_hz.size(); }
};

/// Magnitude in dB at freq_hz, linear in dB over log frequency between points and held
/// constant beyond the first and last point. The response must not be empty.
double interpolate_magnitude_db(const FrequencyResponse& response, double freq_hz);

/// Phase in degrees at freq_hz, interpolated like the magnitude after unwrapping; 0 without phase.
double interpolate_phase_deg(const FrequencyResponse& response, double freq_hz);

/// Frequencies spaced 1/points_per_octave octave apart from start_hz up to and including
/// end_hz (when it falls on the grid).
std::vector<double> log_frequency_grid(double start_hz, double end_hz, double points_per_octave);

}  // namespace linetune
