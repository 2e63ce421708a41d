#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using linetune::Error;
using linetune::ErrorKind;
using linetune::pi;
using linetune::SweepParameters;
using linetune::analysis::DeconvolutionBand;
using linetune::analysis::RealFft;
using linetune::analysis::SweepDeconvolver;

SweepParameters test_sweep(double sample_rate_hz = 48000, double duration_s = 1.0) {
    SweepParameters parameters;
    parameters.start_freq_hz = 20;
    parameters.end_freq_hz = 20000;
    parameters.duration_s = duration_s;
    parameters.sample_rate_hz = sample_rate_hz;
    return parameters;
}

/// Linear convolution of a and b, computed in double through one FFT.
std::vector<double> convolve(const std::vector<double>& a, const std::vector<double>& b) {
    const std::size_t length = a.size() + b.size() - 1;
    RealFft<double> fft(linetune::analysis::next_fast_fft_size(length));
    std::vector<std::complex<double>> a_bins(fft.bin_count());
    std::vector<std::complex<double>> b_bins(fft.bin_count());
    fft.forward(a, a_bins);
    fft.forward(b, b_bins);
    for (std::size_t k = 0; k < a_bins.size(); ++k) {
        a_bins[k] *= b_bins[k];
    }
    std::vector<double> result(length);
    fft.inverse(a_bins, result);
    return result;
}

std::vector<double> to_double(const std::vector<float>& samples) { return {samples.begin(), samples.end()}; }

std::vector<float> to_float(const std::vector<double>& samples) {
    std::vector<float> result(samples.size());
    std::transform(samples.begin(), samples.end(), result.begin(), [](double value) { return static_cast<float>(value); });
    return result;
}

/// Adds gain·δ(n − delay) for a fractional delay as a Blackman-windowed sinc of ±32 taps.
void add_fractional_impulse(std::vector<double>& response, double delay_samples, double gain) {
    const double half_width = 32;
    for (auto n = static_cast<std::ptrdiff_t>(std::ceil(delay_samples - half_width));
         static_cast<double>(n) <= delay_samples + half_width; ++n) {
        const double x = static_cast<double>(n) - delay_samples;
        const double sinc = x == 0.0 ? 1.0 : std::sin(pi * x) / (pi * x);
        const double u = (x + half_width) / (2.0 * half_width);
        const double blackman = 0.42 - 0.5 * std::cos(2.0 * pi * u) + 0.08 * std::cos(4.0 * pi * u);
        response.at(static_cast<std::size_t>(n)) += gain * sinc * blackman;
    }
}

/// Spectrum of samples zero-padded to fft_size.
std::vector<std::complex<double>> spectrum_of(const std::vector<double>& samples, std::size_t fft_size) {
    RealFft<double> fft(fft_size);
    std::vector<std::complex<double>> bins(fft.bin_count());
    fft.forward(samples, bins);
    return bins;
}

/// In-band error of a deconvolved impulse response against the true one, in dB: the power of
/// the spectral difference over the bins in the full-gain part of the band, relative to the true
/// response's power there.
double in_band_error_db(const std::vector<float>& deconvolved, const std::vector<double>& true_response,
                        const DeconvolutionBand& band, double sample_rate_hz) {
    const std::size_t fft_size = deconvolved.size();
    const auto measured = spectrum_of(to_double(deconvolved), fft_size);
    const auto expected = spectrum_of(true_response, fft_size);
    const DeconvolutionBand full = linetune::analysis::full_gain_band(band);
    double error_power = 0;
    double true_power = 0;
    for (std::size_t k = 0; k < measured.size(); ++k) {
        const double freq_hz = static_cast<double>(k) * sample_rate_hz / static_cast<double>(fft_size);
        if (freq_hz >= full.start_freq_hz && freq_hz <= full.end_freq_hz) {
            error_power += std::norm(measured[k] - expected[k]);
            true_power += std::norm(expected[k]);
        }
    }
    return linetune::db_from_power(error_power / true_power);
}

