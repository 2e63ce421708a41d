#include "linetune/correction/joint_fit.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <map>
#include <set>

// Joint fit of every zone's EQ on the summed response
// ---------------------------------------------------
// At mic m each zone z contributes a_z(f) = u_z(f) · A_z(f): A_z is its measured complex response
// with its delay and gain (timed_response.hpp), u_z = 10^(E_z/20) its EQ curve E_z in dB, taken
// as zero phase. The power of the sum, smoothed like the responses, is
//
//     P_m(f) = Σ_z Σ_z' u_z u_z' · Re(A_z A_z'*) · κ_zz'(f),      κ_zz = 1
//     κ_zz'(f) = exp(−(2πf·σ)²/2) · sinc(B(f)·Δ_zz')   where 2πf·σ ≤ φ_max, else 0
//
// The first factor is the expected value of e^(jωδ) for a Gaussian timing error δ of standard
// deviation σ between the two zones' measurements (drift between recordings taken minutes
// apart), so where 2πfσ is large the cross term averages away and P becomes the power sum
// Σ |a_z|². The timing error has two parts that add in variance:
//
//     σ² = σ_t² + (k·σ_T)² · (t_z² + t_z'²),      k = 1 / (2·(273.15 + T))  per °C
//
// σ_t is timing_spread_ms. The second part is temperature drift: the speed of sound goes with
// √(273.15 + T). A zone measured σ_T warmer therefore arrives earlier by k·σ_T of its travel
// time t_z at the mic (0.17 % per °C at 20 °C, 0.25 ms at 50 m), independently of the other
// zones. Where the phase spread 2πfσ exceeds max_phase_spread_rad, the sign of the cross term is
// unknown, because at π/2 one standard deviation reaches a quarter cycle. The expected value
// there is still 0.29 of the full term, but it is not trusted: the sum falls back to the power
// sum. This keeps the fit from chasing the tails of comb filters that the drift moved. The second factor of κ is
// the mean of the cross term's e^(j2πfΔ) over the 1/N-octave smoothing band
// B(f) = f·(2^(1/2N) − 2^(−1/2N)), Δ being the two zones' arrival difference at the mic, so a
// comb finer than the smoothing is averaged out as the measured sum would be. sinc(x) =
// sin(πx)/(πx). Above complex_sum_max_hz κ = 0 for z ≠ z'.
//
// The error at mic m and grid point f_i is r = √(w_m/W) · (10·log10 P_m(f_i) − T(f_i) − μ_m), with
// μ_m the mic's own level (a free parameter, so level is removed as in every residual here),
// w_m the mic's weight and W = Σ_m w_m·n_m (n_m judged points): the cost Σ r² is the weighted
// mean squared deviation in dB². Its derivative is simple: ∂(10·log10 P)/∂E_z = u_z (G u)_z / P,
// zone z's share of the summed power (G the matrix of the cross terms above).
//
// Each curve E_z is linear in log frequency between control points 1/3 octave apart, one of
// them on the coupling frequency. Below it, the control points of the zones of one hang are one
// shared parameter, so their curves are identical there. Outside a zone's band its control
// points are 0. Levenberg–Marquardt with bounds (each step clipped to [−max_cut, +max_boost])
// minimises the cost. A small ridge term (ridge_db2 below) keeps parameters that the data does
// not determine at 0.
//
// The independent fit is the same minimisation for one zone alone, judged at its own mics with
// its own weights: what fitting each zone on its own measurements does.

