#!/usr/bin/python3
"""Times the whole simulated job (`linetune run --simulate --yes`).

Prints the wall time of the run without its set-up, the sound time the sweeps would take in a real
room, and the compute time per step. Targets: the whole run under 2 minutes on 2 cores, compute for
the built-in rig under 5 s. Exits 1 when a target is missed."""

import json
import subprocess
import sys
import tempfile
import time

WHOLE_RUN_TARGET_S = 120.0
COMPUTE_TARGET_S = 5.0


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench_simulated_run.py LINETUNE")
    with tempfile.TemporaryDirectory(prefix="linetune-bench-") as session:
        start = time.monotonic()
        result = subprocess.run([sys.argv[1], "run", "--simulate", "--yes", "--json", "--session", session],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        wall_s = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"linetune run --simulate failed ({result.returncode}):\n{result.stderr}")
    times = json.loads(result.stdout)["times"]
    run_s = wall_s - times["setup_s"]
    # Compute of the job itself: analysis of both measurements, tuning and the push with read-back.
    # Simulating the passes replaces the sound card, so it is reported apart.
    compute_s = times["analysis_s"] + times["tuning_s"] + times["push_s"] + times["verify_analysis_s"]
    print(f"whole simulated run without set-up: {run_s:.2f} s (target < {WHOLE_RUN_TARGET_S:.0f} s); "
          f"set-up {times['setup_s']:.2f} s")
    print(f"sound time (sweeps and tails, both measurements): {times['sound_s']:.1f} s")
    print(f"compute: {compute_s:.2f} s (target < {COMPUTE_TARGET_S:.0f} s) = analysis {times['analysis_s']:.2f} s "
          f"+ tuning {times['tuning_s']:.2f} s + push with read-back {times['push_s']:.2f} s "
          f"+ analysis after the push {times['verify_analysis_s']:.2f} s; simulating the passes "
          f"{times['measure_compute_s']:.2f} s")
    missed = run_s >= WHOLE_RUN_TARGET_S or compute_s >= COMPUTE_TARGET_S
    print("MISSED a target" if missed else "both targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
