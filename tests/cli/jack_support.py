"""Shared helpers of the command-line tests that run a JACK server: the dummy-backend jackd, the
virtual venue (tools/virtual_venue), and starting and stopping processes by their id."""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest

try:
    from scipy.io import wavfile
except ImportError:  # checked in require_tools
    wavfile = None

# Without real-time scheduling (see realtime_allowed), a loaded CI machine makes jackd's dummy
# backend miss a period now and then: 1024-frame periods (21 ms) keep that rare, and each pass with
# an xrun is still detected and repeated.
PERIOD_FRAMES = "1024"
# SCHED_FIFO priority of jackd's own threads where the machine allows real-time scheduling. JACK 2
# gives its clients' process threads (the virtual venue, PortAudio in linetune) a priority just
# below it. jackd's default, 10, is above every normally scheduled process.
REALTIME_PRIORITY = "10"
# JACK 1.9.21's clients crash in malloc (jack_lsp, PortAudio) on servers whose name has 24 or more
# characters, while the server itself starts; 23 works. Names are cut to fit.
MAX_SERVER_NAME_CHARS = 23
START_TIMEOUT_S = 30.0  # how long a new jackd may take to show its system ports

_server_count = 0


def virtual_venue_exe():
    """Path of tools/virtual_venue, passed by meson in LINETUNE_VIRTUAL_VENUE_EXE ('' without JACK headers)."""
    return os.environ.get("LINETUNE_VIRTUAL_VENUE_EXE", "")


def require_tools():
    """Skip without jackd, the virtual venue or scipy; under CI=true that is a failure instead."""
    missing = []
    if shutil.which("jackd") is None:
        missing.append("jackd (Debian package jackd2)")
    if not virtual_venue_exe() or not os.path.exists(virtual_venue_exe()):
        missing.append("tools/virtual_venue (build it with libjack-jackd2-dev installed)")
    if wavfile is None:
        missing.append("scipy (Debian package python3-scipy)")
    if not missing:
        return
    message = "JACK capture tests need " + ", ".join(missing) + "; tools/setup.sh installs them"
    if os.environ.get("CI") == "true":
        raise AssertionError(message + " (CI=true)")
    raise unittest.SkipTest(message)


def realtime_allowed():
    """Tell whether a process started here may take SCHED_FIFO scheduling (root, or
    CAP_SYS_NICE with an RLIMIT_RTPRIO above 0), by trying it in a short-lived child.

    Under normal scheduling, even at raise_priority's nice level, the process threads of jackd
    and its clients wait behind busy processes for longer than a period. On a 2-core machine
    running compilers and six busy loops (load 9 to 11), 2.4 s passes then had up to 25 xruns
    each. Multiple-sweep measurements failed after 5 such passes: 3 of 6 in one series, 1 of 8
    in another. In real time under the same load, 1 pass in 14 measurements had an xrun."""
    probe = subprocess.run([sys.executable, "-c",
                            "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))"],
                           capture_output=True)
    return probe.returncode == 0


def raise_priority():
    """Raise the priority of each child before exec by 10 steps (nice -10), which makes xruns of
    the dummy backend rarer on a loaded machine when jackd runs without real-time scheduling, and
    keeps linetune's other threads ahead of busy processes. Without the right to raise it, the
    child runs at the default priority."""
    try:
        os.nice(-10)
    except PermissionError:
        pass


def start(args, log_path, env=None):
    """Start a process with its output in log_path."""
    with open(log_path, "w") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=raise_priority, env=env)


def stop(process):
    """Stop a process we started, by its id: SIGTERM, then SIGKILL after 5 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class JackServer:
    """A jackd on the dummy backend with 8 inputs and 8 outputs, under a name of its own, in real
    time where the machine allows it (realtime_allowed)."""

    def __init__(self, folder, rate_hz, name_prefix="linetune-test"):
        global _server_count
        _server_count += 1
        suffix = f"-{os.getpid()}-{_server_count}"
        self.name = name_prefix[:MAX_SERVER_NAME_CHARS - len(suffix)] + suffix
        self.env = dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_AUDIO_RESERVATION="1")
        self.log_path = os.path.join(folder, f"jackd-{_server_count}.log")
        scheduling = ["--realtime", "--realtime-priority", REALTIME_PRIORITY] if realtime_allowed() else ["--no-realtime"]
        self.process = start(["jackd", *scheduling, "-n", self.name, "-d", "dummy", "-r", str(rate_hz),
                              "-p", PERIOD_FRAMES, "-C", "8", "-P", "8"], self.log_path, self.env)
        try:
            self._wait_until_running()
        except AssertionError:
            self.close()  # no jackd is left behind when it never came up
            raise

    def _wait_until_running(self):
        # Generous: on a loaded 2-core machine jackd has taken more than 10 s to open its ports.
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jackd exited with {self.process.returncode}:\n{self.log()}")
            if shutil.which("jack_lsp"):
                probe = subprocess.run(["jack_lsp", "-s", self.name], capture_output=True, text=True,
                                       env=self.env, timeout=10)
                if "system:capture_1" in probe.stdout:
                    return
            elif time.monotonic() > deadline - START_TIMEOUT_S + 2.0:
                return
            time.sleep(0.2)
        raise AssertionError(f"jackd '{self.name}' did not start within {START_TIMEOUT_S:.0f} s:\n{self.log()}")

    def log(self):
        with open(self.log_path) as file:
            return file.read()

    def close(self):
        stop(self.process)
        # JACK2 names its shared-memory segments and semaphores after the server.
        for entry in os.listdir("/dev/shm"):
            if self.name in entry:
                try:
                    os.remove(os.path.join("/dev/shm", entry))
                except OSError:
                    pass


def builtin_venue(zones, mics):
    """The virtual venue's built-in venue (a dict) cut to the given zones and microphones."""
    text = subprocess.run([virtual_venue_exe(), "--print-builtin-venue"], capture_output=True, text=True,
                          check=True).stdout
    venue = json.loads(text)
    venue["zones"] = [zone for zone in venue["zones"] if zone["name"] in zones]
    venue["microphones"] = [mic for mic in venue["microphones"] if mic["name"] in mics]
    for mic in venue["microphones"]:
        mic["zones"] = {zone: weight for zone, weight in mic["zones"].items() if zone in zones}
    return venue


def start_virtual_venue(venue_path, server, log_path, *extra_args):
    """Start tools/virtual_venue on the server and wait up to 30 s for its 'ready' line."""
    process = start([virtual_venue_exe(), "--venue", venue_path, "--server", server.name, *extra_args], log_path,
                    server.env)
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        with open(log_path) as file:
            if "ready" in file.read():
                return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop(process)
    with open(log_path) as file:
        raise AssertionError("virtual_venue did not become ready:\n" + file.read())


def release_rig(fixture, process_names=("venue_process",)):
    """Stop the fixture's processes (attributes named in process_names) and its JACK server, then
    remove its folder. Meant for tearDownClass; attributes already None are skipped."""
    for name in process_names:
        process = getattr(fixture, name, None)
        if process is not None:
            stop(process)
            setattr(fixture, name, None)
    if getattr(fixture, "server", None) is not None:
        fixture.server.close()
        fixture.server = None
    shutil.rmtree(fixture.folder, ignore_errors=True)
