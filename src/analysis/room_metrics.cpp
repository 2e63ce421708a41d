#include "linetune/analysis/room_metrics.hpp"

#include "linetune/analysis/octave_filter.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace linetune::analysis {
namespace {

// Lundeby's constants. Lundeby et al. give a range for each one (in brackets), and a second
// implementation must copy the value chosen here.
//
// First smoothing interval [10, 50] ms. Shorter intervals leave the noise's own fluctuation in
// the envelope; longer ones blur decays shorter than a few intervals.
constexpr double initial_interval_s = 0.010;
// The first noise estimate averages the last 10 % of the response, and every later estimate
// averages at least that much.
constexpr double noise_tail_fraction = 0.1;
// Every decay regression ends this far above the noise level [5, 10] dB, where the noise
// still adds under 0.5 dB to the envelope.
constexpr double regression_end_above_noise_db = 10.0;
// Dynamic range of the late decay regression [10, 20] dB. A smaller range lets the noise's
// fluctuation tilt the slope.
constexpr double late_regression_range_db = 20.0;
// Smoothing intervals per 10 dB of decay once the slope is known [3, 10].
constexpr double intervals_per_10_db = 5.0;
// The noise is averaged from the time the fitted decay has fallen this far below the
// crosspoint [5, 10] dB, so that the decay no longer adds to it.
constexpr double noise_start_after_crosspoint_db = 10.0;
// The iteration stops when the crosspoint moves by less than one smoothing interval, the time
// resolution of the envelope. A tighter bound makes real responses oscillate by a fraction of an
// interval between iterations. The iteration limit only stops a larger oscillation.
constexpr int max_iterations = 10;

// ISO 3382-1 evaluation ranges of the decay curve, in dB below its start.
constexpr double edt_upper_db = 0.0;
constexpr double edt_lower_db = -10.0;
constexpr double t20_upper_db = -5.0;
constexpr double t20_lower_db = -25.0;
constexpr double t30_upper_db = -5.0;
constexpr double t30_lower_db = -35.0;
// ISO 3382-1: the bottom of an evaluation range must lie at least 10 dB above the noise.
constexpr double noise_margin_db = 10.0;
// Below this |r| a decay is not a straight line (double slope, bent by noise or by the filter's
// own ringing), and the decay time is reported with a warning.
constexpr double min_correlation = 0.98;

// Early/late limits of clarity and definition (ISO 3382-1).
constexpr double c50_limit_s = 0.050;
constexpr double c80_limit_s = 0.080;

// Bands whose upper edge lies above this fraction of the sample rate are skipped, because the
// anti-aliasing filter of the recording may already cut there. The 0.45 is a margin, not a measurement.
constexpr double max_upper_edge_fraction_of_fs = 0.45;

/// Rounds a non-negative duration to whole samples.
std::size_t samples_from_s(double duration_s, double sample_rate_hz) {
    return static_cast<std::size_t>(std::lround(duration_s * sample_rate_hz));
}

void validate_inputs(std::size_t sample_count, double sample_rate_hz, std::size_t start_sample) {
    if (!std::isfinite(sample_rate_hz) || sample_rate_hz <= 0.0) {
        throw Error("room metrics: sample rate " + format_fixed(sample_rate_hz, 1) +
                    " Hz is invalid: it must be positive");
    }
    if (start_sample >= sample_count) {
        throw Error("room metrics: start sample " + std::to_string(start_sample) +
                    " is not inside the impulse response (" + std::to_string(sample_count) +
                    " samples): pass the first sample within 20 dB of the peak");
    }
}

/// Least-squares line y = intercept + slope · x and the correlation coefficient r.
struct LineFit {
    double slope = 0.0;
    double intercept = 0.0;
    double correlation = 0.0;
};

/// Fits a line through y[i] at x = x0 + i · dx (needs at least 2 points). Sums are taken about
/// the means, so half a million points of a decay curve keep full precision.
LineFit fit_uniform_line(std::span<const double> y, double x0, double dx) {
    const double count = static_cast<double>(y.size());
    const double mean_index = 0.5 * (count - 1.0);
    const double mean_y = std::accumulate(y.begin(), y.end(), 0.0) / count;

    double sum_xy = 0.0;
    double sum_yy = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double dy = y[i] - mean_y;
        sum_xy += (static_cast<double>(i) - mean_index) * dy;
        sum_yy += dy * dy;
    }
    // Σ (i − mean)² over i = 0 … m − 1 is m(m² − 1)/12.
    const double sum_xx = count * (count * count - 1.0) / 12.0;

