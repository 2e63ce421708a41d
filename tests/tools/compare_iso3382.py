#!/usr/bin/python3
"""Compare linetune's ISO 3382-1 metrics with the Python reference implementation.

For each WAV file the script runs `LINETUNE_EXE analyze --json FILE` (or reads
a prepared JSON document given with --linetune-json), computes the same file
with iso3382_reference.py and compares channel 1 (every channel with
--all-channels), broadband and per octave band.

Tolerances:
* EDT, T20, T30 and D50 agree when they are within 5 % of the reference value.
* C50 and C80 agree when they are within 5 % of the reference value or within
  0.3 dB of it, whichever is larger.

A value is compared only when both implementations report it, and a
reverberation time only when the reference regression has |r| >= 0.98.
Skipped values are listed with the reason.

Exit status:
* 0: every compared value agrees, and at least --min-compared were compared.
* 1: a value disagrees, linetune fails on a file, or too few were compared.
* 2: usage error (missing file or program, unreadable JSON document).

Usage: compare_iso3382.py --linetune LINETUNE_EXE FILE.wav...
       compare_iso3382.py --linetune-json RESULT.json FILE.wav...
"""

import argparse
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iso3382_reference  # noqa: E402  (needs the path set above)

# Relative tolerance of reverberation times and D50, and of C50/C80.
RELATIVE_TOLERANCE = 0.05
# Absolute tolerance of C50/C80 in dB, used when larger than the relative one.
CLARITY_TOLERANCE_DB = 0.3
# Reverberation times are compared only where the reference regression line
# fits this well, because a worse fit means a curved decay and an ill-defined slope.
MIN_ABS_CORRELATION = 0.98
# Default lower bound on the number of compared values, so that a run which
# silently compares nothing (renamed keys, empty output) fails.
DEFAULT_MIN_COMPARED = 30
# Two band centres belong to the same octave band when they are within a
# sixth of an octave, so nominal (1000, 2000) and exact (1000, 1995.3) both match.
BAND_MATCH_OCTAVES = 1.0 / 6.0
# Limit for one `linetune analyze` run, in seconds.
LINETUNE_TIMEOUT_S = 600

REVERBERATION_KEYS = ("edt_s", "t20_s", "t30_s")
CLARITY_KEYS = ("c50_db", "c80_db")
METRIC_KEYS = REVERBERATION_KEYS + CLARITY_KEYS + ("d50",)


class UsageError(Exception):
    """Invalid argument, missing file or unreadable JSON document (exit status 2)."""


def load_json_document(path):
    """Read a JSON document from path, raising UsageError with the file name."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        raise UsageError(f"JSON file '{path}' could not be read ({error}). "
                         "Pass a JSON document from `linetune analyze --json`") from error


def file_entries(document):
    """Return the per-file entries of a linetune document or of a reference document."""
    if isinstance(document, dict) and isinstance(document.get("files"), list):
        return document["files"]
    if isinstance(document, dict) and "file" in document and "channels" in document:
        return [{"path": document["file"], "channels": document["channels"]}]
    return None


def find_file_entry(entries, wav_path):
    """Return the entry whose path names wav_path, matching the base name if it is unique."""
    expected_path = os.path.realpath(wav_path)
    for entry in entries:
        if os.path.realpath(str(entry.get("path", ""))) == expected_path:
            return entry
    same_name = [entry for entry in entries
                 if os.path.basename(str(entry.get("path", ""))) == os.path.basename(wav_path)]
    return same_name[0] if len(same_name) == 1 else None


def run_linetune(executable, wav_path):
    """Run `linetune analyze --json` on one file and return (file entry, None) or (None, failure)."""
    command = [executable, "analyze", "--json", wav_path]
    try:
        completed = subprocess.run(command, capture_output=True, text=True,
                                   timeout=LINETUNE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return None, f"linetune timed out after {LINETUNE_TIMEOUT_S} s"
    except OSError as error:
        return None, f"linetune could not be started ({error})"

    if completed.returncode != 0:
        message = completed.stderr.strip().splitlines()
        detail = message[-1] if message else "no message on stderr"
        return None, f"linetune exited with status {completed.returncode}: {detail}"
    try:
        entries = file_entries(json.loads(completed.stdout))
    except ValueError as error:
        return None, f"linetune printed invalid JSON ({error})"
    if entries is None:
        return None, "linetune JSON has no 'files' list"
    entry = find_file_entry(entries, wav_path)
    if entry is None:
        return None, "linetune JSON has no entry for this file"
    return entry, None


def channel_entries(file_entry):
    """Map channel number (1-based) to its channel object."""
    result = {}
    for position, channel in enumerate(file_entry.get("channels") or []):
        if isinstance(channel, dict):
            result[int(channel.get("channel", position + 1))] = channel
    return result


def find_band(bands, centre_hz):
    """Return the band object whose center_hz is within BAND_MATCH_OCTAVES of centre_hz."""
    for band in bands or []:
        other_hz = band.get("center_hz") if isinstance(band, dict) else None
        if isinstance(other_hz, (int, float)) and other_hz > 0.0:
            if abs(math.log2(other_hz / centre_hz)) <= BAND_MATCH_OCTAVES:
                return band
    return None


def number_or_none(value):
    """Return value as float when it is a finite number, otherwise None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def values_agree(key, linetune_value, reference_value):
    """Apply the tolerance of the metric named key."""
    difference = abs(linetune_value - reference_value)
    allowed = RELATIVE_TOLERANCE * abs(reference_value)
    if key in CLARITY_KEYS:
        allowed = max(allowed, CLARITY_TOLERANCE_DB)
    return difference <= allowed


