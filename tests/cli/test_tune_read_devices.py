#!/usr/bin/python3
"""`linetune tune --read-devices` against tools/virtual_amp over OSC/UDP and over AES70 (OCP.1/TCP)
on 127.0.0.1.

The amplifier is set to a known setting: the warehouse tuning's own bands in the slots linetune
owns, an output gain 4 dB lower, and an enabled vendor band in a slot above the venue's
eq.max_bands. The measurements are
the warehouse recordings filtered here (Audio EQ Cookbook biquads with scipy, not the program's
filter code) by the owned part of that setting, as if they had been measured through it. The vendor
band counts as part of the original recordings, because it stays on the device. Tuning those
measurements with --read-devices must give the first tuning back. An amplifier that does not respond
gives exit code 3 and no corrections file. Every virtual amplifier is stopped by its process id."""

import json
import os
import socket
import unittest

import numpy as np
import scipy.io.wavfile
import scipy.signal

from cli_support import fresh_scratch_dir, load_json, main, rbj_coefficients, read_channel_1, run_linetune, write_json
from virtual_amp_support import VirtualAmp

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WAREHOUSE = os.path.join(ROOT, "tests", "data", "venues", "warehouse.json")

# Same tolerances as re-tuning with --applied (test_tune.py): the predicted 'after' curve of the
# second tuning within 0.3 dB of the first in the fit band, its output gain within 0.1 dB. The
# 'before' curve, the measurements with the read setting removed, within the same 0.3 dB.
AFTER_TOLERANCE_DB = 0.3
GAIN_TOLERANCE_DB = 0.1
# Without --read-devices the 'before' curve keeps the setting, whose largest excursion in band is
# several dB; this much difference shows that the reading, not chance, made the curves agree.
MIN_STACKED_DIFFERENCE_DB = 1.0
# A vendor preset band in the slot above the owned ones: strong enough that removing it by mistake
# would move the 'before' curve by several dB around 2.5 kHz.
VENDOR_BAND = {"enabled": True, "type": "peaking", "freq_hz": 2500.0, "gain_db": 5.0, "q": 2.0}
# The amplifier's output gain differs from the first tuning's by this much, so that the gain read
# from it has an effect to remove.
DEVICE_GAIN_OFFSET_DB = -4.0


def warehouse_venue(profile, owned_bands):
    """warehouse.json with absolute measurement paths, the amplifier on `profile` without a control
    address, and linetune owning `owned_bands` bands of each channel."""
    venue = load_json(WAREHOUSE)
    folder = os.path.dirname(WAREHOUSE)
    for entries in venue["measurements"].values():
        for mic, entry in entries.items():
            path, _, channel = entry.partition("#")
            entries[mic] = os.path.normpath(os.path.join(folder, path)) + ("#" + channel if channel else "")
    amplifier = venue["amplifiers"][0]
    amplifier["profile"] = profile
    amplifier.setdefault("limits", {}).setdefault("eq", {})["max_bands"] = owned_bands
    return venue


def tune_json(venue_path, *options):
    _, out, _ = run_linetune("tune", "--json", venue_path, *options, check_exit=0)
    return json.loads(out)


def curves(zone):
    """Return (freq_hz, before_db, after_db) of a zone in a corrections document."""
    predicted = zone["predicted"]
    as_array = lambda values: np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.array(predicted["freq_hz"]), as_array(predicted["before_db"]), as_array(predicted["after_db"])


