#include "linetune/analysis/signal_quality.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/core/units.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using linetune::analysis::assess_signal_quality;

namespace {

constexpr double sample_rate_hz = 48000.0;

/// Gaussian noise with the given RMS level in dBFS.
std::vector<float> white_noise(std::size_t length, double rms_dbfs, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> normal(0.0, linetune::amplitude_from_db(rms_dbfs));
    std::vector<float> noise(length);
    for (auto& sample : noise) {
        sample = static_cast<float>(normal(generator));
    }
    return noise;
}

/// Synthetic room impulse response: Gaussian noise under an exponential decay of reverberation
/// time rt60_s (60 dB), starting 10 ms in at a peak near −6 dBFS, with a noise floor at
/// noise_dbfs (none below −200).
std::vector<float> decaying_noise_ir(double length_s, double rt60_s, double noise_dbfs, unsigned seed) {
    const auto length = static_cast<std::size_t>(length_s * sample_rate_hz);
    const auto onset = static_cast<std::size_t>(0.010 * sample_rate_hz);
    auto ir = white_noise(length, -20.0, seed);
    const auto floor = white_noise(length, noise_dbfs, seed + 1);
    for (std::size_t n = 0; n < length; ++n) {
        double gain = 0.0;
        if (n >= onset) {
            const double t_s = static_cast<double>(n - onset) / sample_rate_hz;
            gain = std::pow(10.0, -3.0 * t_s / rt60_s);
        }
        ir[n] = static_cast<float>(ir[n] * gain + (noise_dbfs > -200.0 ? floor[n] : 0.0F));
    }
    ir[onset] = 0.5F;  // the direct sound
    return ir;
}

/// Reads channel 0 of a WAV file with libsndfile.
std::vector<float> read_first_channel(const std::filesystem::path& path, double& rate_hz) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    REQUIRE_MESSAGE(file != nullptr, "cannot open " << path.string());
    std::vector<float> interleaved(static_cast<std::size_t>(info.frames * info.channels));
    sf_readf_float(file, interleaved.data(), info.frames);
    sf_close(file);
    rate_hz = info.samplerate;
    std::vector<float> channel(static_cast<std::size_t>(info.frames));
    for (std::size_t n = 0; n < channel.size(); ++n) {
        channel[n] = interleaved[n * static_cast<std::size_t>(info.channels)];
    }
    return channel;
}

/// RBJ cookbook second-order low-pass (Bristow-Johnson, "Audio EQ Cookbook"), applied in place.
void low_pass(std::vector<float>& signal, double corner_hz, double q) {
    const double w0 = 2.0 * linetune::pi * corner_hz / sample_rate_hz;
    const double alpha = std::sin(w0) / (2.0 * q);
    const double a0 = 1.0 + alpha;
    const double b0 = (1.0 - std::cos(w0)) / 2.0 / a0;
    const double b1 = (1.0 - std::cos(w0)) / a0;
    const double a1 = -2.0 * std::cos(w0) / a0;
    const double a2 = (1.0 - alpha) / a0;
    double x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0;
    for (auto& sample : signal) {
        const double x0 = sample;
        const double y0 = b0 * x0 + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x0;
        y2 = y1;
        y1 = y0;
        sample = static_cast<float>(y0);
    }
}

}  // namespace

