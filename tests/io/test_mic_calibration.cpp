#include "linetune/core/error.hpp"
#include "linetune/io/mic_calibration.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

namespace linetune::io {
namespace {

using test::error_message;
using test::write_file;

std::filesystem::path drc_mic_dir() { return test::shared_data_dir() / "formats" / "mic-cal"; }

std::filesystem::path ecm8000_owner_dir() {
    return test::shared_data_dir() / "autosound-measurements" / "mics" / "behringer-ecm8000";
}

bool is_strictly_ascending(const std::vector<double>& values) {
    return std::adjacent_find(values.begin(), values.end(), std::greater_equal<>()) == values.end();
}

// A UMIK-1 style file body: the rows after the header lines.
constexpr std::string_view umik_rows = "10.054\t-5.5\r\n1000.000\t0.0\r\n20000.000\t1.25";

}  // namespace

TEST_SUITE("io") {

TEST_CASE("DRC ECM8000 calibration reads with phase from 0 Hz") {
    if (!test::shared_data_available()) {
        return;
    }
    const auto calibration = read_mic_calibration(drc_mic_dir() / "ecm8000.txt");
    CHECK(calibration.style == "plain");
    CHECK(calibration.deviation.size() == 126);
    REQUIRE(calibration.deviation.has_phase());
    CHECK(calibration.deviation.freq_hz.front() == 0.0);
    CHECK(calibration.deviation.magnitude_db.front() == -0.07);
    CHECK(calibration.deviation.phase_deg.front() == 31.9);
    CHECK(calibration.deviation.freq_hz.back() == 22050.0);
    CHECK(calibration.deviation.phase_deg.back() == -15.0);
    CHECK(is_strictly_ascending(calibration.deviation.freq_hz));
    CHECK(calibration.warnings.empty());
    CHECK_FALSE(calibration.sensitivity_factor_db.has_value());
}

TEST_CASE("DRC WM-60A calibration reads its gap above 0 Hz") {
    if (!test::shared_data_available()) {
        return;
    }
    const auto calibration = read_mic_calibration(drc_mic_dir() / "wm-60a.txt");
    CHECK(calibration.deviation.size() == 114);
    CHECK(calibration.deviation.has_phase());
    REQUIRE(calibration.deviation.size() >= 2);
    CHECK(calibration.deviation.freq_hz[1] == 300.622);
    CHECK(is_strictly_ascending(calibration.deviation.freq_hz));
}

TEST_CASE("DRC WM-61A calibration reads two columns") {
    if (!test::shared_data_available()) {
        return;
    }
    const auto calibration = read_mic_calibration(drc_mic_dir() / "wm-61a.txt");
    CHECK(calibration.deviation.size() == 24);
    CHECK_FALSE(calibration.deviation.has_phase());
    CHECK(calibration.deviation.magnitude_db.back() == 0.157434402);
}

TEST_CASE("ECM8000 owner files differ by the documented top-octave gap") {
    if (!test::shared_data_available()) {
        return;
    }
    const auto on_axis = read_mic_calibration(ecm8000_owner_dir() / "ECM8000_0deg.txt");
    const auto grazing = read_mic_calibration(ecm8000_owner_dir() / "ECM8000_90deg.txt");
    CHECK(on_axis.deviation.size() == 35);
    CHECK(grazing.deviation.size() == 33);
    CHECK(on_axis.deviation.freq_hz.front() == 10.0);
    CHECK(grazing.deviation.freq_hz.front() == 16.0);

    // The files' README: 3.4 dB apart at 10 kHz, 5.9 dB at 16 kHz, 7.35 dB at 20 kHz.
    const auto gap_db = [&](double freq_hz) {
        return interpolate_magnitude_db(on_axis.deviation, freq_hz) - interpolate_magnitude_db(grazing.deviation, freq_hz);
    };
    CHECK(gap_db(10000.0) == doctest::Approx(3.4).epsilon(0.01));
    CHECK(gap_db(16000.0) == doctest::Approx(5.9).epsilon(0.01));
    CHECK(gap_db(20000.0) == doctest::Approx(7.35).epsilon(0.01));
}

TEST_CASE("UMIK calibration reads sensitivity, gain and serial") {
    const auto dir = test::scratch_dir("mic_umik");
    const auto path = write_file(dir / "7000000.txt",
                                 "\"Sens Factor =-1.378dB, AGain =18dB, SERNO: 7000000\"\r\n" + std::string(umik_rows));
    const auto calibration = read_mic_calibration(path);
    CHECK(calibration.style == "umik");
    REQUIRE(calibration.sensitivity_factor_db.has_value());
    CHECK(*calibration.sensitivity_factor_db == -1.378);
    REQUIRE(calibration.amplifier_gain_db.has_value());
    CHECK(*calibration.amplifier_gain_db == 18.0);
    CHECK(calibration.serial_number == "7000000");
    REQUIRE(calibration.deviation.size() == 3);
    CHECK(calibration.deviation.freq_hz[0] == 10.054);
    CHECK(calibration.deviation.magnitude_db[2] == 1.25);
    CHECK_FALSE(calibration.deviation.has_phase());
}

TEST_CASE("UMIK 90-degree calibration skips its note line") {
    const auto dir = test::scratch_dir("mic_umik_90");
    const auto path = write_file(dir / "7000000_90deg.txt",
                                 "\"Sens Factor =-1.378dB, SERNO: 7000000\"\r\n"
                                 "\"Auto-generated 90-degree calibration file\"\r\n" +
                                     std::string(umik_rows) + "\r\n");
    const auto calibration = read_mic_calibration(path);
    CHECK(calibration.style == "umik");
    CHECK(*calibration.sensitivity_factor_db == -1.378);
    CHECK_FALSE(calibration.amplifier_gain_db.has_value());
    CHECK(calibration.serial_number == "7000000");
    CHECK(calibration.deviation.size() == 3);
}

TEST_CASE("UMIK header keeps a decimal comma") {
    const auto dir = test::scratch_dir("mic_umik_comma");
    const auto path = write_file(dir / "cal.txt", "\"Sens Factor =-1,378dB, AGain =18dB, SERNO: 7000001\"\r\n"
                                                  "10,054\t-5,5\r\n1000\t0\r\n");
    const auto calibration = read_mic_calibration(path);
    CHECK(*calibration.sensitivity_factor_db == -1.378);
    CHECK(calibration.serial_number == "7000001");
    CHECK(calibration.deviation.magnitude_db[0] == -5.5);
}

TEST_CASE("Dayton calibration reads its 1 kHz sensitivity") {
    const auto dir = test::scratch_dir("mic_dayton");
    const auto path = write_file(dir / "umm6.txt", "*1000Hz -38.6\n20.0 -0.5\n1000.0 0.0\n20000.0 2.1\n");
    const auto calibration = read_mic_calibration(path);
    CHECK(calibration.style == "dayton");
    REQUIRE(calibration.sensitivity_dbv_at_1khz.has_value());
    CHECK(*calibration.sensitivity_dbv_at_1khz == -38.6);
    CHECK(calibration.deviation.size() == 3);
}

TEST_CASE("calibration rows read decimal commas and semicolons") {
    const auto dir = test::scratch_dir("mic_comma");
    const auto spaces = read_mic_calibration(write_file(dir / "spaces.txt", "20,0 -0,5\n1000,0 0,25 \n"));
    CHECK(spaces.deviation.magnitude_db[0] == -0.5);
    CHECK(spaces.deviation.magnitude_db[1] == 0.25);

    const auto semicolons = read_mic_calibration(write_file(dir / "semi.csv", "20,0;-0,5;10,5\n1000,0;0,25;-2\n"));
    CHECK(semicolons.deviation.freq_hz[1] == 1000.0);
    CHECK(semicolons.deviation.phase_deg[0] == 10.5);
}

TEST_CASE("quoted calibration CSV with column titles reads") {
    const auto dir = test::scratch_dir("mic_quoted");
    const auto path = write_file(dir / "m30.csv", "\"Frequency\",\"dB\"\n\"20\",\"0.5\"\n\"1000\",\"0\"\n");
    const auto calibration = read_mic_calibration(path);
    CHECK(calibration.style == "plain");
    CHECK(calibration.deviation.size() == 2);
    CHECK(calibration.deviation.magnitude_db[0] == 0.5);
}

TEST_CASE("calibration with a bad line is rejected") {
    const auto dir = test::scratch_dir("mic_bad_line");
    const auto path = write_file(dir / "mic.cal", "20 0.1\n40 0.2\n80 0.3\n160 0.4\n320 0.5\n640 0.6\nabc 1.2\n");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() +
              "', line 7: 'abc 1.2' is not a number pair (frequency in Hz, deviation in dB); fix or delete the line");
}

TEST_CASE("three-column calibration with a short row is rejected") {
    const auto dir = test::scratch_dir("mic_short_row");
    const auto path = write_file(dir / "mic.cal", "20 0.1 5\n40 0.2\n80 0.3 4\n");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() +
              "', line 2: '40 0.2' is not a number triple (frequency in Hz, deviation in dB, phase in degrees); fix "
              "or delete the line");
}

