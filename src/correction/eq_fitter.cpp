#include "linetune/correction/eq_fitter.hpp"

#include "eq_fit_problem.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/frequency_response.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

// Classic EQ fit
// --------------
// Error to minimise, on a log-frequency grid over the correctable points of the zone's band:
//
//     e(f) = measured(f) + Σ_k H_k(f) − target(f) − offset            (all in dB)
//
// H_k is band k's RBJ cookbook magnitude (biquad.cpp) and offset the broadband level difference,
// which the zone gain corrects, not the EQ. The least-squares cost, its penalties and the
// Levenberg–Marquardt refinement are in eq_fit_problem.cpp. The steps here:
//
// 1. Correctable points. A point inside [band_start_hz, band_end_hz] and below 0.45·fs is
//    correctable unless it sits in a deep narrow dip: more than 6 dB below the 1/1-octave mean of
//    the deviation measured − target around it. Such dips are usually cancellations (two arrivals
//    in opposite phase, a room null) that a boost cannot fill but that would eat its headroom, so
//    they are excluded from the error and a boost into them is penalised.
// 2. Greedy placement. The error is smoothed over 1/12 octave and split into runs of one sign; the
//    runs with the largest area (dB·octave) are the candidates. A candidate band sits at the run's
//    extreme with the opposite gain, and its Q comes from the run's width at half height, using
//    the cookbook's bandwidth relation for peaking bands, 1/Q = 2·sinh(ln 2 / 2 · BW) (BW in
//    octaves between the half-gain points). A run touching the low or high end of the band is
//    also tried as a shelf. Each candidate is refined alone, the best one kept, then all bands
//    are refined together.
// 3. Bands are added while each one lowers the cost by at least 3 % and the RMS error by at least
//    0.02 dB, up to max_bands. When the result still leaves more than swap_above_rms_db, bands
//    are swapped (improve_by_swaps). Each swap removes one band, weakest first, and refits the
//    rest. It then places a new band on the largest remaining error and refits all bands, and it
//    is kept when the cost falls by more than 1 %.
// 4. The bands are rounded to the device's steps. A final check on the fit grid, the measured
//    grid and a dense ladder just outside each band edge then shrinks any band that makes the EQ
//    break the boost cap or the rule outside the band (explained below). The fit grid contains the
//    first points of that ladder too. The cost's penalties are soft, so with weight k the optimum
//    breaks a limit by an amount of the order of g/k², g being the error's slope there. On the
//    warehouse example positions, shrinking a band to remove 0.1 dB of excess at a band edge
//    raised the RMS error by 0.2–0.4 dB. So when the check shrinks, the continuous bands are
//    refined again with the penalties 10 and then 100 times heavier, and the best checked result
//    is kept. A shrink scales the culprit's gain by 1 − 1.5·excess/contribution, not by a fixed
//    factor.
// 5. When this leaves more than restart_above_rms_db, the fit restarts from a shelf at each band
//    edge and keeps the better result: greedy placement alone can settle in a local minimum.
//
// References: R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients";
// D. W. Marquardt, "An algorithm for least-squares estimation of nonlinear parameters",
// J. SIAM 11(2), 1963.