    LineFit fit;
    fit.slope = sum_xy / sum_xx / dx;
    fit.intercept = mean_y - fit.slope * (x0 + mean_index * dx);
    fit.correlation = sum_yy > 0.0 ? sum_xy / std::sqrt(sum_xx * sum_yy) : 0.0;
    return fit;
}

/// Time of the centre of interval k, (k · length + (length − 1)/2) / fs, with length · fs = interval_s.
double interval_center_s(std::size_t k, double interval_s, double sample_rate_hz) {
    return (static_cast<double>(k) + 0.5) * interval_s - 0.5 / sample_rate_hz;
}

/// Mean power of consecutive intervals in dB; a partial last interval is dropped.
std::vector<double> interval_levels_db(std::span<const double> energy, std::size_t interval_samples) {
    std::vector<double> levels(energy.size() / interval_samples);
    for (std::size_t k = 0; k < levels.size(); ++k) {
        const auto interval = energy.subspan(k * interval_samples, interval_samples);
        const double sum = std::accumulate(interval.begin(), interval.end(), 0.0);
        levels[k] = db_from_power(sum / static_cast<double>(interval_samples));
    }
    return levels;
}

double mean_power(std::span<const double> energy) {
    return std::accumulate(energy.begin(), energy.end(), 0.0) / static_cast<double>(energy.size());
}

/// First index at or after `from` whose level lies below `level_db`, or levels.size().
std::size_t first_below(const std::vector<double>& levels, std::size_t from, double level_db) {
    for (std::size_t k = from; k < levels.size(); ++k) {
        if (levels[k] < level_db) {
            return k;
        }
    }
    return levels.size();
}

