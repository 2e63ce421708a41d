#include "linetune/analysis/fft.hpp"
#include "linetune/capture/measure.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/capture/repeats.hpp"
#include "linetune/io/audio_file.hpp"

#include "fake_capture_stream.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;
using capture::MeasureOptions;
using capture::MeasureProgress;

constexpr double rate_hz = 48000.0;
constexpr double hidden_latency_samples = 57.3;  // not given to the software
constexpr std::size_t loopback_io = 8;
const std::vector<std::string> mic_names = {"FOH", "balcony", "side"};

Venue repeat_venue(bool loopback, std::size_t zones = 1) {
    Venue venue;
    venue.name = "repeat hall";
    venue.file = "repeat-hall.json";
    venue.audio_interface.sample_rate_hz = rate_hz;
    if (loopback) {
        venue.audio_interface.loopback = LoopbackRoute{loopback_io, loopback_io};
    }
    for (std::size_t zone = 0; zone < zones; ++zone) {
        Zone entry;
        entry.name = "zone" + std::to_string(zone + 1);
        entry.output = zone + 1;
        venue.zones.push_back(entry);
    }
    for (std::size_t mic = 0; mic < mic_names.size(); ++mic) {
        Microphone entry;
        entry.name = mic_names[mic];
        entry.input = mic + 1;
        venue.microphones.push_back(entry);
    }
    return venue;
}

/// A fake interface whose latency and FOH path change from pass to pass, with fresh noise per
/// pass: mic FOH hears the played zone 100.25 samples late plus `foh_drift_samples` per pass,
/// balcony 480.7 samples late, and side only noise.
class DriftingStream : public CaptureStream {
public:
    std::vector<double> latency_change_samples;  ///< per pass (0-based), added to the hidden latency
    double foh_drift_samples = 0.0;              ///< added to FOH's delay per pass
    double balcony_delay_samples = 480.7;
    std::vector<double> gains = {0.5, 0.25, 1.0};
    std::vector<double> noise_rms = {1e-5, 1e-5, 1e-5};
    std::deque<std::size_t> xruns_per_pass;
    std::vector<MultichannelSignal> recordings;  ///< every pass as recorded
    std::vector<CaptureRequest> requests;        ///< every pass as requested
    std::size_t passes = 0;
    CaptureRequest last_request;

    [[nodiscard]] StreamFormat format() const override { return {rate_hz, 8, 8}; }
    [[nodiscard]] std::string description() const override { return "fake interface 'drift'"; }

    /// What a pass records without noise, with the first pass's latency and paths.
    MultichannelSignal clean(const CaptureRequest& request) const { return record(request, 0, true); }

    CaptureResult play_and_record(const CaptureRequest& request) override {
        last_request = request;
        requests.push_back(request);
        CaptureResult result;
        result.recording = record(request, passes, false);
        recordings.push_back(result.recording);
        ++passes;
        if (!xruns_per_pass.empty()) {
            result.xrun_count = xruns_per_pass.front();
            xruns_per_pass.pop_front();
        }
        return result;
    }

private:
    MultichannelSignal record(const CaptureRequest& request, std::size_t pass, bool noiseless) const {
        const double change = pass < latency_change_samples.size() ? latency_change_samples[pass] : 0.0;
        test::FakeCaptureStream stream(format(), hidden_latency_samples + change);
        stream.seed = static_cast<unsigned>(500 + 100 * pass);
        const std::size_t output = request.output_channels.front();
        const auto noise = [&](std::size_t mic) { return noiseless ? 0.0 : noise_rms[mic]; };
        stream.connect(1, {output, 100.25 + foh_drift_samples * static_cast<double>(pass), gains[0], noise(0)});
        stream.connect(2, {output, balcony_delay_samples, gains[1], noise(1)});
        stream.connect(3, {0, 0.0, gains[2], noiseless ? 0.0 : noise_rms[2]});
        stream.connect(loopback_io, {loopback_io, 0.0, 0.5, noiseless ? 0.0 : 1e-5});
        return stream.play_and_record(request).recording;
    }
};

