#include "linetune/analysis/fft.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <cmath>
#include <complex>
#include <cstddef>
#include <random>
#include <vector>

namespace {

using linetune::pi;
using linetune::analysis::RealFft;

template <typename T>
std::vector<T> random_signal(std::size_t size, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<T> normal(T{0}, T{1});
    std::vector<T> samples(size);
    for (auto& sample : samples) {
        sample = normal(generator);
    }
    return samples;
}

bool is_seven_smooth(std::size_t value) {
    for (const std::size_t factor : {2U, 3U, 5U, 7U}) {
        while (value % factor == 0) {
            value /= factor;
        }
    }
    return value == 1;
}

template <typename T>
double max_round_trip_error(std::size_t size) {
    const auto input = random_signal<T>(size, 7);
    RealFft<T> fft(size);
    std::vector<std::complex<T>> bins(fft.bin_count());
    std::vector<T> output(size);
    fft.forward(input, bins);
    fft.inverse(bins, output);

    double max_error = 0;
    for (std::size_t i = 0; i < size; ++i) {
        max_error = std::max(max_error, std::fabs(static_cast<double>(output[i] - input[i])));
    }
    return max_error;
}

}  // namespace

TEST_SUITE("fft") {

TEST_CASE("round trip restores the signal") {
    // Unit-variance noise: float keeps about 7 digits, so 1e-5 leaves room for log2(N) stages.
    for (const std::size_t size : {std::size_t{64}, std::size_t{1000}, std::size_t{3 * 5 * 7 * 64}}) {
        CAPTURE(size);
        CHECK(max_round_trip_error<float>(size) < 1e-5);
        CHECK(max_round_trip_error<double>(size) < 1e-12);
    }
}

TEST_CASE("Parseval holds for random noise") {
    // Σ|x[n]|² = (1/N)·Σ over all N bins |X[k]|². The one-sided spectrum counts bins 1 … N/2−1 twice.
    const std::size_t size = 4410;
    const auto input = random_signal<double>(size, 3);
    RealFft<double> fft(size);
    std::vector<std::complex<double>> bins(fft.bin_count());
    fft.forward(input, bins);

    double time_energy = 0;
    for (const double sample : input) {
        time_energy += sample * sample;
    }
    double spectral_energy = std::norm(bins.front()) + std::norm(bins.back());
    for (std::size_t k = 1; k + 1 < bins.size(); ++k) {
        spectral_energy += 2.0 * std::norm(bins[k]);
    }
    spectral_energy /= static_cast<double>(size);

    CHECK(spectral_energy == doctest::Approx(time_energy).epsilon(1e-12));
}

TEST_CASE("cosine on a bin lands in that bin") {
    const std::size_t size = 512;
    const std::size_t bin = 37;
    std::vector<double> input(size);
    for (std::size_t n = 0; n < size; ++n) {
        input[n] = std::cos(2.0 * pi * static_cast<double>(bin * n) / static_cast<double>(size));
    }
    RealFft<double> fft(size);
    std::vector<std::complex<double>> bins(fft.bin_count());
    fft.forward(input, bins);

    // X[k] = N/2 at the cosine's bin, zero elsewhere (to rounding).
    CHECK(bins[bin].real() == doctest::Approx(size / 2.0).epsilon(1e-12));
    CHECK(std::fabs(bins[bin].imag()) < 1e-9);
    double leakage = 0;
    for (std::size_t k = 0; k < bins.size(); ++k) {
        if (k != bin) {
            leakage = std::max(leakage, std::abs(bins[k]));
        }
    }
    CHECK(leakage < 1e-9);
}

TEST_CASE("in-place buffers match the copying calls") {
    const std::size_t size = 960;
    const auto input = random_signal<float>(size, 11);
    RealFft<float> fft(size);
    std::vector<std::complex<float>> bins(fft.bin_count());
    fft.forward(input, bins);

    std::copy(input.begin(), input.end(), fft.time_buffer().begin());
    fft.execute_forward();
    double max_bin_difference = 0;
    for (std::size_t k = 0; k < bins.size(); ++k) {
        max_bin_difference = std::max(max_bin_difference, static_cast<double>(std::abs(fft.bin_buffer()[k] - bins[k])));
    }
    CHECK(max_bin_difference < 1e-4);

    // execute_inverse() is unnormalised: it returns N·x.
    fft.execute_inverse();
    const auto time = fft.time_buffer();
    double max_error = 0;
    for (std::size_t n = 0; n < size; ++n) {
        max_error = std::max(max_error, std::fabs(static_cast<double>(time[n]) / size - input[n]));
    }
    CHECK(max_error < 1e-5);
}

TEST_CASE("tone envelope equals its amplitude") {
    // A Hann-windowed tone between bins. The Hann window's spectrum lies far below the tone's
    // frequency, so by Bedrosian's theorem H{a(t)·sin ωt} = −a(t)·cos ωt and the envelope is
    // exactly a(t). A rectangular tone would ring at its ends instead (about 0.2 % a tenth of the
    // way in). Allowed: 1e-4 of the amplitude, and 1e-5 relative frequency error where the
    // envelope is above a tenth of its peak.
    const double sample_rate_hz = 48000;
    const double freq_hz = 1234.5;
    const double amplitude = 0.7;
    const std::size_t size = 9600;
    std::vector<double> envelope(size);
    std::vector<float> tone(size);
    for (std::size_t n = 0; n < size; ++n) {
        const double t = static_cast<double>(n) / sample_rate_hz;
        envelope[n] = amplitude * (0.5 - 0.5 * std::cos(2.0 * pi * static_cast<double>(n) / static_cast<double>(size)));
        tone[n] = static_cast<float>(envelope[n] * std::sin(2.0 * pi * freq_hz * t));
    }
    const auto analytic = linetune::analysis::analytic_signal(tone);
    REQUIRE(analytic.size() == size);

    double max_envelope_error = 0;
    double max_frequency_error = 0;
    for (std::size_t n = 0; n + 1 < size; ++n) {
        max_envelope_error = std::max(max_envelope_error, std::fabs(std::abs(analytic[n]) - envelope[n]));
        if (envelope[n] > 0.1 * amplitude) {
            const double measured_hz = std::arg(analytic[n + 1] * std::conj(analytic[n])) * sample_rate_hz / (2.0 * pi);
            max_frequency_error = std::max(max_frequency_error, std::fabs(measured_hz - freq_hz) / freq_hz);
        }
    }
    CHECK(max_envelope_error < 1e-4 * amplitude);
    CHECK(max_frequency_error < 1e-5);
}

TEST_CASE("analytic signal real part is the input") {
    const auto input = random_signal<float>(1001, 5);
    const auto analytic = linetune::analysis::analytic_signal(input);
    REQUIRE(analytic.size() == input.size());
    double max_error = 0;
    for (std::size_t n = 0; n < input.size(); ++n) {
        max_error = std::max(max_error, std::fabs(analytic[n].real() - input[n]));
    }
    CHECK(max_error < 1e-9);
    CHECK(linetune::analysis::analytic_signal(std::vector<float>{}).empty());
}

TEST_CASE("next fast size is 7-smooth") {
    using linetune::analysis::next_fast_fft_size;
    CHECK(next_fast_fft_size(0) == 1);
    CHECK(next_fast_fft_size(1) == 1);
    CHECK(next_fast_fft_size(11) == 12);
    CHECK(next_fast_fft_size(13) == 14);
    CHECK(next_fast_fft_size(97) == 98);
    CHECK(next_fast_fft_size(1025) == 1029);
    CHECK(next_fast_fft_size(std::size_t{1} << 20) == std::size_t{1} << 20);
    CHECK(next_fast_fft_size((std::size_t{1} << 20) + 1) == 1049760);  // 2^5·3^8·5

    // Exhaustive up to 5000: the result is 7-smooth, at least the request, and no 7-smooth size
    // lies in between.
    std::size_t failures = 0;
    for (std::size_t request = 1; request <= 5000; ++request) {
        const std::size_t size = next_fast_fft_size(request);
        bool ok = size >= request && is_seven_smooth(size);
        for (std::size_t between = request; ok && between < size; ++between) {
            ok = !is_seven_smooth(between);
        }
        failures += ok ? 0 : 1;
    }
    CHECK(failures == 0);
}

}  // TEST_SUITE
