#!/usr/bin/python3
"""`linetune tune` and `linetune run --dry-run` on stored measurements: limits, residuals, written
files, re-tuning with the applied setting, and broken inputs.

Independent checks use the Audio EQ Cookbook biquads (R. Bristow-Johnson) computed here with
numpy/scipy, not the program's own filter code."""

import csv
import glob
import io
import json
import math
import os
import shutil
import unittest

import numpy as np
import scipy.io.wavfile
import scipy.signal

import cli_support
from cli_support import load_json, main, rbj_coefficients, read_channel_1, require_shared_data, run_linetune, write_json

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VENUES = os.path.join(ROOT, "tests", "data", "venues")
WAREHOUSE = os.path.join(VENUES, "warehouse.json")
CAR = os.path.join(VENUES, "passat-b8-front.json")
HARDWARE = os.path.join(ROOT, "hardware")
WAREHOUSE_WAVS = os.path.join(ROOT, "docs", "examples", "warehouse")

MAX_BOOST_DB = 6.0           # warehouse: amplifier limit eq.gain_db.max 6 dB and the mains' default boost cap
TARGET_RMS_DB = 1.0          # residual RMS after tuning, over the correctable points
SINGLE_POSITION_MAX_BANDS = 10
OUT_OF_BAND_BOOST_DB = 0.1   # largest EQ rise allowed outside a zone's fit band
RETUNE_AFTER_TOLERANCE_DB = 0.3
RETUNE_GAIN_TOLERANCE_DB = 0.1
STEP_TOLERANCE = 1e-6        # relative slack when checking a value is a whole number of steps


def scratch(*parts):
    """Return a path under this test's scratch folder, creating its parent folder."""
    path = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "tune", *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def fresh_scratch_dir(*parts):
    return cli_support.fresh_scratch_dir("tune", *parts)


def tune_json(venue_path, *options):
    """Run `linetune tune --json VENUE OPTIONS` (exit 0 required) and parse the document."""
    _, out, _ = run_linetune("tune", "--json", venue_path, *options, check_exit=0)
    return json.loads(out)


def amplifier_limits(venue_path, amplifier_name):
    """Return the effective EQ band limit, boost limit and steps: the profile narrowed by the venue's limits."""
    venue = load_json(venue_path)
    amplifier = next(a for a in venue["amplifiers"] if a["name"] == amplifier_name)
    profile = load_json(os.path.join(HARDWARE, amplifier["profile"] + ".json"))
    eq_limits = amplifier.get("limits", {}).get("eq", {})
    return {
        "max_bands": min(profile["eq"]["max_bands"], eq_limits.get("max_bands", profile["eq"]["max_bands"])),
        "max_gain_db": min(profile["eq"]["gain_db"]["max"], eq_limits.get("gain_db", {}).get("max", math.inf)),
        "sample_rate_hz": profile["sample_rate_hz"],
        "gain_step_db": profile["eq"]["gain_db"]["step"],
        "q_step": profile["eq"]["q"]["step"],
        "freq_step_hz": profile["eq"]["freq_hz"]["step"],
        "delay_step_ms": profile["delay_ms"]["step"],
        "output_gain_step_db": profile["gain_db"]["step"],
    }