def compare_metrics(label, linetune, reference, compared, skipped):
    """Compare one broadband or band metrics pair, appending rows to compared and skipped."""
    for key in METRIC_KEYS:
        reference_value = number_or_none(reference.get(key))
        linetune_value = number_or_none(linetune.get(key)) if linetune is not None else None
        row = label + (key,)
        if reference_value is None and linetune_value is None:
            continue
        if reference_value is None:
            skipped.append(row + ("not reported by the reference",))
            continue
        if linetune_value is None:
            skipped.append(row + ("not reported by linetune",))
            continue
        if key in REVERBERATION_KEYS:
            correlation = number_or_none(reference.get(key[:-len("_s")] + "_correlation"))
            if correlation is None or abs(correlation) < MIN_ABS_CORRELATION:
                skipped.append(row + (f"reference |r| = {abs(correlation or 0.0):.4f} "
                                      f"< {MIN_ABS_CORRELATION}",))
                continue
        compared.append(row + (linetune_value, reference_value,
                               values_agree(key, linetune_value, reference_value)))


def compare_file(display_name, linetune_entry, reference_document, all_channels,
                 compared, skipped, failures):
    """Compare every requested channel of one file."""
    linetune_channels = channel_entries(linetune_entry)
    for reference_channel in reference_document["channels"]:
        number = reference_channel["channel"]
        if not all_channels and number != 1:
            continue
        linetune_channel = linetune_channels.get(number)
        if linetune_channel is None:
            failures.append(f"{display_name}, channel {number}: linetune JSON has no such channel")
            continue

        # A channel that linetune analysed but withheld metrics for (for example
        # one flagged as not an impulse response) is skipped, not failed.
        linetune = linetune_channel.get("metrics")
        if not isinstance(linetune, dict):
            flags = ", ".join(str(flag) for flag in linetune_channel.get("flags") or []) or "none"
            skipped.append((display_name, number, "all bands", "all metrics",
                            f"linetune reports no metrics (flags: {flags})"))
            continue

        reference = reference_channel["metrics"]
        compare_metrics((display_name, number, "broadband"), linetune, reference,
                        compared, skipped)
        for reference_band in reference["octave_bands"]:
            linetune_band = find_band(linetune.get("octave_bands"), reference_band["center_hz"])
            label = (display_name, number, f"{reference_band['center_hz']} Hz")
            compare_metrics(label, linetune_band, reference_band, compared, skipped)


def format_value(value):
    """Format a metric value for the table."""
    return f"{value:.4g}"