/// Lundeby's iteration on the energy from the start sample on (times relative to the start).
NoiseEstimate lundeby_from_start(std::span<const double> energy, double sample_rate_hz) {
    NoiseEstimate estimate;
    estimate.crosspoint_sample = energy.size();
    const double duration_s = static_cast<double>(energy.size()) / sample_rate_hz;
    const auto tail_start = static_cast<std::size_t>(std::floor((1.0 - noise_tail_fraction) * energy.size()));

    // Steps 1 and 2: smooth with the initial interval, and take the noise from the last 10 %.
    std::size_t interval_samples = std::max<std::size_t>(1, samples_from_s(initial_interval_s, sample_rate_hz));
    std::vector<double> levels = interval_levels_db(energy, interval_samples);
    estimate.noise_power = mean_power(energy.subspan(tail_start));
    if (levels.size() < 3) {
        return estimate;  // under 3 intervals (30 ms): too short to see a decay
    }

    // Step 3: regression from the envelope's peak to 10 dB above the noise.
    double noise_db = db_from_power(estimate.noise_power);
    const auto peak = static_cast<std::size_t>(std::max_element(levels.begin(), levels.end()) - levels.begin());
    const std::size_t stop = first_below(levels, peak, noise_db + regression_end_above_noise_db);
    if (stop < peak + 2) {
        return estimate;  // the peak is already within 10 dB of the noise, so there is no decay to fit
    }
    auto interval_s = static_cast<double>(interval_samples) / sample_rate_hz;
    LineFit fit = fit_uniform_line(std::span(levels).subspan(peak, stop - peak),
                                   interval_center_s(peak, interval_s, sample_rate_hz), interval_s);
    if (fit.slope >= 0.0) {
        return estimate;
    }

    // Step 4: preliminary crosspoint, where the fitted line meets the noise level.
    double crosspoint_s = (noise_db - fit.intercept) / fit.slope;

    // Steps 5 to 9, repeated until the crosspoint settles.
    for (int iteration = 0; iteration < max_iterations; ++iteration) {
        const double decay_rate_db_per_s = -fit.slope;

        // Steps 5 and 6: new interval length from the slope, then smooth again.
        interval_s = 10.0 / decay_rate_db_per_s / intervals_per_10_db;
        const std::size_t max_interval_samples = energy.size() / 3;
        interval_samples =
            std::clamp<std::size_t>(samples_from_s(interval_s, sample_rate_hz), 1, max_interval_samples);
        interval_s = static_cast<double>(interval_samples) / sample_rate_hz;
        levels = interval_levels_db(energy, interval_samples);

        // Step 7: noise from 10 dB of decay past the crosspoint, but over at least the last 10 %.
        const double noise_start_s = crosspoint_s + noise_start_after_crosspoint_db / decay_rate_db_per_s;
        const auto noise_start = std::min(
            tail_start, static_cast<std::size_t>(std::max(0.0, std::floor(noise_start_s * sample_rate_hz))));
        estimate.noise_power = mean_power(energy.subspan(noise_start));
        noise_db = db_from_power(estimate.noise_power);

        // Step 8: late decay from 30 dB to 10 dB above the noise (from the peak where the
        // whole decay is shorter).
        const std::size_t new_peak =
            static_cast<std::size_t>(std::max_element(levels.begin(), levels.end()) - levels.begin());
        const std::size_t first = first_below(
            levels, new_peak, noise_db + regression_end_above_noise_db + late_regression_range_db);
        const std::size_t last = first_below(levels, first, noise_db + regression_end_above_noise_db);
        if (last < first + 2) {
            break;  // under 2 intervals in the range, so the previous fit stays
        }
        const double first_center_s = interval_center_s(first, interval_s, sample_rate_hz);
        const LineFit late_fit =
            fit_uniform_line(std::span(levels).subspan(first, last - first), first_center_s, interval_s);
        if (late_fit.slope >= 0.0) {
            break;
        }
        fit = late_fit;

        // Step 9: new crosspoint.
        const double new_crosspoint_s = (noise_db - fit.intercept) / fit.slope;
        const bool settled = std::fabs(new_crosspoint_s - crosspoint_s) < interval_s;
        crosspoint_s = new_crosspoint_s;
        if (settled) {
            estimate.converged = true;
            break;
        }
    }

    // A crosspoint past the end means the decay never reached the noise: truncate at the end and
    // let the compensation extrapolate the fitted decay from there.
    crosspoint_s = std::clamp(crosspoint_s, 0.0, duration_s);
    estimate.crosspoint_sample = std::min(energy.size(), samples_from_s(crosspoint_s, sample_rate_hz));
    estimate.decay_rate_db_per_s = -fit.slope;
    estimate.crosspoint_power = power_from_db(fit.intercept + fit.slope * crosspoint_s);
    return estimate;
}

/// Energy of the fitted exponential decay from the crosspoint to infinity, in squared samples:
/// Σ_{n ≥ 0} P_c · q^n = P_c / (1 − q) with q = 10^(−rate / (10 · fs)) per sample
/// (Lundeby et al.'s compensation for the truncation).
double compensation_energy(const NoiseEstimate& noise, double sample_rate_hz) {
    if (noise.decay_rate_db_per_s <= 0.0) {
        return 0.0;
    }
    const double log_q = -noise.decay_rate_db_per_s * std::log(10.0) / (10.0 * sample_rate_hz);
    return noise.crosspoint_power / -std::expm1(log_q);
}

/// The noise-compensated backward integral of one response from its start sample.
struct DecayCurve {
    NoiseEstimate noise;
    std::vector<double> remaining_energy;  ///< Σ_{k ≥ n} h²(k) up to the crosspoint, plus the compensation
    std::vector<double> level_db;          ///< remaining_energy relative to its first value, in dB
    double compensation = 0.0;             ///< energy after the crosspoint from the fitted decay
    double total_energy = 0.0;             ///< remaining energy at the start sample
    std::size_t start_sample = 0;

