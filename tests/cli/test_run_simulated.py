#!/usr/bin/python3
"""Tests of `linetune run --simulate`, the whole job on the built-in simulated rig and virtual amplifier.

The job takes several seconds, so it runs once for the whole file. Each test checks one result
against the session folder and the summary the job wrote."""

import json
import os
import shutil
import unittest
import warnings

import numpy as np
import scipy.io.wavfile
import scipy.signal

from cli_support import main, rbj_coefficients, run_linetune

# The spatially averaged residual at the microphones (1/6 octave,
# correctable points of each zone's band) falls by at least half and to at most 1.5 dB RMS.
MAX_RESIDUAL_AFTER_DB = 1.5
MIN_REDUCTION = 0.5
# Audience probes no fit saw may not get worse; 0.1 dB is below audibility and above the noise of
# the prediction's 1/6-octave grid.
PROBE_TOLERANCE_DB = 0.1
# With this seed two of the fitter's boosts sum to a peak between its regular check points, so the
# run also checks that the fitter keeps the push's summed-boost limit there.
SEED = 0
# The push's limits (docs/pushing.md): a band's boost and the bands' sum at any frequency.
MAX_TOTAL_BOOST_DB = 6.0
# Re-tuning from a measurement taken with the corrections applied: delays between systems within
# two samples at 48 kHz, and each zone's level on the target curve against the mains' mean within
# 0.2 dB. The gains alone may move more, because each gain takes off the broadband level of its
# zone's EQ. Two fits of nearly the same data can reach equal residuals at broadband levels up to
# 2 dB apart (the subs, the delay tower), and the gain follows.
RETUNE_DELAY_TOLERANCE_MS = 0.05
RETUNE_LEVEL_TOLERANCE_DB = 0.2
# The subs' level on the target curve against the mains' mean, after EQ and gain. The gain takes
# off what the EQ adds to the zone's level, so only the gain step (0.1 dB) and the clamp to the
# amplifier's range are left: measured 0.02 dB. Gains from the responses before EQ alone left the
# subs 2 to 2.6 dB above their offset, and the old power-mean level put them 25 dB below it.
SUBS_LEVEL_TOLERANCE_DB = 0.2

# Inverted subs get the delay of correctly wired ones (the alignment assumes the fault is fixed),
# to the tolerance the alignment recovers a known delay with.
INVERTED_OFFSET_TOLERANCE_MS = 0.1


def levels_on_target(venue, corrections):
    """Each zone's median deviation from the target over its band, after EQ and gain, as predicted."""
    target = venue["target"]
    zones = {zone["name"]: zone for zone in venue["zones"]}
    levels = {}
    for zone in corrections["zones"]:
        low_hz, high_hz = zones[zone["zone"]]["fit_band_hz"]
        freq_hz = np.array(zone["predicted"]["freq_hz"])
        after_db = np.array(zone["predicted"]["after_db"])
        target_db = target["tilt_db_per_octave"] * np.log2(freq_hz / target["pivot_hz"])
        in_band = (freq_hz >= low_hz) & (freq_hz <= high_hz)
        levels[zone["zone"]] = float(np.median((after_db - target_db)[in_band]))
    return levels


def levels_from_mains(venue, corrections):
    """levels_on_target less the mains zones' mean."""
    levels = levels_on_target(venue, corrections)
    mains_db = np.mean([levels[zone["name"]] for zone in venue["zones"] if zone["system"] == "mains"])
    return {name: level - mains_db for name, level in levels.items()}


def read_json(path):
    with open(path) as file:
        return json.load(file)


def scratch_dir(name):
    path = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "run-simulated", name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