namespace linetune::correction {
namespace {

// Ridge penalty per parameter, in dB² per dB² of curve: 10⁻⁴ moves a well-determined curve by
// far less than 0.01 dB but stops a control point that no mic hears from drifting.
constexpr double ridge_db2 = 1e-4;
// Levenberg–Marquardt: start damping and the relative cost change that ends the iteration.
constexpr double initial_damping = 1e-3;
constexpr double converged_relative_change = 1e-7;
// 0 °C in kelvin, for the temperature drift of the speed of sound.
constexpr double celsius_to_kelvin = 273.15;

double sinc(double x) { return std::fabs(x) < 1e-12 ? 1.0 : std::sin(pi * x) / (pi * x); }

/// The mics' cross-term matrices on the grid and where each is judged.
struct MicProblem {
    std::string mic;
    double weight = 0.0;
    std::vector<std::size_t> zones;   ///< indices into the zone list
    std::vector<std::size_t> points;  ///< judged grid indices
    std::vector<double> cross;        ///< per grid point: zones.size()² entries of G, row-major
};

struct Problem {
    std::vector<double> grid_hz;
    std::vector<double> target_db;
    std::vector<MicProblem> mics;
};

struct CurveModel {
    std::vector<double> control_hz;
    std::vector<std::size_t> lower;   ///< per grid point: control index below
    std::vector<double> fraction;     ///< per grid point: interpolation weight of the control above
    std::vector<std::vector<long>> parameter;  ///< [zone][control]: parameter index, −1 for fixed 0
    std::vector<double> lowest_db, highest_db; ///< per parameter bounds
    std::size_t parameter_count = 0;
};

/// Standard deviation in seconds of the timing difference between two zones' measurements
/// whose arrivals at the mic are travel_a_s and travel_b_s.
double timing_spread_s(double travel_a_s, double travel_b_s, const JointFitOptions& options) {
    const double per_kelvin = 1.0 / (2.0 * (celsius_to_kelvin + options.temperature_c));
    const double fixed_s = options.timing_spread_ms / 1000.0;
    const double drift_scale = per_kelvin * options.temperature_spread_c;
    return std::sqrt(fixed_s * fixed_s +
                     drift_scale * drift_scale * (travel_a_s * travel_a_s + travel_b_s * travel_b_s));
}

double kappa(double freq_hz, double delta_s, double spread_s, const JointFitOptions& options) {
    if (options.complex_sum_max_hz > 0.0 && freq_hz > options.complex_sum_max_hz) {
        return 0.0;
    }
    const double phase_spread_rad = 2.0 * pi * freq_hz * spread_s;
    if (phase_spread_rad > options.max_phase_spread_rad) {
        return 0.0;
    }
    const double drift = std::exp(-0.5 * phase_spread_rad * phase_spread_rad);
    const double half = 0.5 / options.smoothing_fraction;
    const double bandwidth_hz = freq_hz * (std::exp2(half) - std::exp2(-half));
    return drift * sinc(bandwidth_hz * delta_s);
}

void validate(std::span<const JointFitZone> zones, std::span<const TimedResponse> responses,
              const JointFitOptions& options) {
    require(options.coupling_below_hz >= 0.0 && options.timing_spread_ms >= 0.0 && options.complex_sum_max_hz >= 0.0 &&
                options.temperature_spread_c >= 0.0 && options.temperature_c > -celsius_to_kelvin &&
                options.max_phase_spread_rad > 0.0 &&
                options.zone_alone_weight >= 0.0 &&
                options.smoothing_fraction > 0.0 && options.points_per_octave > 0.0 &&
                options.control_points_per_octave > 0.0,
            "joint fit settings are invalid: frequencies, the timing and temperature spreads and the zone-alone weight "
            "must be >= 0, the phase-spread limit and resolutions above 0, the temperature above absolute zero",
            ErrorKind::configuration);
    std::set<std::string> names;
    for (const auto& zone : zones) {
        require(names.insert(zone.zone).second, "zone '" + zone.zone + "' is given twice to the joint fit",
                ErrorKind::configuration);
        require(zone.band_low_hz > 0.0 && zone.band_high_hz > zone.band_low_hz,
                "zone '" + zone.zone + "': band " + format_fixed(zone.band_low_hz, 1) + " to " +
                    format_fixed(zone.band_high_hz, 1) + " Hz is invalid; it must rise from above 0 Hz",
                ErrorKind::configuration);
    }
    for (const auto& timed : responses) {
        require(names.contains(timed.zone),
                "a response of zone '" + timed.zone + "' at mic '" + timed.mic + "' belongs to no zone of the joint fit");
    }
}

std::vector<double> grid_of(std::span<const JointFitZone> zones, const JointFitOptions& options) {
    double low_hz = std::numeric_limits<double>::infinity();
    double high_hz = 0.0;
    for (const auto& zone : zones) {
        low_hz = std::min(low_hz, zone.band_low_hz);
        high_hz = std::max(high_hz, zone.band_high_hz);
    }
    return log_frequency_grid(low_hz, high_hz, options.points_per_octave);
}

/// Builds the cross-term matrices of every mic that hears at least one of `members`. A mic is
/// judged on the bands of the member zones it weights above 0.
Problem build_problem(std::span<const JointFitZone> zones, const std::vector<std::size_t>& members,
                      std::span<const TimedResponse> responses, const FrequencyResponse& target,
                      const JointFitOptions& options, const std::vector<double>& grid_hz) {
    Problem problem;
    problem.grid_hz = grid_hz;
    for (const double f : grid_hz) {
        problem.target_db.push_back(interpolate_magnitude_db(target, f));
    }
    std::map<std::string, std::vector<const TimedResponse*>> by_mic;
    std::vector<std::string> mic_order;
    for (const auto& timed : responses) {
        if (timed.response.freq_hz.empty()) {
            continue;
        }
        if (!by_mic.contains(timed.mic)) {
            mic_order.push_back(timed.mic);
        }
        by_mic[timed.mic].push_back(&timed);
    }

    for (const auto& mic : mic_order) {
        MicProblem mic_problem;
        mic_problem.mic = mic;
        std::vector<const TimedResponse*> heard;
        for (const TimedResponse* timed : by_mic[mic]) {
            const auto zone = std::find_if(members.begin(), members.end(),
                                           [&](std::size_t z) { return zones[z].zone == timed->zone; });
            if (zone == members.end()) {
                continue;
            }
            mic_problem.zones.push_back(*zone);
            heard.push_back(timed);
            mic_problem.weight = std::max(mic_problem.weight, timed->weight);
        }
        if (mic_problem.weight <= 0.0) {
            continue;
        }
        for (std::size_t i = 0; i < grid_hz.size(); ++i) {
            for (std::size_t a = 0; a < heard.size(); ++a) {
                const auto& zone = zones[mic_problem.zones[a]];
                if (heard[a]->weight > 0.0 && grid_hz[i] >= zone.band_low_hz && grid_hz[i] <= zone.band_high_hz) {
                    mic_problem.points.push_back(i);
                    break;
                }
            }
        }

        const std::size_t n = heard.size();
        std::vector<std::vector<std::complex<double>>> spectra(n);
        std::vector<double> arrival_s(n);
        for (std::size_t a = 0; a < n; ++a) {
            const auto& zone = zones[mic_problem.zones[a]];
            const double gain = amplitude_from_db(zone.gain_db);
            for (const double f : grid_hz) {
                spectra[a].push_back(gain * complex_response_at(*heard[a], f, zone.delay_ms));
            }
            arrival_s[a] = (heard[a]->arrival_ms + zone.delay_ms) / 1000.0;
        }
        // Travel times for the temperature drift: the arrivals as measured, which carry the
        // latency of each zone's processing too (a few ms, so the drift is overstated slightly).
        std::vector<double> spread_s(n * n, 0.0);
        for (std::size_t a = 0; a < n; ++a) {
            for (std::size_t b = 0; b < n; ++b) {
                spread_s[a * n + b] = timing_spread_s(std::max(heard[a]->arrival_ms, 0.0) / 1000.0,
                                                      std::max(heard[b]->arrival_ms, 0.0) / 1000.0, options);
            }
        }
        mic_problem.cross.resize(grid_hz.size() * n * n);
        for (std::size_t i = 0; i < grid_hz.size(); ++i) {
            for (std::size_t a = 0; a < n; ++a) {
                for (std::size_t b = a; b < n; ++b) {
                    double value = std::real(spectra[a][i] * std::conj(spectra[b][i]));
                    if (a != b) {
                        value *= kappa(grid_hz[i], arrival_s[a] - arrival_s[b], spread_s[a * n + b], options);
                    }
                    mic_problem.cross[(i * n + a) * n + b] = value;
                    mic_problem.cross[(i * n + b) * n + a] = value;
                }
            }
        }
        if (!mic_problem.points.empty()) {
            problem.mics.push_back(std::move(mic_problem));
        }
    }
    return problem;
}

CurveModel curve_model(std::span<const JointFitZone> zones, const std::vector<std::size_t>& members,
                       const std::vector<double>& grid_hz, const JointFitOptions& options) {
    CurveModel model;
    const double anchor_hz = options.coupling_below_hz > 0.0 ? options.coupling_below_hz : 1000.0;
    const double step = 1.0 / options.control_points_per_octave;
    const auto first = static_cast<long>(std::floor(std::log2(grid_hz.front() / anchor_hz) / step));
    const auto last = static_cast<long>(std::ceil(std::log2(grid_hz.back() / anchor_hz) / step));
    for (long k = first; k <= last; ++k) {
        model.control_hz.push_back(anchor_hz * std::exp2(static_cast<double>(k) * step));
    }
    for (const double f : grid_hz) {
        std::size_t k = 0;
        while (k + 2 < model.control_hz.size() && model.control_hz[k + 1] <= f) {
            ++k;
        }
        model.lower.push_back(k);
        const double fraction = std::log(f / model.control_hz[k]) / std::log(model.control_hz[k + 1] / model.control_hz[k]);
        model.fraction.push_back(std::clamp(fraction, 0.0, 1.0));
    }

    model.parameter.assign(zones.size(), std::vector<long>(model.control_hz.size(), -1));
    const auto in_band = [&](std::size_t z, double f) {
        return f >= zones[z].band_low_hz * (1.0 - 1e-9) && f <= zones[z].band_high_hz * (1.0 + 1e-9);
    };
    for (std::size_t k = 0; k < model.control_hz.size(); ++k) {
        const double f = model.control_hz[k];
        const bool coupled = options.coupling_below_hz > 0.0 && f <= anchor_hz * (1.0 + 1e-9);
        std::map<std::string, long> shared;  // hang to parameter, below the coupling frequency
        std::set<std::string> blocked;       // hangs with a zone for which this point is outside its band
        if (coupled) {
            for (const std::size_t z : members) {
                if (!zones[z].hang.empty() && !in_band(z, f)) {
                    blocked.insert(zones[z].hang);
                }
            }
        }
        for (const std::size_t z : members) {
            const bool tied = coupled && !zones[z].hang.empty();
            if (!in_band(z, f) || (tied && blocked.contains(zones[z].hang))) {
                continue;
            }
            if (tied && shared.contains(zones[z].hang)) {
                const long index = shared[zones[z].hang];
                model.parameter[z][k] = index;
                model.lowest_db[static_cast<std::size_t>(index)] =
                    std::max(model.lowest_db[static_cast<std::size_t>(index)], -zones[z].max_cut_db);
                model.highest_db[static_cast<std::size_t>(index)] =
                    std::min(model.highest_db[static_cast<std::size_t>(index)], zones[z].max_boost_db);
                continue;
            }
            const auto index = static_cast<long>(model.parameter_count++);
            model.parameter[z][k] = index;
            model.lowest_db.push_back(-zones[z].max_cut_db);
            model.highest_db.push_back(zones[z].max_boost_db);
            if (tied) {
                shared[zones[z].hang] = index;
            }
        }
    }
    return model;
}

/// E_z on the grid for parameters θ.
std::vector<std::vector<double>> curves_of(const CurveModel& model, const std::vector<double>& theta,
                                           std::size_t zone_count, std::size_t grid_size) {
    std::vector<std::vector<double>> curves(zone_count, std::vector<double>(grid_size, 0.0));
    for (std::size_t z = 0; z < zone_count; ++z) {
        for (std::size_t i = 0; i < grid_size; ++i) {
            const std::size_t k = model.lower[i];
            const long below = model.parameter[z][k];
            const long above = model.parameter[z][k + 1];
            const double w = model.fraction[i];
            curves[z][i] = (below >= 0 ? (1.0 - w) * theta[static_cast<std::size_t>(below)] : 0.0) +
                           (above >= 0 ? w * theta[static_cast<std::size_t>(above)] : 0.0);
        }
    }
    return curves;
}

/// Returns 10·log10 P_m at grid point i and stores each heard zone's share u_z (G u)_z / P in
/// `share`. `amplitude` is scratch space, so that the hot loop does not allocate.
double summed_level_db(const MicProblem& mic, std::size_t i, const std::vector<std::vector<double>>& curves,
                       std::vector<double>& share, std::vector<double>& amplitude) {
    const std::size_t n = mic.zones.size();
    share.resize(n);
    amplitude.resize(n);
    for (std::size_t a = 0; a < n; ++a) {
        amplitude[a] = amplitude_from_db(curves[mic.zones[a]][i]);
    }
    const double* cross = &mic.cross[i * n * n];
    double power = 0.0;
    for (std::size_t a = 0; a < n; ++a) {
        double row = 0.0;
        for (std::size_t b = 0; b < n; ++b) {
            row += cross[a * n + b] * amplitude[b];
        }
        share[a] = amplitude[a] * row;
        power += share[a];
    }
    power = std::max(power, silence_floor_linear * silence_floor_linear);
    for (double& value : share) {
        value /= power;
    }
    return db_from_power(power);
}

double rms_about_mean(const std::vector<double>& values) {
    if (values.empty()) {
        return 0.0;
    }
    double mean = 0.0;
    for (const double v : values) {
        mean += v;
    }
    mean /= static_cast<double>(values.size());
    double sum = 0.0;
    for (const double v : values) {
        sum += (v - mean) * (v - mean);
    }
    return std::sqrt(sum / static_cast<double>(values.size()));
}

double mic_rms_db(const Problem& problem, const MicProblem& mic, const std::vector<std::vector<double>>& curves) {
    std::vector<double> deviation;
    std::vector<double> share;
    std::vector<double> amplitude;
    for (const std::size_t i : mic.points) {
        deviation.push_back(summed_level_db(mic, i, curves, share, amplitude) - problem.target_db[i]);
    }
    return rms_about_mean(deviation);
}

double total_weight(const Problem& problem) {
    double total = 0.0;
    for (const auto& mic : problem.mics) {
        total += mic.weight * static_cast<double>(mic.points.size());
    }
    return total;
}

/// Cost Σ r² (weighted mean squared deviation, levels μ at their optimum) plus the ridge term.
double cost_of(const Problem& problem, const CurveModel& model, const std::vector<double>& theta, std::size_t zone_count) {
    const auto curves = curves_of(model, theta, zone_count, problem.grid_hz.size());
    const double total = total_weight(problem);
    double cost = 0.0;
    for (const auto& mic : problem.mics) {
        const double rms = mic_rms_db(problem, mic, curves);
        cost += mic.weight * static_cast<double>(mic.points.size()) * rms * rms / total;
    }
    for (const double value : theta) {
        cost += ridge_db2 * value * value;
    }
    return cost;
}

/// Minimises the cost over θ (curve parameters) and μ (mic levels) by bounded Levenberg–Marquardt.
std::vector<double> solve(const Problem& problem, const CurveModel& model, std::size_t zone_count,
                          const JointFitOptions& options, std::size_t& iterations) {
    const std::size_t p = model.parameter_count;
    const std::size_t unknowns = p + problem.mics.size();
    std::vector<double> theta(p, 0.0);
    if (p == 0 || problem.mics.empty()) {
        return theta;
    }
    const double total = total_weight(problem);
    double damping = initial_damping;
    double cost = cost_of(problem, model, theta, zone_count);
    std::vector<double> amplitude;
    std::vector<std::vector<double>> shares;
    std::vector<std::pair<std::size_t, double>> row;

    for (iterations = 0; iterations < options.max_iterations; ++iterations) {
        const auto curves = curves_of(model, theta, zone_count, problem.grid_hz.size());
        Eigen::MatrixXd normal = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(unknowns), static_cast<Eigen::Index>(unknowns));
        Eigen::VectorXd gradient = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(unknowns));
        for (std::size_t m = 0; m < problem.mics.size(); ++m) {
            const auto& mic = problem.mics[m];
            const double scale = std::sqrt(mic.weight / total);
            std::vector<double> levels;
            shares.resize(mic.points.size());
            for (std::size_t j = 0; j < mic.points.size(); ++j) {
                const std::size_t i = mic.points[j];
                levels.push_back(summed_level_db(mic, i, curves, shares[j], amplitude) - problem.target_db[i]);
            }
            double mean = 0.0;
            for (const double level : levels) {
                mean += level;
            }
            mean /= static_cast<double>(levels.size());

            for (std::size_t j = 0; j < mic.points.size(); ++j) {
                const std::size_t i = mic.points[j];
                const std::vector<double>& share = shares[j];
                // Sparse row of the Jacobian: two control points per heard zone, and the mic level.
                row.clear();
                const std::size_t k = model.lower[i];
                const double w = model.fraction[i];
                for (std::size_t a = 0; a < mic.zones.size(); ++a) {
                    const long below = model.parameter[mic.zones[a]][k];
                    const long above = model.parameter[mic.zones[a]][k + 1];
                    if (below >= 0) {
                        row.emplace_back(static_cast<std::size_t>(below), scale * share[a] * (1.0 - w));
                    }
                    if (above >= 0) {
                        row.emplace_back(static_cast<std::size_t>(above), scale * share[a] * w);
                    }
                }
                row.emplace_back(p + m, -scale);
                const double residual = scale * (levels[j] - mean);
                for (const auto& [r, value_r] : row) {
                    gradient(static_cast<Eigen::Index>(r)) += value_r * residual;
                    for (const auto& [c, value_c] : row) {
                        normal(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) += value_r * value_c;
                    }
                }
            }
        }
        for (std::size_t q = 0; q < p; ++q) {
            normal(static_cast<Eigen::Index>(q), static_cast<Eigen::Index>(q)) += ridge_db2;
            gradient(static_cast<Eigen::Index>(q)) += ridge_db2 * theta[q];
        }