def curve(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def predicted(zone):
    """Return (freq_hz, before_db, after_db, target_db) of a zone in a corrections document."""
    curves = zone["predicted"]
    return (np.array(curves["freq_hz"]), curve(curves["before_db"]), curve(curves["after_db"]),
            curve(curves["target_db"]))


def bands_db(bands, freq_hz, rate_hz):
    """Return the summed magnitude of the bands at freq_hz (below Nyquist), in dB."""
    total = np.zeros(len(freq_hz))
    for band in bands:
        b, a = rbj_coefficients(band, rate_hz)
        _, h = scipy.signal.freqz(b, a, worN=np.asarray(freq_hz, dtype=float), fs=rate_hz)
        total += 20.0 * np.log10(np.abs(h))
    return total


def is_whole_steps(value, step):
    if step <= 0:
        return True
    steps = value / step
    return abs(steps - round(steps)) <= STEP_TOLERANCE * max(1.0, abs(steps))


def warehouse_venue_with_absolute_paths():
    """Return warehouse.json with its measurement map rewritten to absolute paths."""
    venue = load_json(WAREHOUSE)
    for zone, entries in venue["measurements"].items():
        for mic, entry in entries.items():
            path, _, channel = entry.partition("#")
            absolute = os.path.normpath(os.path.join(VENUES, path))
            entries[mic] = absolute + ("#" + channel if channel else "")
    return venue


class WarehouseTune(unittest.TestCase):
    """The warehouse venue: one zone judged by five positions."""

    @classmethod
    def setUpClass(cls):
        folder = fresh_scratch_dir("warehouse")
        cls.out_path = os.path.join(folder, "corrections.json")
        cls.csv_path = os.path.join(folder, "corrections.csv")
        cls.code, out, cls.err = run_linetune("tune", "--json", WAREHOUSE, "--out", cls.out_path, "--csv", cls.csv_path)
        cls.document = json.loads(out) if cls.code == 0 else None
        cls.limits = amplifier_limits(WAREHOUSE, "amp-1")

    def setUp(self):
        self.assertEqual(self.code, 0, self.err)

    def zone(self):
        return self.document["zones"][0]

    def test_one_zone_main_is_tuned(self):
        self.assertEqual([z["zone"] for z in self.document["zones"]], ["main"])

    def test_band_count_within_the_amplifier_limit(self):
        self.assertGreater(len(self.zone()["bands"]), 0)
        self.assertLessEqual(len(self.zone()["bands"]), self.limits["max_bands"])

    def test_no_band_boosts_more_than_6_db(self):
        self.assertLessEqual(self.limits["max_gain_db"], MAX_BOOST_DB)
        for band in self.zone()["bands"]:
            self.assertLessEqual(band["gain_db"], MAX_BOOST_DB + 1e-9, band)

    def test_residual_rms_within_target(self):
        residual = self.zone()["residual"]
        print(f"\nwarehouse main: RMS before {residual['rms_before_db']:.2f} dB, after {residual['rms_after_db']:.2f} dB "
              f"(correctable points); {len(self.zone()['bands'])} bands")
        for mic in self.zone()["mics"]:
            print(f"  mic {mic['mic']}: full band RMS {mic['rms_before_db']:.2f} -> {mic['rms_after_db']:.2f} dB")
        self.assertLessEqual(residual["rms_after_db"], TARGET_RMS_DB)
        self.assertLess(residual["rms_after_db"], residual["rms_before_db"])

    def test_predicted_after_is_before_plus_the_cookbook_bands(self):
        # The 'after' curve must equal 'before' + the bands (RBJ at the profile's rate) + the gain.
        freq, before, after, _ = predicted(self.zone())
        usable = np.isfinite(before) & np.isfinite(after) & (freq < self.limits["sample_rate_hz"] / 2)
        expected = before[usable] + bands_db(self.zone()["bands"], freq[usable], self.limits["sample_rate_hz"]) \
            + self.zone()["gain_db"]
        self.assertLess(np.max(np.abs(after[usable] - expected)), 0.01)

    def test_out_file_is_the_printed_document(self):
        written = load_json(self.out_path)
        self.assertEqual(written["format"], "linetune corrections")
        self.assertEqual(written["zones"], self.document["zones"])

    def test_csv_rows_on_device_steps(self):
        with open(self.csv_path, newline="") as handle:
            text = handle.read()
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], ["zone", "amplifier", "channel", "setting", "type", "freq_hz", "gain_db", "q", "delay_ms"])
        body = [dict(zip(rows[0], row)) for row in rows[1:]]
        self.assertTrue(all(len(row) == 9 for row in rows), rows)
        settings = [row["setting"] for row in body]
        self.assertIn("delay", settings)
        self.assertIn("gain", settings)
        band_rows = [row for row in body if row["setting"].startswith("band ")]
        self.assertEqual(len(band_rows), len(self.zone()["bands"]))
        for row in body:
            self.assertEqual((row["zone"], row["amplifier"], row["channel"]), ("main", "amp-1", "1"))
            if row["setting"] == "delay":
                self.assertTrue(is_whole_steps(float(row["delay_ms"]), self.limits["delay_step_ms"]), row)
            elif row["setting"] == "gain":
                self.assertTrue(is_whole_steps(float(row["gain_db"]), self.limits["output_gain_step_db"]), row)
            else:
                self.assertTrue(is_whole_steps(float(row["gain_db"]), self.limits["gain_step_db"]), row)
                self.assertTrue(is_whole_steps(float(row["q"]), self.limits["q_step"]), row)
                self.assertTrue(is_whole_steps(float(row["freq_hz"]), self.limits["freq_step_hz"]), row)
        for row, band in zip(band_rows, self.zone()["bands"]):
            self.assertEqual(row["type"], band["type"])
            self.assertAlmostEqual(float(row["freq_hz"]), band["freq_hz"], delta=0.05)
            self.assertAlmostEqual(float(row["gain_db"]), band["gain_db"], delta=0.005)
            self.assertAlmostEqual(float(row["q"]), band["q"], delta=0.0005)


