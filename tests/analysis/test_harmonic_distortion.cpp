#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/harmonic_distortion.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using linetune::Error;
using linetune::ErrorKind;
using linetune::SweepParameters;
using linetune::analysis::HarmonicDistortion;
using linetune::analysis::SweepDeconvolver;

// 50 Hz to 7 kHz at 48 kHz: the third harmonic of the top (21 kHz) stays below Nyquist, so the
// nonlinearity below creates no aliases.
SweepParameters distortion_sweep() {
    SweepParameters parameters;
    parameters.start_freq_hz = 50;
    parameters.end_freq_hz = 7000;
    parameters.duration_s = 3.0;
    parameters.sample_rate_hz = 48000;
    parameters.level_dbfs = -6.0;
    return parameters;
}

/// The sweep through y = x + a2·x² + a3·x³, delayed, with white noise of the given RMS level.
std::vector<float> distorted_recording(const std::vector<float>& sweep, double a2, double a3,
                                       std::size_t delay_samples, double noise_rms) {
    std::mt19937 generator(2024);
    std::normal_distribution<double> normal(0.0, noise_rms);
    std::vector<float> recording(sweep.size() + delay_samples + 24000);
    for (auto& sample : recording) {
        sample = static_cast<float>(normal(generator));
    }
    for (std::size_t n = 0; n < sweep.size(); ++n) {
        const double x = sweep[n];
        recording[n + delay_samples] += static_cast<float>(x + a2 * x * x + a3 * x * x * x);
    }
    return recording;
}

struct Measurement {
    HarmonicDistortion distortion;
    linetune::analysis::SweepEstimate sweep;
};

Measurement measure(double a2, double a3, double noise_rms) {
    const SweepParameters parameters = distortion_sweep();
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    const std::size_t delay_samples = 480;
    SweepDeconvolver deconvolver(sweep, parameters.sample_rate_hz);
    const auto deconvolved = deconvolver.deconvolve(distorted_recording(sweep, a2, a3, delay_samples, noise_rms));
    return {linetune::analysis::measure_harmonic_distortion(deconvolved, parameters.sample_rate_hz, deconvolver.sweep(),
                                                            static_cast<double>(delay_samples)),
            deconvolver.sweep()};
}

/// Largest |value/expected − 1| over the grid points where value is not NaN, with their count.
struct RelativeError {
    double max_error = 0;
    std::size_t points = 0;
};

RelativeError relative_error(const std::vector<double>& values, double expected) {
    RelativeError result;
    for (const double value : values) {
        if (!std::isnan(value)) {
            result.max_error = std::max(result.max_error, std::fabs(value / expected - 1.0));
            ++result.points;
        }
    }
    return result;
}

template <typename Call>
std::string error_message(Call call, ErrorKind expected_kind) {
    try {
        call();
    } catch (const Error& error) {
        CHECK(error.kind() == expected_kind);
        return error.what();
    }
    return "";
}

}  // namespace

