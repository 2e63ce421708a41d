#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace linetune::control;
using Bytes = std::vector<std::uint8_t>;

/// Bytes the decoder allocates for the packet, whether it decodes or throws.
std::size_t bytes_allocated_decoding(const Bytes& packet) {
    linetune::test::start_counting_allocations();
    try {
        (void)decode_osc_packet(packet);
    } catch (const linetune::Error&) {
    }
    return linetune::test::stop_counting_allocations();
}

/// A packet of the given size (a multiple of 4) as one bundle of many 8-byte "/a" messages.
Bytes bundle_of_tiny_messages(std::size_t count) {
    Bytes packet{'#', 'b', 'u', 'n', 'd', 'l', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1};
    for (std::size_t i = 0; i < count; ++i) {
        const Bytes element{0, 0, 0, 8, '/', 'a', 0, 0, ',', 0, 0, 0};
        packet.insert(packet.end(), element.begin(), element.end());
    }
    return packet;
}

/// Bytes from a hex string; spaces are ignored ("2f63 682f").
Bytes hex(std::string_view text) {
    Bytes bytes;
    std::string digits;
    for (const char c : text) {
        if (c != ' ') {
            digits += c;
        }
    }
    REQUIRE(digits.size() % 2 == 0);
    for (std::size_t i = 0; i < digits.size(); i += 2) {
        bytes.push_back(static_cast<std::uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
    }
    return bytes;
}

/// Bytes of a text with embedded NULs, written as a string literal with explicit length.
Bytes raw(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes bytes;
    for (const auto& part : parts) {
        bytes.insert(bytes.end(), part.begin(), part.end());
    }
    return bytes;
}

OscMessage decoded_message(const Bytes& bytes) {
    const OscPacket packet = decode_osc_packet(bytes);
    REQUIRE(std::holds_alternative<OscMessage>(packet.content));
    return std::get<OscMessage>(packet.content);
}

/// The message of the Error that decoding throws, checking that its kind is device.
std::string decode_error(const Bytes& bytes, const OscDecodeLimits& limits = {}) {
    try {
        (void)decode_osc_packet(bytes, limits);
    } catch (const linetune::Error& error) {
        CHECK(error.kind() == linetune::ErrorKind::device);
        return error.what();
    }
    return "(no error)";
}

OscMessage every_type_message() {
    return OscMessage{"/every/type",
                      {std::int32_t{-7}, 0.25f, std::string("peaking"), OscSymbol{"sym"},
                       OscBlob{{1, 2, 3, 4, 5}}, std::int64_t{-1234567890123}, 3.141592653589793,
                       OscTimetag{0xEEBDBFBF71EA9A3CULL}, OscChar{'c'}, OscRgba{0x12, 0x34, 0x56, 0x78},
                       OscMidi{0x00, 0x90, 0x40, 0x7F}, true, false, OscNil{}, OscImpulse{}}};
}

}  // namespace

