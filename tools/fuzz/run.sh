#!/bin/sh
# Builds the libFuzzer harnesses of the OSC and OCP.1 decoders with clang (without libtorch or
# any other linetune dependency) and runs each for a fixed time on its seed corpus.
#
#   tools/fuzz/run.sh [--build-dir DIR] [--seconds N] [HARNESS ...]
#
# DIR defaults to build-fuzz and N to 60. HARNESS is fuzz_osc_packet, fuzz_osc_stream or
# fuzz_ocp1_message (default: all three, one after the other). New inputs that reach new code go
# to DIR/corpus/HARNESS; crashing inputs go to DIR/artifacts/HARNESS/. The exit status is 0 only
# when every harness ran its time without a crash, a leak, a timeout or running out of memory.
# Needs clang++ and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
set -eu

repository=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=build-fuzz
seconds=60
harnesses=""
while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build_dir=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        fuzz_*) harnesses="$harnesses $1"; shift ;;
        *) echo "run.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
    esac
done
[ -n "$harnesses" ] || harnesses="fuzz_osc_packet fuzz_osc_stream fuzz_ocp1_message"
case "$build_dir" in /*) ;; *) build_dir="$repository/$build_dir" ;; esac

cxx=${CXX_FUZZ:-clang++}
if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "run.sh: $cxx not found; install the Debian packages clang and libclang-rt-14-dev" >&2
    exit 3
fi

# -O1 with AddressSanitizer and UndefinedBehaviorSanitizer, the usual libFuzzer set-up; UBSan
# findings abort so that libFuzzer records them as crashes.
flags="-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"
mkdir -p "$build_dir/objects"
library_sources="src/core/error.cpp src/core/format.cpp src/control/osc/osc_packet.cpp
    src/control/osc/osc_stream_framing.cpp src/control/aes70/ocp1_message.cpp"
objects=""
for source in $library_sources; do
    object="$build_dir/objects/$(basename "$source" .cpp).o"
    "$cxx" $flags -fsanitize=fuzzer-no-link -I"$repository/include" -c "$repository/$source" -o "$object"
    objects="$objects $object"
done

status=0
for harness in $harnesses; do
    "$cxx" $flags -fsanitize=fuzzer -I"$repository/include" "$repository/tools/fuzz/$harness.cpp" $objects \
        -o "$build_dir/$harness"
    seeds="$repository/tests/fuzz/corpus/${harness#fuzz_}"
    corpus="$build_dir/corpus/$harness"
    artifacts="$build_dir/artifacts/$harness/"
    mkdir -p "$corpus" "$artifacts"
    echo "run.sh: $harness for $seconds s (seeds: ${seeds#"$repository"/})"
    # -rss_limit_mb: a decoder that allocates far beyond its input fails here. -timeout: one
    # input taking over 10 s is a hang, since each decodes in microseconds.
    if ! "$build_dir/$harness" "$corpus" "$seeds" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$artifacts" >"$build_dir/$harness.log" 2>&1; then
        status=1
        echo "run.sh: $harness FAILED; see $build_dir/$harness.log and $artifacts" >&2
    fi
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==.*ERROR)" "$build_dir/$harness.log" || true
done
exit $status