TEST_SUITE("signal_quality") {
    TEST_CASE("sine levels match their closed form") {
        // Amplitude 0.5: peak −6.02 dBFS, RMS 0.5/√2 = −9.03 dBFS, crest factor 3.01 dB.
        std::vector<float> sine(48000);
        for (std::size_t n = 0; n < sine.size(); ++n) {
            sine[n] = static_cast<float>(0.5 * std::sin(2.0 * linetune::pi * 1000.0 * static_cast<double>(n) / sample_rate_hz));
        }
        const auto quality = assess_signal_quality(sine, sample_rate_hz);
        CHECK(quality.peak_dbfs == doctest::Approx(-6.0206).epsilon(0.001));
        CHECK(quality.rms_dbfs == doctest::Approx(-9.0309).epsilon(0.001));
        CHECK(quality.crest_factor_db == doctest::Approx(3.0103).epsilon(0.001));
        CHECK_FALSE(quality.clipped);
        CHECK_FALSE(quality.dead);
    }

    TEST_CASE("white noise is not an impulse response") {
        const auto quality = assess_signal_quality(white_noise(96000, -20.0, 1), sample_rate_hz);
        CHECK_FALSE(quality.impulse_response);
        CHECK_FALSE(quality.not_impulse_response_reason.empty());
        CHECK_FALSE(quality.dead);
        // The noise floor of steady noise is its own RMS level, within 1 dB.
        CHECK(quality.noise_floor_dbfs == doctest::Approx(-20.0).epsilon(0.05));
    }

    TEST_CASE("decaying noise burst is an impulse response") {
        const auto quality = assess_signal_quality(decaying_noise_ir(1.5, 0.5, -90.0, 2), sample_rate_hz);
        CHECK(quality.impulse_response);
        CHECK(quality.not_impulse_response_reason.empty());
        CHECK_FALSE(quality.truncated);
        CHECK_FALSE(quality.dead);
        // The tail is noise at −90 dBFS RMS: the floor estimate lies within 1.5 dB of it.
        CHECK(quality.noise_floor_dbfs > -91.5);
        CHECK(quality.noise_floor_dbfs < -88.5);
        CHECK(quality.peak_to_noise_db == doctest::Approx(quality.peak_dbfs - quality.noise_floor_dbfs));
    }

    TEST_CASE("quiet sub is judged in its band") {
        // A 60 Hz decay (T60 0.3 s) peaking 17 dB above broadband white noise never falls 20 dB
        // below its maximum over the whole band. In its band the noise is about 25 dB lower, so
        // it decays there and counts as an impulse response, with a note naming the band.
        const auto length = static_cast<std::size_t>(2.0 * sample_rate_hz);
        std::vector<float> samples = white_noise(length, -80.0, 7);
        const double decay_per_s = std::log(1000.0) / 0.3;
        const auto start = static_cast<std::size_t>(0.01 * sample_rate_hz);
        for (std::size_t n = start; n < length; ++n) {
            const double t_s = static_cast<double>(n - start) / sample_rate_hz;
            samples[n] += static_cast<float>(1e-3 * std::exp(-decay_per_s * t_s) *
                                             std::sin(2.0 * linetune::pi * 60.0 * t_s));
        }

        const auto quality = assess_signal_quality(samples, sample_rate_hz);
        CHECK(quality.impulse_response);
        CHECK(quality.not_impulse_response_reason.empty());
        CHECK(quality.impulse_response_note.find("judged as an impulse response in its band") != std::string::npos);

        // The same noise alone stays what it is: no band turns it into an impulse response.
        const auto noise = assess_signal_quality(white_noise(length, -80.0, 7), sample_rate_hz);
        CHECK_FALSE(noise.impulse_response);
        CHECK(noise.impulse_response_note.empty());
    }

    TEST_CASE("raw sweep recording is not an impulse response") {
        linetune::SweepParameters parameters;
        parameters.duration_s = 2.0;
        auto recording = linetune::generate_exponential_sweep(parameters);
        // A room: direct sound plus one reflection 5 ms later at half the level, and noise.
        const std::size_t reflection_delay = 240;
        std::vector<float> room(recording.size() + reflection_delay, 0.0F);
        for (std::size_t n = 0; n < recording.size(); ++n) {
            room[n] += recording[n];
            room[n + reflection_delay] += 0.5F * recording[n];
        }
        const auto noise = white_noise(room.size(), -70.0, 3);
        for (std::size_t n = 0; n < room.size(); ++n) {
            room[n] += noise[n];
        }
        const auto quality = assess_signal_quality(room, sample_rate_hz);
        CHECK_FALSE(quality.impulse_response);
        CHECK(quality.not_impulse_response_reason.find("crest factor") != std::string::npos);
    }

    TEST_CASE("sweep through a resonant low-pass is not an impulse response") {
        // A subwoofer-like system (80 Hz, Q 4) turns the sweep into a loud resonance and a falling
        // tail, so the crest factor is high and the level decays: only the rising frequency shows
        // that this is a sweep.
        linetune::SweepParameters parameters;
        parameters.duration_s = 4.0;
        auto recording = linetune::generate_exponential_sweep(parameters);
        low_pass(recording, 80.0, 4.0);
        const auto quality = assess_signal_quality(recording, sample_rate_hz);
        CHECK(quality.crest_factor_db > 12.0);
        CHECK_FALSE(quality.impulse_response);
        CHECK(quality.not_impulse_response_reason.find("sweep recording") != std::string::npos);
    }

    TEST_CASE("repeated impulses are not one impulse response") {
        auto first = decaying_noise_ir(0.5, 0.2, -200.0, 4);
        const auto second = decaying_noise_ir(0.5, 0.2, -200.0, 5);
        first.insert(first.end(), second.begin(), second.end());
        const auto quality = assess_signal_quality(first, sample_rate_hz);
        CHECK_FALSE(quality.impulse_response);
        CHECK(quality.not_impulse_response_reason.find("second event") != std::string::npos);
    }

    TEST_CASE("all zeros are dead") {
        const auto quality = assess_signal_quality(std::vector<float>(4800, 0.0F), sample_rate_hz);
        CHECK(quality.dead);
        CHECK_FALSE(quality.impulse_response);
    }

    TEST_CASE("noise at -140 dBFS is dead") {
        const auto quality = assess_signal_quality(white_noise(48000, -140.0, 6), sample_rate_hz);
        CHECK(quality.dead);
        CHECK_FALSE(quality.impulse_response);
        CHECK(quality.not_impulse_response_reason.find("below -100 dBFS") != std::string::npos);
    }

    TEST_CASE("constant signal is dead") {
        const auto quality = assess_signal_quality(std::vector<float>(4800, 0.25F), sample_rate_hz);
        CHECK(quality.dead);
    }

    TEST_CASE("empty input is dead") {
        const auto quality = assess_signal_quality(std::vector<float>{}, sample_rate_hz);
        CHECK(quality.dead);
    }

    TEST_CASE("clipped sine counts its flat tops") {
        // A 100 Hz sine at amplitude 2 clipped to ±1: each half period has one flat run, made of
        // the samples within the flat-top tolerance (2 LSB of 16 bit) of full scale.
        std::vector<float> clipped(4800);
        std::size_t expected = 0;
        for (std::size_t n = 0; n < clipped.size(); ++n) {
            const double value = 2.0 * std::sin(2.0 * linetune::pi * 100.0 * static_cast<double>(n) / sample_rate_hz);
            clipped[n] = static_cast<float>(std::clamp(value, -1.0, 1.0));
            expected += std::fabs(clipped[n]) >= 1.0F - 1.0F / 16384.0F ? 1 : 0;
        }
        const auto quality = assess_signal_quality(clipped, sample_rate_hz);
        CHECK(quality.clipped);
        CHECK(quality.clipped_samples == expected);
    }

    TEST_CASE("single full-scale sample is not clipping") {
        auto ir = decaying_noise_ir(1.0, 0.3, -90.0, 7);
        ir[480] = 1.0F;
        ir[481] = 0.999F;  // two samples at full scale are normal after peak normalisation
        const auto quality = assess_signal_quality(ir, sample_rate_hz);
        CHECK_FALSE(quality.clipped);
        CHECK(quality.clipped_samples == 0);
    }

    TEST_CASE("impulse response cut mid-decay is truncated") {
        // RT60 0.6 s cut 0.3 s after the onset: the decay has fallen 30 dB and is still falling.
        const auto quality = assess_signal_quality(decaying_noise_ir(0.31, 0.6, -200.0, 8), sample_rate_hz);
        CHECK(quality.impulse_response);
        CHECK(quality.truncated);
    }

    TEST_CASE("impulse response cut mid-decay with noise is truncated") {
        const auto quality = assess_signal_quality(decaying_noise_ir(0.31, 0.6, -100.0, 9), sample_rate_hz);
        CHECK(quality.impulse_response);
        CHECK(quality.truncated);
    }

    TEST_CASE("impulse response decaying into noise is not truncated") {
        const auto quality = assess_signal_quality(decaying_noise_ir(2.0, 0.8, -80.0, 10), sample_rate_hz);
        CHECK(quality.impulse_response);
        CHECK_FALSE(quality.truncated);
    }

    TEST_CASE("sub response is an impulse response at any offset") {
        // A resonant 80 Hz low-pass (a sub) with one reflection: its 1 ms block levels dip at
        // every zero crossing, which must not read as separate events wherever the pulse starts.
        for (const std::size_t offset : {2400U, 2401U, 2880U, 3840U, 4752U}) {
            CAPTURE(offset);
            std::vector<float> response(static_cast<std::size_t>(0.5 * sample_rate_hz), 0.0F);
            response[offset] = 1.0F;
            response[offset + 600] = 0.5F;
            low_pass(response, 80.0, 2.0);
            const auto noise = white_noise(response.size(), -90.0, 13);
            for (std::size_t n = 0; n < response.size(); ++n) {
                response[n] += noise[n];
            }
            const auto quality = assess_signal_quality(response, sample_rate_hz);
            CHECK(quality.impulse_response);
            CHECK(quality.not_impulse_response_reason.empty());
        }
    }

    TEST_CASE("electrical impulse response in noise is not truncated") {
        // A loopback measurement of a DSP: one delayed impulse, then only the noise floor.
        auto response = white_noise(static_cast<std::size_t>(sample_rate_hz), -100.0, 11);
        response[240] += 0.7F;
        const auto quality = assess_signal_quality(response, sample_rate_hz);
        CHECK(quality.impulse_response);
        CHECK_FALSE(quality.truncated);
    }

    TEST_CASE("impulse response faded to digital silence is not truncated") {
        // Cut at 0.5 s (50 dB down, no noise) with a half-Hann fade over its last 20 %, which
        // reaches exactly zero at the last sample.
        auto ir = decaying_noise_ir(0.5, 0.6, -200.0, 11);
        const std::size_t fade = ir.size() / 5;
        for (std::size_t i = 0; i < fade; ++i) {
            const double position = static_cast<double>(i) / static_cast<double>(fade - 1);
            ir[ir.size() - fade + i] *= static_cast<float>(0.5 * (1.0 + std::cos(linetune::pi * position)));
        }
        const auto faded = assess_signal_quality(ir, sample_rate_hz);
        CHECK(faded.impulse_response);
        CHECK_FALSE(faded.truncated);

        ir.resize(ir.size() + 4800, 0.0F);
        const auto padded = assess_signal_quality(ir, sample_rate_hz);
        CHECK(padded.impulse_response);
        CHECK_FALSE(padded.truncated);
    }

    TEST_CASE("non-finite sample is rejected with its index") {
        std::vector<float> samples(100, 0.1F);
        samples[42] = std::nanf("");
        CHECK_THROWS_WITH_AS(assess_signal_quality(samples, sample_rate_hz), doctest::Contains("sample 42"),
                             linetune::Error);
    }

    TEST_CASE("real noise recording is not an impulse response") {
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

        for (std::size_t c = 0; c < 8; ++c) {
            std::vector<float> channel(static_cast<std::size_t>(info.frames));
            for (std::size_t n = 0; n < channel.size(); ++n) {
                channel[n] = interleaved[n * 8 + c];
            }
            const auto quality = assess_signal_quality(channel, info.samplerate);
            CAPTURE(c);
            CHECK_FALSE(quality.impulse_response);
            CHECK_FALSE(quality.dead);
            CHECK_FALSE(quality.not_impulse_response_reason.empty());
        }
    }

    TEST_CASE("real impulse responses are impulse responses") {
        if (!linetune::test::shared_data_available()) {
            return;
        }
        const char* files[] = {
            "adventurekid-speaker-irs/Modern_US_001.wav",   "adventurekid-speaker-irs/Speaker_001.wav",
            "openair-python-acoustics/ir_sportscentre_omni.wav",
            "openair-python-acoustics/living_room_1.wav",   "openair-toobamp/Arthur_Sykes_Rymer_Auditorium.wav",
            "openair-toobamp/Genesis_6_Studio_Live_Room.wav", "spatialaudio-clap/brir_clap.wav",
            "spatialaudio-clap/rir_clap.wav",               "webaudio-house/cinema-room.wav",
            "webaudio-house/dining-far-kitchen.wav",        "webaudio-house/kitchen.wav",
            "webaudio-house/living-bedroom.wav",            "webaudio-tim-warehouse/omni-35-10.wav",
            "webaudio-tim-warehouse/cardiod-35-10.wav",
        };
        for (const char* name : files) {
            CAPTURE(name);
            double rate_hz = 0.0;
            const auto ir = read_first_channel(linetune::test::shared_data_dir() / "ir" / name, rate_hz);
            const auto quality = assess_signal_quality(ir, rate_hz);
            CHECK_MESSAGE(quality.impulse_response, quality.not_impulse_response_reason);
            CHECK_FALSE(quality.clipped);
            CHECK_FALSE(quality.dead);
        }
    }
}