TEST_CASE("calibration that is empty is rejected") {
    const auto dir = test::scratch_dir("mic_empty");
    const auto path = write_file(dir / "mic.cal", "");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() + "': the file is empty; get the calibration file again from the microphone maker");
}

TEST_CASE("calibration without data rows is rejected") {
    const auto dir = test::scratch_dir("mic_no_rows");
    const auto path = write_file(dir / "mic.cal", "\"Sens Factor =-1.378dB, AGain =18dB, SERNO: 7000000\"\r\n\r\n");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() + "': no data rows in 2 lines; expected rows of frequency in Hz and deviation in dB");
}

TEST_CASE("calibration with a negative frequency is rejected") {
    const auto dir = test::scratch_dir("mic_negative");
    const auto path = write_file(dir / "mic.cal", "-10 0.1\n20 0.2\n");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() + "', line 1: frequency -10 Hz is negative; frequencies must be 0 Hz or above");
}

TEST_CASE("calibration with descending rows is rejected") {
    const auto dir = test::scratch_dir("mic_descending");
    const auto path = write_file(dir / "mic.cal", "20 0.1\n1000 0.0\n900 0.2\n");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() +
              "', line 3: frequency 900 Hz is lower than 1000 Hz on line 2; rows must be in ascending frequency");
}

