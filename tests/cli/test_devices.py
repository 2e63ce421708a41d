#!/usr/bin/python3
"""`linetune devices` against tools/virtual_amp (OSC) and the Node OCP.1 test device
oca-mini-device.js (AES70) on 127.0.0.1: identity, current settings per channel, the AES70 object
tree with --probe, JSON output, and an unreachable amplifier (exit code 3). Every process is
stopped by its pid. The AES70 part needs node and the copied peers folder (build/aes70-peers or
LINETUNE_AES70_PEERS); without them it skips, except under CI=true, where it fails."""

import json
import os
import shutil
import signal
import subprocess
import unittest

from cli_support import fresh_scratch_dir, main, run_linetune, write_json
from test_push import VirtualAmp

# Ports of the Node device, the range of the AES70 controller tests; 47349 stays unused.
FIRST_DEVICE_PORT = 47300
DEVICE_PORT_COUNT = 49
UNUSED_PORT = 47349


def peers_dir():
    configured = os.environ.get("LINETUNE_AES70_PEERS", "")
    if configured:
        return configured
    build_dir = os.path.dirname(os.path.dirname(os.environ["LINETUNE_TEST_SCRATCH_DIR"]))
    return os.path.join(build_dir, "aes70-peers")


def aes70_peer_missing():
    """Why the Node device cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (Debian package nodejs)"
    if not os.path.exists(os.path.join(peers_dir(), "node_modules", "aes70")):
        return f"the AES70 peers are not installed in {peers_dir()} (run tools/setup.sh)"
    return None


class NodeDevice:
    """oca-mini-device.js on the first free port of the range; stop() ends it by its pid."""

    def __init__(self):
        self.process = None
        offset = os.getpid() % DEVICE_PORT_COUNT
        for attempt in range(DEVICE_PORT_COUNT):
            port = FIRST_DEVICE_PORT + (offset + attempt) % DEVICE_PORT_COUNT
            process = subprocess.Popen(["node", os.path.join(peers_dir(), "oca-mini-device.js"), str(port)],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            line = process.stdout.readline()
            if "listening" in line:
                self.process, self.port = process, port
                return
            process.send_signal(signal.SIGTERM)
            process.wait()
            process.stdout.close()
        raise AssertionError("oca-mini-device.js did not start on any port from 47300 to 47348")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        if self.process is not None:
            self.process.stdout.close()


def venue(osc_port, aes70_port):
    return {
        "name": "devices test venue",
        "max_distance_m": 40,
        "target": {"type": "flat"},
        "amplifiers": [
            {"name": "osc-amp", "profile": "virtual-amp", "host": "127.0.0.1", "port": osc_port},
            {"name": "aes70-amp", "profile": "aes70-mini-device", "host": "127.0.0.1", "port": aes70_port},
        ],
        "zones": [
            {"name": "left", "system": "mains", "amplifier": "osc-amp", "channel": 1, "fit_band_hz": [60, 16000]},
            {"name": "sub", "system": "subs", "amplifier": "aes70-amp", "channel": 2, "fit_band_hz": [30, 120]},
        ],
        "microphones": [{"name": "m1", "input": 1, "zones": {"left": 1, "sub": 1}}],
    }


class DevicesTest(unittest.TestCase):
    def setUp(self):
        missing = aes70_peer_missing()
        if missing is not None:
            if os.environ.get("CI") == "true":
                self.fail(f"{missing} and CI=true")
            self.skipTest(missing)
        self.folder = fresh_scratch_dir("devices", self.id().rsplit(".", 1)[-1])
        self.osc = VirtualAmp(self.folder)
        self.addCleanup(self.osc.stop)
        self.aes70 = NodeDevice()
        self.addCleanup(self.aes70.stop)

    def venue_file(self, aes70_port=None):
        port = self.aes70.port if aes70_port is None else aes70_port
        return write_json(os.path.join(self.folder, "venue.json"), venue(self.osc.port, port))

    def test_json_reports_identity_and_settings(self):
        _, out, _ = run_linetune("devices", self.venue_file(), "--json", check_exit=0)
        report = json.loads(out)
        osc, aes70 = report["amplifiers"]
        self.assertTrue(osc["reachable"])
        self.assertNotIn("identity", osc)
        self.assertEqual([channel["channel"] for channel in osc["channels"]], [1])
        self.assertAlmostEqual(osc["channels"][0]["gain_db"], -6.0, places=5)
        self.assertAlmostEqual(osc["channels"][0]["delay_ms"], 1.5, places=5)
        self.assertEqual(osc["channels"][0]["bands"][0]["freq_hz"], 500.0)

        self.assertTrue(aes70["reachable"])
        self.assertEqual(aes70["identity"]["manufacturer"], "Example Audio")
        self.assertEqual(aes70["identity"]["model"], "MiniAmp")
        self.assertEqual(aes70["identity"]["version"], "0.1")
        self.assertEqual(aes70["identity"]["serial_number"], "SN-000001")
        self.assertEqual(aes70["identity"]["oca_version"], 2)
        self.assertEqual([channel["channel"] for channel in aes70["channels"]], [2])
        self.assertEqual(len(aes70["channels"][0]["bands"]), 4)
        self.assertEqual(aes70["channels"][0]["bands"][0]["type"], "peaking")
        self.assertNotIn("objects", aes70)

    def test_probe_lists_objects_and_every_channel(self):
        _, out, _ = run_linetune("devices", self.venue_file(), "--probe", check_exit=0)
        self.assertIn("model: Example Audio MiniAmp, version 0.1, serial number SN-000001", out)
        self.assertIn("identity: not reported (OSC has no standard identity query)", out)
        self.assertIn("objects (16):", out)
        self.assertIn("20013 OcaFilterParametric 'Zone2/PEQ3'", out)
        self.assertIn("20003 OcaDelayExtended 'Zone2/Delay'", out)
        self.assertEqual(out.count("  channel "), 8 + 2)  # every channel of both profiles

    def test_unreachable_amplifier_exits_3(self):
        code, out, err = run_linetune("devices", self.venue_file(UNUSED_PORT), check_exit=3)
        self.assertIn("amplifier 'aes70-amp' (ocp1.tcp://127.0.0.1:47349), profile 'aes70-mini-device', aes70", out)
        self.assertIn("UNREACHABLE: amplifier 'aes70-amp' (ocp1.tcp://127.0.0.1:47349): TCP connection failed", out)
        self.assertIn("some amplifiers did not answer", err)
        self.assertIn("gain", out)  # the reachable OSC amplifier is still reported


if __name__ == "__main__":
    main()
