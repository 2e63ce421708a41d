#include "eq_fit_problem.hpp"

#include "linetune/core/units.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

// The cost
// --------
// On a log-spaced grid f_i with deviation d_i = measured − target (dB), level offset o and the EQ's
// magnitude S_i = Σ_k H_k(f_i) (dB, the sum of every band's 20·log10|H_k|), each point gives
//
//   correctable:   r_i = √w_i · (d_i − o + S_i)
//   dip:           r_i = √w_i · k_boost · S_i  if S_i > 0,  √w_i · k_cut · S_i otherwise
//   outside band:  r_i = k_out · (S_i − clamp(S_i, −cut_room_i, +boost_tol))
//
// and every point a second residual k_cap · max(0, S_i − max_boost) that keeps the total EQ under
// the boost cap where bands overlap. k_out and k_cap are multiplied by a penalty scale, 1 for the
// fit. A penalty lets the optimum break a limit by an amount of the order of (error slope)/k², so
// a fit that breaks one is refined again with a larger scale before the final check shrinks bands. The cost is Σ r². Because the grid is uniform in log
// frequency, each octave counts the same whatever grid the measurement came on.
//
// The minimisation
// ----------------
// Levenberg–Marquardt (K. Levenberg 1944; D. W. Marquardt, J. SIAM 11(2), 1963): with Jacobian J
// and residual vector r, solve (JᵀJ + λ·diag(JᵀJ)) δ = −Jᵀr, accept the step when the cost falls
// (λ then shrinks by Nielsen's rule, see refine) and retry with a larger λ otherwise. Box
// constraints are kept by projecting each step onto the box (clamping ln f, gain and ln Q).
//
// |H|² = N/D where N = N0 + N1·φ + N2·φ², φ = sin²(ω/2), and D likewise (see phi_polynomials), so
// one band costs six multiply-adds and a division per grid point with φ and φ² cached. The
// Jacobian is analytic per grid point:
//   ∂H_dB/∂θ = (10 / ln 10) · (∂N/∂θ / N − ∂D/∂θ / D),  ∂N/∂θ = ∂N0/∂θ + ∂N1/∂θ·φ + ∂N2/∂θ·φ²,
// and the derivatives of the six polynomial coefficients with respect to θ = (ln f, gain_db, ln Q)
// are central differences of the cookbook design. That costs six designs per band instead of six
// evaluations per grid point.