MeasureOptions repeated(std::size_t count) {
    MeasureOptions options;
    options.sweep.duration_s = 1.0;
    options.tail_s = 0.3;
    options.repeats = count;
    return options;
}

double samples_of(double ms) { return ms * rate_hz / 1000.0; }

double energy_ratio_db(std::span<const float> test, std::span<const float> reference) {
    double error = 0.0;
    double energy = 0.0;
    for (std::size_t n = 0; n < reference.size(); ++n) {
        error += std::pow(static_cast<double>(test[n]) - reference[n], 2);
        energy += std::pow(static_cast<double>(reference[n]), 2);
    }
    return 10.0 * std::log10(error / energy);
}

TEST_SUITE("measure repeats") {
    TEST_CASE("repeats are aligned by the loopback and report each mic's drift") {
        const fs::path session = test::scratch_dir("capture_repeats_drift");
        DriftingStream stream;
        // Pass 2 hears the interface 0.37 samples later, pass 3 3.2 samples later (an xrun moved
        // the latency); FOH's path lengthens by 0.25 samples per pass (the air warms).
        stream.latency_change_samples = {0.0, 0.37, 3.2};
        stream.foh_drift_samples = 0.25;
        MeasureOptions options = repeated(3);
        std::vector<std::size_t> repeat_numbers;
        options.progress = [&](const MeasureProgress& progress) {
            if (progress.event == MeasureProgress::Event::repeat_started) {
                repeat_numbers.push_back(progress.repeat_number);
                CHECK(progress.repeat_count == 3);
            }
            if (progress.event == MeasureProgress::Event::zone_finished) {
                REQUIRE(progress.recording != nullptr);
                CHECK(progress.recording->repeats.has_value());
            }
        };
        const auto result = capture::measure(repeat_venue(true), stream, session, options);
        CHECK(repeat_numbers == std::vector<std::size_t>{1, 2, 3});
        CHECK(stream.passes == 3);
        REQUIRE(result.recordings.size() == 1);

        const capture::RecordingMetadata metadata =
            capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        CHECK(metadata.passes == 3);
        CHECK(metadata.timing == "absolute");
        REQUIRE(metadata.repeats.has_value());
        const capture::RepeatSummary& repeats = *metadata.repeats;
        CHECK(repeats.count == 3);
        CHECK(repeats.aligned_by == "loopback");
        REQUIRE(repeats.alignment_ms.size() == 3);
        // The loopback measures each latency change within 0.01 samples.
        for (std::size_t repeat = 0; repeat < 3; ++repeat) {
            CAPTURE(repeat);
            CHECK(std::fabs(samples_of(repeats.alignment_ms[repeat]) - stream.latency_change_samples[repeat]) < 0.01);
        }
        REQUIRE(repeats.mics.size() == 3);
        for (std::size_t repeat = 0; repeat < 3; ++repeat) {
            CAPTURE(repeat);
            // FOH drifts by 0.25 samples per repeat, balcony not at all; both within 0.02 samples.
            REQUIRE(repeats.mics[0].drift_ms[repeat].has_value());
            CHECK(std::fabs(samples_of(*repeats.mics[0].drift_ms[repeat]) - 0.25 * static_cast<double>(repeat)) < 0.02);
            REQUIRE(repeats.mics[1].drift_ms[repeat].has_value());
            CHECK(std::fabs(samples_of(*repeats.mics[1].drift_ms[repeat])) < 0.02);
        }
        // The side mic hears only noise: its repeats do not correlate, so it has no drift.
        CHECK_FALSE(repeats.mics[2].drift_ms[1].has_value());
        REQUIRE(repeats.max_drift_ms.has_value());
        CHECK(std::fabs(samples_of(*repeats.max_drift_ms) - 0.5) < 0.02);

        // Aligned and averaged, balcony's channel is its noiseless recording within -40 dB.
        const io::AudioFile audio = io::read_audio_file(session / "measurements" / "zone1" / "recording.wav");
        const MultichannelSignal clean = stream.clean(stream.last_request);
        const double error_db = energy_ratio_db(audio.signal.channel(1), clean.channel(1));
        MESSAGE("balcony: averaged recording against the noiseless one: " << error_db << " dB");
        CHECK(error_db < -40.0);
    }

    TEST_CASE("averaged repeats: noise and SNR per band") {
        DriftingStream stream;
        stream.gains = {0.01, 0.25, 1.0};          // FOH hears the -6 dBFS sweep at -46 dBFS
        stream.noise_rms = {1e-3, 1e-5, 1e-3};     // under -60 dBFS of noise; side hears noise alone
        const std::size_t count = 4;
        CaptureRequest request;
        request.output_channels = {1, loopback_io};
        request.input_channels = {1, 2, 3, loopback_io};
        SweepParameters sweep{100.0, 16000.0, 1.0, rate_hz};
        const std::vector<float> played = generate_exponential_sweep(sweep);
        request.record_frames = played.size() + 4800;
        request.playback = MultichannelSignal(2, request.record_frames, rate_hz);
        for (std::size_t channel = 0; channel < 2; ++channel) {
            std::copy(played.begin(), played.end(), request.playback.channel(channel).begin());
        }
        std::vector<MultichannelSignal> repeats;
        for (std::size_t repeat = 0; repeat < count; ++repeat) {
            repeats.push_back(stream.play_and_record(request).recording);
        }
        const MultichannelSignal clean = stream.clean(request);
        const capture::AveragedRepeats averaged =
            capture::average_repeats(repeats, mic_names, std::size_t{3}, sweep.start_freq_hz, sweep.end_freq_hz);

        // Noise of the average against noise of one repeat, on FOH: -6.02 dB for 4 repeats.
        const double single_db = energy_ratio_db(repeats[0].channel(0), clean.channel(0));
        const double average_db = energy_ratio_db(averaged.average.channel(0), clean.channel(0));
        MESSAGE("FOH noise: one repeat " << single_db << " dB, average of 4 " << average_db << " dB");
        CHECK(average_db - single_db == doctest::Approx(-10.0 * std::log10(4.0)).epsilon(0.05));

        // Expected SNR per band of the average: the clean signal's band energy against the noise
        // energy F·σ²·bins/N of a zero-padded unnormalised FFT (F frames, σ the noise RMS).
        const std::size_t frames = clean.frame_count();
        const std::size_t size = analysis::next_fast_fft_size(frames);
        analysis::RealFft<double> fft(size);
        std::vector<double> samples(size, 0.0);
        std::copy(clean.channel(0).begin(), clean.channel(0).end(), samples.begin());
        std::vector<std::complex<double>> spectrum(fft.bin_count());
        fft.forward(samples, spectrum);
        const capture::RepeatSummary& summary = averaged.summary;
        REQUIRE(summary.bands_hz.size() >= 18);  // 125 Hz to 12.5 kHz at least
        CHECK(summary.bands_hz.front() >= 100.0);
        CHECK(summary.bands_hz.back() <= 16000.0);
        std::size_t compared = 0;
        for (std::size_t band = 0; band < summary.bands_hz.size(); ++band) {
            const double centre = summary.bands_hz[band];
            const double bin_hz = rate_hz / static_cast<double>(size);
            const auto first = static_cast<std::size_t>(std::ceil(centre / std::pow(2.0, 1.0 / 6.0) / bin_hz));
            const auto last = static_cast<std::size_t>(std::floor(centre * std::pow(2.0, 1.0 / 6.0) / bin_hz));
            double signal = 0.0;
            for (std::size_t k = first; k <= last; ++k) {
                signal += std::norm(spectrum[k]);
            }
            const double bins = static_cast<double>(last - first + 1);
            const double noise = static_cast<double>(frames) * 1e-6 * bins / static_cast<double>(count);
            const double expected_db = 10.0 * std::log10(signal / noise);
            CAPTURE(centre);
            CAPTURE(expected_db);
            if (bins >= 30) {
                CHECK(std::fabs(summary.mics[0].snr_db[band] - expected_db) < 1.5);
                // Noise alone: SNR below 0 dB and coherence near 1/N.
                CHECK(summary.mics[2].snr_db[band] < 0.0);
                ++compared;
            }
            if (bins >= 100) {
                CHECK(std::fabs(summary.mics[2].coherence[band] - 0.25) < 0.1);
            }
            // Balcony is 80 dB above its noise: coherence 1 within 1e-4.
            CHECK(summary.mics[1].coherence[band] > 0.9999);
        }
        CHECK(compared >= 15);
    }

    TEST_CASE("without a loopback the repeats are aligned by the loudest mic") {
        const fs::path session = test::scratch_dir("capture_repeats_no_loopback");
        DriftingStream stream;
        stream.latency_change_samples = {0.0, 1.5};
        stream.foh_drift_samples = 0.25;
        capture::measure(repeat_venue(false), stream, session, repeated(2));
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        REQUIRE(metadata.repeats.has_value());
        CHECK(metadata.repeats->aligned_by == "mic 'FOH'");
        // FOH (gain 0.5) is the loudest: it moved 1.5 + 0.25 samples, and balcony drifted -0.25 against it.
        CHECK(std::fabs(samples_of(metadata.repeats->alignment_ms[1]) - 1.75) < 0.02);
        CHECK(std::fabs(samples_of(metadata.repeats->mics[0].drift_ms[1].value()) - 0.0) < 0.02);
        CHECK(std::fabs(samples_of(metadata.repeats->mics[1].drift_ms[1].value()) + 0.25) < 0.02);
        CHECK(metadata.timing == "relative");
    }

    TEST_CASE("timing without loopback after xrun") {
        const fs::path session = test::scratch_dir("capture_repeats_timing");
        DriftingStream stream;
        stream.xruns_per_pass = {0, 1, 0};  // zone1 clean; zone2's first pass has an xrun
        capture::measure(repeat_venue(false, 2), stream, session, repeated(1));
        CHECK(capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json").timing ==
              "relative");
        CHECK(capture::read_recording_metadata(session / "measurements" / "zone2" / "recording.json").timing ==
              "invalid");

        DriftingStream with_loopback;
        with_loopback.xruns_per_pass = {0, 1, 0};
        capture::measure(repeat_venue(true, 2), with_loopback, session, repeated(1));
        CHECK(capture::read_recording_metadata(session / "measurements" / "zone2" / "recording.json").timing ==
              "absolute");

        // A resumed run comes through another stream: without a loopback nothing it records is comparable.
        DriftingStream resumed;
        MeasureOptions options = repeated(1);
        options.stream_restarted = true;
        options.zones = {"zone1"};
        capture::measure(repeat_venue(false, 2), resumed, session, options);
        CHECK(capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json").timing ==
              "invalid");
    }

    TEST_CASE("zero repeats is a configuration error before any pass") {
        DriftingStream stream;
        CHECK_THROWS_WITH_AS(capture::measure(repeat_venue(true), stream, test::scratch_dir("capture_repeats_zero"),
                                              repeated(0)),
                             doctest::Contains("repeats is 0"), Error);
        CHECK(stream.passes == 0);
    }
}

