#!/usr/bin/python3
"""`linetune report` and the report `run` writes: every zone and mic plotted, the tables, no
reference to anything outside the file, and the errors for a folder that is not a session."""

import os
import re
import unittest

from cli_support import fresh_scratch_dir, main, run_linetune
from report_support import expected_mics, missing_plots, parse_report, point_count, simulated_session

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WAREHOUSE = os.path.join(ROOT, "docs", "examples", "warehouse")


def read_text(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


class SimulatedSessionReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.session, cls.run_output = simulated_session("simulated")
        cls.report_path = os.path.join(cls.session, "report.html")
        cls.text = read_text(cls.report_path)
        cls.structure = parse_report(cls.text)
        cls.zones = expected_mics(cls.session)

    def test_run_writes_report(self):
        self.assertIn("report written to " + self.report_path, self.run_output)

    def test_every_zone_has_a_section(self):
        self.assertEqual(self.structure.zones, list(self.zones))

    def test_every_zone_and_mic_plotted(self):
        missing_plots(self, self.structure, self.zones)

    def test_magnitude_plots_show_target_and_band(self):
        for figure in self.structure.figures:
            if figure["plot"] == "magnitude":
                self.assertGreater(point_count(figure["series"].get("target", "")), 10, figure["mic"])
        self.assertEqual(self.text.count('class="shaded"'),
                         len([f for f in self.structure.figures if f["plot"] in ("magnitude", "zone-magnitude")]))

    def test_axes_are_labelled(self):
        for label in ["frequency (Hz)", "level (dB re full scale)", "phase (degrees)", "time (ms) from t = 0",
                      "level (dB re peak)", "ratio (dB)", ">1k<", ">10k<"]:
            self.assertIn(label, self.text)

    def test_tables_present(self):
        for table in ["zones", "devices", "delays-levels", "bands"]:
            self.assertIn(table, self.structure.tables)
        mic_count = sum(len(mics) for mics in self.zones.values())
        self.assertEqual(self.structure.tables.count("room-metrics"), mic_count)
        for band in ["63 Hz", "125 Hz", "1000 Hz", "8000 Hz", "broadband"]:
            self.assertIn(">" + band + "<", self.text)

    def test_push_outcome_shown(self):
        self.assertIn("Pushed and verified", self.text)
        self.assertIn('class="name outcome-verified">verified<', self.text)

    def test_self_contained(self):
        self.assertIsNone(re.search(r"https?:", self.text, re.IGNORECASE))
        self.assertNotIn("//", "".join(v for v in self.structure.attribute_values if "://" in v or v.startswith("//")))
        for tag in ["script", "link", "img", "iframe", "object", "embed"]:
            self.assertNotIn(tag, self.structure.tags)
        for value in self.structure.attribute_values:
            self.assertFalse(value.startswith(("http", "//", "file:", "data:")), value)
        self.assertEqual(re.findall(r"url\((?!#)", self.text), [])
        self.assertNotIn("@import", self.text)

    def test_report_command_writes_same_page(self):
        out_dir = fresh_scratch_dir("report", "command-out")
        out_path = os.path.join(out_dir, "again.html")
        _, out, _ = run_linetune("report", self.session, "--out", out_path, check_exit=0)
        self.assertIn(out_path, out)
        again = parse_report(read_text(out_path))
        self.assertEqual(again.zones, self.structure.zones)
        self.assertEqual([(f["plot"], f["zone"], f["mic"]) for f in again.figures],
                         [(f["plot"], f["zone"], f["mic"]) for f in self.structure.figures])

    def test_run_prints_terminal_plots(self):
        for zone in self.zones:
            self.assertIn(f"zone '{zone}': measured spatial average", self.run_output)
        self.assertIn("after the push", self.run_output)
        self.assertNotIn("\x1b[", self.run_output)


class DryRunReportTest(unittest.TestCase):
    def test_stored_measurements_give_report_without_push(self):
        session = fresh_scratch_dir("report", "dry-run")
        run_linetune("run", os.path.join(WAREHOUSE, "venue.json"), "--measurements", WAREHOUSE, "--dry-run",
                     "--session", session, check_exit=0)
        text = read_text(os.path.join(session, "report.html"))
        structure = parse_report(text)
        self.assertEqual(structure.zones, ["main"])
        self.assertIn("Not pushed", text)
        magnitude = [f for f in structure.figures if f["plot"] == "magnitude"]
        self.assertEqual(len(magnitude), 5)
        for figure in magnitude:
            self.assertGreater(point_count(figure["series"]["before"]), 10, figure["mic"])
            self.assertEqual(sorted(figure["series"]), ["before", "target"], figure["mic"])


class ReportErrorsTest(unittest.TestCase):
    def test_missing_folder_is_usage_error(self):
        code, _, err = run_linetune("report", os.path.join(fresh_scratch_dir("report", "errors"), "absent"))
        self.assertEqual(code, 2, err)

    def test_folder_without_venue_names_venue_json(self):
        empty = fresh_scratch_dir("report", "empty-session")
        code, _, err = run_linetune("report", empty)
        self.assertEqual(code, 2, err)
        self.assertIn("venue.json not found", err)
        self.assertIn(empty, err)

    def test_out_into_missing_folder_is_usage_error(self):
        empty = fresh_scratch_dir("report", "bad-out")
        code, _, err = run_linetune("report", empty, "--out", os.path.join(empty, "no", "r.html"))
        self.assertEqual(code, 2, err)
        self.assertIn("--out", err)


if __name__ == "__main__":
    main()
