#!/usr/bin/env python3
"""Write the fuzzers' seed corpora under tests/fuzz/corpus/ from third-party encoders.

Seeds come from the golden vectors of the peers in shared/peers/aes70 (AES70.js for OCP.1 and
osc.js for OSC, printed by oca-golden-vectors.js and osc-encoding.js) and from liblo's oscsend,
which writes its encoded packet to standard output when given "-" as the URL. The stream seeds
frame each OSC seed both ways; their first byte selects the framing and the read size, as
fuzz_osc_stream.cpp expects. Run once after `npm install` in a copy of the peers folder:

    tools/fuzz/make_seed_corpus.py --peers build-osc/aes70-peers
"""

import argparse
import pathlib
import re
import shutil
import struct
import subprocess
import sys

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
CORPUS = REPOSITORY / "tests" / "fuzz" / "corpus"

# oscsend's encoder with every OSC 1.0 type that liblo 0.31 writes from its command line
# (it takes no blob and no time tag there).
OSCSEND_MESSAGES = [
    ["/ch/1/gain_db", "f", "-3"],
    ["/ch/2/eq/4/type", "s", "high_shelf"],
    ["/ch/3/mute", "i", "1"],
    ["/x/y", "ifsSTFNIhdcm", "-7", "2.5", "abc", "sym", "3", "4.5", "c", "0x90407f00"],
    ["/query"],
]

HEX_BYTE_LINE = re.compile(r"^\s+([0-9a-f]{2}( [0-9a-f]{2})+)\s*$")
HEX_WORD_LINE = re.compile(r"^\s+([0-9a-f]{2,8}( [0-9a-f]{2,8})*)\s*$")


def hex_lines(output, pattern):
    """The byte strings printed as hex lines, in order."""
    return [bytes.fromhex(match.group(1).replace(" ", "")) for line in output.splitlines()
            if (match := pattern.match(line))]


def length_prefixed(packet):
    return struct.pack(">I", len(packet)) + packet


def slip_framed(packet):
    body = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


def write_seeds(folder, seeds):
    target = CORPUS / folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for index, seed in enumerate(seeds, start=1):
        (target / f"seed-{index:02d}").write_bytes(seed)
    print(f"{target.relative_to(REPOSITORY)}: {len(seeds)} seeds")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", required=True, type=pathlib.Path,
                        help="a copy of shared/peers/aes70 with node_modules installed")
    arguments = parser.parse_args()

    ocp1_output = subprocess.run(["node", "oca-golden-vectors.js"], cwd=arguments.peers, check=True,
                                 capture_output=True, text=True).stdout
    ocp1_seeds = hex_lines(ocp1_output, HEX_BYTE_LINE)

    osc_output = subprocess.run(["node", "osc-encoding.js"], cwd=arguments.peers, check=True,
                                capture_output=True, text=True).stdout
    osc_js_lines = hex_lines(osc_output, HEX_WORD_LINE)
    # The last line is a SLIP stream (osc.js's framing of a blob), not a bare packet.
    osc_packets = osc_js_lines[:-1]
    slip_stream_from_osc_js = osc_js_lines[-1]
    for message in OSCSEND_MESSAGES:
        osc_packets.append(subprocess.run(["oscsend", "-", *message], check=True, capture_output=True).stdout)

    # Stream seeds: byte 0 bit 0 picks SLIP, bits 1-7 the read size minus 1 (here 3 and 1 bytes).
    stream_seeds = [b"\x01" + slip_stream_from_osc_js]
    stream_seeds.append(b"\x04" + b"".join(length_prefixed(packet) for packet in osc_packets))
    stream_seeds.append(b"\x05" + b"".join(slip_framed(packet) for packet in osc_packets))
    stream_seeds.append(b"\x00" + length_prefixed(osc_packets[0]))
    stream_seeds.append(b"\x01" + slip_framed(osc_packets[0]))

    if not ocp1_seeds or len(osc_packets) < len(OSCSEND_MESSAGES) + 2:
        sys.exit("make_seed_corpus: the peers printed no vectors; run npm install in the peers folder first")
    write_seeds("ocp1_message", ocp1_seeds)
    write_seeds("osc_packet", osc_packets)
    write_seeds("osc_stream", stream_seeds)


if __name__ == "__main__":
    main()
