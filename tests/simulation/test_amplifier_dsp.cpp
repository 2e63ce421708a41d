#include "linetune/analysis/biquad.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"
#include "linetune/simulation/amplifier_dsp.hpp"

#include "test_support.hpp"

#include <cmath>
#include <complex>
#include <random>
#include <vector>

namespace {

using namespace linetune;
using simulation::apply_channel_state;
using simulation::channel_delay_samples;
using simulation::channel_impulse_response;
using simulation::channel_response;

constexpr double rate_hz = 48000.0;

DeviceProfile test_profile() {
    DeviceProfile profile;
    profile.name = "test-dsp";
    profile.channel_count = 8;
    profile.sample_rate_hz = rate_hz;
    profile.latency_ms = 1.0;  // 48 samples
    return profile;
}

ChannelState channel_with_bands() {
    ChannelState channel;
    channel.bands = {
        {true, FilterKind::peaking, 1000.0, 6.0, 2.0},
        {true, FilterKind::low_shelf, 120.0, -4.0, 0.7071},
        {false, FilterKind::peaking, 3000.0, -12.0, 4.0},  // disabled: must have no effect
        {true, FilterKind::high_shelf, 8000.0, 3.0, 0.7071},
        {true, FilterKind::high_pass, 30.0, 0.0, 0.7071},
    };
    return channel;
}

/// Expected magnitude of the enabled bands from analysis::band_magnitude_db.
double expected_eq_db(const ChannelState& channel, double freq_hz) {
    double sum_db = 0.0;
    for (const auto& band : channel.bands) {
        if (!band.enabled) {
            continue;
        }
        const auto type = *analysis::parse_filter_type(to_string(band.type));
        sum_db += analysis::band_magnitude_db({type, band.freq_hz, band.gain_db, band.q}, freq_hz, rate_hz);
    }
    return sum_db;
}

std::vector<float> random_signal(std::size_t frames) {
    std::mt19937 engine(7);
    std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
    std::vector<float> signal(frames);
    for (auto& sample : signal) {
        sample = uniform(engine);
    }
    return signal;
}

}  // namespace