class SinglePositions(unittest.TestCase):
    """Each warehouse position tuned on its own, as a venue with one microphone."""

    def test_each_position_alone_reaches_the_target(self):
        base = warehouse_venue_with_absolute_paths()
        folder = fresh_scratch_dir("single")
        limits = amplifier_limits(WAREHOUSE, "amp-1")
        failures = []
        for mic in base["microphones"]:
            venue = dict(base)
            venue["name"] = f"warehouse {mic['name']}"
            venue["microphones"] = [dict(mic, zones={"main": 1.0})]
            venue["measurements"] = {"main": {mic["name"]: base["measurements"]["main"][mic["name"]]}}
            path = write_json(os.path.join(folder, mic["name"] + ".json"), venue)
            zone = tune_json(path)["zones"][0]
            residual = zone["residual"]
            full = zone["mics"][0]
            boost = max(b["gain_db"] for b in zone["bands"])
            print(f"\n{mic['name']}: {len(zone['bands'])} bands, largest boost {boost:+.1f} dB, correctable RMS "
                  f"{residual['rms_before_db']:.2f} -> {residual['rms_after_db']:.2f} dB, full band RMS "
                  f"{full['rms_before_db']:.2f} -> {full['rms_after_db']:.2f} dB, max "
                  f"{full['max_before_db']:.2f} -> {full['max_after_db']:.2f} dB")
            with self.subTest(mic=mic["name"]):
                self.assertLessEqual(len(zone["bands"]), min(SINGLE_POSITION_MAX_BANDS, limits["max_bands"]))
                self.assertLessEqual(boost, MAX_BOOST_DB + 1e-9)
                if residual["rms_after_db"] > TARGET_RMS_DB:
                    failures.append(mic["name"])
                self.assertLessEqual(residual["rms_after_db"], TARGET_RMS_DB)
        print(f"positions above {TARGET_RMS_DB} dB RMS: {failures or 'none'}")