namespace linetune::correction::detail {
namespace {

// Weight of a boost into a deep narrow dip relative to a correctable point's error. At 3, one dB
// of boost into a dip costs as much as 3 dB of uncorrected error next to it, so the fit leaves
// dips alone. Much higher, and it avoids every band whose skirt touches a dip.
constexpr double dip_boost_weight = 3.0;

// Weight of a cut into a deep narrow dip. A dip needs no EQ either way, and a cut there only
// deepens it. At 1 the fit treats the dip like a flat point, so bands do not use the dip as room
// to stack cuts against neighbouring boosts.
constexpr double dip_cut_weight = 1.0;

// Weight of a change outside the band beyond its tolerance. At 10, a 0.1 dB excess outside costs
// as much as 1 dB of error inside, which keeps bands off the band edges unless the in-band gain
// is large. Lower values let shelves and skirts leak out of the zone.
constexpr double outside_band_weight = 10.0;

// Weight of the total EQ above the boost cap. High, because overlapping boosts above the device's
// cap are a hard limit, not a preference; the final check in eq_fitter.cpp enforces it exactly.
constexpr double boost_cap_weight = 30.0;

// Central-difference steps for ∂c/∂θ: small enough for a truncation error far below the grid's
// rounding, large enough that cancellation in double precision stays below 1e-9 relative.
constexpr double log_freq_step = 1e-5;
constexpr double gain_step_db = 1e-4;
constexpr double log_q_step = 1e-5;

// Levenberg–Marquardt control: starting damping, the retries of a rejected step, and the relative
// cost decrease below which the iteration stops.
constexpr double initial_damping = 1e-3;
constexpr int max_step_retries = 12;
constexpr double convergence_relative_decrease = 1e-7;

// dB per unit of ln(|H|²): 10 / ln 10.
constexpr double db_per_log_power = 4.342944819032518;

constexpr int parameters_per_band = 3;

using CoefficientArray = std::array<double, 5>;

CoefficientArray coefficients_of(const BandParameters& band, double sample_rate_hz) {
    const auto c = analysis::design_biquad(to_parametric_band(band), sample_rate_hz);
    return {c.b0, c.b1, c.b2, c.a1, c.a2};
}

BandParameters shifted(BandParameters band, int parameter, double step) {
    if (parameter == 0) {
        band.log_freq += step;
    } else if (parameter == 1) {
        band.gain_db += step;
    } else {
        band.log_q += step;
    }
    return band;
}

// |H(e^jω)|² = N/D with N and D polynomials in φ = sin²(ω/2), from cos ω = 1 − 2φ:
//   N = (b0 + b1 + b2)²/4 − φ·(4 b0 b2 + b1 (b0 + b2)) + 4 b0 b2 φ²,
// and likewise D with (1, a1, a2), both scaled by 1/4. The same polynomials in cos ω cancel to
// about 12 digits for a 20 Hz band at 96 kHz, while this form keeps N and D accurate where they
// are tiny. Returns (N0, N1, N2, D0, D1, D2).
using PhiPolynomials = std::array<double, 6>;

PhiPolynomials phi_polynomials(const CoefficientArray& c) {
    const auto [b0, b1, b2, a1, a2] = c;
    const double b_sum = b0 + b1 + b2;
    const double a_sum = 1.0 + a1 + a2;
    return {b_sum * b_sum / 4.0, -(4.0 * b0 * b2 + b1 * (b0 + b2)), 4.0 * b0 * b2,
            a_sum * a_sum / 4.0, -(4.0 * a2 + a1 * (1.0 + a2)),     4.0 * a2};
}

std::vector<double> db_from_power_ratio(const std::vector<double>& power_ratio) {
    std::vector<double> eq_db(power_ratio.size());
    for (std::size_t i = 0; i < power_ratio.size(); ++i) {
        eq_db[i] = db_per_log_power * std::log(power_ratio[i]);
    }
    return eq_db;
}

}  // namespace

analysis::ParametricBand to_parametric_band(const BandParameters& band) {
    return {band.type, std::exp(band.log_freq), band.gain_db, std::exp(band.log_q)};
}

BandParameters to_band_parameters(const analysis::ParametricBand& band) {
    return {band.type, std::log(band.freq_hz), band.gain_db, std::log(band.q)};
}

EqFitProblem::EqFitProblem(FitGrid grid, ParameterBounds bounds, EqLimitsOnGrid limits)
    : grid_(std::move(grid)), bounds_(bounds), limits_(limits) {
    const std::size_t n = grid_.freq_hz.size();
    phi_.resize(n);
    phi_squared_.resize(n);
    sqrt_weight_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double w = 2.0 * pi * grid_.freq_hz[i] / limits_.sample_rate_hz;
        const double half_sine = std::sin(w / 2.0);
        phi_[i] = half_sine * half_sine;
        phi_squared_[i] = phi_[i] * phi_[i];
        sqrt_weight_[i] = std::sqrt(grid_.weight[i]);
    }
}

BandParameters EqFitProblem::clamped(BandParameters band) const {
    band.log_freq = std::clamp(band.log_freq, bounds_.log_freq_min, bounds_.log_freq_max);
    band.gain_db = std::clamp(band.gain_db, bounds_.gain_min_db, bounds_.gain_max_db);
    const bool shelf = band.type == analysis::FilterType::low_shelf || band.type == analysis::FilterType::high_shelf;
    band.log_q = std::clamp(band.log_q, bounds_.log_q_min, shelf ? bounds_.shelf_log_q_max : bounds_.log_q_max);
    return band;
}

