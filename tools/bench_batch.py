#!/usr/bin/python3
"""Benchmark of `linetune batch`: files per second over the shared data folder with 1 to N worker
threads, and the speed-up against one thread. Every job count must give the same summary, so a
data race shows up here as a failure and not only as a slow figure.

Usage: bench_batch.py LINETUNE DATA_DIR OUT_DIR [MAX_JOBS]
MAX_JOBS defaults to the number of CPUs the process may use."""

import json
import os
import shutil
import subprocess
import sys
import time


def run_batch(linetune, data_dir, out_dir, jobs):
    """Analyse the whole folder again (--force) with that many threads; return (wall s, summary)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    start = time.monotonic()
    result = subprocess.run([linetune, "batch", data_dir, "--out", out_dir, "--jobs", str(jobs), "--force", "--json"],
                            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    wall_s = time.monotonic() - start
    # Exit code 1 means some files could not be read; they are counted like the others.
    if result.returncode not in (0, 1):
        sys.exit(f"linetune batch --jobs {jobs} exited {result.returncode}:\n{result.stderr}")
    # stdout contains the counts only, so the rows come from the summary file.
    with open(os.path.join(out_dir, "summary.json"), encoding="utf-8") as stream:
        return wall_s, json.load(stream)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    linetune, data_dir, out_dir = sys.argv[1:4]
    if not os.path.isdir(data_dir):
        print(f"skipped: data folder {data_dir} not found")
        return 0
    max_jobs = int(sys.argv[4]) if len(sys.argv) == 5 else len(os.sched_getaffinity(0))

    # One untimed run first, so every timed run finds the files in the page cache.
    run_batch(linetune, data_dir, os.path.join(out_dir, "warm-up"), max_jobs)

    print(f"linetune batch over {data_dir}")
    print(f"{'jobs':>4} {'files':>6} {'channels':>8} {'wall s':>8} {'files/s':>8} {'channels/s':>10} {'speed-up':>8}")
    reference_rows = None
    one_job_rate = None
    for jobs in range(1, max_jobs + 1):
        wall_s, summary = run_batch(linetune, data_dir, os.path.join(out_dir, f"jobs-{jobs}"), jobs)
        files = summary["files_analysed"] + summary["files_failed"]
        channels = len(summary["rows"])
        rate = files / wall_s
        one_job_rate = one_job_rate or rate
        print(f"{jobs:>4} {files:>6} {channels:>8} {wall_s:>8.2f} {rate:>8.1f} {channels / wall_s:>10.1f} "
              f"{rate / one_job_rate:>8.2f}")
        if reference_rows is None:
            reference_rows = summary["rows"]
        elif summary["rows"] != reference_rows:
            sys.exit(f"--jobs {jobs} gave other summary rows than --jobs 1")
    print("wall time includes starting linetune and writing the summaries; files/s counts failed files too")
    return 0


if __name__ == "__main__":
    sys.exit(main())
