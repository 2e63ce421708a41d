#!/bin/sh
# Runs one libFuzzer harness for LINETUNE_FUZZ_SECONDS (default 60) under CI=true; elsewhere
# exits 77, which meson reports as a skip.
#   run_fuzz_test.sh HARNESS BUILD_DIR
set -eu
harness=$1
build_dir=$2
if [ "${CI:-}" != "true" ]; then
    echo "skipped: the $harness fuzz run is for CI (CI=true); run tools/fuzz/run.sh $harness by hand"
    exit 77
fi
exec "$(dirname "$0")/../../tools/fuzz/run.sh" --build-dir "$build_dir" --seconds "${LINETUNE_FUZZ_SECONDS:-60}" "$harness"