TEST_SUITE("measure noise floor and decay") {
    MeasureOptions with_noise_floor(std::size_t count = 1) {
        MeasureOptions options = repeated(count);
        options.noise_floor_s = 0.25;
        return options;
    }

    TEST_CASE("a silent capture before the sweep records every input's noise floor") {
        const fs::path session = test::scratch_dir("capture_noise_floor");
        DriftingStream stream;
        stream.noise_rms = {1e-5, 1e-4, 1e-3};  // -100, -80 and -60 dBFS RMS
        capture::measure(repeat_venue(true), stream, session, with_noise_floor());
        REQUIRE(stream.requests.size() == 2);
        // The first capture plays silence on the zone's output for 0.25 s.
        const CaptureRequest& silent = stream.requests.front();
        CHECK(silent.record_frames == 12000);
        CHECK(silent.output_channels == std::vector<std::size_t>{1});
        CHECK(silent.input_channels == std::vector<std::size_t>{1, 2, 3, loopback_io});
        for (const float sample : silent.playback.channel(0)) {
            REQUIRE(sample == 0.0f);
        }
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        const std::vector<double> expected_dbfs = {-100.0, -80.0, -60.0, -100.0};
        for (std::size_t channel = 0; channel < 4; ++channel) {
            CAPTURE(channel);
            REQUIRE(metadata.channels[channel].noise_floor_dbfs.has_value());
            CHECK(std::fabs(*metadata.channels[channel].noise_floor_dbfs - expected_dbfs[channel]) < 0.2);
        }
        // The 0.3 s tail outlasts every path (10 ms at most): no mic's decay is flagged, and
        // each tail ends at its noise floor within 0.5 dB.
        for (std::size_t mic = 0; mic < 3; ++mic) {
            CAPTURE(mic);
            CHECK_FALSE(metadata.channels[mic].decay_incomplete);
            REQUIRE(metadata.channels[mic].tail_end_dbfs.has_value());
            CHECK(std::fabs(*metadata.channels[mic].tail_end_dbfs - expected_dbfs[mic]) < 0.5);
        }
        CHECK_FALSE(metadata.channels[3].tail_end_dbfs.has_value());  // the loopback has no decay
    }

    TEST_CASE("a decay that outlasts the tail is flagged") {
        const fs::path session = test::scratch_dir("capture_decay_flagged");
        DriftingStream stream;
        // Balcony hears the sweep 0.35 s late: its end still arrives after the 0.3 s tail.
        stream.balcony_delay_samples = 0.35 * rate_hz;
        capture::measure(repeat_venue(true), stream, session, with_noise_floor());
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        CHECK_FALSE(metadata.channels[0].decay_incomplete);
        CHECK(metadata.channels[1].decay_incomplete);
        MESSAGE("balcony: tail end " << *metadata.channels[1].tail_end_dbfs << " dBFS, noise floor "
                                     << *metadata.channels[1].noise_floor_dbfs << " dBFS");
        CHECK(*metadata.channels[1].tail_end_dbfs > *metadata.channels[1].noise_floor_dbfs + 40.0);
    }

    TEST_CASE("the venue's room T60 lengthens a shorter tail") {
        const fs::path session = test::scratch_dir("capture_decay_t60");
        DriftingStream stream;
        stream.balcony_delay_samples = 0.35 * rate_hz;
        Venue venue = repeat_venue(true);
        venue.audio_interface.room_t60_s = 0.5;
        CHECK(capture::tail_for_room(venue, 0.3) == 0.5);
        CHECK(capture::tail_for_room(venue, 0.8) == 0.8);
        capture::measure(venue, stream, session, with_noise_floor());
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        CHECK(metadata.tail_s == 0.5);
        CHECK(metadata.frames == metadata.sweep_frames + 24000);
        CHECK_FALSE(metadata.channels[1].decay_incomplete);
    }

    TEST_CASE("with repeats the tail is judged against the noise floor of the average") {
        const fs::path session = test::scratch_dir("capture_decay_repeats");
        DriftingStream stream;
        stream.noise_rms = {1e-4, 1e-4, 1e-4};
        capture::measure(repeat_venue(true), stream, session, with_noise_floor(4));
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        for (std::size_t mic = 0; mic < 2; ++mic) {
            CAPTURE(mic);
            // Four repeats average the noise 6.0 dB down, and no decay is flagged against that.
            CHECK(*metadata.channels[mic].tail_end_dbfs - *metadata.channels[mic].noise_floor_dbfs ==
                  doctest::Approx(-10.0 * std::log10(4.0)).epsilon(0.1));
            CHECK_FALSE(metadata.channels[mic].decay_incomplete);
        }
    }
}