        bool improved = false;
        while (damping < 1e8) {
            Eigen::MatrixXd damped = normal;
            for (Eigen::Index q = 0; q < damped.rows(); ++q) {
                damped(q, q) += damping * std::max(normal(q, q), 1e-12);
            }
            const Eigen::VectorXd step = damped.ldlt().solve(-gradient);
            std::vector<double> trial = theta;
            for (std::size_t q = 0; q < p; ++q) {
                trial[q] = std::clamp(theta[q] + step(static_cast<Eigen::Index>(q)), model.lowest_db[q], model.highest_db[q]);
            }
            const double trial_cost = cost_of(problem, model, trial, zone_count);
            if (trial_cost < cost) {
                const double change = (cost - trial_cost) / std::max(cost, 1e-12);
                theta = trial;
                cost = trial_cost;
                damping = std::max(damping / 3.0, 1e-9);
                improved = change > converged_relative_change;
                break;
            }
            damping *= 4.0;
        }
        if (!improved) {
            break;
        }
    }
    return theta;
}

std::vector<ZoneCurve> named_curves(std::span<const JointFitZone> zones, std::vector<std::vector<double>> curves) {
    std::vector<ZoneCurve> named;
    for (std::size_t z = 0; z < zones.size(); ++z) {
        named.push_back({zones[z].zone, std::move(curves[z])});
    }
    return named;
}

}  // namespace