class CarTune(unittest.TestCase):
    """The VW Passat B8 front stage: eight zones, one RTA curve each (shared data)."""

    document = None

    def setUp(self):
        require_shared_data(self)
        if CarTune.document is None:
            CarTune.document = tune_json(CAR)
        self.venue = load_json(CAR)

    def fit_band(self, zone_name):
        return next(z["fit_band_hz"] for z in self.venue["zones"] if z["name"] == zone_name)

    def test_gains_cut_only(self):
        # The car's levels alone call for up to +9 dB on some drivers. Every gain is lowered so the
        # highest sits at 0 dB, and a note gives the reduction.
        gains = [zone["gain_db"] for zone in self.document["zones"]]
        self.assertLessEqual(max(gains), 1e-9)
        self.assertGreaterEqual(max(gains), -0.1)
        self.assertTrue(any("no gain lies above 0 dB" in note for note in self.document["notes"]),
                        self.document["notes"])

    def test_every_zone_within_1_db_rms(self):
        zones = self.document["zones"]
        self.assertEqual(len(zones), 8)
        for zone in zones:
            residual = zone["residual"]
            print(f"\ncar {zone['zone']}: {len(zone['bands'])} bands, gain {zone['gain_db']:+.1f} dB, RMS "
                  f"{residual['rms_before_db']:.2f} -> {residual['rms_after_db']:.2f} dB")
            with self.subTest(zone=zone["zone"]):
                self.assertLessEqual(residual["rms_after_db"], TARGET_RMS_DB)

    def test_no_boost_outside_the_fit_band(self):
        # after − before − channel gain is the EQ alone; outside the band, within the measured
        # range, it must not rise more than 0.1 dB.
        for zone in self.document["zones"]:
            low_hz, high_hz = self.fit_band(zone["zone"])
            freq, before, after, _ = predicted(zone)
            outside = np.isfinite(before) & np.isfinite(after) & ((freq < low_hz) | (freq > high_hz))
            eq_db = after[outside] - before[outside] - zone["gain_db"]
            with self.subTest(zone=zone["zone"]):
                self.assertTrue(outside.any())
                worst = int(np.argmax(eq_db))
                self.assertLessEqual(eq_db[worst], OUT_OF_BAND_BOOST_DB, f"{eq_db[worst]:+.2f} dB at {freq[outside][worst]:.0f} Hz")

    def test_delays_left_at_zero_with_the_timing_reason(self):
        for zone in self.document["zones"]:
            self.assertEqual(zone["delay_ms"], 0.0, zone["zone"])
        notes = list(self.document["notes"]) + [n for z in self.document["zones"] for n in z["notes"]]
        delay_notes = [n for n in notes if "delay" in n.lower()]
        print("\ncar delay notes:", delay_notes)
        self.assertTrue(any(("timing" in n or "time base" in n or "arrival time" in n) for n in delay_notes),
                        f"no note says the frequency-response files carry no timing: {delay_notes}")


