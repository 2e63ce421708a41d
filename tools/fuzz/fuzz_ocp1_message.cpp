// libFuzzer harness for the OCP.1 (AES70) message decoder. Any input may be rejected with
// linetune::Error, but none may crash, read out of bounds, leak or allocate without bound. A
// message that decodes must encode again, and that encoding must decode to the same PDUs. The
// header's protocol version is not compared, because the encoder always writes 1.

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace linetune::control;
    const std::span<const std::uint8_t> bytes(data, size);
    try {
        if (size >= ocp1_header_size) {
            (void)decode_ocp1_header(bytes.first(ocp1_header_size));
        }
    } catch (const linetune::Error&) {
        // The whole-message decoder below must reject it as well.
    }

    Ocp1Message message;
    try {
        message = decode_ocp1_message(bytes);
    } catch (const linetune::Error&) {
        return 0;
    }

    std::vector<std::uint8_t> encoded;
    try {
        switch (message.type) {
        case Ocp1PduType::command:
        case Ocp1PduType::command_response_required:
            encoded = encode_ocp1_commands(message.commands,
                                           message.type == Ocp1PduType::command_response_required);
            break;
        case Ocp1PduType::response: encoded = encode_ocp1_responses(message.responses); break;
        case Ocp1PduType::notification: encoded = encode_ocp1_notifications(message.notifications); break;
        case Ocp1PduType::keep_alive: encoded = encode_ocp1_keep_alive(*message.keep_alive); break;
        case Ocp1PduType::notification2: std::abort();  // the decoder rejects EV2
        }
    } catch (const linetune::Error&) {
        // The encoder rejects a KeepAlive heartbeat of 0, which the decoder accepts.
        return 0;
    }
    const Ocp1Message again = decode_ocp1_message(encoded);
    if (again.commands != message.commands || again.responses != message.responses ||
        again.notifications != message.notifications || again.keep_alive != message.keep_alive) {
        std::abort();
    }
    return 0;
}
