"""Shared helpers for the command-line tests: running linetune and finding the shared data."""

import json
import math
import os
import shutil
import subprocess
import sys
import unittest

import numpy as np


def linetune_exe():
    """Path of the linetune program under test, passed by meson in LINETUNE_EXE."""
    return os.environ["LINETUNE_EXE"]


def shared_data_dir():
    """The team's shared data folder, passed by meson in LINETUNE_SHARED_DATA_DIR."""
    return os.environ["LINETUNE_SHARED_DATA_DIR"]


def require_shared_data(test_case):
    """Skip the test when the shared data is absent; under CI=true that is a failure instead."""
    if os.path.isdir(shared_data_dir()):
        return
    if os.environ.get("CI") == "true":
        test_case.fail(f"shared data folder {shared_data_dir()} is missing and CI=true")
    raise unittest.SkipTest(f"shared data folder {shared_data_dir()} not found")


def fresh_scratch_dir(*parts):
    """Return an empty folder under the tests' scratch folder, removing what an earlier run left."""
    path = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], *parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def load_json(path):
    """Parse a JSON file."""
    with open(path) as handle:
        return json.load(handle)


def write_json(path, document):
    """Write a document as indented JSON and return the path."""
    with open(path, "w") as handle:
        json.dump(document, handle, indent=2)
    return path


def run_linetune(*args, check_exit=None):
    """Run linetune with the arguments; return (exit code, stdout, stderr)."""
    result = subprocess.run([linetune_exe(), *map(str, args)], capture_output=True, text=True, timeout=600,
                            stdin=subprocess.DEVNULL)
    if check_exit is not None and result.returncode != check_exit:
        raise AssertionError(
            f"linetune {' '.join(map(str, args))} exited {result.returncode}, expected {check_exit}\n"
            f"stderr:\n{result.stderr}")
    return result.returncode, result.stdout, result.stderr


def analyze_json(*args, check_exit=0):
    """Run `linetune analyze --json ARGS` and return the parsed document."""
    _, out, _ = run_linetune("analyze", "--json", *args, check_exit=check_exit)
    return json.loads(out)


def rbj_coefficients(band, rate_hz):
    """Return the Audio EQ Cookbook biquad (b, a) normalised by a0. Shelves take Q: alpha = sin w0 / (2Q)."""
    a = 10.0 ** (band["gain_db"] / 40.0)
    w0 = 2.0 * math.pi * band["freq_hz"] / rate_hz
    cos_w0 = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * band["q"])
    s = 2.0 * math.sqrt(a) * alpha
    kind = band["type"]
    if kind == "peaking":
        b = [1 + alpha * a, -2 * cos_w0, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos_w0, 1 - alpha / a]
    elif kind == "low_shelf":
        b = [a * ((a + 1) - (a - 1) * cos_w0 + s), 2 * a * ((a - 1) - (a + 1) * cos_w0),
             a * ((a + 1) - (a - 1) * cos_w0 - s)]
        den = [(a + 1) + (a - 1) * cos_w0 + s, -2 * ((a - 1) + (a + 1) * cos_w0), (a + 1) + (a - 1) * cos_w0 - s]
    elif kind == "high_shelf":
        b = [a * ((a + 1) + (a - 1) * cos_w0 + s), -2 * a * ((a - 1) + (a + 1) * cos_w0),
             a * ((a + 1) + (a - 1) * cos_w0 - s)]
        den = [(a + 1) - (a - 1) * cos_w0 + s, 2 * ((a - 1) - (a + 1) * cos_w0), (a + 1) - (a - 1) * cos_w0 - s]
    elif kind == "high_pass":
        b = [(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2]
        den = [1 + alpha, -2 * cos_w0, 1 - alpha]
    elif kind == "low_pass":
        b = [(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2]
        den = [1 + alpha, -2 * cos_w0, 1 - alpha]
    else:
        raise ValueError(f"unknown band type {kind}")
    return np.array(b) / den[0], np.array(den) / den[0]


def read_channel_1(path):
    """Return (rate_hz, channel 1 as float64 in full-scale units) of a WAV file."""
    import scipy.io.wavfile  # only the tests that read WAV files need scipy
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)   # the examples carry extra chunks
        rate_hz, data = scipy.io.wavfile.read(path)
    if data.ndim > 1:
        data = data[:, 0]
    if data.dtype == np.int16:
        data = data / 32768.0
    elif data.dtype == np.int32:
        data = data / 2147483648.0
    return rate_hz, np.asarray(data, dtype=np.float64)


def main():
    unittest.main(argv=[sys.argv[0], "-v"])