TEST_SUITE("amplifier DSP model") {

TEST_CASE("enabled EQ bands match band_magnitude_db within 0.05 dB") {
    const auto channel = channel_with_bands();
    const std::size_t frames = 1 << 17;  // 2.7 s: the 30 Hz high-pass has decayed far below float precision
    const auto ir = channel_impulse_response(channel, test_profile(), frames);

    analysis::RealFft<float> fft(frames);
    std::vector<std::complex<float>> bins(fft.bin_count());
    fft.forward(ir, bins);
    double worst_db = 0.0;
    for (std::size_t k = 1; k < bins.size(); ++k) {
        const double f = static_cast<double>(k) * rate_hz / static_cast<double>(frames);
        if (f < 20.0 || f > 20000.0) {
            continue;
        }
        const double measured_db = 20.0 * std::log10(std::abs(std::complex<double>(bins[k])));
        worst_db = std::max(worst_db, std::fabs(measured_db - expected_eq_db(channel, f)));
    }
    MESSAGE("largest deviation from band_magnitude_db, 20 Hz to 20 kHz: " << worst_db << " dB");
    CHECK(worst_db < 0.05);
}

TEST_CASE("delay is whole samples of the DSP rate plus the profile latency") {
    ChannelState channel;
    channel.delay_ms = 2.5;  // 120 samples at 48 kHz
    CHECK(channel_delay_samples(channel, test_profile()) == 168);

    const auto ir = channel_impulse_response(channel, test_profile(), 400);
    for (std::size_t n = 0; n < ir.size(); ++n) {
        CHECK(ir[n] == (n == 168 ? 1.0f : 0.0f));
    }

    channel.delay_ms = 0.01;  // 0.48 samples: rounds to none
    CHECK(channel_delay_samples(channel, test_profile()) == 48);
    channel.delay_ms = 0.0105;  // 0.504 samples: rounds to one
    CHECK(channel_delay_samples(channel, test_profile()) == 49);
}

TEST_CASE("delayed signal is the input shifted exactly") {
    ChannelState channel;
    channel.delay_ms = 10.0;  // 480 samples, plus 48 of latency
    const auto input = random_signal(4000);
    const auto output = apply_channel_state(input, channel, test_profile());
    REQUIRE(output.size() == input.size());
    for (std::size_t n = 0; n < 528; ++n) {
        CHECK(output[n] == 0.0f);
    }
    for (std::size_t n = 528; n < output.size(); ++n) {
        CHECK(output[n] == input[n - 528]);
    }
}

TEST_CASE("muted channel is silent") {
    auto channel = channel_with_bands();
    channel.gain_db = 6.0;
    channel.mute = true;
    const auto output = apply_channel_state(random_signal(2000), channel, test_profile());
    for (const float sample : output) {
        CHECK(sample == 0.0f);
    }
    const std::vector<double> freqs_hz{100.0, 1000.0};
    for (const auto value : channel_response(channel, test_profile(), freqs_hz)) {
        CHECK(std::abs(value) == 0.0);
    }
}

TEST_CASE("inverted polarity negates the output") {
    auto channel = channel_with_bands();
    const auto input = random_signal(3000);
    const auto normal = apply_channel_state(input, channel, test_profile());
    channel.polarity_inverted = true;
    const auto inverted = apply_channel_state(input, channel, test_profile());
    for (std::size_t n = 0; n < input.size(); ++n) {
        CHECK(inverted[n] == -normal[n]);
    }
}

TEST_CASE("gain scales the output by its amplitude") {
    ChannelState channel;
    channel.gain_db = -7.5;
    const auto input = random_signal(1000);
    const auto output = apply_channel_state(input, channel, test_profile());
    const double factor = std::pow(10.0, -7.5 / 20.0);
    for (std::size_t n = 48; n < input.size(); ++n) {
        CHECK(std::fabs(output[n] - factor * input[n - 48]) < 1e-7);
    }
}

TEST_CASE("channel response equals the spectrum of the impulse response") {
    auto channel = channel_with_bands();
    channel.delay_ms = 3.0;
    channel.gain_db = 2.0;
    channel.polarity_inverted = true;
    const std::size_t frames = 1 << 17;
    const auto ir = channel_impulse_response(channel, test_profile(), frames);
    analysis::RealFft<float> fft(frames);
    std::vector<std::complex<float>> bins(fft.bin_count());
    fft.forward(ir, bins);

    std::vector<double> freqs_hz;
    std::vector<std::size_t> indices;
    for (const std::size_t k : {100U, 1000U, 2731U, 10000U, 30000U}) {
        indices.push_back(k);
        freqs_hz.push_back(static_cast<double>(k) * rate_hz / static_cast<double>(frames));
    }
    const auto expected = channel_response(channel, test_profile(), freqs_hz);
    for (std::size_t i = 0; i < indices.size(); ++i) {
        const std::complex<double> measured(bins[indices[i]]);
        CHECK(std::abs(measured - expected[i]) < 1e-4 * std::abs(expected[i]));
    }
}

TEST_CASE("band at the Nyquist frequency is a configuration error naming the band") {
    ChannelState channel;
    channel.bands = {{true, FilterKind::peaking, 1000.0, 3.0, 1.0}, {true, FilterKind::peaking, 24000.0, 3.0, 1.0}};
    try {
        (void)apply_channel_state(random_signal(10), channel, test_profile());
        FAIL("no error");
    } catch (const Error& error) {
        CHECK(error.kind() == ErrorKind::configuration);
        CHECK(std::string(error.what()).find("EQ band 2") != std::string::npos);
        CHECK(std::string(error.what()).find("Nyquist") != std::string::npos);
    }
}

TEST_CASE("negative delay is a configuration error") {
    ChannelState channel;
    channel.delay_ms = -1.0;
    const auto message = test::error_message([&] { (void)channel_delay_samples(channel, test_profile()); });
    CHECK(message.find("delay -1 ms is invalid") != std::string::npos);
}

}  // TEST_SUITE
