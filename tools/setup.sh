#!/usr/bin/env bash
# Installs the Debian 12 packages linetune needs, then configures and builds it in ./build.
# Runs apt-get as root (through sudo when started as another user). Safe to run again: an
# existing build folder is reconfigured, not recreated.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LINETUNE_BUILD_DIR:-$repo_root/build}"

packages=(
    # build tools
    g++ meson ninja-build pkg-config
    # libraries
    libeigen3-dev libfftw3-dev libsndfile1-dev nlohmann-json3-dev libcli11-dev doctest-dev
    # tests: the independent ISO 3382 reference implementation
    python3 python3-numpy python3-scipy
    # tests: DRC-FIR, the room-correction program that linetune's held-out EQ result is compared with
    drc
    # amplifier control: Boost.Asio (OSC over UDP); tests: liblo's oscsend and oscdump
    libboost-dev liblo-tools
    # audio interfaces: PortAudio (measure, interfaces); tests: the JACK server and the virtual venue
    portaudio19-dev jackd2 libjack-jackd2-dev
    # the learned correction model: libtorch (CPU), loaded only by the commands that use the model
    libtorch-dev
    # tests: the HTML report rendered in headless Chromium
    chromium
    # fuzzing the OSC and OCP.1 decoders: clang's libFuzzer
    clang libclang-rt-14-dev
)

run_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup: installing packages needs root; run this script as root or install sudo" >&2
        exit 2
    fi
}

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    # jackd2's installer offers to raise the audio group's real-time limits: decline. The tests run
    # jackd with real-time scheduling where the user may (root in CI), else with --no-realtime.
    echo "jackd2 jackd/tweak-rt-limits boolean false" | run_as_root debconf-set-selections
    run_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -f "$build_dir/build.ninja" ]; then
    meson setup --reconfigure "$build_dir" "$repo_root" >/dev/null
else
    meson setup "$build_dir" "$repo_root" >/dev/null
fi
ninja -C "$build_dir"

# AES70 test peers: the Node OCP.1 device and AES70.js (npm "aes70") that the control tests run
# against. ../shared is read-only, so they are copied into the build folder and installed there.
peers_source="$repo_root/../shared/peers/aes70"
if [ -d "$peers_source" ] && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    rm -rf "$build_dir/aes70-peers"
    cp -r "$peers_source" "$build_dir/aes70-peers"
    chmod -R u+w "$build_dir/aes70-peers"
    (cd "$build_dir/aes70-peers" && npm install --no-audit --no-fund)
else
    echo "setup: skipped the AES70 test peers (needs $peers_source, node and npm); their tests skip" >&2
fi
