"""Mic calibration from a calibrator recording (`linetune measure --calibrate MIC`) through a real
JACK server and PortAudio's JACK host API, and the later measurement that uses it.

tools/virtual_venue adds a calibrator's 1 kHz sine at -20.0 dBFS RMS to mic near-left's input
(--calibrator-input), as a 94 dB SPL calibrator held on that mic would give. Calibrating it must
store a sensitivity of -20.0 dBFS in the session's calibration.json. A mic that hears only the
venue's noise must be refused, with nothing stored. A normal measurement with the same --out must then
use the stored sensitivity instead of the venue file's -60 dBFS: the test tone's SPL prediction
follows it, and the SPL ceiling refuses the sweep by it.

One jackd (dummy backend, a server name starting lcal-) serves every run. The virtual venue runs
twice, with and without the calibrator. Every process is stopped by its process id, and the server's
shared-memory files are removed.
"""

import json
import math
import os
import shutil
import subprocess
import tempfile
import unittest

import cli_support
import jack_support
from jack_support import JackServer, builtin_venue, raise_priority, require_tools, stop

ZONE = "L-mid"
MICS = ["near-left", "mid-centre", "mid-left"]  # the built-in mics that hear L-mid
CALIBRATED_MIC = "near-left"
CALIBRATOR_RMS_DBFS = -20.0
VENUE_FILE_SENSITIVITY_DBFS = -60.0  # the venue file's value before calibrating
# JACK delivers the sine unchanged and adds -90 dBFS of noise: the reading must be within 0.05 dB.
MAX_SENSITIVITY_ERROR_DB = 0.05
SINE_PEAK_TO_RMS_DB = 20 * math.log10(math.sqrt(2.0))


def run_linetune(server, *args):
    result = subprocess.run([cli_support.linetune_exe(), "measure", *args], capture_output=True, text=True,
                            env=server.env, stdin=subprocess.DEVNULL, timeout=120, preexec_fn=raise_priority)
    return result.returncode, result.stdout, result.stderr


