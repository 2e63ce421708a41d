#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/impulse_response_file.hpp"
#include "linetune/io/measurement_file.hpp"
#include "linetune/io/wav_writer.hpp"

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

using namespace linetune;
namespace fs = std::filesystem;

constexpr double rate_hz = 48000.0;
constexpr std::size_t frames = 4800;
constexpr double loopback_time_zero = 537.31;

MultichannelSignal test_impulse_response() {
    MultichannelSignal signal(1, frames, rate_hz);
    signal.channel(0)[600] = 0.5F;
    signal.channel(0)[900] = -0.125F;
    signal.time_base = {loopback_time_zero, TimeBaseSource::loopback};
    return signal;
}

io::ImpulseResponseOrigin test_origin() {
    io::ImpulseResponseOrigin origin;
    origin.zone = "L-main";
    origin.mic = "FOH";
    origin.recording = fs::path("..") / ".." / "measurements" / "L-main" / "recording.wav";
    origin.recording_channel = 1;
    origin.latency_samples = 57.31;
    origin.band_hz = FrequencyBand{20.0, 20000.0};
    origin.recording_peak_dbfs = -12.5;
    origin.flags = {"dead"};
    origin.notes = {"a note"};
    return origin;
}

nlohmann::json read_json(const fs::path& path) {
    std::ifstream stream(path);
    return nlohmann::json::parse(stream);
}

/// Writes an impulse response, then lets the test edit its sidecar's JSON.
fs::path write_with_edited_sidecar(const std::string& folder, const auto& edit) {
    const fs::path wav = test::scratch_dir(folder) / "FOH.wav";
    io::write_impulse_response(wav, test_impulse_response(), test_origin());
    const fs::path sidecar = io::impulse_response_sidecar_path(wav);
    nlohmann::json json = read_json(sidecar);
    edit(json);
    test::write_file(sidecar, json.dump(2));
    return wav;
}

Error read_error(const fs::path& wav) {
    try {
        (void)io::read_measurement(wav, {});
    } catch (const Error& error) {
        return error;
    }
    FAIL("no error");
    return Error("no error");
}

