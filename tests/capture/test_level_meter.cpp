#include "linetune/capture/level_meter.hpp"
#include "linetune/core/units.hpp"

#include "fake_capture_stream.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace {

using namespace linetune;
using capture::LevelMeter;

constexpr double rate_hz = 48000.0;
constexpr std::size_t block_frames = 256;  // a typical callback buffer

/// Records one second of a sine at sine_dbfs (peak) on output 1 through the fake interface.
/// Input 1 hears output 1; input 2 hears only noise. Both add −120 dBFS RMS of noise.
CaptureResult record_sine(double sine_dbfs, double freq_hz) {
    test::FakeCaptureStream stream({rate_hz, 2, 2}, 0.0);
    stream.connect(1, {.output = 1, .delay_samples = 0.0, .gain = 1.0, .noise_rms = 1e-6});
    stream.connect(2, {.output = 0, .noise_rms = 1e-6});
    const auto frames = static_cast<std::size_t>(rate_hz);
    CaptureRequest request;
    request.playback = MultichannelSignal(1, frames, rate_hz);
    const double amplitude = std::pow(10.0, sine_dbfs / 20.0);
    auto samples = request.playback.channel(0);
    for (std::size_t n = 0; n < frames; ++n) {
        samples[n] = static_cast<float>(amplitude * std::sin(2.0 * pi * freq_hz * static_cast<double>(n) / rate_hz));
    }
    request.output_channels = {1};
    request.input_channels = {1, 2};
    request.record_frames = frames;
    return stream.play_and_record(request);
}

/// Feeds a recording to the meter block by block, as an audio callback does.
void meter_like_a_callback(LevelMeter& meter, const MultichannelSignal& recording, std::size_t frames) {
    for (std::size_t start = 0; start < frames; start += block_frames) {
        const std::size_t end = std::min(frames, start + block_frames);
        for (std::size_t frame = start; frame < end; ++frame) {
            for (std::size_t input = 0; input < recording.channel_count(); ++input) {
                meter.observe(input, recording.channel(input)[frame]);
            }
        }
        meter.set_frames_done(end);
    }
}

}  // namespace

TEST_CASE("level meter reads a -6 dBFS sine as -6.0 dBFS") {
    // 997 Hz is not a divisor of the rate, so the samples miss the sine's crests by up to half a
    // sample: the sampled peak lies within cos(π·997/48000) of the true one, 0.02 dB.
    const CaptureResult result = record_sine(-6.0, 997.0);
    LevelMeter meter(2);
    meter.start_pass(result.recording.frame_count());
    meter_like_a_callback(meter, result.recording, result.recording.frame_count());

    const double sine_dbfs = LevelMeter::peak_dbfs(meter.take_peak(0));
    const double noise_dbfs = LevelMeter::peak_dbfs(meter.take_peak(1));
    MESSAGE("sine read as " << sine_dbfs << " dBFS, the noise-only input as " << noise_dbfs << " dBFS peak");
    CHECK(std::fabs(sine_dbfs - -6.0) <= 0.1);
    // Gaussian noise of 1e-6 RMS (−120 dBFS) peaks at 4 to 5 sigma over 48000 samples: −108 to −106 dBFS.
    CHECK(noise_dbfs < -90.0);
    CHECK(noise_dbfs > -120.0);
}

TEST_CASE("frames done reach the pass total") {
    const CaptureResult result = record_sine(-20.0, 1000.0);
    const std::size_t total = result.recording.frame_count();
    LevelMeter meter(2);
    CHECK(meter.progress().total_frames == 0);
    meter.start_pass(total);
    CHECK(meter.progress().frames_done == 0);
    CHECK(meter.progress().total_frames == total);

    meter_like_a_callback(meter, result.recording, total / 2);
    CHECK(meter.progress().frames_done == total / 2);
    meter_like_a_callback(meter, result.recording, total);
    CHECK(meter.progress().frames_done == total);
    CHECK(meter.progress().total_frames == total);

    meter.end_pass();
    CHECK(meter.progress().total_frames == 0);
}

TEST_CASE("taking a peak resets it") {
    LevelMeter meter(1);
    meter.start_pass(10);
    meter.observe(0, -0.5f);  // negative samples count by magnitude
    meter.observe(0, 0.25f);
    CHECK(LevelMeter::peak_dbfs(meter.take_peak(0)) == doctest::Approx(20.0 * std::log10(0.5)));
    CHECK(LevelMeter::peak_dbfs(meter.take_peak(0)) == doctest::Approx(-120.0));  // nothing since: the floor
    meter.observe(0, 0.1f);
    CHECK(LevelMeter::peak_dbfs(meter.take_peak(0)) == doctest::Approx(-20.0));
    meter.observe(3, 1.0f);  // an input beyond the meter's count is ignored, not written out of bounds
    CHECK(meter.take_peak(3) == 0.0f);
}
