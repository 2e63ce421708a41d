#include "linetune/capture/calibrator.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include "fake_capture_stream.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;

constexpr double rate_hz = 48000.0;

Venue calibration_venue() {
    Venue venue;
    venue.name = "calibration hall";
    venue.audio_interface.sample_rate_hz = rate_hz;
    const std::vector<std::string> names = {"FOH", "balcony"};
    for (std::size_t index = 0; index < names.size(); ++index) {
        Microphone mic;
        mic.name = names[index];
        mic.input = index + 1;
        venue.microphones.push_back(mic);
    }
    return venue;
}

/// Amplitude of a sine whose RMS level is level_dbfs: RMS = amplitude / √2.
double sine_amplitude(double rms_dbfs) { return std::sqrt(2.0) * std::pow(10.0, rms_dbfs / 20.0); }

/// The fake interface with a calibrator on one input: its noise (FakeInputPath::noise_rms) plus
/// the samples that `tone` gives for each time in seconds, clipped at full scale like a converter.
class CalibratorStream : public CaptureStream {
public:
    CalibratorStream(std::size_t input, double noise_rms, std::function<double(double)> tone)
        : fake_({rate_hz, 8, 8}, 0.0), input_(input), tone_(std::move(tone)) {
        fake_.connect(input, test::FakeInputPath{0, 0.0, 1.0, noise_rms});
    }

    std::vector<CaptureRequest> requests;

    [[nodiscard]] StreamFormat format() const override { return fake_.format(); }
    [[nodiscard]] std::string description() const override { return fake_.description(); }

    CaptureResult play_and_record(const CaptureRequest& request) override {
        requests.push_back(request);
        CaptureResult result = fake_.play_and_record(request);
        for (std::size_t index = 0; index < request.input_channels.size(); ++index) {
            if (request.input_channels[index] != input_) {
                continue;
            }
            auto samples = result.recording.channel(index);
            for (std::size_t n = 0; n < samples.size(); ++n) {
                const double value = samples[n] + tone_(static_cast<double>(n) / rate_hz);
                samples[n] = static_cast<float>(std::clamp(value, -1.0, 1.0));
            }
        }
        return result;
    }

private:
    test::FakeCaptureStream fake_;
    std::size_t input_;
    std::function<double(double)> tone_;
};

std::function<double(double)> sine(double freq_hz, double rms_dbfs, double phase_rad = 0.3) {
    const double amplitude = sine_amplitude(rms_dbfs);
    return [=](double t) { return amplitude * std::sin(2.0 * pi * freq_hz * t + phase_rad); };
}

capture::MicCalibration calibrate(CaptureStream& stream, double calibrator_db_spl = 94.0) {
    capture::CalibrationOptions options;
    options.calibrator_db_spl = calibrator_db_spl;
    return capture::calibrate_microphone(calibration_venue(), "balcony", stream, options);
}

/// Returns the kind and message of the Error that calibrating mic 'balcony' throws.
std::pair<ErrorKind, std::string> rejection(CalibratorStream& stream) {
    try {
        calibrate(stream);
    } catch (const Error& error) {
        return {error.kind(), error.what()};
    }
    return {ErrorKind::input, "(no error)"};
}

// −100 dBFS of white noise on the input, as in the other capture tests.
constexpr double quiet_noise_rms = 1e-5;

}  // namespace

