"""End-to-end tests of `linetune measure` through a real JACK server and PortAudio's JACK host API.

Each test class starts its own jackd (dummy backend, a server name unique to this run) and, where
it needs sound, tools/virtual_venue, which convolves PortAudio's outputs with the simulated rig's
transfer functions, adds a latency that linetune is not given, noise and a weak non-linearity, and
feeds PortAudio's inputs. Every process is stopped by its process id, and the server's
shared-memory files are removed afterwards. The dummy backend runs in real time, so sweeps are 1 s.
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
from jack_support import JackServer, builtin_venue, raise_priority, require_tools

try:
    from scipy.io import wavfile
    from scipy.signal import get_window
except ImportError:  # checked in require_tools
    wavfile = None

# The sweep and tail of every measurement here. A 1 s sweep from 20 Hz to 20 kHz has enough
# energy for impulse responses 60 dB above the venue's noise. The 0.5 s tail covers the virtual
# venue's longest path (about 55 ms of travel plus its 0.25 s room tail) and one JACK period.
# Up to five passes per zone keep a test from failing when jackd's dummy backend misses a period
# (see jack_support.PERIOD_FRAMES).
MAX_PASSES = "5"
SWEEP_S = "1"
TAIL_S = "0.5"
HIDDEN_LATENCY_SAMPLES = 100.37
ZONES = ["L-mid", "L-near"]
MICS = ["front-left", "near-left", "mid-centre"]

# Acceptance limits: the measured impulse response against the transfer function the virtual
# venue applied, over 40 Hz to 16 kHz.
MAX_ERROR_DB = -40.0           # error energy re the transfer function's energy
MAX_SMOOTHED_DEVIATION_DB = 0.2  # largest 1/12-octave magnitude difference
MAX_ARRIVAL_ERROR_SAMPLES = 0.1

def venue_files(folder):
    """The built-in venue cut to ZONES x MICS (venue.json) and the same with a fourth mic on input 5,
    which nothing feeds but noise (venue-dead-mic.json)."""
    venue = builtin_venue(ZONES, MICS)
    main_path = os.path.join(folder, "venue.json")
    with open(main_path, "w") as file:
        json.dump(venue, file, indent=2)
    venue["microphones"].append({"name": "dead-mic", "input": 5, "zones": {"L-mid": 1.0}})
    dead_path = os.path.join(folder, "venue-dead-mic.json")
    with open(dead_path, "w") as file:
        json.dump(venue, file, indent=2)
    return main_path, dead_path


def read_wav(path):
    rate, data = wavfile.read(path)
    data = np.asarray(data, dtype=np.float64)
    return rate, (data if data.ndim == 2 else data[:, None])


def measure(server, *args):
    result = subprocess.run([cli_support.linetune_exe(), "measure", *args], capture_output=True, text=True,
                            env=server.env, stdin=subprocess.DEVNULL, timeout=120, preexec_fn=raise_priority)
    return result.returncode, result.stdout, result.stderr


def analyze_arrival_ms(path):
    document = cli_support.analyze_json(path)
    return document["files"][0]["channels"][0]["arrival_ms"]


def smoothed_db(power, freqs_hz, centres_hz):
    """Mean power over each 1/12-octave band [fc·2^(−1/24), fc·2^(1/24)], in dB."""
    values = []
    for centre in centres_hz:
        band = (freqs_hz >= centre * 2 ** (-1 / 24)) & (freqs_hz <= centre * 2 ** (1 / 24))
        values.append(10 * np.log10(np.mean(power[band])))
    return np.array(values)


def compare_with_ground_truth(measured_path, truth_path):
    """Return (error energy in dB re the truth, largest 1/12-octave deviation in dB), both over
    40 Hz to 16 kHz. The truth (t = 0 at its first sample) is shifted to the measured response's
    t = 0 (time_zero_sample of its sidecar) by a linear phase, so that timing errors count."""
    rate, measured = read_wav(measured_path)
    _, truth = read_wav(truth_path)
    with open(os.path.splitext(measured_path)[0] + ".json") as file:
        time_zero_sample = json.load(file)["time_zero_sample"]
    size = 1 << int(np.ceil(np.log2(max(len(measured), len(truth) + time_zero_sample) + 1)))
    freqs_hz = np.fft.rfftfreq(size, 1.0 / rate)
    measured_spectrum = np.fft.rfft(measured[:, 0], size)
    truth_spectrum = np.fft.rfft(truth[:, 0], size) * np.exp(-2j * np.pi * freqs_hz * time_zero_sample / rate)
    band = (freqs_hz >= 40.0) & (freqs_hz <= 16000.0)
    error_db = 10 * np.log10(np.sum(np.abs(measured_spectrum[band] - truth_spectrum[band]) ** 2) /
                             np.sum(np.abs(truth_spectrum[band]) ** 2))
    centres_hz = 40.0 * 2 ** (np.arange(0, int(12 * np.log2(16000 / 40)) + 1) / 12)
    deviation = smoothed_db(np.abs(measured_spectrum) ** 2, freqs_hz, centres_hz) - \
        smoothed_db(np.abs(truth_spectrum) ** 2, freqs_hz, centres_hz)
    return error_db, float(np.max(np.abs(deviation)))


class MeasureThroughJack(unittest.TestCase):
    """One jackd at the venue's rate and one virtual venue for the tests that need sound."""

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="linetune-jack-")
        cls.server = None
        cls.venue_process = None
        require_tools()
        cls.venue_path, cls.dead_mic_venue_path = venue_files(cls.folder)
        cls.truth_dir = os.path.join(cls.folder, "ground-truth")
        cls.server = JackServer(cls.folder, 48000, name_prefix="lt-capture")
        cls.venue_log = os.path.join(cls.folder, "virtual-venue.log")
        try:
            cls.venue_process = jack_support.start_virtual_venue(
                cls.venue_path, cls.server, cls.venue_log, "--latency-samples", str(HIDDEN_LATENCY_SAMPLES),
                "--ground-truth", cls.truth_dir)
        except AssertionError:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        jack_support.release_rig(cls)

    def session(self, name):
        return os.path.join(self.folder, name)

    def wait_for_interface_client_gone(self):
        """After linetune was killed, wait until the server has dropped its client, so that the
        next run gets the client name 'linetune' again."""
        if not shutil.which("jack_lsp"):
            time.sleep(1.0)
            return
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            ports = subprocess.run(["jack_lsp", "-s", self.server.name], capture_output=True, text=True,
                                   env=self.server.env, timeout=10).stdout
            if "linetune:" not in ports:
                return
            time.sleep(0.1)

    def test_impulse_responses_match_virtual_venue(self):
        session = self.session("two-zones")
        code, out, err = measure(self.server, self.venue_path, "--host-api", "JACK", "--sweep-s", SWEEP_S,
                                 "--tail-s", TAIL_S, "--max-passes", MAX_PASSES, "--out", session)
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        with open(os.path.join(self.truth_dir, "ground-truth.json")) as file:
            truth = json.load(file)
        self.assertEqual(len(truth["paths"]), len(ZONES) * len(MICS))

        for path in truth["paths"]:
            with self.subTest(zone=path["zone"], mic=path["mic"]):
                measured_path = os.path.join(session, "impulse-responses", path["zone"], path["mic"] + ".wav")
                truth_path = os.path.join(self.truth_dir, path["file"])
                with open(os.path.splitext(measured_path)[0] + ".json") as file:
                    sidecar = json.load(file)
                self.assertEqual(sidecar["time_base"], "loopback")

                # The loopback finds the hidden latency plus JACK's own whole-period latency.
                jack_latency = sidecar["latency_samples"] - HIDDEN_LATENCY_SAMPLES
                self.assertGreaterEqual(jack_latency, -MAX_ARRIVAL_ERROR_SAMPLES)
                self.assertLessEqual(abs(jack_latency - round(jack_latency)), MAX_ARRIVAL_ERROR_SAMPLES)

                error_db, deviation_db = compare_with_ground_truth(measured_path, truth_path)
                print(f"{path['zone']}/{path['mic']}: error {error_db:.1f} dB, 1/12-octave deviation "
                      f"{deviation_db:.3f} dB, loopback latency {sidecar['latency_samples']:.3f} samples")
                self.assertTrue(error_db <= MAX_ERROR_DB or deviation_db <= MAX_SMOOTHED_DEVIATION_DB,
                                f"error {error_db:.1f} dB, deviation {deviation_db:.3f} dB")

                rate_hz = truth["sample_rate_hz"]
                measured_arrival_ms = analyze_arrival_ms(measured_path)
                truth_arrival_ms = analyze_arrival_ms(truth_path)
                arrival_error_samples = (measured_arrival_ms - truth_arrival_ms) * rate_hz / 1000.0
                print(f"  arrival {measured_arrival_ms:.4f} ms, truth {truth_arrival_ms:.4f} ms, "
                      f"error {arrival_error_samples:+.4f} samples")
                self.assertLessEqual(abs(arrival_error_samples), MAX_ARRIVAL_ERROR_SAMPLES)

    def test_multi_sweep_impulse_responses_match_virtual_venue(self):
        session = self.session("multi-sweep")
        # Two overlapping sweeps under a -6 dBFS ceiling play at -12 dBFS each, the sequential
        # tests' level, so the responses have the same margin over the venue's noise.
        code, out, err = measure(self.server, self.venue_path, "--host-api", "JACK", "--multi-sweep", "--level-dbfs",
                                 "-6", "--sweep-s", SWEEP_S, "--tail-s", TAIL_S, "--max-passes", MAX_PASSES, "--out",
                                 session)
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn("in one multiple-sweep pass", out)
        print(next(line for line in out.splitlines() if "multiple-sweep pass" in line))
        offsets = []
        for zone in ZONES:
            with open(os.path.join(session, "measurements", zone, "recording.json")) as file:
                recording = json.load(file)
            placement = recording["multi_sweep"]
            self.assertEqual(placement["zones"], ZONES)
            offsets.append(placement["offset_frames"])
            # Each zone's test tone played before the pass, and every mic heard it.
            for channel in recording["channels"]:
                if not channel["loopback"]:
                    self.assertTrue(channel["heard_test_tone"], f"zone {zone}, mic {channel['mic']}")
                    self.assertIsNotNone(channel.get("predicted_peak_dbfs"), f"zone {zone}, mic {channel['mic']}")
        self.assertEqual(offsets[0], 0)
        # The second sweep starts while the first still plays: the pass is shorter than two.
        self.assertLess(offsets[1], 48000)

        with open(os.path.join(self.truth_dir, "ground-truth.json")) as file:
            truth = json.load(file)
        for path in truth["paths"]:
            with self.subTest(zone=path["zone"], mic=path["mic"]):
                measured_path = os.path.join(session, "impulse-responses", path["zone"], path["mic"] + ".wav")
                error_db, deviation_db = compare_with_ground_truth(measured_path, os.path.join(self.truth_dir,
                                                                                               path["file"]))
                rate_hz = truth["sample_rate_hz"]
                arrival_error_samples = (analyze_arrival_ms(measured_path) -
                                         analyze_arrival_ms(os.path.join(self.truth_dir, path["file"]))) * rate_hz / 1000
                print(f"multi-sweep {path['zone']}/{path['mic']}: error {error_db:.1f} dB, 1/12-octave deviation "
                      f"{deviation_db:.3f} dB, arrival error {arrival_error_samples:+.4f} samples")
                self.assertTrue(error_db <= MAX_ERROR_DB or deviation_db <= MAX_SMOOTHED_DEVIATION_DB,
                                f"error {error_db:.1f} dB, deviation {deviation_db:.3f} dB")
                self.assertLessEqual(abs(arrival_error_samples), MAX_ARRIVAL_ERROR_SAMPLES)

    def test_repeats_are_aligned_averaged_and_match_virtual_venue(self):
        session = self.session("repeats")
        code, out, err = measure(self.server, self.venue_path, "--host-api", "JACK", "--zones", ZONES[0],
                                 "--repeats", "2", "--sweep-s", SWEEP_S, "--tail-s", TAIL_S, "--max-passes",
                                 MAX_PASSES, "--out", session)
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        summary = next(line for line in out.splitlines() if "repeats averaged" in line)
        print(summary)
        self.assertIn("aligned by the loopback", summary)
        with open(os.path.join(session, "measurements", ZONES[0], "recording.json")) as file:
            recording = json.load(file)
        self.assertEqual(recording["timing"], "absolute")
        # The silent capture before the pass finds the virtual venue's -90 dBFS RMS noise on every
        # mic, and the 0.5 s tail outlasts its 0.25 s room tail: no decay is flagged.
        for channel in recording["channels"]:
            if channel["loopback"]:
                continue
            with self.subTest(mic=channel["mic"]):
                print(f"noise floor {channel['mic']}: {channel['noise_floor_dbfs']:.2f} dBFS, tail end "
                      f"{channel['tail_end_dbfs']:.2f} dBFS")
                self.assertLess(abs(channel["noise_floor_dbfs"] + 90.0), 1.0)
                self.assertFalse(channel["decay_incomplete"])
                # The test tone (0.3 s, 30 dB under the sweep) predicts the sweep's peak at the mic.
                print(f"test tone {channel['mic']}: predicted peak {channel['predicted_peak_dbfs']:.2f} dBFS, "
                      f"recorded {channel['peak_dbfs']:.2f} dBFS")
                self.assertTrue(channel["heard_test_tone"])
                self.assertLess(abs(channel["predicted_peak_dbfs"] - channel["peak_dbfs"]), 3.0)
        self.assertNotIn("warning", out)
        repeats = recording["repeats"]
        self.assertEqual(repeats["count"], 2)
        self.assertEqual(repeats["aligned_by"], "loopback")
        rate_hz = recording["sample_rate_hz"]
        # The virtual venue does not change between passes, so every mic's drift stays within the
        # arrival-time limit. The SNR of the average in the 1 kHz third octave is far above 40 dB,
        # because the venue's noise is -90 dBFS and the sweep -12 dBFS.
        band_1k = repeats["bands_hz"].index(1000.0)
        for mic in repeats["mics"]:
            with self.subTest(mic=mic["mic"]):
                drift_samples = abs(mic["drift_ms"][1]) * rate_hz / 1000.0
                print(f"repeats {mic['mic']}: drift {drift_samples:.4f} samples, SNR at 1 kHz "
                      f"{mic['snr_db'][band_1k]:.1f} dB, coherence {mic['coherence'][band_1k]:.6f}")
                self.assertLessEqual(drift_samples, MAX_ARRIVAL_ERROR_SAMPLES)
                self.assertGreater(mic["snr_db"][band_1k], 40.0)
        with open(os.path.join(self.truth_dir, "ground-truth.json")) as file:
            truth = json.load(file)
        for path in truth["paths"]:
            if path["zone"] != ZONES[0]:
                continue
            with self.subTest(zone=path["zone"], mic=path["mic"]):
                measured_path = os.path.join(session, "impulse-responses", path["zone"], path["mic"] + ".wav")
                truth_path = os.path.join(self.truth_dir, path["file"])
                error_db, deviation_db = compare_with_ground_truth(measured_path, truth_path)
                arrival_error_samples = (analyze_arrival_ms(measured_path) -
                                         analyze_arrival_ms(truth_path)) * rate_hz / 1000.0
                print(f"repeats {path['mic']}: error {error_db:.1f} dB, 1/12-octave deviation {deviation_db:.3f} dB, "
                      f"arrival error {arrival_error_samples:+.4f} samples")
                self.assertTrue(error_db <= MAX_ERROR_DB or deviation_db <= MAX_SMOOTHED_DEVIATION_DB,
                                f"error {error_db:.1f} dB, deviation {deviation_db:.3f} dB")
                self.assertLessEqual(abs(arrival_error_samples), MAX_ARRIVAL_ERROR_SAMPLES)

    def test_dead_microphone_is_flagged(self):
        session = self.session("dead-mic")
        code, out, err = measure(self.server, self.dead_mic_venue_path, "--host-api", "JACK", "--zones", "L-mid",
                                 "--sweep-s", SWEEP_S, "--tail-s", TAIL_S, "--max-passes", MAX_PASSES, "--out", session)
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn("mic 'dead-mic' is silent", out)
        self.assertIn("mic 'dead-mic' did not hear the test tone", out)
        with open(os.path.join(session, "measurements", "L-mid", "recording.json")) as file:
            recording = json.load(file)
        silent = {channel.get("mic"): channel["silent"] for channel in recording["channels"] if "silent" in channel}
        self.assertTrue(silent["dead-mic"])
        self.assertFalse(silent["near-left"])
        with open(os.path.join(session, "impulse-responses", "L-mid", "dead-mic.json")) as file:
            self.assertIn("dead", json.load(file)["flags"])
        with open(os.path.join(session, "impulse-responses", "L-mid", "near-left.json")) as file:
            self.assertNotIn("dead", json.load(file)["flags"])

    def test_killed_run_keeps_recordings_and_resumes(self):
        session = self.session("killed")
        args = [cli_support.linetune_exe(), "measure", self.venue_path, "--host-api", "JACK", "--sweep-s", SWEEP_S,
                "--tail-s", TAIL_S, "--max-passes", MAX_PASSES, "--out", session]
        first_json = os.path.join(session, "measurements", ZONES[0], "recording.json")
        second_json = os.path.join(session, "measurements", ZONES[1], "recording.json")
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.DEVNULL, env=self.server.env, preexec_fn=raise_priority)
        try:
            deadline = time.monotonic() + 60.0
            while not os.path.exists(first_json) and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertTrue(os.path.exists(first_json), "the first zone's recording never appeared")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        self.assertFalse(os.path.exists(second_json), "the second zone finished before the kill")

        with open(first_json) as file:
            metadata = json.load(file)
        rate, data = read_wav(os.path.join(session, "measurements", ZONES[0], "recording.wav"))
        self.assertEqual(rate, 48000)
        self.assertEqual(data.shape, (metadata["frames"], len(MICS) + 1))
        first_mtime = os.stat(first_json).st_mtime_ns

        self.wait_for_interface_client_gone()
        code, out, err = measure(self.server, *args[2:], "--resume")
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn(f"zone '{ZONES[0]}': recorded already, skipped (--resume)", out)
        self.assertEqual(os.stat(first_json).st_mtime_ns, first_mtime)
        self.assertTrue(os.path.exists(second_json))
        for zone in ZONES:
            for mic in MICS:
                self.assertTrue(os.path.exists(os.path.join(session, "impulse-responses", zone, mic + ".wav")))