class Retune(unittest.TestCase):
    """Measurements taken with a setting applied, tuned with --applied, give that setting back."""

    @classmethod
    def setUpClass(cls):
        folder = fresh_scratch_dir("retune")
        cls.first_path = os.path.join(folder, "s1.json")
        cls.setting = tune_json(WAREHOUSE, "--out", cls.first_path)["zones"][0]
        base = warehouse_venue_with_absolute_paths()
        cls.fit_band_hz = base["zones"][0]["fit_band_hz"]
        filtered = {}
        for mic, entry in base["measurements"]["main"].items():
            rate_hz, samples = read_channel_1(entry.partition("#")[0])
            for band in cls.setting["bands"]:
                b, a = rbj_coefficients(band, rate_hz)
                samples = scipy.signal.lfilter(b, a, samples)
            samples = samples * 10.0 ** (cls.setting["gain_db"] / 20.0)
            path = os.path.join(folder, mic + ".wav")
            scipy.io.wavfile.write(path, rate_hz, samples.astype(np.float32))
            filtered[mic] = path
        cls.venue_path = write_json(os.path.join(folder, "venue.json"), dict(base, measurements={"main": filtered}))

    def test_tuning_with_applied_reproduces_the_first_setting(self):
        again = tune_json(self.venue_path, "--applied", self.first_path)["zones"][0]
        low_hz, high_hz = self.fit_band_hz
        freq, first_before, first_after, _ = predicted(self.setting)
        freq_again, again_before, again_after, _ = predicted(again)
        self.assertTrue(np.array_equal(freq, freq_again))
        in_band = (freq >= low_hz) & (freq <= high_hz) & np.isfinite(first_after) & np.isfinite(again_after)
        before_difference = np.abs(again_before[in_band] - first_before[in_band])
        difference = np.abs(again_after[in_band] - first_after[in_band])
        worst = int(np.argmax(difference))
        print(f"\nretune with --applied: {len(again['bands'])} bands, gain {again['gain_db']:+.2f} dB (first "
              f"{self.setting['gain_db']:+.2f}), RMS after {again['residual']['rms_after_db']:.2f} dB (first "
              f"{self.setting['residual']['rms_after_db']:.2f}); largest 'before' difference "
              f"{np.max(before_difference):.2f} dB at {freq[in_band][np.argmax(before_difference)]:.0f} Hz, "
              f"largest 'after' difference {difference[worst]:.2f} dB at {freq[in_band][worst]:.0f} Hz")
        self.assertTrue(any("applied while measuring was removed" in n for n in again["notes"]), again["notes"])
        self.assertAlmostEqual(again["gain_db"], self.setting["gain_db"], delta=RETUNE_GAIN_TOLERANCE_DB)
        self.assertLessEqual(difference[worst], RETUNE_AFTER_TOLERANCE_DB,
                             f"'after' differs by {difference[worst]:.2f} dB at {freq[in_band][worst]:.0f} Hz")

    def test_tuning_without_applied_is_nearly_flat(self):
        # The filtered measurements already meet the target, so without --applied the new EQ is
        # only a refinement on top: its summed EQ stays within ±3 dB in band and under 40 % of the
        # first setting's largest excursion (about 8 dB), where stacking a second full
        # correction would repeat it.
        stacked = tune_json(self.venue_path)["zones"][0]
        low_hz, high_hz = self.fit_band_hz
        freq = np.array(self.setting["predicted"]["freq_hz"])
        band_freq = freq[(freq >= low_hz) & (freq <= high_hz)]
        eq_db = bands_db(stacked["bands"], band_freq, amplifier_limits(WAREHOUSE, "amp-1")["sample_rate_hz"])
        first_db = bands_db(self.setting["bands"], band_freq, amplifier_limits(WAREHOUSE, "amp-1")["sample_rate_hz"])
        print(f"\nretune without --applied: {len(stacked['bands'])} bands, summed EQ {eq_db.min():+.2f} to "
              f"{eq_db.max():+.2f} dB in band (first setting {first_db.min():+.2f} to {first_db.max():+.2f}), "
              f"gain {stacked['gain_db']:+.2f} dB")
        self.assertLessEqual(np.max(np.abs(eq_db)), 3.0)
        self.assertLessEqual(np.max(np.abs(eq_db)), 0.4 * np.max(np.abs(first_db)))
        self.assertAlmostEqual(stacked["gain_db"], 0.0, delta=RETUNE_GAIN_TOLERANCE_DB)