TEST_SUITE("measure sweep band per zone") {
    TEST_CASE("zone sweeps start half an octave below the fit band") {
        const fs::path session = test::scratch_dir("capture_zone_bands");
        Venue venue = repeat_venue(true, 2);
        venue.zones[0].fit_band_hz = {60.0, 16000.0};    // mains: 42.4 Hz
        venue.zones[1].fit_band_hz = {1200.0, 16000.0};  // a tweeter zone crossed over at 1.2 kHz: 848.5 Hz
        DriftingStream stream;
        MeasureOptions options = repeated(1);
        options.sweep_from_zone_band = true;
        capture::measure(venue, stream, session, options);
        const auto mains = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        const auto tweeter = capture::read_recording_metadata(session / "measurements" / "zone2" / "recording.json");
        CHECK(mains.sweep.start_freq_hz == doctest::Approx(60.0 / std::sqrt(2.0)));
        CHECK(tweeter.sweep.start_freq_hz == doctest::Approx(1200.0 / std::sqrt(2.0)));
        CHECK(tweeter.sweep.end_freq_hz == 20000.0);

        // The played sweep is the one the metadata describes: below 600 Hz, an octave under the
        // tweeter's band, its output carries no more than -60 dB of the sweep's energy.
        REQUIRE(stream.requests.size() == 2);
        const auto played = stream.requests[1].playback.channel(0);
        const std::vector<float> described = generate_exponential_sweep(tweeter.sweep);
        REQUIRE(described.size() == tweeter.sweep_frames);
        for (std::size_t n = 0; n < described.size(); ++n) {
            REQUIRE(played[n] == described[n]);
        }
        const std::size_t size = analysis::next_fast_fft_size(played.size());
        analysis::RealFft<double> fft(size);
        std::vector<double> samples(played.begin(), played.end());
        std::vector<std::complex<double>> spectrum(fft.bin_count());
        fft.forward(samples, spectrum);
        double below = 0.0;
        double total = 0.0;
        for (std::size_t k = 0; k < spectrum.size(); ++k) {
            const double freq_hz = static_cast<double>(k) * rate_hz / static_cast<double>(size);
            total += std::norm(spectrum[k]);
            below += freq_hz < 600.0 ? std::norm(spectrum[k]) : 0.0;
        }
        MESSAGE("tweeter sweep energy below 600 Hz: " << 10.0 * std::log10(below / total) << " dB");
        CHECK(10.0 * std::log10(below / total) < -60.0);
    }

    TEST_CASE("zone bands with a multiple-sweep pass are refused") {
        DriftingStream stream;
        MeasureOptions options = repeated(1);
        options.sweep_from_zone_band = true;
        options.multi_sweep = true;
        CHECK_THROWS_WITH_AS(capture::measure(repeat_venue(true, 2), stream, test::scratch_dir("capture_zone_bands_multi"),
                                              options),
                             doctest::Contains("multiple-sweep pass plays one sweep"), Error);
        CHECK(stream.passes == 0);
    }
}