def unused_loopback_port(kind):
    """A port on 127.0.0.1 that was free a moment ago and has nothing listening now."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ReadDevicesCase:
    """The test for one profile; the subclasses name the profile and how many bands linetune owns."""

    profile = None
    owned_bands = 0
    device_bands = 0

    @classmethod
    def setUpClass(cls):
        cls.folder = fresh_scratch_dir("tune-read-devices", cls.profile)
        base = warehouse_venue(cls.profile, cls.owned_bands)
        base_path = write_json(os.path.join(cls.folder, "venue-no-address.json"), base)
        cls.first = tune_json(base_path)["zones"][0]
        cls.fit_band_hz = base["zones"][0]["fit_band_hz"]

        state_path = write_json(os.path.join(cls.folder, "initial-state.json"), cls.initial_state(base))
        cls.amp = VirtualAmp(cls.folder, "--profile", cls.profile, "--initial-state", state_path)
        try:
            held = cls.amp.state()[0]
            filtered = cls.measurements_through(held, base["measurements"]["main"])
            venue = dict(base, measurements={"main": filtered})
            venue["amplifiers"] = [dict(base["amplifiers"][0], host="127.0.0.1", port=cls.amp.port)]
            cls.venue_path = write_json(os.path.join(cls.folder, "venue.json"), venue)
            cls.out_path = os.path.join(cls.folder, "corrections.json")
            code, out, cls.err = run_linetune("tune", "--json", cls.venue_path, "--read-devices", "--out", cls.out_path)
            cls.again = json.loads(out) if code == 0 else None
            _, cls.text, _ = run_linetune("tune", cls.venue_path, "--read-devices", check_exit=0)
            cls.stacked = tune_json(cls.venue_path)["zones"][0]
            cls.held = held
            cls.state_after = cls.amp.state()
        finally:
            cls.amp.stop()

    @classmethod
    def initial_state(cls, base):
        """Channel 1 has the first tuning's bands in its owned slots, the vendor band in the device's last
        slot and the first tuning's gain plus DEVICE_GAIN_OFFSET_DB; the other channels are neutral."""
        bands = [dict(band, enabled=True) for band in cls.first["bands"]]
        bands += [{"enabled": False, "type": "peaking", "freq_hz": 1000.0, "gain_db": 0.0, "q": 1.0}
                  for _ in range(cls.device_bands - len(bands) - 1)]
        bands.append(VENDOR_BAND)
        profile = load_json(os.path.join(ROOT, "hardware", cls.profile + ".json"))
        neutral = {"gain_db": 0.0, "delay_ms": 0.0, "mute": False, "polarity_inverted": False,
                   "bands": [{"enabled": False, "type": "peaking", "freq_hz": 1000.0, "gain_db": 0.0, "q": 1.0}
                             for _ in range(cls.device_bands)]}
        first_channel = dict(neutral, gain_db=cls.first["gain_db"] + DEVICE_GAIN_OFFSET_DB, delay_ms=cls.first["delay_ms"],
                             bands=bands)
        return {"channels": [first_channel] + [neutral] * (profile["channels"] - 1)}

    @classmethod
    def measurements_through(cls, held, measurements):
        """Filter each recording by the owned bands and the gain set on the amplifier."""
        filtered = {}
        for mic, entry in measurements.items():
            rate_hz, samples = read_channel_1(entry.partition("#")[0])
            for band in held["bands"][:cls.owned_bands]:
                if band["enabled"]:
                    b, a = rbj_coefficients(band, rate_hz)
                    samples = scipy.signal.lfilter(b, a, samples)
            samples = samples * 10.0 ** (held["gain_db"] / 20.0)
            path = os.path.join(cls.folder, mic + ".wav")
            scipy.io.wavfile.write(path, rate_hz, samples.astype(np.float32))
            filtered[mic] = path
        return filtered

    def in_band(self, freq):
        low_hz, high_hz = self.fit_band_hz
        return (freq >= low_hz) & (freq <= high_hz)

    def test_first_tuning_uses_the_owned_bands(self):
        self.assertGreater(len(self.first["bands"]), 0)
        self.assertLessEqual(len(self.first["bands"]), self.owned_bands)
        self.assertEqual(self.first["delay_ms"], 0.0, "the single warehouse zone is the time reference")

    def test_read_devices_gives_the_first_setting_back(self):
        self.assertIsNotNone(self.again, self.err)
        zone = self.again["zones"][0]
        freq, first_before, first_after = curves(self.first)
        freq_again, again_before, again_after = curves(zone)
        self.assertTrue(np.array_equal(freq, freq_again))
        usable = self.in_band(freq) & np.isfinite(first_after) & np.isfinite(again_after)
        after_difference = np.abs(again_after[usable] - first_after[usable])
        before_difference = np.abs(again_before[usable] - first_before[usable])
        print(f"\n{self.profile}: first {len(self.first['bands'])} bands, gain {self.first['gain_db']:+.2f} dB; "
              f"--read-devices {len(zone['bands'])} bands, gain {zone['gain_db']:+.2f} dB; largest difference "
              f"before {np.max(before_difference):.3f} dB, after {np.max(after_difference):.3f} dB")
        self.assertAlmostEqual(zone["gain_db"], self.first["gain_db"], delta=GAIN_TOLERANCE_DB)
        self.assertLessEqual(np.max(before_difference), AFTER_TOLERANCE_DB)
        self.assertLessEqual(np.max(after_difference), AFTER_TOLERANCE_DB)
        self.assertTrue(any("applied while measuring was removed" in note for note in zone["notes"]), zone["notes"])

    def test_without_read_devices_the_setting_stays_in(self):
        freq, first_before, _ = curves(self.first)
        _, stacked_before, _ = curves(self.stacked)
        usable = self.in_band(freq) & np.isfinite(first_before) & np.isfinite(stacked_before)
        difference = np.max(np.abs(stacked_before[usable] - first_before[usable]))
        print(f"\n{self.profile}: without --read-devices the 'before' curve differs by up to {difference:.2f} dB")
        self.assertGreater(difference, MIN_STACKED_DIFFERENCE_DB)

    def test_reading_is_reported_with_the_vendor_band(self):
        self.assertIsNotNone(self.again, self.err)
        reading = self.again["settings_read_from_devices"]
        self.assertEqual([zone["zone"] for zone in reading["zones"]], ["main"])
        self.assertEqual(len(reading["zones"][0]["bands"]), len(self.first["bands"]))
        self.assertAlmostEqual(reading["zones"][0]["gain_db"], self.held["gain_db"], delta=1e-4)
        self.assertEqual(len(reading["unowned_bands"]), 1)
        vendor = reading["unowned_bands"][0]
        self.assertEqual((vendor["zone"], vendor["channel"], vendor["band"]), ("main", 1, self.device_bands))
        self.assertAlmostEqual(vendor["setting"]["freq_hz"], VENDOR_BAND["freq_hz"], delta=1e-3)
        self.assertAlmostEqual(vendor["setting"]["gain_db"], VENDOR_BAND["gain_db"], delta=1e-4)
        self.assertIn(f"band {self.device_bands} of amplifier 'amp-1' channel 1", self.text)
        self.assertIn("is not one linetune owns", self.text)

    def test_corrections_file_written_and_device_unchanged(self):
        self.assertTrue(os.path.isfile(self.out_path))
        self.assertEqual(self.state_after[0], self.held, "reading the settings changed the amplifier")

    def test_unreachable_amplifier_exits_3_without_file(self):
        venue = load_json(self.venue_path)
        venue["amplifiers"][0]["port"] = unused_loopback_port(self.socket_kind)
        venue_path = write_json(os.path.join(self.folder, "venue-unreachable.json"), venue)
        out_path = os.path.join(self.folder, "unreachable-corrections.json")
        code, _, err = run_linetune("tune", venue_path, "--read-devices", "--out", out_path)
        self.assertEqual(code, 3, err)
        self.assertIn("--read-devices", err)
        self.assertIn("127.0.0.1", err)
        self.assertFalse(os.path.exists(out_path))

    def test_applied_and_read_devices_exclude_each_other(self):
        code, _, err = run_linetune("tune", self.venue_path, "--read-devices", "--applied", self.out_path)
        self.assertEqual(code, 2, err)
        self.assertIn("--applied", err)


class ReadDevicesOverOsc(ReadDevicesCase, unittest.TestCase):
    profile = "virtual-amp"
    owned_bands = 6
    device_bands = 10
    socket_kind = socket.SOCK_DGRAM


class ReadDevicesOverAes70(ReadDevicesCase, unittest.TestCase):
    profile = "aes70-mini-device"
    owned_bands = 3
    device_bands = 4
    socket_kind = socket.SOCK_STREAM


if __name__ == "__main__":
    main()