    /// Energy from `offset` samples after the start to infinity, by the same model as the curve.
    [[nodiscard]] double energy_after(std::size_t offset, double sample_rate_hz) const {
        if (offset < remaining_energy.size()) {
            return remaining_energy[offset];
        }
        if (noise.decay_rate_db_per_s <= 0.0) {
            return 0.0;
        }
        // Past the crosspoint: the fitted decay, q^(samples past the crosspoint) of the compensation.
        const double samples_past = static_cast<double>(offset - remaining_energy.size());
        return compensation * power_from_db(-noise.decay_rate_db_per_s * samples_past / sample_rate_hz);
    }
};

// Schroeder's backward integration (M. R. Schroeder, "New method of measuring reverberation
// time", J. Acoust. Soc. Am. 37 (1965)), truncated at Lundeby's crosspoint t_c and compensated
// for the energy that the truncation drops:
//
//   E(t) = ∫_t^{t_c} h²(τ) dτ + C,   L(t) = 10·log10(E(t) / E(t_start)) dB,
//
// with C the energy of the fitted decay after t_c (compensation_energy). Noise before t_c stays in.
DecayCurve integrate_decay(std::span<const double> band_ir, double sample_rate_hz, std::size_t start_sample) {
    std::vector<double> squared(band_ir.size());
    std::transform(band_ir.begin(), band_ir.end(), squared.begin(), [](double x) { return x * x; });

    DecayCurve curve;
    curve.start_sample = start_sample;
    curve.noise = estimate_noise_lundeby(squared, sample_rate_hz, start_sample);
    curve.compensation = compensation_energy(curve.noise, sample_rate_hz);

    const std::size_t length = curve.noise.crosspoint_sample - start_sample;
    curve.remaining_energy.resize(length);
    double sum = curve.compensation;
    for (std::size_t i = length; i-- > 0;) {
        sum += squared[start_sample + i];
        curve.remaining_energy[i] = sum;
    }
    curve.total_energy = length > 0 ? curve.remaining_energy.front() : curve.compensation;

    curve.level_db.resize(length);
    if (curve.total_energy > 0.0) {
        for (std::size_t i = 0; i < length; ++i) {
            curve.level_db[i] = db_from_power(curve.remaining_energy[i] / curve.total_energy);
        }
    }
    return curve;
}

struct DecayTime {
    std::optional<double> time_s;
    std::optional<double> correlation;
};

// Decay time from the evaluation range [upper_db, lower_db] of the decay curve: the least-squares
// slope m (dB/s) through every sample in the range, extrapolated to 60 dB: T = −60 / m.
DecayTime evaluate_decay_time(const std::string& name, double upper_db, double lower_db,
                              const DecayCurve& curve, double decay_range_db, double sample_rate_hz,
                              std::vector<std::string>& warnings) {
    const double needed_db = -lower_db + noise_margin_db;
    if (decay_range_db < needed_db) {
        warnings.push_back(name + " not computed: decay range " + format_fixed(decay_range_db, 1) +
                           " dB is under the " + format_fixed(needed_db, 0) + " dB needed (" +
                           format_fixed(-lower_db, 0) + " dB + " + format_fixed(noise_margin_db, 0) +
                           " dB margin); lower the noise floor, for example with a louder or longer sweep");
        return {};
    }

    // The curve never rises, so both limits are found by bisection.
    const auto& levels = curve.level_db;
    const auto first = std::partition_point(levels.begin(), levels.end(), [&](double l) { return l > upper_db; });
    const auto end = std::partition_point(first, levels.end(), [&](double l) { return l >= lower_db; });
    if (end - first < 2) {
        warnings.push_back(name + " not computed: the decay from " + format_fixed(upper_db, 0) + " to " +
                           format_fixed(lower_db, 0) + " dB spans under 2 samples");
        return {};
    }

    const auto first_index = static_cast<std::size_t>(first - levels.begin());
    const LineFit fit = fit_uniform_line(std::span(first, end), static_cast<double>(first_index) / sample_rate_hz,
                                         1.0 / sample_rate_hz);
    DecayTime result;
    result.time_s = -60.0 / fit.slope;
    result.correlation = std::fabs(fit.correlation);
    if (*result.correlation < min_correlation) {
        warnings.push_back(name + " correlation |r| = " + format_fixed(*result.correlation, 3) + " is under " +
                           format_fixed(min_correlation, 2) +
                           ": the decay is not a straight line (double slope or noise), so " + name +
                           " is uncertain");
    }
    return result;
}

