#!/usr/bin/python3
"""`linetune push` against tools/virtual_amp on 127.0.0.1: the diff and dry run, confirmation,
safety limits, a refused value that is restored, an unreachable amplifier, and a push killed with
SIGKILL half-way and then restored with `push --recover`. Every process is stopped by its pid."""

import json
import os
import pty
import signal
import socket
import subprocess
import time
import unittest

import virtual_amp_support
from cli_support import fresh_scratch_dir, linetune_exe, load_json, main, run_linetune, write_json

VENUE_NAME = "push test venue"
# Tolerance when comparing the amplifier's state with a snapshot: values travel as float32.
FLOAT32_TOLERANCE = 1e-5
# How long the killed-push test waits for each stage before failing.
STAGE_TIMEOUT_S = 60.0


def fresh_dir(name):
    return fresh_scratch_dir("push", name)


def neutral_channel(bands=10):
    """0 dB, 0 ms, unmuted, bands disabled; Q 0.71 because the profile's Q step is 0.01."""
    return {"gain_db": 0.0, "delay_ms": 0.0, "mute": False, "polarity_inverted": False,
            "bands": [{"enabled": False, "type": "peaking", "freq_hz": 1000.0, "gain_db": 0.0, "q": 0.71}
                      for _ in range(bands)]}


def initial_state():
    """8 channels; channels 1 and 2 hold settings of an earlier tuning, channel 2 muted. Every value
    is exact in float32 and on the profile's steps."""
    channels = [neutral_channel() for _ in range(8)]
    channels[0]["gain_db"] = -6.0
    channels[0]["delay_ms"] = 1.5
    channels[0]["bands"][0] = {"enabled": True, "type": "peaking", "freq_hz": 500.0, "gain_db": 3.0, "q": 2.0}
    channels[0]["bands"][3] = {"enabled": True, "type": "high_shelf", "freq_hz": 8000.0, "gain_db": -2.5, "q": 0.75}
    channels[1]["gain_db"] = -2.0
    channels[1]["mute"] = True
    channels[1]["bands"][1] = {"enabled": True, "type": "low_shelf", "freq_hz": 100.0, "gain_db": 2.0, "q": 0.75}
    return {"profile": "virtual-amp", "channels": channels}


def corrections(zones):
    return {"format": "linetune corrections", "format_version": 1, "venue": VENUE_NAME, "zones": zones}


def zone(name, channel, gain_db, delay_ms, bands):
    return {"zone": name, "amplifier": "amp-1", "channel": channel, "gain_db": gain_db, "delay_ms": delay_ms,
            "bands": [{"type": t, "freq_hz": f, "gain_db": g, "q": q} for t, f, g, q in bands]}


def default_corrections():
    return corrections([
        zone("left", 1, -7.5, 2.5, [("peaking", 1000.0, 4.0, 1.4), ("peaking", 120.0, -6.0, 3.0),
                                    ("high_shelf", 6000.0, -3.0, 0.71), ("peaking", 2500.0, -2.0, 4.0)]),
        zone("right", 2, -1.0, 0.0, [("low_shelf", 80.0, 3.0, 0.71), ("peaking", 400.0, -4.5, 2.5),
                                     ("peaking", 3150.0, -3.0, 1.0)]),
    ])


def venue(port, safety=None):
    document = {
        "name": VENUE_NAME,
        "max_distance_m": 40,
        "target": {"type": "flat"},
        "amplifiers": [{"name": "amp-1", "profile": "virtual-amp", "host": "127.0.0.1", "port": port}],
        "zones": [
            {"name": "left", "system": "mains", "amplifier": "amp-1", "channel": 1, "fit_band_hz": [60, 16000]},
            {"name": "right", "system": "mains", "amplifier": "amp-1", "channel": 2, "fit_band_hz": [60, 16000]},
        ],
        "microphones": [{"name": "m1", "input": 1, "zones": {"left": 1, "right": 1}}],
    }
    if safety is not None:
        document["safety"] = safety
    return document