namespace linetune::correction {
namespace {

using analysis::FilterType;
using analysis::ParametricBand;
using detail::BandParameters;
using detail::FitGrid;
using detail::FitState;
using detail::PointRole;

// Density of the fit grid: the measured grid's own density inside the band, kept between these
// limits. 24 points per octave put 3.5 points inside the half-gain width of a Q 10 band
// (0.144 octave), and 48 put seven. A denser grid only interpolates the measurement, while the
// cost of a fit grows linearly with the density.
constexpr double min_fit_points_per_octave = 24.0;
constexpr double max_fit_points_per_octave = 48.0;

// A point more than dip_depth_db below the 1/1-octave mean of measured − target marks a deep
// narrow dip. The dip then extends over the neighbouring points that lie more than
// dip_flank_depth_db below their mean. Its flanks cannot be lifted without boosting into the
// dip either, so a fit that chases them spends bands on what it must not fix.
constexpr double dip_depth_db = 6.0;
constexpr double dip_flank_depth_db = 3.0;
constexpr double dip_reference_width_octaves = 1.0;

// Highest band frequency and highest correctable point, as a fraction of the sample rate: near
// Nyquist the bilinear transform cramps every bell and shelf.
constexpr double max_freq_fraction_of_sample_rate = 0.45;

// Outside the zone's band the EQ never boosts by more than outside_band_boost_tolerance_db. It
// cuts there by at most outside_band_cut_tolerance_db, or by the excess of the measured response
// over the in-band level (target + level offset) where that is larger. So a cut may bring a peak
// that runs across a band edge down to the level inside the band and no further. A boost outside costs amplifier headroom and driver
// excursion where the zone should not play, so it is held to 0.1 dB. A cut only lowers what the
// crossover already removes; it is bounded so that the fit cannot dig holes outside the band that
// would change the acoustic crossover beyond removing the peak itself. The in-band level is
// fixed before each fit, so that the cost stays smooth in the offset. The first fit takes the
// weighted median of the correctable deviation, and the restart (step 5) the level offset the
// first fit reached.
// With a fixed 0.5 to 1 dB of cut the measured car zones (70–320 Hz woofers, 714–1897 Hz centre)
// kept 1–3 dB RMS of error at their edges. With a fixed 2 dB the subwoofer, whose 8 dB peak runs
// across its lower edge, still kept 1.7 dB.
constexpr double outside_band_boost_tolerance_db = 0.1;
constexpr double outside_band_cut_tolerance_db = 2.0;

// Width of the smoothing applied to the error before placing a band: narrower than any band the
// limits allow (Q 10 is 0.144 octave), wide enough that grid noise does not split one feature.
constexpr double placement_smoothing_octaves = 1.0 / 12.0;

// How many of the largest error runs are tried as the next band, and the multiples of the
// estimated Q tried for a bell on each.
constexpr std::size_t placement_candidates = 3;
constexpr std::array<double, 2> placement_q_factors{1.0, 2.5};

// How many of the best candidates are refined together with the other bands before the fit
// decides that no further band helps.
constexpr std::size_t max_joint_trials = 3;

// A new band must lower the cost by this fraction and the RMS error by this many dB to be kept.
constexpr double min_relative_cost_decrease = 0.03;
constexpr double min_rms_decrease_db = 0.02;

// Below this RMS error nothing is left worth a band.
constexpr double good_enough_rms_db = 0.02;

// Iterations of Levenberg–Marquardt: one candidate band alone, all bands after each addition,
// and the final refinement.
constexpr int single_band_iterations = 6;
constexpr int joint_iterations = 10;
constexpr int final_iterations = 100;

// Band swaps after the greedy fit (improve_by_swaps): only when the fit leaves more than
// swap_above_rms_db, at most max_swap_rounds kept swaps, each round trying the
// swap_trials_per_round weakest bands, and a swap must lower the cost by this fraction.
constexpr double swap_above_rms_db = 0.5;
constexpr int max_swap_rounds = 4;
constexpr std::size_t swap_trials_per_round = 4;
constexpr double min_swap_relative_decrease = 0.01;
// A fit from given bands (fit_from, a learned model's prediction) starts nearer its result, so it
// takes fewer steps: given_start_iterations of Levenberg–Marquardt wherever the greedy fit takes
// final_iterations, and at most two swap rounds, each trying only the weakest band. Measured on
// the held-out problems of tools/bench_learned.cpp with the shipped model, where the classic fit
// leaves 1.213 dB mean residual. One round of 2 trials left 1.230 dB at 1/6 of the classic fit's
// time, 2 rounds of 2 trials 1.172 dB at 1/4.4, and 2 rounds of 1 trial 1.197 dB at 1/8.
constexpr int given_start_iterations = 30;
constexpr int given_start_swap_rounds = 2;
constexpr std::size_t given_start_swap_trials = 1;

// Bands whose gain is smaller than this do nothing audible and are dropped.
constexpr double min_band_gain_db = 0.05;

// A fitted band weaker than this is removed and the others refitted without it: it only fine-tunes
// its neighbours and would take a DSP band for an inaudible change.
constexpr double min_useful_gain_db = 0.25;

// Highest Q a shelf may take. Above about 1 an RBJ shelf overshoots into a bell at its corner,
// which a peaking band models better.
constexpr double max_shelf_q = 1.0;

// Width next to each band edge over which the edge-shelf start measures the error to cancel.
constexpr double edge_seed_width_octaves = 1.0 / 3.0;

// The edge-shelf start runs only when the plain start leaves more than this RMS error, and wins
// only when it lowers the error by more than restart_min_gain_db (or matches it with fewer bands).
constexpr double restart_above_rms_db = 0.5;
constexpr double restart_min_gain_db = 0.01;

// Final check beyond the band edges: a ladder of edge_check_points at edge_check_points_per_octave
// starting edge_check_offset (relative) outside each edge, so that a steep band next to an edge
// cannot slip a boost between the fit grid's points.
constexpr int edge_check_points = 32;
constexpr double edge_check_points_per_octave = 96.0;
constexpr double edge_check_offset = 1e-4;

// Number of points of that ladder also put into the fit grid outside each band edge. Four points
// at 96 per octave span 1/24 octave, which covers the gap to the next fit-grid point.
constexpr int edge_fit_points = 4;

// Final check: each violation shrinks the gain of the band that pushes hardest. The loop ends
// after max_shrinks even if a violation remains, and a note then reports it. Each shrink scales
// the gain by 1 − shrink_overshoot·excess/contribution, clamped to the range from
// 1 − min_shrink_fraction down to shrink_factor, then rounds it towards 0 dB on the step.
constexpr double shrink_factor = 0.8;
constexpr double shrink_overshoot = 1.5;
constexpr double min_shrink_fraction = 0.005;
constexpr int max_shrinks = 400;

// When the final check has to shrink bands, the fit is refined again with the penalties for the
// boost cap and the outside-band rule this many times heavier, at most max_penalty_raises times.
// A factor 10 cuts the tolerated excess about a hundredfold each time.
constexpr double penalty_scale_growth = 10.0;
constexpr int max_penalty_raises = 2;
constexpr double check_slack_db = 1e-6;
// The ladder the final check adds around each band: ±8 points at 1/96 octave.
constexpr int band_ladder_points = 8;
constexpr double band_ladder_points_per_octave = 96.0;

bool is_correcting_type(FilterType type) {
    return type == FilterType::peaking || type == FilterType::low_shelf ||
           type == FilterType::high_shelf;
}

bool allows(const EqLimits& limits, FilterType type) {
    return std::find(limits.allowed_types.begin(), limits.allowed_types.end(), type) !=
           limits.allowed_types.end();
}

double highest_band_freq_hz(const EqFitRequest& request) {
    return std::min({request.limits.max_freq_hz, request.band_end_hz,
                     max_freq_fraction_of_sample_rate * request.limits.sample_rate_hz});
}

double lowest_band_freq_hz(const EqFitRequest& request) {
    return std::max(request.limits.min_freq_hz, request.band_start_hz);
}

// ---------------------------------------------------------------------------------------------
// Validation

void require_limit(bool condition, const std::string& message) {
    if (!condition) {
        throw Error("EQ limits: " + message + "; correct the device profile", ErrorKind::configuration);
    }
}

void validate_limits(const EqLimits& limits) {
    require_limit(limits.sample_rate_hz > 0.0 && std::isfinite(limits.sample_rate_hz),
                  "sample_rate_hz " + format_significant(limits.sample_rate_hz) + " Hz must be above 0");
    require_limit(limits.min_freq_hz > 0.0 && limits.min_freq_hz <= limits.max_freq_hz,
                  "min_freq_hz " + format_significant(limits.min_freq_hz) + " Hz must be above 0 Hz and at most max_freq_hz " +
                      format_significant(limits.max_freq_hz) + " Hz");
    require_limit(limits.min_gain_db <= 0.0 && limits.max_gain_db >= 0.0,
                  "gain range " + format_significant(limits.min_gain_db) + " dB to " +
                      format_significant(limits.max_gain_db) + " dB must include 0 dB");
    require_limit(limits.min_q > 0.0 && limits.min_q <= limits.max_q,
                  "min_q " + format_significant(limits.min_q) + " must be above 0 and at most max_q " +
                      format_significant(limits.max_q));
    require_limit(limits.freq_step_hz >= 0.0 && limits.gain_step_db >= 0.0 && limits.q_step >= 0.0,
                  "steps must be 0 (continuous) or positive; got freq_step_hz " +
                      format_significant(limits.freq_step_hz) + " Hz, gain_step_db " +
                      format_significant(limits.gain_step_db) + " dB, q_step " + format_significant(limits.q_step));
}

void validate_response(const FrequencyResponse& response, const std::string& name) {
    if (response.freq_hz.empty()) {
        throw Error(name + " response has no points; give at least one frequency and magnitude");
    }
    if (response.magnitude_db.size() != response.freq_hz.size()) {
        throw Error(name + " response has " + std::to_string(response.freq_hz.size()) +
                    " frequencies but " + std::to_string(response.magnitude_db.size()) +
                    " magnitudes; give one magnitude per frequency");
    }
    for (std::size_t i = 0; i < response.freq_hz.size(); ++i) {
        if (!std::isfinite(response.freq_hz[i]) || !std::isfinite(response.magnitude_db[i]) ||
            response.freq_hz[i] < 0.0) {
            throw Error(name + " response, point " + std::to_string(i) + " (" +
                        format_significant(response.freq_hz[i]) + " Hz, " +
                        format_significant(response.magnitude_db[i]) +
                        " dB): frequency and magnitude must be finite and the frequency at least 0 Hz");
        }
        if (i > 0 && response.freq_hz[i] <= response.freq_hz[i - 1]) {
            throw Error(name + " response, point " + std::to_string(i) + ": frequency " +
                        format_significant(response.freq_hz[i]) + " Hz does not rise above the previous " +
                        format_significant(response.freq_hz[i - 1]) + " Hz; sort the points by frequency");
        }
    }
}

void validate_request(const EqFitRequest& request) {
    validate_limits(request.limits);
    validate_response(request.measured, "measured");
    validate_response(request.target, "target");

    if (!(request.band_start_hz > 0.0 && request.band_start_hz < request.band_end_hz)) {
        throw Error("zone band " + format_significant(request.band_start_hz) + " Hz to " +
                        format_significant(request.band_end_hz) +
                        " Hz is invalid; the band start must be above 0 Hz and below the band end",
                    ErrorKind::configuration);
    }
    if (!request.weights.empty() && request.weights.size() != request.measured.size()) {
        throw Error("EQ fit: " + std::to_string(request.weights.size()) + " weights for " +
                    std::to_string(request.measured.size()) +
                    " measured points; give one weight per point or none");
    }
    for (std::size_t i = 0; i < request.weights.size(); ++i) {
        if (!(request.weights[i] >= 0.0) || !std::isfinite(request.weights[i])) {
            throw Error("EQ fit: weight " + format_significant(request.weights[i]) + " of measured point " +
                        std::to_string(i) + " (" + format_significant(request.measured.freq_hz[i]) +
                        " Hz) is invalid; weights must be finite and at least 0");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Correctable points

// Marks the points of deep narrow dips: runs of points more than dip_flank_depth_db below the mean
// of the deviation over the 1/1-octave window centred on them, holding at least one point more
// than dip_depth_db below it. Each point weighs by the log-frequency span it covers, so a linear FFT grid,
// dense at the top of every window, does not bias the mean upwards in frequency.
std::vector<bool> find_deep_narrow_dips(const std::vector<double>& freq_hz,
                                        const std::vector<double>& deviation_db) {
    const std::size_t n = freq_hz.size();
    std::vector<bool> dip(n, false);
    if (n < 3) {
        return dip;
    }

    std::vector<double> log2_freq(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        log2_freq[i] = freq_hz[i] > 0.0 ? std::log2(freq_hz[i]) : -1e300;
    }
    std::vector<double> span(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        if (freq_hz[i] <= 0.0) {
            continue;
        }
        const double below = (i > 0 && freq_hz[i - 1] > 0.0) ? log2_freq[i - 1] : log2_freq[i];
        const double above = i + 1 < n ? log2_freq[i + 1] : log2_freq[i];
        span[i] = std::max((above - below) / 2.0, 1e-9);
    }

    std::vector<double> span_sum(n + 1, 0.0);
    std::vector<double> weighted_sum(n + 1, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        span_sum[i + 1] = span_sum[i] + span[i];
        weighted_sum[i + 1] = weighted_sum[i] + span[i] * deviation_db[i];
    }

    const double half_width = dip_reference_width_octaves / 2.0;
    std::vector<double> depth_db(n, 0.0);  // how far each point lies below its window mean
    std::size_t first = 0;
    std::size_t last = 0;  // one past the window
    for (std::size_t i = 0; i < n; ++i) {
        if (freq_hz[i] <= 0.0) {
            continue;
        }
        while (first < i && log2_freq[first] < log2_freq[i] - half_width) {
            ++first;
        }
        last = std::max(last, i + 1);
        while (last < n && log2_freq[last] <= log2_freq[i] + half_width) {
            ++last;
        }
        const double window_span = span_sum[last] - span_sum[first];
        const double mean_db = (weighted_sum[last] - weighted_sum[first]) / window_span;
        depth_db[i] = mean_db - deviation_db[i];
    }

    for (std::size_t start = 0; start < n;) {
        if (depth_db[start] <= dip_flank_depth_db) {
            ++start;
            continue;
        }
        std::size_t end = start;
        bool deep = false;
        while (end < n && depth_db[end] > dip_flank_depth_db) {
            deep = deep || depth_db[end] > dip_depth_db;
            ++end;
        }
        for (std::size_t i = start; i < end; ++i) {
            dip[i] = deep;
        }
        start = end;
    }
    return dip;
}

std::vector<PointRole> point_roles(const EqFitRequest& request, const std::vector<double>& freq_hz,
                                   const std::vector<double>& deviation_db) {
    const double top_hz = std::min(request.band_end_hz,
                                   max_freq_fraction_of_sample_rate * request.limits.sample_rate_hz);
    const auto dips = find_deep_narrow_dips(freq_hz, deviation_db);

    std::vector<PointRole> roles(freq_hz.size(), PointRole::outside_band);
    for (std::size_t i = 0; i < freq_hz.size(); ++i) {
        if (freq_hz[i] < request.band_start_hz || freq_hz[i] > top_hz) {
            continue;
        }
        roles[i] = dips[i] ? PointRole::dip : PointRole::correctable;
    }
    return roles;
}

double interpolate_weight(const EqFitRequest& request, double freq_hz) {
    if (request.weights.empty()) {
        return 1.0;
    }
    const FrequencyResponse weights{request.measured.freq_hz, request.weights, {}};
    return interpolate_magnitude_db(weights, freq_hz);
}

std::vector<double> measured_deviation_db(const EqFitRequest& request) {
    const auto& measured = request.measured;
    std::vector<double> deviation_db(measured.size());
    for (std::size_t i = 0; i < measured.size(); ++i) {
        deviation_db[i] = measured.magnitude_db[i] - interpolate_magnitude_db(request.target, measured.freq_hz[i]);
    }
    return deviation_db;
}

// True when a fit-grid frequency lies next to a measured point in a dip. Dips are found on the
// measured grid only, so that the fit and the reported figures agree on which points count even
// when a point sits right at the dip threshold.
bool next_to_measured_dip(const std::vector<double>& measured_freq_hz, const std::vector<PointRole>& measured_roles,
                          double freq_hz) {
    const auto upper = std::lower_bound(measured_freq_hz.begin(), measured_freq_hz.end(), freq_hz);
    const auto index = static_cast<std::size_t>(upper - measured_freq_hz.begin());
    const bool upper_dip = index < measured_roles.size() && measured_roles[index] == PointRole::dip;
    const bool lower_dip = index > 0 && measured_roles[index - 1] == PointRole::dip;
    return upper_dip || lower_dip;
}

// Points per octave of the measured grid inside the zone's band, clamped to the fit-grid limits.
double fit_grid_density(const EqFitRequest& request) {
    const auto& freq_hz = request.measured.freq_hz;
    const auto first = std::lower_bound(freq_hz.begin(), freq_hz.end(), request.band_start_hz);
    const auto last = std::upper_bound(freq_hz.begin(), freq_hz.end(), request.band_end_hz);
    if (last - first < 2) {
        return max_fit_points_per_octave;
    }
    const double octaves = std::log2(*(last - 1) / *first);
    const double density = static_cast<double>(last - first - 1) / std::max(octaves, 1e-9);
    return std::clamp(std::round(density), min_fit_points_per_octave, max_fit_points_per_octave);
}

// The fit grid spans the measured range between half the lowest band frequency the device allows
// and the Nyquist frequency: below and above that no band has an effect the fit could change.
FitGrid make_fit_grid(const EqFitRequest& request, const std::vector<PointRole>& measured_roles) {
    const auto& measured = request.measured;
    const auto positive = std::find_if(measured.freq_hz.begin(), measured.freq_hz.end(),
                                       [](double f) { return f > 0.0; });
    FitGrid grid;
    if (positive == measured.freq_hz.end()) {
        return grid;
    }
    const double start_hz = std::max(*positive, request.limits.min_freq_hz / 2.0);
    const double end_hz = std::min(measured.freq_hz.back(), 0.499 * request.limits.sample_rate_hz);
    if (start_hz >= end_hz) {
        return grid;
    }

    grid.points_per_octave = fit_grid_density(request);
    grid.freq_hz = log_frequency_grid(start_hz, end_hz, grid.points_per_octave);
    // The log grid may skip the first 1/24 octave beyond each band edge, where a steep band next
    // to the edge changes the EQ fastest. The final check looks there (check_frequencies), so the
    // fit grid gets points on the same ladder and the fit's penalty covers the edge too.
    for (int k = 0; k < edge_fit_points; ++k) {
        const double step = std::exp2(static_cast<double>(k) / edge_check_points_per_octave);
        const double below_hz = request.band_start_hz * (1.0 - edge_check_offset) / step;
        const double above_hz = request.band_end_hz * (1.0 + edge_check_offset) * step;
        if (below_hz >= start_hz && below_hz <= end_hz) {
            grid.freq_hz.push_back(below_hz);
        }
        if (above_hz >= start_hz && above_hz <= end_hz) {
            grid.freq_hz.push_back(above_hz);
        }
    }
    std::sort(grid.freq_hz.begin(), grid.freq_hz.end());
    const double top_hz = std::min(request.band_end_hz,
                                   max_freq_fraction_of_sample_rate * request.limits.sample_rate_hz);
    for (const double f : grid.freq_hz) {
        grid.deviation_db.push_back(interpolate_magnitude_db(measured, f) -
                                    interpolate_magnitude_db(request.target, f));
        grid.weight.push_back(interpolate_weight(request, f));
        if (f < request.band_start_hz || f > top_hz) {
            grid.role.push_back(PointRole::outside_band);
        } else if (next_to_measured_dip(measured.freq_hz, measured_roles, f)) {
            grid.role.push_back(PointRole::dip);
        } else {
            grid.role.push_back(PointRole::correctable);
        }
    }
    return grid;
}

// ---------------------------------------------------------------------------------------------
// Level offset and error figures

// Weighted median of the deviation over the correctable points: a start for the level offset
// that one large peak or shelf does not move.
double weighted_median_deviation_db(const FitGrid& grid) {
    std::vector<std::pair<double, double>> values;
    double total_weight = 0.0;
    for (std::size_t i = 0; i < grid.freq_hz.size(); ++i) {
        if (grid.role[i] == PointRole::correctable && grid.weight[i] > 0.0) {
            values.emplace_back(grid.deviation_db[i], grid.weight[i]);
            total_weight += grid.weight[i];
        }
    }
    if (values.empty()) {
        return 0.0;
    }
    std::sort(values.begin(), values.end());
    double cumulative = 0.0;
    for (const auto& [value, weight] : values) {
        cumulative += weight;
        if (cumulative >= total_weight / 2.0) {
            return value;
        }
    }
    return values.back().first;
}

// Weighted mean of deviation + EQ over the correctable points: the offset that minimises the
// correctable error for fixed bands.
double best_offset_db(const FitGrid& grid, const std::vector<double>& eq_db) {
    double sum = 0.0;
    double total_weight = 0.0;
    for (std::size_t i = 0; i < grid.freq_hz.size(); ++i) {
        if (grid.role[i] == PointRole::correctable) {
            sum += grid.weight[i] * (grid.deviation_db[i] + eq_db[i]);
            total_weight += grid.weight[i];
        }
    }
    return total_weight > 0.0 ? sum / total_weight : 0.0;
}

// Deepest cut tolerated at a point outside the band whose deviation is deviation_db.
double outside_cut_room_db(double deviation_db, double in_band_level_db) {
    return std::max(outside_band_cut_tolerance_db, deviation_db - in_band_level_db);
}

void set_outside_cut_room(FitGrid& grid, double in_band_level_db) {
    grid.outside_cut_room_db.resize(grid.freq_hz.size());
    for (std::size_t i = 0; i < grid.freq_hz.size(); ++i) {
        grid.outside_cut_room_db[i] = outside_cut_room_db(grid.deviation_db[i], in_band_level_db);
    }
}

double correctable_rms_db(const FitGrid& grid, const std::vector<double>& eq_db, double offset_db) {
    double sum = 0.0;
    double total_weight = 0.0;
    for (std::size_t i = 0; i < grid.freq_hz.size(); ++i) {
        if (grid.role[i] == PointRole::correctable) {
            const double error = grid.deviation_db[i] - offset_db + eq_db[i];
            sum += grid.weight[i] * error * error;
            total_weight += grid.weight[i];
        }
    }
    return total_weight > 0.0 ? std::sqrt(sum / total_weight) : 0.0;
}

// ---------------------------------------------------------------------------------------------
// Greedy band placement

/// A run of correctable grid points where the smoothed error keeps one sign.
struct ErrorRun {
    std::size_t first = 0;
    std::size_t last = 0;  ///< inclusive
    double area_db_octaves = 0;
};

std::vector<double> smoothed_error_db(const FitGrid& grid, const std::vector<double>& error_db) {
    const auto half_points =
        static_cast<std::size_t>(std::lround(placement_smoothing_octaves * grid.points_per_octave / 2.0));
    const std::size_t n = error_db.size();
    std::vector<double> smoothed(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        if (grid.role[i] != PointRole::correctable) {
            continue;
        }
        double sum = 0.0;
        int count = 0;
        const std::size_t lo = i >= half_points ? i - half_points : 0;
        const std::size_t hi = std::min(n - 1, i + half_points);
        for (std::size_t j = lo; j <= hi; ++j) {
            if (grid.role[j] == PointRole::correctable) {
                sum += error_db[j];
                ++count;
            }
        }
        smoothed[i] = sum / count;
    }
    return smoothed;
}

std::vector<ErrorRun> error_runs(const FitGrid& grid, const std::vector<double>& smoothed_db) {
    std::vector<ErrorRun> runs;
    const double octaves_per_point = 1.0 / grid.points_per_octave;
    bool open = false;
    for (std::size_t i = 0; i < smoothed_db.size(); ++i) {
        const bool usable = grid.role[i] == PointRole::correctable && grid.weight[i] > 0.0;
        const bool continues = open && usable && (smoothed_db[i] >= 0.0) == (smoothed_db[runs.back().last] >= 0.0) &&
                               runs.back().last + 1 == i;
        if (continues) {
            runs.back().last = i;
            runs.back().area_db_octaves += std::fabs(smoothed_db[i]) * octaves_per_point;
            continue;
        }
        open = usable;
        if (usable) {
            runs.push_back({i, i, std::fabs(smoothed_db[i]) * octaves_per_point});
        }
    }
    return runs;
}

// Q of a peaking band whose half-gain points are bandwidth_octaves apart (cookbook relation,
// ignoring the bilinear warping factor ω0 / sin ω0, which the refinement corrects).
double q_from_bandwidth(double bandwidth_octaves) {
    return 1.0 / (2.0 * std::sinh(std::log(2.0) / 2.0 * bandwidth_octaves));
}

std::vector<BandParameters> candidates_for_run(const detail::EqFitProblem& problem,
                                               const EqLimits& limits, const ErrorRun& run,
                                               const std::vector<double>& smoothed_db,
                                               std::size_t first_correctable,
                                               std::size_t last_correctable) {
    const auto& freq_hz = problem.grid().freq_hz;
    std::size_t peak = run.first;
    for (std::size_t i = run.first; i <= run.last; ++i) {
        if (std::fabs(smoothed_db[i]) > std::fabs(smoothed_db[peak])) {
            peak = i;
        }
    }
    const double peak_db = smoothed_db[peak];
    std::size_t lo = peak;
    while (lo > run.first && std::fabs(smoothed_db[lo - 1]) >= std::fabs(peak_db) / 2.0) {
        --lo;
    }
    std::size_t hi = peak;
    while (hi < run.last && std::fabs(smoothed_db[hi + 1]) >= std::fabs(peak_db) / 2.0) {
        ++hi;
    }
    const double bandwidth_octaves =
        std::max(std::log2(freq_hz[hi] / freq_hz[lo]) + 1.0 / problem.grid().points_per_octave, 1.0 / 48.0);

    std::vector<BandParameters> candidates;
    const double gain_db = -peak_db;
    if (allows(limits, FilterType::peaking)) {
        // Near a band edge the tolerances outside the band favour a narrower bell than the
        // width at half height gives, so a narrower one is tried as well.
        const double q = q_from_bandwidth(bandwidth_octaves);
        for (const double q_factor : placement_q_factors) {
            candidates.push_back(problem.clamped(
                {FilterType::peaking, std::log(freq_hz[peak]), gain_db, std::log(q * q_factor)}));
        }
    }
    const double shelf_log_q = std::log(1.0 / std::sqrt(2.0));
    if (allows(limits, FilterType::low_shelf) && run.first == first_correctable) {
        candidates.push_back(problem.clamped({FilterType::low_shelf, std::log(freq_hz[hi]), gain_db, shelf_log_q}));
    }
    if (allows(limits, FilterType::high_shelf) && run.last == last_correctable) {
        candidates.push_back(problem.clamped({FilterType::high_shelf, std::log(freq_hz[lo]), gain_db, shelf_log_q}));
    }
    return candidates;
}

// Tries a new band on each of the largest error runs, refined alone. Returns the states with one
// band added, lowest cost first, or none when no run gives a candidate.
std::vector<FitState> states_with_one_more_band(const detail::EqFitProblem& problem, const EqLimits& limits,
                                      const FitState& state) {
    const auto& grid = problem.grid();
    const auto eq_db = problem.eq_response_db(state.bands);
    std::vector<double> error_db(grid.freq_hz.size(), 0.0);
    std::size_t first_correctable = grid.freq_hz.size();
    std::size_t last_correctable = 0;
    for (std::size_t i = 0; i < error_db.size(); ++i) {
        if (grid.role[i] == PointRole::correctable) {
            error_db[i] = grid.deviation_db[i] - state.offset_db + eq_db[i];
            first_correctable = std::min(first_correctable, i);
            last_correctable = i;
        }
    }
    const auto smoothed = smoothed_error_db(grid, error_db);
    auto runs = error_runs(grid, smoothed);

    // A run that needs boost when no boost is allowed (or cut when no cut is) cannot take a band.
    std::erase_if(runs, [&](const ErrorRun& run) {
        const bool needs_boost = smoothed[run.first] < 0.0;
        return needs_boost ? limits.max_gain_db <= min_band_gain_db : limits.min_gain_db >= -min_band_gain_db;
    });
    std::sort(runs.begin(), runs.end(),
              [](const ErrorRun& a, const ErrorRun& b) { return a.area_db_octaves > b.area_db_octaves; });
    if (runs.size() > placement_candidates) {
        runs.resize(placement_candidates);
    }

    std::vector<std::pair<double, FitState>> trials;
    for (const auto& run : runs) {
        for (const auto& band : candidates_for_run(problem, limits, run, smoothed, first_correctable, last_correctable)) {
            FitState trial = state;
            trial.bands.push_back(band);
            const double cost = problem.refine(trial, trial.bands.size() - 1, single_band_iterations);
            trials.emplace_back(cost, std::move(trial));
        }
    }
    std::stable_sort(trials.begin(), trials.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<FitState> states;
    for (auto& trial : trials) {
        states.push_back(std::move(trial.second));
    }
    return states;
}

// ---------------------------------------------------------------------------------------------
// Rounding and final check

// Rounds to the nearest multiple of step inside [lo, hi]; clamps when the step is 0 or when no
// multiple lies inside the range.
double round_to_step(double value, double step, double lo, double hi) {
    if (step <= 0.0) {
        return std::clamp(value, lo, hi);
    }
    double rounded = std::round(value / step) * step;
    if (rounded > hi) {
        rounded = std::floor(hi / step) * step;
    }
    if (rounded < lo) {
        rounded = std::ceil(lo / step) * step;
    }
    return rounded >= lo && rounded <= hi ? rounded : std::clamp(value, lo, hi);
}

// Rounds towards 0 dB, so that a shrunk gain never grows back by rounding.
double round_gain_towards_zero(double gain_db, double step) {
    if (step <= 0.0) {
        return gain_db;
    }
    return std::trunc(gain_db / step) * step;
}

ParametricBand rounded_band(const ParametricBand& band, const EqFitRequest& request) {
    const auto& limits = request.limits;
    ParametricBand rounded = band;
    rounded.freq_hz = round_to_step(band.freq_hz, limits.freq_step_hz, lowest_band_freq_hz(request),
                                    highest_band_freq_hz(request));
    rounded.gain_db = round_to_step(band.gain_db, limits.gain_step_db, limits.min_gain_db, limits.max_gain_db);
    rounded.q = round_to_step(band.q, limits.q_step, limits.min_q, limits.max_q);
    return rounded;
}

std::vector<double> eq_response_db(const std::vector<ParametricBand>& bands,
                                   const std::vector<double>& freq_hz, double sample_rate_hz) {
    std::vector<double> eq_db(freq_hz.size(), 0.0);
    for (const auto& band : bands) {
        const auto coefficients = analysis::design_biquad(band, sample_rate_hz);
        for (std::size_t i = 0; i < freq_hz.size(); ++i) {
            eq_db[i] += analysis::biquad_magnitude_db(coefficients, freq_hz[i], sample_rate_hz);
        }
    }
    return eq_db;
}

/// Frequencies where the final check looks at the EQ: the fit grid and the measured points.
std::vector<double> check_frequencies(const FitGrid& grid, const EqFitRequest& request) {
    std::vector<double> freq_hz = grid.freq_hz;
    for (const double f : request.measured.freq_hz) {
        if (f > 0.0 && f < request.limits.sample_rate_hz / 2.0) {
            freq_hz.push_back(f);
        }
    }
    // Just outside each band edge the EQ may change fastest, so a dense ladder starts right there
    // (within the measured range, like the fit grid).
    const double lowest_hz = request.measured.freq_hz.front();
    const double highest_hz = std::min(request.measured.freq_hz.back(), request.limits.sample_rate_hz / 2.0);
    for (int k = 0; k <= edge_check_points; ++k) {
        const double step = std::exp2(static_cast<double>(k) / edge_check_points_per_octave);
        const double below_hz = request.band_start_hz * (1.0 - edge_check_offset) / step;
        const double above_hz = request.band_end_hz * (1.0 + edge_check_offset) * step;
        if (below_hz >= lowest_hz && below_hz <= highest_hz) {
            freq_hz.push_back(below_hz);
        }
        if (above_hz >= lowest_hz && above_hz < highest_hz) {
            freq_hz.push_back(above_hz);
        }
    }
    std::sort(freq_hz.begin(), freq_hz.end());
    return freq_hz;
}

/// Amount by which the EQ at one point breaks the boost cap or the outside-band tolerances.
double violation_db(const EqFitRequest& request, double freq_hz, double eq_db, double in_band_level_db) {
    double excess = std::max(0.0, eq_db - request.limits.max_gain_db);
    const bool outside = freq_hz < request.band_start_hz || freq_hz > request.band_end_hz;
    if (outside) {
        const double deviation_db = interpolate_magnitude_db(request.measured, freq_hz) -
                                    interpolate_magnitude_db(request.target, freq_hz);
        excess = std::max({excess, eq_db - outside_band_boost_tolerance_db,
                           -eq_db - outside_cut_room_db(deviation_db, in_band_level_db)});
    }
    return excess > check_slack_db ? excess : 0.0;
}

// Shrinks bands until the EQ keeps the boost cap everywhere and the tolerances outside the band.
// Returns how many shrinks it took, or -1 if a violation remains after max_shrinks.
int enforce_eq_limits(std::vector<ParametricBand>& bands, const EqFitRequest& request,
                      const std::vector<double>& grid_hz, double in_band_level_db) {
    const double fs = request.limits.sample_rate_hz;
    for (int shrinks = 0; shrinks <= max_shrinks; ++shrinks) {
        // The summed EQ peaks at or near a band's own frequency, which may fall between grid
        // points: the push checks there too, so the check includes, inside the zone's band,
        // every band's frequency and a 1/96-octave ladder of ±1/12 octave around it.
        std::vector<double> freq_hz = grid_hz;
        for (const auto& band : bands) {
            for (int k = -band_ladder_points; k <= band_ladder_points; ++k) {
                const double f = band.freq_hz * std::exp2(static_cast<double>(k) / band_ladder_points_per_octave);
                if (f >= request.band_start_hz && f <= request.band_end_hz && f < fs / 2.0) {
                    freq_hz.push_back(f);
                }
            }
        }
        const auto eq_db = eq_response_db(bands, freq_hz, fs);
        std::size_t worst = freq_hz.size();
        double worst_excess = 0.0;
        for (std::size_t i = 0; i < freq_hz.size(); ++i) {
            const double excess = violation_db(request, freq_hz[i], eq_db[i], in_band_level_db);
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
        if (worst == freq_hz.size()) {
            return shrinks;
        }
        if (shrinks == max_shrinks || bands.empty()) {
            break;
        }

        // Shrink the band that pushes hardest in the direction of the violation.
        const double direction = eq_db[worst] > 0.0 ? 1.0 : -1.0;
        std::size_t culprit = 0;
        double largest = -1e300;
        for (std::size_t k = 0; k < bands.size(); ++k) {
            const double contribution = direction * analysis::band_magnitude_db(bands[k], freq_hz[worst], fs);
            if (contribution > largest) {
                largest = contribution;
                culprit = k;
            }
        }
        // The culprit contributes c dB at the worst point and the EQ exceeds the limit there by x
        // dB. A band's dB at a fixed frequency is close to proportional to its gain, so scaling
        // the gain by 1 − x/c removes the excess. The margin shrink_overshoot and the floor
        // min_shrink_fraction keep the loop short. The cap shrink_factor limits one shrink where
        // that proportionality is poor.
        auto& band = bands[culprit];
        const double fraction = largest > 0.0 ? shrink_overshoot * worst_excess / largest : 1.0 - shrink_factor;
        const double scale = 1.0 - std::clamp(fraction, min_shrink_fraction, 1.0 - shrink_factor);
        const double shrunk_db = round_gain_towards_zero(band.gain_db * scale, request.limits.gain_step_db);
        // Rounding towards zero on the step always moves at least one step when the scale moved
        // the gain by less than a step.
        band.gain_db = shrunk_db != band.gain_db || request.limits.gain_step_db <= 0.0
                           ? shrunk_db
                           : band.gain_db - std::copysign(request.limits.gain_step_db, band.gain_db);
        if (std::fabs(band.gain_db) < min_band_gain_db) {
            bands.erase(bands.begin() + static_cast<std::ptrdiff_t>(culprit));
        }
    }
    return -1;
}

// ---------------------------------------------------------------------------------------------
// Steps of the fit

detail::EqFitProblem make_problem(const EqFitRequest& request, FitGrid grid, double penalty_scale = 1.0) {
    const auto& limits = request.limits;
    detail::ParameterBounds bounds;
    bounds.log_freq_min = std::log(lowest_band_freq_hz(request));
    bounds.log_freq_max = std::log(highest_band_freq_hz(request));
    bounds.gain_min_db = limits.min_gain_db;
    bounds.gain_max_db = limits.max_gain_db;
    bounds.log_q_min = std::log(limits.min_q);
    bounds.log_q_max = std::log(limits.max_q);
    bounds.shelf_log_q_max = std::log(std::clamp(max_shelf_q, limits.min_q, limits.max_q));

    detail::EqLimitsOnGrid eq_limits;
    eq_limits.max_boost_db = limits.max_gain_db;
    eq_limits.outside_band_boost_db = outside_band_boost_tolerance_db;
    eq_limits.sample_rate_hz = limits.sample_rate_hz;
    eq_limits.penalty_scale = penalty_scale;
    return {std::move(grid), bounds, eq_limits};
}

/// Starting point of the fit: the greedy placement from no band or from a shelf at each band
/// edge, or bands given to fit_from.
enum class StartVariant { plain, edge_shelves, given };

// Removes the weakest band while one is below min_useful_gain_db, refitting the rest each time.
void remove_weak_bands(const detail::EqFitProblem& problem, FitState& state, int iterations = final_iterations) {
    while (!state.bands.empty()) {
        const auto weakest = std::min_element(state.bands.begin(), state.bands.end(),
                                              [](const BandParameters& a, const BandParameters& b) {
                                                  return std::fabs(a.gain_db) < std::fabs(b.gain_db);
                                              });
        if (std::fabs(weakest->gain_db) >= min_useful_gain_db) {
            return;
        }
        state.bands.erase(weakest);
        problem.refine(state, 0, iterations);
    }
}

// Mean error of the correctable points within edge_seed_width_octaves of the first (from_low) or
// the last correctable point.
double edge_error_db(const FitGrid& grid, double offset_db, bool from_low) {
    const std::size_t n = grid.freq_hz.size();
    double edge_hz = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const std::size_t i = from_low ? k : n - 1 - k;
        if (grid.role[i] == PointRole::correctable) {
            edge_hz = grid.freq_hz[i];
            break;
        }
    }
    double sum = 0.0;
    int count = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (grid.role[i] == PointRole::correctable &&
            std::fabs(std::log2(grid.freq_hz[i] / edge_hz)) <= edge_seed_width_octaves) {
            sum += grid.deviation_db[i] - offset_db;
            ++count;
        }
    }
    return count > 0 ? sum / count : 0.0;
}

// Start of the edge-shelf variant: a low shelf at the band's lower edge and a high shelf at its
// upper edge, each with the gain that cancels the mean error next to its edge.
void seed_edge_shelves(const detail::EqFitProblem& problem, const EqFitRequest& request, FitState& state) {
    const double corner_log_q = std::log(1.0 / std::sqrt(2.0));
    const double low_hz = lowest_band_freq_hz(request) * std::exp2(edge_seed_width_octaves);
    const double high_hz = highest_band_freq_hz(request) * std::exp2(-edge_seed_width_octaves);
    if (allows(request.limits, FilterType::low_shelf) && state.bands.size() < request.limits.max_bands) {
        const double gain_db = -edge_error_db(problem.grid(), state.offset_db, true);
        state.bands.push_back(problem.clamped({FilterType::low_shelf, std::log(low_hz), gain_db, corner_log_q}));
    }
    if (allows(request.limits, FilterType::high_shelf) && state.bands.size() < request.limits.max_bands) {
        const double gain_db = -edge_error_db(problem.grid(), state.offset_db, false);
        state.bands.push_back(problem.clamped({FilterType::high_shelf, std::log(high_hz), gain_db, corner_log_q}));
    }
}

// Greedy placement fixes each band given the ones before it, so an early band may sit where a
// later combination would not put it. One swap removes a band, refits the rest, places a new band
// on the largest remaining error (states_with_one_more_band) and refits all. The swap is kept when
// it lowers the cost by more than min_swap_relative_decrease. The weakest bands (smallest |gain|)
// are tried first, swap_trials_per_round of them per round, for at most max_swap_rounds rounds.
// Every step is deterministic, so the result is too.
void improve_by_swaps(const detail::EqFitProblem& problem, const EqLimits& limits, FitState& state,
                      int swap_rounds = max_swap_rounds, std::size_t trials_per_round = swap_trials_per_round,
                      int iterations = final_iterations) {
    double cost = problem.refine(state, 0, iterations);
    for (int round = 0; round < swap_rounds; ++round) {
        std::vector<std::size_t> order(state.bands.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return std::fabs(state.bands[a].gain_db) < std::fabs(state.bands[b].gain_db);
        });
        std::optional<FitState> best;
        double best_cost = cost * (1.0 - min_swap_relative_decrease);
        for (std::size_t t = 0; t < std::min(order.size(), trials_per_round); ++t) {
            FitState reduced = state;
            reduced.bands.erase(reduced.bands.begin() + static_cast<std::ptrdiff_t>(order[t]));
            problem.refine(reduced, 0, joint_iterations);
            auto trials = states_with_one_more_band(problem, limits, reduced);
            for (std::size_t c = 0; c < std::min(trials.size(), max_joint_trials); ++c) {
                const double trial_cost = problem.refine(trials[c], 0, joint_iterations);
                if (trial_cost < best_cost && std::fabs(trials[c].bands.back().gain_db) >= min_useful_gain_db) {
                    best_cost = trial_cost;
                    best = std::move(trials[c]);
                }
            }
        }
        if (!best) {
            return;
        }
        state = std::move(*best);
        cost = problem.refine(state, 0, iterations);
    }
}

// Greedy placement: adds the best of the candidate bands on the largest error runs while one
// still lowers the cost and the RMS error enough, up to max_bands. cost is the state's cost.
void add_bands_greedily(const detail::EqFitProblem& problem, const EqFitRequest& request, FitState& state,
                        double cost, std::vector<std::string>& notes) {
    while (state.bands.size() < request.limits.max_bands) {
        const auto eq_db = problem.eq_response_db(state.bands);
        const double rms_db = correctable_rms_db(problem.grid(), eq_db, state.offset_db);
        if (rms_db < good_enough_rms_db) {
            break;
        }

        auto trials = states_with_one_more_band(problem, request.limits, state);
        if (trials.empty()) {
            notes.push_back("no error run left that an allowed band could correct");
            break;
        }

        // The best candidate is kept if it still helps enough after the joint refinement.
        // Otherwise the next ones get a chance before the fit stops.
        bool added = false;
        double best_rms_decrease_db = 0.0;
        for (std::size_t t = 0; t < std::min(trials.size(), max_joint_trials) && !added; ++t) {
            FitState& trial = trials[t];
            const double trial_cost = problem.refine(trial, 0, joint_iterations);
            const double trial_rms_db =
                correctable_rms_db(problem.grid(), problem.eq_response_db(trial.bands), trial.offset_db);
            best_rms_decrease_db = std::max(best_rms_decrease_db, rms_db - trial_rms_db);
            if (trial_cost <= (1.0 - min_relative_cost_decrease) * cost &&
                rms_db - trial_rms_db >= min_rms_decrease_db &&
                std::fabs(trial.bands.back().gain_db) >= min_useful_gain_db) {
                state = std::move(trial);
                cost = trial_cost;
                added = true;
            }
        }
        if (!added) {
            notes.push_back("stopped at " + std::to_string(state.bands.size()) +
                            (state.bands.size() == 1 ? " band" : " bands") +
                            ": another band lowered the RMS error by only " + format_fixed(best_rms_decrease_db, 3) +
                            " dB");
            break;
        }
    }
}

FitState fit_bands(const detail::EqFitProblem& problem, const EqFitRequest& request, StartVariant variant,
                   std::vector<std::string>& notes) {
    FitState state;
    state.offset_db = weighted_median_deviation_db(problem.grid());
    if (variant == StartVariant::edge_shelves) {
        seed_edge_shelves(problem, request, state);
    }
    add_bands_greedily(problem, request, state, problem.refine(state, 0, joint_iterations), notes);

    problem.refine(state, 0, final_iterations);
    remove_weak_bands(problem, state);
    if (state.bands.size() >= 2 &&
        correctable_rms_db(problem.grid(), problem.eq_response_db(state.bands), state.offset_db) > swap_above_rms_db) {
        improve_by_swaps(problem, request.limits, state);
    }
    return state;
}

// Start of fit_from: the given bands the device allows (finite values, clamped into the limits,
// at most max_bands). When refine is set, the classic fit's steps follow from there: the bands are
// refined together by Levenberg–Marquardt, the weak ones removed, bands added greedily while one
// helps, and swapped for at most given_start_swap_rounds rounds. It never restarts from the
// edge shelves: that second fit from scratch is what makes the classic fit slow.
FitState start_from_bands(const detail::EqFitProblem& problem, const EqFitRequest& request,
                          const std::vector<ParametricBand>& initial_bands, bool refine,
                          std::vector<std::string>& notes) {
    FitState state;
    state.offset_db = weighted_median_deviation_db(problem.grid());
    for (const auto& band : initial_bands) {
        const bool finite = std::isfinite(band.freq_hz) && std::isfinite(band.gain_db) && std::isfinite(band.q);
        if (!finite || band.freq_hz <= 0.0 || band.q <= 0.0 || !is_correcting_type(band.type) ||
            !allows(request.limits, band.type) || state.bands.size() >= request.limits.max_bands) {
            continue;
        }
        state.bands.push_back(problem.clamped({band.type, std::log(band.freq_hz), band.gain_db, std::log(band.q)}));
    }
    if (refine) {
        problem.refine(state, 0, given_start_iterations);
        remove_weak_bands(problem, state, given_start_iterations);
        add_bands_greedily(problem, request, state, problem.refine(state, 0, joint_iterations), notes);
        problem.refine(state, 0, given_start_iterations);
        remove_weak_bands(problem, state, given_start_iterations);
        if (state.bands.size() >= 2 && correctable_rms_db(problem.grid(), problem.eq_response_db(state.bands),
                                                          state.offset_db) > swap_above_rms_db) {
            improve_by_swaps(problem, request.limits, state, given_start_swap_rounds, given_start_swap_trials,
                             given_start_iterations);
        }
    }
    return state;
}

std::vector<ParametricBand> rounded_bands(const FitState& state, const EqFitRequest& request) {
    std::vector<ParametricBand> bands;
    for (const auto& parameters : state.bands) {
        const auto band = rounded_band(detail::to_parametric_band(parameters), request);
        if (std::fabs(band.gain_db) >= min_band_gain_db) {
            bands.push_back(band);
        }
    }
    // Low to high frequency, the order a DSP's band list is read in.
    std::sort(bands.begin(), bands.end(),
              [](const ParametricBand& a, const ParametricBand& b) { return a.freq_hz < b.freq_hz; });
    return bands;
}

void fill_figures(EqFitResult& result, const EqFitRequest& request, const FitGrid& grid,
                  const std::vector<PointRole>& roles) {
    const auto& measured = request.measured;
    const double fs = request.limits.sample_rate_hz;

    result.level_offset_db = best_offset_db(grid, eq_response_db(result.bands, grid.freq_hz, fs));

    const auto deviation_db = measured_deviation_db(request);
    const auto eq_db = eq_response_db(result.bands, measured.freq_hz, fs);

    result.predicted.freq_hz = measured.freq_hz;
    result.predicted.magnitude_db.resize(measured.size());
    result.correctable.assign(measured.size(), false);
    double sum_before = 0.0;
    double sum_after = 0.0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < measured.size(); ++i) {
        result.predicted.magnitude_db[i] = measured.magnitude_db[i] + eq_db[i];
        if (roles[i] != PointRole::correctable) {
            continue;
        }
        result.correctable[i] = true;
        const double before = deviation_db[i] - result.level_offset_db;
        const double after = before + eq_db[i];
        sum_before += before * before;
        sum_after += after * after;
        result.max_before_db = std::max(result.max_before_db, std::fabs(before));
        result.max_after_db = std::max(result.max_after_db, std::fabs(after));
        ++count;
    }
    if (count > 0) {
        result.rms_before_db = std::sqrt(sum_before / static_cast<double>(count));
        result.rms_after_db = std::sqrt(sum_after / static_cast<double>(count));
    }

    const auto dip_count = static_cast<std::size_t>(std::count(roles.begin(), roles.end(), PointRole::dip));
    if (dip_count > 0) {
        result.notes.push_back(std::to_string(dip_count) + " measured points lie in deep narrow dips (more than " +
                               format_significant(dip_depth_db) +
                               " dB below the 1/1-octave mean) and were left uncorrected");
    }
}

// The whole fit: greedy placement (initial_bands null) or the given start (fit_from).
EqFitResult fit_request(const EqFitRequest& request, const std::vector<ParametricBand>* initial_bands, bool refine) {
    validate_request(request);

    EqFitResult result;
    const auto& limits = request.limits;
    const bool any_correcting_type =
        std::any_of(limits.allowed_types.begin(), limits.allowed_types.end(), is_correcting_type);
    // High- and low-pass filters are crossover filters: the fitter never places them. That is
    // worth a note only when the device offers nothing else.
    if (!any_correcting_type) {
        result.notes.push_back("the device offers only high_pass and low_pass filters, which are crossover filters; "
                               "no EQ band was fitted");
    }

    const auto measured_roles = point_roles(request, request.measured.freq_hz, measured_deviation_db(request));
    FitGrid grid = make_fit_grid(request, measured_roles);
    const double in_band_level_db = weighted_median_deviation_db(grid);
    set_outside_cut_room(grid, in_band_level_db);
    const bool has_correctable =
        std::find(grid.role.begin(), grid.role.end(), PointRole::correctable) != grid.role.end();
    const bool band_room = lowest_band_freq_hz(request) <= highest_band_freq_hz(request);

    if (!has_correctable) {
        result.notes.push_back("no correctable point: the measured response does not cover the band " +
                               format_significant(request.band_start_hz) + " Hz to " +
                               format_significant(request.band_end_hz) + " Hz below " +
                               format_significant(max_freq_fraction_of_sample_rate * limits.sample_rate_hz) + " Hz");
    } else if (!band_room) {
        result.notes.push_back("no band frequency is both inside the zone's band and inside the device's " +
                               format_significant(limits.min_freq_hz) + " Hz to " + format_significant(limits.max_freq_hz) +
                               " Hz");
    } else if (any_correcting_type && limits.max_bands > 0) {
        const auto check_freq_hz = check_frequencies(grid, request);
        // The plain start runs first. The edge-shelf start runs only when the plain one leaves
        // more than restart_above_rms_db, and the better of the two is kept (fewer bands on a tie).
        // The restart measures the cut room outside the band from the level the plain fit reached,
        // which is nearer the corrected in-band level than the median of the raw deviation.
        std::optional<EqFitResult> best;
        double level_db = in_band_level_db;
        if (initial_bands != nullptr) {
            // Started from given bands, the cut room outside the band is measured from the level
            // those bands reach, as the classic restart measures it from its first fit's level.
            // The raw median would let the check shrink a good start's bands.
            std::vector<ParametricBand> usable;
            for (const auto& band : *initial_bands) {
                if (std::isfinite(band.freq_hz) && std::isfinite(band.gain_db) && std::isfinite(band.q) &&
                    band.freq_hz > 0.0 && band.freq_hz < limits.sample_rate_hz / 2.0 && band.q > 0.0 &&
                    is_correcting_type(band.type)) {
                    usable.push_back(band);
                }
            }
            if (!usable.empty()) {
                level_db = best_offset_db(grid, eq_response_db(usable, grid.freq_hz, limits.sample_rate_hz));
                set_outside_cut_room(grid, level_db);
            }
        }
        const auto variants = initial_bands != nullptr
                                  ? std::vector<StartVariant>{StartVariant::given}
                                  : std::vector<StartVariant>{StartVariant::plain, StartVariant::edge_shelves};
        for (const StartVariant variant : variants) {
            if (best) {
                if (best->rms_after_db <= restart_above_rms_db) {
                    break;
                }
                level_db = best->level_offset_db;
                set_outside_cut_room(grid, level_db);
            }
            const auto problem = make_problem(request, grid);
            std::vector<std::string> fit_notes;
            FitState state = variant == StartVariant::given
                                 ? start_from_bands(problem, request, *initial_bands, refine, fit_notes)
                                 : fit_bands(problem, request, variant, fit_notes);

            // Rounding and the final check. The fit's penalties are soft, so its optimum may break
            // the boost cap or the rule outside the band by a little. The check then shrinks a
            // band, and the error grows by far more than the excess. So while the check has to
            // shrink, the continuous bands are refined again with the penalties
            // penalty_scale_growth times heavier, and the best checked result is kept.
            std::optional<EqFitResult> variant_best;
            double penalty_scale = 1.0;
            const int penalty_raises = refine ? max_penalty_raises : 0;
            for (int attempt = 0; attempt <= penalty_raises; ++attempt) {
                if (attempt > 0) {
                    penalty_scale *= penalty_scale_growth;
                    const auto stricter = make_problem(request, grid, penalty_scale);
                    stricter.refine(state, 0, initial_bands != nullptr ? given_start_iterations : final_iterations);
                }
                EqFitResult trial = result;
                trial.notes.insert(trial.notes.end(), fit_notes.begin(), fit_notes.end());
                trial.bands = rounded_bands(state, request);
                const int shrinks = enforce_eq_limits(trial.bands, request, check_freq_hz, level_db);
                if (shrinks > 0) {
                    trial.notes.push_back("the final check reduced band gains " + std::to_string(shrinks) +
                                          (shrinks == 1 ? " time" : " times") + " to keep the boost cap and the tolerances outside the band");
                } else if (shrinks < 0) {
                    trial.notes.push_back("the EQ still exceeds the boost cap or the tolerances outside the band "
                                          "after the final check; inspect the bands before pushing them");
                }
                fill_figures(trial, request, grid, measured_roles);
                if (!variant_best || trial.rms_after_db < variant_best->rms_after_db) {
                    variant_best = std::move(trial);
                }
                if (shrinks == 0) {
                    break;
                }
            }
            EqFitResult trial = std::move(*variant_best);
            const bool better = !best || trial.rms_after_db < best->rms_after_db - restart_min_gain_db ||
                                (trial.rms_after_db <= best->rms_after_db && trial.bands.size() < best->bands.size());
            if (better) {
                best = std::move(trial);
            }
        }
        return *best;
    }

    fill_figures(result, request, grid, measured_roles);
    return result;
}

}  // namespace

EqFitResult ClassicEqFitter::fit(const EqFitRequest& request) const {
    return fit_request(request, nullptr, true);
}

EqFitResult ClassicEqFitter::fit_from(const EqFitRequest& request, const std::vector<ParametricBand>& initial_bands,
                                      bool refine) const {
    return fit_request(request, &initial_bands, refine);
}

}  // namespace linetune::correction