// Clarity and definition from the start sample t0 (ISO 3382-1):
//   C_te = 10·log10( ∫_{t0}^{t0+te} h² dt / ∫_{t0+te}^{∞} h² dt ) dB, te = 50 or 80 ms;
//   D50  = ∫_{t0}^{t0+50 ms} h² dt / ∫_{t0}^{∞} h² dt.
// The integrals to infinity use the decay curve's noise-compensated energy. When the decay meets
// the noise before te, the whole late part lies under the noise and would only be an
// extrapolation of the fitted decay, so the metric is not reported.
std::optional<double> late_energy(const DecayCurve& curve, const std::string& name, double limit_s,
                                  double sample_rate_hz, std::vector<std::string>& warnings) {
    const std::size_t limit = samples_from_s(limit_s, sample_rate_hz);
    const std::string limit_text = format_fixed(1000.0 * limit_s, 0) + " ms";
    if (curve.noise.decay_rate_db_per_s > 0.0 && limit >= curve.remaining_energy.size()) {
        const double crosspoint_ms = 1000.0 * static_cast<double>(curve.remaining_energy.size()) / sample_rate_hz;
        warnings.push_back(name + " not computed: the decay meets the noise " + format_fixed(crosspoint_ms, 0) +
                           " ms after the start, before the " + limit_text +
                           " limit, so the late energy is below the noise floor");
        return std::nullopt;
    }

    const double energy = curve.energy_after(limit, sample_rate_hz);
    if (energy <= 0.0) {
        warnings.push_back(name + " not computed: the response has no energy after " + limit_text);
        return std::nullopt;
    }
    return energy;
}

void compute_clarity(const DecayCurve& curve, double sample_rate_hz, BandMetrics& metrics) {
    const double total = curve.total_energy;
    if (const auto late = late_energy(curve, "C50 and D50", c50_limit_s, sample_rate_hz, metrics.warnings)) {
        metrics.c50_db = db_from_power((total - *late) / *late);
        metrics.d50 = (total - *late) / total;
    }
    if (const auto late = late_energy(curve, "C80", c80_limit_s, sample_rate_hz, metrics.warnings)) {
        metrics.c80_db = db_from_power((total - *late) / *late);
    }
}

std::string band_name(double center_hz) {
    return center_hz > 0.0 ? format_fixed(center_hz, 0) + " Hz band" : "broadband";
}

}  // namespace

// Lundeby, Vigran, Bietz and Vorländer, "Uncertainties of measurements in room acoustics",
// Acustica 81 (1995), on the squared response from the start sample:
//   1. average the power in 10 ms intervals (dB);
//   2. noise level = mean power of the last 10 % of the response;
//   3. regression from the envelope's peak to 10 dB above the noise;
//   4. crosspoint = where that line meets the noise level;
//   5. new interval length: 5 intervals per 10 dB of the fitted decay;
//   6. average the power in the new intervals;
//   7. noise = mean power from 10 dB of decay past the crosspoint (at most from 90 % of the response);
//   8. late decay regression from 30 dB to 10 dB above the noise;
//   9. new crosspoint; repeat 7–9 until it moves by less than one interval (at most 10 times).
// Trailing exact zeros (padding) are dropped first, so the noise comes from the recording.
NoiseEstimate estimate_noise_lundeby(std::span<const double> squared_ir, double sample_rate_hz,
                                     std::size_t start_sample) {
    validate_inputs(squared_ir.size(), sample_rate_hz, start_sample);

    std::size_t end = squared_ir.size();
    while (end > start_sample && squared_ir[end - 1] == 0.0) {
        --end;
    }
    if (end == start_sample) {
        NoiseEstimate silent;
        silent.crosspoint_sample = start_sample;
        return silent;
    }

    const auto energy = squared_ir.subspan(start_sample, end - start_sample);
    NoiseEstimate estimate = lundeby_from_start(energy, sample_rate_hz);
    estimate.crosspoint_sample += start_sample;
    return estimate;
}

