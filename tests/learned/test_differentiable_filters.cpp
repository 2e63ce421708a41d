#include "differentiable_filters.hpp"

#include "linetune/analysis/biquad.hpp"
#include "linetune/core/frequency_response.hpp"

#include "test_support.hpp"

#include <cmath>
#include <complex>
#include <string>
#include <vector>

namespace {

using linetune::analysis::FilterType;
using linetune::analysis::ParametricBand;

constexpr double sample_rate_hz = 48000.0;
constexpr double magnitude_tolerance_db = 0.01;
// Training runs in float32. There a narrow band near DC loses digits in 1 − cos ω0 (about 1e-5
// at 63 Hz and 48 kHz against float32's 6e-8 resolution): a Q 8 bell at 63 Hz is off by 0.1 dB.
// The refinement and every reported figure use double precision.
constexpr double single_precision_tolerance_db = 0.2;
constexpr double phase_tolerance_rad = 1e-6;

// Finite differences: central differences with these steps (in Hz, dB and Q) have a truncation
// error of order step² · third derivative, far below the tolerance. Their rounding error is of
// order ε / step, with ε up to 1e-10 relative near DC, where 1 − cos ω0 cancels most digits.
constexpr double freq_step_hz = 1e-2;
constexpr double gain_step_db = 1e-3;
constexpr double q_step = 1e-4;
constexpr double gradient_relative_tolerance = 1e-4;
constexpr double gradient_absolute_tolerance = 1e-6;

const std::vector<ParametricBand> bands{
    {FilterType::peaking, 1000.0, 6.0, 1.0},     {FilterType::peaking, 63.0, -12.0, 8.0},
    {FilterType::peaking, 15000.0, 3.0, 0.4},    {FilterType::low_shelf, 120.0, 5.0, 0.7071},
    {FilterType::low_shelf, 800.0, -9.0, 1.0},   {FilterType::high_shelf, 6000.0, -4.0, 0.7071},
    {FilterType::high_shelf, 2500.0, 7.0, 0.5},  {FilterType::high_pass, 40.0, 0.0, 0.7071},
    {FilterType::low_pass, 12000.0, 0.0, 2.0},
};

std::string describe(const ParametricBand& band) {
    return std::string(linetune::analysis::to_string(band.type)) + " " + std::to_string(band.freq_hz) + " Hz " +
           std::to_string(band.gain_db) + " dB Q " + std::to_string(band.q);
}

torch::Tensor scalar(double value, bool requires_grad = false) {
    return torch::tensor({value}, torch::TensorOptions().dtype(torch::kFloat64).requires_grad(requires_grad));
}

torch::Tensor eval_grid() {
    return torch::tensor(linetune::log_frequency_grid(10.0, 23000.0, 48.0), torch::kFloat64);
}

double magnitude_at(const ParametricBand& band, double freq_hz) {
    const auto db = linetune::learned::band_magnitude_db(band.type, scalar(band.freq_hz), scalar(band.gain_db),
                                                         scalar(band.q), scalar(freq_hz), sample_rate_hz);
    return db.item<double>();
}

}  // namespace

