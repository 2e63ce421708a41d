"""End-to-end test of `linetune run VENUE.json`: the whole job through a real JACK server and
PortAudio's JACK host API, pushing to tools/virtual_amp over OSC on 127.0.0.1.

The test starts its own jackd (dummy backend, server name linetune-run-<pid>-N), tools/virtual_venue
(which convolves PortAudio's outputs with the simulated rig's transfer functions) and
tools/virtual_amp on an ephemeral UDP port. Every process is stopped by its process id. The virtual
venue does not apply the amplifier's settings, so the test checks the job's flow and the push, not
an improvement of the sound.
"""

import json
import os
import subprocess
import tempfile
import unittest

import cli_support
import jack_support
from jack_support import JackServer, builtin_venue, raise_priority, require_tools, stop

# A 1 s sweep has enough energy for impulse responses far above the virtual venue's noise; the
# 0.4 s tail covers its longest path (about 55 ms of travel plus a 0.25 s room tail) and one JACK
# period. Up to five passes per zone ride out a period missed on a loaded machine.
SWEEP_S = "1"
TAIL_S = "0.4"
MAX_PASSES = "5"
ZONES = ["L-mid", "L-near"]
MICS = ["front-left", "near-left", "mid-centre"]

# The amplifier quantizes gain to 0.1 dB steps and delay to 0.02 ms steps (hardware/virtual-amp.json),
# so a value on the amplifier is within half a step of corrections.json; 0.001 more allows for the
# rounding of both files' numbers.
GAIN_TOLERANCE_DB = 0.05 + 0.001
DELAY_TOLERANCE_MS = 0.01 + 0.001


def virtual_amp_exe():
    """Path of tools/virtual_amp, passed by meson in LINETUNE_VIRTUAL_AMP_EXE."""
    return os.environ["LINETUNE_VIRTUAL_AMP_EXE"]


def start_virtual_amp(folder, state_path):
    """Start tools/virtual_amp on an ephemeral port; return (process, port) from its 'port N' line."""
    log_path = os.path.join(folder, "virtual-amp.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen([virtual_amp_exe(), "--profile", "virtual-amp", "--port", "0", "--state-file",
                                    state_path], stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                   text=True)
    line = process.stdout.readline().strip()
    if not line.startswith("port "):
        stop(process)
        with open(log_path) as file:
            raise AssertionError(f"virtual_amp printed {line!r}, not 'port N':\n{file.read()}")
    return process, int(line.split()[1])


class RunVenueThroughJack(unittest.TestCase):
    """One jackd, one virtual venue and one virtual amplifier; the whole job runs once."""

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="linetune-run-jack-")
        cls.server = None
        cls.venue_process = None
        cls.amp_process = None
        try:
            require_tools()
            cls.state_path = os.path.join(cls.folder, "amp-state.json")
            cls.amp_process, cls.amp_port = start_virtual_amp(cls.folder, cls.state_path)
            print(f"virtual_amp on 127.0.0.1 port {cls.amp_port}")
            venue = builtin_venue(ZONES, MICS)
            for amplifier in venue["amplifiers"]:
                amplifier["host"] = "127.0.0.1"
                amplifier["port"] = cls.amp_port
            cls.venue_path = os.path.join(cls.folder, "venue.json")
            with open(cls.venue_path, "w") as file:
                json.dump(venue, file, indent=2)
            cls.server = JackServer(cls.folder, 48000, name_prefix="linetune-run")
            cls.venue_process = jack_support.start_virtual_venue(cls.venue_path, cls.server,
                                                                 os.path.join(cls.folder, "virtual-venue.log"))
            cls.session = os.path.join(cls.folder, "session")
            result = subprocess.run([cli_support.linetune_exe(), "run", cls.venue_path, "--host-api", "JACK", "--yes",
                                     "--sweep-s", SWEEP_S, "--tail-s", TAIL_S, "--max-passes", MAX_PASSES,
                                     "--session", cls.session], capture_output=True, text=True, env=cls.server.env,
                                    stdin=subprocess.DEVNULL, timeout=300, preexec_fn=raise_priority)
            cls.code, cls.out, cls.err = result.returncode, result.stdout, result.stderr
            print(cls.out)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        jack_support.release_rig(cls, ("venue_process", "amp_process"))

    def test_push_outcome_is_verified(self):
        self.assertEqual(self.code, 0, f"stdout:\n{self.out}\nstderr:\n{self.err}")
        with open(os.path.join(self.session, "summary.json")) as file:
            summary = json.load(file)
        self.assertTrue(summary["push"]["succeeded"])
        self.assertEqual([device["outcome"] for device in summary["push"]["devices"]], ["verified"])
        self.assertEqual(sorted(zone["zone"] for zone in summary["zones"]), sorted(ZONES))
        self.assertNotIn("probes", summary)

    def test_amplifier_state_matches_corrections(self):
        self.assertEqual(self.code, 0, f"stdout:\n{self.out}\nstderr:\n{self.err}")
        with open(os.path.join(self.session, "corrections.json")) as file:
            corrections = json.load(file)
        with open(self.state_path) as file:
            channels = json.load(file)["channels"]
        self.assertEqual(len(corrections["zones"]), len(ZONES))
        for zone in corrections["zones"]:
            with self.subTest(zone=zone["zone"]):
                state = channels[zone["channel"] - 1]
                print(f"{zone['zone']}: gain {zone['gain_db']:+.3f} dB pushed, {state['gain_db']:+.3f} dB on the "
                      f"amplifier; delay {zone['delay_ms']:.3f} ms pushed, {state['delay_ms']:.3f} ms on the amplifier")
                self.assertAlmostEqual(state["gain_db"], zone["gain_db"], delta=GAIN_TOLERANCE_DB)
                self.assertAlmostEqual(state["delay_ms"], zone["delay_ms"], delta=DELAY_TOLERANCE_MS)

    def test_session_contains_both_measurements(self):
        self.assertEqual(self.code, 0, f"stdout:\n{self.out}\nstderr:\n{self.err}")
        for part in ("measurements", "impulse-responses", os.path.join("after", "measurements"),
                     os.path.join("after", "impulse-responses")):
            for zone in ZONES:
                self.assertTrue(os.path.isdir(os.path.join(self.session, part, zone)), f"{part}/{zone} missing")
        for mic in MICS:
            self.assertTrue(os.path.exists(os.path.join(self.session, "impulse-responses", ZONES[0], mic + ".wav")))
        self.assertTrue(os.path.exists(os.path.join(self.session, "venue.json")))


if __name__ == "__main__":
    cli_support.main()
