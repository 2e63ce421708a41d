#!/usr/bin/python3
"""`linetune batch` over the shared data folder against the expected list in
tests/data/batch/shared-data-expected.json: every measurement file analysed with its channels,
every other file skipped, and every unreadable file listed with its reason."""

import json
import os
import unittest

from cli_support import fresh_scratch_dir, load_json, main, require_shared_data, run_linetune, shared_data_dir

EXPECTED_PATH = os.path.join(os.path.dirname(__file__), "..", "data", "batch", "shared-data-expected.json")


def all_files(folder):
    """Every regular file under folder, relative to it with '/' separators."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            found.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(found)


class SharedDataBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.expected = load_json(EXPECTED_PATH)

    def setUp(self):
        require_shared_data(self)
        if not hasattr(type(self), "summary"):
            out_dir = fresh_scratch_dir("batch-shared-data")
            code, out, err = run_linetune("batch", shared_data_dir(), "--out", out_dir, "--jobs", "2", "--json")
            self.assertIn(code, (0, 1), err)
            type(self).counts = json.loads(out)
            type(self).summary = load_json(os.path.join(out_dir, "summary.json"))

    def test_rows_match_expected_list(self):
        rows = sorted([row["path"], row["channel"]] for row in self.summary["rows"])
        self.assertEqual(rows, sorted(self.expected["rows"]))

    def test_failures_match_with_reasons(self):
        failures = {failure["path"]: failure["message"] for failure in self.summary["failures"]}
        self.assertEqual(sorted(failures), sorted(self.expected["failures"]))
        for path, reason in self.expected["failures"].items():
            self.assertIn(reason, failures[path], path)

    def test_every_other_file_skipped(self):
        analysed = {row["path"] for row in self.summary["rows"]}
        failed = {failure["path"] for failure in self.summary["failures"]}
        skipped = [path for path in all_files(shared_data_dir()) if path not in analysed | failed]
        self.assertEqual(skipped, sorted(self.expected["skipped"]))
        self.assertEqual(self.summary["files_skipped"], len(self.expected["skipped"]))
        self.assertEqual(self.counts["files_skipped"], len(self.expected["skipped"]))
        self.assertEqual(self.counts["files_analysed"], len(analysed))
        for path in skipped:
            self.assertFalse(path.endswith((".wav", ".WAV")), path)


if __name__ == "__main__":
    main()