class AmplifierDistortionThroughJack(unittest.TestCase):
    """The virtual venue's amplifier non-linearity, measured through JACK, PortAudio and linetune.

    A venue input taps zone L-mid's amplifier without the room (--amplifier-monitor), so the
    harmonics it carries are the amplifier's own at every frequency. The amplifier's 2nd and 3rd
    harmonics are set high (-20 dB at full scale) so that both stand far above the noise, and its
    3rd harmonic of every sweep frequency above 8 kHz lies above the 24 kHz Nyquist frequency."""

    HARMONIC2_DB = -20.0  # re the fundamental of a full-scale sine
    HARMONIC3_DB = -20.0
    LEVEL_DBFS = -6.0
    MONITOR_INPUT = 6
    # Largest difference between a measured harmonic and the polynomial's level at the played
    # sweep level. The amplifier is exactly y = x + a2·x² + a3·x³, so what remains is the
    # harmonic analysis's own error: it measured within 0.1 dB here.
    MAX_HARMONIC_ERROR_DB = 0.3
    # Largest level at 13.5 to 16.5 kHz, re the fundamental, while the sweep passes 10.8 to 11.2 kHz.
    # Only an alias can sound there: the 3rd harmonic of 11 kHz (33 kHz) folds back to 15 kHz when
    # the polynomial runs at 48 kHz. With the polynomial computed at 48 kHz this measured -33.1 dB
    # (the 3rd harmonic's level); oversampled, -94.8 dB, the noise and the window's sidelobes.
    MAX_ALIAS_DB = -70.0

    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="linetune-jack-distortion-")
        cls.server = None
        cls.venue_process = None
        require_tools()
        venue = builtin_venue(ZONES, MICS)
        venue["microphones"].append({"name": "amp-monitor", "input": cls.MONITOR_INPUT, "zones": {ZONES[0]: 1.0}})
        cls.monitor_channel = len(venue["microphones"])  # 1-based channel of the recording: mics first
        output = next(zone["output"] for zone in venue["zones"] if zone["name"] == ZONES[0])
        cls.venue_path = os.path.join(cls.folder, "venue.json")
        with open(cls.venue_path, "w") as file:
            json.dump(venue, file, indent=2)
        cls.server = JackServer(cls.folder, 48000, name_prefix="lven-distortion")
        try:
            cls.venue_process = jack_support.start_virtual_venue(
                cls.venue_path, cls.server, os.path.join(cls.folder, "virtual-venue.log"),
                "--harmonic2-db", str(cls.HARMONIC2_DB), "--harmonic3-db", str(cls.HARMONIC3_DB),
                "--amplifier-monitor", f"{output},{cls.MONITOR_INPUT}")
        except AssertionError:
            cls.tearDownClass()
            raise
        cls.session = os.path.join(cls.folder, "session")
        code, out, err = measure(cls.server, cls.venue_path, "--host-api", "JACK", "--zones", ZONES[0],
                                 "--level-dbfs", str(cls.LEVEL_DBFS), "--sweep-s", SWEEP_S, "--tail-s", TAIL_S,
                                 "--max-passes", MAX_PASSES, "--out", cls.session)
        if code != 0:
            cls.tearDownClass()
            raise AssertionError(f"measure failed with {code}:\nstdout:\n{out}\nstderr:\n{err}")
        cls.recording_path = os.path.join(cls.session, "measurements", ZONES[0], "recording.wav")

    @classmethod
    def tearDownClass(cls):
        jack_support.release_rig(cls)

    def expected_harmonics_db(self):
        """H2 and H3 re the fundamental of y = x + a2·x² + a3·x³ for a sine of amplitude A:
        a2·A/2 and a3·A²/4, each over the fundamental's gain 1 + 3/4·a3·A² (the x³ term adds to it)."""
        a2 = 2.0 * 10 ** (self.HARMONIC2_DB / 20)
        a3 = 4.0 * 10 ** (self.HARMONIC3_DB / 20)
        amplitude = 10 ** (self.LEVEL_DBFS / 20)
        fundamental = 1.0 + 0.75 * a3 * amplitude ** 2
        return (20 * np.log10(a2 * amplitude / 2 / fundamental),
                20 * np.log10(a3 * amplitude ** 2 / 4 / fundamental))

    def test_harmonics_measured_at_set_levels(self):
        sweep_path = os.path.join(self.folder, "sweep.wav")
        subprocess.run([cli_support.linetune_exe(), "sweep", sweep_path, "--duration-s", SWEEP_S, "--level-dbfs",
                        str(self.LEVEL_DBFS), "--silence-s", TAIL_S], check=True, capture_output=True)
        result = subprocess.run([cli_support.linetune_exe(), "analyze", self.recording_path, "--sweep", sweep_path,
                                 "--channel", str(self.monitor_channel), "--distortion", "--json"],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        distortion = json.loads(result.stdout)["files"][0]["channels"][0]["distortion"]
        freqs_hz = np.array(distortion["freq_hz"], dtype=float)
        # H3 of a fundamental up to 4 kHz and H2 up to 6 kHz lie under the sweep's 20 kHz end.
        for name, expected_db, highest_hz in zip(("h2_percent", "h3_percent"), self.expected_harmonics_db(),
                                                 (6000.0, 4000.0)):
            with self.subTest(harmonic=name):
                percent = np.array([np.nan if value is None else value for value in distortion[name]], dtype=float)
                band = (freqs_hz >= 100.0) & (freqs_hz <= highest_hz)
                self.assertFalse(np.any(np.isnan(percent[band])), f"{name} is missing between 100 Hz and {highest_hz} Hz")
                measured_db = 20 * np.log10(percent[band] / 100)
                error_db = np.max(np.abs(measured_db - expected_db))
                print(f"{name}: {np.min(measured_db):.2f} to {np.max(measured_db):.2f} dB from 100 Hz to "
                      f"{highest_hz:.0f} Hz, set {expected_db:.2f} dB, largest error {error_db:.2f} dB")
                self.assertLessEqual(error_db, self.MAX_HARMONIC_ERROR_DB)

    def test_third_harmonic_does_not_alias(self):
        rate, recording = read_wav(self.recording_path)
        monitor = recording[:, self.monitor_channel - 1]
        # Frames of 256 samples (5.3 ms, 188 Hz bins): the sweep moves about 0.4 kHz within one at
        # 11 kHz, and a 4-term Blackman-Harris window keeps its sidelobes 92 dB down.
        frame, hop = 256, 64
        window = get_window("blackmanharris", frame)
        freqs_hz = np.fft.rfftfreq(frame, 1.0 / rate)
        alias_band = (freqs_hz >= 13500.0) & (freqs_hz <= 16500.0)
        spectra = [np.abs(np.fft.rfft(monitor[start:start + frame] * window)) ** 2
                   for start in range(0, len(monitor) - frame, hop)]
        # Frames of the sweep itself, within 20 dB of its loudest: the tail's noise also peaks
        # somewhere, but at its own level.
        loudest = max(np.max(power) for power in spectra)
        worst_db = None
        for power in spectra:
            peak = int(np.argmax(power))
            if not 10800.0 <= freqs_hz[peak] <= 11200.0 or power[peak] < 0.01 * loudest:
                continue
            alias_db = 10 * np.log10(np.max(power[alias_band]) / power[peak])
            worst_db = alias_db if worst_db is None else max(worst_db, alias_db)
        self.assertIsNotNone(worst_db, "the sweep never passed 11 kHz on the amplifier monitor")
        print(f"largest product at 13.5 to 16.5 kHz while the sweep passes 11 kHz: {worst_db:.1f} dB re the fundamental")
        self.assertLess(worst_db, self.MAX_ALIAS_DB)


class SampleRateMismatch(unittest.TestCase):
    """A JACK server at 44.1 kHz against a venue at 48 kHz: no sound is played."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="linetune-jack-rate-")
        self.server = None
        require_tools()
        self.venue_path, _ = venue_files(self.folder)
        self.server = JackServer(self.folder, 44100, name_prefix="lt-capture")

    def tearDown(self):
        if self.server is not None:
            self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def test_device_rate_other_than_venue_is_configuration_error(self):
        session = os.path.join(self.folder, "session")
        code, out, err = measure(self.server, self.venue_path, "--host-api", "JACK", "--sweep-s", SWEEP_S,
                                 "--tail-s", TAIL_S, "--max-passes", MAX_PASSES, "--out", session)
        self.assertEqual(code, 2, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn("does not run at 48000 Hz", err)
        self.assertIn("44100 Hz", err)
        self.assertFalse(os.path.exists(os.path.join(session, "measurements")))


if __name__ == "__main__":
    cli_support.main()
