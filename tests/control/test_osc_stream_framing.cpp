// OSC over byte streams: the OSC 1.0 length prefix and OSC 1.1 double-END SLIP, both framed by
// us and split again by the stream decoder however the bytes arrive.

#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/control/osc/osc_stream_framing.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <random>
#include <string>
#include <vector>

namespace {

using namespace linetune::control;
using Bytes = std::vector<std::uint8_t>;

/// The reference vector "/ch/01/eq/1/f ,f 0.5" (24 bytes), as osc.js 2.4.5 encodes it.
const Bytes reference_packet{0x2f, 0x63, 0x68, 0x2f, 0x30, 0x31, 0x2f, 0x65, 0x71, 0x2f, 0x31, 0x2f,
                             0x66, 0x00, 0x00, 0x00, 0x2c, 0x66, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00};

/// A blob packet whose payload holds both SLIP special bytes, END (C0) and ESC (DB).
Bytes packet_with_slip_bytes() {
    return encode_osc_message(OscMessage{"/a", {OscBlob{{0xDB, 0xC0}}}});
}

/// The message of the Error that feeding the bytes throws, checking that its kind is device.
std::string feed_error(OscStreamDecoder& decoder, const Bytes& bytes) {
    try {
        (void)decoder.feed(bytes);
    } catch (const linetune::Error& error) {
        CHECK(error.kind() == linetune::ErrorKind::device);
        return error.what();
    }
    return "(no error)";
}

Bytes stream_of(const std::vector<Bytes>& packets, OscStreamFraming framing) {
    Bytes stream;
    for (const auto& packet : packets) {
        const Bytes frame = frame_osc_packet(packet, framing);
        stream.insert(stream.end(), frame.begin(), frame.end());
    }
    return stream;
}

}  // namespace