TEST_SUITE("impulse response file") {
    TEST_CASE("sidecar gives read_measurement an absolute time base") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_time_base") / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());

        const io::Measurement measurement = io::read_measurement(wav, {});
        const TimeBase time_base = measurement.signal.time_base;
        CHECK(time_base.is_absolute());
        CHECK(time_base.source == TimeBaseSource::loopback);
        CHECK(time_base.time_zero_sample == loopback_time_zero);
        CHECK(measurement.info.sample_format == "float 32-bit");
        CHECK(measurement.signal.channel(0)[600] == 0.5F);
        REQUIRE_FALSE(measurement.notes.empty());
        CHECK(measurement.notes.back().find("time base from 'FOH.json'") != std::string::npos);
    }

    TEST_CASE("sidecar holds its documented keys") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_keys") / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());
        const nlohmann::json json = read_json(wav.parent_path() / "FOH.json");
        CHECK(json["format"] == "linetune impulse response");
        CHECK(json["version"] == 1);
        CHECK(json["sample_rate_hz"] == rate_hz);
        CHECK(json["frames"] == frames);
        CHECK(json["time_zero_sample"] == loopback_time_zero);
        CHECK(json["time_base"] == "loopback");
        CHECK(json["zone"] == "L-main");
        CHECK(json["mic"] == "FOH");
        CHECK(json["recording"] == "../../measurements/L-main/recording.wav");
        CHECK(json["latency_samples"] == 57.31);
    }

    TEST_CASE("sidecar round trip keeps the origin") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_round_trip") / "nested" / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());
        const auto sidecar = io::read_impulse_response_sidecar(io::impulse_response_sidecar_path(wav));
        REQUIRE(sidecar.has_value());
        CHECK(sidecar->sample_rate_hz == rate_hz);
        CHECK(sidecar->frames == frames);
        CHECK(sidecar->origin.zone == "L-main");
        CHECK(sidecar->origin.recording_channel == 1);
        CHECK(sidecar->origin.latency_samples == 57.31);
        REQUIRE(sidecar->origin.band_hz.has_value());
        CHECK(sidecar->origin.band_hz->high_hz == 20000.0);
        CHECK(sidecar->origin.recording_peak_dbfs == -12.5);
        CHECK(sidecar->origin.flags == std::vector<std::string>{"dead"});
        CHECK(sidecar->origin.notes == std::vector<std::string>{"a note"});
    }

    TEST_CASE("sidecar at another sample rate names both files") {
        const fs::path wav = write_with_edited_sidecar("io_ir_sidecar_rate", [](nlohmann::json& json) {
            json["sample_rate_hz"] = 44100.0;
        });
        const Error error = read_error(wav);
        CHECK(error.kind() == ErrorKind::input);
        const std::string message = error.what();
        CHECK(message.find("FOH.wav") != std::string::npos);
        CHECK(message.find("FOH.json") != std::string::npos);
        CHECK(message.find("48000 Hz, the sidecar says 44100 Hz") != std::string::npos);
    }

    TEST_CASE("sidecar of another length names both files") {
        const fs::path wav = write_with_edited_sidecar("io_ir_sidecar_length", [](nlohmann::json& json) {
            json["frames"] = 4000;
        });
        const std::string message = read_error(wav).what();
        CHECK(message.find("FOH.wav") != std::string::npos);
        CHECK(message.find("FOH.json") != std::string::npos);
        CHECK(message.find("4800 samples, the sidecar says 4000") != std::string::npos);
    }

    TEST_CASE("sidecar that does not parse names both files") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_broken") / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());
        test::write_file(io::impulse_response_sidecar_path(wav), "{\"format\": \"linetune impulse response\",");
        const Error error = read_error(wav);
        CHECK(error.kind() == ErrorKind::input);
        const std::string message = error.what();
        CHECK(message.find("file '" + wav.string() + "'") != std::string::npos);
        CHECK(message.find("FOH.json") != std::string::npos);
        CHECK(message.find("invalid JSON") != std::string::npos);
    }

    TEST_CASE("sidecar number beyond double range names its key") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_overflow") / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());
        const fs::path sidecar = io::impulse_response_sidecar_path(wav);
        std::string text = read_json(sidecar).dump(2);
        const auto at = text.find("\"time_zero_sample\": ");
        REQUIRE(at != std::string::npos);
        const auto value_start = at + std::string("\"time_zero_sample\": ").size();
        text.replace(value_start, text.find_first_of(",\n", value_start) - value_start, "1e999");
        test::write_file(sidecar, text);

        const Error error = read_error(wav);
        CHECK(error.kind() == ErrorKind::input);
        const std::string message = error.what();
        CHECK(message.find("FOH.json") != std::string::npos);
        CHECK(message.find("in the value of 'time_zero_sample': number overflow") != std::string::npos);
    }

    TEST_CASE("sidecar with an unknown time base is rejected") {
        const fs::path wav = write_with_edited_sidecar("io_ir_sidecar_source", [](nlohmann::json& json) {
            json["time_base"] = "wall_clock";
        });
        const std::string message = read_error(wav).what();
        CHECK(message.find("'time_base' \"wall_clock\" is unknown") != std::string::npos);
    }

    TEST_CASE("sidecar time zero outside the audio is rejected") {
        const fs::path wav = write_with_edited_sidecar("io_ir_sidecar_time_zero", [](nlohmann::json& json) {
            json["time_zero_sample"] = 5000.0;
        });
        const std::string message = read_error(wav).what();
        CHECK(message.find("'time_zero_sample' 5000 lies outside the 0 to 4799 samples") != std::string::npos);
    }

    TEST_CASE("sidecar of a later version is rejected") {
        const fs::path wav = write_with_edited_sidecar("io_ir_sidecar_version", [](nlohmann::json& json) {
            json["version"] = 2;
        });
        const std::string message = read_error(wav).what();
        CHECK(message.find("version 2 is not supported") != std::string::npos);
    }

    TEST_CASE("JSON of another format beside a WAV is ignored") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_other_json") / "recording.wav";
        io::write_wav(wav, test_impulse_response(), io::WavEncoding::float32);
        test::write_file(wav.parent_path() / "recording.json", R"({"format": "linetune recording"})");
        const io::Measurement measurement = io::read_measurement(wav, {});
        CHECK_FALSE(measurement.signal.time_base.is_absolute());
        REQUIRE_FALSE(measurement.notes.empty());
        CHECK(measurement.notes.back().find("not an impulse-response sidecar") != std::string::npos);
    }

    TEST_CASE("t0-sample option replaces the sidecar time base") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_t0") / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());
        io::MeasurementReadOptions options;
        options.t0_sample = 100.0;
        const io::Measurement measurement = io::read_measurement(wav, options);
        CHECK(measurement.signal.time_base.source == TimeBaseSource::t0_sample_option);
        CHECK(measurement.signal.time_base.time_zero_sample == 100.0);
    }

    TEST_CASE("rewriting replaces the WAV and its sidecar together") {
        const fs::path wav = test::scratch_dir("io_ir_sidecar_rewrite") / "FOH.wav";
        io::write_impulse_response(wav, test_impulse_response(), test_origin());
        MultichannelSignal shorter(1, 2400, rate_hz);
        shorter.channel(0)[10] = 1.0F;
        io::write_impulse_response(wav, shorter, test_origin());

        const io::Measurement measurement = io::read_measurement(wav, {});
        CHECK(measurement.signal.frame_count() == 2400);
        CHECK_FALSE(measurement.signal.time_base.is_absolute());
        CHECK(read_json(io::impulse_response_sidecar_path(wav))["frames"] == 2400);
        std::size_t hidden_files = 0;
        for (const auto& entry : fs::directory_iterator(wav.parent_path())) {
            hidden_files += entry.path().filename().string().starts_with(".") ? 1 : 0;
        }
        CHECK(hidden_files == 0);
    }
}

}  // namespace
