// The OCP.1 decoder allocates in proportion to the message it is given, never to the counts and
// sizes that the message claims, so a forged header cannot make it reserve memory.

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <string>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;
using Bytes = std::vector<std::uint8_t>;

Bytes hex(std::string_view text) {
    Bytes bytes;
    std::string digits;
    for (const char c : text) {
        if (c != ' ') {
            digits += c;
        }
    }
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
        bytes.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
    }
    return bytes;
}

/// Bytes the decoder allocates for the message, whether it decodes or throws.
std::size_t bytes_allocated_decoding(const Bytes& message) {
    test::start_counting_allocations();
    try {
        (void)decode_ocp1_message(message);
    } catch (const Error&) {
    }
    return test::stop_counting_allocations();
}

/// One message of count parameterless CommandResponseRequired PDUs (17 bytes each, the smallest PDU
/// with a vector in its decoded form).
Bytes many_small_commands(std::size_t count) {
    std::vector<Ocp1Command> commands(count);
    for (std::size_t i = 0; i < count; ++i) {
        commands[i].handle = static_cast<std::uint32_t>(i + 1);
        commands[i].target_ono = 10001;
        commands[i].method = {4, 1};
    }
    return encode_ocp1_commands(commands, true);
}

}  // namespace

TEST_SUITE("control") {

TEST_CASE("ocp1 decoder allocation stays proportional to the message") {
    const std::vector<std::pair<std::string, Bytes>> messages{
        // Golden SetGain(-3.5 dB) from AES70.js 1.1.16.
        {"SetGain", hex("3b 00 01 00 00 00 1e 01 00 01 00 00 00 15 00 00 00 06 00 00 27 11 00 04 00 02 01 c0 60 00 00")},
        {"3000 empty commands", many_small_commands(3000)},
        // MessageCount claims 65535 Response PDUs, one follows.
        {"forged PDU count", hex("3b 00 01 00 00 00 13 03 ff ff 00 00 00 0a 00 00 00 08 07 00")},
        // MessageSize claims 1 MiB, 12 bytes follow.
        {"forged message size", hex("3b 00 01 00 10 00 00 04 00 01 00 01")},
        // A notification whose context blob claims 65535 bytes.
        {"forged blob length", hex("3b 00 01 00 00 00 20 02 00 01 00 00 00 17 00 00 00 07 00 01 00 01 02 ff ff 00 00 "
                                   "27 11 00 01 00 01")},
    };
    // Bound: 32 bytes per message byte plus 1 KiB. A 17-byte command decodes to one Ocp1Command
    // (about 48 bytes with its empty parameter vector), and vector growth at most doubles that.
    for (const auto& [name, message] : messages) {
        CAPTURE(name);
        const std::size_t allocated = bytes_allocated_decoding(message);
        MESSAGE(name << ": " << message.size() << "-byte message, " << allocated << " bytes allocated");
        CHECK(allocated <= 32 * message.size() + 1024);
    }
}

}