class DryRun(unittest.TestCase):
    """`linetune run --dry-run` writes the session folder and sends nothing."""

    def test_dry_run_writes_the_session_folder(self):
        session = fresh_scratch_dir("session")
        code, out, err = run_linetune("run", WAREHOUSE, "--measurements", scratch("unused-measurements"), "--dry-run",
                                      "--session", session)
        self.assertEqual(code, 0, err)
        self.assertIn("nothing was sent", out)
        for name in ("venue.json", "corrections.json", "corrections.csv", "push-plan.json"):
            self.assertTrue(os.path.isfile(os.path.join(session, name)), name)
        # The copy stands alone: its measurement paths are absolute, everything else is unchanged.
        copied, original = load_json(os.path.join(session, "venue.json")), load_json(WAREHOUSE)
        for zone, mics in original["measurements"].items():
            for mic, path in mics.items():
                self.assertTrue(os.path.isabs(copied["measurements"][zone][mic]), path)
                self.assertEqual(copied["measurements"][zone][mic].split("#")[1], path.split("#")[1])
        del copied["measurements"], original["measurements"]
        self.assertEqual(copied, original)
        # ... so the session's venue is tuned from any folder without the original beside it.
        code, _, err = run_linetune("tune", os.path.join(session, "venue.json"), "--measurements",
                                    scratch("unused-measurements"))
        self.assertEqual(code, 0, err)
        plan = load_json(os.path.join(session, "push-plan.json"))
        self.assertIs(plan["dry_run"], True)
        corrections = load_json(os.path.join(session, "corrections.json"))
        self.assertEqual([z["zone"] for z in corrections["zones"]], ["main"])
        self.assertEqual(len(plan["writes"]), 1)
        self.assertEqual(plan["writes"][0]["zone"], "main")
        self.assertEqual(plan["writes"][0]["band_count"], len(corrections["zones"][0]["bands"]))
        with open(os.path.join(session, "corrections.csv")) as handle:
            self.assertTrue(handle.readline().startswith("zone,amplifier,channel,setting,"))

    def test_run_without_dry_run_rejected(self):
        session = scratch("refused-session")
        shutil.rmtree(session, ignore_errors=True)
        code, out, err = run_linetune("run", WAREHOUSE, "--measurements", scratch("unused-measurements"),
                                      "--session", session)
        self.assertEqual(code, 2)
        self.assertTrue(err.startswith("linetune: pushing stored-measurement results from 'run' is not available"), err)
        self.assertIn("--dry-run", err)
        self.assertFalse(os.path.exists(session))