JointFitResult fit_jointly(std::span<const JointFitZone> zones, std::span<const TimedResponse> responses,
                           const FrequencyResponse& target, const JointFitOptions& options) {
    validate(zones, responses, options);
    require(!zones.empty(), "the joint fit has no zones; give it every zone to fit", ErrorKind::configuration);
    JointFitResult result;
    result.freq_hz = grid_of(zones, options);
    const std::size_t grid_size = result.freq_hz.size();

    std::vector<std::size_t> all(zones.size());
    for (std::size_t z = 0; z < zones.size(); ++z) {
        all[z] = z;
    }
    const Problem joint = build_problem(zones, all, responses, target, options, result.freq_hz);
    require(!joint.mics.empty(), "no microphone judges any zone of the joint fit (all weights are 0)");
    const CurveModel joint_model = curve_model(zones, all, result.freq_hz, options);
    // The problem that is solved: the summed response at every mic and, with a zone-alone
    // weight, each zone alone at its mics. The results below judge the summed response only.
    Problem solved = joint;
    if (options.zone_alone_weight > 0.0) {
        for (std::size_t z = 0; z < zones.size(); ++z) {
            Problem alone = build_problem(zones, {z}, responses, target, options, result.freq_hz);
            for (auto& mic : alone.mics) {
                mic.weight *= options.zone_alone_weight;
                solved.mics.push_back(std::move(mic));
            }
        }
    }
    const auto joint_theta = solve(solved, joint_model, zones.size(), options, result.iterations);
    result.joint = named_curves(zones, curves_of(joint_model, joint_theta, zones.size(), grid_size));

    // Independent: each zone alone at the mics that weight it, as its own fit would see it.
    std::vector<std::vector<double>> independent(zones.size(), std::vector<double>(grid_size, 0.0));
    for (std::size_t z = 0; z < zones.size(); ++z) {
        const Problem alone = build_problem(zones, {z}, responses, target, options, result.freq_hz);
        const CurveModel model = curve_model(zones, {z}, result.freq_hz, options);
        std::size_t unused_iterations = 0;
        const auto theta = solve(alone, model, zones.size(), options, unused_iterations);
        independent[z] = curves_of(model, theta, zones.size(), grid_size)[z];
    }
    result.independent = named_curves(zones, independent);

    const std::vector<std::vector<double>> flat(zones.size(), std::vector<double>(grid_size, 0.0));
    const auto joint_curves = curves_of(joint_model, joint_theta, zones.size(), grid_size);
    double weight_sum = 0.0;
    for (const auto& mic : joint.mics) {
        JointMicOutcome outcome;
        outcome.mic = mic.mic;
        outcome.weight = mic.weight;
        outcome.rms_uncorrected_db = mic_rms_db(joint, mic, flat);
        outcome.rms_independent_db = mic_rms_db(joint, mic, independent);
        outcome.rms_joint_db = mic_rms_db(joint, mic, joint_curves);
        outcome.gain_db = outcome.rms_independent_db - outcome.rms_joint_db;
        result.mean_rms_uncorrected_db += mic.weight * outcome.rms_uncorrected_db;
        result.mean_rms_independent_db += mic.weight * outcome.rms_independent_db;
        result.mean_rms_joint_db += mic.weight * outcome.rms_joint_db;
        weight_sum += mic.weight;
        result.mics.push_back(outcome);
    }
    result.mean_rms_uncorrected_db /= weight_sum;
    result.mean_rms_independent_db /= weight_sum;
    result.mean_rms_joint_db /= weight_sum;
    return result;
}

std::vector<SummedResidual> predict_summed_residuals(std::span<const JointFitZone> zones,
                                                     std::span<const TimedResponse> responses,
                                                     const FrequencyResponse& target, const JointFitOptions& options,
                                                     const std::vector<double>& freq_hz,
                                                     std::span<const ZoneCurve> curves) {
    validate(zones, responses, options);
    std::vector<std::size_t> all(zones.size());
    std::vector<std::vector<double>> on_grid(zones.size(), std::vector<double>(freq_hz.size(), 0.0));
    for (std::size_t z = 0; z < zones.size(); ++z) {
        all[z] = z;
        for (const auto& curve : curves) {
            if (curve.zone == zones[z].zone) {
                require(curve.correction_db.size() == freq_hz.size(),
                        "the curve of zone '" + curve.zone + "' is not on the given grid");
                on_grid[z] = curve.correction_db;
            }
        }
    }
    const Problem problem = build_problem(zones, all, responses, target, options, freq_hz);
    std::vector<SummedResidual> residuals;
    for (const auto& mic : problem.mics) {
        residuals.push_back({mic.mic, mic.weight, mic_rms_db(problem, mic, on_grid)});
    }
    return residuals;
}

}  // namespace linetune::correction
