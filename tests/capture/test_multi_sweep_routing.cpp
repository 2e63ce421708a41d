// The routing and gain-staging check of a multiple-sweep pass: every zone's quiet test tone plays,
// one zone after another, before the overlapped sweeps, with the checks of a sequential pass.

#include "linetune/capture/measure.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/core/error.hpp"

#include "fake_capture_stream.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;
using capture::MeasureOptions;

constexpr double rate_hz = 48000.0;
constexpr double hidden_latency_samples = 57.3;  // not given to the software
constexpr std::size_t loopback_io = 8;

/// Where one interface output's sound arrives: a 1-based input, a delay after the hidden
/// latency, and a gain.
struct Arrival {
    std::size_t input = 0;
    double delay_samples = 0.0;
    double gain = 1.0;
};

/// A fake interface whose inputs hear the sum of several outputs, each through its own delay and
/// gain, plus -100 dBFS RMS of seeded noise: what overlapped sweeps need, where FakeCaptureStream
/// wires one output per input.
class WiredStream final : public CaptureStream {
public:
    std::map<std::size_t, std::vector<Arrival>> wiring;  ///< per 1-based output
    std::vector<CaptureRequest> requests;

    [[nodiscard]] StreamFormat format() const override { return {rate_hz, 8, 8}; }
    [[nodiscard]] std::string description() const override { return "fake interface 'wired'"; }

    CaptureResult play_and_record(const CaptureRequest& request) override {
        requests.push_back(request);
        CaptureResult result;
        result.recording = MultichannelSignal(request.input_channels.size(), request.record_frames, rate_hz);
        std::mt19937 generator(static_cast<unsigned>(2024 + requests.size()));
        std::normal_distribution<double> noise(0.0, 1e-5);
        for (std::size_t index = 0; index < request.input_channels.size(); ++index) {
            std::vector<double> sum(request.record_frames, 0.0);
            for (std::size_t played = 0; played < request.output_channels.size(); ++played) {
                for (const Arrival& arrival : wiring[request.output_channels[played]]) {
                    if (arrival.input != request.input_channels[index]) {
                        continue;
                    }
                    const std::vector<double> delayed = test::delay_band_limited(
                        request.playback.channel(played), hidden_latency_samples + arrival.delay_samples,
                        request.record_frames);
                    for (std::size_t n = 0; n < sum.size(); ++n) {
                        sum[n] += arrival.gain * delayed[n];
                    }
                }
            }
            auto recorded = result.recording.channel(index);
            for (std::size_t n = 0; n < sum.size(); ++n) {
                recorded[n] = static_cast<float>(std::clamp(sum[n] + noise(generator), -1.0, 1.0));
            }
        }
        return result;
    }
};

/// Two zones on outputs 1 and 2 and three mics: FOH weighs zone L, balcony zone R, side both.
Venue two_zone_venue() {
    Venue venue;
    venue.name = "routing hall";
    venue.file = "routing-hall.json";
    venue.audio_interface.sample_rate_hz = rate_hz;
    venue.audio_interface.loopback = LoopbackRoute{loopback_io, loopback_io};
    for (std::size_t zone = 0; zone < 2; ++zone) {
        Zone entry;
        entry.name = zone == 0 ? "L" : "R";
        entry.output = zone + 1;
        venue.zones.push_back(entry);
    }
    const std::vector<std::pair<std::string, std::map<std::string, double>>> mics = {
        {"FOH", {{"L", 1.0}}}, {"balcony", {{"R", 1.0}}}, {"side", {{"L", 1.0}, {"R", 1.0}}}};
    for (std::size_t mic = 0; mic < mics.size(); ++mic) {
        Microphone entry;
        entry.name = mics[mic].first;
        entry.input = mic + 1;
        entry.zone_weights = mics[mic].second;
        venue.microphones.push_back(entry);
    }
    return venue;
}

/// Wires zone L's amplifier to output 1, zone R's to `zone_r_output` and the loopback cable to output 8.
WiredStream wired_rig(std::size_t zone_r_output = 2) {
    WiredStream stream;
    stream.wiring[1] = {{1, 100.25, 0.5}, {3, 300.5, 0.2}};
    stream.wiring[zone_r_output] = {{2, 90.1, 0.25}, {3, 250.7, 0.2}};
    stream.wiring[loopback_io] = {{loopback_io, 0.0, 0.5}};
    return stream;
}

MeasureOptions multi_sweep_with_tone() {
    MeasureOptions options;
    options.multi_sweep = true;
    options.sweep.duration_s = 2.0;
    options.sweep.level_dbfs = -6.0;
    options.tail_s = 0.2;
    options.noise_floor_s = 0.25;
    options.test_tone = true;
    return options;
}

bool plays_every_zone(const CaptureRequest& request) {
    return std::find(request.output_channels.begin(), request.output_channels.end(), 1) != request.output_channels.end() &&
           std::find(request.output_channels.begin(), request.output_channels.end(), 2) != request.output_channels.end();
}

