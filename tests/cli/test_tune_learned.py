#!/usr/bin/python3
"""`linetune tune --method learned|classic|auto`, and `run`, which takes the same option.

The program does not link libtorch, and the learned method prints the model's identity. A missing
or corrupt model makes `auto` fall back to the classic fitter with a warning, and `learned` fail
with exit code 2."""

import json
import os
import re
import subprocess
import unittest

import cli_support
from cli_support import main, run_linetune

ROOT = os.environ["LINETUNE_SOURCE_DIR"]
WAREHOUSE = os.path.join(ROOT, "tests", "data", "venues", "warehouse.json")
MODULE_BUILT = os.environ.get("LINETUNE_LEARNED_BUILT") == "1"
CONFIGURATION_ERROR_EXIT = 2


def tune(*options):
    """Run `linetune tune --json` on the warehouse venue; return (exit code, document or None, stderr)."""
    code, out, err = run_linetune("tune", "--json", WAREHOUSE, *options)
    return code, (json.loads(out) if code == 0 else None), err


class ProgramLinking(unittest.TestCase):
    def test_program_does_not_link_libtorch(self):
        result = subprocess.run(["ldd", cli_support.linetune_exe()], capture_output=True, text=True, check=True)
        self.assertNotRegex(result.stdout, r"libtorch|libc10", "linetune links libtorch:\n" + result.stdout)


class BrokenModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = cli_support.fresh_scratch_dir("tune-learned")
        cls.missing = os.path.join(cls.scratch, "missing-model.bin")
        cls.corrupt = os.path.join(cls.scratch, "corrupt-model.bin")
        with open(cls.corrupt, "wb") as handle:
            handle.write(b"linetune-learned-eq-model\n{not json\n\x00\x01")

    def test_auto_falls_back_when_the_model_is_missing(self):
        code, document, err = tune("--method", "auto", "--model", self.missing)
        self.assertEqual(code, 0, err)
        self.assertIn("warning", err)
        self.assertIn("falling back to the classic fitter", err)
        self.assertEqual(document["eq_method"]["method"], "classic")
        self.assertIn("missing-model.bin", document["eq_method"]["fallback_reason"])

    def test_auto_falls_back_when_the_model_is_corrupt(self):
        code, document, err = tune("--method", "auto", "--model", self.corrupt)
        self.assertEqual(code, 0, err)
        self.assertIn("falling back to the classic fitter", err)
        self.assertEqual(document["eq_method"]["method"], "classic")

    def test_learned_fails_when_the_model_is_missing(self):
        code, _, err = tune("--method", "learned", "--model", self.missing)
        self.assertEqual(code, CONFIGURATION_ERROR_EXIT, err)
        self.assertIn("--method learned", err)
        if MODULE_BUILT:
            self.assertIn("missing-model.bin' not found", err)
        else:
            self.assertIn("built without the learned model", err)

    def test_learned_fails_when_the_model_is_corrupt(self):
        code, _, err = tune("--method", "learned", "--model", self.corrupt)
        self.assertEqual(code, CONFIGURATION_ERROR_EXIT, err)
        if MODULE_BUILT:
            self.assertIn("corrupt", err)

    def test_classic_never_loads_the_model(self):
        code, document, err = tune("--method", "classic", "--model", self.missing)
        self.assertEqual(code, 0, err)
        self.assertNotIn("warning", err)
        self.assertEqual(document["eq_method"]["method"], "classic")


class DefaultMethod(unittest.TestCase):
    def test_default_method_is_auto(self):
        code, document, err = tune()
        self.assertEqual(code, 0, err)
        if MODULE_BUILT:
            self.assertNotIn("warning", err)
            self.assertEqual(document["eq_method"]["method"], "learned + refinement")
        else:
            self.assertIn("falling back to the classic fitter", err)
            self.assertEqual(document["eq_method"]["method"], "classic")


@unittest.skipUnless(MODULE_BUILT, "the learned module is not built (meson option learned disabled or no libtorch)")
class LearnedMethod(unittest.TestCase):
    def test_learned_prints_the_model_hash_and_version(self):
        code, out, err = run_linetune("tune", WAREHOUSE, "--method", "learned")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r"EQ method: learned \+ refinement; model '.*', hash [0-9a-f]{16}, format version 1, "
                              r"trained by linetune \S+, configuration [0-9a-f]{16}")

    def test_learned_json_names_the_model(self):
        code, document, err = tune("--method", "learned")
        self.assertEqual(code, 0, err)
        method = document["eq_method"]
        self.assertEqual(method["method"], "learned + refinement")
        self.assertRegex(method["model_hash"], r"^[0-9a-f]{16}$")
        self.assertEqual(method["model_format_version"], 1)

    def test_learned_bands_keep_the_boost_cap(self):
        code, document, err = tune("--method", "learned")
        self.assertEqual(code, 0, err)
        for zone in document["zones"]:
            for band in zone["bands"]:
                self.assertLessEqual(band["gain_db"], 6.0, zone["zone"])

    def test_auto_uses_the_learned_model(self):
        code, document, err = tune("--method", "auto")
        self.assertEqual(code, 0, err)
        self.assertNotIn("warning", err)
        self.assertEqual(document["eq_method"]["method"], "learned + refinement")


class RunMethod(unittest.TestCase):
    """`run` chooses its EQ fitter as `tune` does and records it in the session's corrections."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = cli_support.fresh_scratch_dir("run-method")

    def run_dry(self, name, *options):
        session = os.path.join(self.scratch, name)
        code, out, err = run_linetune("run", WAREHOUSE, "--measurements",
                                      os.path.join(ROOT, "docs", "examples", "warehouse"), "--dry-run",
                                      "--session", session, *options)
        self.assertEqual(code, 0, err)
        with open(os.path.join(session, "corrections.json"), encoding="utf-8") as handle:
            return out, err, json.load(handle)

    def test_run_defaults_to_the_method_tune_defaults_to(self):
        out, err, corrections = self.run_dry("default")
        expected = "learned + refinement" if MODULE_BUILT else "classic"
        self.assertEqual(corrections["eq_method"]["method"], expected)
        self.assertIn("EQ method: " + expected, out)

    def test_run_with_classic_never_loads_the_model(self):
        out, err, corrections = self.run_dry("classic", "--method", "classic", "--model",
                                             os.path.join(self.scratch, "missing-model.bin"))
        self.assertNotIn("warning", err)
        self.assertEqual(corrections["eq_method"]["method"], "classic")

    def test_run_and_tune_write_the_same_settings(self):
        _, _, corrections = self.run_dry("same")
        code, document, err = tune()
        self.assertEqual(code, 0, err)
        self.assertEqual([zone["bands"] for zone in corrections["zones"]],
                         [zone["bands"] for zone in document["zones"]])


if __name__ == "__main__":
    main()
