#!/usr/bin/python3
"""tools/virtual_amp over AES70 (OCP.1/TCP) on 127.0.0.1. The device conformance suite of the npm
`aes70` package (AES70.js 1.1.16) passes against it, plainly and through its TCP-fragmenting
proxy. `linetune push` reaches it with an AES70 profile, ends verified and leaves the new values
in the state file, and a refused value makes the push restore the snapshot. The conformance test needs
node and the AES70 peers copied into the build folder (tools/setup.sh does it); without them it
skips, and under CI=true it fails. Every process is stopped by its pid."""

import os
import re
import shutil
import subprocess
import unittest

from cli_support import fresh_scratch_dir, main, run_linetune, write_json
from virtual_amp_support import VirtualAmp, virtual_amp_exe

VENUE_NAME = "aes70 push test venue"
PROFILE = "aes70-mini-device"
# The suite runs 8 tests twice, about 15 s on loopback; the limit leaves room for a loaded machine.
CONFORMANCE_TIMEOUT_S = 300
CONFORMANCE_TESTS = ["CheckTree", "CheckPath", "CheckRoleMap", "PropertyChanges", "Locking", "IdleTime",
                     "RemoteClose", "CustomBlock"]
# Messages the suite prints for struct-valued properties (OcaDelayExtended's DelayValue): it
# compares two equal OcaDelayValue objects with ===, which is false for distinct objects, and still
# reports the test OK. Any other message is a real failure.
STRUCT_COMPARISON_MESSAGES = ("Property Sync value 'DelayValue' is not equal to current: Base {",
                              "Received event for different value change: Base {",
                              "Property 'DelayValue' set to Base {")


def peers_dir():
    """The copied AES70 peers: LINETUNE_AES70_PEERS, else aes70-peers in this build folder, else
    build/aes70-peers of the source tree (where tools/setup.sh puts it)."""
    configured = os.environ.get("LINETUNE_AES70_PEERS")
    if configured:
        return configured
    build_dir = os.path.dirname(os.path.dirname(os.environ["LINETUNE_TEST_SCRATCH_DIR"]))
    this_build = os.path.join(build_dir, "aes70-peers")
    if os.path.isdir(this_build):
        return this_build
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "build", "aes70-peers")


