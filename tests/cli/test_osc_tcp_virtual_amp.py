"""Command-line tests of tools/virtual_amp over OSC/TCP, with the length prefix of OSC 1.0 and the
double-END SLIP of OSC 1.1, both framed here from the specifications independently of the C++
code, and of the x32-console profile with its normalised values."""

import json
import math
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import unittest

import cli_support
from test_osc_virtual_amp import VirtualAmp, osc_message, osc_messages

HARDWARE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "hardware")
SLIP_END = b"\xc0"
SLIP_ESC = b"\xdb"


def slip_frame(packet):
    """RFC 1055 framing with an END before and after the packet."""
    body = packet.replace(SLIP_ESC, SLIP_ESC + b"\xdd").replace(SLIP_END, SLIP_ESC + b"\xdc")
    return SLIP_END + body + SLIP_END


class TcpClient:
    """A TCP connection to 127.0.0.1 that frames packets one way and splits replies."""

    def __init__(self, port, framing):
        self.framing = framing
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=3.0)
        self.buffer = b""

    def close(self):
        self.socket.close()

    def send(self, packet):
        frame = slip_frame(packet) if self.framing == "slip" else struct.pack(">I", len(packet)) + packet
        self.socket.sendall(frame)

    def _next_packet(self):
        if self.framing == "slip":
            while True:
                packet, end, rest = self.buffer.lstrip(SLIP_END).partition(SLIP_END)
                if end:
                    self.buffer = rest
                    return packet.replace(SLIP_ESC + b"\xdc", SLIP_END).replace(SLIP_ESC + b"\xdd", SLIP_ESC)
                self._read()
        while len(self.buffer) < 4 or len(self.buffer) < 4 + struct.unpack_from(">I", self.buffer)[0]:
            self._read()
        (size,) = struct.unpack_from(">I", self.buffer)
        packet, self.buffer = self.buffer[4:4 + size], self.buffer[4 + size:]
        return packet

    def _read(self):
        data = self.socket.recv(65536)
        if not data:
            raise AssertionError("virtual_amp closed the connection")
        self.buffer += data

    def request(self, packet):
        self.send(packet)
        return osc_messages(self._next_packet())


class TcpVirtualAmpTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="linetune-osc-tcp-", dir=os.environ.get("LINETUNE_TEST_SCRATCH_DIR"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state_file = os.path.join(self.dir, "state.json")

    def profile_path(self, **control):
        """The shipped virtual-amp profile with its control object changed, written to the scratch folder."""
        profile = cli_support.load_json(os.path.join(HARDWARE_DIR, "virtual-amp.json"))
        profile["control"].update(control)
        path = os.path.join(self.dir, "virtual-amp.json")
        cli_support.write_json(path, profile)
        return path

    def start(self, profile):
        amp = VirtualAmp("--profile", profile, "--state-file", self.state_file)
        self.addCleanup(amp.stop)
        return amp

    def state(self):
        return cli_support.load_json(self.state_file)

    def test_sets_and_queries_over_each_framing(self):
        for framing in ("length-prefix", "slip"):
            with self.subTest(framing=framing):
                amp = self.start(self.profile_path(transport="tcp", framing=framing))
                client = TcpClient(amp.port, framing)
                self.addCleanup(client.close)
                self.assertEqual(client.request(osc_message("/ch/2/gain_db", ("f", -6.5))),
                                 [("/ch/2/gain_db", [-6.5])])
                self.assertEqual(client.request(osc_message("/ch/2/eq/1/type", ("s", "low_shelf"))),
                                 [("/ch/2/eq/1/type", ["low_shelf"])])
                self.assertEqual(client.request(osc_message("/ch/2/gain_db")), [("/ch/2/gain_db", [-6.5])])
                self.assertEqual(self.state()["channels"][1]["gain_db"], -6.5)
                self.assertEqual(self.state()["channels"][1]["bands"][0]["type"], "low_shelf")
                client.close()
                self.assertEqual(amp.stop(), 0)
                self.assertIn("osc.tcp://127.0.0.1:", amp.stderr)

    def test_two_packets_in_one_write_get_two_replies(self):
        amp = self.start(self.profile_path(transport="tcp", framing="slip"))
        client = TcpClient(amp.port, "slip")
        self.addCleanup(client.close)
        client.socket.sendall(slip_frame(osc_message("/ch/1/delay_ms", ("f", 2.5))) +
                              slip_frame(osc_message("/ch/1/mute", ("i", 1))))
        self.assertEqual(osc_messages(client._next_packet()), [("/ch/1/delay_ms", [2.5])])
        self.assertEqual(osc_messages(client._next_packet()), [("/ch/1/mute", [1])])

    def test_tcp_profile_without_framing_is_rejected(self):
        result = subprocess.run(
            [os.environ["LINETUNE_VIRTUAL_AMP_EXE"], "--profile", self.profile_path(transport="tcp")],
            capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 2)
        self.assertIn("control.framing is missing", result.stderr)

    def test_x32_profile_serves_normalised_values(self):
        amp = VirtualAmp("--profile", "x32-console", "--state-file", self.state_file)
        self.addCleanup(amp.stop)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        udp.settimeout(3.0)
        udp.bind(("127.0.0.1", 0))

        def request(packet):
            udp.sendto(packet, ("127.0.0.1", amp.port))
            return osc_messages(udp.recvfrom(65536)[0])

        # Like the console, the program applies a set from a client without a live /xremote but
        # does not acknowledge it, and answers /xremote itself with nothing.
        udp.sendto(osc_message("/ch/05/mix/fader", ("f", 0.5)), ("127.0.0.1", amp.port))
        udp.sendto(osc_message("/xremote"), ("127.0.0.1", amp.port))
        udp.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            udp.recvfrom(65536)
        udp.settimeout(3.0)

        # Fader 0.75 is 0 dB; EQ frequency 0.5 is 20 * 1000^0.5 = 632.46 Hz; mix/on 0 mutes.
        self.assertEqual(request(osc_message("/ch/05/mix/fader", ("f", 0.75))), [("/ch/05/mix/fader", [0.75])])
        self.assertEqual(request(osc_message("/ch/05/eq/2/f", ("f", 0.5))), [("/ch/05/eq/2/f", [0.5])])
        self.assertEqual(request(osc_message("/ch/05/mix/on", ("i", 0))), [("/ch/05/mix/on", [0])])
        channel = self.state()["channels"][4]
        self.assertEqual(channel["gain_db"], 0.0)
        self.assertAlmostEqual(channel["bands"][1]["freq_hz"], 632.456, places=3)
        self.assertTrue(channel["mute"])


# Half a step of the X32's grids, as a ratio: 201 frequencies over 1000:1 and 72 Q values over
# 10:0.3, each evenly spaced in log.
X32_FREQ_HALF_STEP = 1000.0 ** (1.0 / 400.0)
X32_Q_HALF_STEP = (10.0 / 0.3) ** (1.0 / 142.0)
# Continuous scales travel as float32 fractions: 1e-4 dB or ms is far above their rounding.
X32_CONTINUOUS_TOLERANCE = 1e-4


class X32PushTest(unittest.TestCase):
    """`linetune push` with the x32-console profile against virtual_amp serving the x32 scheme."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="linetune-x32-push-", dir=os.environ.get("LINETUNE_TEST_SCRATCH_DIR"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state_file = os.path.join(self.dir, "state.json")
        # Every channel's EQ is on (the console has one switch per channel) with flat bands on the
        # console's grid: peaking 0 dB, fraction 0.5 (632.46 Hz) and Q fraction 0 (10).
        flat_band = {"enabled": True, "type": "peaking", "freq_hz": 20.0 * 1000.0 ** 0.5, "gain_db": 0.0, "q": 10.0}
        channel = {"gain_db": 0.0, "delay_ms": 0.3, "mute": False, "polarity_inverted": False,
                   "bands": [dict(flat_band) for _ in range(4)]}
        channels = [json.loads(json.dumps(channel)) for _ in range(32)]
        channels[1]["bands"][3] = {"enabled": True, "type": "high_pass", "freq_hz": 20.0 * 1000.0 ** 0.2,
                                   "gain_db": 0.0, "q": 10.0}
        initial = cli_support.write_json(os.path.join(self.dir, "initial.json"),
                                         {"profile": "x32-console", "channels": channels})
        self.amp = VirtualAmp("--profile", "x32-console", "--state-file", self.state_file, "--initial-state", initial)
        self.addCleanup(self.amp.stop)
        self.venue = cli_support.write_json(os.path.join(self.dir, "venue.json"), {
            "name": "x32 venue",
            "max_distance_m": 40,
            "target": {"type": "flat"},
            "amplifiers": [{"name": "desk", "profile": "x32-console", "host": "127.0.0.1", "port": self.amp.port}],
            "zones": [
                {"name": "left", "system": "mains", "amplifier": "desk", "channel": 1, "fit_band_hz": [60, 16000]},
                {"name": "right", "system": "mains", "amplifier": "desk", "channel": 2, "fit_band_hz": [60, 16000]},
            ],
            "microphones": [{"name": "m1", "input": 1, "zones": {"left": 1, "right": 1}}],
        })
        self.zones = [
            {"zone": "left", "amplifier": "desk", "channel": 1, "gain_db": -3.5, "delay_ms": 2.5,
             "bands": [{"type": "peaking", "freq_hz": 1000.0, "gain_db": 4.0, "q": 1.4},
                       {"type": "peaking", "freq_hz": 120.0, "gain_db": -6.0, "q": 3.0},
                       {"type": "high_shelf", "freq_hz": 6000.0, "gain_db": -3.0, "q": 0.71}]},
            {"zone": "right", "amplifier": "desk", "channel": 2, "gain_db": -1.0, "delay_ms": 0.3,
             "bands": [{"type": "peaking", "freq_hz": 400.0, "gain_db": -4.5, "q": 2.5}]},
        ]
        self.corrections = cli_support.write_json(os.path.join(self.dir, "corrections.json"), {
            "format": "linetune corrections", "format_version": 1, "venue": "x32 venue", "zones": self.zones})

    def state(self):
        return cli_support.load_json(self.state_file)["channels"]

    def test_dry_run_sends_nothing(self):
        before = self.state()
        _, out, _ = cli_support.run_linetune("push", self.corrections, "--venue", self.venue, "--dry-run",
                                             check_exit=0)
        self.assertIn("dry run: nothing was sent", out)
        # The plan shows what the console will hold: 1000 Hz is step 113 of its 201 frequencies.
        self.assertIn("990.9 Hz", out)
        self.assertEqual(self.state(), before)

    def test_dry_run_shows_normalised_wire_values(self):
        _, out, _ = cli_support.run_linetune("push", self.corrections, "--venue", self.venue, "--dry-run",
                                             check_exit=0)
        # Each line shows the value in dB or Hz and the console's 0..1 fraction sent for it. Fader
        # above -10 dB: x = (dB + 30) / 40. EQ frequency: x = log(f / 20 Hz) / log(1000), on a grid of
        # 200 steps (1000 Hz is step 113, 990.9 Hz). EQ gain: x = (dB + 15) / 30. The fraction is a
        # float32 on the wire, so it matches within 1e-6.
        def line(parameter, address):
            pattern = rf"desk channel 1 {parameter} = (\S+)\s+\(sent as {address} ,f (\S+)\)"
            match = re.search(pattern, out)
            self.assertIsNotNone(match, f"no line matches {pattern!r} in:\n{out}")
            return float(match.group(1)), float(match.group(2))

        fader_db, fader = line("gain_db", "/ch/01/mix/fader")
        self.assertAlmostEqual(fader_db, -3.5, delta=0.05)
        self.assertAlmostEqual(fader, (fader_db + 30.0) / 40.0, delta=1e-6)
        freq_hz, freq = line("band 1 freq_hz", "/ch/01/eq/1/f")
        self.assertAlmostEqual(freq_hz, 990.9, delta=0.05)
        self.assertAlmostEqual(freq, 113 / 200, delta=1e-6)
        self.assertAlmostEqual(freq, math.log(freq_hz / 20.0) / math.log(1000.0), delta=1e-6)
        gain_db, gain = line("band 1 gain_db", "/ch/01/eq/1/g")
        self.assertAlmostEqual(gain_db, 4.0, delta=0.05)
        self.assertAlmostEqual(gain, (gain_db + 15.0) / 30.0, delta=1e-6)

    def test_push_verified_within_one_console_step(self):
        _, out, _ = cli_support.run_linetune("push", self.corrections, "--venue", self.venue, "--yes", check_exit=0)
        self.assertIn("verified (", out)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "push-journal.json")))

        state = self.state()
        for zone in self.zones:
            channel = state[zone["channel"] - 1]
            where = f"zone {zone['zone']}"
            self.assertAlmostEqual(channel["gain_db"], zone["gain_db"], delta=X32_CONTINUOUS_TOLERANCE, msg=where)
            self.assertAlmostEqual(channel["delay_ms"], zone["delay_ms"], delta=X32_CONTINUOUS_TOLERANCE, msg=where)
            for index, band in enumerate(channel["bands"]):
                label = f"{where}, band {index + 1}"
                # The console has no switch per band: every band stays on.
                self.assertTrue(band["enabled"], label)
                if index >= len(zone["bands"]):
                    # A band the correction does not use is a flat peaking band.
                    self.assertEqual(band["type"], "peaking", label)
                    self.assertAlmostEqual(band["gain_db"], 0.0, delta=X32_CONTINUOUS_TOLERANCE, msg=label)
                    continue
                want = zone["bands"][index]
                self.assertEqual(band["type"], want["type"], label)
                self.assertAlmostEqual(band["gain_db"], want["gain_db"], delta=X32_CONTINUOUS_TOLERANCE, msg=label)
                self.assertLessEqual(max(band["freq_hz"], want["freq_hz"]) / min(band["freq_hz"], want["freq_hz"]),
                                     X32_FREQ_HALF_STEP * (1 + 1e-9), label)
                self.assertLessEqual(max(band["q"], want["q"]) / min(band["q"], want["q"]),
                                     X32_Q_HALF_STEP * (1 + 1e-9), label)


if __name__ == "__main__":
    cli_support.main()