TEST_SUITE("calibrator") {
    TEST_CASE("94 dB tone at -20 dBFS RMS gives sensitivity -20.0 dBFS") {
        CalibratorStream stream(2, quiet_noise_rms, sine(1000.0, -20.0));
        const capture::MicCalibration calibration = calibrate(stream);
        MESSAGE("frequency error " << calibration.reading.frequency_hz - 1000.0 << " Hz, sensitivity error "
                                   << calibration.sensitivity_dbfs + 20.0 << " dB, spread " << calibration.reading.level_spread_db << " dB, tone to noise "
                             << calibration.reading.tone_to_noise_db << " dB");
        CHECK(calibration.mic == "balcony");
        CHECK(calibration.input == 2);
        CHECK(std::fabs(calibration.sensitivity_dbfs + 20.0) <= 0.05);
        CHECK(std::fabs(calibration.reading.frequency_hz - 1000.0) <= 0.1);
        CHECK(calibration.reading.level_spread_db < 0.05);
        CHECK(calibration.reading.tone_to_noise_db > 60.0);
        CHECK_FALSE(calibration.recorded_utc.empty());
    }

    TEST_CASE("114 dB calibrator gives sensitivity 20 dB lower") {
        CalibratorStream stream(2, quiet_noise_rms, sine(1000.0, -20.0));
        const capture::MicCalibration calibration = calibrate(stream, 114.0);
        CHECK(std::fabs(calibration.sensitivity_dbfs + 40.0) <= 0.05);
        CHECK(calibration.calibrator_db_spl == 114.0);
    }

    TEST_CASE("250 Hz pistonphone tone is found within 0.1 Hz") {
        CalibratorStream stream(2, quiet_noise_rms, sine(250.0, -32.5));
        const capture::MicCalibration calibration = calibrate(stream);
        CHECK(std::fabs(calibration.reading.frequency_hz - 250.0) <= 0.1);
        CHECK(std::fabs(calibration.sensitivity_dbfs + 32.5) <= 0.05);
    }

    TEST_CASE("calibrator level ignores DC offset and moderate noise") {
        // 0.01 of DC and −60 dBFS of white noise, whose third-octave share at 1 kHz is −80 dBFS.
        const auto tone = sine(1000.0, -26.0);
        CalibratorStream stream(2, 1e-3, [&](double t) { return 0.01 + tone(t); });
        const capture::MicCalibration calibration = calibrate(stream);
        CHECK(std::fabs(calibration.sensitivity_dbfs + 26.0) <= 0.05);
    }

    TEST_CASE("calibration records only the mic's input with every output silent") {
        CalibratorStream stream(2, quiet_noise_rms, sine(1000.0, -20.0));
        calibrate(stream);
        REQUIRE(stream.requests.size() == 1);
        CHECK(stream.requests[0].output_channels.empty());
        CHECK(stream.requests[0].input_channels == std::vector<std::size_t>{2});
        CHECK(stream.requests[0].record_frames == 3 * 48000);
    }

    TEST_CASE("noise alone is rejected as no tone") {
        CalibratorStream stream(2, 1e-3, [](double) { return 0.0; });
        const auto [kind, message] = rejection(stream);
        CHECK(kind == ErrorKind::input);
        CHECK(message.find("mic 'balcony' (input 2)") != std::string::npos);
        CHECK(message.find("holds no tone") != std::string::npos);
        CHECK(message.find("Nothing was stored") != std::string::npos);
    }

    TEST_CASE("two tones are rejected as unclean") {
        const auto first = sine(1000.0, -26.0);
        const auto second = sine(1600.0, -27.0, 1.1);
        CalibratorStream stream(2, quiet_noise_rms, [&](double t) { return first(t) + second(t); });
        const auto [kind, message] = rejection(stream);
        CHECK(kind == ErrorKind::input);
        CHECK(message.find("not one clean tone") != std::string::npos);
    }

    TEST_CASE("loud broadband noise is rejected as unclean") {
        // −35 dBFS of white noise: only 15 dB under the tone over the whole band.
        CalibratorStream stream(2, std::pow(10.0, -35.0 / 20.0), sine(1000.0, -20.0));
        const auto [kind, message] = rejection(stream);
        CHECK(message.find("not one clean tone") != std::string::npos);
    }

    TEST_CASE("clipped calibrator tone is rejected") {
        CalibratorStream stream(2, quiet_noise_rms, sine(1000.0, -2.0));
        const auto [kind, message] = rejection(stream);
        CHECK(kind == ErrorKind::input);
        CHECK(message.find("clipped") != std::string::npos);
        CHECK(message.find("lower the input gain") != std::string::npos);
    }

    TEST_CASE("1 dB level step is rejected as unsteady") {
        const auto before = sine(1000.0, -20.0);
        const auto after = sine(1000.0, -21.0);
        CalibratorStream stream(2, quiet_noise_rms, [&](double t) { return t < 1.5 ? before(t) : after(t); });
        const auto [kind, message] = rejection(stream);
        CHECK(message.find("not steady") != std::string::npos);
        CHECK(message.find("differ by 1.0") != std::string::npos);
    }

    TEST_CASE("0.2 dB level step is accepted") {
        const auto before = sine(1000.0, -20.0);
        const auto after = sine(1000.0, -20.2);
        CalibratorStream stream(2, quiet_noise_rms, [&](double t) { return t < 1.5 ? before(t) : after(t); });
        const capture::MicCalibration calibration = calibrate(stream);
        CHECK(calibration.reading.level_spread_db == doctest::Approx(0.2).epsilon(0.1));
        CHECK(std::fabs(calibration.sensitivity_dbfs + 20.1) <= 0.05);
    }

    TEST_CASE("tone 15 dB above band noise is too quiet") {
        // −100 dBFS of white noise puts −120 dBFS in the third octave at 1 kHz (231 Hz of 24 kHz).
        CalibratorStream stream(2, quiet_noise_rms, sine(1000.0, -105.0));
        const auto [kind, message] = rejection(stream);
        CHECK(message.find("too quiet") != std::string::npos);
    }

    TEST_CASE("unknown mic is a configuration error naming the venue's mics") {
        CalibratorStream stream(2, quiet_noise_rms, sine(1000.0, -20.0));
        const std::string message = test::error_message(
            [&] { capture::calibrate_microphone(calibration_venue(), "stage", stream); });
        CHECK(message.find("mic 'stage' is not in venue 'calibration hall'") != std::string::npos);
        CHECK(message.find("'FOH', 'balcony'") != std::string::npos);
        CHECK(stream.requests.empty());
    }
}

