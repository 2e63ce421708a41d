#!/usr/bin/python3
"""`linetune analyze` on the real measurements of the shared data folder."""

import math
import os
import re
import unittest

from cli_support import analyze_json, main, require_shared_data, shared_data_dir


def reference_timing_table():
    """Rows of the "Reference timing" table in the IR folder's SOURCES.md: the expected channel
    count, rate, frames, peak and start sample of every file (channel 1)."""
    path = os.path.join(shared_data_dir(), "ir", "SOURCES.md")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## Reference timing", 1)[1]
    pattern = re.compile(
        r"^\|\s*`([^`]+)`\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\[(\d+)\]\s*\|\s*([\d.]+)\s*\[(\d+)\]\s*\|",
        re.MULTILINE)
    rows = []
    for match in pattern.finditer(section):
        rows.append({
            "file": match.group(1), "channels": int(match.group(2)), "rate_hz": int(match.group(3)),
            "frames": int(match.group(4)), "peak_ms": float(match.group(5)), "peak_sample": int(match.group(6)),
            "start_ms": float(match.group(7)), "start_sample": int(match.group(8)),
        })
    return rows


class ReferenceTiming(unittest.TestCase):
    def setUp(self):
        require_shared_data(self)

    def test_every_shared_ir_matches_reference_timing(self):
        rows = reference_timing_table()
        self.assertGreaterEqual(len(rows), 20, "the reference table was not parsed")
        on_disk = sorted(
            os.path.relpath(os.path.join(folder, name), os.path.join(shared_data_dir(), "ir"))
            for folder, _, names in os.walk(os.path.join(shared_data_dir(), "ir"))
            for name in names if name.lower().endswith(".wav"))
        with_reference = {row["file"] for row in rows}
        # Every audio file has a row, except the 8-channel noise recording (not an impulse response).
        self.assertEqual(sorted(set(on_disk) - with_reference), ["spatialaudio-8mic-array/noise_rec_one.wav"])

        paths = [os.path.join(shared_data_dir(), "ir", row["file"]) for row in rows]
        document = analyze_json("--channel", "1", *paths)
        by_path = {entry["path"]: entry for entry in document["files"]}
        for row, path in zip(rows, paths):
            with self.subTest(file=row["file"]):
                entry = by_path[path]
                self.assertIsNone(entry["error"])
                self.assertEqual(entry["channel_count"], row["channels"])
                channel = entry["channels"][0]
                self.assertEqual(channel["sample_rate_hz"], row["rate_hz"])
                self.assertEqual(channel["frames"], row["frames"])
                self.assertEqual(channel["peak_sample"], row["peak_sample"])
                self.assertEqual(channel["start_sample"], row["start_sample"])
                # The table rounds to 3 decimals of a millisecond.
                self.assertAlmostEqual(channel["peak_ms"], row["peak_ms"], delta=0.0006)
                self.assertAlmostEqual(channel["start_ms"], row["start_ms"], delta=0.0006)

    def test_room_irs_have_metrics_and_arrival(self):
        path = os.path.join(shared_data_dir(), "ir", "openair-python-acoustics", "ir_sportscentre_omni.wav")
        channel = analyze_json(path)["files"][0]["channels"][0]
        self.assertEqual(channel["flags"], [])
        # Direct sound at 27.2 ms (start 2615, peak 2619): the sub-sample arrival lies between them.
        self.assertGreater(channel["arrival_ms"], 27.0)
        self.assertLess(channel["arrival_ms"], 27.4)
        self.assertGreater(channel["metrics"]["t30_s"], 1.0)
        self.assertEqual(len(channel["metrics"]["octave_bands"]), 8)


class NoiseRecording(unittest.TestCase):
    def setUp(self):
        require_shared_data(self)
        path = os.path.join(shared_data_dir(), "ir", "spatialaudio-8mic-array", "noise_rec_one.wav")
        self.entry = analyze_json(path)["files"][0]

    def test_flagged_as_not_an_impulse_response(self):
        self.assertEqual(len(self.entry["channels"]), 8)
        for channel in self.entry["channels"]:
            self.assertIn("not_impulse_response", channel["flags"])
            self.assertIsNone(channel["arrival_ms"])

    def test_delays_are_physical(self):
        # Eight mics 0.12 m apart on a line: no pair is more than 0.84 m apart, i.e. 2.45 ms at 343 m/s.
        matrix = self.entry["delay_matrix_ms"]
        for i in range(8):
            self.assertAlmostEqual(self.entry["channels"][i]["delays_to_channel_1_ms"], matrix[0][i], places=9)
            for j in range(8):
                self.assertLessEqual(abs(matrix[i][j]), 2.45, f"delay {i + 1}->{j + 1}")

    def test_delays_add_up(self):
        matrix = self.entry["delay_matrix_ms"]
        precision_ms = self.entry["delay_precision_ms"]
        # d(1,3) = d(1,2) + d(2,3) within the estimator's stated precision, for every triple.
        for i in range(8):
            for j in range(8):
                for k in range(8):
                    with self.subTest(i=i + 1, j=j + 1, k=k + 1):
                        self.assertLessEqual(abs(matrix[i][k] - (matrix[i][j] + matrix[j][k])), 2 * precision_ms)


class RewExportsAgree(unittest.TestCase):
    """REW's text export and its two WAV exports of one measurement agree on the arrival time."""

    def setUp(self):
        require_shared_data(self)
        self.folder = os.path.join(shared_data_dir(), "autosound-measurements", "cars", "vw-passat-b8-sedan-lhd",
                                   "2026-06-15_front-set-01", "rew-export-samples")

    def test_arrival_agrees_across_time_bases(self):
        text = analyze_json(os.path.join(self.folder, "w_L.ir-text.txt"))["files"][0]
        self.assertEqual(text["time_base"]["source"], "rew_start_time")
        t0_text = text["time_base"]["time_zero_sample"]
        self.assertAlmostEqual(t0_text, 95541.0, delta=1e-6)
        arrival_text_ms = text["channels"][0]["arrival_ms"]

        cut = analyze_json("--t0-sample", "256", os.path.join(self.folder, "w_L.wav-t0-at-256.wav"))["files"][0]
        arrival_cut_ms = cut["channels"][0]["arrival_ms"]

        # The WAV without t0 contains the same samples as the text export: t = 0 at the index the text implies.
        whole = analyze_json("--t0-sample", repr(t0_text), os.path.join(self.folder, "w_L.wav-no-t0.wav"))["files"][0]
        arrival_whole_ms = whole["channels"][0]["arrival_ms"]

        sample_ms = 1000.0 / 96000.0
        self.assertLessEqual(abs(arrival_cut_ms - arrival_text_ms), 0.1 * sample_ms)
        self.assertLessEqual(abs(arrival_whole_ms - arrival_text_ms), 0.1 * sample_ms)
        self.assertTrue(math.isfinite(arrival_text_ms))

    def test_centred_wav_flagged(self):
        whole = analyze_json(os.path.join(self.folder, "w_L.wav-no-t0.wav"))["files"][0]
        channel = whole["channels"][0]
        self.assertIn("centred_ir", channel["flags"])
        self.assertTrue(any("t0-sample" in note for note in channel["notes"]))


if __name__ == "__main__":
    main()
