"""Command-line tests of tools/virtual_amp: start-up, the state file, OSC sets and queries from an
independent Python encoder and from liblo's oscsend, fault injection, and clean stops."""

import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import cli_support


def virtual_amp_exe():
    """Path of the virtual_amp program under test, passed by meson in LINETUNE_VIRTUAL_AMP_EXE."""
    return os.environ["LINETUNE_VIRTUAL_AMP_EXE"]


# ---------------------------------------------------------------------------------------------
# A small OSC 1.0 codec written from the specification, independent of the C++ one.

def osc_string(text):
    """ASCII text and 1 to 4 NULs up to a multiple of 4 bytes."""
    data = text.encode("ascii") + b"\0"
    return data + b"\0" * (-len(data) % 4)


def osc_message(address, *arguments):
    """Encode a message; arguments are (tag, value) pairs for i, f, s."""
    tags = "," + "".join(tag for tag, _ in arguments)
    payload = b""
    for tag, value in arguments:
        if tag == "i":
            payload += struct.pack(">i", value)
        elif tag == "f":
            payload += struct.pack(">f", value)
        elif tag == "s":
            payload += osc_string(value)
        else:
            raise ValueError(f"tag {tag} not supported by this test encoder")
    return osc_string(address) + osc_string(tags) + payload


def read_osc_string(data, offset):
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii"), (end + 4) // 4 * 4


def osc_messages(data):
    """Decode a packet into a list of (address, [values]); bundles are flattened."""
    if data.startswith(b"#bundle\0"):
        messages = []
        offset = 16
        while offset < len(data):
            (size,) = struct.unpack_from(">i", data, offset)
            messages += osc_messages(data[offset + 4:offset + 4 + size])
            offset += 4 + size
        return messages
    address, offset = read_osc_string(data, 0)
    tags, offset = read_osc_string(data, offset)
    values = []
    for tag in tags[1:]:
        if tag == "i":
            values.append(struct.unpack_from(">i", data, offset)[0])
            offset += 4
        elif tag == "f":
            values.append(struct.unpack_from(">f", data, offset)[0])
            offset += 4
        elif tag == "s":
            text, offset = read_osc_string(data, offset)
            values.append(text)
        else:
            raise ValueError(f"tag {tag} not expected from the virtual amplifier")
    return [(address, values)]


# ---------------------------------------------------------------------------------------------

class VirtualAmp:
    """A running virtual_amp process; stop() ends it by its process id."""

    def __init__(self, *args):
        self.process = subprocess.Popen([virtual_amp_exe(), *map(str, args)], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        line = self._first_line(timeout_s=10.0)
        if not line.startswith("port "):
            self.stop()
            raise AssertionError(f"virtual_amp printed {line!r} instead of 'port N'; stderr: {self.stderr}")
        self.port = int(line.split()[1])

    def _first_line(self, timeout_s):
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout_s):
                return ""
        return self.process.stdout.readline().strip()

    def stop(self, sig=signal.SIGTERM):
        """Send the signal to the process and return its exit code; a second call only returns it."""
        if self.process.stdout.closed:
            return self.process.returncode
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr = self.process.stderr.read()
        self.process.stdout.close()
        self.process.stderr.close()
        return self.process.returncode


class OscClient:
    """A UDP socket on 127.0.0.1 talking to one port."""

    def __init__(self, port):
        self.address = ("127.0.0.1", port)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))

    def close(self):
        self.socket.close()

    def send(self, packet):
        self.socket.sendto(packet, self.address)

    def receive(self, timeout_s=3.0):
        """The next reply decoded, or None after the timeout."""
        self.socket.settimeout(timeout_s)
        try:
            data, _ = self.socket.recvfrom(65536)
        except socket.timeout:
            return None
        return osc_messages(data)

    def request(self, packet):
        self.send(packet)
        return self.receive()


class VirtualAmpTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="linetune-osc-", dir=os.environ.get("LINETUNE_TEST_SCRATCH_DIR"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.state_file = os.path.join(self.dir, "state.json")

    def start(self, *args):
        amp = VirtualAmp("--profile", "virtual-amp", "--state-file", self.state_file, *args)
        self.addCleanup(amp.stop)
        client = OscClient(amp.port)
        self.addCleanup(client.close)
        return amp, client

    def state(self):
        with open(self.state_file, encoding="utf-8") as file:
            return json.load(file)

    def test_start_prints_port_and_writes_neutral_state(self):
        amp, _ = self.start()
        self.assertGreater(amp.port, 0)
        state = self.state()
        self.assertEqual(state["profile"], "virtual-amp")
        self.assertEqual(len(state["channels"]), 8)
        for channel in state["channels"]:
            self.assertEqual(channel["gain_db"], 0.0)
            self.assertFalse(channel["mute"])
            self.assertEqual(len(channel["bands"]), 10)
            self.assertFalse(any(band["enabled"] for band in channel["bands"]))
        self.assertEqual(amp.stop(), 0)
        self.assertIn("stopped", amp.stderr)

    def test_set_acknowledged_and_saved(self):
        _, client = self.start()
        reply = client.request(osc_message("/ch/3/eq/2/freq_hz", ("f", 315.0)))
        self.assertEqual(reply, [("/ch/3/eq/2/freq_hz", [315.0])])
        # The acknowledgement leaves after the file is replaced, so the file contains the change now.
        self.assertEqual(self.state()["channels"][2]["bands"][1]["freq_hz"], 315.0)

        reply = client.request(osc_message("/ch/3/eq/2/type", ("s", "high_shelf")))
        self.assertEqual(reply, [("/ch/3/eq/2/type", ["high_shelf"])])
        self.assertEqual(client.request(osc_message("/ch/3/eq/2/type")), [("/ch/3/eq/2/type", ["high_shelf"])])
        self.assertEqual(self.state()["channels"][2]["bands"][1]["type"], "high_shelf")

    def test_gain_is_rounded_to_the_profile_step(self):
        _, client = self.start()
        reply = client.request(osc_message("/ch/1/gain_db", ("f", -3.04)))
        self.assertEqual(reply[0][0], "/ch/1/gain_db")
        self.assertAlmostEqual(reply[0][1][0], -3.0, places=6)
        self.assertAlmostEqual(self.state()["channels"][0]["gain_db"], -3.0, places=12)

    def test_oscsend_sets_the_amplifier(self):
        if shutil.which("oscsend") is None:
            if os.environ.get("CI") == "true":
                self.fail("oscsend is not installed and CI=true; install the Debian package liblo-tools")
            self.skipTest("oscsend not found; install the Debian package liblo-tools")
        amp, client = self.start()
        subprocess.run(["oscsend", f"osc.udp://127.0.0.1:{amp.port}", "/ch/1/gain_db", "f", "-3"], check=True,
                       timeout=30)
        # The query travels behind oscsend's datagram, so its reply shows the set.
        self.assertEqual(client.request(osc_message("/ch/1/gain_db")), [("/ch/1/gain_db", [-3.0])])
        self.assertEqual(self.state()["channels"][0]["gain_db"], -3.0)

    def test_out_of_range_value_refused(self):
        _, client = self.start()
        reply = client.request(osc_message("/ch/2/delay_ms", ("f", 2000.0)))
        self.assertEqual(reply[0], ("/ch/2/delay_ms", [0.0]))
        self.assertEqual(reply[1][0], "/error")
        self.assertIn("2000 ms is above the maximum 1000 ms", reply[1][1][0])
        self.assertEqual(self.state()["channels"][1]["delay_ms"], 0.0)

    def test_refuse_option_refuses_one_parameter(self):
        _, client = self.start("--refuse", "gain_db", "--refuse", "/ch/1/mute")
        reply = client.request(osc_message("/ch/4/gain_db", ("f", -1.0)))
        self.assertEqual(reply[0], ("/ch/4/gain_db", [0.0]))
        self.assertIn("rejected by fault injection", reply[1][1][0])
        self.assertEqual(client.request(osc_message("/ch/1/mute", ("i", 1)))[0], ("/ch/1/mute", [0]))
        self.assertEqual(client.request(osc_message("/ch/2/mute", ("i", 1))), [("/ch/2/mute", [1])])

    def test_drop_option_ignores_packets_during_the_outage(self):
        _, client = self.start("--drop-after", "1", "--outage-ms", "400")
        self.assertEqual(client.request(osc_message("/ch/1/delay_ms", ("f", 1.0))), [("/ch/1/delay_ms", [1.0])])

        # The second packet starts the outage: ignored, not applied.
        client.send(osc_message("/ch/1/delay_ms", ("f", 2.0)))
        self.assertIsNone(client.receive(timeout_s=0.1))
        self.assertEqual(self.state()["channels"][0]["delay_ms"], 1.0)

        # After the outage the amplifier replies again.
        time.sleep(0.5)
        self.assertEqual(client.request(osc_message("/ch/1/delay_ms")), [("/ch/1/delay_ms", [1.0])])

    def test_slow_option_delays_replies(self):
        _, client = self.start("--slow-ms", "300")
        client.send(osc_message("/ch/1/mute", ("i", 1)))
        self.assertIsNone(client.receive(timeout_s=0.1))
        self.assertEqual(client.receive(timeout_s=5.0), [("/ch/1/mute", [1])])

    def test_initial_state_is_loaded(self):
        amp, client = self.start()
        client.request(osc_message("/ch/5/gain_db", ("f", -7.5)))
        amp.stop()
        initial = os.path.join(self.dir, "initial.json")
        shutil.copy(self.state_file, initial)

        _, client = self.start("--initial-state", initial)
        self.assertEqual(client.request(osc_message("/ch/5/gain_db")), [("/ch/5/gain_db", [-7.5])])

    def test_initial_state_out_of_range(self):
        state = {"channels": [{"gain_db": 20.0, "delay_ms": 0.0, "mute": False, "polarity_inverted": False,
                               "bands": []}]}
        initial = os.path.join(self.dir, "initial.json")
        with open(initial, "w", encoding="utf-8") as file:
            json.dump(state, file)
        result = subprocess.run([virtual_amp_exe(), "--profile", "virtual-amp", "--initial-state", initial],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"initial state '{initial}'", result.stderr)
        self.assertIn("20 dB is above the maximum 12 dB", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_usage_errors_exit_2(self):
        cases = [
            (["--profile", "virtual-amp", "--outage-ms", "100"], "--outage-ms requires --drop-after"),
            (["--profile", "virtual-amp", "--refuse", "volume"], "invalid parameter to refuse 'volume'"),
            (["--profile", "no-such-profile"], "no-such-profile"),
            (["--profile", "virtual-amp", "--port", "70000"], "--port"),
            (["--port", "0"], "--profile is required"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                result = subprocess.run([virtual_amp_exe(), *args], capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(message, result.stderr)

    def test_profile_without_osc_control_is_refused(self):
        result = subprocess.run([virtual_amp_exe(), "--profile", "generic-dsp"], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("profile 'generic-dsp'", result.stderr)

    def test_taken_port_exits_3(self):
        amp, _ = self.start()
        result = subprocess.run([virtual_amp_exe(), "--profile", "virtual-amp", "--port", str(amp.port)],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 3)
        self.assertIn(f"cannot listen on osc.udp://127.0.0.1:{amp.port}", result.stderr)

    def test_sigint_stops_cleanly(self):
        amp, client = self.start()
        self.assertIsNotNone(client.request(osc_message("/ch/1/gain_db")))
        self.assertEqual(amp.stop(signal.SIGINT), 0)
        self.assertIn("received SIGINT, stopping", amp.stderr)


if __name__ == "__main__":
    cli_support.main()
