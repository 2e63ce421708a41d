#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/sweep.hpp"

#include "fake_capture_stream.hpp"
#include "test_support.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace {

using namespace linetune;
using analysis::LoopbackStatus;
using analysis::SweepRecordingLayout;

constexpr double rate_hz = 48000.0;
// The interface latency, which the software is not given.
constexpr double hidden_latency_samples = 57.3;
constexpr std::size_t zone_output = 1;
constexpr std::size_t loopback_output = 8;
constexpr std::size_t loopback_input = 8;

SweepParameters test_sweep() {
    SweepParameters sweep;
    sweep.start_freq_hz = 20.0;
    sweep.end_freq_hz = 20000.0;
    sweep.duration_s = 1.0;
    sweep.sample_rate_hz = rate_hz;
    return sweep;
}

/// One pass of a fake interface: the sweep on the zone output and the loopback output,
/// inputs 1..mics plus the loopback input recorded (when wired) for 1 s sweep + 0.3 s tail.
struct Pass {
    std::vector<float> sweep = generate_exponential_sweep(test_sweep());
    test::FakeCaptureStream stream{{rate_hz, 8, 8}, hidden_latency_samples};
    std::vector<std::size_t> inputs;

    MultichannelSignal record(double tail_s = 0.3) {
        CaptureRequest request;
        request.output_channels = {zone_output, loopback_output};
        request.input_channels = inputs;
        request.record_frames = sweep.size() + static_cast<std::size_t>(tail_s * rate_hz);
        request.playback = MultichannelSignal(2, request.record_frames, rate_hz);
        for (std::size_t channel = 0; channel < 2; ++channel) {
            std::copy(sweep.begin(), sweep.end(), request.playback.channel(channel).begin());
        }
        return stream.play_and_record(request).recording;
    }
};

/// Three mics at fractional delays after the zone output, then the loopback.
Pass three_mics_and_loopback() {
    Pass pass;
    pass.stream.connect(1, {zone_output, 100.25, 0.5});
    pass.stream.connect(2, {zone_output, 480.7, 0.25});
    pass.stream.connect(3, {zone_output, 1234.5, 0.1});
    pass.stream.connect(loopback_input, {loopback_output, 0.0, 0.5});
    pass.inputs = {1, 2, 3, loopback_input};
    return pass;
}

SweepRecordingLayout layout_with_loopback(std::size_t loopback_channel) {
    SweepRecordingLayout layout;
    layout.loopback_channel = loopback_channel;
    layout.channel_names = {"mic 'A'", "mic 'B'", "mic 'C'", "loopback"};
    return layout;
}