std::vector<double> schroeder_decay_db(std::span<const double> band_ir, double sample_rate_hz,
                                       std::size_t start_sample) {
    validate_inputs(band_ir.size(), sample_rate_hz, start_sample);
    return integrate_decay(band_ir, sample_rate_hz, start_sample).level_db;
}

BandMetrics compute_band_metrics(std::span<const double> band_ir, double sample_rate_hz, std::size_t start_sample,
                                 double center_hz) {
    validate_inputs(band_ir.size(), sample_rate_hz, start_sample);

    BandMetrics metrics;
    metrics.center_hz = center_hz;
    const DecayCurve curve = integrate_decay(band_ir, sample_rate_hz, start_sample);
    if (curve.total_energy <= 0.0) {
        metrics.warnings.push_back("no metrics: the " + band_name(center_hz) +
                                   " is silent after the start sample");
        return metrics;
    }

    const auto tail = band_ir.subspan(start_sample);
    const double peak_amplitude = std::fabs(*std::max_element(
        tail.begin(), tail.end(), [](double a, double b) { return std::fabs(a) < std::fabs(b); }));
    metrics.noise_floor_db = db_from_power(curve.noise.noise_power / (peak_amplitude * peak_amplitude));
    compute_clarity(curve, sample_rate_hz, metrics);

    if (curve.noise.decay_rate_db_per_s <= 0.0) {
        metrics.warnings.push_back("EDT, T20 and T30 not computed: no decay above the noise was found in the " +
                                   band_name(center_hz) + " (Lundeby's regression found no falling slope)");
        return metrics;
    }
    if (!curve.noise.converged) {
        metrics.warnings.push_back("the noise estimate (Lundeby) did not settle within " +
                                   std::to_string(max_iterations) +
                                   " iterations, so the crosspoint and the decay range are uncertain");
    }
    metrics.decay_range_db = -db_from_power(curve.compensation / curve.total_energy);
    if (curve.compensation <= 0.0) {
        metrics.decay_range_db = curve.level_db.empty() ? 0.0 : -curve.level_db.back();
    }

    const auto edt = evaluate_decay_time("EDT", edt_upper_db, edt_lower_db, curve, metrics.decay_range_db,
                                         sample_rate_hz, metrics.warnings);
    const auto t20 = evaluate_decay_time("T20", t20_upper_db, t20_lower_db, curve, metrics.decay_range_db,
                                         sample_rate_hz, metrics.warnings);
    const auto t30 = evaluate_decay_time("T30", t30_upper_db, t30_lower_db, curve, metrics.decay_range_db,
                                         sample_rate_hz, metrics.warnings);
    metrics.edt_s = edt.time_s;
    metrics.edt_correlation = edt.correlation;
    metrics.t20_s = t20.time_s;
    metrics.t20_correlation = t20.correlation;
    metrics.t30_s = t30.time_s;
    metrics.t30_correlation = t30.correlation;
    return metrics;
}

RoomMetrics compute_room_metrics(std::span<const float> ir, double sample_rate_hz, std::size_t start_sample) {
    validate_inputs(ir.size(), sample_rate_hz, start_sample);

    RoomMetrics result;
    const std::vector<double> broadband(ir.begin(), ir.end());
    result.broadband = compute_band_metrics(broadband, sample_rate_hz, start_sample, 0.0);

    for (const double center_hz : octave_band_centers_hz()) {
        const double upper_edge_hz = octave_band_upper_edge_hz(center_hz);
        const double max_edge_hz = max_upper_edge_fraction_of_fs * sample_rate_hz;
        if (upper_edge_hz > max_edge_hz) {
            BandMetrics skipped;
            skipped.center_hz = center_hz;
            skipped.warnings.push_back("band not analysed: its upper edge " + format_fixed(upper_edge_hz, 0) +
                                       " Hz is above " + format_fixed(max_edge_hz, 0) + " Hz (0.45 × the " +
                                       format_fixed(sample_rate_hz, 0) +
                                       " Hz sample rate); measure at a higher sample rate to get this band");
            result.octave_bands.push_back(std::move(skipped));
            continue;
        }

        const OctaveBandFilter filter(center_hz, sample_rate_hz);
        const std::vector<double> band_ir = filter.process(ir);
        result.octave_bands.push_back(compute_band_metrics(band_ir, sample_rate_hz, start_sample, center_hz));
    }
    return result;
}

}  // namespace linetune::analysis