class BadInputs(unittest.TestCase):
    """Bad inputs: a clear error, the documented exit code, and no corrections file."""

    def tune_fails(self, venue_path, expected_code, *options, env=None):
        out_path = scratch("bad", "corrections.json")
        if os.path.exists(out_path):
            os.remove(out_path)
        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            code, out, err = run_linetune("tune", venue_path, "--out", out_path, *options)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        self.assertEqual(code, expected_code, err)
        self.assertFalse(os.path.exists(out_path), "a corrections file was written despite the error")
        self.assertEqual(out, "")
        return err

    def test_missing_measurement_names_zone_mic_and_path(self):
        folder = fresh_scratch_dir("missing")
        venue = load_json(WAREHOUSE)
        del venue["measurements"]
        venue_path = write_json(os.path.join(folder, "venue.json"), venue)
        measurements = os.path.join(folder, "measurements")
        os.makedirs(os.path.join(measurements, "main"))
        for mic in venue["microphones"][:-1]:
            shutil.copy(os.path.join(WAREHOUSE_WAVS, mic["name"] + ".wav"), os.path.join(measurements, "main"))
        err = self.tune_fails(venue_path, 1, "--measurements", measurements)
        self.assertTrue(err.startswith("linetune: "), err)
        self.assertIn("zone 'main'", err)
        self.assertIn("microphone 'omni-35-10'", err)
        self.assertIn(os.path.join(measurements, "main", "omni-35-10"), err)

    def test_two_sample_rates_name_both_files(self):
        folder = fresh_scratch_dir("rates")
        venue = warehouse_venue_with_absolute_paths()
        rate_hz, samples = read_channel_1(os.path.join(WAREHOUSE_WAVS, "omni-15-10.wav"))
        self.assertEqual(rate_hz, 44100)
        resampled = scipy.signal.resample_poly(samples, 160, 147)   # 44.1 kHz to 48 kHz
        odd_path = os.path.join(folder, "omni-15-10-48k.wav")
        scipy.io.wavfile.write(odd_path, 48000, resampled.astype(np.float32))
        venue["measurements"]["main"]["omni-15-10"] = odd_path
        venue_path = write_json(os.path.join(folder, "venue.json"), venue)
        err = self.tune_fails(venue_path, 1)
        self.assertIn(odd_path, err)
        self.assertIn(os.path.join(WAREHOUSE_WAVS, "omni-7-4.wav"), err)
        self.assertIn("48000 Hz", err)
        self.assertIn("44100 Hz", err)

    def test_every_broken_venue_is_a_configuration_error(self):
        broken = sorted(glob.glob(os.path.join(VENUES, "broken-*.json")))
        self.assertGreater(len(broken), 5)
        for path in broken:
            env = {"LINETUNE_HARDWARE_DIR": os.path.join(VENUES, "hardware")} if "profile-without-bands" in path else None
            with self.subTest(venue=os.path.basename(path)):
                err = self.tune_fails(path, 2, env=env)
                self.assertTrue(err.startswith("linetune: venue '"), err)

    def test_corrupt_applied_file_is_a_configuration_error(self):
        applied = scratch("bad", "applied.json")
        with open(applied, "w") as handle:
            handle.write('{"zones": [{"zone": "main", "delay_ms": 0, "gain_db": ')
        err = self.tune_fails(WAREHOUSE, 2, "--applied", applied)
        self.assertIn(applied, err)

    def test_applied_file_missing_gain_rejected(self):
        applied = write_json(scratch("bad", "applied-no-gain.json"),
                             {"venue": "warehouse", "zones": [{"zone": "main", "delay_ms": 0}]})
        err = self.tune_fails(WAREHOUSE, 2, "--applied", applied)
        self.assertIn("gain_db", err)

    def test_applied_file_of_another_venue_rejected(self):
        applied = write_json(scratch("bad", "applied-other-venue.json"),
                             {"venue": "festival", "zones": [{"zone": "main", "delay_ms": 0, "gain_db": 0}]})
        err = self.tune_fails(WAREHOUSE, 2, "--applied", applied)
        self.assertIn("it was made for venue 'festival', not 'warehouse'", err)

    def test_applied_folder_rejected(self):
        err = self.tune_fails(WAREHOUSE, 2, "--applied", scratch("bad"))
        self.assertIn("is a folder, not a file", err)

    def test_out_into_a_missing_folder_writes_nothing(self):
        csv_path = os.path.join(os.path.dirname(scratch("bad", "placeholder")), "missing-folder", "x.csv")
        out_path = scratch("bad", "written-anyway.json")
        if os.path.exists(out_path):
            os.remove(out_path)
        code, _, err = run_linetune("tune", WAREHOUSE, "--out", out_path, "--csv", csv_path)
        self.assertEqual(code, 2, err)
        self.assertIn("does not exist; create it first", err)
        self.assertFalse(os.path.exists(out_path))


class MalformedInputs(unittest.TestCase):
    """Malformed venue and corrections files end with a clear error, never an abort."""

    def test_venue_number_overflow_names_key(self):
        folder = fresh_scratch_dir("overflow")
        with open(WAREHOUSE) as handle:
            text = handle.read()
        venue_path = os.path.join(folder, "venue.json")
        with open(venue_path, "w") as handle:
            handle.write(text.replace("\"max_distance_m\": 40", "\"max_distance_m\": 1e999", 1))
        code, out, err = run_linetune("tune", venue_path)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertIn(venue_path, err)
        self.assertIn("in the value of 'max_distance_m': number overflow", err)

    def test_applied_venue_of_wrong_type_rejected(self):
        applied = write_json(scratch("bad", "applied-venue-number.json"),
                             {"venue": 5, "zones": [{"zone": "main", "delay_ms": 0, "gain_db": 0}]})
        code, _, err = run_linetune("tune", WAREHOUSE, "--applied", applied)
        self.assertEqual(code, 2, err)
        self.assertIn(applied, err)
        self.assertIn('"venue" is missing or not a string', err)


if __name__ == "__main__":
    main()
