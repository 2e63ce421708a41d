#include "linetune/correction/spatial_shrink.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

// Holding back corrections that would not carry over to unmeasured seats
// -----------------------------------------------------------------------
// One EQ serves every seat of a zone, but only a few positions are measured. Treat the deviation
// from the target at a seat, d(f) (its own in-band level removed), as a draw from the zone's seats:
// d = μ(f) + e(f), with e the seat's own departure, variance σ²(f). The EQ that minimises the
// expected squared error at an unmeasured seat, E[(d + c)²] = (μ + c)² + σ², is c = −μ: the seat's
// own departure e cannot be corrected by any zone-wide EQ. μ is only known through n measured
// positions, though: the zone average estimates it as A(f) with a squared standard error σ²/n.
// Correcting −g·A with a factor g then leaves (1 − g)²μ² + g²σ²/n + σ² in expectation, least at
//
//     g(f) = μ² / (μ² + σ²/n)           (Wiener / James–Stein shrinkage)
//
// and with the estimates put in, g = A² / (A² + s²/n_eff). Where the positions agree (s small
// against |A|) the full correction is kept; where they disagree it is held back, most where the
// average's deviation is itself small against the spread. The fitter then fits the average with
// its deviation scaled by g, so it places no band on a feature that only some positions show.
//
// Estimates, per grid point of the average:
//   D_i(f) = L_i(f) − T(f) − ℓ_i, with ℓ_i the mean of L_i − T over the band's points (each
//            position's level removed: a louder seat is not a different shape, and the zone gain
//            sets the level);
//   A(f)   = average(f) − T(f) − ℓ, likewise, with the average's own in-band level ℓ;
//   s²(f)  = Σ w_i (D_i − D̄)² / (V₁ − V₂/V₁), with D̄ = Σ w_i D_i / V₁, V₁ = Σ w_i, V₂ = Σ w_i²
//            (unbiased for the venue's reliability weights), then averaged over 1/3 octave
//            around f: with three positions a single point's variance has two degrees of freedom
//            and swings by a factor of ten, while a 1/3-octave feature (the narrowest a zone EQ
//            should follow at several seats) contains eight points of the 1/24-octave grid;
//   n_eff  = V₁² / V₂, the number of positions the weighted mean is worth.
// The shrunk average is T + ℓ + g·A. It is used for fitting only; residuals are still judged
// on the average itself.
//
// What it cannot do: positions that agree with each other give no hint of a seat that differs
// from all of them. The factor is then near 1, as the measurements justify. Measuring more
// positions, spread over the zone (near and far from the PA), is the only cure.
//
// Reference: C. Stein, "Inadmissibility of the usual estimator for the mean of a multivariate
// normal distribution", Proc. Third Berkeley Symposium 1, 1956; N. Wiener, "Extrapolation,
// Interpolation, and Smoothing of Stationary Time Series", 1949 (the μ²/(μ² + noise) gain).

namespace linetune::correction {
namespace {

// Width over which the positions' variance is pooled before it sets the factor, in octaves
// (the window spans ±half of it). See the block above.
constexpr double variance_pooling_octaves = 1.0 / 3.0;

// Squared deviations below this (dB²) count as zero, so that a point where the average meets the
// target exactly does not divide 0 by 0.
constexpr double negligible_square_db2 = 1e-12;

double in_band_mean(const std::vector<double>& values, const std::vector<bool>& in_band) {
    double sum = 0.0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (in_band[i]) {
            sum += values[i];
            ++count;
        }
    }
    return sum / static_cast<double>(count);
}

}  // namespace