namespace linetune::analysis {
namespace {

// Direct sound window of octave_band_reverberant_field. It opens this long before the start
// sample, for the band filter's rise and a source's own pre-ringing. It stays open for the longer
// of a fixed time and a number of periods of the band centre, so that the octave filter's ringing
// (about 1/bandwidth, 1.4 periods for an octave) counts as direct sound and not as reverberation.
// NOTE: 2.5 ms and 3 periods are a choice, not a standard. At 63 Hz the window is 48 ms long and
// takes in early reflections, which raises that band's ratio.
constexpr double direct_lead_s = 0.001;
constexpr double direct_min_s = 0.0025;
constexpr double direct_periods = 3.0;
// The start sample: the first sample within 20 dB of the peak (ISO 3382-1, as compute_room_metrics' callers use it).
constexpr double start_below_peak_db = 20.0;

}  // namespace

std::vector<ReverberantBand> octave_band_reverberant_field(std::span<const float> ir, double sample_rate_hz) {
    std::vector<ReverberantBand> result;
    if (ir.empty() || !(sample_rate_hz > 0.0)) {
        return result;
    }
    double peak_power = 0.0;
    for (const float sample : ir) {
        peak_power = std::max(peak_power, static_cast<double>(sample) * sample);
    }
    if (peak_power <= 0.0) {
        return result;
    }
    const double start_power = peak_power * power_from_db(-start_below_peak_db);
    std::size_t start_sample = 0;
    while (static_cast<double>(ir[start_sample]) * ir[start_sample] < start_power) {
        ++start_sample;
    }

    for (const double center_hz : octave_band_centers_hz()) {
        if (octave_band_upper_edge_hz(center_hz) > max_upper_edge_fraction_of_fs * sample_rate_hz) {
            continue;
        }
        const OctaveBandFilter filter(center_hz, sample_rate_hz);
        const std::vector<double> band_ir = filter.process(ir);
        const BandMetrics metrics = compute_band_metrics(band_ir, sample_rate_hz, start_sample, center_hz);

        std::vector<double> squared(band_ir.size());
        for (std::size_t i = 0; i < band_ir.size(); ++i) {
            squared[i] = band_ir[i] * band_ir[i];
        }
        const NoiseEstimate noise = estimate_noise_lundeby(squared, sample_rate_hz, start_sample);
        const std::size_t lead = samples_from_s(direct_lead_s, sample_rate_hz);
        const std::size_t direct_begin = start_sample > lead ? start_sample - lead : 0;
        const std::size_t direct_end = std::min(
            squared.size(), start_sample + samples_from_s(std::max(direct_min_s, direct_periods / center_hz), sample_rate_hz));
        const std::size_t late_end = noise.crosspoint_sample > direct_end ? std::min(noise.crosspoint_sample, squared.size())
                                                                          : squared.size();
        double direct = 0.0;
        for (std::size_t i = direct_begin; i < direct_end; ++i) {
            direct += squared[i] - noise.noise_power;
        }
        double late = 0.0;
        for (std::size_t i = direct_end; i < late_end; ++i) {
            late += squared[i] - noise.noise_power;
        }
        if (!(direct > 0.0) || !(late > 0.0)) {
            continue;
        }
        ReverberantBand band;
        band.center_hz = center_hz;
        band.decay_time_s = metrics.t30_s;
        if (!band.decay_time_s) {
            band.decay_time_s = metrics.t20_s;
        }
        if (!band.decay_time_s) {
            band.decay_time_s = metrics.edt_s;
        }
        band.direct_to_reverberant_db = db_from_power(direct / late);
        result.push_back(band);
    }
    return result;
}

}  // namespace linetune::analysis