def print_report(compared, skipped, failures):
    """Print the comparison table, the skipped values and the failures."""
    header = ("file", "ch", "band", "metric", "linetune", "reference", "deviation %", "result")
    rows = []
    for name, channel, band, key, linetune_value, reference_value, agreed in compared:
        deviation = ("n/a" if reference_value == 0.0 else
                     f"{100.0 * (linetune_value - reference_value) / abs(reference_value):+.2f}")
        rows.append((name, str(channel), band, key, format_value(linetune_value),
                     format_value(reference_value), deviation, "ok" if agreed else "DISAGREES"))

    widths = [max(len(row[column]) for row in rows + [header]) for column in range(len(header))]
    for row in [header] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    if skipped:
        print(f"\nskipped ({len(skipped)}):")
        for name, channel, band, key, reason in skipped:
            print(f"  {name} ch {channel} {band} {key}: {reason}")
    if failures:
        print(f"\nfailures ({len(failures)}):")
        for failure in failures:
            print(f"  {failure}")


def display_names(paths):
    """Use base names in the table unless two files share one."""
    names = [os.path.basename(path) for path in paths]
    return [name if names.count(name) == 1 else path for name, path in zip(names, paths)]


def parse_arguments(argv):
    """Parse and check the command line, raising UsageError for a missing file or program."""
    parser = argparse.ArgumentParser(
        description="Compare linetune's ISO 3382-1 metrics (EDT, T20, T30, C50, C80, D50) "
                    "with the Python reference. Exits with status 1 when a value disagrees.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--linetune", metavar="LINETUNE_EXE",
                        help="linetune program, run as `LINETUNE_EXE analyze --json FILE`")
    source.add_argument("--linetune-json", metavar="JSON", action="append",
                        help="prepared JSON document in the `analyze --json` layout "
                             "(repeatable, and a reference document is accepted too)")
    parser.add_argument("--all-channels", action="store_true",
                        help="compare every channel instead of channel 1 only")
    parser.add_argument("--min-compared", type=int, default=DEFAULT_MIN_COMPARED,
                        help="fail when fewer values than this were compared "
                             f"(default {DEFAULT_MIN_COMPARED})")
    parser.add_argument("files", nargs="+", metavar="FILE.wav", help="impulse response WAV files")
    arguments = parser.parse_args(argv)

    for path in arguments.files:
        if not os.path.isfile(path):
            raise UsageError(f"WAV file '{path}' not found")
    if arguments.linetune is not None and not os.access(arguments.linetune, os.X_OK):
        raise UsageError(f"linetune program '{arguments.linetune}' not found or not executable. "
                         "Build it first or pass --linetune-json")
    return arguments


def main(argv=None):
    """Run the comparison and return the exit status."""
    try:
        arguments = parse_arguments(argv)
        prepared_entries = []
        for path in arguments.linetune_json or []:
            entries = file_entries(load_json_document(path))
            if entries is None:
                raise UsageError(f"JSON file '{path}' has neither a 'files' list "
                                 "nor a reference 'file' entry")
            prepared_entries.extend(entries)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    compared, skipped, failures = [], [], []
    for path, name in zip(arguments.files, display_names(arguments.files)):
        try:
            reference = iso3382_reference.analyse_file(
                path, None if arguments.all_channels else 1)
        except iso3382_reference.InputError as error:
            failures.append(f"{name}: reference failed: {error}")
            continue

        if arguments.linetune is not None:
            entry, failure = run_linetune(arguments.linetune, path)
        else:
            entry = find_file_entry(prepared_entries, path)
            failure = None if entry is not None else "no entry for this file in --linetune-json"
        if entry is None:
            failures.append(f"{name}: {failure}")
            continue
        compare_file(name, entry, reference, arguments.all_channels, compared, skipped, failures)

    print_report(compared, skipped, failures)
    disagreements = sum(1 for row in compared if not row[-1])
    print(f"\ncompared {len(compared)}, disagreed {disagreements}, skipped {len(skipped)}, "
          f"failed files/channels {len(failures)}")
    if len(compared) < arguments.min_compared:
        print(f"error: only {len(compared)} values were compared, fewer than "
              f"--min-compared {arguments.min_compared}. Check that linetune reports the "
              "metric keys listed in this script's docstring", file=sys.stderr)
        return 1
    return 1 if disagreements or failures else 0


if __name__ == "__main__":
    sys.exit(main())