TEST_CASE("calibration with an unreadable sensitivity is rejected") {
    const auto dir = test::scratch_dir("mic_bad_sensitivity");
    const auto path = write_file(dir / "mic.cal", "\"Sens Factor =abcdB, SERNO: 1\"\n20 0\n");
    CHECK(error_message([&] { read_mic_calibration(path); }) ==
          "file '" + path.string() +
              "', line 1: Sens Factor 'abcdB' is not a level in dB (expected e.g. '-1.378dB'); fix the line or get "
              "the file again from the microphone maker");
}

TEST_CASE("applying a calibration subtracts the deviation") {
    MicCalibration calibration;
    calibration.deviation.freq_hz = {100.0, 1000.0, 10000.0};
    calibration.deviation.magnitude_db = {-2.0, 0.0, 3.0};
    calibration.deviation.phase_deg = {10.0, 0.0, -20.0};

    FrequencyResponse measured;
    measured.freq_hz = {50.0, 100.0, 316.227766016838, 10000.0, 20000.0};
    measured.magnitude_db = {90.0, 90.0, 90.0, 90.0, 90.0};
    measured.phase_deg = {0.0, 0.0, 0.0, 170.0, 0.0};

    const auto corrected = apply_mic_calibration(measured, calibration);
    REQUIRE(corrected.size() == 5);
    CHECK(corrected.magnitude_db[0] == doctest::Approx(92.0));  // held below the calibrated range
    CHECK(corrected.magnitude_db[1] == doctest::Approx(92.0));
    CHECK(corrected.magnitude_db[2] == doctest::Approx(91.0));  // half a decade: halfway in dB
    CHECK(corrected.magnitude_db[3] == doctest::Approx(87.0));
    CHECK(corrected.magnitude_db[4] == doctest::Approx(87.0));  // held above the calibrated range
    CHECK(corrected.phase_deg[1] == doctest::Approx(-10.0));
    CHECK(corrected.phase_deg[3] == doctest::Approx(-170.0));   // 170 − (−20) = 190, wrapped
}

TEST_CASE("a calibration without phase keeps the measured phase") {
    MicCalibration calibration;
    calibration.deviation.freq_hz = {20.0, 20000.0};
    calibration.deviation.magnitude_db = {1.0, 1.0};

    FrequencyResponse measured;
    measured.freq_hz = {1000.0};
    measured.magnitude_db = {80.0};
    measured.phase_deg = {45.0};
    const auto corrected = apply_mic_calibration(measured, calibration);
    CHECK(corrected.magnitude_db[0] == doctest::Approx(79.0));
    CHECK(corrected.phase_deg[0] == 45.0);
}

TEST_CASE("a real calibration round-trips through apply") {
    if (!test::shared_data_available()) {
        return;
    }
    // A flat 85 dB source measured with the ECM8000 reads 85 dB + deviation. Applying the file
    // must give back 85 dB and 0° at every calibrated frequency above 0 Hz.
    const auto calibration = read_mic_calibration(drc_mic_dir() / "ecm8000.txt");
    FrequencyResponse measured;
    for (std::size_t i = 1; i < calibration.deviation.size(); ++i) {
        measured.freq_hz.push_back(calibration.deviation.freq_hz[i]);
        measured.magnitude_db.push_back(85.0 + calibration.deviation.magnitude_db[i]);
        measured.phase_deg.push_back(calibration.deviation.phase_deg[i]);
    }
    const auto corrected = apply_mic_calibration(measured, calibration);
    double worst_db = 0.0;
    double worst_deg = 0.0;
    for (std::size_t i = 0; i < corrected.size(); ++i) {
        worst_db = std::max(worst_db, std::fabs(corrected.magnitude_db[i] - 85.0));
        worst_deg = std::max(worst_deg, std::fabs(corrected.phase_deg[i]));
    }
    CHECK(worst_db < 1e-9);
    CHECK(worst_deg < 1e-9);
}

TEST_CASE("applying an empty calibration is rejected") {
    FrequencyResponse measured;
    measured.freq_hz = {1000.0};
    measured.magnitude_db = {80.0};
    CHECK(error_message([&] { apply_mic_calibration(measured, MicCalibration{}); }) ==
          "the microphone calibration has no data points; read a calibration file before applying it");
}

}  // TEST_SUITE

}  // namespace linetune::io
