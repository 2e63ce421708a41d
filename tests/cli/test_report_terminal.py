#!/usr/bin/python3
"""Terminal plots of `tune`: present, within 80 columns, coloured only on a terminal that takes
colour, and never coloured when NO_COLOR is set."""

import os
import pty
import select
import subprocess
import unittest

from cli_support import linetune_exe, main, run_linetune

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WAREHOUSE_VENUE = os.path.join(ROOT, "docs", "examples", "warehouse", "venue.json")
ESCAPE = "\x1b["


def run_on_terminal(args, environment):
    """Run linetune with stdout on a pseudo-terminal; return (exit code, what it printed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([linetune_exe(), *args], stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
                               env=environment)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 300)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # Linux reports the closed follower side as EIO.
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        code = process.wait(timeout=300)
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def terminal_environment(**changes):
    environment = {key: value for key, value in os.environ.items() if key not in ("NO_COLOR", "TERM")}
    environment.update(changes)
    return environment


class TerminalPlotTest(unittest.TestCase):
    def test_piped_output_has_plot_without_colour(self):
        _, out, _ = run_linetune("tune", WAREHOUSE_VENUE, check_exit=0)
        self.assertIn("zone 'main': spatial average, 1/6 octave, dB", out)
        self.assertIn("predicted after", out)
        self.assertIn("= fit band", out)
        self.assertNotIn(ESCAPE, out)

    def test_plot_fits_80_columns(self):
        _, out, _ = run_linetune("tune", WAREHOUSE_VENUE, check_exit=0)
        start = out.index("spatial average, 1/6 octave")
        plot_lines = out[start:].splitlines()[:14]
        for line in plot_lines:
            self.assertLessEqual(len(line), 80, line)
        # A 10-row plot: each row starts with its dB label.
        self.assertEqual(sum(1 for line in plot_lines if line.rstrip().endswith("|") or " dB|" in line), 10)
        self.assertTrue(any("*" in line for line in plot_lines))
        self.assertTrue(any("o" in line.split("|", 1)[-1] for line in plot_lines if " dB|" in line))

    def test_terminal_gets_colour(self):
        code, out = run_on_terminal(["tune", WAREHOUSE_VENUE], terminal_environment(TERM="xterm-256color"))
        self.assertEqual(code, 0, out)
        self.assertIn(ESCAPE + "31mo", out)
        self.assertIn(ESCAPE + "34m*", out)

    def test_no_color_respected_on_terminal(self):
        code, out = run_on_terminal(["tune", WAREHOUSE_VENUE], terminal_environment(TERM="xterm-256color", NO_COLOR="1"))
        self.assertEqual(code, 0, out)
        self.assertIn("= fit band", out)
        self.assertNotIn(ESCAPE, out)

    def test_empty_no_color_keeps_colour(self):
        code, out = run_on_terminal(["tune", WAREHOUSE_VENUE], terminal_environment(TERM="xterm-256color", NO_COLOR=""))
        self.assertEqual(code, 0, out)
        self.assertIn(ESCAPE + "31m", out)

    def test_dumb_terminal_gets_no_colour(self):
        code, out = run_on_terminal(["tune", WAREHOUSE_VENUE], terminal_environment(TERM="dumb"))
        self.assertEqual(code, 0, out)
        self.assertIn("= fit band", out)
        self.assertNotIn(ESCAPE, out)


if __name__ == "__main__":
    main()
