#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/time_delay.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/signal.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>
#include <sndfile.h>

#include <cmath>
#include <complex>
#include <cstddef>
#include <random>
#include <vector>

using linetune::analysis::gcc_phat_delay;
using linetune::analysis::gcc_phat_delay_matrix;
using linetune::analysis::gcc_phat_precision_samples;

namespace {

// Required precision for band-limited impulses at 40 dB SNR, and for coloured noise.
constexpr double impulse_tolerance_samples = 0.05;
constexpr double noise_tolerance_samples = 0.1;

/// Delays a signal by a fractional number of samples with a circular frequency-domain phase ramp
/// X[k]·e^(−j2πkD/N). The Nyquist bin is dropped because its delayed value is not real.
std::vector<float> delayed(const std::vector<float>& signal, double delay_samples) {
    const std::size_t size = signal.size();
    linetune::analysis::RealFft<double> fft(size);
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    const std::vector<double> input(signal.begin(), signal.end());
    fft.forward(input, spectrum);
    for (std::size_t k = 0; k < spectrum.size(); ++k) {
        const double phase = -2.0 * linetune::pi * static_cast<double>(k) * delay_samples / static_cast<double>(size);
        spectrum[k] *= std::polar(1.0, phase);
    }
    spectrum.back() = 0.0;
    std::vector<double> output(size);
    fft.inverse(spectrum, output);
    return {output.begin(), output.end()};
}

/// Gaussian noise of the given RMS.
std::vector<float> white_noise(std::size_t length, double rms, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> normal(0.0, rms);
    std::vector<float> noise(length);
    for (auto& sample : noise) {
        sample = static_cast<float>(normal(generator));
    }
    return noise;
}

/// Red-tilted noise: white noise through a one-pole low-pass y[n] = x[n] + 0.95·y[n−1].
std::vector<float> coloured_noise(std::size_t length, unsigned seed) {
    auto noise = white_noise(length, 0.05, seed);
    double state = 0.0;
    for (auto& sample : noise) {
        state = sample + 0.95 * state;
        sample = static_cast<float>(state);
    }
    return noise;
}

void add(std::vector<float>& signal, const std::vector<float>& other) {
    for (std::size_t n = 0; n < signal.size(); ++n) {
        signal[n] += other[n];
    }
}

/// Builds a band-limited impulse (windowed sinc, cutoff 0.8 of Nyquist) at sample 2048 of 8192.
std::vector<float> band_limited_impulse(double amplitude) {
    std::vector<float> impulse(8192, 0.0F);
    for (std::size_t n = 0; n < impulse.size(); ++n) {
        const double t = static_cast<double>(n) - 2048.0;
        if (std::fabs(t) > 64.0) {
            continue;
        }
        const double x = linetune::pi * 0.8 * t;
        const double sinc = t == 0.0 ? 1.0 : std::sin(x) / x;
        const double window = 0.42 + 0.5 * std::cos(linetune::pi * t / 64.0) + 0.08 * std::cos(2.0 * linetune::pi * t / 64.0);
        impulse[n] = static_cast<float>(amplitude * sinc * window);
    }
    return impulse;
}

/// Four channels of one coloured noise at the given delays, each with independent noise 40 dB
/// below it.
linetune::MultichannelSignal delayed_channels(const std::vector<double>& delays_samples) {
    const auto source = coloured_noise(32768, 30);
    double power = 0.0;
    for (const float sample : source) {
        power += static_cast<double>(sample) * sample / static_cast<double>(source.size());
    }
    linetune::MultichannelSignal signal(delays_samples.size(), source.size(), 48000.0);
    for (std::size_t c = 0; c < delays_samples.size(); ++c) {
        auto channel = delayed(source, delays_samples[c]);
        add(channel, white_noise(source.size(), std::sqrt(power) * 0.01, 40 + static_cast<unsigned>(c)));
        std::copy(channel.begin(), channel.end(), signal.channel(c).begin());
    }
    return signal;
}

}  // namespace

