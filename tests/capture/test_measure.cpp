#include "linetune/analysis/arrival.hpp"
#include "linetune/capture/impulse_responses.hpp"
#include "linetune/capture/measure.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/impulse_response_file.hpp"
#include "linetune/io/measurement_file.hpp"

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
// The interface latency, which the software is not given.
constexpr double hidden_latency_samples = 57.3;
constexpr std::size_t loopback_output = 8;
constexpr std::size_t loopback_input = 8;

// Acoustic delay from each zone's output to each mic, in samples: zone outputs 1 and 2, mics on inputs 1 to 3.
const std::vector<std::vector<double>> mic_delays_samples = {{100.25, 480.7, 1234.5}, {650.6, 90.1, 301.9}};
const std::vector<std::string> mic_names = {"FOH", "balcony", "side"};

Venue test_venue(bool loopback = true) {
    Venue venue;
    venue.name = "test hall";
    venue.file = "test-hall.json";
    venue.audio_interface.sample_rate_hz = rate_hz;
    if (loopback) {
        venue.audio_interface.loopback = LoopbackRoute{loopback_output, loopback_input};
    }
    for (std::size_t zone = 0; zone < 2; ++zone) {
        Zone entry;
        entry.name = zone == 0 ? "L-main" : "R-main";
        entry.output = zone + 1;
        venue.zones.push_back(entry);
    }
    for (std::size_t mic = 0; mic < mic_names.size(); ++mic) {
        Microphone entry;
        entry.name = mic_names[mic];
        entry.input = mic + 1;
        entry.zone_weights = {{"L-main", 1.0}, {"R-main", 1.0}};
        venue.microphones.push_back(entry);
    }
    return venue;
}

/// A fake interface whose mic inputs hear whichever zone output the pass plays, each through that
/// zone's delays. FakeCaptureStream fixes one output per input, so one is built per pass.
class TwoZoneStream : public CaptureStream {
public:
    explicit TwoZoneStream(double sample_rate_hz = rate_hz) : format_{sample_rate_hz, 8, 8} {}

    std::vector<double> mic_gains = {0.5, 0.25, 0.1};
    std::deque<std::size_t> xruns_per_pass;
    std::size_t passes = 0;
    std::vector<std::vector<std::size_t>> played_outputs;

    [[nodiscard]] StreamFormat format() const override { return format_; }
    [[nodiscard]] std::string description() const override { return "fake interface 'test'"; }

    CaptureResult play_and_record(const CaptureRequest& request) override {
        ++passes;
        played_outputs.push_back(request.output_channels);
        const std::size_t zone_output = request.output_channels.front();
        test::FakeCaptureStream stream(format_, hidden_latency_samples);
        for (std::size_t mic = 0; mic < mic_names.size(); ++mic) {
            stream.connect(mic + 1, {zone_output, mic_delays_samples[zone_output - 1][mic], mic_gains[mic]});
        }
        stream.connect(loopback_input, {loopback_output, 0.0, 0.5});
        CaptureResult result = stream.play_and_record(request);
        if (!xruns_per_pass.empty()) {
            result.xrun_count = xruns_per_pass.front();
            xruns_per_pass.pop_front();
        }
        return result;
    }

private:
    StreamFormat format_;
};

MeasureOptions short_sweep() {
    MeasureOptions options;
    options.sweep.duration_s = 1.0;
    options.tail_s = 0.3;
    return options;
}

nlohmann::json read_json(const fs::path& path) {
    std::ifstream stream(path);
    return nlohmann::json::parse(stream);
}

Error error_of(const auto& action) {
    try {
        action();
    } catch (const Error& error) {
        return error;
    }
    FAIL("no error");
    return Error("no error");
}

