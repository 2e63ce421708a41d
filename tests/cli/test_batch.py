#!/usr/bin/python3
"""`linetune batch` on a scratch archive: summary rows per channel, failures, skipped files,
resuming, --force and identical results for any number of worker threads."""

import csv
import json
import os
import shutil
import unittest
import warnings

import scipy.io.wavfile

from cli_support import main, run_linetune

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WAREHOUSE_WAVS = os.path.join(ROOT, "docs", "examples", "warehouse")
GOOD_WAVS = ["omni-7-4.wav", "omni-8-14.wav", "omni-15-10.wav"]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def read_bytes(path):
    with open(path, "rb") as stream:
        return stream.read()


class BatchTest(unittest.TestCase):
    def setUp(self):
        self.archive = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "batch", self.id().split(".")[-1])
        shutil.rmtree(self.archive, ignore_errors=True)
        os.makedirs(os.path.join(self.archive, "day2"))
        for name in GOOD_WAVS[:2]:
            shutil.copy(os.path.join(WAREHOUSE_WAVS, name), os.path.join(self.archive, name))
        shutil.copy(os.path.join(WAREHOUSE_WAVS, GOOD_WAVS[2]), os.path.join(self.archive, "day2", GOOD_WAVS[2]))
        with open(os.path.join(self.archive, "day2", "truncated.wav"), "wb") as stream:
            stream.write(read_bytes(os.path.join(WAREHOUSE_WAVS, GOOD_WAVS[0]))[:30])
        with open(os.path.join(self.archive, "README.md"), "w", encoding="utf-8") as stream:
            stream.write("# Warehouse archive\n\nMeasured at five positions on 12 March.\n")
        with open(os.path.join(self.archive, "notes.json"), "w", encoding="utf-8") as stream:
            json.dump({"venue": "warehouse", "positions": 5, "temperature_c": 21.5}, stream, indent=2)
        with open(os.path.join(self.archive, "curve.csv"), "w", encoding="utf-8") as stream:
            stream.write("frequency,dB\n")
            for i in range(40):
                stream.write(f"{20.0 * 2 ** (i / 4):.3f},{-3.0 + 0.1 * i:.2f}\n")
        self.out = os.path.join(self.archive, "linetune-batch")

    def expected_channel_rows(self):
        self.rates_hz = {}
        rows = []
        for name, relative in zip(GOOD_WAVS, ["omni-7-4.wav", "omni-8-14.wav", "day2/omni-15-10.wav"]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
                rate_hz, data = scipy.io.wavfile.read(os.path.join(WAREHOUSE_WAVS, name))
            self.rates_hz[relative] = float(rate_hz)
            channels = 1 if data.ndim == 1 else data.shape[1]
            rows += [(relative, str(c)) for c in range(1, channels + 1)]
        rows.append(("curve.csv", "1"))
        return sorted(rows)

    def test_first_run_summary_failures_and_skips(self):
        code, out, err = run_linetune("batch", self.archive, "--jobs", "2", "--json")
        self.assertEqual(code, 1, err)
        summary = json.loads(out)
        self.assertEqual(summary["files_analysed"], 4)
        self.assertEqual(summary["files_failed"], 1)
        self.assertEqual(summary["files_skipped"], 2)
        self.assertEqual(summary["files_resumed"], 0)
        self.assertIn("truncated.wav", err)

        rows = read_csv(os.path.join(self.out, "summary.csv"))
        self.assertEqual(sorted((r["path"], r["channel"]) for r in rows), self.expected_channel_rows())
        for column in ["arrival_ms", "peak_dbfs", "t30_s", "t30_63_s", "t30_8000_s", "d50", "flags"]:
            self.assertIn(column, rows[0])
        wav_rows = [r for r in rows if r["path"].endswith(".wav")]
        for row in wav_rows:
            self.assertEqual(float(row["sample_rate_hz"]), self.rates_hz[row["path"]])
            self.assertGreater(float(row["t30_s"]), 0.1)
            self.assertLess(float(row["t30_s"]), 10.0)

        failures = read_csv(os.path.join(self.out, "failures.csv"))
        self.assertEqual([f["path"] for f in failures], ["day2/truncated.wav"])
        self.assertIn("truncated.wav", failures[0]["message"])
        self.assertGreater(len(failures[0]["message"]), 40)

        document = json.load(open(os.path.join(self.out, "summary.json"), encoding="utf-8"))
        self.assertEqual(len(document["rows"]), len(rows))
        self.assertEqual(document["files_skipped"], 2)
        file_json = json.load(open(os.path.join(self.out, "files", "day2", "omni-15-10.wav.json"), encoding="utf-8"))
        self.assertIsNone(file_json["error"])
        self.assertEqual(len(file_json["channels"]), len([r for r in rows if r["path"] == "day2/omni-15-10.wav"]))

    def test_second_run_resumes_and_force_analyses_again(self):
        run_linetune("batch", self.archive, check_exit=1)
        first_summary = read_bytes(os.path.join(self.out, "summary.csv"))

        _, out, _ = run_linetune("batch", self.archive, "--json", check_exit=1)
        resumed = json.loads(out)
        self.assertEqual(resumed["files_resumed"], 4)
        self.assertEqual(resumed["files_analysed"], 0)
        self.assertEqual(resumed["files_failed"], 1)
        self.assertEqual(read_bytes(os.path.join(self.out, "summary.csv")), first_summary)

        _, out, _ = run_linetune("batch", self.archive, "--force", "--json", check_exit=1)
        forced = json.loads(out)
        self.assertEqual(forced["files_analysed"], 4)
        self.assertEqual(forced["files_resumed"], 0)
        self.assertEqual(read_bytes(os.path.join(self.out, "summary.csv")), first_summary)

    def test_one_and_two_workers_give_identical_summaries(self):
        summaries = []
        for jobs in ["1", "2"]:
            out_dir = os.path.join(self.archive, "..", self.id().split(".")[-1] + "-out-" + jobs)
            shutil.rmtree(out_dir, ignore_errors=True)
            run_linetune("batch", self.archive, "--jobs", jobs, "--out", out_dir, check_exit=1)
            summaries.append((read_bytes(os.path.join(out_dir, "summary.csv")),
                              read_bytes(os.path.join(out_dir, "failures.csv"))))
        self.assertEqual(summaries[0], summaries[1])

    def test_text_summary_names_every_count(self):
        _, out, _ = run_linetune("batch", self.archive, check_exit=1)
        for words in ["files analysed: 4", "skipped (not measurements): 2", "failed: 1", "files/s"]:
            self.assertIn(words, out)

    def test_usage_errors_exit_2(self):
        code, _, err = run_linetune("batch", os.path.join(self.archive, "missing"))
        self.assertEqual(code, 2, err)
        code, _, err = run_linetune("batch", self.archive, "--jobs", "0")
        self.assertEqual(code, 2, err)


if __name__ == "__main__":
    main()
