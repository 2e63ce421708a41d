#pragma once

// Private to the correction library: the least-squares problem behind ClassicEqFitter.

#include "linetune/analysis/biquad.hpp"

#include <cstddef>
#include <vector>

namespace linetune::correction::detail {

/// Role of a fit-grid point in the cost.
enum class PointRole : unsigned char {
    correctable,   ///< in band: the EQ should bring the deviation to the level offset
    dip,           ///< in band but in a deep narrow dip: only boost into it is penalised
    outside_band,  ///< outside the zone's band: any change beyond the tolerances is penalised
};

/// Log-spaced frequencies with the deviation measured − target and the role of each point.
struct FitGrid {
    double points_per_octave = 0;
    std::vector<double> freq_hz;
    std::vector<double> deviation_db;
    std::vector<double> weight;  ///< data weight of each point, 0 = ignored
    std::vector<PointRole> role;
    /// Outside the band: the deepest cut tolerated there (positive dB), see eq_fitter.cpp.
    std::vector<double> outside_cut_room_db;
};

/// A band in the optimiser's coordinates: ln of frequency and Q, so that steps are relative.
struct BandParameters {
    analysis::FilterType type = analysis::FilterType::peaking;
    double log_freq = 0;  ///< ln(freq_hz)
    double gain_db = 0;
    double log_q = 0;  ///< ln(q)
};

/// Box constraints of every band, already in the optimiser's coordinates.
struct ParameterBounds {
    double log_freq_min = 0, log_freq_max = 0;
    double gain_min_db = 0, gain_max_db = 0;
    double log_q_min = 0, log_q_max = 0;
    double shelf_log_q_max = 0;  ///< shelves only: above Q ≈ 1 a shelf overshoots into a bell
};

/// Penalty limits on the EQ's own magnitude (the sum of all bands' dB).
struct EqLimitsOnGrid {
    double max_boost_db = 0;               ///< the total EQ may not rise above this anywhere
    double outside_band_boost_db = 0;      ///< largest boost tolerated outside the band
    double sample_rate_hz = 48000;
    /// Multiplies the weights of the outside-band and boost-cap penalties: 1 for the fit, larger
    /// to push a fitted state back inside the limits before the final check.
    double penalty_scale = 1.0;
};

/// Level offset and bands: everything the optimiser moves.
struct FitState {
    double offset_db = 0;
    std::vector<BandParameters> bands;
};

/// The weighted least-squares cost of a set of bands on a fit grid, and its minimisation.
class EqFitProblem {
public:
    EqFitProblem(FitGrid grid, ParameterBounds bounds, EqLimitsOnGrid limits);

    [[nodiscard]] const FitGrid& grid() const { return grid_; }
    [[nodiscard]] const ParameterBounds& bounds() const { return bounds_; }

    /// Sum of the bands' magnitudes in dB at every grid point.
    [[nodiscard]] std::vector<double> eq_response_db(const std::vector<BandParameters>& bands) const;

    /// Sum of squared residuals of a state.
    [[nodiscard]] double cost(const FitState& state) const;

    /// Minimises the cost over the level offset and the bands from first_free_band on with
    /// projected Levenberg–Marquardt; returns the final cost.
    double refine(FitState& state, std::size_t first_free_band, int max_iterations) const;

    /// The band moved into the box constraints.
    [[nodiscard]] BandParameters clamped(BandParameters band) const;

private:
    void multiply_band(const BandParameters& band, std::vector<double>& power_ratio,
                       double* gradient_columns) const;
    double residuals(const FitState& state, const std::vector<double>& eq_db,
                     std::vector<double>& values, std::vector<double>& eq_slope,
                     std::vector<double>& offset_slope) const;

    FitGrid grid_;
    ParameterBounds bounds_;
    EqLimitsOnGrid limits_;
    std::vector<double> phi_;          ///< sin²(ω/2) per grid point
    std::vector<double> phi_squared_;
    std::vector<double> sqrt_weight_;
};

/// Converts between the optimiser's coordinates and a ParametricBand.
analysis::ParametricBand to_parametric_band(const BandParameters& band);
BandParameters to_band_parameters(const analysis::ParametricBand& band);

}  // namespace linetune::correction::detail