TEST_SUITE("measure test tone") {
    MeasureOptions with_test_tone() {
        MeasureOptions options = repeated(1);
        options.noise_floor_s = 0.25;
        options.test_tone = true;
        return options;
    }

    TEST_CASE("test tone predicts each mic's sweep peak in dBFS and dB SPL") {
        const fs::path session = test::scratch_dir("capture_test_tone");
        Venue venue = repeat_venue(true);
        venue.microphones[0].sensitivity_dbfs = -30.0;  // 94 dB SPL reads -30 dBFS RMS
        DriftingStream stream;
        capture::measure(venue, stream, session, with_test_tone());
        // Noise floor, test tone, sweep.
        REQUIRE(stream.requests.size() == 3);
        const CaptureRequest& tone = stream.requests[1];
        CHECK(tone.output_channels == std::vector<std::size_t>{1});
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        // The tone's sweep lasts about 0.3 s (the generator fits its length to whole phase
        // cycles), and the pass's tail follows it.
        const std::size_t tail_frames = metadata.frames - metadata.sweep_frames;
        REQUIRE(tone.record_frames > tail_frames);
        CHECK(tone.record_frames - tail_frames >= static_cast<std::size_t>(0.3 * rate_hz));
        CHECK(tone.record_frames - tail_frames <= static_cast<std::size_t>(0.4 * rate_hz));
        // The tone plays 30 dB under the sweep (-6 dBFS): its peak is -36 dBFS.
        float tone_peak = 0.0f;
        for (const float sample : tone.playback.channel(0)) {
            tone_peak = std::max(tone_peak, std::fabs(sample));
        }
        CHECK(20.0 * std::log10(tone_peak) == doctest::Approx(metadata.sweep.level_dbfs - 30.0).epsilon(0.01));

        // FOH (gain 0.5) and balcony (0.25) hear the sweep at -12 and -18 dBFS: predicted within 0.2 dB.
        const std::vector<double> expected_dbfs = {-12.0, -18.0};
        for (std::size_t mic = 0; mic < 2; ++mic) {
            CAPTURE(mic);
            const capture::RecordingChannel& channel = metadata.channels[mic];
            REQUIRE(channel.predicted_peak_dbfs.has_value());
            MESSAGE("predicted " << *channel.predicted_peak_dbfs << " dBFS, recorded " << channel.peak_dbfs << " dBFS");
            CHECK(std::fabs(*channel.predicted_peak_dbfs - expected_dbfs[mic]) < 0.2);
            CHECK(std::fabs(*channel.predicted_peak_dbfs - channel.peak_dbfs) < 0.2);
            CHECK(channel.heard_test_tone);
        }
        // A -12 dBFS sine peak is -15.01 dBFS RMS, 14.99 dB over the -30 dBFS of 94 dB SPL: 108.99 dB SPL.
        REQUIRE(metadata.channels[0].predicted_peak_db_spl.has_value());
        CHECK(std::fabs(*metadata.channels[0].predicted_peak_db_spl - 108.99) < 0.2);
        CHECK_FALSE(metadata.channels[1].predicted_peak_db_spl.has_value());  // no sensitivity
    }

    TEST_CASE("sweep predicted over the SPL ceiling is refused before it plays") {
        Venue venue = repeat_venue(true);
        venue.microphones[0].sensitivity_dbfs = -40.0;  // the sweep would reach 118.99 dB SPL
        DriftingStream stream;
        const std::string message = test::error_message(
            [&] { capture::measure(venue, stream, test::scratch_dir("capture_test_tone_spl"), with_test_tone()); });
        CHECK(message.find("zone 'zone1'") != std::string::npos);
        CHECK(message.find("mic 'FOH' (input 1) would reach -12.0 dBFS and 119.0 dB SPL") != std::string::npos);
        CHECK(message.find("115.0 dB SPL") != std::string::npos);
        CHECK(message.find("lower the sweep by at least 4 dB") != std::string::npos);
        CHECK(stream.requests.size() == 2);  // noise floor and test tone only
        CHECK_FALSE(fs::exists(test::scratch_dir("capture_test_tone_spl") / "measurements" / "zone1" / "recording.json"));
    }

    TEST_CASE("sweep predicted over the dBFS ceiling is refused before it plays") {
        DriftingStream stream;
        stream.gains = {1.9, 0.25, 1.0};  // FOH would peak at -0.4 dBFS
        const std::string message = test::error_message([&] {
            capture::measure(repeat_venue(true), stream, test::scratch_dir("capture_test_tone_dbfs"), with_test_tone());
        });
        CHECK(message.find("mic 'FOH' (input 1) would reach -0.4 dBFS") != std::string::npos);
        CHECK(message.find("-1.0 dBFS") != std::string::npos);
        CHECK(stream.requests.size() == 2);
    }

    TEST_CASE("zone mics that miss the test tone are flagged or refused") {
        Venue venue = repeat_venue(true);
        for (Microphone& mic : venue.microphones) {
            mic.zone_weights = {{"zone1", 1.0}};
        }
        const fs::path session = test::scratch_dir("capture_test_tone_routing");
        DriftingStream stream;  // side hears only noise
        capture::measure(venue, stream, session, with_test_tone());
        const auto metadata = capture::read_recording_metadata(session / "measurements" / "zone1" / "recording.json");
        CHECK(metadata.channels[0].heard_test_tone);
        CHECK(metadata.channels[1].heard_test_tone);
        CHECK_FALSE(metadata.channels[2].heard_test_tone);

        DriftingStream unrouted;
        unrouted.gains = {0.0, 0.0, 1.0};  // the zone's output reaches no mic
        const std::string message = test::error_message([&] {
            capture::measure(venue, unrouted, test::scratch_dir("capture_test_tone_unrouted"), with_test_tone());
        });
        CHECK(message.find("none of the zone's mics heard the test tone on output 1") != std::string::npos);
        CHECK(unrouted.requests.size() == 2);
    }
}

}  // namespace
