"""Shared helpers for the report tests: a simulated session and the report's structure as parsed."""

import html.parser
import os

from cli_support import fresh_scratch_dir, load_json, run_linetune

# The kinds of plot the report draws for every mic of a zone, and once per zone.
MIC_PLOTS = ["magnitude", "phase", "impulse-response", "energy-time", "signal-to-noise"]
ZONE_PLOTS = ["zone-magnitude"]


def simulated_session(name):
    """Run the whole simulated job into a fresh scratch session folder; return (folder, stdout)."""
    session = fresh_scratch_dir("report", name)
    _, out, _ = run_linetune("run", "--simulate", "--yes", "--session", session, check_exit=0)
    return session, out


def expected_mics(session):
    """Map each zone of the session's venue to the mics that judge it (weight present), in venue order."""
    venue = load_json(os.path.join(session, "venue.json"))
    zones = {zone["name"]: [] for zone in venue["zones"]}
    for mic in venue["microphones"]:
        for zone in mic.get("zones", {}):
            zones[zone].append(mic["name"])
    return zones


class ReportStructure(html.parser.HTMLParser):
    """Collects the zones, figures and the path data of every curve of a report page."""

    def __init__(self):
        super().__init__()
        self.zones = []
        self.figures = []  # dicts: plot, zone, mic, series (name -> path data)
        self.tags = set()
        self.attribute_values = []
        self.tables = []
        self._figure = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.add(tag)
        self.attribute_values += [value or "" for _, value in attrs]
        if tag == "section" and "zone" in attributes.get("class", "").split():
            self.zones.append(attributes.get("data-zone"))
        elif tag == "figure":
            self._figure = {"plot": attributes.get("data-plot"), "zone": attributes.get("data-zone"),
                            "mic": attributes.get("data-mic"), "series": {}}
            self.figures.append(self._figure)
        elif tag == "path" and self._figure is not None and attributes.get("class") == "series":
            self._figure["series"][attributes.get("data-series")] = attributes.get("d", "")
        elif tag == "table":
            self.tables.append(attributes.get("class", ""))

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None


def parse_report(text):
    """Parse report HTML into a ReportStructure."""
    structure = ReportStructure()
    structure.feed(text)
    structure.close()
    return structure


def point_count(path_data):
    """Number of points in SVG path data made of M and L commands."""
    return path_data.count("M") + path_data.count("L")


def missing_plots(test_case, structure, zones):
    """Assert that every zone has its zone plots and every mic all its plots, each with drawn curves."""
    for zone, mics in zones.items():
        for kind in ZONE_PLOTS:
            figures = [f for f in structure.figures if f["zone"] == zone and f["plot"] == kind]
            test_case.assertEqual(len(figures), 1, f"zone {zone}: {kind}")
            test_case.assertGreater(max(point_count(d) for d in figures[0]["series"].values()), 20, f"zone {zone}")
        for mic in mics:
            for kind in MIC_PLOTS:
                figures = [f for f in structure.figures if f["zone"] == zone and f["mic"] == mic and f["plot"] == kind]
                test_case.assertEqual(len(figures), 1, f"zone {zone}, mic {mic}: {kind}")
                series = figures[0]["series"]
                test_case.assertIn("before", series, f"zone {zone}, mic {mic}: {kind}")
                test_case.assertIn("after", series, f"zone {zone}, mic {mic}: {kind}")
                for name in ["before", "after"]:
                    # Ten points is far below any curve the report draws (24 per octave, 640 px).
                    test_case.assertGreater(point_count(series[name]), 10, f"zone {zone}, mic {mic}: {kind} {name}")
