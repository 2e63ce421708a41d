#include "linetune/correction/spatial_shrink.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <algorithm>
#include <optional>
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
// The shrunk average is T + ℓ + g·A, with g averaged over the same 1/3 octave (a factor that
// changes fast makes steps the fitter would follow with pairs of opposing bands). It is used for
// fitting only; residuals are still judged on the average itself.
//
// What the room adds. Positions that happen to agree say little about the seats between and
// beyond them. So each position's impulse response adds what the room's statistics predict. Its
// octave bands (analysis::octave_band_reverberant_field) give the decay time T60 and the
// direct-to-reverberant energy ratio K, interpolated over log frequency:
// - Random spread. Above the Schroeder frequency (2000·√(T60/V) Hz, some 20 Hz in a warehouse)
//   the reverberant pressure at a point is complex Gaussian: its power is exponential, and its
//   level varies from point to point with a standard deviation of (10/ln 10)·π/√6 = 5.57 dB
//   (Schroeder, "Statistical parameters of the frequency response curves of large rooms",
//   JAES 35(5), 1987). A band B hertz wide averages about M = 1 + B·T60/6.9 independent values
//   (an estimate: the response decorrelates over about 6.9/T60 Hz, three times the modes'
//   half-power bandwidth 2.2/T60), and
//   direct sound of K times the reverberant energy adds a fixed part (Rician statistics). The
//   band power's relative variance is then (1 + 2K)/((1 + K)²·M), the one of a gamma variable
//   with N = M·(1 + K)²/(1 + 2K) degrees of freedom, whose level has the variance
//   (10/ln 10)²·ψ'(N) dB² (ψ' the trigamma function; N = 1 gives the 5.57 dB). B is the fitted
//   response's 1/6-octave smoothing width. This variance is pooled with s² as room_prior_dof
//   further degrees of freedom: σ² = (ν₀·σ²_room + (n_eff − 1)·s²)/(ν₀ + n_eff − 1).
// - Reverberant colouring. The reverberation adds c(f) = 10·log10(1 + 1/K(f)) dB to a seat. With
//   its mean over the band removed (C, averaged over the positions), it is the part of A that a
//   seat near the PA, where direct sound dominates, does not have, and one farther away has more
//   of. It is counted as a further part of each seat's own departure, known through the n_eff
//   positions like σ²:
//
//     g = A² / (A² + (σ² + C²)/n_eff)
//
//   so a shape that only the reverberation gives the measured seats is held back, most when
//   few positions were measured, while a loudspeaker's own colouring, which every seat hears, is kept.
// Positions without an impulse response (frequency-response exports) add no room figures; with
// none, σ² = s² and C = 0 as before.
//
// What it cannot do: positions that agree with each other give no hint of a seat that differs
// from all of them in ways the octave-band room figures do not predict (a boundary effect at one
// frequency, air absorption over a shorter path). Measuring more positions, spread over the zone
// (near and far from the PA), is the only cure.
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

// The response the fitter reads is smoothed over this many octaves (TuneOptions' default 1/6).
constexpr double response_smoothing_octaves = 1.0 / 6.0;
// A band B wide varies from seat to seat as if it held 1 + B·T60/6.9 independent values with
// exponentially distributed power (6.9 = 3·ln 10, T60 in s). See the block above.
constexpr double modal_bandwidth_s = 6.9;
// dB per neper of power: 10/ln 10.
constexpr double db_per_neper = 4.342944819032518;
// Weight of the room's expected spread against the positions' own, as degrees of freedom: as much
// as five measured positions would carry. Enough that two or three positions that happen to agree
// do not outweigh the statistics of the room, little enough that many positions overrule it.
constexpr double room_prior_dof = 4.0;

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

/// Mean of values over the points within ±width_octaves/2 of each point (freq_hz ascending).
std::vector<double> window_mean(const std::vector<double>& values, const std::vector<double>& freq_hz, double width_octaves) {
    std::vector<double> result(values.size());
    std::size_t low = 0;
    std::size_t high = 0;
    double sum = 0.0;
    for (std::size_t p = 0; p < values.size(); ++p) {
        while (high < values.size() && std::log2(freq_hz[high] / freq_hz[p]) <= 0.5 * width_octaves) {
            sum += values[high];
            ++high;
        }
        while (std::log2(freq_hz[p] / freq_hz[low]) > 0.5 * width_octaves) {
            sum -= values[low];
            ++low;
        }
        result[p] = sum / static_cast<double>(high - low);
    }
    return result;
}

/// Computes the trigamma function ψ'(x) for x > 0. The recurrence ψ'(x) = ψ'(x + 1) + 1/x² moves x
/// to 6 or more, then the asymptotic series 1/x + 1/(2x²) + 1/(6x³) − 1/(30x⁵) + 1/(42x⁷) − 1/(30x⁹) applies.
double trigamma(double x) {
    double sum = 0.0;
    while (x < 6.0) {
        sum += 1.0 / (x * x);
        x += 1.0;
    }
    const double inv = 1.0 / x;
    const double inv2 = inv * inv;
    return sum + inv + 0.5 * inv2 + inv * inv2 * (1.0 / 6.0 - inv2 * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 / 30.0)));
}