TEST_SUITE("control") {

TEST_CASE("osc message encodes the reference float vector") {
    const OscMessage message{"/ch/01/eq/1/f", {0.5f}};
    const Bytes expected = hex("2f63682f 30312f65 712f312f 66000000 2c660000 3f000000");

    CHECK(encode_osc_message(message) == expected);
    CHECK(decoded_message(expected) == message);
}

TEST_CASE("osc message encodes payload-free tags") {
    const OscMessage message{"/flags", {true, false, OscNil{}, OscImpulse{}}};
    const Bytes expected = hex("2f666c61 67730000 2c54464e 49000000");

    CHECK(encode_osc_message(message) == expected);
    CHECK(decoded_message(expected) == message);
}

TEST_CASE("osc strings pad with one to four NULs") {
    // "/abc" is 4 characters, so it needs a whole word of NULs; "/ab" needs one.
    CHECK(encode_osc_message({"/abc", {}}) == hex("2f616263 00000000 2c000000"));
    CHECK(encode_osc_message({"/ab", {}}) == hex("2f616200 2c000000"));
    CHECK(encode_osc_message({"/a", {std::string("xyz")}}) == hex("2f610000 2c730000 78797a00"));
    CHECK(encode_osc_message({"/a", {std::string("wxyz")}}) == hex("2f610000 2c730000 7778797a 00000000"));
}

TEST_CASE("osc blob carries count and zero padding") {
    const Bytes bytes = encode_osc_message({"/b", {OscBlob{{0xAA, 0xBB, 0xCC, 0xDD, 0xEE}}}});

    CHECK(bytes == hex("2f620000 2c620000 00000005 aabbccdd ee000000"));
}

TEST_CASE("osc fixed-size types use big-endian words") {
    const Bytes bytes = encode_osc_message(
        {"/n", {std::int32_t{-2}, std::int64_t{0x0102030405060708}, 1.0, OscTimetag{OscTimetag::immediately_ntp},
                OscChar{'A'}, OscRgba{1, 2, 3, 4}, OscMidi{5, 6, 7, 8}}});

    CHECK(bytes == hex("2f6e0000 2c696864 7463726d 00000000 fffffffe 01020304 05060708 3ff00000 00000000"
                       "00000000 00000001 00000041 01020304 05060708"));
}

TEST_CASE("osc message round trip keeps every type") {
    const OscMessage message = every_type_message();
    const Bytes bytes = encode_osc_message(message);

    CHECK(bytes.size() % 4 == 0);
    CHECK(decoded_message(bytes) == message);
}

TEST_CASE("osc type tag of each argument") {
    const OscMessage message = every_type_message();
    std::string tags;
    for (const auto& argument : message.arguments) {
        tags += osc_type_tag(argument);
    }
    CHECK(tags == "ifsSbhdtcrmTFNI");
}

TEST_CASE("osc nested bundles round trip") {
    OscBundle inner{OscTimetag{0x0000000200000000ULL}, {OscPacket{OscMessage{"/inner", {std::int32_t{2}}}}}};
    OscBundle outer{OscTimetag{0x0000000100000000ULL},
                    {OscPacket{OscMessage{"/first", {1.5f}}}, OscPacket{inner}, OscPacket{OscMessage{"/last", {}}}}};
    const OscPacket packet{outer};

    const Bytes bytes = encode_osc_packet(packet);
    CHECK(bytes.size() % 4 == 0);
    CHECK(decode_osc_packet(bytes) == packet);

    // Header, time tag, then the first element's size: "/first" (8) + ",f" (4) + float (4).
    CHECK(Bytes(bytes.begin(), bytes.begin() + 20) == concat({raw({"#bundle\0", 8}), hex("00000001 00000000"),
                                                              hex("00000010")}));
}

TEST_CASE("osc empty bundle round trips") {
    const OscPacket packet{OscBundle{}};
    const Bytes bytes = encode_osc_packet(packet);

    CHECK(bytes == concat({raw({"#bundle\0", 8}), hex("00000000 00000001")}));
    CHECK(decode_osc_packet(bytes) == packet);
}

TEST_CASE("osc message without type tag string has no arguments") {
    // OSC 1.0 senders may omit the type tags of a message without arguments.
    const OscMessage message = decoded_message(raw({"/ch/1/gain_db\0\0\0", 16}));

    CHECK(message.address == "/ch/1/gain_db");
    CHECK(message.arguments.empty());
}

TEST_CASE("osc encoder rejects invalid addresses and strings") {
    using linetune::test::error_message;

    CHECK(error_message([] { (void)encode_osc_message({"ch/1", {}}); }).find("must start with '/'") !=
          std::string::npos);
    CHECK(error_message([] { (void)encode_osc_message({"/a", {std::string("x\0y", 3)}}); }).find("NUL") !=
          std::string::npos);
}

TEST_CASE("osc decoder rejects malformed packets with their fault") {
    struct Case {
        const char* name;
        Bytes bytes;
        const char* fault;
    };
    const Bytes immediately = hex("00000000 00000001");
    const Bytes bundle_head = concat({raw({"#bundle\0", 8}), immediately});
    const std::vector<Case> cases{
        {"empty packet", {}, "not a positive multiple of 4"},
        {"size not a multiple of 4", raw({"/ab\0\0", 5}), "not a positive multiple of 4"},
        {"neither message nor bundle", raw("abcd"), "neither '/'"},
        {"unterminated address", raw("/abc"), "not terminated"},
        {"non-zero address padding", raw({"/a\0X", 4}), "padded with a non-zero byte"},
        {"missing type tag comma", raw({"/a\0\0xyz\0", 8}), "lacks the type tag string"},
        {"unknown type tag", raw({"/a\0\0,q\0\0", 8}), "unknown type tag 'q'"},
        {"type tag outside ASCII", concat({raw({"/a\0\0,", 5}), hex("fe0000")}), "unknown type tag byte 254"},
        {"int beyond the packet", raw({"/a\0\0,i\0\0", 8}), "needs 4 bytes, but only 0 remain"},
        {"double beyond the packet", concat({raw({"/a\0\0,d\0\0", 8}), hex("3ff00000")}), "needs 8 bytes"},
        {"unterminated string argument", concat({raw({"/a\0\0,s\0\0", 8}), raw("abcd")}), "not terminated"},
        {"string argument padded with junk", concat({raw({"/a\0\0,s\0\0", 8}), raw({"ab\0\x01", 4})}),
         "non-zero byte"},
        {"blob size beyond the packet", concat({raw({"/a\0\0,b\0\0", 8}), hex("7fffffff 00000000")}),
         "overruns the packet"},
        {"blob without padding", concat({raw({"/a\0\0,b\0\0", 8}), hex("00000005 01020304")}), "overruns"},
        {"blob padding not zero", concat({raw({"/a\0\0,b\0\0", 8}), hex("00000001 01020304")}),
         "blob padding byte"},
        {"char above one byte", concat({raw({"/a\0\0,c\0\0", 8}), hex("00000100")}), "not one byte"},
        {"bytes after the last argument", concat({raw({"/a\0\0,i\0\0", 8}), hex("00000001 00000002")}),
         "4 bytes follow the last argument"},
        {"array tags", concat({raw({"/a\0\0,[i]", 8}), hex("00000000 00000001")}), "arrays"},
        {"control character in address", raw({"/a\x01\0", 4}), "outside printable ASCII"},
        {"bundle element overruns", concat({bundle_head, hex("00000100"), raw({"/a\0\0", 4})}),
         "overruns the bundle"},
        {"bundle element size not a multiple of 4", concat({bundle_head, hex("00000005"), raw({"/ab\0\0\0\0\0", 8})}),
         "not a positive multiple of 4"},
        {"bundle element of size 0", concat({bundle_head, hex("00000000")}), "not a positive multiple of 4"},
        {"bundle without time tag", raw({"#bundle\0", 8}), "bundle time tag needs 8 bytes"},
        {"bundle element size cut off", concat({bundle_head, hex("0000")}), "not a positive multiple of 4"},
        {"nested bundle dated before its parent",
         concat({raw({"#bundle\0", 8}), hex("00000005 00000000"), hex("00000010"), raw({"#bundle\0", 8}),
                 hex("00000004 00000000")}),
         "earlier than its parent"},
    };

    for (const auto& c : cases) {
        CAPTURE(c.name);
        const std::string message = decode_error(c.bytes);
        CAPTURE(message);
        CHECK(message.find("malformed OSC packet") != std::string::npos);
        CHECK(message.find(c.fault) != std::string::npos);
    }
}

TEST_CASE("osc decoder names the byte offset of the fault") {
    // The int argument would start at byte 8, where the packet ends.
    const std::string message = decode_error(raw({"/a\0\0,i\0\0", 8}));

    CHECK(message.find("byte 8") != std::string::npos);
}

TEST_CASE("osc decoder caps bundle nesting") {
    // Four bundles, each holding the next, the innermost holding "/a".
    Bytes packet = raw({"/a\0\0,\0\0\0", 8});
    for (int level = 0; level < 4; ++level) {
        const auto size = static_cast<std::uint32_t>(packet.size());
        Bytes size_bytes{static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                         static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
        packet = concat({raw({"#bundle\0", 8}), hex("00000000 00000001"), size_bytes, packet});
    }

    CHECK_NOTHROW((void)decode_osc_packet(packet, OscDecodeLimits{4}));
    CHECK(decode_error(packet, OscDecodeLimits{3}).find("nested more than 3 deep") != std::string::npos);
}

TEST_CASE("osc decoder survives random corruption") {
    // Flipped, inserted and truncated bytes of valid packets must decode or throw Error, never
    // crash or throw anything else. The seed is fixed so that a failure can be replayed.
    OscBundle bundle{OscTimetag{}, {OscPacket{every_type_message()}, OscPacket{OscMessage{"/ch/1/gain_db", {-3.0f}}}}};
    const Bytes valid = encode_osc_packet(OscPacket{bundle});
    std::mt19937 random(20261204);
    std::uniform_int_distribution<std::size_t> position(0, valid.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);

    std::size_t decoded = 0;
    std::size_t rejected = 0;
    for (int trial = 0; trial < 20000; ++trial) {
        Bytes mutated = valid;
        const int edits = 1 + trial % 4;
        for (int e = 0; e < edits; ++e) {
            mutated[position(random)] = static_cast<std::uint8_t>(byte(random));
        }
        if (trial % 7 == 0) {
            mutated.resize(position(random) / 4 * 4);
        }
        try {
            (void)decode_osc_packet(mutated);
            ++decoded;
        } catch (const linetune::Error&) {
            ++rejected;
        }
    }
    MESSAGE("random corruption: " << decoded << " decoded, " << rejected << " rejected");
    CHECK(decoded + rejected == 20000);
    CHECK(rejected > 0);
}

TEST_CASE("osc decoder allocation stays proportional to the packet") {
    // The worst cases per byte: payload-free tags (each an argument object), tiny bundle elements
    // (each a packet object), and size fields that claim more than the packet holds.
    Bytes many_flags{'/', 'a', 0, 0};
    many_flags.push_back(',');
    many_flags.insert(many_flags.end(), 4091, 'T');
    many_flags.resize(4100, 0);
    Bytes huge_blob_claim{'/', 'a', 0, 0, ',', 'b', 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
    Bytes huge_element_claim{'#', 'b', 'u', 'n', 'd', 'l', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0xFF, 0xFF, 0xF0};

    const std::vector<std::pair<std::string, Bytes>> packets{
        {"4091 T tags", many_flags},
        {"341 tiny bundle elements", bundle_of_tiny_messages(341)},
        {"blob claiming 2 GiB", huge_blob_claim},
        {"bundle element claiming 2 GiB", huge_element_claim},
        {"every type", encode_osc_message(every_type_message())},
    };
    // Bound: 128 bytes per packet byte plus 1 KiB, about three times what the worst case needs
    // (a 48-byte argument object per 1-byte tag, vector growth doubling at most).
    for (const auto& [name, packet] : packets) {
        CAPTURE(name);
        const std::size_t allocated = bytes_allocated_decoding(packet);
        MESSAGE(name << ": " << packet.size() << "-byte packet, " << allocated << " bytes allocated");
        CHECK(allocated <= 128 * packet.size() + 1024);
    }
}

TEST_CASE("osc decoder reads float special values") {
    const OscMessage message{"/f", {std::numeric_limits<float>::infinity(), -0.0f}};
    const OscMessage decoded = decoded_message(encode_osc_message(message));

    CHECK(std::get<float>(decoded.arguments[0]) == std::numeric_limits<float>::infinity());
    CHECK(std::signbit(std::get<float>(decoded.arguments[1])));
}

}
