// libFuzzer harness for the OSC packet decoder. Any input may be rejected with linetune::Error,
// but none may crash, read out of bounds, leak or allocate without bound (AddressSanitizer and
// libFuzzer's -rss_limit_mb watch for those). A packet that decodes must encode again, and that
// encoding must decode to the same bytes once more: decoding and encoding agree.

#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace linetune::control;
    OscPacket packet;
    try {
        packet = decode_osc_packet(std::span(data, size));
    } catch (const linetune::Error&) {
        return 0;
    }

    // A decoded packet holds only what the encoder accepts, so encoding must not throw.
    const std::vector<std::uint8_t> encoded = encode_osc_packet(packet);
    const std::vector<std::uint8_t> encoded_again = encode_osc_packet(decode_osc_packet(encoded));
    if (encoded != encoded_again) {
        std::abort();
    }
    return 0;
}