/// Interpolates linearly over log frequency between octave values and keeps the end values
/// beyond them. points are (centre_hz, value) in ascending order and not empty.
double interpolate_octaves(const std::vector<std::pair<double, double>>& points, double freq_hz) {
    if (freq_hz <= points.front().first) {
        return points.front().second;
    }
    if (freq_hz >= points.back().first) {
        return points.back().second;
    }
    std::size_t k = 1;
    while (points[k].first < freq_hz) {
        ++k;
    }
    const double t = std::log2(freq_hz / points[k - 1].first) / std::log2(points[k].first / points[k - 1].first);
    return points[k - 1].second + t * (points[k].second - points[k - 1].second);
}

/// Expected seat-to-seat variance of a smoothed level (dB²) and the reverberant part of the level
/// (dB) at each frequency, from one position's octave bands. See the block above.
struct RoomSpread {
    std::vector<double> variance_db2;
    std::vector<double> reverberant_db;
};

std::optional<RoomSpread> room_spread(const std::vector<analysis::ReverberantBand>& bands,
                                      const std::vector<double>& freq_hz) {
    std::vector<std::pair<double, double>> ratio_db;
    std::vector<std::pair<double, double>> decay_s;
    for (const auto& band : bands) {
        ratio_db.emplace_back(band.center_hz, band.direct_to_reverberant_db);
        if (band.decay_time_s && *band.decay_time_s > 0.0) {
            decay_s.emplace_back(band.center_hz, *band.decay_time_s);
        }
    }
    if (ratio_db.empty() || decay_s.empty()) {
        return std::nullopt;
    }
    const double half_width = std::exp2(0.5 * response_smoothing_octaves);
    RoomSpread spread;
    for (const double f : freq_hz) {
        const double k = std::pow(10.0, interpolate_octaves(ratio_db, f) / 10.0);
        const double modes = 1.0 + f * (half_width - 1.0 / half_width) * interpolate_octaves(decay_s, f) / modal_bandwidth_s;
        const double independent = modes * (1.0 + k) * (1.0 + k) / (1.0 + 2.0 * k);
        spread.variance_db2.push_back(db_per_neper * db_per_neper * trigamma(independent));
        spread.reverberant_db.push_back(10.0 * std::log10(1.0 + 1.0 / k));
    }
    return spread;
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

    // The room's expected spread, averaged over the positions that have impulse responses.
    std::vector<double> room_variance_db2(point_count, 0.0);
    std::vector<double> reverberant_db(point_count, 0.0);
    double room_weight = 0.0;
    for (const MicResponse& mic : mics) {
        if (mic.weight <= 0.0 || mic.response.freq_hz.empty()) {
            continue;
        }
        const auto spread = room_spread(mic.reverberant_field, average.freq_hz);
        if (!spread) {
            continue;
        }
        for (std::size_t p = 0; p < point_count; ++p) {
            room_variance_db2[p] += mic.weight * spread->variance_db2[p];
            reverberant_db[p] += mic.weight * spread->reverberant_db[p];
        }
        room_weight += mic.weight;
    }
    if (room_weight > 0.0) {
        for (std::size_t p = 0; p < point_count; ++p) {
            room_variance_db2[p] /= room_weight;
            reverberant_db[p] /= room_weight;
        }
        const double reverberant_level_db = in_band_mean(reverberant_db, in_band);
        for (double& value : reverberant_db) {
            value -= reverberant_level_db;
        }
    }
    const double prior_dof = room_weight > 0.0 ? room_prior_dof : 0.0;

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
        const double measured_variance_db2 = std::max(0.0, window_sum / static_cast<double>(high - low));
        const double measured_dof = effective_count - 1.0;
        const double pooled_variance_db2 =
            prior_dof + measured_dof > 0.0
                ? (prior_dof * room_variance_db2[p] + measured_dof * measured_variance_db2) / (prior_dof + measured_dof)
                : measured_variance_db2;
        const double a = average_deviation[p] - average_level_db;
        const double squared_error_db2 = (pooled_variance_db2 + reverberant_db[p] * reverberant_db[p]) / effective_count;
        const double factor = a * a + squared_error_db2 <= negligible_square_db2 ? 1.0 : a * a / (a * a + squared_error_db2);
        result.factor[p] = factor;
    }
    // The factor is smoothed over the same window, so that the held-back curve has no steps where
    // the factor changes fast. The fitter would follow a step with a pair of opposing bands.
    const std::vector<double> factor = window_mean(result.factor, average.freq_hz, variance_pooling_octaves);
    for (std::size_t p = 0; p < point_count; ++p) {
        result.factor[p] = factor[p];
        result.response.magnitude_db[p] =
            target.magnitude_db[p] + average_level_db + factor[p] * (average_deviation[p] - average_level_db);
    }
    result.response.phase_deg.clear();
    return result;
}

}  // namespace linetune::correction