TEST_SUITE("control") {

TEST_CASE("length prefix frame is int32 size then packet") {
    const Bytes frame = frame_osc_packet(reference_packet, OscStreamFraming::length_prefix);
    REQUIRE(frame.size() == 28);
    CHECK(Bytes(frame.begin(), frame.begin() + 4) == Bytes{0, 0, 0, 24});
    CHECK(Bytes(frame.begin() + 4, frame.end()) == reference_packet);
}

TEST_CASE("slip frame matches osc.js double-END bytes") {
    // osc.js 2.4.5 frames "/a ,b" with the blob DB C0 as
    // c02f6100 002c6200 00000000 02dbdcdb dd0000c0 (its SLIP encoder's reference output).
    const Bytes expected{0xc0, 0x2f, 0x61, 0x00, 0x00, 0x2c, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00,
                         0x02, 0xdb, 0xdd, 0xdb, 0xdc, 0x00, 0x00, 0xc0};
    const Bytes packet = encode_osc_message(OscMessage{"/a", {OscBlob{{0xDB, 0xC0}}}});
    CHECK(frame_osc_packet(packet, OscStreamFraming::slip) == expected);
}

TEST_CASE("stream framing names parse and print") {
    CHECK(parse_osc_stream_framing("length-prefix") == OscStreamFraming::length_prefix);
    CHECK(parse_osc_stream_framing("slip") == OscStreamFraming::slip);
    CHECK_FALSE(parse_osc_stream_framing("SLIP").has_value());
    CHECK_FALSE(parse_osc_stream_framing("").has_value());
    CHECK(to_string(OscStreamFraming::length_prefix) == "length-prefix");
    CHECK(to_string(OscStreamFraming::slip) == "slip");
}

TEST_CASE("stream decoder splits packets cut at every byte") {
    const std::vector<Bytes> packets{reference_packet, packet_with_slip_bytes(),
                                     encode_osc_message(OscMessage{"/ch/2/mute", {std::int32_t{1}}})};
    for (const auto framing : {OscStreamFraming::length_prefix, OscStreamFraming::slip}) {
        CAPTURE(to_string(framing));
        const Bytes stream = stream_of(packets, framing);
        OscStreamDecoder decoder(framing);
        std::vector<Bytes> received;
        for (const std::uint8_t byte : stream) {
            for (auto& packet : decoder.feed(Bytes{byte})) {
                received.push_back(std::move(packet));
            }
        }
        CHECK(received == packets);
        CHECK(decoder.buffered_bytes() == 0);
    }
}

TEST_CASE("stream decoder returns several packets from one read") {
    const std::vector<Bytes> packets{reference_packet, packet_with_slip_bytes(), reference_packet};
    for (const auto framing : {OscStreamFraming::length_prefix, OscStreamFraming::slip}) {
        CAPTURE(to_string(framing));
        OscStreamDecoder decoder(framing);
        CHECK(decoder.feed(stream_of(packets, framing)) == packets);
    }
}

TEST_CASE("stream decoder handles random piece sizes") {
    std::mt19937 random(20261205);
    std::vector<Bytes> packets;
    for (int i = 0; i < 50; ++i) {
        OscMessage message{"/ch/" + std::to_string(i + 1) + "/gain_db", {static_cast<float>(-i)}};
        message.arguments.push_back(OscBlob{Bytes(static_cast<std::size_t>(i), static_cast<std::uint8_t>(0xC0 + i % 32))});
        packets.push_back(encode_osc_message(message));
    }
    for (const auto framing : {OscStreamFraming::length_prefix, OscStreamFraming::slip}) {
        CAPTURE(to_string(framing));
        const Bytes stream = stream_of(packets, framing);
        OscStreamDecoder decoder(framing);
        std::vector<Bytes> received;
        std::size_t offset = 0;
        while (offset < stream.size()) {
            const std::size_t piece = std::min<std::size_t>(1 + random() % 97, stream.size() - offset);
            for (auto& packet : decoder.feed(std::span(stream).subspan(offset, piece))) {
                received.push_back(std::move(packet));
            }
            offset += piece;
        }
        CHECK(received == packets);
    }
}

TEST_CASE("slip decoder skips empty frames and single-END framing") {
    // A sender that writes END only after each packet (RFC 1055's original form) and line noise
    // of repeated ENDs both decode to the same packets.
    Bytes stream{0xC0, 0xC0, 0xC0};
    stream.insert(stream.end(), reference_packet.begin(), reference_packet.end());
    stream.push_back(0xC0);
    stream.insert(stream.end(), reference_packet.begin(), reference_packet.end());
    stream.push_back(0xC0);
    OscStreamDecoder decoder(OscStreamFraming::slip);
    CHECK(decoder.feed(stream) == std::vector<Bytes>{reference_packet, reference_packet});
}

TEST_CASE("stream decoder rejects oversize frames with the limit") {
    OscStreamDecoder prefixed(OscStreamFraming::length_prefix, 64);
    const std::string prefix_error = feed_error(prefixed, Bytes{0, 0, 0, 68});
    CHECK(prefix_error.find("68 bytes") != std::string::npos);
    CHECK(prefix_error.find("limit of 64 bytes") != std::string::npos);
    CHECK(prefix_error.find("length-prefix") != std::string::npos);

    OscStreamDecoder negative(OscStreamFraming::length_prefix, 64);
    CHECK(feed_error(negative, Bytes{0xFF, 0xFF, 0xFF, 0xFC}).find("limit of 64 bytes") != std::string::npos);

    OscStreamDecoder slip(OscStreamFraming::slip, 64);
    Bytes long_frame{0xC0};
    long_frame.resize(66, 0x2F);
    const std::string slip_error = feed_error(slip, long_frame);
    CHECK(slip_error.find("limit of 64 bytes") != std::string::npos);
    CHECK(slip.buffered_bytes() == 0);

    // A packet of exactly the limit passes.
    OscStreamDecoder exact(OscStreamFraming::length_prefix, 24);
    CHECK(exact.feed(frame_osc_packet(reference_packet, OscStreamFraming::length_prefix)).size() == 1);
}

TEST_CASE("stream decoder rejects a zero length and bad escapes") {
    OscStreamDecoder prefixed(OscStreamFraming::length_prefix);
    CHECK(feed_error(prefixed, Bytes{0, 0, 0, 0}).find("length prefix of 0 bytes") != std::string::npos);

    OscStreamDecoder slip(OscStreamFraming::slip);
    const std::string error = feed_error(slip, Bytes{0xC0, 0x2F, 0xDB, 0x41});
    CHECK(error.find("0xDB is followed by 0x41") != std::string::npos);
    CHECK(error.find("connection must be closed") != std::string::npos);
}

TEST_CASE("stream decoder reset drops a partial packet") {
    OscStreamDecoder decoder(OscStreamFraming::length_prefix);
    CHECK(decoder.feed(Bytes{0, 0, 0, 24, 0x2f, 0x63}).empty());
    CHECK(decoder.buffered_bytes() == 2);
    decoder.reset();
    CHECK(decoder.buffered_bytes() == 0);
    CHECK(decoder.feed(frame_osc_packet(reference_packet, OscStreamFraming::length_prefix)) ==
          std::vector<Bytes>{reference_packet});
}

TEST_CASE("stream decoder allocates only for bytes received") {
    // A prefix that claims the whole limit reserves nothing: memory follows the bytes that arrive.
    OscStreamDecoder decoder(OscStreamFraming::length_prefix, 1u << 20);
    linetune::test::start_counting_allocations();
    (void)decoder.feed(Bytes{0x00, 0x10, 0x00, 0x00, 0x2F, 0x61});
    const std::size_t allocated = linetune::test::stop_counting_allocations();
    MESSAGE("a 1 MiB length prefix followed by 2 bytes allocated " << allocated << " bytes");
    CHECK(allocated <= 256);

    // A stream of many small packets: at most a small multiple of the stream's size, because each
    // packet is copied once into its own vector. Bound: 4 bytes per stream byte plus 64 per
    // packet (vector growth at most doubles, and each returned packet has one vector header).
    for (const auto framing : {OscStreamFraming::length_prefix, OscStreamFraming::slip}) {
        CAPTURE(to_string(framing));
        const std::vector<Bytes> packets(100, reference_packet);
        const Bytes stream = stream_of(packets, framing);
        OscStreamDecoder stream_decoder(framing);
        linetune::test::start_counting_allocations();
        (void)stream_decoder.feed(stream);
        const std::size_t stream_allocated = linetune::test::stop_counting_allocations();
        MESSAGE(to_string(framing) << ": " << stream.size() << "-byte stream, " << stream_allocated
                                   << " bytes allocated");
        CHECK(stream_allocated <= 4 * stream.size() + 64 * packets.size());
    }
}

}
