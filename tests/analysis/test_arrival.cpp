#include "linetune/analysis/arrival.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include "reference_biquad.hpp"
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

using linetune::analysis::estimate_arrival;

namespace {

constexpr double sample_rate_hz = 48000.0;
// Required precision of the sub-sample arrival for a band-limited impulse at 40 dB SNR.
constexpr double arrival_tolerance_samples = 0.05;

using linetune::test::add_band_limited_impulse;

/// Adds Gaussian noise `snr_db` below a peak amplitude (noise RMS = peak · 10^(−snr/20)).
void add_noise(std::vector<float>& signal, double peak, double snr_db, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> normal(0.0, peak * linetune::amplitude_from_db(-snr_db));
    for (auto& sample : signal) {
        sample += static_cast<float>(normal(generator));
    }
}

/// Builds a subwoofer's impulse response as the simulated rig models it (4th-order Butterworth high-pass
/// at 28 Hz, 2nd-order low-pass at 95 Hz, both minimum phase), starting at `start_sample` and
/// scaled to the given peak.
std::vector<float> subwoofer_response(std::size_t length, std::size_t start_sample, double peak) {
    using linetune::test::ReferenceBiquad;
    const auto lowpass = [](double freq_hz, double q) {
        const double w0 = 2.0 * linetune::pi * freq_hz / sample_rate_hz;
        const double alpha = std::sin(w0) / (2.0 * q);
        const double c = std::cos(w0);
        return ReferenceBiquad::normalised((1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0, 1.0 + alpha, -2.0 * c,
                                           1.0 - alpha, sample_rate_hz);
    };
    std::vector<double> response(length, 0.0);
    response[start_sample] = 1.0;
    // Q 0.5412 and 1.3066 are the two sections of a 4th-order Butterworth filter.
    for (const ReferenceBiquad& section : {ReferenceBiquad::highpass(28.0, 0.5412), ReferenceBiquad::highpass(28.0, 1.3066),
                                           lowpass(95.0, 0.7071)}) {
        response = section.filter(response);
    }
    double largest = 0.0;
    for (const double sample : response) {
        largest = std::max(largest, std::fabs(sample));
    }
    std::vector<float> scaled(length);
    for (std::size_t n = 0; n < length; ++n) {
        scaled[n] = static_cast<float>(peak * response[n] / largest);
    }
    return scaled;
}

struct ReferenceTiming {
    const char* file;
    std::size_t peak_sample;
    std::size_t start_sample;
};

}  // namespace

TEST_SUITE("arrival") {
    TEST_CASE("arrival finds fractional delays within 0.05 samples") {
        unsigned seed = 1;
        for (const double offset : {0.0, 0.25, 0.37, 0.5, 0.81}) {
            for (const int polarity : {1, -1}) {
                std::vector<float> ir(4096, 0.0F);
                const double position = 1000.0 + offset;
                add_band_limited_impulse(ir, position, 0.5 * polarity);
                add_noise(ir, 0.5, 40.0, seed++);

                const auto arrival = estimate_arrival(ir, sample_rate_hz);
                CAPTURE(offset);
                CAPTURE(polarity);
                CHECK(std::fabs(arrival.arrival_sample - position) <= arrival_tolerance_samples);
                CHECK(arrival.polarity == polarity);
                CHECK(std::fabs(static_cast<double>(arrival.peak_sample) - position) <= 0.5);
            }
        }
    }

    TEST_CASE("onset precedes the arrival on the rising edge") {
        std::vector<float> ir(4096, 0.0F);
        add_band_limited_impulse(ir, 1500.37, 0.5);
        add_noise(ir, 0.5, 60.0, 20);
        const auto arrival = estimate_arrival(ir, sample_rate_hz);
        // The envelope of this pulse falls 20 dB within about 3 samples of its centre.
        CHECK(arrival.onset_sample < arrival.arrival_sample);
        CHECK(arrival.onset_sample > arrival.arrival_sample - 5.0);
    }

    TEST_CASE("peak and start follow their exact definitions") {
        std::vector<float> ir(100, 0.0F);
        ir[10] = 0.05F;   // 26 dB below the peak: before the start
        ir[20] = 0.1F;    // float 0.1 is just above peak·10^(−20/20): the start
        ir[30] = -1.0F;   // the first of two equal |x|: the peak
        ir[40] = 1.0F;
        const auto arrival = estimate_arrival(ir, sample_rate_hz);
        CHECK(arrival.peak_sample == 30);
        CHECK(arrival.start_sample == 20);
        CHECK(arrival.peak_position_fraction == doctest::Approx(0.30));
    }

    TEST_CASE("direct sound precedes a stronger later path") {
        // Like a guitar cabinet: a direct sound 9 dB below a later path 10 ms behind it.
        std::vector<float> ir(4410, 0.0F);
        add_band_limited_impulse(ir, 100.0, 0.355);
        add_band_limited_impulse(ir, 541.0, 1.0);
        add_noise(ir, 1.0, 60.0, 21);
        const auto arrival = estimate_arrival(ir, 44100.0);
        CHECK(arrival.peak_sample == 541);
        CHECK(std::fabs(arrival.arrival_sample - 100.0) <= arrival_tolerance_samples);
        REQUIRE_FALSE(arrival.notes.empty());
        CHECK(arrival.notes.front().find("largest peak at 12.3 ms is a later path") != std::string::npos);
        CHECK(arrival.notes.front().find("9 dB weaker") != std::string::npos);
    }

    TEST_CASE("pre-ringing is not the direct sound") {
        // A full-band sinc (cutoff at Nyquist, short window) rings 13 dB below its main lobe.
        std::vector<float> ir(2048, 0.0F);
        for (std::size_t n = 0; n < ir.size(); ++n) {
            const double t = static_cast<double>(n) - 700.3;
            const double x = linetune::pi * t;
            ir[n] = std::fabs(t) < 40.0 ? static_cast<float>(std::sin(x) / x) : 0.0F;
        }
        const auto arrival = estimate_arrival(ir, sample_rate_hz);
        CHECK(std::fabs(arrival.arrival_sample - 700.3) <= 0.25);
    }

    TEST_CASE("centred impulse response shows its peak position") {
        std::vector<float> ir(10000, 0.0F);
        add_band_limited_impulse(ir, 5000.0, 0.5);
        add_noise(ir, 0.5, 60.0, 22);
        const auto arrival = estimate_arrival(ir, sample_rate_hz);
        CHECK(arrival.peak_position_fraction == doctest::Approx(0.5).epsilon(0.001));
    }

    TEST_CASE("confidence follows the direct to noise ratio") {
        // Noise RMS 40 dB below the peak; the envelope of Gaussian noise has √2 its RMS, so the
        // direct-to-noise ratio is 37 dB and the confidence (37 − 10) / 30 = 0.9.
        std::vector<float> clean(8192, 0.0F);
        add_band_limited_impulse(clean, 3000.0, 0.5);
        add_noise(clean, 0.5, 40.0, 23);
        CHECK(estimate_arrival(clean, sample_rate_hz).confidence == doctest::Approx(0.9).epsilon(0.05));

        std::vector<float> noise(8192, 0.0F);
        add_noise(noise, 0.5, 20.0, 24);
        CHECK(estimate_arrival(noise, sample_rate_hz).confidence < 0.2);
    }

    TEST_CASE("quiet subwoofer is judged in its band") {
        // White noise 25 dB below the subwoofer's peak: over the whole band the direct sound is
        // less than 10 dB above the noise, which once marked the channel dead and put its arrival
        // on a noise peak near the start. In 14 to 300 Hz it is about 30 dB above the noise.
        const std::size_t start_sample = 960;  // 20 ms
        const double peak = 0.01;
        const std::vector<float> clean = subwoofer_response(48000, start_sample, peak);
        const auto clean_arrival = estimate_arrival(clean, sample_rate_hz);
        for (const unsigned seed : {31U, 32U, 33U, 34U, 35U}) {
            CAPTURE(seed);
            std::vector<float> noisy = clean;
            add_noise(noisy, peak, 25.0, seed);
            const auto arrival = estimate_arrival(noisy, sample_rate_hz);
            CHECK(arrival.confidence >= 0.5);
            // 1 ms is a tenth of a period at 95 Hz, the top of the subwoofer's band.
            CHECK(std::fabs(arrival.arrival_sample - clean_arrival.arrival_sample) <= linetune::samples_from_ms(1.0, sample_rate_hz));
            CHECK(arrival.polarity == clean_arrival.polarity);
            const bool band_named = std::any_of(arrival.notes.begin(), arrival.notes.end(), [](const std::string& note) {
                return note.find("judged in the response's band") != std::string::npos;
            });
            CHECK(band_named);

            // The same noise alone still reads as no arrival, so a dead channel stays dead.
            std::vector<float> noise_only(clean.size(), 0.0F);
            add_noise(noise_only, peak, 25.0, seed);
            CHECK(estimate_arrival(noise_only, sample_rate_hz).confidence == 0.0);
        }
    }

    TEST_CASE("arrival rejects an all-zero input") {
        CHECK_THROWS_AS(estimate_arrival(std::vector<float>(64, 0.0F), sample_rate_hz), linetune::Error);
        CHECK_THROWS_AS(estimate_arrival(std::vector<float>{}, sample_rate_hz), linetune::Error);
        CHECK_THROWS_AS(estimate_arrival(std::vector<float>(64, 0.5F), 0.0), linetune::Error);
    }

    TEST_CASE("real files match the reference peak and start") {
        if (!linetune::test::shared_data_available()) {
            return;
        }
        // Sample indices of channel 1, computed from the files with the same definitions.
        const ReferenceTiming references[] = {
            {"adventurekid-speaker-irs/Modern_US_001.wav", 441, 5},
            {"adventurekid-speaker-irs/Radio_001.wav", 9, 0},
            {"adventurekid-speaker-irs/Speaker_001.wav", 12, 3},
            {"adventurekid-speaker-irs/Speaker_002.wav", 8, 3},
            {"adventurekid-speaker-irs/Vintage_UK_001.wav", 550, 18},
            {"openair-python-acoustics/ir_sportscentre_omni.wav", 2619, 2615},
            {"openair-python-acoustics/living_room_1.wav", 79, 0},
            {"openair-toobamp/Arthur_Sykes_Rymer_Auditorium.wav", 2179, 2175},
            {"openair-toobamp/Genesis_6_Studio_Live_Room.wav", 1618, 660},
            {"spatialaudio-clap/brir_clap.wav", 1377, 917},
            {"spatialaudio-clap/rir_clap.wav", 80, 14},
            {"webaudio-house/cinema-room.wav", 118, 0},
            {"webaudio-house/dining-far-kitchen.wav", 571, 94},
            {"webaudio-house/dining-mid-kitchen.wav", 493, 19},
            {"webaudio-house/dining-room.wav", 58, 54},
            {"webaudio-house/kitchen.wav", 186, 55},
            {"webaudio-house/living-bedroom.wav", 899, 705},
            {"webaudio-tim-warehouse/bipolar-35-10.wav", 224, 221},
            {"webaudio-tim-warehouse/cardiod-35-10.wav", 242, 221},
            {"webaudio-tim-warehouse/omni-15-10.wav", 224, 221},
            {"webaudio-tim-warehouse/omni-25-12.wav", 239, 236},
            {"webaudio-tim-warehouse/omni-35-10.wav", 223, 220},
            {"webaudio-tim-warehouse/omni-7-4.wav", 225, 222},
            {"webaudio-tim-warehouse/omni-8-14.wav", 223, 221},
        };
        for (const auto& reference : references) {
            CAPTURE(reference.file);
            SF_INFO info{};
            const auto path = linetune::test::shared_data_dir() / "ir" / reference.file;
            SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
            REQUIRE(file != nullptr);
            std::vector<float> interleaved(static_cast<std::size_t>(info.frames * info.channels));
            sf_readf_float(file, interleaved.data(), info.frames);
            sf_close(file);
            std::vector<float> channel(static_cast<std::size_t>(info.frames));
            for (std::size_t n = 0; n < channel.size(); ++n) {
                channel[n] = interleaved[n * static_cast<std::size_t>(info.channels)];
            }

            const auto arrival = estimate_arrival(channel, info.samplerate);
            CHECK(arrival.peak_sample == reference.peak_sample);
            CHECK(arrival.start_sample == reference.start_sample);
            // The direct sound's envelope peak never lies more than 2 samples after the largest
            // sample (it may follow it slightly when the pulse is not symmetric).
            CHECK(arrival.arrival_sample <= static_cast<double>(reference.peak_sample) + 2.0);
        }
    }

    TEST_CASE("guitar cabinet direct sound is at its start") {
        if (!linetune::test::shared_data_available()) {
            return;
        }
        SF_INFO info{};
        const auto path = linetune::test::shared_data_dir() / "ir" / "adventurekid-speaker-irs" / "Modern_US_001.wav";
        SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
        REQUIRE(file != nullptr);
        std::vector<float> interleaved(static_cast<std::size_t>(info.frames * info.channels));
        sf_readf_float(file, interleaved.data(), info.frames);
        sf_close(file);
        std::vector<float> channel(static_cast<std::size_t>(info.frames));
        for (std::size_t n = 0; n < channel.size(); ++n) {
            channel[n] = interleaved[n * static_cast<std::size_t>(info.channels)];
        }

        // The response starts at 0.1 ms; its largest sample is a later path at 10 ms.
        const auto arrival = estimate_arrival(channel, info.samplerate);
        CHECK(linetune::ms_from_samples(arrival.arrival_sample, info.samplerate) < 0.5);
        CHECK(linetune::ms_from_samples(arrival.onset_sample, info.samplerate) < 0.2);
        REQUIRE_FALSE(arrival.notes.empty());
        CHECK(arrival.notes.front().find("largest peak at 10.0 ms is a later path") != std::string::npos);
    }
}
