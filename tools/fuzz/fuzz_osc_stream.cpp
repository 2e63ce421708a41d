// libFuzzer harness for the OSC stream decoders (OSC 1.0 length prefix and OSC 1.1 SLIP). The
// first input byte picks the framing and the piece size, so that packets arrive cut across
// reads as they do over TCP; the rest is the stream. Every packet the decoder returns must stay
// within its size limit, and framing it again and decoding that must give it back whole.

#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/control/osc/osc_stream_framing.hpp"
#include "linetune/core/error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

namespace {

// A small limit, so that the fuzzer reaches the oversize branches with short inputs.
constexpr std::size_t fuzz_max_packet_bytes = 512;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace linetune::control;
    if (size == 0) {
        return 0;
    }
    const auto framing = (data[0] & 1) != 0 ? OscStreamFraming::slip : OscStreamFraming::length_prefix;
    const std::size_t piece_bytes = 1 + (data[0] >> 1);
    const std::span<const std::uint8_t> stream(data + 1, size - 1);

    OscStreamDecoder decoder(framing, fuzz_max_packet_bytes);
    for (std::size_t offset = 0; offset < stream.size(); offset += piece_bytes) {
        const auto piece = stream.subspan(offset, std::min(piece_bytes, stream.size() - offset));
        std::vector<std::vector<std::uint8_t>> packets;
        try {
            packets = decoder.feed(piece);
        } catch (const linetune::Error&) {
            return 0;
        }
        for (const auto& packet : packets) {
            if (packet.empty() || packet.size() > fuzz_max_packet_bytes) {
                std::abort();
            }
            OscStreamDecoder check(framing, fuzz_max_packet_bytes);
            const auto again = check.feed(frame_osc_packet(packet, framing));
            if (again.size() != 1 || again.front() != packet || check.buffered_bytes() != 0) {
                std::abort();
            }
            try {
                (void)decode_osc_packet(packet);
            } catch (const linetune::Error&) {
                // A well-framed packet may still be malformed OSC.
            }
        }
        if (decoder.buffered_bytes() > fuzz_max_packet_bytes + 4) {
            std::abort();
        }
    }
    return 0;
}