ShrunkAverage shrink_to_spatial_agreement(const FrequencyResponse& average, std::span<const MicResponse> mics,
                                          const FrequencyResponse& target, double band_start_hz, double band_end_hz) {
    const std::size_t point_count = average.size();
    ShrunkAverage result;
    result.response = average;
    result.factor.assign(point_count, 1.0);
    if (target.size() != point_count || target.magnitude_db.size() != point_count) {
        throw Error("spatial shrink: the target has " + std::to_string(target.size()) + " points but the zone average " +
                    std::to_string(point_count) + "; give the target on the average's grid");
    }

    std::vector<bool> in_band(point_count, false);
    bool any_in_band = false;
    for (std::size_t p = 0; p < point_count; ++p) {
        in_band[p] = average.freq_hz[p] >= band_start_hz && average.freq_hz[p] <= band_end_hz;
        any_in_band = any_in_band || in_band[p];
    }
    if (!any_in_band) {
        throw Error("spatial shrink: no point of the zone average lies in the band " + format_significant(band_start_hz) +
                    " Hz to " + format_significant(band_end_hz) + " Hz; check the zone's fit_band_hz");
    }

    // Each position's level-removed deviation on the average's grid.
    std::vector<std::vector<double>> deviations;
    std::vector<double> weights;
    for (const MicResponse& mic : mics) {
        if (mic.weight <= 0.0 || mic.response.freq_hz.empty()) {
            continue;
        }
        std::vector<double> deviation(point_count);
        for (std::size_t p = 0; p < point_count; ++p) {
            deviation[p] = interpolate_magnitude_db(mic.response, average.freq_hz[p]) - target.magnitude_db[p];
        }
        const double level_db = in_band_mean(deviation, in_band);
        for (double& value : deviation) {
            value -= level_db;
        }
        deviations.push_back(std::move(deviation));
        weights.push_back(mic.weight);
    }
    if (deviations.size() < 2) {
        return result;
    }

    double v1 = 0.0;
    double v2 = 0.0;
    for (const double w : weights) {
        v1 += w;
        v2 += w * w;
    }
    const double effective_count = v1 * v1 / v2;
    const double variance_denominator = v1 - v2 / v1;

    std::vector<double> variance_db2(point_count, 0.0);
    for (std::size_t p = 0; p < point_count; ++p) {
        double mean = 0.0;
        for (std::size_t m = 0; m < deviations.size(); ++m) {
            mean += weights[m] * deviations[m][p];
        }
        mean /= v1;
        double square_sum = 0.0;
        for (std::size_t m = 0; m < deviations.size(); ++m) {
            square_sum += weights[m] * (deviations[m][p] - mean) * (deviations[m][p] - mean);
        }
        variance_db2[p] = square_sum / variance_denominator;
    }

    std::vector<double> average_deviation(point_count);
    for (std::size_t p = 0; p < point_count; ++p) {
        average_deviation[p] = average.magnitude_db[p] - target.magnitude_db[p];
    }
    const double average_level_db = in_band_mean(average_deviation, in_band);

    const double half_window_octaves = 0.5 * variance_pooling_octaves;
    std::size_t low = 0;
    std::size_t high = 0;  // window [low, high) of points within half_window_octaves of point p
    double window_sum = 0.0;
    for (std::size_t p = 0; p < point_count; ++p) {
        while (high < point_count && std::log2(average.freq_hz[high] / average.freq_hz[p]) <= half_window_octaves) {
            window_sum += variance_db2[high];
            ++high;
        }
        while (std::log2(average.freq_hz[p] / average.freq_hz[low]) > half_window_octaves) {
            window_sum -= variance_db2[low];
            ++low;
        }
        const double pooled_variance_db2 = std::max(0.0, window_sum / static_cast<double>(high - low));
        const double a = average_deviation[p] - average_level_db;
        const double squared_error_db2 = pooled_variance_db2 / effective_count;
        const double factor = a * a + squared_error_db2 <= negligible_square_db2 ? 1.0 : a * a / (a * a + squared_error_db2);
        result.factor[p] = factor;
        result.response.magnitude_db[p] = target.magnitude_db[p] + average_level_db + factor * a;
    }
    result.response.phase_deg.clear();
    return result;
}

}  // namespace linetune::correction