TEST_SUITE("differentiable filters") {
    TEST_CASE("magnitudes match the analytic RBJ biquads within 0.01 dB") {
        const auto grid = eval_grid();
        const auto freq_hz = linetune::log_frequency_grid(10.0, 23000.0, 48.0);
        for (const auto& band : bands) {
            const auto db = linetune::learned::band_magnitude_db(band.type, scalar(band.freq_hz), scalar(band.gain_db),
                                                                 scalar(band.q), grid, sample_rate_hz);
            double worst_db = 0.0;
            for (std::size_t i = 0; i < freq_hz.size(); ++i) {
                const double expected = linetune::analysis::band_magnitude_db(band, freq_hz[i], sample_rate_hz);
                worst_db = std::max(worst_db, std::fabs(db[static_cast<std::int64_t>(i)].item<double>() - expected));
            }
            INFO(describe(band) << ": worst difference " << worst_db << " dB");
            CHECK(worst_db <= magnitude_tolerance_db);
        }
    }

    TEST_CASE("single-precision magnitudes match within 0.2 dB") {
        const auto freq_hz = linetune::log_frequency_grid(20.0, 20000.0, 24.0);
        const auto grid = torch::tensor(freq_hz, torch::kFloat32);
        for (const auto& band : bands) {
            const auto db = linetune::learned::band_magnitude_db(
                band.type, torch::tensor({band.freq_hz}, torch::kFloat32), torch::tensor({band.gain_db}, torch::kFloat32),
                torch::tensor({band.q}, torch::kFloat32), grid, sample_rate_hz);
            double worst_db = 0.0;
            for (std::size_t i = 0; i < freq_hz.size(); ++i) {
                const double expected = linetune::analysis::band_magnitude_db(band, freq_hz[i], sample_rate_hz);
                worst_db = std::max(worst_db, std::fabs(db[static_cast<std::int64_t>(i)].item<double>() - expected));
            }
            INFO(describe(band) << ": worst difference " << worst_db << " dB");
            CHECK(worst_db <= single_precision_tolerance_db);
        }
    }

    TEST_CASE("phases match the analytic RBJ biquads") {
        const auto grid = eval_grid();
        const auto freq_hz = linetune::log_frequency_grid(10.0, 23000.0, 48.0);
        for (const auto& band : bands) {
            const auto phase = linetune::learned::band_phase_rad(band.type, scalar(band.freq_hz), scalar(band.gain_db),
                                                                 scalar(band.q), grid, sample_rate_hz);
            const auto coefficients = linetune::analysis::design_biquad(band, sample_rate_hz);
            double worst_rad = 0.0;
            for (std::size_t i = 0; i < freq_hz.size(); ++i) {
                const double expected = std::arg(linetune::analysis::biquad_response(coefficients, freq_hz[i], sample_rate_hz));
                // Compare on the circle, so ±π count as one angle.
                const double difference = std::remainder(phase[static_cast<std::int64_t>(i)].item<double>() - expected,
                                                         2.0 * M_PI);
                worst_rad = std::max(worst_rad, std::fabs(difference));
            }
            INFO(describe(band) << ": worst phase difference " << worst_rad << " rad");
            CHECK(worst_rad <= phase_tolerance_rad);
        }
    }

    TEST_CASE("coefficients match the analytic RBJ design") {
        for (const auto& band : bands) {
            const auto c = linetune::learned::biquad_coefficients(band.type, scalar(band.freq_hz), scalar(band.gain_db),
                                                                  scalar(band.q), sample_rate_hz);
            const auto expected = linetune::analysis::design_biquad(band, sample_rate_hz);
            INFO(describe(band));
            CHECK(c[0][0].item<double>() == doctest::Approx(expected.b0).epsilon(1e-12));
            CHECK(c[0][1].item<double>() == doctest::Approx(expected.b1).epsilon(1e-12));
            CHECK(c[0][2].item<double>() == doctest::Approx(expected.b2).epsilon(1e-12));
            CHECK(c[0][3].item<double>() == doctest::Approx(expected.a1).epsilon(1e-12));
            CHECK(c[0][4].item<double>() == doctest::Approx(expected.a2).epsilon(1e-12));
        }
    }

    TEST_CASE("gradients match central finite differences") {
        const std::vector<double> probe_hz{35.0, 180.0, 950.0, 1100.0, 4000.0, 14000.0};
        for (const auto& band : bands) {
            for (const double f : probe_hz) {
                auto freq = scalar(band.freq_hz, true);
                auto gain = scalar(band.gain_db, true);
                auto q = scalar(band.q, true);
                const auto db =
                    linetune::learned::band_magnitude_db(band.type, freq, gain, q, scalar(f), sample_rate_hz).sum();
                db.backward();

                auto shifted = [&](double d_freq, double d_gain, double d_q) {
                    ParametricBand moved = band;
                    moved.freq_hz += d_freq;
                    moved.gain_db += d_gain;
                    moved.q += d_q;
                    return magnitude_at(moved, f);
                };
                const double d_freq = (shifted(freq_step_hz, 0, 0) - shifted(-freq_step_hz, 0, 0)) / (2 * freq_step_hz);
                const double d_gain = (shifted(0, gain_step_db, 0) - shifted(0, -gain_step_db, 0)) / (2 * gain_step_db);
                const double d_q = (shifted(0, 0, q_step) - shifted(0, 0, -q_step)) / (2 * q_step);

                INFO(describe(band) << " at " << f << " Hz");
                CHECK(freq.grad().item<double>() ==
                      doctest::Approx(d_freq).epsilon(gradient_relative_tolerance).scale(gradient_absolute_tolerance / gradient_relative_tolerance));
                // Pass filters ignore the gain, so autograd leaves its gradient undefined.
                const bool uses_gain = band.type != FilterType::high_pass && band.type != FilterType::low_pass;
                if (uses_gain) {
                    CHECK(gain.grad().item<double>() ==
                          doctest::Approx(d_gain).epsilon(gradient_relative_tolerance).scale(gradient_absolute_tolerance / gradient_relative_tolerance));
                } else {
                    CHECK(d_gain == 0.0);
                }
                CHECK(q.grad().item<double>() ==
                      doctest::Approx(d_q).epsilon(gradient_relative_tolerance).scale(gradient_absolute_tolerance / gradient_relative_tolerance));
            }
        }
    }
}