/// Message of the Error that the call throws, or "" when it throws none.
template <typename Call>
std::string error_message(Call call, ErrorKind expected_kind = ErrorKind::input) {
    try {
        call();
    } catch (const Error& error) {
        CHECK(error.kind() == expected_kind);
        return error.what();
    }
    return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("deconvolution") {

TEST_CASE("sweep estimate matches the generator") {
    // The estimate starts at the first sample above -60 dB, a few ms into the fade-in, so its
    // start frequency is the generator's instantaneous frequency there (within 0.02 %), a little
    // above f1. Allowed: L within 0.01 %, f2 and the duration within 0.5 %.
    for (const double sample_rate_hz : {44100.0, 48000.0, 96000.0}) {
        for (const std::size_t silence_samples : {std::size_t{0}, std::size_t{12000}}) {
            CAPTURE(sample_rate_hz);
            CAPTURE(silence_samples);
            const SweepParameters parameters = test_sweep(sample_rate_hz, 3.0);
            auto sweep = linetune::generate_exponential_sweep(parameters);
            sweep.insert(sweep.begin(), silence_samples, 0.0F);
            sweep.insert(sweep.end(), silence_samples / 2, 0.0F);
            const auto estimate = linetune::analysis::estimate_sweep(sweep, sample_rate_hz);

            const double start_time_s = static_cast<double>(estimate.first_sample - silence_samples) / sample_rate_hz;
            CHECK(estimate.first_sample >= silence_samples);
            CHECK(start_time_s < parameters.fade_in_s);
            CHECK(estimate.start_freq_hz == doctest::Approx(linetune::instantaneous_frequency_hz(parameters, start_time_s)).epsilon(2e-4));
            CHECK(estimate.start_freq_hz == doctest::Approx(parameters.start_freq_hz).epsilon(0.01));
            CHECK(estimate.end_freq_hz == doctest::Approx(parameters.end_freq_hz).epsilon(0.005));
            CHECK(estimate.rate_s == doctest::Approx(linetune::sweep_rate_s(parameters)).epsilon(1e-4));
            CHECK(estimate.duration_s == doctest::Approx(linetune::sweep_duration_s(parameters)).epsilon(0.005));
            // The half-Hann fade-in 0.5 − 0.5·cos(π·t/T) reaches 0.99 at t = T·acos(−0.98)/π.
            const double fade_end_s = parameters.fade_in_s * std::acos(-0.98) / pi;
            CHECK(start_time_s + estimate.fade_in_s == doctest::Approx(fade_end_s).epsilon(0.02));
        }
    }
}

TEST_CASE("sweep estimate reaches Nyquist") {
    SweepParameters parameters = test_sweep();
    parameters.end_freq_hz = 24000;
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    const auto estimate = linetune::analysis::estimate_sweep(sweep, parameters.sample_rate_hz);
    CHECK(estimate.end_freq_hz <= 24000.0);
    CHECK(estimate.end_freq_hz == doctest::Approx(24000.0).epsilon(0.005));
}

TEST_CASE("non-sweeps are rejected") {
    const double sample_rate_hz = 48000;
    const std::size_t size = 48000;

    // Linear sweep 20 Hz to 20 kHz: ln f bends away from a line.
    std::vector<float> linear_sweep(size);
    for (std::size_t n = 0; n < size; ++n) {
        const double t = static_cast<double>(n) / sample_rate_hz;
        linear_sweep[n] = static_cast<float>(0.5 * std::sin(2.0 * pi * (20.0 * t + 0.5 * 19980.0 * t * t)));
    }
    const std::string linear_message =
        error_message([&] { (void)linetune::analysis::estimate_sweep(linear_sweep, sample_rate_hz); });
    CHECK(contains(linear_message, "played sweep is not an exponential sweep: ln(frequency) deviates"));

    std::mt19937 generator(1);
    std::normal_distribution<float> normal(0.0F, 0.1F);
    std::vector<float> noise(size);
    for (auto& sample : noise) {
        sample = normal(generator);
    }
    const std::string noise_message =
        error_message([&] { (void)linetune::analysis::estimate_sweep(noise, sample_rate_hz); });
    CHECK(contains(noise_message, "played sweep is not an exponential sweep"));

    std::vector<float> tone(size);
    for (std::size_t n = 0; n < size; ++n) {
        tone[n] = static_cast<float>(0.5 * std::sin(2.0 * pi * 1000.0 * static_cast<double>(n) / sample_rate_hz));
    }
    const std::string tone_message =
        error_message([&] { (void)linetune::analysis::estimate_sweep(tone, sample_rate_hz); });
    CHECK(contains(tone_message, "played sweep is not an exponential sweep"));
}

TEST_CASE("silent or broken sweep files are rejected") {
    const std::vector<float> silence(48000, 0.0F);
    CHECK(error_message([&] { SweepDeconvolver(silence, 48000); }) ==
          "played sweep is silent (all 48000 samples are zero); pass the sweep file that was played, "
          "not a recording channel");

    auto sweep = linetune::generate_exponential_sweep(test_sweep());
    sweep[1234] = std::numeric_limits<float>::quiet_NaN();
    CHECK(error_message([&] { SweepDeconvolver(sweep, 48000); }) ==
          "played sweep sample 1234 is nan; the sweep must contain finite samples only, so regenerate "
          "the sweep file");

    CHECK(error_message([&] { SweepDeconvolver(std::vector<float>(100, 0.1F), 48000); }) ==
          "played sweep has 100 samples, fewer than the 10 ms (480 samples) needed to measure a sweep; "
          "pass the whole sweep file");

    CHECK(error_message([&] { SweepDeconvolver(sweep, 0); }, ErrorKind::configuration) ==
          "sample rate 0 Hz is outside 1000 to 1000000 Hz; check the file header or the --sample-rate option");
}

TEST_CASE("band outside the sweep is rejected") {
    const auto sweep = linetune::generate_exponential_sweep(test_sweep());
    const std::string below = error_message(
        [&] { SweepDeconvolver(sweep, 48000, DeconvolutionBand{10, 20000}); }, ErrorKind::configuration);
    CHECK(contains(below, "deconvolution band 10.0 Hz to 20000.0 Hz reaches outside the swept band"));

    const std::string narrow = error_message(
        [&] { SweepDeconvolver(sweep, 48000, DeconvolutionBand{1000, 1100}); }, ErrorKind::configuration);
    CHECK(contains(narrow, "deconvolution band 1000.0 Hz to 1100.0 Hz is invalid"));

    const SweepDeconvolver inside(sweep, 48000, DeconvolutionBand{100, 10000});
    CHECK(inside.band().start_freq_hz == 100.0);
    CHECK(inside.band().end_freq_hz == 10000.0);
}

TEST_CASE("band taper is a raised cosine") {
    const DeconvolutionBand band{100, 10000};
    const DeconvolutionBand full = linetune::analysis::full_gain_band(band);
    CHECK(full.start_freq_hz == doctest::Approx(100.0 * std::exp2(1.0 / 6.0)));
    CHECK(full.end_freq_hz == doctest::Approx(10000.0 / std::exp2(1.0 / 6.0)));

    using linetune::analysis::band_taper_gain;
    CHECK(band_taper_gain(band, 0.0) == 0.0);
    CHECK(band_taper_gain(band, 100.0) == 0.0);
    CHECK(band_taper_gain(band, 100.0 * std::exp2(1.0 / 12.0)) == doctest::Approx(0.5));
    CHECK(band_taper_gain(band, full.start_freq_hz) == doctest::Approx(1.0));
    CHECK(band_taper_gain(band, 1000.0) == 1.0);
    CHECK(band_taper_gain(band, 10000.0 / std::exp2(1.0 / 12.0)) == doctest::Approx(0.5));
    CHECK(band_taper_gain(band, 10000.0) == 0.0);
    CHECK(band_taper_gain(band, 20000.0) == 0.0);
}

TEST_CASE("delayed sweep peaks at its delay") {
    const auto sweep = linetune::generate_exponential_sweep(test_sweep());
    SweepDeconvolver deconvolver(sweep, 48000);
    const std::size_t delay_samples = 777;
    std::vector<float> recording(sweep.size() + 24000, 0.0F);
    std::copy(sweep.begin(), sweep.end(), recording.begin() + delay_samples);

    const auto response = deconvolver.deconvolve(recording);
    CHECK(response.size() == linetune::analysis::next_fast_fft_size(recording.size()));
    const auto peak = std::max_element(response.begin(), response.end(),
                                       [](float a, float b) { return std::fabs(a) < std::fabs(b); });
    CHECK(static_cast<std::size_t>(peak - response.begin()) == delay_samples);
    // The band-limited unit impulse is the inverse DFT of the taper W: its peak is
    // (1/N)·Σ W over both halves of the spectrum, 2/N·Σ W(f_k) for k = 1 … N/2 − 1.
    double taper_sum = 0;
    for (std::size_t k = 1; k < response.size() / 2; ++k) {
        taper_sum += linetune::analysis::band_taper_gain(deconvolver.band(), static_cast<double>(k) * 48000.0 / static_cast<double>(response.size()));
    }
    CHECK(*peak == doctest::Approx(2.0 * taper_sum / static_cast<double>(response.size())).epsilon(1e-4));
}

TEST_CASE("known impulse response recovered within -80 dB") {
    // A direct sound at a fractional delay and a decaying train of fractional-delay reflections.
    std::vector<double> true_response(3000, 0.0);
    add_fractional_impulse(true_response, 40.3, 1.0);
    for (int reflection = 1; reflection <= 8; ++reflection) {
        add_fractional_impulse(true_response, 40.3 + 311.7 * reflection, 0.8 * std::pow(-0.6, reflection));
    }

    const SweepParameters parameters = test_sweep();
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    const auto recording = to_float(convolve(to_double(sweep), true_response));
    SweepDeconvolver deconvolver(sweep, parameters.sample_rate_hz);
    const auto response = deconvolver.deconvolve(recording);

    const double error_db = in_band_error_db(response, true_response, deconvolver.band(), parameters.sample_rate_hz);
    MESSAGE("in-band error " << error_db << " dB");
    CHECK(error_db <= -80.0);
}

TEST_CASE("room response survives sweep round trip") {
    if (!linetune::test::shared_data_available()) {
        return;
    }
    // Public-domain OpenAIR living-room response, mono, 44.1 kHz, 16-bit.
    const auto path = linetune::test::shared_data_dir() / "ir" / "openair-python-acoustics" / "living_room_1.wav";
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    REQUIRE_MESSAGE(file != nullptr, "cannot open " << path.string());
    std::vector<double> true_response(static_cast<std::size_t>(info.frames * info.channels));
    const sf_count_t read = sf_readf_double(file, true_response.data(), info.frames);
    sf_close(file);
    REQUIRE(read == info.frames);
    REQUIRE(info.channels == 1);

    const SweepParameters parameters = test_sweep(info.samplerate, 2.0);
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    const auto recording = to_float(convolve(to_double(sweep), true_response));
    SweepDeconvolver deconvolver(sweep, parameters.sample_rate_hz);
    const auto response = deconvolver.deconvolve(recording);

    const double error_db = in_band_error_db(response, true_response, deconvolver.band(), parameters.sample_rate_hz);
    MESSAGE("in-band error " << error_db << " dB");
    CHECK(error_db <= -80.0);
}

TEST_CASE("noise outside the band is not amplified") {
    // Measured on white noise alone (no sweep response): the deconvolved output's mean power per
    // FFT bin below the band and above it, against its mean power per bin in the full-gain band.
    // An unregularised 1/X would lift the out-of-band noise far above the in-band level, because
    // |X| falls by orders of magnitude outside the swept band; the taper must hold it at least
    // 100 dB below (what is left is float rounding in the FFTs).
    const SweepParameters parameters = test_sweep();
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    SweepDeconvolver deconvolver(sweep, parameters.sample_rate_hz, DeconvolutionBand{100, 10000});

    std::mt19937 generator(42);
    std::normal_distribution<float> normal(0.0F, 0.01F);
    std::vector<float> noise(sweep.size() + 12000);
    for (auto& sample : noise) {
        sample = normal(generator);
    }
    const auto output = deconvolver.deconvolve(noise);
    const auto bins = spectrum_of(to_double(output), output.size());

    const DeconvolutionBand full = linetune::analysis::full_gain_band(deconvolver.band());
    double below_power = 0;
    double above_power = 0;
    double in_band_power = 0;
    std::size_t below_count = 0;
    std::size_t above_count = 0;
    std::size_t in_band_count = 0;
    for (std::size_t k = 0; k < bins.size(); ++k) {
        const double freq_hz = static_cast<double>(k) * parameters.sample_rate_hz / static_cast<double>(output.size());
        if (freq_hz < 100.0) {
            below_power += std::norm(bins[k]);
            ++below_count;
        } else if (freq_hz > 10000.0) {
            above_power += std::norm(bins[k]);
            ++above_count;
        } else if (freq_hz >= full.start_freq_hz && freq_hz <= full.end_freq_hz) {
            in_band_power += std::norm(bins[k]);
            ++in_band_count;
        }
    }
    const double in_band_mean = in_band_power / static_cast<double>(in_band_count);
    const double below_db = linetune::db_from_power(below_power / static_cast<double>(below_count) / in_band_mean);
    const double above_db = linetune::db_from_power(above_power / static_cast<double>(above_count) / in_band_mean);
    MESSAGE("out-of-band noise relative to in-band: below " << below_db << " dB, above " << above_db << " dB");
    CHECK(below_db < -100.0);
    CHECK(above_db < -100.0);
}

TEST_CASE("inverse spectrum computed once per size") {
    const auto sweep = linetune::generate_exponential_sweep(test_sweep());
    SweepDeconvolver deconvolver(sweep, 48000);
    CHECK(deconvolver.inverse_spectra_computed() == 0);

    std::vector<float> first(sweep.size() + 4800, 0.0F);
    std::copy(sweep.begin(), sweep.end(), first.begin());
    const auto first_response = deconvolver.deconvolve(first);
    CHECK(deconvolver.inverse_spectra_computed() == 1);

    // A second recording of the same size reuses the cached inverse and gives the same result.
    const auto second_response = deconvolver.deconvolve(first);
    CHECK(deconvolver.inverse_spectra_computed() == 1);
    CHECK(second_response == first_response);

    std::vector<float> longer(sweep.size() + 48000, 0.0F);
    (void)deconvolver.deconvolve(longer);
    CHECK(deconvolver.inverse_spectra_computed() == 2);
    (void)deconvolver.deconvolve(first);
    CHECK(deconvolver.inverse_spectra_computed() == 2);
}

TEST_CASE("unusable recordings are rejected") {
    const auto sweep = linetune::generate_exponential_sweep(test_sweep());
    SweepDeconvolver deconvolver(sweep, 48000);

    const std::vector<float> short_recording(sweep.size() - 1, 0.0F);
    CHECK(error_message([&] { (void)deconvolver.deconvolve(short_recording); }) ==
          "recording of " + std::to_string(sweep.size() - 1) + " samples is shorter than the played sweep of " +
              std::to_string(sweep.size()) + " samples; record the whole sweep plus the decay of the room");

    std::vector<float> broken(sweep.size() + 100, 0.0F);
    broken[5000] = std::numeric_limits<float>::infinity();
    CHECK(error_message([&] { (void)deconvolver.deconvolve(broken); }) ==
          "recording sample 5000 is inf; the recording must contain finite samples only, so check the file");
}

}  // TEST_SUITE
