#!/usr/bin/python3
"""tools/train_model is deterministic: two small runs of the same command write the same weights,
bit for bit. Nothing in a run may follow the clock (docs/learned-model.md, Reproducibility); a
learning-rate schedule or a stop that did would change the weights between the runs. The run is
4 epochs, so the rate changes twice (after half and three quarters of the epochs)."""

import json
import os
import subprocess
import sys
import unittest

TRAIN_MODEL = os.environ["LINETUNE_TRAIN_MODEL_EXE"]
SHARED_DATA = os.environ["LINETUNE_SHARED_DATA_DIR"]
SCRATCH = os.environ["LINETUNE_TEST_SCRATCH_DIR"]


def model_metadata(path):
    """The JSON metadata line of a model file (its second line)."""
    with open(path, "rb") as handle:
        handle.readline()
        return json.loads(handle.readline())


def train(name, *options):
    """Runs a small training; returns the model file's metadata and the program's output."""
    out = os.path.join(SCRATCH, name)
    result = subprocess.run([TRAIN_MODEL, "--out", out, "--shared-data", SHARED_DATA, "--rigs", "1", "--variants", "1",
                             "--real-variants", "1", "--epochs", "4", "--threads", "2", *options],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"train_model failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return model_metadata(out), result.stdout


class TrainingReproducibility(unittest.TestCase):
    def test_training_twice_gives_the_same_weights(self):
        os.makedirs(SCRATCH, exist_ok=True)
        first, _ = train("first-model.bin")
        second, _ = train("second-model.bin")
        self.assertFalse(first["training"]["stopped_by_time_limit"])
        self.assertEqual(first["training"]["epochs_run"], 4)
        self.assertEqual(first["weights_fnv1a"], second["weights_fnv1a"])
        self.assertEqual(first["training"]["validation_residual_db"], second["training"]["validation_residual_db"])
        # Training must have moved the weights: the kept epoch scores below the untrained network.
        self.assertLess(first["training"]["validation_residual_db"],
                        first["training"]["untrained_validation_residual_db"])

    def test_time_guard_marks_the_model(self):
        os.makedirs(SCRATCH, exist_ok=True)
        # The guard's clock starts before the data is generated, which alone takes longer than 0.6 s,
        # so the guard has passed when the first epoch ends.
        metadata, output = train("guarded-model.bin", "--max-minutes", "0.01")
        self.assertTrue(metadata["training"]["stopped_by_time_limit"])
        self.assertEqual(metadata["training"]["epochs_run"], 1)
        self.assertIn("not reproducible", output)


if __name__ == "__main__":
    if not os.path.isdir(SHARED_DATA):
        message = f"shared data folder {SHARED_DATA} not found"
        if os.environ.get("CI") == "true":
            sys.exit("error: " + message + " (required in CI)")
        print("skip: " + message)
        sys.exit(77)
    unittest.main()