TEST_SUITE("sweep recording") {
    TEST_CASE("loopback recovers the hidden latency within 0.05 samples") {
        Pass pass = three_mics_and_loopback();
        const MultichannelSignal recording = pass.record();
        const auto result = analysis::impulse_responses_from_sweep_recording(recording, pass.sweep, layout_with_loopback(4));

        CHECK(result.loopback_status == LoopbackStatus::used);
        REQUIRE(result.latency_samples.has_value());
        CHECK(std::fabs(*result.latency_samples - hidden_latency_samples) < 0.05);
        const TimeBase time_base = result.impulse_responses.time_base;
        CHECK(time_base.source == TimeBaseSource::loopback);
        CHECK(time_base.is_absolute());
        CHECK(std::fabs(time_base.time_zero_sample - static_cast<double>(result.pre_roll_samples) - hidden_latency_samples) < 0.05);
        MESSAGE("latency found: " << *result.latency_samples << " samples (hidden: " << hidden_latency_samples << ")");
    }

    TEST_CASE("mic arrivals after the loopback time base within 0.05 samples") {
        Pass pass = three_mics_and_loopback();
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout_with_loopback(4));
        const double time_zero = result.impulse_responses.time_base.time_zero_sample;
        const std::vector<double> expected_delays = {100.25, 480.7, 1234.5};
        for (std::size_t index = 0; index < expected_delays.size(); ++index) {
            CAPTURE(index);
            const auto& channel = result.channels[index];
            REQUIRE(channel.arrival.has_value());
            const double arrival = channel.arrival->arrival_sample - time_zero;
            MESSAGE("mic " << index + 1 << ": arrival " << arrival << " samples, expected " << expected_delays[index]);
            CHECK(std::fabs(arrival - expected_delays[index]) < 0.05);
            CHECK_FALSE(channel.dead);
            CHECK_FALSE(channel.clipped);
        }
    }

    TEST_CASE("impulse responses match the known transfer below -40 dB") {
        Pass pass;
        // Whole-sample delays, so that the reference is an exact discrete impulse.
        pass.stream.connect(1, {zone_output, 200.0, 0.5});
        pass.stream.connect(loopback_input, {loopback_output, 0.0, 0.5});
        pass.inputs = {1, loopback_input};
        SweepRecordingLayout layout;
        layout.loopback_channel = 2;
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout);

        constexpr std::size_t frames = 4096;
        const std::vector<float> measured = analysis::impulse_response_from_time_zero(result.impulse_responses, 0, frames);
        std::vector<float> known(frames, 0.0F);
        // Deconvolution with the played sweep gives the mic path's own gain; the loopback sets only t = 0.
        known[200] = 0.5F;
        const std::vector<float> reference = analysis::limit_to_band(known, result.band, rate_hz, frames);
        const double error_db = analysis::impulse_response_error_db(measured, reference);
        MESSAGE("time-domain error: " << error_db << " dB");
        CHECK(error_db < -40.0);
    }

    TEST_CASE("without a loopback the time base stays relative") {
        Pass pass = three_mics_and_loopback();
        pass.inputs = {1, 2, 3};
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, SweepRecordingLayout{});
        CHECK(result.loopback_status == LoopbackStatus::not_recorded);
        CHECK_FALSE(result.impulse_responses.time_base.is_absolute());
        CHECK(result.impulse_responses.time_base.time_zero_sample == 0.0);
        CHECK_FALSE(result.latency_samples.has_value());
        REQUIRE(result.notes.size() == 1);
        CHECK(result.notes.front().find("relative time base") != std::string::npos);
    }

    TEST_CASE("clipped loopback falls back to relative timing") {
        Pass pass = three_mics_and_loopback();
        // The sweep peaks at -6 dBFS, so a gain of 4 drives the input 6 dB past full scale.
        pass.stream.connect(loopback_input, {loopback_output, 0.0, 4.0});
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout_with_loopback(4));
        CHECK(result.loopback_status == LoopbackStatus::clipped);
        CHECK(result.channels[3].clipped);
        CHECK_FALSE(result.impulse_responses.time_base.is_absolute());
        REQUIRE(result.notes.size() == 1);
        CHECK(result.notes.front().find("channel 4 (loopback) clipped") != std::string::npos);
    }

    TEST_CASE("unwired loopback is reported silent") {
        Pass pass = three_mics_and_loopback();
        pass.stream.connect(loopback_input, {0, 0.0, 1.0, 1e-4});
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout_with_loopback(4));
        CHECK(result.loopback_status == LoopbackStatus::silent);
        CHECK(result.channels[3].dead);
        CHECK_FALSE(result.impulse_responses.time_base.is_absolute());
        REQUIRE(result.notes.size() == 1);
        CHECK(result.notes.front().find("channel 4 (loopback) carries no sweep") != std::string::npos);
    }

    TEST_CASE("loopback buried in noise is too weak") {
        Pass pass = three_mics_and_loopback();
        // The sweep at -40 dBFS under noise at -40 dBFS RMS: the sweep's processing gain lifts
        // the pulse about 35 dB above the noise, short of the 40 dB that sub-sample timing needs.
        pass.stream.connect(loopback_input, {loopback_output, 0.0, 0.02, 0.01});
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout_with_loopback(4));
        CHECK(result.loopback_status == LoopbackStatus::too_weak);
        REQUIRE(result.channels[3].arrival.has_value());
        MESSAGE("loopback arrival confidence: " << result.channels[3].arrival->confidence);
        CHECK_FALSE(result.impulse_responses.time_base.is_absolute());
        REQUIRE(result.notes.size() == 1);
        CHECK(result.notes.front().find("too weak") != std::string::npos);
    }

    TEST_CASE("dead mic channel is flagged by name") {
        Pass pass = three_mics_and_loopback();
        pass.stream.connect(2, {0, 0.0, 1.0, 1e-4});
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout_with_loopback(4));
        CHECK(result.channels[1].dead);
        CHECK_FALSE(result.channels[1].arrival.has_value());
        REQUIRE(result.channels[1].notes.size() == 1);
        CHECK(result.channels[1].notes.front().find("channel 2 (mic 'B') recorded no sweep") != std::string::npos);
        CHECK_FALSE(result.channels[0].dead);
        CHECK(result.loopback_status == LoopbackStatus::used);
    }

    TEST_CASE("clipped mic channel is flagged with its peak") {
        Pass pass = three_mics_and_loopback();
        pass.stream.connect(1, {zone_output, 100.25, 3.0});
        const auto result = analysis::impulse_responses_from_sweep_recording(pass.record(), pass.sweep, layout_with_loopback(4));
        CHECK(result.channels[0].clipped);
        CHECK(result.channels[0].peak_dbfs == doctest::Approx(0.0).epsilon(1e-6));
        CHECK(result.channels[1].peak_dbfs == doctest::Approx(-18.0).epsilon(0.02));
        CHECK(result.channels[0].notes.front().find("channel 1 (mic 'A') clipped") != std::string::npos);
    }

    TEST_CASE("loopback channel beyond the recording is a configuration error") {
        Pass pass = three_mics_and_loopback();
        const MultichannelSignal recording = pass.record();
        try {
            (void)analysis::impulse_responses_from_sweep_recording(recording, pass.sweep, layout_with_loopback(5));
            FAIL("no error");
        } catch (const Error& error) {
            CHECK(error.kind() == ErrorKind::configuration);
            CHECK(std::string(error.what()).find("loopback channel 5 is missing") != std::string::npos);
        }
    }

    TEST_CASE("recording without a tail is rejected") {
        Pass pass = three_mics_and_loopback();
        const MultichannelSignal recording = pass.record(0.05);
        const std::string message = test::error_message(
            [&] { (void)analysis::impulse_responses_from_sweep_recording(recording, pass.sweep, layout_with_loopback(4)); });
        CHECK(message.find("record at least 100 ms") != std::string::npos);
    }

    TEST_CASE("recording at another rate is a configuration error") {
        Pass pass = three_mics_and_loopback();
        const MultichannelSignal recording = pass.record();
        MultichannelSignal resampled(recording.channel_count(), recording.frame_count(), 44100.0);
        analysis::SweepDeconvolver deconvolver(pass.sweep, rate_hz);
        try {
            (void)analysis::impulse_responses_from_sweep_recording(resampled, deconvolver, layout_with_loopback(4));
            FAIL("no error");
        } catch (const Error& error) {
            CHECK(error.kind() == ErrorKind::configuration);
            CHECK(std::string(error.what()).find("44100 Hz") != std::string::npos);
        }
    }

    TEST_CASE("impulse response error matches known ratios") {
        const std::vector<float> reference = {0.0F, 1.0F, 0.5F};
        CHECK(analysis::impulse_response_error_db(reference, reference) < -200.0);
        const std::vector<float> tenth_off = {0.0F, 1.1F, 0.55F};
        CHECK(analysis::impulse_response_error_db(tenth_off, reference) == doctest::Approx(-20.0).epsilon(1e-6));
        const std::vector<float> silent(3, 0.0F);
        CHECK(test::error_message([&] { (void)analysis::impulse_response_error_db(reference, silent); })
                  .find("all zero") != std::string::npos);
    }
}

}  // namespace
