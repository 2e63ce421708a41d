#!/usr/bin/python3
"""`linetune analyze` on broken inputs: exact messages, exit codes, and the other files still done."""

import json
import os
import struct
import unittest

from cli_support import main, run_linetune

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples", "warehouse", "omni-7-4.wav")


def scratch_file(name, content):
    folder = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "analyze_errors")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    mode = "wb" if isinstance(content, bytes) else "w"
    with open(path, mode) as handle:
        handle.write(content)
    return path


def wav_header(data_bytes, channels=1, rate_hz=44100, bits=16):
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate_hz, rate_hz * block, block, bits)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_bytes))


class BrokenInputs(unittest.TestCase):
    def assert_single_failure(self, path, message, *options):
        code, out, err = run_linetune("analyze", *options, path)
        self.assertEqual(code, 1, err)
        self.assertEqual(err, f"linetune: file '{path}': {message}\n"
                              "linetune: 1 of 1 file(s) could not be analysed\n")
        return out

    def test_truncated_wav(self):
        path = scratch_file("truncated.wav", wav_header(88200) + bytes(1200))
        self.assert_single_failure(
            path, "data chunk declares 88200 bytes but only 1200 bytes follow: the file is truncated; "
                  "re-export or re-record it")

    def test_zero_length_data(self):
        path = scratch_file("empty_data.wav", wav_header(0))
        code, _, err = run_linetune("analyze", path)
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith(f"linetune: file '{path}': the data chunk is empty (0 audio frames)"), err)

    def test_unknown_binary_format(self):
        path = scratch_file("noise.bin", bytes(range(256)) * 16)
        self.assert_single_failure(
            path, "not a recognised audio file (expected WAV, RF64, W64, AIFF or FLAC); for headerless raw audio "
                  "give --sample-rate, --channels, --sample-format and --endian")

    def test_csv_with_a_non_numeric_cell(self):
        path = scratch_file("curve.csv", "frequency,dB\n100,1.0\n200,loud\n300,0.5\n")
        code, _, err = run_linetune("analyze", path)
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith(f"linetune: file '{path}', line 3: "), err)
        self.assertIn("'loud'", err)

    def test_bad_calibration_line_is_a_configuration_error(self):
        path = scratch_file("mic.cal", "20 0.1\n30 0.2\n40 0.3\n50 0.3\n60 0.3\n70 0.3\nabc 1.2\n")
        code, out, err = run_linetune("analyze", "--mic-cal", path, EXAMPLE)
        self.assertEqual(code, 2)
        self.assertEqual(err, f"linetune: --mic-cal: file '{path}', line 7: 'abc 1.2' is not a number pair "
                              "(frequency in Hz, deviation in dB); fix or delete the line\n")
        self.assertEqual(out, "")

    def test_missing_file(self):
        path = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "no_such_file.wav")
        self.assert_single_failure(path, "not found; check the path")

    def test_good_files_still_analysed_beside_a_bad_one(self):
        bad = scratch_file("truncated_again.wav", wav_header(88200) + bytes(100))
        code, out, err = run_linetune("analyze", "--json", EXAMPLE, bad)
        self.assertEqual(code, 1)
        document = json.loads(out)
        self.assertEqual(len(document["files"]), 2)
        good_entry, bad_entry = document["files"]
        self.assertIsNone(good_entry["error"])
        self.assertEqual(len(good_entry["channels"]), 2)
        self.assertIn("the file is truncated", bad_entry["error"])
        self.assertEqual(bad_entry["channels"], [])
        self.assertIn("truncated_again.wav", err)

    def test_channel_beyond_the_file(self):
        self.assert_single_failure(EXAMPLE,
                                   "--channel 3 does not exist: the file has 2 channel(s)", "--channel", "3")

    def test_wrong_sample_rate_for_a_wav(self):
        self.assert_single_failure(
            EXAMPLE, "the file is at 44100 Hz but --sample-rate 48000 Hz was given; drop --sample-rate for "
                     "files with a header, or convert the file", "--sample-rate", "48000")

    def test_t0_sample_beyond_the_file(self):
        # Per file: another file may be long enough, so this counts as one failed input.
        self.assert_single_failure(EXAMPLE, "--t0-sample 1e+09 is outside the file's 0 to 131187 samples; "
                                            "give the sample index where t = 0 sits", "--t0-sample", "1e9")

    def test_unknown_smoothing_is_a_usage_error(self):
        code, _, err = run_linetune("analyze", "--smoothing", "1/5", EXAMPLE)
        self.assertEqual(code, 2)
        self.assertIn("1/5", err)

    def test_utf16_text_names_its_encoding(self):
        path = scratch_file("utf16.csv", "frequency,dB\n100,1.0\n200,2.0\n".encode("utf-16"))
        code, _, err = run_linetune("analyze", path)
        self.assertEqual(code, 1)
        self.assertIn("UTF-16", err)

    def test_invalid_utf8_keeps_json_valid(self):
        text = "* Measurement: B\xfchne links\n* Freq(Hz), SPL(dB), Phase(degrees)\n100, 80.0, 0\n200, 81.0, 0\n"
        path = scratch_file("latin1.txt", text.encode("latin-1"))
        code, out, err = run_linetune("analyze", "--json", EXAMPLE, path)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(json.loads(out)["files"]), 2)

    def test_option_out_of_range_is_a_usage_error(self):
        code, _, err = run_linetune("analyze", "--channel", "0", EXAMPLE)
        self.assertEqual(code, 2)
        self.assertEqual(err, "linetune: --channel: 0 is outside 1 to 64; run 'linetune analyze --help'\n")

    def test_distortion_needs_a_sweep(self):
        code, _, err = run_linetune("analyze", "--distortion", EXAMPLE)
        self.assertEqual(code, 2)
        self.assertEqual(err, "linetune: --distortion needs the played sweep: give --sweep PLAYED.wav\n")

    def test_unknown_option_is_a_usage_error(self):
        code, _, _ = run_linetune("analyze", "--no-such-option", EXAMPLE)
        self.assertEqual(code, 2)

    def test_raw_audio_needs_its_layout(self):
        path = scratch_file("capture.raw", struct.pack("<1000h", *([0] * 500 + [1000] * 500)))
        code, _, err = run_linetune("analyze", "--sample-rate", "48000", "--channels", "1", path)
        self.assertEqual(code, 2)
        self.assertIn("--sample-format", err)
        code, out, err = run_linetune("analyze", "--json", "--sample-rate", "48000", "--channels", "1",
                                      "--sample-format", "s16", path)
        self.assertEqual(code, 0, err)
        entry = json.loads(out)["files"][0]
        self.assertEqual(entry["frames"], 1000)
        self.assertEqual(entry["sample_rate_hz"], 48000)


if __name__ == "__main__":
    main()
