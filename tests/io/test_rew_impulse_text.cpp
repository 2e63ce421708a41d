#include "linetune/core/error.hpp"
#include "linetune/io/rew_impulse_text.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

namespace linetune::io {
namespace {

using test::error_message;
using test::write_file;

std::filesystem::path rew_export_dir() {
    return test::shared_data_dir() / "autosound-measurements" / "cars" / "vw-passat-b8-sedan-lhd" /
           "2026-06-15_front-set-01" / "rew-export-samples";
}

// Samples of a mono 32-bit float WAV file, read straight from its "data" chunk.
std::vector<float> read_float_wav_samples(const std::filesystem::path& path) {
    std::ifstream stream(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    std::size_t at = 12;
    while (at + 8 <= bytes.size()) {
        std::uint32_t chunk_size = 0;
        std::memcpy(&chunk_size, bytes.data() + at + 4, sizeof chunk_size);
        if (bytes.compare(at, 4, "data") == 0) {
            std::vector<float> samples(chunk_size / sizeof(float));
            std::memcpy(samples.data(), bytes.data() + at + 8, samples.size() * sizeof(float));
            return samples;
        }
        at += 8 + chunk_size + (chunk_size & 1U);
    }
    return {};
}

// A small REW-style export: header lines as REW V5.40 writes them, then the given sample lines.
std::string rew_export(std::string_view length, std::string_view interval, std::string_view samples,
                       std::string_view normalised_line = "* IR is not normalised\n") {
    return "* Impulse Response data saved by REW V5.40 Beta 132\n" + std::string(normalised_line) +
           "0.5 // Peak value before normalisation\n"
           "2 // Peak index\n" +
           std::string(length) + " // Response length\n" + std::string(interval) +
           " // Sample interval (seconds)\n"
           "-0.0000625 // Start time (seconds)\n"
           "120.0 // Data offset (dB)\n"
           "* Data start\n" +
           std::string(samples);
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("REW impulse text export reads with its time base") {
    if (!test::shared_data_available()) {
        return;
    }
    const auto path = rew_export_dir() / "w_L.ir-text.txt";

    const auto start = std::chrono::steady_clock::now();
    const RewImpulseResponse ir = read_rew_impulse_text(path);
    const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("read 262144 samples in " << elapsed_s << " s");

    CHECK(elapsed_s < 1.0);
    CHECK(ir.signal.channel_count() == 1);
    CHECK(ir.signal.frame_count() == 262144);
    CHECK(ir.signal.sample_rate_hz() == 96000.0);
    CHECK(ir.start_time_s == doctest::Approx(-0.99521875).epsilon(1e-12));
    CHECK(ir.signal.time_base.source == TimeBaseSource::rew_start_time);
    CHECK(std::fabs(ir.signal.time_base.time_zero_sample - 95541.0) < 1e-6);
    CHECK(ir.peak_index == 96000);
    CHECK(ir.peak_value_before_normalisation == doctest::Approx(0.0034054601565003395).epsilon(1e-12));
    CHECK(ir.data_offset_db == 120.0);
    CHECK_FALSE(ir.normalised);
    CHECK(ir.signal.channel(0)[0] == -1.654331e-6F);
    CHECK(ir.signal.channel(0)[96000] == 0.0034045896F);
}

TEST_CASE("REW impulse text export matches its WAV export bit for bit") {
    if (!test::shared_data_available()) {
        return;
    }
    const RewImpulseResponse ir = read_rew_impulse_text(rew_export_dir() / "w_L.ir-text.txt");
    const auto wav = read_float_wav_samples(rew_export_dir() / "w_L.wav-no-t0.wav");
    REQUIRE(wav.size() == ir.signal.frame_count());
    const auto text = ir.signal.channel(0);
    const auto first_difference = std::mismatch(text.begin(), text.end(), wav.begin()).first;
    CHECK(first_difference == text.end());
}

TEST_CASE("REW impulse text export is recognised") {
    if (!test::shared_data_available()) {
        return;
    }
    CHECK(is_rew_impulse_text(read_first_text_lines(rew_export_dir() / "w_L.ir-text.txt", 40)));
    const std::vector<TextLine> response = {{1, "* Freq(Hz), SPL(dB), Phase(degrees)"}, {2, "20.0, 91.5, 163.3"}};
    CHECK_FALSE(is_rew_impulse_text(response));
}

TEST_CASE("REW impulse text places t = 0 from the start time") {
    const auto dir = test::scratch_dir("rew_ir_time_base");
    // Start time −62.5 µs at 48 kHz: t = 0 lies at sample 3.
    const auto path =
        write_file(dir / "ir.txt", rew_export("5", "2.0833333333333333E-5", "0\r\n0,25\r\n1\r\n-0,5\r\n0\r\n",
                                              "* IR is normalised\r\n"));
    const auto ir = read_rew_impulse_text(path);
    CHECK(ir.signal.sample_rate_hz() == 48000.0);
    CHECK(ir.signal.time_base.time_zero_sample == doctest::Approx(3.0).epsilon(1e-12));
    CHECK(ir.normalised);
    CHECK(ir.signal.channel(0)[1] == 0.25F);
    CHECK(ir.signal.channel(0)[3] == -0.5F);
}

TEST_CASE("REW impulse text without a peak index finds the peak") {
    const auto dir = test::scratch_dir("rew_ir_no_peak");
    const auto path = write_file(dir / "ir.txt",
                                 "1 // Response length\n"
                                 "1.0416666666666666E-5 // Sample interval (seconds)\n"
                                 "0 // Start time (seconds)\n"
                                 "* Data start\n"
                                 "-0.75\n");
    const auto ir = read_rew_impulse_text(path);
    CHECK(ir.peak_index == 0);
    CHECK(ir.peak_value_before_normalisation == 0.75);
    CHECK(ir.data_offset_db == 0.0);
}

TEST_CASE("REW impulse text with too few samples is rejected") {
    const auto dir = test::scratch_dir("rew_ir_short");
    const auto path = write_file(dir / "ir.txt", rew_export("5", "2.0833333333333333E-5", "0\n0.5\n1\n"));
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() +
              "', line 5: response length is 5 samples but 3 sample lines follow '* Data start' on line 9; the "
              "export is incomplete or was edited, so export it again from REW");
}

TEST_CASE("REW impulse text with a zero sample interval is rejected") {
    const auto dir = test::scratch_dir("rew_ir_interval");
    const auto path = write_file(dir / "ir.txt", rew_export("3", "0", "0\n1\n0\n"));
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() +
              "', line 6: sample interval 0 s must be greater than 0 s; fix the line or export the impulse "
              "response again");
}

TEST_CASE("REW impulse text with a bad sample is rejected") {
    const auto dir = test::scratch_dir("rew_ir_bad_sample");
    const auto path = write_file(dir / "ir.txt", rew_export("3", "2.0833333333333333E-5", "0\n1.2.3\n0\n"));
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() + "', line 11: '1.2.3' is not a sample value; fix or delete the line");
}

TEST_CASE("REW impulse text with a peak index past the end is rejected") {
    const auto dir = test::scratch_dir("rew_ir_peak_index");
    const auto path = write_file(dir / "ir.txt", rew_export("2", "2.0833333333333333E-5", "0\n1\n"));
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() +
              "', line 4: peak index 2 is beyond the last sample (index 1); export the impulse response again "
              "from REW");
}

TEST_CASE("REW impulse text without data start is rejected") {
    const auto dir = test::scratch_dir("rew_ir_no_data_start");
    const auto path = write_file(dir / "ir.txt", "* Impulse Response data saved by REW V5.31\n16384 // Response length\n");
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() +
              "': no '* Data start' line, so this is not a complete REW impulse-response text export; export it "
              "again with File > Export > Impulse response as text");
}

TEST_CASE("REW impulse text without response length is rejected") {
    const auto dir = test::scratch_dir("rew_ir_no_length");
    const auto path = write_file(dir / "ir.txt", "1.0E-5 // Sample interval (seconds)\n0 // Start time (seconds)\n"
                                                 "* Data start\n0\n");
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() +
              "': the header line '<value> // Response length' is missing before '* Data start'; export the "
              "impulse response again from REW with headers on");
}

TEST_CASE("REW impulse text that is empty is rejected") {
    const auto dir = test::scratch_dir("rew_ir_empty");
    const auto path = write_file(dir / "ir.txt", "\r\n");
    CHECK(error_message([&] { read_rew_impulse_text(path); }) ==
          "file '" + path.string() + "': the file is empty; export the impulse response again from REW");
}

}  // TEST_SUITE

}  // namespace linetune::io