def require_peers(test_case):
    """Skip unless node and the installed peers are present; under CI=true fail instead."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not os.path.isfile(os.path.join(peers_dir(), "node_modules", "aes70", "tests", "device.js")):
        problem = f"the AES70 peers are not installed in {peers_dir()} (run tools/setup.sh)"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        test_case.fail(problem + " and CI=true")
    raise unittest.SkipTest(problem)


def conformance_problems(output):
    """Return what the suite's output reports beyond the known struct comparison messages: test
    results that are not OK, errors, timeouts and unexpected messages."""
    problems = []
    runs = output.split("Testing device at ")[1:]
    if len(runs) != 2:
        problems.append(f"expected a plain run and a fragmented run, found {len(runs)}")
    for number, run in enumerate(runs, start=1):
        for test in CONFORMANCE_TESTS:
            # The test's name, then its check messages (if any), then "OK (N ms)" or "failed".
            match = re.search(r"^  " + test + r"\s+\t(.*?)(OK \(\d+ ms\)|failed)$", run, re.M | re.S)
            if match is None:
                problems.append(f"run {number}: no result for {test}")
                continue
            if match.group(2) == "failed":
                problems.append(f"run {number}: {test} failed")
            for line in match.group(1).splitlines():
                if line and not line[0].isspace() and not line.startswith("}") and \
                        not line.startswith(STRUCT_COMPARISON_MESSAGES):
                    problems.append(f"run {number}: {test}: {line}")
    for marker in ("ERROR:", "Test times out", "Failed to connect"):
        if marker in output:
            problems.append(f"the output contains {marker!r}")
    if "DONE." not in output:
        problems.append("the suite did not finish with DONE.")
    return problems


class ConformanceTest(unittest.TestCase):
    def test_aes70js_device_suite_passes(self):
        require_peers(self)
        folder = fresh_scratch_dir("aes70-virtual-amp", "conformance")
        amp = VirtualAmp(folder, "--profile", "virtual-amp", "--protocol", "aes70")
        self.addCleanup(amp.stop)

        result = subprocess.run(["node", "run-aes70js-conformance.js", f"127.0.0.1:{amp.port}"], cwd=peers_dir(),
                                capture_output=True, text=True, timeout=CONFORMANCE_TIMEOUT_S,
                                stdin=subprocess.DEVNULL)
        with open(os.path.join(folder, "conformance.log"), "w", encoding="utf-8") as handle:
            handle.write(result.stdout + result.stderr)

        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(conformance_problems(result.stdout + result.stderr), [],
                         f"full output in {folder}/conformance.log")
        self.assertEqual(amp.stop(), 0)
        self.assertIn("(with packet fragmentation)", result.stdout)

    def test_output_checker_reports_failures(self):
        # The checker itself: a failed test and an unexpected message are both reported.
        passing = "".join(f"  {name}  \tOK (1 ms)\n" for name in CONFORMANCE_TESTS)
        good = f"Testing device at 'x':\n{passing}\nTesting device at 'x' (with packet fragmentation):\n{passing}DONE.\n"
        self.assertEqual(conformance_problems(good), [])
        broken = good.replace("  Locking  \tOK (1 ms)",
                              "  Locking  \tObject should be locked for other clients now.\nOK (1 ms)", 1)
        self.assertEqual(conformance_problems(broken),
                         ["run 1: Locking: Object should be locked for other clients now."])
        failed = good.replace("  CheckTree  \tOK (1 ms)", "  CheckTree  \tfailed", 1)
        self.assertEqual(conformance_problems(failed), ["run 1: CheckTree failed"])


def corrections(zones):
    return {"format": "linetune corrections", "format_version": 1, "venue": VENUE_NAME, "zones": zones}


def zone(name, channel, gain_db, delay_ms, bands):
    return {"zone": name, "amplifier": "amp-1", "channel": channel, "gain_db": gain_db, "delay_ms": delay_ms,
            "bands": [{"type": t, "freq_hz": f, "gain_db": g, "q": q} for t, f, g, q in bands]}


def venue(port):
    return {
        "name": VENUE_NAME,
        "max_distance_m": 40,
        "target": {"type": "flat"},
        "amplifiers": [{"name": "amp-1", "profile": PROFILE, "host": "127.0.0.1", "port": port}],
        "zones": [
            {"name": "left", "system": "mains", "amplifier": "amp-1", "channel": 1, "fit_band_hz": [60, 16000]},
            {"name": "right", "system": "mains", "amplifier": "amp-1", "channel": 2, "fit_band_hz": [60, 16000]},
        ],
        "microphones": [{"name": "m1", "input": 1, "zones": {"left": 1, "right": 1}}],
    }


class PushOverAes70Test(unittest.TestCase):
    def start(self, name, *options):
        folder = fresh_scratch_dir("aes70-virtual-amp", name)
        amp = VirtualAmp(folder, "--profile", PROFILE, *options)
        self.addCleanup(amp.stop)
        venue_path = write_json(os.path.join(folder, "venue.json"), venue(amp.port))
        corrections_path = write_json(os.path.join(folder, "corrections.json"), corrections([
            zone("left", 1, -7.5, 2.5, [("peaking", 1000.0, 4.0, 1.4), ("peaking", 120.0, -6.0, 3.0),
                                        ("high_shelf", 6000.0, -3.0, 0.71)]),
            zone("right", 2, -1.0, 0.0, [("low_shelf", 80.0, 3.0, 0.71), ("peaking", 400.0, -4.5, 2.5)]),
        ]))
        return folder, amp, venue_path, corrections_path

    def test_push_is_verified_and_saved(self):
        folder, amp, venue_path, corrections_path = self.start("push")

        _, out, _ = run_linetune("push", corrections_path, "--venue", venue_path, "--yes", check_exit=0)

        self.assertIn("verified (", out)
        state = amp.state()
        self.assertAlmostEqual(state[0]["gain_db"], -7.5, delta=1e-5)
        self.assertAlmostEqual(state[0]["delay_ms"], 2.5, delta=1e-5)
        self.assertEqual([band["enabled"] for band in state[0]["bands"]], [True, True, True, False])
        self.assertEqual(state[0]["bands"][2]["type"], "high_shelf")
        self.assertAlmostEqual(state[0]["bands"][0]["freq_hz"], 1000.0, delta=1e-3)
        self.assertAlmostEqual(state[0]["bands"][1]["q"], 3.0, delta=1e-5)
        self.assertAlmostEqual(state[1]["gain_db"], -1.0, delta=1e-5)
        self.assertEqual(state[1]["bands"][0]["type"], "low_shelf")
        self.assertAlmostEqual(state[1]["bands"][1]["gain_db"], -4.5, delta=1e-5)
        self.assertFalse(state[0]["mute"] or state[1]["mute"], "the push unmutes what it muted")
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))
        self.assertIn("controller 1 connected", amp.log_text())

    def test_refused_value_is_restored(self):
        folder, amp, venue_path, corrections_path = self.start("refused", "--refuse", "/ch/2/eq/2/gain_db")
        before = amp.state()

        code, out, err = run_linetune("push", corrections_path, "--venue", venue_path, "--yes")

        self.assertEqual(code, 3, err)
        self.assertIn("ProcessingFailed", out + err)
        self.assertIn(": restored", out)
        after = amp.state()
        for channel_before, channel_after in zip(before, after):
            self.assertAlmostEqual(channel_before["gain_db"], channel_after["gain_db"], delta=1e-5)
            self.assertEqual(channel_before["mute"], channel_after["mute"])
            self.assertEqual([b["enabled"] for b in channel_before["bands"]],
                             [b["enabled"] for b in channel_after["bands"]])
        self.assertFalse(os.path.exists(os.path.join(folder, "push-journal.json")))


class ProgramOptionsTest(unittest.TestCase):
    def test_protocol_option_checked(self):
        result = subprocess.run([virtual_amp_exe(), "--profile", "virtual-amp", "--protocol", "midi"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--protocol", result.stderr)

    def test_taken_port_exits_3(self):
        folder = fresh_scratch_dir("aes70-virtual-amp", "taken-port")
        amp = VirtualAmp(folder, "--profile", PROFILE)
        self.addCleanup(amp.stop)
        result = subprocess.run([virtual_amp_exe(), "--profile", PROFILE, "--port", str(amp.port)],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn(f"cannot listen on ocp1.tcp://127.0.0.1:{amp.port}", result.stderr)


if __name__ == "__main__":
    main()
