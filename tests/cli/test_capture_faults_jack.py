"""Fault tests of `linetune measure` through a real JACK server and PortAudio's JACK host API.

- Clipping: tools/virtual_venue overloads one mic input (+60 dB, clipped at full scale) part-way
  through the sweep and records what PortAudio's outputs played. The pass must stop with a fade-out
  of at most 10 ms (never a hard cut) and a message naming the input, and save nothing.
- Xrun: the virtual venue stalls its process callback for 1.5 periods on SIGUSR1 while a pass
  plays; the server's xrun must be detected and the pass played again.
- Allocation guard: tests/capture/alloc_guard.cpp, preloaded into linetune, counts heap calls on
  the JACK process thread, which runs linetune's audio callback; there must be none.
- Venue problems come first: they are listed before the interface is looked for (no server needed).

Each class starts its own jackd (dummy backend, a server name starting lt-capture-) and virtual
venue, stops them by process id and removes the server's shared-memory files. Sweeps are 1 s.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import numpy as np

import cli_support
import jack_support
from jack_support import JackServer, builtin_venue, raise_priority, require_tools, stop

try:
    from scipy.io import wavfile
except ImportError:  # checked in require_tools
    wavfile = None

SWEEP_S = "1"
TAIL_S = "0.5"
LEVEL_DBFS = -12.0
ZONE = "L-mid"
MICS = ["near-left", "mid-centre", "mid-left"]  # the built-in mics that hear L-mid, on inputs 2 to 4
OVERLOADED_INPUT = 3  # mid-centre
# The overload starts 0.6 s into the 1 s sweep, where it sweeps past 1 kHz: there a period is under
# 1 ms, so the fade-out's envelope can be read to a millisecond.
OVERLOAD_AFTER_S = "0.6"
MAX_FADE_MS = 10.0  # any stop of a pass fades out within 10 ms


def write_venue(folder):
    venue = builtin_venue([ZONE], MICS)
    path = os.path.join(folder, "venue.json")
    with open(path, "w") as file:
        json.dump(venue, file, indent=2)
    return path, venue


def measure_args(venue_path, session, *extra):
    return [cli_support.linetune_exe(), "measure", venue_path, "--host-api", "JACK", "--sweep-s", SWEEP_S,
            "--tail-s", TAIL_S, "--level-dbfs", str(LEVEL_DBFS), "--out", session, *extra]


def peak(samples):
    return float(np.max(np.abs(samples))) if len(samples) else 0.0


class VenueProblemsBeforeInterface(unittest.TestCase):
    def test_venue_problems_hide_no_interface(self):
        # The warehouse example puts all five mics on input 1; the interface named here does not exist.
        venue = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "examples", "warehouse",
                             "venue.json")
        with tempfile.TemporaryDirectory() as folder:
            result = subprocess.run([cli_support.linetune_exe(), "measure", venue, "--device",
                                     "no-such-interface-lt", "--out", os.path.join(folder, "session")],
                                    capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("share input 1", result.stderr)
            self.assertNotIn("no full-duplex audio interface", result.stderr)
            self.assertFalse(os.path.exists(os.path.join(folder, "session", "measurements")))


class ClippingStopsWithFade(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="lt-capture-clip-")
        self.server = None
        self.venue_process = None
        # Cleanups run even when setUp fails half-way, so no jackd is left behind.
        self.addCleanup(self.clean_up)
        require_tools()
        self.venue_path, self.venue = write_venue(self.folder)
        self.outputs_path = os.path.join(self.folder, "outputs.wav")
        self.server = JackServer(self.folder, 48000, name_prefix="lt-capture-clip")
        self.venue_log = os.path.join(self.folder, "virtual-venue.log")
        self.venue_process = jack_support.start_virtual_venue(
            self.venue_path, self.server, self.venue_log, "--overload-input", str(OVERLOADED_INPUT),
            "--overload-after-s", OVERLOAD_AFTER_S, "--record-outputs", self.outputs_path)

    def clean_up(self):
        if self.venue_process is not None:
            stop(self.venue_process)
        if self.server is not None:
            self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def test_clipping_stops_with_short_fade(self):
        session = os.path.join(self.folder, "session")
        # The overload is a sudden 60 dB jump 0.6 s after the first sound, which no test tone can
        # predict. Without --no-test-tone it would land in the test tone instead of the sweep.
        result = subprocess.run(measure_args(self.venue_path, session, "--no-test-tone"), capture_output=True,
                                text=True,
                                env=self.server.env, stdin=subprocess.DEVNULL, timeout=120,
                                preexec_fn=raise_priority)
        self.assertEqual(result.returncode, 3, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        self.assertIn(f"zone '{ZONE}'", result.stderr)
        self.assertIn(f"input {OVERLOADED_INPUT} reached full scale (clipping)", result.stderr)
        self.assertIn("fade-out", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(session, "measurements", ZONE, "recording.json")))

        # The virtual venue writes what the outputs played when it stops.
        stop(self.venue_process)
        self.venue_process = None
        rate, outputs = wavfile.read(self.outputs_path)
        zone_output = next(zone["output"] for zone in self.venue["zones"] if zone["name"] == ZONE)
        played = np.asarray(outputs[:, zone_output - 1], dtype=np.float64)
        amplitude = 10 ** (LEVEL_DBFS / 20)
        self.assertAlmostEqual(peak(played), amplitude, delta=0.05 * amplitude)
        sounding = np.nonzero(np.abs(played) > 1e-5 * amplitude)[0]
        start, end = sounding[0], sounding[-1] + 1
        played_s = (end - start) / rate
        self.assertLess(played_s, 1.0, "the sweep played to its end instead of stopping")

        # The fade: full level 10 ms before the sound ends, and well below it in the last 0.5 ms.
        ms = rate // 1000
        before_fade = peak(played[end - int(MAX_FADE_MS * ms) - ms:end - int(MAX_FADE_MS * ms)])
        last = peak(played[end - ms // 2:end])
        full_level = np.nonzero(np.abs(played[start:end]) >= 0.95 * amplitude)[0]
        fade_ms = (end - start - full_level[-1]) / ms
        print(f"sweep stopped {played_s:.3f} s after it started; fade from full level to silence {fade_ms:.2f} ms; "
              f"peak 10 ms before the end {before_fade / amplitude:.3f}, in the last 0.5 ms {last / amplitude:.3f} "
              "of the sweep's amplitude")
        self.assertGreater(before_fade, 0.9 * amplitude, "the fade-out took longer than 10 ms")
        self.assertLess(last, 0.25 * amplitude, "the sound stopped with a hard cut, not a fade")
        self.assertLessEqual(fade_ms, MAX_FADE_MS)
        self.assertGreater(fade_ms, 1.0)


class StreamFaultsThroughJack(unittest.TestCase):
    """One jackd and virtual venue for the xrun and allocation-guard tests."""

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="lt-capture-faults-")
        cls.server = None
        cls.venue_process = None
        require_tools()
        cls.venue_path, cls.venue = write_venue(cls.folder)
        cls.server = JackServer(cls.folder, 48000, name_prefix="lt-capture-xrun")
        cls.venue_log = os.path.join(cls.folder, "virtual-venue.log")
        try:
            cls.venue_process = jack_support.start_virtual_venue(cls.venue_path, cls.server, cls.venue_log)
        except AssertionError:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        jack_support.release_rig(cls)

    def test_stalled_client_xrun_repeats_pass(self):
        session = os.path.join(self.folder, "xrun")
        # The stall is timed from the zone's first line, so it must fall into the sweep, not the
        # test tone before it.
        process = subprocess.Popen(measure_args(self.venue_path, session, "--max-passes", "5", "--no-test-tone"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL, env=self.server.env, preexec_fn=raise_priority)
        try:
            lines = []
            for line in process.stdout:
                lines.append(line)
                if line.startswith("measuring zone"):
                    break
            # Mid-sweep: the pass started when the line was printed.
            time.sleep(0.4)
            self.venue_process.send_signal(signal.SIGUSR1)
            out, err = process.communicate(timeout=120)
        finally:
            stop(process)
        out = "".join(lines) + out
        self.assertEqual(process.returncode, 0, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn(f"zone '{ZONE}': ", out)
        self.assertIn("xrun(s), measuring again", out)
        with open(os.path.join(session, "measurements", ZONE, "recording.json")) as file:
            recording = json.load(file)
        self.assertGreaterEqual(recording["passes"], 2)
        self.assertEqual(recording["xrun_count"], 0)
        with open(self.venue_log) as file:
            self.assertIn("stalled the process callback", file.read())
        print(f"xrun detected; the zone was recorded in pass {recording['passes']}")

    def test_callback_thread_never_allocates(self):
        guard = os.environ.get("LINETUNE_ALLOC_GUARD_LIB", "")
        if not guard or not os.path.exists(guard):
            message = "the allocation guard library (tests/capture/alloc_guard.cpp) is not built"
            if os.environ.get("CI") == "true":
                self.fail(message + " (CI=true)")
            self.skipTest(message)
        session = os.path.join(self.folder, "guarded")
        report_path = os.path.join(self.folder, "alloc-guard.txt")
        env = dict(self.server.env, LD_PRELOAD=guard, LINETUNE_ALLOC_GUARD_REPORT=report_path)
        result = subprocess.run(measure_args(self.venue_path, session, "--max-passes", "5"), capture_output=True,
                                text=True, env=env, stdin=subprocess.DEVNULL, timeout=120,
                                preexec_fn=raise_priority)
        self.assertEqual(result.returncode, 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        with open(report_path) as file:
            report = {key: int(value) for key, value in (line.split() for line in file if line.strip())}
        print("allocation guard:", report)
        # The guard works: it saw its own allocation on the process thread and all the others.
        self.assertEqual(report["self_test_detected"], 1)
        self.assertGreater(report["all_allocations"], 1000)
        # The process thread ran the whole pass: 1 s sweep + 0.5 s tail at 48 kHz in 1024-frame
        # periods is over 70 periods, each fetching 8 output and 8 input buffers.
        self.assertGreater(report["process_get_buffer_calls"], 70 * 16)
        self.assertEqual(report["process_allocations"], 0)
        self.assertEqual(report["process_frees"], 0)


if __name__ == "__main__":
    cli_support.main()
