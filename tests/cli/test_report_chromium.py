#!/usr/bin/python3
"""The report of a simulated session rendered by headless Chromium with the network cut off: the
DOM after loading holds every zone's plots with drawn curves, and a screenshot is kept in the
build folder for a person to look at. Skips without Chromium, fails under CI=true."""

import os
import shutil
import subprocess
import unittest

from cli_support import fresh_scratch_dir, main
from report_support import expected_mics, missing_plots, parse_report, simulated_session

CHROMIUM = "/usr/bin/chromium"

# Seconds one Chromium run may take: start-up on a loaded 2-core machine takes a few seconds,
# and the page has about 200 plots.
CHROMIUM_TIMEOUT_S = 120


def require_chromium(test_case):
    """Skip when Chromium is absent; under CI=true that is a failure instead."""
    if os.access(CHROMIUM, os.X_OK):
        return
    if os.environ.get("CI") == "true":
        test_case.fail(f"{CHROMIUM} is missing and CI=true; install the Debian package chromium")
    raise unittest.SkipTest(f"{CHROMIUM} not found; install the Debian package chromium to run this test")


def run_chromium(profile_dir, *args):
    """Run headless Chromium with every network path closed; return its stdout."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        # Every host name resolves to nothing, so no request can leave the machine, and the
        # background services that would try are off.
        "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--no-first-run", "--no-default-browser-check",
        "--user-data-dir=" + profile_dir, *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}\nstderr:\n{result.stderr[-3000:]}")
    return result.stdout


class ChromiumReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.session, _ = simulated_session("chromium")
        cls.url = "file://" + os.path.abspath(os.path.join(cls.session, "report.html"))
        cls.scratch = fresh_scratch_dir("report", "chromium-profile")

    def setUp(self):
        require_chromium(self)

    def test_dom_holds_every_zone_plot(self):
        dom = run_chromium(self.scratch, "--dump-dom", self.url)
        structure = parse_report(dom)
        zones = expected_mics(self.session)
        self.assertEqual(structure.zones, list(zones))
        missing_plots(self, structure, zones)

    def test_screenshot_saved(self):
        screenshot = os.path.join(os.environ["LINETUNE_TEST_SCRATCH_DIR"], "report", "report-screenshot.png")
        if os.path.exists(screenshot):
            os.remove(screenshot)
        # 1400 px shows two plots side by side; 3000 px holds the summary and the first zone.
        run_chromium(self.scratch, "--screenshot=" + screenshot, "--window-size=1400,3000", "--hide-scrollbars",
                     self.url)
        self.assertTrue(os.path.isfile(screenshot))
        with open(screenshot, "rb") as stream:
            self.assertEqual(stream.read(8), b"\x89PNG\r\n\x1a\n")
        # A blank 1400 x 3000 PNG compresses to a few kB; a page of plots is far larger.
        self.assertGreater(os.path.getsize(screenshot), 50_000)
        print(f"screenshot of the report: {screenshot}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