class SimulatedJob(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.session = scratch_dir("session")
        cls.exit_code, cls.stdout, cls.stderr = run_linetune(
            "run", "--simulate", "--yes", "--seed", SEED, "--session", cls.session)
        summary_path = os.path.join(cls.session, "summary.json")
        cls.summary = json.load(open(summary_path)) if os.path.exists(summary_path) else None

    def setUp(self):
        self.assertEqual(self.exit_code, 0, f"run --simulate failed:\n{self.stdout}\n{self.stderr}")
        self.assertIsNotNone(self.summary, "summary.json was not written")

    def test_push_verified(self):
        push = self.summary["push"]
        self.assertTrue(push["succeeded"])
        self.assertEqual([d["outcome"] for d in push["devices"]], ["verified"])
        self.assertGreater(push["devices"][0]["writes_sent"], 0)
        # A committed push leaves no journal behind.
        self.assertFalse(os.path.exists(os.path.join(self.session, "push-journal.json")))

    def test_measured_residual_halves(self):
        for zone in self.summary["zones"]:
            with self.subTest(zone=zone["zone"]):
                before, after = zone["rms_before_db"], zone["rms_after_db"]
                print(f"zone {zone['zone']}: residual {before:.2f} dB before, {after:.2f} dB after "
                      f"(predicted {zone['predicted_rms_after_db']:.2f} dB)")
                self.assertLessEqual(after, MAX_RESIDUAL_AFTER_DB)
                self.assertLessEqual(after, MIN_REDUCTION * before)

    def test_audience_probes_get_no_worse(self):
        self.assertGreater(len(self.summary["probes"]), 0)
        for probe in self.summary["probes"]:
            with self.subTest(probe=probe["probe"], zone=probe["zone"]):
                print(f"probe {probe['probe']} ({probe['zone']}): {probe['rms_before_db']:.2f} dB before, "
                      f"{probe['rms_after_db']:.2f} dB after")
                self.assertLessEqual(probe["rms_after_db"], probe["rms_before_db"] + PROBE_TOLERANCE_DB)

    def test_session_holds_every_step(self):
        for name in ["venue.json", "corrections.json", "corrections.csv", "summary.json"]:
            self.assertTrue(os.path.isfile(os.path.join(self.session, name)), name)
        zones = [zone["zone"] for zone in self.summary["zones"]]
        for folder in [self.session, os.path.join(self.session, "after")]:
            for zone in zones:
                self.assertTrue(os.path.isfile(os.path.join(folder, "measurements", zone, "recording.json")))
                self.assertTrue(os.path.isdir(os.path.join(folder, "impulse-responses", zone)))

    def test_tune_reruns_from_session(self):
        code, out, err = run_linetune("tune", os.path.join(self.session, "venue.json"), "--measurements",
                                      os.path.join(self.session, "impulse-responses"), "--json")
        self.assertEqual(code, 0, err)
        rerun = {zone["zone"]: zone for zone in json.loads(out)["zones"]}
        saved = {zone["zone"]: zone for zone in json.load(open(os.path.join(self.session, "corrections.json")))["zones"]}
        self.assertEqual(set(rerun), set(saved))
        for name, zone in saved.items():
            self.assertAlmostEqual(rerun[name]["delay_ms"], zone["delay_ms"], places=6)
            self.assertAlmostEqual(rerun[name]["gain_db"], zone["gain_db"], places=6)

    def test_retune_gives_absolute_settings(self):
        # The second measurement was taken with the corrections in the amplifier. Removing them
        # (--applied) must give the same absolute settings, not increments on top of them.
        code, out, err = run_linetune(
            "tune", os.path.join(self.session, "venue.json"), "--measurements",
            os.path.join(self.session, "after", "impulse-responses"), "--applied",
            os.path.join(self.session, "corrections.json"), "--json")
        self.assertEqual(code, 0, err)
        retuned = {zone["zone"]: zone for zone in json.loads(out)["zones"]}
        first = {zone["zone"]: zone for zone in json.load(open(os.path.join(self.session, "corrections.json")))["zones"]}
        for name in ["front-fill", "delay-tower"]:
            with self.subTest(zone=name):
                # Against the hang: the subs' onset is too vague at low frequencies to pin the
                # mains to a tenth of a millisecond, the fills and tower against the mains are not.
                first_offset = first[name]["delay_ms"] - first["L-near"]["delay_ms"]
                retuned_offset = retuned[name]["delay_ms"] - retuned["L-near"]["delay_ms"]
                print(f"{name}: {first_offset:.3f} ms after the mains, re-tuned {retuned_offset:.3f} ms")
                self.assertAlmostEqual(retuned_offset, first_offset, delta=RETUNE_DELAY_TOLERANCE_MS)
        venue = read_json(os.path.join(self.session, "venue.json"))
        first_levels = levels_from_mains(venue, read_json(os.path.join(self.session, "corrections.json")))
        retuned_levels = levels_from_mains(venue, json.loads(out))
        for name, zone in first.items():
            with self.subTest(zone=name):
                print(f"{name}: gain {zone['gain_db']:+.1f} dB, re-tuned {retuned[name]['gain_db']:+.1f} dB; level "
                      f"{first_levels[name]:+.2f} dB from the mains, re-tuned {retuned_levels[name]:+.2f} dB")
                self.assertAlmostEqual(retuned_levels[name], first_levels[name], delta=RETUNE_LEVEL_TOLERANCE_DB)

    def test_summed_eq_within_push_limit(self):
        # Independent RBJ biquads on a 1/96-octave grid, denser than any grid the fitter checks.
        rate_hz = 48000.0
        freq_hz = 20.0 * 2.0 ** (np.arange(0, 10 * 96) / 96.0)
        freq_hz = freq_hz[freq_hz < 0.49 * rate_hz]
        corrections = json.load(open(os.path.join(self.session, "corrections.json")))
        for zone in corrections["zones"]:
            total_db = np.zeros_like(freq_hz)
            for band in zone["bands"]:
                b, a = rbj_coefficients(band, rate_hz)
                _, response = scipy.signal.freqz(b, a, worN=freq_hz, fs=rate_hz)
                total_db += 20.0 * np.log10(np.abs(response))
            with self.subTest(zone=zone["zone"]):
                self.assertLessEqual(total_db.max(), MAX_TOTAL_BOOST_DB + 0.01)

    def test_subs_level_offset_from_mains(self):
        # After EQ and gain, each zone's median deviation from the target over its band is its level
        # on the target curve. The subs must sit at their level_offset_db from the mains' mean there.
        venue = read_json(os.path.join(self.session, "venue.json"))
        levels = levels_from_mains(venue, read_json(os.path.join(self.session, "corrections.json")))
        subs_offset_db = next(zone for zone in venue["zones"] if zone["name"] == "subs").get("level_offset_db", 0.0)
        print(f"subs {levels['subs']:+.2f} dB from the mains on the target curve (offset {subs_offset_db:+.1f} dB)")
        self.assertAlmostEqual(levels["subs"], subs_offset_db, delta=SUBS_LEVEL_TOLERANCE_DB)

    def test_inverted_subs_flagged(self):
        # The session's impulse responses with the subs' negated, as a swapped speaker cable gives
        # them: tune must print the suspected polarity fault and write it to the corrections file,
        # and give the delay for corrected polarity. On this rig correctly wired subs sit 86° from
        # the mains at the crossover once their onsets line up, so inverted ones sit 94° away.
        folder = scratch_dir("inverted-subs")
        shutil.copytree(os.path.join(self.session, "impulse-responses"), os.path.join(folder, "impulse-responses"))
        subs_folder = os.path.join(folder, "impulse-responses", "subs")
        wav_names = [name for name in os.listdir(subs_folder) if name.endswith(".wav")]
        self.assertGreater(len(wav_names), 0)
        with warnings.catch_warnings():
            # scipy warns about the WAV chunks it does not read. Only the samples change.
            warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
            for name in wav_names:
                rate_hz, samples = scipy.io.wavfile.read(os.path.join(subs_folder, name))
                scipy.io.wavfile.write(os.path.join(subs_folder, name), rate_hz, -samples)
        out_path = os.path.join(folder, "corrections.json")
        code, out, err = run_linetune("tune", os.path.join(self.session, "venue.json"), "--measurements",
                                      os.path.join(folder, "impulse-responses"), "--out", out_path)
        self.assertEqual(code, 0, err)
        self.assertIn("polarity fault suspected", out)
        self.assertIn("nearer opposite than equal phase: polarity fault?", out)
        inverted = read_json(out_path)["system"]["crossover"]
        normal = read_json(os.path.join(self.session, "corrections.json"))["system"]["crossover"]
        print(f"crossover offset {normal['offset_ms']:.3f} ms wired right, {inverted['offset_ms']:.3f} ms inverted")
        self.assertTrue(inverted["polarity_fault"])
        self.assertFalse(normal["polarity_fault"])
        self.assertAlmostEqual(inverted["offset_ms"], normal["offset_ms"], delta=INVERTED_OFFSET_TOLERANCE_MS)

    def test_run_prints_time_breakdown(self):
        times = self.summary["times"]
        for key in ["sound_s", "measure_compute_s", "analysis_s", "tuning_s", "push_s", "verify_analysis_s"]:
            self.assertGreaterEqual(times[key], 0.0, key)
        self.assertGreater(times["sound_s"], 0.0)
        self.assertIn("time: sound", self.stdout)


class SimulatedJobArguments(unittest.TestCase):
    def test_simulate_rejects_venue_file(self):
        code, _, err = run_linetune("run", "--simulate", "venue.json", "--session", scratch_dir("refused"))
        self.assertEqual(code, 2)
        self.assertIn("--simulate runs the built-in simulated rig", err)

    def test_no_terminal_no_push(self):
        session = scratch_dir("no-terminal")
        # Results of an earlier run in the same session must not survive beside the new ones.
        os.makedirs(os.path.join(session, "after", "measurements"))
        with open(os.path.join(session, "summary.json"), "w") as stale:
            stale.write('{"push": {"succeeded": true}}')
        code, out, _ = run_linetune("run", "--simulate", "--session", session)
        self.assertEqual(code, 2)
        self.assertIn("not pushed: confirmation needs a terminal", out)
        self.assertFalse(os.path.exists(os.path.join(session, "push-journal.json")))
        self.assertFalse(os.path.exists(os.path.join(session, "after")))
        self.assertFalse(os.path.exists(os.path.join(session, "summary.json")))

    def test_negative_seed_rejected(self):
        code, _, err = run_linetune("run", "--simulate", "--seed", "-1", "--session", scratch_dir("negative-seed"))
        self.assertEqual(code, 2)
        self.assertIn("--seed", err)


if __name__ == "__main__":
    main()