// Multiplies one band's |H|² into power_ratio and, when gradient_columns is not null, writes its
// three dB derivative columns (ln f, gain, ln Q), each grid-size long, one after the other. The
// EQ in dB is 10·log10 of the product, so a fit of K bands needs one logarithm per point, not K.
void EqFitProblem::multiply_band(const BandParameters& band, std::vector<double>& power_ratio,
                                 double* gradient_columns) const {
    const double fs = limits_.sample_rate_hz;
    const PhiPolynomials p = phi_polynomials(coefficients_of(band, fs));

    std::array<PhiPolynomials, parameters_per_band> dp{};
    if (gradient_columns != nullptr) {
        const std::array<double, parameters_per_band> steps{log_freq_step, gain_step_db, log_q_step};
        for (int k = 0; k < parameters_per_band; ++k) {
            const auto up = phi_polynomials(coefficients_of(shifted(band, k, steps[k]), fs));
            const auto down = phi_polynomials(coefficients_of(shifted(band, k, -steps[k]), fs));
            for (std::size_t j = 0; j < up.size(); ++j) {
                dp[k][j] = (up[j] - down[j]) / (2.0 * steps[k]);
            }
        }
    }

    const std::size_t n = power_ratio.size();
    double* ratio = power_ratio.data();
    const double* phi = phi_.data();
    const double* phi_sq = phi_squared_.data();
    for (std::size_t i = 0; i < n; ++i) {
        // The floor only guards exact zeros of N, which peaking and shelving bands never have.
        const double numerator = std::max(p[0] + p[1] * phi[i] + p[2] * phi_sq[i], 1e-300);
        const double denominator = p[3] + p[4] * phi[i] + p[5] * phi_sq[i];
        ratio[i] *= numerator / denominator;
        if (gradient_columns == nullptr) {
            continue;
        }
        const double inverse_numerator = db_per_log_power / numerator;
        const double inverse_denominator = db_per_log_power / denominator;
        for (int k = 0; k < parameters_per_band; ++k) {
            const auto& d = dp[static_cast<std::size_t>(k)];
            const double dn = d[0] + d[1] * phi[i] + d[2] * phi_sq[i];
            const double dd = d[3] + d[4] * phi[i] + d[5] * phi_sq[i];
            gradient_columns[static_cast<std::size_t>(k) * n + i] = dn * inverse_numerator - dd * inverse_denominator;
        }
    }
}

std::vector<double> EqFitProblem::eq_response_db(const std::vector<BandParameters>& bands) const {
    std::vector<double> power_ratio(grid_.freq_hz.size(), 1.0);
    for (const auto& band : bands) {
        multiply_band(band, power_ratio, nullptr);
    }
    return db_from_power_ratio(power_ratio);
}

// Fills the 2N residuals of the cost with their derivatives with respect to the EQ magnitude S_i
// (eq_slope) and to the offset (offset_slope). Returns the cost Σ r².
double EqFitProblem::residuals(const FitState& state, const std::vector<double>& eq_db,
                               std::vector<double>& values, std::vector<double>& eq_slope,
                               std::vector<double>& offset_slope) const {
    const std::size_t n = eq_db.size();
    values.assign(2 * n, 0.0);
    eq_slope.assign(2 * n, 0.0);
    offset_slope.assign(2 * n, 0.0);
    const double outside_weight = outside_band_weight * limits_.penalty_scale;
    const double cap_weight = boost_cap_weight * limits_.penalty_scale;

    for (std::size_t i = 0; i < n; ++i) {
        const double s = eq_db[i];
        switch (grid_.role[i]) {
        case PointRole::correctable:
            values[i] = sqrt_weight_[i] * (grid_.deviation_db[i] - state.offset_db + s);
            eq_slope[i] = sqrt_weight_[i];
            offset_slope[i] = -sqrt_weight_[i];
            break;
        case PointRole::dip: {
            const double dip_weight = s > 0.0 ? dip_boost_weight : dip_cut_weight;
            values[i] = sqrt_weight_[i] * dip_weight * s;
            eq_slope[i] = sqrt_weight_[i] * dip_weight;
            break;
        }
        case PointRole::outside_band: {
            const double tolerated = std::clamp(s, -grid_.outside_cut_room_db[i], limits_.outside_band_boost_db);
            if (s != tolerated) {
                values[i] = outside_weight * (s - tolerated);
                eq_slope[i] = outside_weight;
            }
            break;
        }
        }

        if (s > limits_.max_boost_db) {
            values[n + i] = cap_weight * (s - limits_.max_boost_db);
            eq_slope[n + i] = cap_weight;
        }
    }

    double cost = 0.0;
    for (const double r : values) {
        cost += r * r;
    }
    return cost;
}