TEST_SUITE("measure") {
    TEST_CASE("measure writes each zone's recording and complete JSON") {
        const fs::path session = test::scratch_dir("capture_measure_files");
        TwoZoneStream stream;
        const auto result = capture::measure(test_venue(), stream, session, short_sweep());

        REQUIRE(result.recordings.size() == 2);
        const std::size_t sweep_frames = generate_exponential_sweep({20.0, 20000.0, 1.0, rate_hz}).size();
        const std::size_t record_frames = sweep_frames + static_cast<std::size_t>(0.3 * rate_hz);
        CHECK(result.sound_s == doctest::Approx(2.0 * static_cast<double>(record_frames) / rate_hz));
        for (const std::string zone : {"L-main", "R-main"}) {
            CAPTURE(zone);
            const fs::path wav = session / "measurements" / zone / "recording.wav";
            const fs::path json_path = session / "measurements" / zone / "recording.json";
            REQUIRE(fs::is_regular_file(wav));
            REQUIRE(fs::is_regular_file(json_path));

            const io::AudioFile audio = io::read_audio_file(wav);
            CHECK(audio.signal.channel_count() == 4);
            CHECK(audio.signal.frame_count() == record_frames);
            CHECK(audio.info.sample_format == "float 32-bit");

            const nlohmann::json json = read_json(json_path);
            CHECK(json["format"] == "linetune recording");
            CHECK(json["version"] == 1);
            CHECK(json["venue"] == "test hall");
            CHECK(json["zone"] == zone);
            CHECK(json["output"] == (zone == "L-main" ? 1 : 2));
            CHECK(json["loopback_output"] == loopback_output);
            CHECK(json["loopback_channel"] == 4);
            CHECK(json["sample_rate_hz"] == rate_hz);
            CHECK(json["frames"] == record_frames);
            CHECK(json["sweep"]["start_freq_hz"] == 20.0);
            CHECK(json["sweep"]["end_freq_hz"] == 20000.0);
            CHECK(json["sweep"]["frames"] == sweep_frames);
            CHECK(json["tail_s"] == 0.3);
            CHECK(json["xrun_count"] == 0);
            CHECK(json["passes"] == 1);
            CHECK(json["software"].get<std::string>().rfind("linetune ", 0) == 0);
            const std::string utc = json["recorded_utc"];
            CHECK(utc.size() == 20);
            CHECK(utc.back() == 'Z');
            REQUIRE(json["channels"].size() == 4);
            for (std::size_t mic = 0; mic < 3; ++mic) {
                CHECK(json["channels"][mic]["channel"] == mic + 1);
                CHECK(json["channels"][mic]["input"] == mic + 1);
                CHECK(json["channels"][mic]["mic"] == mic_names[mic]);
                CHECK(json["channels"][mic]["silent"] == false);
            }
            CHECK(json["channels"][3]["loopback"] == true);
            CHECK(json["channels"][3]["input"] == loopback_input);
            // The first mic hears the -6 dBFS sweep at gain 0.5: -12 dBFS.
            CHECK(json["channels"][0]["peak_dbfs"].get<double>() == doctest::Approx(-12.0).epsilon(0.02));
            const capture::RecordingMetadata metadata = capture::read_recording_metadata(json_path);
            CHECK(metadata.zone == zone);
            CHECK(metadata.loopback_channel == 4U);
        }
    }

    TEST_CASE("each pass plays the zone output and the loopback output") {
        const fs::path session = test::scratch_dir("capture_measure_outputs");
        TwoZoneStream stream;
        MeasureOptions options = short_sweep();
        options.zones = {"R-main"};
        const auto result = capture::measure(test_venue(), stream, session, options);
        REQUIRE(stream.played_outputs.size() == 1);
        CHECK(stream.played_outputs[0] == std::vector<std::size_t>{2, loopback_output});
        REQUIRE(result.recordings.size() == 1);
        CHECK(result.recordings[0].zone == "R-main");
        CHECK_FALSE(fs::exists(session / "measurements" / "L-main"));
    }

    TEST_CASE("impulse responses from recordings carry the loopback time base") {
        const fs::path session = test::scratch_dir("capture_measure_impulse_responses");
        TwoZoneStream stream;
        (void)capture::measure(test_venue(), stream, session, short_sweep());
        const auto written = capture::write_impulse_responses(session, {});

        REQUIRE(written.zones.size() == 2);
        for (std::size_t zone = 0; zone < 2; ++zone) {
            const auto& responses = written.zones[zone];
            CAPTURE(responses.zone);
            CHECK(responses.loopback_status == analysis::LoopbackStatus::used);
            REQUIRE(responses.latency_samples.has_value());
            CHECK(std::fabs(*responses.latency_samples - hidden_latency_samples) < 0.05);
            REQUIRE(responses.mics.size() == 3);
            for (std::size_t mic = 0; mic < 3; ++mic) {
                CAPTURE(mic_names[mic]);
                const fs::path wav = session / "impulse-responses" / responses.zone / (mic_names[mic] + ".wav");
                CHECK(responses.mics[mic].wav_path == wav);
                REQUIRE(fs::is_regular_file(wav));
                REQUIRE(fs::is_regular_file(session / "impulse-responses" / responses.zone / (mic_names[mic] + ".json")));

                // Read back as any measurement: the sidecar's time base makes the arrival absolute.
                const io::Measurement measurement = io::read_measurement(wav, {});
                const TimeBase time_base = measurement.signal.time_base;
                CHECK(time_base.source == TimeBaseSource::loopback);
                const analysis::Arrival arrival = analysis::estimate_arrival(measurement.signal.channel(0), rate_hz);
                const double arrival_samples = arrival.arrival_sample - time_base.time_zero_sample;
                MESSAGE(responses.zone << " / " << mic_names[mic] << ": arrival " << arrival_samples
                                       << " samples, expected " << mic_delays_samples[zone][mic]);
                CHECK(std::fabs(arrival_samples - mic_delays_samples[zone][mic]) < 0.05);
            }
        }
    }

    TEST_CASE("clipped input fails the zone and writes no JSON for it") {
        const fs::path session = test::scratch_dir("capture_measure_clipped");
        TwoZoneStream stream;
        // -6 dBFS sweep at gain 3: the balcony input clips in every pass.
        stream.mic_gains[1] = 3.0;
        const Error error = error_of([&] { (void)capture::measure(test_venue(), stream, session, short_sweep()); });
        CHECK(error.kind() == ErrorKind::device);
        const std::string message = error.what();
        CHECK(message.find("zone 'L-main'") != std::string::npos);
        CHECK(message.find("input 2 (mic 'balcony'") != std::string::npos);
        CHECK(message.find("clipping") != std::string::npos);
        CHECK_FALSE(fs::exists(session / "measurements" / "L-main" / "recording.json"));
        CHECK_FALSE(fs::exists(session / "measurements" / "L-main" / "recording.wav"));
        CHECK(stream.passes == 1);
    }

    TEST_CASE("zones finished before a clipped zone stay on disk") {
        const fs::path session = test::scratch_dir("capture_measure_clipped_second");
        TwoZoneStream stream;
        MeasureOptions options = short_sweep();
        // The second zone's pass clips its first mic.
        options.progress = [&](const MeasureProgress& progress) {
            if (progress.event == MeasureProgress::Event::zone_finished) {
                stream.mic_gains[0] = 4.0;
            }
        };
        const Error error = error_of([&] { (void)capture::measure(test_venue(), stream, session, options); });
        CHECK(std::string(error.what()).find("zone 'R-main'") != std::string::npos);
        CHECK(fs::is_regular_file(session / "measurements" / "L-main" / "recording.json"));
        CHECK_FALSE(fs::exists(session / "measurements" / "R-main" / "recording.json"));
    }

    TEST_CASE("pass with an xrun is repeated once") {
        const fs::path session = test::scratch_dir("capture_measure_xrun");
        TwoZoneStream stream;
        stream.xruns_per_pass = {2};
        std::vector<MeasureProgress> events;
        MeasureOptions options = short_sweep();
        options.zones = {"L-main"};
        options.progress = [&](const MeasureProgress& progress) { events.push_back(progress); };
        const auto result = capture::measure(test_venue(), stream, session, options);

        CHECK(stream.passes == 2);
        REQUIRE(events.size() == 3);
        CHECK(events[1].event == MeasureProgress::Event::pass_repeated);
        CHECK(events[1].xrun_count == 2);
        CHECK(result.recordings[0].metadata.passes == 2);
        CHECK(result.recordings[0].metadata.xrun_count == 0);
        CHECK(result.sound_s == doctest::Approx(2.0 * events[0].sound_s));
        const nlohmann::json json = read_json(session / "measurements" / "L-main" / "recording.json");
        CHECK(json["passes"] == 2);
    }

    TEST_CASE("xruns in the repeated pass are a device error") {
        const fs::path session = test::scratch_dir("capture_measure_xrun_twice");
        TwoZoneStream stream;
        stream.xruns_per_pass = {1, 1};
        const Error error = error_of([&] { (void)capture::measure(test_venue(), stream, session, short_sweep()); });
        CHECK(error.kind() == ErrorKind::device);
        CHECK(std::string(error.what()).find("zone 'L-main'") != std::string::npos);
        CHECK(std::string(error.what()).find("xrun") != std::string::npos);
        CHECK(stream.passes == 2);
        CHECK_FALSE(fs::exists(session / "measurements" / "L-main" / "recording.json"));
    }

    TEST_CASE("wrong stream rate is a configuration error before any pass") {
        const fs::path session = test::scratch_dir("capture_measure_rate");
        TwoZoneStream stream(44100.0);
        const Error error = error_of([&] { (void)capture::measure(test_venue(), stream, session, short_sweep()); });
        CHECK(error.kind() == ErrorKind::configuration);
        const std::string message = error.what();
        CHECK(message.find("44100 Hz") != std::string::npos);
        CHECK(message.find("48000 Hz") != std::string::npos);
        CHECK(stream.passes == 0);
        CHECK_FALSE(fs::exists(session / "measurements"));
    }

    TEST_CASE("mics sharing an input are rejected before any pass") {
        const fs::path session = test::scratch_dir("capture_measure_shared_input");
        Venue venue = test_venue();
        venue.microphones[2].input = 1;
        TwoZoneStream stream;
        const Error error = error_of([&] { (void)capture::measure(venue, stream, session, short_sweep()); });
        CHECK(error.kind() == ErrorKind::configuration);
        CHECK(std::string(error.what()).find("mics 'FOH' and 'side' share input 1") != std::string::npos);
        CHECK(stream.passes == 0);
    }

    TEST_CASE("missing channels are listed together before any pass") {
        const fs::path session = test::scratch_dir("capture_measure_channels");
        Venue venue = test_venue();
        venue.zones[1].output = 9;
        venue.microphones[0].input = 12;
        venue.audio_interface.loopback->input = 3;
        TwoZoneStream stream;
        const Error error = error_of([&] { (void)capture::measure(venue, stream, session, short_sweep()); });
        CHECK(error.kind() == ErrorKind::configuration);
        const std::string message = error.what();
        CHECK(message.find("3 problems") != std::string::npos);
        CHECK(message.find("zone 'R-main' uses output 9, but the interface has 8") != std::string::npos);
        CHECK(message.find("mic 'FOH' uses input 12, but the interface has 8") != std::string::npos);
        CHECK(message.find("mic 'side' uses input 3, which is the loopback input") != std::string::npos);
        CHECK(stream.passes == 0);
    }

    TEST_CASE("zone without an output or with a path name is rejected") {
        Venue venue = test_venue();
        venue.zones[0].output = 0;
        venue.zones[1].name = "../R";
        const std::string message = test::error_message(
            [&] { capture::check_measurement_setup(venue, {rate_hz, 8, 8}, short_sweep()); });
        CHECK(message.find("zone 'L-main' has no output") != std::string::npos);
        CHECK(message.find("zone '../R' cannot name a session folder") != std::string::npos);
    }

    TEST_CASE("unknown zone name is rejected") {
        MeasureOptions options = short_sweep();
        options.zones = {"fills"};
        const std::string message = test::error_message(
            [&] { capture::check_measurement_setup(test_venue(), {rate_hz, 8, 8}, options); });
        CHECK(message.find("zone 'fills' is not in the venue") != std::string::npos);
    }

    TEST_CASE("silent mic is flagged and still saved") {
        const fs::path session = test::scratch_dir("capture_measure_silent");
        TwoZoneStream stream;
        stream.mic_gains[2] = 0.0;
        MeasureOptions options = short_sweep();
        options.zones = {"L-main"};
        const auto result = capture::measure(test_venue(), stream, session, options);
        CHECK(result.recordings[0].silent_mics == std::vector<std::string>{"side"});
        const nlohmann::json json = read_json(session / "measurements" / "L-main" / "recording.json");
        CHECK(json["channels"][2]["silent"] == true);
        CHECK(json["channels"][0]["silent"] == false);

        const auto written = capture::write_impulse_responses(session, {});
        const auto sidecar = io::read_impulse_response_sidecar(session / "impulse-responses" / "L-main" / "side.json");
        REQUIRE(sidecar.has_value());
        const auto& flags = sidecar->origin.flags;
        CHECK(std::find(flags.begin(), flags.end(), "dead") != flags.end());
    }

    TEST_CASE("progress reports each zone with its sound time") {
        const fs::path session = test::scratch_dir("capture_measure_progress");
        TwoZoneStream stream;
        std::vector<MeasureProgress> events;
        MeasureOptions options = short_sweep();
        options.progress = [&](const MeasureProgress& progress) { events.push_back(progress); };
        (void)capture::measure(test_venue(), stream, session, options);

        REQUIRE(events.size() == 4);
        CHECK(events[0].event == MeasureProgress::Event::zone_started);
        CHECK(events[0].zone == "L-main");
        CHECK(events[0].zone_number == 1);
        CHECK(events[0].zone_count == 2);
        CHECK(events[1].event == MeasureProgress::Event::zone_finished);
        CHECK(events[3].zone == "R-main");
        CHECK(events[3].zone_number == 2);
        // 1 s requested: the synchronized sweep is close to it, plus the 0.3 s tail.
        CHECK(events[0].sound_s == doctest::Approx(1.3).epsilon(0.05));
    }

    TEST_CASE("unfinished recording is skipped with a note") {
        const fs::path session = test::scratch_dir("capture_measure_unfinished");
        TwoZoneStream stream;
        (void)capture::measure(test_venue(), stream, session, short_sweep());
        fs::remove(session / "measurements" / "R-main" / "recording.json");
        const auto written = capture::write_impulse_responses(session, {});
        REQUIRE(written.zones.size() == 1);
        CHECK(written.zones[0].zone == "L-main");
        REQUIRE(written.notes.size() == 1);
        CHECK(written.notes[0].find("zone 'R-main'") != std::string::npos);
        CHECK(written.notes[0].find("has no recording.json") != std::string::npos);
        CHECK_FALSE(fs::exists(session / "impulse-responses" / "R-main"));
    }

    TEST_CASE("requested zone without a recording is an error") {
        const fs::path session = test::scratch_dir("capture_measure_missing_zone");
        TwoZoneStream stream;
        MeasureOptions options = short_sweep();
        options.zones = {"L-main"};
        (void)capture::measure(test_venue(), stream, session, options);
        capture::ImpulseResponseOptions ir_options;
        ir_options.zones = {"R-main"};
        const std::string message = test::error_message([&] { (void)capture::write_impulse_responses(session, ir_options); });
        CHECK(message.find("zone 'R-main' has no complete recording") != std::string::npos);
    }

    TEST_CASE("without a loopback the impulse responses are marked relative") {
        const fs::path session = test::scratch_dir("capture_measure_no_loopback");
        TwoZoneStream stream;
        MeasureOptions options = short_sweep();
        options.zones = {"L-main"};
        const auto result = capture::measure(test_venue(false), stream, session, options);
        CHECK(result.recordings[0].metadata.channels.size() == 3);
        CHECK_FALSE(result.recordings[0].metadata.loopback_channel.has_value());

        const auto written = capture::write_impulse_responses(session, {});
        CHECK(written.zones[0].loopback_status == analysis::LoopbackStatus::not_recorded);
        const fs::path wav = session / "impulse-responses" / "L-main" / "FOH.wav";
        const auto sidecar = io::read_impulse_response_sidecar(io::impulse_response_sidecar_path(wav));
        REQUIRE(sidecar.has_value());
        CHECK(sidecar->time_base.source == TimeBaseSource::file_start);
        const auto& flags = sidecar->origin.flags;
        CHECK(std::find(flags.begin(), flags.end(), "relative_timing") != flags.end());
        CHECK_FALSE(io::read_measurement(wav, {}).signal.time_base.is_absolute());
    }

    TEST_CASE("recording metadata that disagrees with its WAV is rejected") {
        const fs::path session = test::scratch_dir("capture_measure_mismatch");
        TwoZoneStream stream;
        MeasureOptions options = short_sweep();
        options.zones = {"L-main"};
        (void)capture::measure(test_venue(), stream, session, options);
        const fs::path json_path = session / "measurements" / "L-main" / "recording.json";
        nlohmann::json json = read_json(json_path);
        json["frames"] = 1000;
        test::write_file(json_path, json.dump());
        const std::string message = test::error_message([&] { (void)capture::write_impulse_responses(session, {}); });
        CHECK(message.find("disagrees with") != std::string::npos);
        CHECK(message.find("recording.json") != std::string::npos);
    }
}

    TEST_CASE("recording metadata with a number beyond double range names the file and key") {
        const fs::path path = test::write_file(test::scratch_dir("capture_metadata_overflow") / "recording.json",
                                               R"({"format": "linetune recording", "sample_rate_hz": 1e999})");
        const std::string message = test::error_message([&] { (void)capture::read_recording_metadata(path); });
        CHECK(message.find(path.string()) != std::string::npos);
        CHECK(message.find("sample_rate_hz") != std::string::npos);
        CHECK(message.find("number overflow") != std::string::npos);
    }
}  // namespace
