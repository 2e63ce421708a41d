#include "linetune/core/error.hpp"
#include "linetune/io/response_text.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <string>

namespace linetune::io {
namespace {

using test::error_message;
using test::write_file;

std::filesystem::path autosound_dir() { return test::shared_data_dir() / "autosound-measurements"; }

std::filesystem::path rta_dir() {
    return autosound_dir() / "cars" / "vw-passat-b8-sedan-lhd" / "2026-06-15_front-set-01" / "rta-mmm";
}

std::filesystem::path helix_measurement(std::string_view name) {
    return autosound_dir() / "hardware" / "helix" / "dsp-ultra-s" / "measurements" / name;
}

bool is_strictly_ascending(const std::vector<double>& values) {
    return std::adjacent_find(values.begin(), values.end(), std::greater_equal<>()) == values.end();
}

// Lines 1 to 13 of a plain CSV: a title row, rows at 90 Hz steps from 90 Hz, and 1000 Hz on line 13.
std::string csv_rows_to_line_13() {
    std::string text = "frequency,dB\n";
    for (int i = 1; i <= 11; ++i) {
        text += std::to_string(i * 90) + ",-" + std::to_string(i) + "\n";
    }
    return text + "1000,-1.0\n";
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("REW moving-mic RTA exports read as plain tables") {
    if (!test::shared_data_available()) {
        return;
    }
    for (const auto* channel : {"c", "m_L", "m_R", "sw", "tw_L", "tw_R", "w_L", "w_R"}) {
        CAPTURE(channel);
        const auto responses = read_response_text(rta_dir() / (std::string(channel) + ".txt"));
        REQUIRE(responses.size() == 1);
        const auto& trace = responses.front();
        CHECK(trace.format == ResponseFileFormat::plain_text);
        CHECK(trace.trace_name == channel);
        CHECK(trace.response.size() == 1286);
        CHECK(trace.response.magnitude_db.size() == 1286);
        CHECK_FALSE(trace.response.has_phase());
        CHECK(trace.coherence.empty());
        CHECK(trace.warnings.empty());
        CHECK(is_strictly_ascending(trace.response.freq_hz));
    }
    const auto w_l = read_response_text(rta_dir() / "w_L.txt").front().response;
    CHECK(w_l.freq_hz.front() == 4.3945);
    CHECK(w_l.magnitude_db.front() == 54.931);
    CHECK(w_l.freq_hz.back() == 47024.5316);
    CHECK(w_l.magnitude_db.back() == 21.997);
}

TEST_CASE("star-header tab exports read magnitude and phase") {
    if (!test::shared_data_available()) {
        return;
    }
    const auto responses = read_response_text(helix_measurement("fact5-bell-boost-q4-after.txt"));
    REQUIRE(responses.size() == 1);
    const auto& trace = responses.front();
    CHECK(trace.format == ResponseFileFormat::rew_text);
    CHECK(trace.trace_name == "fact5-bell-boost-q4-after");
    CHECK(trace.response.size() == 961);
    REQUIRE(trace.response.has_phase());
    CHECK(trace.response.freq_hz.front() == 20.0);
    CHECK(trace.response.magnitude_db.front() == 72.4369);
    CHECK(trace.response.phase_deg.front() == 105.065);
    CHECK(trace.response.freq_hz.back() == 20000.0);
}

TEST_CASE("after minus before recovers the known 12 dB bells") {
    if (!test::shared_data_available()) {
        return;
    }
    // The processor had one peaking filter at 400 Hz, ±12 dB; the acoustic difference at its
    // centre must be 12 dB within 0.3 dB (cabin drift between the two measurements is ~0.16 dB).
    const auto read = [](std::string_view name) { return read_response_text(helix_measurement(name)).front().response; };
    const auto boost_after = read("fact5-bell-boost-q4-after.txt");
    const auto boost_before = read("fact5-bell-boost-q4-before.txt");
    const auto cut_after = read("fact5-bell-cut-q1-after.txt");
    const auto cut_before = read("fact5-bell-cut-q1-before.txt");
    const double boost_db = interpolate_magnitude_db(boost_after, 400.0) - interpolate_magnitude_db(boost_before, 400.0);
    const double cut_db = interpolate_magnitude_db(cut_after, 400.0) - interpolate_magnitude_db(cut_before, 400.0);
    CHECK(boost_db == doctest::Approx(12.0).epsilon(0.3 / 12.0));
    CHECK(cut_db == doctest::Approx(-12.0).epsilon(0.3 / 12.0));
}

TEST_CASE("REW measurement text reads header and comma rows") {
    const auto dir = test::scratch_dir("response_rew");
    const auto path = write_file(dir / "L.txt",
                                 "* Measurement data measured by REW V5.20.13\n"
                                 "* Source: EXCL: Microphone (Umik-1  Gain: 18dB), MICROPHONE (Master), R, vol: 0.540\n"
                                 "* Format: 256k Log Swept Sine, 1 sweep at -12.0 dBFS with no timing reference\n"
                                 "* Note: ; Delay -0.0158 ms\n"
                                 "* Measurement: L\n"
                                 "* Smoothing: 1/48 octave\n"
                                 "* Frequency Step: 96 ppo\n"
                                 "*\n"
                                 "* Freq(Hz), SPL(dB), Phase(degrees)\n"
                                 "20.141602, 91.525, 163.3452\n"
                                 "20.288, 91.6, 160.1\n"
                                 "1000, 85.0, -12.5\n");
    const auto responses = read_response_text(path);
    REQUIRE(responses.size() == 1);
    const auto& trace = responses.front();
    CHECK(trace.format == ResponseFileFormat::rew_text);
    CHECK(trace.trace_name == "L");
    REQUIRE(trace.response.size() == 3);
    CHECK(trace.response.freq_hz[0] == 20.141602);
    CHECK(trace.response.magnitude_db[0] == 91.525);
    CHECK(trace.response.phase_deg[0] == 163.3452);
    CHECK(trace.response.phase_deg[2] == -12.5);
}

TEST_CASE("REW measurement text reads decimal commas") {
    const auto dir = test::scratch_dir("response_rew_comma");
    const auto path = write_file(dir / "fr.txt",
                                 "* Measurement data measured by REW V5.31\r\n"
                                 "* Response measured over: 2,9 to 24 000,0 Hz\r\n"
                                 "* Freq(Hz) SPL(dB) Phase(degrees)\r\n"
                                 "20,141602 91,525 163,3452\r\n"
                                 "24 000,0 70,25 -1,5\r\n");
    const auto trace = read_response_text(path).front();
    REQUIRE(trace.response.size() == 2);
    CHECK(trace.response.freq_hz[0] == 20.141602);
    CHECK(trace.response.magnitude_db[0] == 91.525);
    CHECK(trace.response.freq_hz[1] == 24000.0);
    CHECK(trace.response.phase_deg[1] == -1.5);
}

TEST_CASE("Smaart ASCII export reads every trace") {
    const auto dir = test::scratch_dir("response_smaart");
    const auto path = write_file(dir / "smaart.txt",
                                 "\tLeft\t\t\t\tRight\t\t\r\n"
                                 "Frequency (Hz)\tMagnitude (dB)\tPhase (degrees)\tCoherence\t"
                                 "Frequency (Hz)\tMagnitude (dB)\tPhase (degrees)\tCoherence\r\n"
                                 "20,0\t-3,5\t120,0\t0,95\t20,0\t-4,0\t110,0\t0,9\r\n"
                                 "40,0\t*\t*\t0,2\t40,0\t-4,5\t100,0\t0,91\r\n"
                                 "80,0\t-2,0\t90,0\t0,99\t80,0\t*\t*\t0,1\r\n"
                                 "160,0\t-1,0\t45,5\t1,0\t160,0\t-3,0\t80,0\t0,97\r\n");
    const auto traces = read_response_text(path);
    REQUIRE(traces.size() == 2);

    const auto& left = traces[0];
    CHECK(left.format == ResponseFileFormat::smaart_ascii);
    CHECK(left.trace_name == "Left");
    REQUIRE(left.response.size() == 3);
    CHECK(left.response.freq_hz[1] == 80.0);
    CHECK(left.response.magnitude_db[0] == -3.5);
    CHECK(left.response.phase_deg[2] == 45.5);
    REQUIRE(left.coherence.size() == 3);
    CHECK(left.coherence[0] == 0.95);
    REQUIRE(left.warnings.size() == 1);
    CHECK(left.warnings[0] == "file '" + path.string() +
                                  "', line 4: trace 'Left' has no data ('*') here and at 0 more points; those "
                                  "points are skipped");

    const auto& right = traces[1];
    CHECK(right.trace_name == "Right");
    REQUIRE(right.response.size() == 3);
    CHECK(right.response.freq_hz[2] == 160.0);
    CHECK(right.response.magnitude_db[1] == -4.5);
    CHECK(right.coherence[2] == 0.97);
}

TEST_CASE("Smaart spectrum traces read the level column") {
    const auto dir = test::scratch_dir("response_smaart_spectrum");
    const auto path = write_file(dir / "rta.txt",
                                 "Frequency (Hz)\tLevel (dB)\r\n"
                                 "20.0\t-30.5\r\n"
                                 "25.0\t-31.0\r\n");
    const auto traces = read_response_text(path);
    REQUIRE(traces.size() == 1);
    CHECK(traces[0].trace_name == "rta");
    CHECK(traces[0].response.magnitude_db[1] == -31.0);
    CHECK_FALSE(traces[0].response.has_phase());
}

TEST_CASE("Smaart traces of unequal length read") {
    const auto dir = test::scratch_dir("response_smaart_unequal");
    const auto path = write_file(dir / "two.txt",
                                 "Frequency (Hz)\tMagnitude (dB)\tFrequency (Hz)\tMagnitude (dB)\r\n"
                                 "20\t-1\t20\t-2\r\n"
                                 "40\t-1.5\t40\t-2.5\r\n"
                                 "80\t-1.75\t\t\r\n");
    const auto traces = read_response_text(path);
    REQUIRE(traces.size() == 2);
    CHECK(traces[0].trace_name == "trace 1");
    CHECK(traces[1].trace_name == "trace 2");
    CHECK(traces[0].response.size() == 3);
    CHECK(traces[1].response.size() == 2);
    CHECK(traces[1].warnings.empty());
}

TEST_CASE("Smaart row with a half-empty trace is rejected") {
    const auto dir = test::scratch_dir("response_smaart_half_empty");
    const auto path = write_file(dir / "s.txt",
                                 "\tMain\t\r\n"
                                 "Frequency (Hz)\tMagnitude (dB)\tPhase (degrees)\r\n"
                                 "20\t-1\t\r\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "', line 3: trace 'Main' has empty cells in columns 1 to 3; fill them or mark missing data with '*'");
}

TEST_CASE("Smaart trace without data is rejected") {
    const auto dir = test::scratch_dir("response_smaart_empty_trace");
    const auto path = write_file(dir / "s.txt",
                                 "\tMain\t\t\r\n"
                                 "Frequency (Hz)\tMagnitude (dB)\tPhase (degrees)\tCoherence\r\n"
                                 "20\t*\t*\t0.1\r\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "': trace 'Main' has no data points because every row is marked '*' (no data); export the trace "
              "again with data");
}

TEST_CASE("Open Sound Meter text export reads coherence") {
    const auto dir = test::scratch_dir("response_osm");
    const auto path = write_file(dir / "osm.txt",
                                 "Created with Open Sound Meter\n\n"
                                 "23.4375\t-12.5\t170.25\t0.85\n"
                                 "46.875\t*\t*\t0.05\n"
                                 "70.3125\t-10\t150\t0.99\n");
    const auto trace = read_response_text(path).front();
    CHECK(trace.format == ResponseFileFormat::open_sound_meter);
    CHECK(trace.trace_name == "osm");
    REQUIRE(trace.response.size() == 2);
    CHECK(trace.response.freq_hz[1] == 70.3125);
    CHECK(trace.response.phase_deg[0] == 170.25);
    REQUIRE(trace.coherence.size() == 2);
    CHECK(trace.coherence[1] == 0.99);
    CHECK(trace.warnings.size() == 1);
}

TEST_CASE("coherence in percent is scaled to 0..1") {
    const auto dir = test::scratch_dir("response_percent");
    const auto path = write_file(dir / "p.csv", "100,-1,10,95\n200,-2,20,50\n");
    const auto trace = read_response_text(path).front();
    REQUIRE(trace.coherence.size() == 2);
    CHECK(trace.coherence[0] == doctest::Approx(0.95));
    CHECK(trace.coherence[1] == doctest::Approx(0.5));
    REQUIRE(trace.warnings.size() == 1);
    CHECK(trace.warnings[0] == "file '" + path.string() +
                                   "': trace 'p': coherence reaches 95, so it is read as percent and divided by 100");
}

TEST_CASE("plain CSV with a title row reads") {
    const auto dir = test::scratch_dir("response_csv");
    const auto path = write_file(dir / "r.csv", "frequency,dB,phase\n100,-1.5,10\n200,-2,20\n");
    const auto trace = read_response_text(path).front();
    CHECK(trace.format == ResponseFileFormat::plain_text);
    REQUIRE(trace.response.size() == 2);
    CHECK(trace.response.magnitude_db[0] == -1.5);
    CHECK(trace.response.phase_deg[1] == 20.0);
}

TEST_CASE("plain CSV drops an identical duplicate row") {
    const auto dir = test::scratch_dir("response_csv_duplicate");
    const auto path = write_file(dir / "r.csv", csv_rows_to_line_13() + "1000,-1.0\n1100,-1.1\n");
    const auto trace = read_response_text(path).front();
    CHECK(trace.response.size() == 13);
    REQUIRE(trace.warnings.size() == 1);
    CHECK(trace.warnings[0] ==
          "file '" + path.string() + "', line 14: duplicate of line 13 (frequency 1000 Hz) dropped");
}

TEST_CASE("plain CSV rejects a conflicting duplicate row") {
    const auto dir = test::scratch_dir("response_csv_conflict");
    const auto path = write_file(dir / "r.csv", csv_rows_to_line_13() + "1000,-1.5\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "', line 14: frequency 1000 Hz repeats line 13 with a different magnitude (dB) (-1.5 here, -1 "
              "there); delete one of the two rows");
}

TEST_CASE("plain CSV rejects an out-of-order row") {
    const auto dir = test::scratch_dir("response_csv_order");
    const auto path = write_file(dir / "r.csv", csv_rows_to_line_13() + "900,-0.9\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "', line 14: frequency 900 Hz is lower than 1000 Hz on line 13; rows must be in ascending frequency");
}

TEST_CASE("plain CSV rejects a non-numeric cell") {
    const auto dir = test::scratch_dir("response_csv_cell");
    const auto path = write_file(dir / "r.csv", "100,-1\n200,abc\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "', line 2: 'abc' in column 2 is not a number (expected the magnitude in dB); fix or delete the line");
}

TEST_CASE("plain CSV rejects a negative frequency") {
    const auto dir = test::scratch_dir("response_csv_negative");
    const auto path = write_file(dir / "r.csv", "-20,-1\n200,-2\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() + "', line 1: frequency -20 Hz is negative; frequencies must be 0 Hz or above");
}

TEST_CASE("plain CSV rejects rows with a different column count") {
    const auto dir = test::scratch_dir("response_csv_columns");
    const auto path = write_file(dir / "r.csv", "100,-1,10\n200,-2\n300,-3,30\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "', line 2: 2 columns, but most rows have 3; every row needs the same columns (separated by comma)");
}

TEST_CASE("response text that is empty is rejected") {
    const auto dir = test::scratch_dir("response_empty");
    const auto path = write_file(dir / "r.csv", "");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() + "': the file is empty; export the response again");
}

TEST_CASE("response text without data rows is rejected") {
    const auto dir = test::scratch_dir("response_no_rows");
    const auto path = write_file(dir / "r.txt", "* Measurement data measured by REW V5.20\n* Freq(Hz), SPL(dB)\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() + "': no data rows in 2 lines; expected rows of frequency in Hz and magnitude in dB");
}

TEST_CASE("a line mixing words and numbers before the data is rejected") {
    const auto dir = test::scratch_dir("response_mixed_line");
    const auto path = write_file(dir / "r.txt", "Serial 1234\n100 -1\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "', line 1: 'Serial 1234' is neither a column-title line nor a data row (frequency in Hz, magnitude in "
              "dB); fix or delete the line");
}

TEST_CASE("REW distortion export is rejected") {
    const auto dir = test::scratch_dir("response_distortion");
    const auto path = write_file(dir / "thd.txt", "* Freq(Hz), Fundamental, THD, H2, H3, H4, H5\n"
                                                  "20, 90, 1, 0.5, 0.2, 0.1, 0.05\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "': is a REW distortion export (Fundamental, THD, harmonics columns), not a frequency response; "
              "export the measurement with File > Export > Measurement as text");
}

TEST_CASE("REW impulse text is not read as a response") {
    const auto dir = test::scratch_dir("response_impulse");
    const auto path = write_file(dir / "ir.txt", "* Impulse Response data saved by REW V5.31\n1 // Response length\n"
                                                 "1E-5 // Sample interval (seconds)\n* Data start\n0\n");
    CHECK(error_message([&] { read_response_text(path); }) ==
          "file '" + path.string() +
              "': is a REW impulse-response export, not a frequency response; read it as an impulse response");
    CHECK_FALSE(looks_like_response_text(read_first_text_lines(path, 40)));
}

TEST_CASE("response detection accepts exports and refuses other text") {
    const std::vector<TextLine> rew = {{1, "* Measurement data measured by REW V5.20"}, {2, "20.0, 91.5, 163.3"}};
    const std::vector<TextLine> smaart = {{1, "\tLeft\t\t"}, {2, "Frequency (Hz)\tMagnitude (dB)\tPhase (degrees)"}};
    const std::vector<TextLine> osm = {{1, "Created with Open Sound Meter"}, {2, ""}};
    const std::vector<TextLine> csv = {{1, "frequency,dB"}, {2, "100,-1"}};
    const std::vector<TextLine> umik = {{1, "\"Sens Factor =-1.378dB, AGain =18dB, SERNO: 7000000\""},
                                        {2, "10.054\t-5.5"}};
    const std::vector<TextLine> prose = {{1, "Notes from the show"}, {2, "The mains were loud"}};
    CHECK(looks_like_response_text(rew));
    CHECK(looks_like_response_text(smaart));
    CHECK(looks_like_response_text(osm));
    CHECK(looks_like_response_text(csv));
    CHECK_FALSE(looks_like_response_text(umik));
    CHECK_FALSE(looks_like_response_text(prose));
}

TEST_CASE("response formats have stable names") {
    CHECK(to_string(ResponseFileFormat::rew_text) == "rew_text");
    CHECK(to_string(ResponseFileFormat::smaart_ascii) == "smaart_ascii");
    CHECK(to_string(ResponseFileFormat::open_sound_meter) == "open_sound_meter");
    CHECK(to_string(ResponseFileFormat::plain_text) == "plain_text");
}

}  // TEST_SUITE

}  // namespace linetune::io