double EqFitProblem::cost(const FitState& state) const {
    std::vector<double> values;
    std::vector<double> eq_slope;
    std::vector<double> offset_slope;
    return residuals(state, eq_response_db(state.bands), values, eq_slope, offset_slope);
}

double EqFitProblem::refine(FitState& state, std::size_t first_free_band, int max_iterations) const {
    const std::size_t n = grid_.freq_hz.size();
    const std::size_t free_bands = state.bands.size() - std::min(first_free_band, state.bands.size());
    const auto parameter_count = static_cast<Eigen::Index>(1 + parameters_per_band * free_bands);
    const auto rows = static_cast<Eigen::Index>(2 * n);

    std::vector<double> values;
    std::vector<double> eq_slope;
    std::vector<double> offset_slope;
    Eigen::MatrixXd band_gradient(static_cast<Eigen::Index>(n),
                                  static_cast<Eigen::Index>(parameters_per_band * free_bands));
    Eigen::MatrixXd jacobian(rows, parameter_count);
    Eigen::VectorXd active_residuals(rows);
    Eigen::Index active_rows = 0;

    // The bands that stay fixed are multiplied once.
    std::vector<double> fixed_power_ratio(n, 1.0);
    for (std::size_t k = 0; k < std::min(first_free_band, state.bands.size()); ++k) {
        multiply_band(state.bands[k], fixed_power_ratio, nullptr);
    }

    // Cost of a state and, when asked, the Jacobian of its residuals. Only rows with a non-zero
    // derivative go into the Jacobian: an inactive penalty row is zero and has no slope, so it
    // adds nothing to JᵀJ or Jᵀr.
    // Buffers reused by every evaluation, so that the iterations allocate nothing.
    std::vector<double> power_ratio(n, 1.0);
    std::vector<double> eq_db(n, 0.0);
    std::vector<std::size_t> active(2 * n, 0);
    std::vector<std::size_t> active_point(2 * n, 0);

    const auto evaluate = [&](const FitState& trial, bool with_jacobian) {
        std::copy(fixed_power_ratio.begin(), fixed_power_ratio.end(), power_ratio.begin());
        for (std::size_t k = first_free_band; k < trial.bands.size(); ++k) {
            double* columns = nullptr;
            if (with_jacobian) {
                columns = band_gradient.col(static_cast<Eigen::Index>(parameters_per_band * (k - first_free_band))).data();
            }
            multiply_band(trial.bands[k], power_ratio, columns);
        }
        for (std::size_t i = 0; i < n; ++i) {
            eq_db[i] = db_per_log_power * std::log(power_ratio[i]);
        }
        const double trial_cost = residuals(trial, eq_db, values, eq_slope, offset_slope);
        if (with_jacobian) {
            // The active rows first, then the Jacobian column by column (Eigen stores columns
            // contiguously).
            std::size_t count = 0;
            for (std::size_t row = 0; row < values.size(); ++row) {
                if (eq_slope[row] != 0.0 || offset_slope[row] != 0.0) {
                    active[count] = row;
                    active_point[count] = row < n ? row : row - n;
                    ++count;
                }
            }
            active_rows = static_cast<Eigen::Index>(count);
            for (std::size_t r = 0; r < count; ++r) {
                jacobian(static_cast<Eigen::Index>(r), 0) = offset_slope[active[r]];
                active_residuals(static_cast<Eigen::Index>(r)) = values[active[r]];
            }
            for (Eigen::Index col = 1; col < parameter_count; ++col) {
                double* target = jacobian.col(col).data();
                const double* source = band_gradient.col(col - 1).data();
                for (std::size_t r = 0; r < count; ++r) {
                    target[r] = eq_slope[active[r]] * source[active_point[r]];
                }
            }
        }
        return trial_cost;
    };

    const auto stepped = [&](const FitState& from, const Eigen::VectorXd& step) {
        FitState to = from;
        to.offset_db += step(0);
        for (std::size_t k = first_free_band; k < to.bands.size(); ++k) {
            const auto base = static_cast<Eigen::Index>(1 + parameters_per_band * (k - first_free_band));
            auto& band = to.bands[k];
            band.log_freq += step(base);
            band.gain_db += step(base + 1);
            band.log_q += step(base + 2);
            band = clamped(band);
        }
        return to;
    };

    double cost = evaluate(state, true);
    double damping = initial_damping;
    double damping_growth = 2.0;
    for (int iteration = 0; iteration < max_iterations; ++iteration) {
        const auto active_jacobian = jacobian.topRows(active_rows);
        // JᵀJ is symmetric: one triangle by a rank update, then mirrored.
        Eigen::MatrixXd normal = Eigen::MatrixXd::Zero(parameter_count, parameter_count);
        normal.selfadjointView<Eigen::Lower>().rankUpdate(active_jacobian.transpose());
        normal.triangularView<Eigen::StrictlyUpper>() = normal.transpose();
        const Eigen::VectorXd gradient = active_jacobian.transpose() * active_residuals.head(active_rows);
        // A floor on the damping diagonal keeps parameters that do not affect the cost (f and Q
        // of a band at 0 dB) from making the system singular.
        const double diagonal_floor = 1e-9 * std::max(normal.diagonal().maxCoeff(), 1e-12);

        bool accepted = false;
        double new_cost = cost;
        FitState candidate;
        for (int retry = 0; retry < max_step_retries && !accepted; ++retry) {
            Eigen::MatrixXd damped = normal;
            for (Eigen::Index j = 0; j < parameter_count; ++j) {
                damped(j, j) += damping * (normal(j, j) + diagonal_floor);
            }
            const Eigen::VectorXd step = damped.ldlt().solve(-gradient);
            candidate = stepped(state, step);
            new_cost = evaluate(candidate, false);
            if (std::isfinite(new_cost) && new_cost < cost) {
                // Nielsen's update: λ ← λ·max(1/3, 1 − (2ρ − 1)³), with ρ the actual over the
                // predicted decrease, and λ grows by 2, 4, 8… over successive rejected steps.
                const double predicted = -(2.0 * step.dot(gradient) + step.dot(normal * step));
                const double ratio = predicted > 0.0 ? (cost - new_cost) / predicted : 0.0;
                const double shape = 2.0 * ratio - 1.0;
                damping = std::max(damping * std::max(1.0 / 3.0, 1.0 - shape * shape * shape), 1e-12);
                damping_growth = 2.0;
                accepted = true;
            } else {
                damping *= damping_growth;
                damping_growth *= 2.0;
            }
        }
        if (!accepted) {
            break;
        }

        const double decrease = cost - new_cost;
        state = std::move(candidate);
        cost = evaluate(state, true);
        if (decrease <= convergence_relative_decrease * cost + 1e-15) {
            break;
        }
    }
    return cost;
}

}  // namespace linetune::correction::detail