class CalibrateThroughJack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.mkdtemp(prefix="lcal-")
        cls.server = None
        require_tools()
        venue = builtin_venue([ZONE], MICS)
        for mic in venue["microphones"]:
            if mic["name"] == CALIBRATED_MIC:
                mic["sensitivity_dbfs"] = VENUE_FILE_SENSITIVITY_DBFS
                cls.calibrated_input = mic["input"]
        cls.venue_path = os.path.join(cls.folder, "venue.json")
        with open(cls.venue_path, "w") as file:
            json.dump(venue, file, indent=2)
        cls.server = JackServer(cls.folder, 48000, name_prefix="lcal")

    @classmethod
    def tearDownClass(cls):
        jack_support.release_rig(cls, ())

    def start_venue(self, name, *extra_args):
        process = jack_support.start_virtual_venue(self.venue_path, self.server,
                                                   os.path.join(self.folder, name + ".log"), *extra_args)
        self.addCleanup(stop, process)
        return process

    def measure_args(self, session, *extra_args):
        return [self.venue_path, "--host-api", "JACK", "--zones", ZONE, "--sweep-s", "1", "--tail-s", "0.5",
                "--max-passes", "5", "--out", session, *extra_args]

    def test_calibration_then_measurement_in_db_spl(self):
        session = os.path.join(self.folder, "session")
        calibration_path = os.path.join(session, "calibration.json")

        # 1. The calibrator on near-left: its sensitivity is stored and the venue-file line printed.
        calibrator = self.start_venue("venue-calibrator", "--calibrator-input", str(self.calibrated_input),
                                      "--calibrator-rms-dbfs", str(CALIBRATOR_RMS_DBFS), "--calibrator-hz", "1000")
        code, out, err = run_linetune(self.server, self.venue_path, "--host-api", "JACK", "--calibrate",
                                      CALIBRATED_MIC, "--calibration-s", "2", "--out", session)
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        print(out)
        self.assertIn("calibrator tone at 1000.0 Hz", out)
        self.assertIn('"sensitivity_dbfs": -20.0', out)
        with open(calibration_path) as file:
            stored = json.load(file)
        self.assertEqual([entry["mic"] for entry in stored["mics"]], [CALIBRATED_MIC])
        entry = stored["mics"][0]
        sensitivity_dbfs = entry["sensitivity_dbfs"]
        print(f"calibrated sensitivity {sensitivity_dbfs:.4f} dBFS, tone {entry['frequency_hz']:.2f} Hz, "
              f"spread {entry['level_spread_db']:.4f} dB, tone to noise {entry['tone_to_noise_db']:.1f} dB")
        self.assertLessEqual(abs(sensitivity_dbfs - CALIBRATOR_RMS_DBFS), MAX_SENSITIVITY_ERROR_DB)
        self.assertEqual(entry["input"], self.calibrated_input)
        self.assertLess(abs(entry["frequency_hz"] - 1000.0), 0.1)

        # 2. A mic without a calibrator is refused (exit code 1), and the file keeps only near-left.
        code, out, err = run_linetune(self.server, self.venue_path, "--host-api", "JACK", "--calibrate",
                                      "mid-centre", "--calibration-s", "2", "--out", session)
        self.assertEqual(code, 1, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn("mic 'mid-centre'", err)
        self.assertIn("holds no tone", err)
        with open(calibration_path) as file:
            self.assertEqual(json.load(file), stored)
        stop(calibrator)

        # 3. A normal measurement uses the calibration file, not the venue file's -60 dBFS, which
        #    would put the sweep above the default 115 dB SPL ceiling.
        self.start_venue("venue-plain")
        code, out, err = run_linetune(self.server, *self.measure_args(session))
        self.assertEqual(code, 0, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn(f"mic '{CALIBRATED_MIC}': sensitivity {sensitivity_dbfs:.2f} dBFS from {calibration_path}", out)
        self.assertIn(f"instead of the venue file's {VENUE_FILE_SENSITIVITY_DBFS:.2f} dBFS", out)
        self.assertIn("mic 'mid-centre': no sensitivity", out)
        with open(os.path.join(session, "measurements", ZONE, "recording.json")) as file:
            recording = json.load(file)
        channels = {channel["mic"]: channel for channel in recording["channels"] if not channel["loopback"]}
        calibrated = channels[CALIBRATED_MIC]
        self.assertEqual(calibrated["sensitivity_source"], "calibration file")
        self.assertAlmostEqual(calibrated["sensitivity_dbfs"], sensitivity_dbfs, places=9)
        expected_db_spl = calibrated["predicted_peak_dbfs"] - SINE_PEAK_TO_RMS_DB - sensitivity_dbfs + 94.0
        print(f"{CALIBRATED_MIC}: predicted sweep peak {calibrated['predicted_peak_dbfs']:.2f} dBFS = "
              f"{calibrated['predicted_peak_db_spl']:.2f} dB SPL, recorded peak {calibrated['peak_dbfs']:.2f} dBFS")
        self.assertAlmostEqual(calibrated["predicted_peak_db_spl"], expected_db_spl, delta=0.01)
        self.assertIsNone(channels["mid-centre"]["predicted_peak_db_spl"])
        self.assertIsNone(channels["mid-centre"]["sensitivity_source"])
        # The venue file gives no room T60, so the zone's impulse responses estimate it.
        self.assertIn(f"room T60 estimated from zone '{ZONE}'", out)
        room = recording["room_t60"]
        print(f"room T60 estimate {room['t60_s']:.3f} s ({room['metric']} of mic '{room['mic']}' at "
              f"{room['band_hz']:.0f} Hz), tail {recording['tail_s']:.3f} s, measured again: {room['remeasured']}")
        self.assertEqual(room["source"], "estimated")
        self.assertEqual(room["zone"], ZONE)
        expected_tail_s = max(0.5, room["t60_s"]) if room["remeasured"] else 0.5
        self.assertAlmostEqual(recording["tail_s"], expected_tail_s, places=9)

        # 4. The SPL ceiling uses the calibrated sensitivity: a ceiling 5 dB under the prediction
        #    refuses the sweep (exit code 2) in a new session that holds only the calibration file.
        ceiling_session = os.path.join(self.folder, "session-ceiling")
        os.makedirs(ceiling_session)
        shutil.copy(calibration_path, ceiling_session)
        ceiling_db_spl = round(calibrated["predicted_peak_db_spl"] - 5.0)
        code, out, err = run_linetune(self.server, *self.measure_args(ceiling_session, "--max-peak-db-spl",
                                                                       str(ceiling_db_spl)))
        self.assertEqual(code, 2, f"stdout:\n{out}\nstderr:\n{err}")
        self.assertIn(f"mic '{CALIBRATED_MIC}'", err)
        self.assertIn("dB SPL", err)
        self.assertNotIn("mic 'mid-centre'", err)
        self.assertFalse(os.path.exists(os.path.join(ceiling_session, "measurements", ZONE, "recording.json")))


if __name__ == "__main__":
    cli_support.main()
