"""The live display of `linetune measure` (a progress bar per pass and each input's peak level)
through a real JACK server and PortAudio's JACK host API.

Under a pseudo-terminal with TERM=xterm the output must show the bar ("[###---] 0.6 / 1.5 s") and
a peak line per mic in dBFS; with standard output on a pipe, or under a pseudo-terminal with
TERM=dumb, it must hold neither the bar nor any terminal control sequence, so that logs stay clean.

One jackd (dummy backend, a server name starting lp5-) and one virtual venue serve the three runs.
Both are stopped by process id, and the server's shared-memory files are removed. Sweeps are 1 s.
"""

import json
import os
import pty
import re
import select
import subprocess
import tempfile
import time
import unittest

import cli_support
import jack_support
from jack_support import JackServer, builtin_venue, raise_priority, require_tools, stop

ZONE = "L-mid"
MICS = ["near-left", "mid-centre", "mid-left"]  # the built-in mics that hear L-mid
BAR = re.compile(r"\[#*-*\] \d+\.\d / \d+\.\d s")
RUN_TIMEOUT_S = 120.0


def run_on_terminal(args, env):
    """Runs args with standard output on a new pseudo-terminal; returns (exit code, output, stderr)."""
    main_fd, terminal_fd = pty.openpty()
    process = subprocess.Popen(args, stdout=terminal_fd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=env, preexec_fn=raise_priority)
    os.close(terminal_fd)
    output = b""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main_fd, 65536)
                except OSError:  # EIO: the program closed the terminal
                    chunk = b""
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        else:
            raise AssertionError(f"linetune measure ran past {RUN_TIMEOUT_S:.0f} s")
    finally:
        os.close(main_fd)
        if process.poll() is None:
            stop(process)
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    return process.wait(), output.decode(errors="replace"), stderr


class LiveDisplayThroughJack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="lp5-live-")
        cls.server = None
        cls.venue_process = None
        try:
            require_tools()
            venue = builtin_venue([ZONE], MICS)
            cls.venue_path = os.path.join(cls.folder, "venue.json")
            with open(cls.venue_path, "w") as file:
                json.dump(venue, file, indent=2)
            cls.server = JackServer(cls.folder, 48000, name_prefix="lp5-live")
            cls.venue_process = jack_support.start_virtual_venue(
                cls.venue_path, cls.server, os.path.join(cls.folder, "virtual-venue.log"))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        jack_support.release_rig(cls)

    def measure_args(self, session_name):
        return [cli_support.linetune_exe(), "measure", self.venue_path, "--host-api", "JACK", "--sweep-s", "1",
                "--tail-s", "0.5", "--level-dbfs", "-12", "--out", os.path.join(self.folder, session_name)]

    def test_terminal_shows_progress_bar_and_peak_per_mic(self):
        env = dict(self.server.env, TERM="xterm")
        env.pop("NO_COLOR", None)
        code, output, stderr = run_on_terminal(self.measure_args("terminal"), env)
        self.assertEqual(code, 0, f"output:\n{output}\nstderr:\n{stderr}")
        bars = BAR.findall(output)
        print(f"{len(bars)} bar redraws, the last '{bars[-1] if bars else None}'")
        self.assertGreaterEqual(len(bars), 2, f"no progress bar redrawn on the terminal:\n{output}")
        self.assertIn("\x1b[J", output, "the display is not erased before the next message")
        for mic in MICS:
            levels = [float(level) for level in re.findall(re.escape(mic) + r": (-?\d+\.\d) dBFS peak", output)]
            self.assertTrue(levels, f"no peak line for mic '{mic}':\n{output}")
            # The virtual venue's mics hear the -12 dBFS sweep well above the noise and below full scale.
            print(f"mic '{mic}': loudest peak shown {max(levels):.1f} dBFS")
            self.assertGreater(max(levels), -60.0)
            self.assertLess(max(levels), 0.0)
        self.assertIn("recording saved", output)

    def test_pipe_output_has_no_bar(self):
        result = subprocess.run(self.measure_args("pipe"), capture_output=True, text=True,
                                env=dict(self.server.env, TERM="xterm"), stdin=subprocess.DEVNULL,
                                timeout=RUN_TIMEOUT_S, preexec_fn=raise_priority)
        self.assertEqual(result.returncode, 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        self.assertIn("recording saved", result.stdout)
        self.assertIsNone(BAR.search(result.stdout), result.stdout)
        self.assertNotIn("dBFS peak", result.stdout)
        self.assertNotIn("\x1b", result.stdout)

    def test_dumb_terminal_has_no_bar(self):
        code, output, stderr = run_on_terminal(self.measure_args("dumb"), dict(self.server.env, TERM="dumb"))
        self.assertEqual(code, 0, f"output:\n{output}\nstderr:\n{stderr}")
        self.assertIn("recording saved", output)
        self.assertIsNone(BAR.search(output), output)
        self.assertNotIn("\x1b", output)


if __name__ == "__main__":
    unittest.main()