TEST_SUITE("harmonic_distortion") {

TEST_CASE("H2 and H3 match the polynomial's theory") {
    // y = x + a2·x² + a3·x³ with x = A·sin φ: |H1| = 1 + 3/4·a3·A², |H2| = a2·A/2, |H3| = a3·A²/4
    // (see harmonic_distortion.cpp), and THD = sqrt(H2² + H3²)/|H1|. Noise at -90 dBFS RMS.
    // Allowed at every grid point: H2 and THD within 0.5 %, H3 (12 dB weaker) within 1 %,
    // the fundamental within 0.05 dB, H4 and H5 (absent) below 0.05 %.
    const double a2 = 0.05;
    const double a3 = 0.05;
    const double amplitude = linetune::amplitude_from_db(distortion_sweep().level_dbfs);
    const Measurement result = measure(a2, a3, linetune::amplitude_from_db(-90.0));
    const HarmonicDistortion& distortion = result.distortion;
    REQUIRE(distortion.harmonic_percent.size() == 4);
    REQUIRE(!distortion.freq_hz.empty());

    const double h1 = 1.0 + 0.75 * a3 * amplitude * amplitude;
    const double h2_percent = 100.0 * a2 * amplitude / 2.0 / h1;
    const double h3_percent = 100.0 * a3 * amplitude * amplitude / 4.0 / h1;

    const RelativeError h2_error = relative_error(distortion.harmonic_percent[0], h2_percent);
    const RelativeError h3_error = relative_error(distortion.harmonic_percent[1], h3_percent);
    MESSAGE("H2 " << h2_percent << " % within " << 100.0 * h2_error.max_error << " % over " << h2_error.points
                  << " points; H3 " << h3_percent << " % within " << 100.0 * h3_error.max_error << " % over "
                  << h3_error.points << " points");
    CHECK(h2_error.points > 50);
    CHECK(h2_error.max_error < 0.005);
    CHECK(h3_error.points > 40);
    CHECK(h3_error.max_error < 0.01);

    double max_fundamental_error_db = 0;
    for (const double level_db : distortion.fundamental_db) {
        max_fundamental_error_db = std::max(max_fundamental_error_db, std::fabs(level_db - linetune::db_from_amplitude(h1)));
    }
    CHECK(max_fundamental_error_db < 0.05);

    double max_thd_error = 0;
    double max_absent_percent = 0;
    for (std::size_t i = 0; i < distortion.freq_hz.size(); ++i) {
        const bool h3_in_band = !std::isnan(distortion.harmonic_percent[1][i]);
        if (h3_in_band) {
            const double expected = std::hypot(h2_percent, h3_percent);
            max_thd_error = std::max(max_thd_error, std::fabs(distortion.thd_percent[i] / expected - 1.0));
        }
        for (std::size_t h = 2; h < 4; ++h) {
            if (!std::isnan(distortion.harmonic_percent[h][i])) {
                max_absent_percent = std::max(max_absent_percent, distortion.harmonic_percent[h][i]);
            }
        }
    }
    CHECK(max_thd_error < 0.005);
    CHECK(max_absent_percent < 0.05);
}

TEST_CASE("linear system shows only the noise floor") {
    const Measurement result = measure(0.0, 0.0, linetune::amplitude_from_db(-90.0));
    double max_thd_percent = 0;
    for (const double thd : result.distortion.thd_percent) {
        if (!std::isnan(thd)) {
            max_thd_percent = std::max(max_thd_percent, thd);
        }
    }
    MESSAGE("THD of a linear system with noise at -90 dBFS: at most " << max_thd_percent << " %");
    CHECK(max_thd_percent < 0.05);
}

TEST_CASE("unmeasurable harmonics are NaN") {
    const Measurement result = measure(0.05, 0.05, 1e-5);
    const auto& distortion = result.distortion;
    const auto& sweep = result.sweep;
    const auto full = linetune::analysis::full_gain_band({sweep.start_freq_hz, sweep.end_freq_hz});
    const double half_band_ratio = std::exp2(0.5 / 12.0);

    // Grid: 1/12 octave steps inside the full-gain band, each point's averaging band included.
    CHECK(distortion.freq_hz.front() == doctest::Approx(full.start_freq_hz * half_band_ratio));
    CHECK(distortion.freq_hz.back() <= full.end_freq_hz / half_band_ratio);
    CHECK(distortion.freq_hz[12] == doctest::Approx(2.0 * distortion.freq_hz[0]));
    CHECK(distortion.fundamental_db.size() == distortion.freq_hz.size());
    CHECK(distortion.thd_percent.size() == distortion.freq_hz.size());

    // Near the start: harmonics need the fade-in plus two Fresnel zones sqrt(L/f) of sweep time
    // before the excitation reaches f, which is time L·ln(f/f1) after the start.
    const auto settled = [&sweep](double freq_hz) {
        return sweep.rate_s * std::log(freq_hz / sweep.start_freq_hz) >=
               sweep.fade_in_s + 2.0 * std::sqrt(sweep.rate_s / freq_hz);
    };
    CHECK(!settled(distortion.freq_hz.front()));
    CHECK(settled(distortion.freq_hz.back()));

    // At the top: harmonic n is NaN once n·f (with its averaging band) leaves the full-gain band.
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < distortion.freq_hz.size(); ++i) {
        for (std::size_t h = 0; h < 4; ++h) {
            const double harmonic_top_hz = static_cast<double>(h + 2) * distortion.freq_hz[i] * half_band_ratio;
            const bool measurable = settled(distortion.freq_hz[i]) && harmonic_top_hz <= full.end_freq_hz;
            wrong += measurable == std::isnan(distortion.harmonic_percent[h][i]) ? 1 : 0;
        }
        // H2 leaves the band first, and with it the THD.
        wrong += std::isnan(distortion.harmonic_percent[0][i]) != std::isnan(distortion.thd_percent[i]) ? 1 : 0;
    }
    CHECK(wrong == 0);
    CHECK(std::isnan(distortion.thd_percent.front()));
    CHECK(std::isnan(distortion.thd_percent.back()));
}

TEST_CASE("unusable inputs are rejected") {
    const SweepParameters parameters = distortion_sweep();
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    SweepDeconvolver deconvolver(sweep, parameters.sample_rate_hz);
    const auto deconvolved = deconvolver.deconvolve(distorted_recording(sweep, 0.0, 0.0, 0, 1e-4));
    using linetune::analysis::measure_harmonic_distortion;

    CHECK(error_message([&] { (void)measure_harmonic_distortion(deconvolved, 48000, deconvolver.sweep(), 0, 1); },
                        ErrorKind::configuration) == "harmonic distortion: highest harmonic 1 is outside 2 to 10");
    CHECK(error_message([&] { (void)measure_harmonic_distortion(deconvolved, 48000, deconvolver.sweep(), 0, 11); },
                        ErrorKind::configuration) == "harmonic distortion: highest harmonic 11 is outside 2 to 10");
    CHECK(error_message([&] { (void)measure_harmonic_distortion(deconvolved, 48000, deconvolver.sweep(), -1.0); },
                        ErrorKind::input) ==
          "harmonic distortion: linear impulse response start -1 is outside the deconvolved buffer of " +
              std::to_string(deconvolved.size()) + " samples; pass the arrival found in that buffer");
    CHECK(error_message([&] { (void)measure_harmonic_distortion(deconvolved, 48000, {}, 0); }, ErrorKind::configuration)
              .starts_with("harmonic distortion: sweep estimate (start 0 Hz, end 0 Hz, rate 0 s) is invalid"));

    // A buffer shorter than the windows of harmonics 1 to 5 (L·ln 5 + L·ln(6/5)/2 + L·ln 2/2 ≈ 1.23 s at L = 0.6 s).
    const std::vector<float> short_buffer(deconvolved.begin(), deconvolved.begin() + 48000);
    const std::string short_message = error_message(
        [&] { (void)measure_harmonic_distortion(short_buffer, 48000, deconvolver.sweep(), 0); }, ErrorKind::input);
    CHECK(short_message.starts_with("harmonic distortion: deconvolved buffer of 48000 samples is shorter than the "));
    CHECK(short_message.ends_with(" samples that the windows of harmonics 1 to 5 need; record longer after the sweep "
                                  "or lower the highest harmonic"));
}

}  // TEST_SUITE
