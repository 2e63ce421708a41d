"""tools/virtual_amp for the command-line tests: started on 127.0.0.1 with a port of its own
choosing, stopped by its process id."""

import os
import selectors
import signal
import subprocess

from cli_support import load_json

# How long the amplifier may take to print the port it listens on.
START_TIMEOUT_S = 10.0


def virtual_amp_exe():
    """Path of the virtual_amp program, passed by meson in LINETUNE_VIRTUAL_AMP_EXE."""
    return os.environ["LINETUNE_VIRTUAL_AMP_EXE"]


class VirtualAmp:
    """A running tools/virtual_amp that writes its state to FOLDER/amp-state.json and its log to
    FOLDER/amp.log. The options are passed to the program unchanged (profile, protocol, initial
    state, faults)."""

    def __init__(self, folder, *options):
        self.state_file = os.path.join(folder, "amp-state.json")
        self.log_path = os.path.join(folder, "amp.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([virtual_amp_exe(), "--state-file", self.state_file, *map(str, options)],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            line = self.process.stdout.readline().strip() if selector.select(START_TIMEOUT_S) else ""
        if not line.startswith("port "):
            self.stop()
            raise AssertionError(f"virtual_amp did not start: expected 'port N' on its output, got {line!r}; "
                                 f"log: {self.log_text()}")
        self.port = int(line.split()[1])

    def state(self):
        """Return the channels as the amplifier last saved them."""
        return load_json(self.state_file)["channels"]

    def log_text(self):
        """Return the amplifier's log so far."""
        self.log.flush()
        with open(self.log_path, encoding="utf-8") as handle:
            return handle.read()

    def stop(self):
        """Send SIGTERM and return the exit code; a second call only returns it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.process.stdout.closed:
            self.process.stdout.close()
        if not self.log.closed:
            self.log.close()
        return self.process.returncode