def free_udp_port():
    """A loopback UDP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class VirtualAmp(virtual_amp_support.VirtualAmp):
    """The virtual amplifier of the push tests: profile virtual-amp, started from initial_state()."""

    def __init__(self, folder, *options):
        initial = write_json(os.path.join(folder, "amp-initial.json"), initial_state())
        super().__init__(folder, "--profile", "virtual-amp", "--initial-state", initial, *options)


def assert_channels_equal(test, expected, actual, label):
    """Assert that every parameter of the channels is equal: flags and types exactly, numbers
    within float32 precision."""
    test.assertEqual(len(expected), len(actual), label)
    for index, (want, have) in enumerate(zip(expected, actual), start=1):
        where = f"{label}, channel {index}"
        for key in ("mute", "polarity_inverted"):
            test.assertEqual(want[key], have[key], f"{where}: {key}")
        for key in ("gain_db", "delay_ms"):
            test.assertAlmostEqual(want[key], have[key], delta=FLOAT32_TOLERANCE * max(1.0, abs(want[key])),
                                   msg=f"{where}: {key}")
        for band, (want_band, have_band) in enumerate(zip(want["bands"], have["bands"]), start=1):
            for key in ("enabled", "type"):
                test.assertEqual(want_band[key], have_band[key], f"{where}, band {band}: {key}")
            for key in ("freq_hz", "gain_db", "q"):
                test.assertAlmostEqual(want_band[key], have_band[key],
                                       delta=FLOAT32_TOLERANCE * max(1.0, abs(want_band[key])),
                                       msg=f"{where}, band {band}: {key}")


class PushTest(unittest.TestCase):
    def start_amp(self, name, *options):
        folder = fresh_dir(name)
        amp = VirtualAmp(folder, *options)
        self.addCleanup(amp.stop)
        venue_path = write_json(os.path.join(folder, "venue.json"), venue(amp.port))
        corrections_path = write_json(os.path.join(folder, "corrections.json"), default_corrections())
        return folder, amp, venue_path, corrections_path

    def test_dry_run_sends_nothing(self):
        folder, amp, venue_path, corrections_path = self.start_amp("dry-run")
        before = amp.state()

        _, out, _ = run_linetune("push", corrections_path, "--venue", venue_path, "--dry-run", check_exit=0)

        self.assertIn("zone 'left' on amp-1 channel 1", out)
        self.assertIn("-6.00 -> -7.50 dB", out)
        self.assertIn("peaking 500.0 Hz +3.00 dB Q 2.00 -> peaking 1000.0 Hz +4.00 dB Q 1.40", out)
        self.assertIn("on: the channel stays muted", out)
        self.assertIn("writes in sending order", out)
        self.assertIn("dry run: nothing was sent", out)
        self.assertEqual(amp.state(), before)
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))

    def test_dry_run_without_measurement_files(self):
        folder, amp, venue_path, corrections_path = self.start_amp("dry-run-no-measurements")
        document = load_json(venue_path)
        document["measurements"] = {"left": {"m1": "not-recorded/m1.wav"}}
        venue_path = write_json(os.path.join(folder, "venue-without-recordings.json"), document)

        code, out, err = run_linetune("push", corrections_path, "--venue", venue_path, "--dry-run")

        self.assertEqual(code, 0, err)
        self.assertIn("dry run: nothing was sent", out)
        # The generic scheme carries values as they are: the wire shows the same number.
        self.assertIn("(sent as /ch/1/gain_db ,f -7.5)", out)

    def test_push_with_yes_is_verified(self):
        folder, amp, venue_path, corrections_path = self.start_amp("verified")

        _, out, _ = run_linetune("push", corrections_path, "--venue", venue_path, "--yes", check_exit=0)

        self.assertIn("verified (", out)
        state = amp.state()
        self.assertAlmostEqual(state[0]["gain_db"], -7.5, delta=1e-6)
        self.assertAlmostEqual(state[0]["delay_ms"], 2.5, delta=1e-6)
        self.assertEqual([b["enabled"] for b in state[0]["bands"]], [True] * 4 + [False] * 6)
        self.assertEqual(state[0]["bands"][2]["type"], "high_shelf")
        self.assertTrue(state[1]["mute"], "a channel muted before the push stays muted")
        self.assertAlmostEqual(state[1]["gain_db"], -1.0, delta=1e-6)
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))

    def test_no_terminal_without_yes_rejected(self):
        folder, amp, venue_path, corrections_path = self.start_amp("no-terminal")
        before = amp.state()

        result = subprocess.run([linetune_exe(), "push", corrections_path, "--venue", venue_path],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)

        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("standard input is not a terminal", result.stderr)
        self.assertIn("--yes", result.stderr)
        self.assertEqual(amp.state(), before)

    def test_confirmation_on_a_terminal(self):
        folder, amp, venue_path, corrections_path = self.start_amp("terminal")
        before = amp.state()

        for answer, expected_exit in (("n", 0), ("y", 0)):
            master, slave = pty.openpty()
            try:
                process = subprocess.Popen([linetune_exe(), "push", corrections_path, "--venue", venue_path],
                                           stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                os.write(master, (answer + "\n").encode())
                out, err = process.communicate(timeout=60)
            finally:
                os.close(master)
                os.close(slave)
            self.assertEqual(process.returncode, expected_exit, err)
            self.assertIn("[y/N]", out)
            if answer == "n":
                self.assertIn("push cancelled: nothing was sent", out)
                self.assertEqual(amp.state(), before)
            else:
                self.assertIn("verified", out)
                self.assertAlmostEqual(amp.state()[0]["gain_db"], -7.5, delta=1e-6)

    def test_safety_limits_reject_values(self):
        folder, amp, venue_path, _ = self.start_amp("safety")
        before = amp.state()
        boosted = write_json(os.path.join(folder, "boosted.json"), corrections([
            zone("left", 1, -3.5, 0.0, [("peaking", 1000.0, 8.0, 2.0)]),
            zone("right", 2, 2.0, 200.0, []),
        ]))

        code, _, err = run_linetune("push", boosted, "--venue", venue_path, "--yes")

        self.assertEqual(code, 2, err)
        self.assertIn("rejected, nothing was sent", err)
        self.assertIn("zone 'left': band 1 gain_db +8 dB is above the limit +6 dB per band (safety.max_band_boost_db)",
                      err)
        self.assertIn("zone 'left': EQ sum at 1000 Hz +8 dB", err)
        self.assertIn("zone 'right': delay_ms 200 ms is above the limit 122.55 ms", err)
        self.assertEqual(amp.state(), before)
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))

        # The gain increase is checked against the values read from the amplifier.
        louder = write_json(os.path.join(folder, "louder.json"), corrections([zone("right", 2, 2.0, 0.0, [])]))
        code, _, err = run_linetune("push", louder, "--venue", venue_path, "--yes")
        self.assertEqual(code, 2, err)
        self.assertIn("zone 'right': gain_db +2 dB is +4 dB above the current -2 dB, more than the limit +3 dB", err)
        self.assertEqual(amp.state(), before)

        # The venue file's safety limits replace the defaults.
        wide = write_json(os.path.join(folder, "wide-venue.json"), venue(amp.port, {
            "max_gain_increase_db": 5, "max_band_boost_db": 9, "max_total_boost_db": 9, "delay_margin_ms": 100}))
        run_linetune("push", boosted, "--venue", wide, "--yes", check_exit=0)
        self.assertAlmostEqual(amp.state()[0]["bands"][0]["gain_db"], 8.0, delta=1e-6)

    def test_refused_value_restores_snapshot(self):
        folder, amp, venue_path, corrections_path = self.start_amp("refused", "--refuse", "/ch/1/eq/1/q")
        before = amp.state()

        code, out, err = run_linetune("push", corrections_path, "--venue", venue_path, "--yes")

        self.assertEqual(code, 3, err)
        self.assertIn("stopped:", out)
        self.assertIn("refused", out)
        self.assertIn(": restored", out)
        assert_channels_equal(self, before, amp.state(), "after the restore")
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))

    def test_unreachable_amplifier_fails_early(self):
        folder = fresh_dir("unreachable")
        venue_path = write_json(os.path.join(folder, "venue.json"), venue(free_udp_port()))
        corrections_path = write_json(os.path.join(folder, "corrections.json"), default_corrections())

        code, _, err = run_linetune("push", corrections_path, "--venue", venue_path, "--yes")

        self.assertEqual(code, 3, err)
        self.assertIn("amp-1", err)
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))

    def test_existing_journal_blocks_push(self):
        folder, amp, venue_path, corrections_path = self.start_amp("blocked")
        before = amp.state()
        write_json(os.path.join(folder, "push-journal.json"), {})

        code, _, err = run_linetune("push", corrections_path, "--venue", venue_path, "--yes")

        self.assertEqual(code, 2, err)
        self.assertIn("linetune push --recover", err)
        self.assertEqual(amp.state(), before)

    def test_killed_push_restored_by_recover(self):
        # Each reply takes 40 ms, so the writes of the push last about 2 s: long enough to kill it
        # between two of them.
        folder, amp, venue_path, corrections_path = self.start_amp("killed", "--slow-ms", "40")
        journal = os.path.join(folder, "push-journal.json")
        before = amp.state()

        push = subprocess.Popen([linetune_exe(), "push", corrections_path, "--venue", venue_path, "--yes"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + STAGE_TIMEOUT_S
            while not (os.path.exists(journal) and amp.state() != before):
                self.assertIsNone(push.poll(), "the push ended before it could be killed")
                self.assertLess(time.monotonic(), deadline, "no change reached the amplifier in time")
                time.sleep(0.01)
            os.kill(push.pid, signal.SIGKILL)
        finally:
            if push.poll() is None:
                os.kill(push.pid, signal.SIGKILL)
            push.wait(timeout=10)
        self.assertEqual(push.returncode, -signal.SIGKILL)
        self.assertTrue(os.path.exists(journal), "the journal must outlive the killed push")
        snapshot = [channel["snapshot"] for channel in load_json(journal)["devices"][0]["channels"]]
        mixed = amp.state()
        self.assertNotEqual(mixed[:2], before[:2])

        code, out, err = run_linetune("push", "--recover", "--venue", venue_path, "--journal", journal, "--yes")

        self.assertEqual(code, 0, err + out)
        self.assertIn("recovery of venue 'push test venue'", out)
        self.assertIn(": restored", out)
        after = amp.state()
        assert_channels_equal(self, snapshot, after[:2], "recovered channels against the journal's snapshot")
        assert_channels_equal(self, before, after, "recovered amplifier against the state before the push")
        self.assertFalse(os.path.exists(journal))

    def test_interrupt_restores_snapshot(self):
        # SIGINT (Ctrl-C) during the writes stops the push, which restores the snapshot itself.
        folder, amp, venue_path, corrections_path = self.start_amp("interrupted", "--slow-ms", "40")
        journal = os.path.join(folder, "push-journal.json")
        before = amp.state()

        push = subprocess.Popen([linetune_exe(), "push", corrections_path, "--venue", venue_path, "--yes"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + STAGE_TIMEOUT_S
            while not (os.path.exists(journal) and amp.state() != before):
                self.assertIsNone(push.poll(), "the push ended before it could be interrupted")
                self.assertLess(time.monotonic(), deadline, "no change reached the amplifier in time")
                time.sleep(0.01)
            push.send_signal(signal.SIGINT)
            out, err = push.communicate(timeout=STAGE_TIMEOUT_S)
        finally:
            if push.poll() is None:
                os.kill(push.pid, signal.SIGKILL)
                push.wait(timeout=10)

        self.assertEqual(push.returncode, 3, err)
        self.assertIn("stopped on request", out)
        self.assertIn(": restored", out)
        assert_channels_equal(self, before, amp.state(), "after the interrupted push")
        self.assertFalse(os.path.exists(journal))

    def test_recover_without_journal_fails(self):
        folder, _, venue_path, _ = self.start_amp("no-journal")

        code, _, err = run_linetune("push", "--recover", "--venue", venue_path, "--journal",
                                    os.path.join(folder, "push-journal.json"))

        self.assertEqual(code, 2, err)
        self.assertIn("not found", err)

    def write_journal(self, folder, venue_path, amp, edit):
        """A journal as a push to amp leaves it, its snapshot of channel 1 changed by edit."""
        _, out, _ = run_linetune("push", write_json(os.path.join(folder, "one-zone.json"), corrections(
            [zone("left", 1, -6.0, 1.5, [])])), "--venue", venue_path, "--dry-run", check_exit=0)
        device = out.split("zone 'left' on amp-1 channel 1")[0].strip().splitlines()[-1].strip()
        snapshot = amp.state()[0]
        edit(snapshot)
        return write_json(os.path.join(folder, "journal.json"), {
            "format": "linetune push journal", "format_version": 1, "venue": VENUE_NAME, "venue_file": venue_path,
            "devices": [{"amplifier": "amp-1", "device": device, "channels": [
                {"zone": "left", "channel": 1, "snapshot_known": True, "snapshot": snapshot,
                 "target": amp.state()[0]}]}]}), device

    def test_recover_dry_run_shows_change_sends_nothing(self):
        folder, amp, venue_path, _ = self.start_amp("recover-dry-run")
        journal, _ = self.write_journal(folder, venue_path, amp, lambda channel: channel.update(gain_db=-9.0))
        before = amp.state()

        code, out, err = run_linetune("push", "--recover", "--venue", venue_path, "--journal", journal, "--dry-run")

        self.assertEqual(code, 0, err + out)
        self.assertIn("zone 'left' on amp-1 channel 1", out)
        self.assertIn("-6.00 -> -9.00 dB", out)
        self.assertIn("dry run: nothing was sent", out)
        self.assertEqual(amp.state(), before)
        self.assertTrue(os.path.exists(journal))

    def test_recover_without_terminal_or_yes_refused(self):
        folder, amp, venue_path, _ = self.start_amp("recover-no-yes")
        journal, _ = self.write_journal(folder, venue_path, amp, lambda channel: channel.update(gain_db=-9.0))
        before = amp.state()

        code, _, err = run_linetune("push", "--recover", "--venue", venue_path, "--journal", journal)

        self.assertEqual(code, 2, err)
        self.assertIn("cannot ask for confirmation; give --yes to restore", err)
        self.assertEqual(amp.state(), before)
        self.assertTrue(os.path.exists(journal))

    def test_recover_rejects_journal_beyond_profile(self):
        folder, amp, venue_path, _ = self.start_amp("recover-loud")

        def loud(channel):
            channel["gain_db"] = 12.0
            channel["bands"] = [{"enabled": True, "type": "peaking", "freq_hz": 1000.0, "gain_db": 15.0 + 1.0,
                                 "q": 1.0} for _ in channel["bands"]]
        journal, _ = self.write_journal(folder, venue_path, amp, loud)
        before = amp.state()

        code, _, err = run_linetune("push", "--recover", "--venue", venue_path, "--journal", journal, "--yes")

        self.assertEqual(code, 2, err)
        self.assertIn("rejected, nothing was sent", err)
        self.assertIn("band 1 gain_db +16 dB", err)
        self.assertIn("safety.max_total_boost_db", err)
        self.assertEqual(amp.state(), before)
        self.assertTrue(os.path.exists(journal))

    def test_recover_restores_gain_rise_beyond_push_limit(self):
        folder, amp, venue_path, _ = self.start_amp("recover-gain-rise")
        # -6 dB now, +4 dB saved: 10 dB above, where a push allows +3 dB.
        journal, _ = self.write_journal(folder, venue_path, amp, lambda channel: channel.update(gain_db=4.0))

        code, out, err = run_linetune("push", "--recover", "--venue", venue_path, "--journal", journal, "--yes")

        self.assertEqual(code, 0, err + out)
        self.assertIn("-6.00 -> +4.00 dB", out)
        self.assertIn(": restored", out)
        self.assertAlmostEqual(amp.state()[0]["gain_db"], 4.0, delta=FLOAT32_TOLERANCE)
        self.assertFalse(os.path.exists(journal))

    def test_folders_as_paths_rejected_clearly(self):
        folder, amp, venue_path, corrections_path = self.start_amp("folders")
        adir = os.path.join(folder, "adir")
        os.makedirs(adir)
        before = amp.state()
        cases = [
            (("push", adir, "--venue", venue_path, "--yes"), "is a folder, not a file"),
            (("push", corrections_path, "--venue", adir, "--yes"), "is a folder, not a file"),
            (("push", corrections_path, "--venue", venue_path, "--journal", adir, "--yes"), "is a folder; give a file"),
            (("push", "--recover", "--venue", venue_path, "--journal", adir, "--yes"), "is a folder; give a file"),
            (("tune", adir), "is a folder, not a file"),
        ]
        for args, expected in cases:
            with self.subTest(args=args):
                code, _, err = run_linetune(*args)
                self.assertEqual(code, 2, err)
                self.assertIn(adir, err)
                self.assertIn(expected, err)
                self.assertNotIn("active while measuring", err)
                self.assertNotIn("earlier push was interrupted", err)
        self.assertEqual(amp.state(), before)

    def test_bad_corrections_json_rejected_with_key(self):
        folder, amp, venue_path, _ = self.start_amp("bad-corrections")
        good = default_corrections()
        bad_band = dict(good["zones"][0], bands=["peaking"])
        type_number = dict(good["zones"][0], bands=[{"type": 3, "freq_hz": 1000, "gain_db": 0, "q": 1}])
        cases = {
            "venue-number": (dict(good, venue=5), '"venue" is missing or not a string'),
            "bands-number": (dict(good, zones=[dict(good["zones"][0], bands=5)]), '"bands" must be a JSON array'),
            "band-string": (dict(good, zones=[bad_band]), "zone 'left', band 1: must be a JSON object"),
            "type-number": (dict(good, zones=[type_number]), "zone 'left', band 1: \"type\" is missing or not"),
            "zone-twice": (dict(good, zones=[good["zones"][0], dict(good["zones"][0], gain_db=-6.0)]),
                           "zone 'left' is listed twice"),
        }
        before = amp.state()
        for name, (document, expected) in cases.items():
            with self.subTest(case=name):
                path = write_json(os.path.join(folder, name + ".json"), document)
                code, _, err = run_linetune("push", path, "--venue", venue_path, "--dry-run")
                self.assertEqual(code, 2, err)
                self.assertIn(path, err)
                self.assertIn(expected, err)
        with self.subTest(case="overflow"):
            path = os.path.join(folder, "overflow.json")
            with open(path, "w") as handle:
                handle.write(json.dumps(good).replace('"gain_db": -7.5', '"gain_db": 1e999'))
            code, _, err = run_linetune("push", path, "--venue", venue_path, "--dry-run")
            self.assertEqual(code, 2, err)
            self.assertIn("in the value of 'gain_db': number overflow", err)
        self.assertEqual(amp.state(), before)

    def test_amplifier_without_host_named(self):
        folder, _, _, corrections_path = self.start_amp("no-host")
        document = venue(0)
        del document["amplifiers"][0]["host"]
        del document["amplifiers"][0]["port"]
        venue_path = write_json(os.path.join(folder, "venue-no-host.json"), document)

        code, _, err = run_linetune("push", corrections_path, "--venue", venue_path, "--dry-run")

        self.assertEqual(code, 2, err)
        self.assertIn("amplifier 'amp-1' has no host/port in the venue file: add them or export the CSV for manual "
                      "entry", err)
        self.assertNotIn("beyond the limits", err)


if __name__ == "__main__":
    main()
