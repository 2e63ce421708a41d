#!/usr/bin/python3
"""`linetune sweep` then `linetune analyze --sweep`: a simulated recording through a known
system with noise and a little non-linearity is deconvolved back to that system."""

import json
import os
import unittest

import numpy as np
from scipy.io import wavfile

from cli_support import analyze_json, main, run_linetune

SAMPLE_RATE_HZ = 48000
LEVEL_DBFS = -6.0
DELAY_SAMPLES = 240          # 5 ms direct sound
REFLECTION_SAMPLES = 2400    # a -20 dB reflection 50 ms after the start
A2 = 0.02                    # y = x + A2·x² + A3·x³: a mildly non-linear loudspeaker
A3 = 0.04
NOISE_DBFS = -90.0


def scratch(name):
    folder = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "analyze_sweep", name)
    os.makedirs(folder, exist_ok=True)
    return folder


class SweepRoundTrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        folder = scratch("round_trip")
        cls.sweep_path = os.path.join(folder, "played.wav")
        _, out, _ = run_linetune("sweep", cls.sweep_path, "--sample-rate", SAMPLE_RATE_HZ, "--duration-s", 3,
                                 "--silence-s", 1, "--level-dbfs", LEVEL_DBFS, "--json", check_exit=0)
        cls.sweep_info = json.loads(out)
        rate, played = wavfile.read(cls.sweep_path)
        assert rate == SAMPLE_RATE_HZ and played.dtype == np.float32

        x = played.astype(np.float64)
        distorted = x + A2 * x ** 2 + A3 * x ** 3
        impulse_response = np.zeros(REFLECTION_SAMPLES + 1)
        impulse_response[DELAY_SAMPLES] = 1.0
        impulse_response[REFLECTION_SAMPLES] = -0.1
        recording = np.convolve(distorted, impulse_response)[: len(x)]
        rng = np.random.default_rng(20261204)
        recording += rng.normal(0.0, 10 ** (NOISE_DBFS / 20), len(recording))
        cls.recording_path = os.path.join(folder, "recorded.wav")
        wavfile.write(cls.recording_path, SAMPLE_RATE_HZ, recording.astype(np.float32))

        document = analyze_json("--sweep", cls.sweep_path, "--distortion", "--smoothing", "1/3", cls.recording_path)
        cls.entry = document["files"][0]
        cls.channel = cls.entry["channels"][0]

    def test_sweep_parameters_are_synchronized(self):
        rate_s = self.sweep_info["sweep_rate_s"]
        # f1·L is a whole number of cycles, and harmonic n precedes by L·ln n.
        self.assertAlmostEqual(20.0 * rate_s, round(20.0 * rate_s), places=9)
        self.assertAlmostEqual(self.sweep_info["harmonic_advance_ms"][0], 1000 * rate_s * np.log(2), places=6)

    def test_direct_sound_recovered(self):
        self.assertEqual(self.channel["flags"], [])
        # 0.05 samples: the same tolerance as the fractional-delay unit test.
        self.assertAlmostEqual(self.channel["arrival_ms"], 1000 * DELAY_SAMPLES / SAMPLE_RATE_HZ,
                               delta=1000 * 0.05 / SAMPLE_RATE_HZ)
        self.assertEqual(self.channel["polarity"], 1)
        self.assertEqual(self.channel["peak_sample"], DELAY_SAMPLES)

    def test_response_is_the_known_system(self):
        response = self.channel["response"]
        freq_hz = np.array(response["freq_hz"])
        magnitude_db = np.array(response["magnitude_db"], dtype=float)
        band = (freq_hz >= 100) & (freq_hz <= 10000)
        # The deconvolution divides by the played sweep, so an identity system reads 0 dB. The cubic term adds 3·A3·A²/4 to the fundamental; the reflection adds ±0.9 dB ripple that 1/3-octave smoothing averages.
        # ±0.9 dB ripple averaged by 1/3-octave smoothing.
        amplitude = 10 ** (LEVEL_DBFS / 20)
        expected_db = 20 * np.log10(1 + 0.75 * A3 * amplitude ** 2)
        self.assertLess(np.max(np.abs(magnitude_db[band] - expected_db)), 1.0)

    def test_harmonics_where_theory_puts_them(self):
        distortion = self.channel["distortion"]
        freq_hz = np.array(distortion["freq_hz"])
        amplitude = 10 ** (LEVEL_DBFS / 20)
        fundamental = 1 + 0.75 * A3 * amplitude ** 2
        # x² = A²(1 − cos 2φ)/2 and x³ = A³(3 sin φ − sin 3φ)/4, relative to the fundamental.
        expected_h2 = 100 * (A2 * amplitude / 2) / fundamental
        expected_h3 = 100 * (A3 * amplitude ** 2 / 4) / fundamental
        mid = (freq_hz >= 200) & (freq_hz <= 2000)
        h2 = np.array(distortion["h2_percent"], dtype=float)[mid]
        h3 = np.array(distortion["h3_percent"], dtype=float)[mid]
        # 10 %: the harmonic windows also catch the reflection and noise.
        self.assertLess(np.max(np.abs(h2 / expected_h2 - 1)), 0.1)
        self.assertLess(np.max(np.abs(h3 / expected_h3 - 1)), 0.1)
        thd = np.array(distortion["thd_percent"], dtype=float)[mid]
        self.assertTrue(np.all(thd >= h2 * 0.999))

    def test_sample_rate_mismatch_is_rejected(self):
        folder = scratch("mismatch")
        path = os.path.join(folder, "recorded_44k.wav")
        wavfile.write(path, 44100, np.zeros(44100 * 5, dtype=np.float32))
        code, out, err = run_linetune("analyze", "--sweep", self.sweep_path, path)
        self.assertEqual(code, 1)
        self.assertIn("the recording is at 44100 Hz but the sweep at 48000 Hz; record at the sweep's sample rate", err)


if __name__ == "__main__":
    main()