TEST_SUITE("multi sweep test tone") {
    TEST_CASE("every zone's tone precedes the pass") {
        const fs::path session = test::scratch_dir("capture-multi-sweep-tone");
        WiredStream stream = wired_rig();
        const capture::MeasureResult measured = capture::measure(two_zone_venue(), stream, session, multi_sweep_with_tone());
        REQUIRE(measured.multi_sweep);

        // Noise floor, the tone of zone L alone, the tone of zone R alone, then the pass.
        REQUIRE(stream.requests.size() == 4);
        CHECK(stream.requests[1].output_channels == std::vector<std::size_t>{1});
        CHECK(stream.requests[2].output_channels == std::vector<std::size_t>{2});
        CHECK(plays_every_zone(stream.requests[3]));
        // Each tone is followed by one zone's window (0.2 s), not by the whole pass.
        for (std::size_t tone = 1; tone <= 2; ++tone) {
            CAPTURE(tone);
            CHECK(stream.requests[tone].record_frames < static_cast<std::size_t>(0.6 * rate_hz));
        }

        // Every mic that weighs a zone heard its tone. FOH hears only zone L, so the tone of L
        // predicts FOH's peak in the pass within 0.2 dB, as in a sequential pass.
        const auto zone_l = capture::read_recording_metadata(session / "measurements" / "L" / "recording.json");
        const auto zone_r = capture::read_recording_metadata(session / "measurements" / "R" / "recording.json");
        for (std::size_t mic = 0; mic < 3; ++mic) {
            CAPTURE(mic);
            CHECK(zone_l.channels[mic].heard_test_tone);
            CHECK(zone_r.channels[mic].heard_test_tone);
        }
        REQUIRE(zone_l.channels[0].predicted_peak_dbfs.has_value());
        MESSAGE("FOH: predicted " << *zone_l.channels[0].predicted_peak_dbfs << " dBFS, recorded "
                                  << zone_l.channels[0].peak_dbfs << " dBFS in the pass");
        CHECK(std::fabs(*zone_l.channels[0].predicted_peak_dbfs - zone_l.channels[0].peak_dbfs) < 0.2);
        // Balcony hears only zone R: zone L's tone found nothing there, zone R's predicted its peak.
        REQUIRE(zone_r.channels[1].predicted_peak_dbfs.has_value());
        CHECK(std::fabs(*zone_r.channels[1].predicted_peak_dbfs - zone_r.channels[1].peak_dbfs) < 0.2);
        CHECK(*zone_l.channels[1].predicted_peak_dbfs < zone_r.channels[1].peak_dbfs - 20.0);
    }

    TEST_CASE("zone on wrong output stops the run") {
        const fs::path session = test::scratch_dir("capture-multi-sweep-tone-wrong-output");
        WiredStream stream = wired_rig(3);  // zone R's amplifier hangs on output 3, not the venue's 2
        Error error("none");
        try {
            (void)capture::measure(two_zone_venue(), stream, session, multi_sweep_with_tone());
            FAIL("the multiple-sweep pass was measured");
        } catch (const Error& caught) {
            error = caught;
        }
        const std::string message = error.what();
        CAPTURE(message);
        CHECK(error.kind() == ErrorKind::configuration);
        CHECK(message.find("zone 'R': none of the zone's mics heard the test tone on output 2") != std::string::npos);
        // Noise floor and the two tones played; no sweep did, and nothing was saved.
        CHECK(stream.requests.size() == 3);
        CHECK(std::none_of(stream.requests.begin(), stream.requests.end(), plays_every_zone));
        CHECK_FALSE(fs::exists(session / "measurements" / "L" / "recording.json"));
        CHECK_FALSE(fs::exists(session / "measurements" / "R" / "recording.json"));
    }

    TEST_CASE("missed tone is flagged per zone") {
        const fs::path session = test::scratch_dir("capture-multi-sweep-tone-side");
        WiredStream stream = wired_rig();
        stream.wiring[2] = {{2, 90.1, 0.25}};  // side's cable from zone R's area is unplugged
        (void)capture::measure(two_zone_venue(), stream, session, multi_sweep_with_tone());
        const auto zone_l = capture::read_recording_metadata(session / "measurements" / "L" / "recording.json");
        const auto zone_r = capture::read_recording_metadata(session / "measurements" / "R" / "recording.json");
        CHECK(zone_l.channels[2].heard_test_tone);
        CHECK_FALSE(zone_r.channels[2].heard_test_tone);
        CHECK(zone_r.channels[1].heard_test_tone);
    }

    TEST_CASE("predicted peak over ceiling stops the run") {
        WiredStream stream = wired_rig();
        // Each of the two overlapping sweeps plays at -12 dBFS, 6 dB under the -6 dBFS ceiling, so a
        // gain of 4 (+12 dB) brings FOH's sweep to full scale, over the -1 dBFS limit.
        stream.wiring[1] = {{1, 100.25, 4.0}, {3, 300.5, 0.2}};
        MeasureOptions options = multi_sweep_with_tone();
        const std::string message = test::error_message([&] {
            (void)capture::measure(two_zone_venue(), stream, test::scratch_dir("capture-multi-sweep-tone-loud"), options);
        });
        CAPTURE(message);
        CHECK(message.find("zone 'L': the test tone") != std::string::npos);
        CHECK(message.find("mic 'FOH' (input 1) would reach") != std::string::npos);
        CHECK(message.find("Nothing louder than the test tone was played") != std::string::npos);
        CHECK(stream.requests.size() == 2);  // noise floor and zone L's tone
    }
}

}  // namespace