TEST_SUITE("calibration file") {
    capture::MicCalibration entry(const std::string& mic, std::size_t input, double sensitivity_dbfs) {
        capture::MicCalibration calibration;
        calibration.mic = mic;
        calibration.input = input;
        calibration.sensitivity_dbfs = sensitivity_dbfs;
        calibration.reading.frequency_hz = 1000.0;
        calibration.reading.tone_rms_dbfs = sensitivity_dbfs;
        calibration.recorded_utc = "2026-12-05T08:00:00Z";
        calibration.software = "linetune test";
        return calibration;
    }

    TEST_CASE("stored calibrations keep other mics and replace the same mic") {
        const fs::path dir = test::scratch_dir("calibration-file");
        const fs::path path = capture::calibration_file_path(dir);
        CHECK(capture::read_calibration_file(path).empty());
        capture::store_calibration(path, entry("FOH", 1, -30.0));
        capture::store_calibration(path, entry("balcony", 2, -35.5));
        capture::store_calibration(path, entry("FOH", 1, -31.25));
        const auto calibrations = capture::read_calibration_file(path);
        REQUIRE(calibrations.size() == 2);
        CHECK(calibrations[0].mic == "FOH");
        CHECK(calibrations[0].sensitivity_dbfs == -31.25);
        CHECK(calibrations[1].mic == "balcony");
        CHECK(calibrations[1].input == 2);
        CHECK(calibrations[1].reading.frequency_hz == 1000.0);
        // Written through a temporary file that is renamed: none is left behind.
        std::size_t files = 0;
        for ([[maybe_unused]] const auto& item : fs::directory_iterator(dir)) {
            ++files;
        }
        CHECK(files == 1);
    }

    TEST_CASE("calibration file wins over the venue's sensitivity") {
        Venue venue = calibration_venue();
        venue.microphones[0].sensitivity_dbfs = -40.0;
        venue.microphones[1].sensitivity_dbfs = -42.0;
        const auto sources = capture::apply_calibrations(venue, {entry("FOH", 1, -30.0)});
        REQUIRE(sources.size() == 2);
        CHECK(venue.microphones[0].sensitivity_dbfs == -30.0);
        CHECK(sources[0].source == "calibration file");
        CHECK(sources[0].venue_sensitivity_dbfs == -40.0);
        CHECK(venue.microphones[1].sensitivity_dbfs == -42.0);
        CHECK(sources[1].source == "venue file");
    }

    TEST_CASE("calibration from another input is not used") {
        Venue venue = calibration_venue();
        const auto sources = capture::apply_calibrations(venue, {entry("balcony", 5, -30.0)});
        CHECK_FALSE(venue.microphones[1].sensitivity_dbfs.has_value());
        CHECK(sources[1].source == "none");
        CHECK(sources[1].note.find("recorded on input 5") != std::string::npos);
    }

    TEST_CASE("calibration file with a bad entry names the file and the mic") {
        const fs::path dir = test::scratch_dir("calibration-file-bad");
        const fs::path path = test::write_file(
            dir / "calibration.json",
            R"({"format": "linetune mic calibration", "version": 1, "mics": [{"mic": "FOH", "input": 1}]})");
        const std::string message = test::error_message([&] { capture::read_calibration_file(path); });
        CHECK(message.find("calibration file '" + path.string() + "'") != std::string::npos);
        CHECK(message.find("mic 'FOH'") != std::string::npos);
        CHECK(message.find("sensitivity_dbfs") != std::string::npos);
    }
}
