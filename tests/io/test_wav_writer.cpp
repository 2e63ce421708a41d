#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/wav_writer.hpp"

#include "test_support.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>

namespace {

using linetune::Error;
using linetune::MultichannelSignal;
using linetune::io::read_audio_file;
using linetune::io::WavEncoding;
using linetune::io::write_wav;
namespace fs = std::filesystem;

// Sines of different frequency per channel at -1 dBFS, plus the extremes ±1.0 in the first two frames.
MultichannelSignal test_signal(std::size_t channels, std::size_t frames, double rate_hz) {
    MultichannelSignal signal(channels, frames, rate_hz);
    for (std::size_t channel = 0; channel < channels; ++channel) {
        auto samples = signal.channel(channel);
        const double freq_hz = 100.0 * static_cast<double>(channel + 1);
        for (std::size_t frame = 0; frame < frames; ++frame) {
            const double time_s = static_cast<double>(frame) / rate_hz;
            samples[frame] = static_cast<float>(0.891 * std::sin(2.0 * linetune::pi * freq_hz * time_s));
        }
        samples[0] = 1.0F;
        samples[1] = -1.0F;
    }
    return signal;
}

double max_abs_difference(const MultichannelSignal& a, const MultichannelSignal& b) {
    double difference = 0.0;
    for (std::size_t channel = 0; channel < a.channel_count(); ++channel) {
        for (std::size_t frame = 0; frame < a.frame_count(); ++frame) {
            difference = std::max(difference, std::abs(static_cast<double>(a.channel(channel)[frame]) -
                                                        static_cast<double>(b.channel(channel)[frame])));
        }
    }
    return difference;
}

std::size_t entry_count(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

std::string error_message(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "(no error)";
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("WAV round trip stays within quantisation") {
    const auto dir = linetune::test::scratch_dir("wav_round_trip");
    struct Case {
        WavEncoding encoding;
        std::string sample_format;
        double tolerance;  // full-scale units
    };
    // Rounding to the nearest code is within half a step (2^-16 for 16-bit, 2^-24 for 24-bit);
    // +1.0 itself clips to the largest code, one step below full scale.
    const std::vector<Case> cases = {{WavEncoding::pcm16, "PCM 16-bit", 1.0 / 32768.0},
                                     {WavEncoding::pcm24, "PCM 24-bit", 1.0 / 8388608.0},
                                     {WavEncoding::float32, "float 32-bit", 0.0}};
    const MultichannelSignal signal = test_signal(2, 20000, 48000.0);
    for (const auto& one : cases) {
        CAPTURE(one.sample_format);
        const auto path = dir / "a.wav";
        write_wav(path, signal, one.encoding);
        const auto file = read_audio_file(path);

        CHECK(file.info.container == "WAV");
        CHECK(file.info.sample_format == one.sample_format);
        CHECK(file.info.channels == 2);
        CHECK(file.info.sample_rate_hz == 48000.0);
        CHECK(file.info.frames == 20000);
        CHECK(max_abs_difference(file.signal, signal) <= one.tolerance);
        CHECK(file.signal.channel(1)[1] == -1.0F);
    }
}

TEST_CASE("WAV writer clips overs in PCM") {
    const auto dir = linetune::test::scratch_dir("wav_clipping");
    MultichannelSignal signal(1, 4, 44100.0);
    signal.channel(0)[0] = 1.5F;
    signal.channel(0)[1] = -2.0F;
    signal.channel(0)[2] = 0.25F;
    write_wav(dir / "a.wav", signal, WavEncoding::pcm16);

    const auto file = read_audio_file(dir / "a.wav");
    CHECK(file.signal.channel(0)[0] == 32767.0F / 32768.0F);
    CHECK(file.signal.channel(0)[1] == -1.0F);
    CHECK(file.signal.channel(0)[2] == 0.25F);
}

TEST_CASE("multichannel WAV is written as extensible") {
    const auto dir = linetune::test::scratch_dir("wav_multichannel");
    const MultichannelSignal signal = test_signal(8, 1000, 96000.0);
    write_wav(dir / "a.wav", signal, WavEncoding::float32);

    const auto file = read_audio_file(dir / "a.wav");
    CHECK(file.info.container == "WAV (extensible)");
    CHECK(file.info.channels == 8);
    CHECK(file.info.sample_rate_hz == 96000.0);
    CHECK(max_abs_difference(file.signal, signal) == 0.0);
}

TEST_CASE("WAV writer replaces a file and leaves no temporary") {
    const auto dir = linetune::test::scratch_dir("wav_replace");
    write_wav(dir / "a.wav", test_signal(1, 5000, 48000.0), WavEncoding::pcm24);
    write_wav(dir / "a.wav", test_signal(2, 300, 44100.0), WavEncoding::pcm16);

    const auto file = read_audio_file(dir / "a.wav");
    CHECK(file.info.channels == 2);
    CHECK(file.info.frames == 300);
    CHECK(entry_count(dir) == 1);
}

TEST_CASE("WAV writer missing folder error") {
    const auto dir = linetune::test::scratch_dir("wav_missing_folder");
    const auto path = dir / "missing" / "a.wav";
    CHECK(error_message([&] { write_wav(path, test_signal(1, 100, 48000.0), WavEncoding::pcm16); }) ==
          "file '" + path.string() + "': cannot write it because the folder '" + (dir / "missing").string() +
              "' does not exist; create the folder first");
    CHECK(entry_count(dir) == 0);
}

TEST_CASE("WAV writer read-only folder error") {
    const auto dir = linetune::test::scratch_dir("wav_read_only");
    const auto folder = dir / "locked";
    fs::create_directory(folder);
    fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec);
    if (::access(folder.c_str(), W_OK) == 0) {
        // root (and CAP_DAC_OVERRIDE) writes into read-only folders, so nothing can be checked.
        MESSAGE("skipped: folder permissions do not stop this user from writing");
        fs::permissions(folder, fs::perms::owner_all);
        return;
    }
    const auto path = folder / "a.wav";
    const std::string message = error_message([&] { write_wav(path, test_signal(1, 100, 48000.0), WavEncoding::pcm16); });
    fs::permissions(folder, fs::perms::owner_all);

    CHECK(message == "file '" + path.string() + "': cannot create a temporary file in folder '" + folder.string() +
                         "' (Permission denied); check that the folder is writable");
    CHECK(entry_count(folder) == 0);
}

TEST_CASE("WAV writer keeps a folder in the way") {
    const auto dir = linetune::test::scratch_dir("wav_folder_in_the_way");
    const auto path = dir / "a.wav";
    fs::create_directories(path / "inside");
    const std::string message = error_message([&] { write_wav(path, test_signal(2, 30000, 48000.0), WavEncoding::pcm24); });

    CHECK(message == "file '" + path.string() +
                         "': it exists and is not a regular file (a device, FIFO or folder); choose another output path");
    CHECK(fs::is_directory(path / "inside"));
    CHECK(entry_count(dir) == 1);
}

TEST_CASE("WAV writer keeps a FIFO in place") {
    const auto dir = linetune::test::scratch_dir("wav_fifo");
    const auto path = dir / "pipe.wav";
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    const std::string message = error_message([&] { write_wav(path, test_signal(1, 100, 48000.0), WavEncoding::pcm16); });

    CHECK(message.ends_with("it exists and is not a regular file (a device, FIFO or folder); choose another output path"));
    CHECK(fs::is_fifo(path));
    CHECK(entry_count(dir) == 1);
}

TEST_CASE("WAV writer replaces a link's target") {
    const auto dir = linetune::test::scratch_dir("wav_symlink");
    write_wav(dir / "target.wav", test_signal(1, 100, 48000.0), WavEncoding::pcm16);
    fs::create_symlink("target.wav", dir / "link.wav");
    write_wav(dir / "link.wav", test_signal(2, 300, 48000.0), WavEncoding::pcm16);

    CHECK(fs::is_symlink(dir / "link.wav"));
    CHECK(read_audio_file(dir / "target.wav").info.channels == 2);
    CHECK(entry_count(dir) == 2);
}

TEST_CASE("WAV writer rejects non-finite samples") {
    const auto dir = linetune::test::scratch_dir("wav_nan");
    MultichannelSignal signal = test_signal(2, 200, 48000.0);
    signal.channel(1)[100] = std::numeric_limits<float>::quiet_NaN();
    const auto path = dir / "a.wav";
    CHECK(error_message([&] { write_wav(path, signal, WavEncoding::float32); }) ==
          "file '" + path.string() + "': channel 2, frame 100: sample is NaN, which a WAV file cannot hold; "
                                     "check the processing that produced it");
    CHECK(entry_count(dir) == 0);
}

TEST_CASE("WAV writer rejects an empty signal") {
    const auto dir = linetune::test::scratch_dir("wav_empty");
    const auto path = dir / "a.wav";
    CHECK(error_message([&] { write_wav(path, MultichannelSignal(1, 0, 48000.0), WavEncoding::pcm16); }) ==
          "file '" + path.string() + "': the signal contains no audio (channels: 1, frames: 0); nothing would be written");
    CHECK(entry_count(dir) == 0);
}

TEST_CASE("WAV writer rejects a fractional sample rate") {
    const auto dir = linetune::test::scratch_dir("wav_fractional_rate");
    const auto path = dir / "a.wav";
    CHECK(error_message([&] { write_wav(path, test_signal(1, 10, 44100.5), WavEncoding::pcm16); }) ==
          "file '" + path.string() +
              "': sample rate 44100.5 Hz cannot be stored in a WAV file, which needs a whole number of hertz");
    CHECK(entry_count(dir) == 0);
}

}  // TEST_SUITE