TEST_SUITE("time_delay") {
    TEST_CASE("gcc-phat finds fractional impulse delays within 0.05 samples") {
        const auto reference_clean = band_limited_impulse(0.5);
        unsigned seed = 1;
        for (const double delay : {0.0, 0.25, 0.37, 0.5, 0.81, -3.37, 17.81}) {
            for (const int polarity : {1, -1}) {
                auto reference = reference_clean;
                auto other = delayed(reference_clean, delay);
                for (auto& sample : other) {
                    sample *= static_cast<float>(polarity);
                }
                // 40 dB SNR: noise RMS 40 dB below the 0.5 peak.
                add(reference, white_noise(reference.size(), 0.005, seed++));
                add(other, white_noise(other.size(), 0.005, seed++));

                const auto result = gcc_phat_delay(reference, other, 100);
                CAPTURE(delay);
                CAPTURE(polarity);
                CHECK(std::fabs(result.delay_samples - delay) <= impulse_tolerance_samples);
                CHECK(result.polarity == polarity);
                CHECK(result.confidence > 0.0);
            }
        }
    }

    TEST_CASE("gcc-phat finds delays in coloured noise within 0.1 samples") {
        const std::vector<double> delays{0.0, 12.0, 7.3, -4.6};
        const auto signal = delayed_channels(delays);
        for (std::size_t c = 1; c < delays.size(); ++c) {
            const auto result = gcc_phat_delay(signal.channel(0), signal.channel(c), 50);
            CAPTURE(c);
            CHECK(std::fabs(result.delay_samples - delays[c]) <= noise_tolerance_samples);
            CHECK(result.confidence > 0.5);
            CHECK(result.polarity == 1);
        }
    }

    TEST_CASE("delay matrix is antisymmetric and consistent") {
        const std::vector<double> delays{0.0, 12.0, 7.3, -4.6};
        const auto signal = delayed_channels(delays);
        const auto matrix = gcc_phat_delay_matrix(signal, 50);
        REQUIRE(matrix.size() == delays.size());
        for (std::size_t i = 0; i < delays.size(); ++i) {
            REQUIRE(matrix[i].size() == delays.size());
            CHECK(matrix[i][i].delay_samples == 0.0);
            for (std::size_t j = 0; j < delays.size(); ++j) {
                CAPTURE(i);
                CAPTURE(j);
                CHECK(matrix[i][j].delay_samples == -matrix[j][i].delay_samples);
                CHECK(std::fabs(matrix[i][j].delay_samples - (delays[j] - delays[i])) <= noise_tolerance_samples);
                for (std::size_t k = 0; k < delays.size(); ++k) {
                    const double closure = matrix[i][k].delay_samples - matrix[i][j].delay_samples - matrix[j][k].delay_samples;
                    CHECK(std::fabs(closure) <= gcc_phat_precision_samples());
                }
            }
        }
    }

    TEST_CASE("delay matrix matches pairwise delays") {
        const auto signal = delayed_channels({0.0, 3.3, -8.8});
        const auto matrix = gcc_phat_delay_matrix(signal, 50);
        const auto pair = gcc_phat_delay(signal.channel(1), signal.channel(2), 50);
        CHECK(matrix[1][2].delay_samples == doctest::Approx(pair.delay_samples).epsilon(1e-9));
        CHECK(matrix[1][2].confidence == doctest::Approx(pair.confidence).epsilon(1e-9));
    }

    TEST_CASE("max lag is respected") {
        const auto source = coloured_noise(16384, 50);
        const auto other = delayed(source, 40.0);
        const auto limited = gcc_phat_delay(source, other, 10);
        CHECK(std::fabs(limited.delay_samples) <= 10.0);
        const auto wide = gcc_phat_delay(source, other, 60);
        CHECK(wide.delay_samples == doctest::Approx(40.0).epsilon(0.1 / 40.0));
        // A sharp true peak outside the range leaves only side lobes: confidence is low.
        CHECK(limited.confidence < 0.2);
    }

    TEST_CASE("unrelated noise has low confidence") {
        const auto first = white_noise(16384, 0.1, 60);
        const auto second = white_noise(16384, 0.1, 61);
        CHECK(gcc_phat_delay(first, second, 100).confidence < 0.2);
    }

    TEST_CASE("gcc-phat rejects an empty input") {
        const std::vector<float> some(16, 0.5F);
        CHECK_THROWS_AS(gcc_phat_delay(std::vector<float>{}, some, 4), linetune::Error);
        CHECK_THROWS_AS(gcc_phat_delay(some, std::vector<float>{}, 4), linetune::Error);
    }

    TEST_CASE("real microphone array delays are physical and consistent") {
        if (!linetune::test::shared_data_available()) {
            return;
        }
        SF_INFO info{};
        const auto path = linetune::test::shared_data_dir() / "ir" / "spatialaudio-8mic-array" / "noise_rec_one.wav";
        SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
        REQUIRE(file != nullptr);
        std::vector<float> interleaved(static_cast<std::size_t>(info.frames * info.channels));
        sf_readf_float(file, interleaved.data(), info.frames);
        sf_close(file);
        REQUIRE(info.channels == 8);
        linetune::MultichannelSignal signal(8, static_cast<std::size_t>(info.frames), info.samplerate);
        for (std::size_t c = 0; c < 8; ++c) {
            for (std::size_t n = 0; n < signal.frame_count(); ++n) {
                signal.channel(c)[n] = interleaved[n * 8 + c];
            }
        }

        // The outer microphones are 7 × 0.12 m = 0.84 m apart: at most 0.84 / 343 s, 108 samples
        // at 44.1 kHz. Search four times as far so that the bound is a finding, not the limit.
        const double max_physical_delay_samples = 0.84 / 343.0 * info.samplerate;
        const auto matrix = gcc_phat_delay_matrix(signal, 432);
        for (std::size_t i = 0; i < 8; ++i) {
            for (std::size_t j = 0; j < 8; ++j) {
                CAPTURE(i);
                CAPTURE(j);
                CHECK(std::fabs(matrix[i][j].delay_samples) <= max_physical_delay_samples);
                for (std::size_t k = 0; k < 8; ++k) {
                    const double closure = matrix[i][k].delay_samples - matrix[i][j].delay_samples - matrix[j][k].delay_samples;
                    CHECK(std::fabs(closure) <= gcc_phat_precision_samples());
                }
            }
        }
    }
}
