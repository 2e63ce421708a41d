#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace linetune::control {

/// OSC time tag: NTP 32.32 fixed point, seconds since 1900-01-01 in the upper 32 bits.
struct OscTimetag {
    /// The special value 1 (seconds 0, fraction 1) means "immediately".
    static constexpr std::uint64_t immediately_ntp = 1;

    std::uint64_t ntp = immediately_ntp;

    bool operator==(const OscTimetag&) const = default;
};

/// OSC 1.0 'S': a string the receiver treats as a symbol.
struct OscSymbol {
    std::string text;

    bool operator==(const OscSymbol&) const = default;
};

/// OSC 'b': opaque bytes.
struct OscBlob {
    std::vector<std::uint8_t> bytes;

    bool operator==(const OscBlob&) const = default;
};

/// OSC 1.0 'c': one character, sent as 32 bits.
struct OscChar {
    std::uint8_t code = 0;

    bool operator==(const OscChar&) const = default;
};

/// OSC 1.0 'r': a 32-bit RGBA colour.
struct OscRgba {
    std::uint8_t red = 0;
    std::uint8_t green = 0;
    std::uint8_t blue = 0;
    std::uint8_t alpha = 0;

    bool operator==(const OscRgba&) const = default;
};

/// OSC 1.0 'm': a MIDI message, bytes in wire order (port id, status, data 1, data 2).
struct OscMidi {
    std::uint8_t port = 0;
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;

    bool operator==(const OscMidi&) const = default;
};

/// OSC 'N': nil, no payload.
struct OscNil {
    bool operator==(const OscNil&) const = default;
};

/// OSC 'I': Infinitum in OSC 1.0, Impulse in OSC 1.1; no payload.
struct OscImpulse {
    bool operator==(const OscImpulse&) const = default;
};

/// One argument of a message. Its alternative sets the type tag: int32 'i', float 'f',
/// string 's', OscSymbol 'S', OscBlob 'b', int64 'h', double 'd', OscTimetag 't', OscChar 'c',
/// OscRgba 'r', OscMidi 'm', bool 'T' or 'F', OscNil 'N', OscImpulse 'I'.
using OscArgument = std::variant<std::int32_t, float, std::string, OscSymbol, OscBlob, std::int64_t, double,
                                 OscTimetag, OscChar, OscRgba, OscMidi, bool, OscNil, OscImpulse>;

/// Type tag character of an argument ('i', 'f', ...).
char osc_type_tag(const OscArgument& argument);

/// An OSC message: an address (pattern) and its arguments.
struct OscMessage {
    std::string address;
    std::vector<OscArgument> arguments;

    bool operator==(const OscMessage&) const = default;
};

struct OscPacket;

/// An OSC bundle: a time tag and its elements, each a message or a nested bundle.
struct OscBundle {
    OscTimetag timetag;
    std::vector<OscPacket> elements;

    bool operator==(const OscBundle&) const;
};

/// The content of one UDP datagram or one stream frame: a message or a bundle.
struct OscPacket {
    std::variant<OscMessage, OscBundle> content;

    bool operator==(const OscPacket&) const = default;
};

/// Limits the decoder enforces on top of the packet's own size.
struct OscDecodeLimits {
    /// Deepest nesting of bundles accepted. Each level costs at least 20 bytes (size field,
    /// "#bundle", time tag), so the packet size already bounds the depth; this smaller cap bounds
    /// the decoder's recursion. No known device nests bundles more than 2 deep.
    std::size_t max_bundle_depth = 8;
};

/// Encodes a message to its OSC bytes. Throws Error (configuration) when the address does not
/// start with '/' or a string holds a NUL character.
std::vector<std::uint8_t> encode_osc_message(const OscMessage& message);

/// Encodes a message or bundle to its OSC bytes; throws like encode_osc_message.
std::vector<std::uint8_t> encode_osc_packet(const OscPacket& packet);

/// Decodes one whole OSC packet. Decoding is strict and bounded: it throws Error
/// (ErrorKind::device) naming the byte offset and the fault for a size that is not a positive
/// multiple of 4, an unterminated or badly padded string, a missing or unknown type tag, an
/// argument or bundle element that overruns the packet, a nested bundle dated before its parent,
/// nesting deeper than the limit, and bytes left over. It allocates at most a small multiple of
/// the packet size.
OscPacket decode_osc_packet(std::span<const std::uint8_t> bytes, const OscDecodeLimits& limits = {});

/// The messages of a packet in order, nested bundles flattened (pointers into the packet).
std::vector<const OscMessage*> messages_of(const OscPacket& packet);

/// The message as text for logs and error messages: "/ch/1/gain_db ,f -3".
std::string describe(const OscMessage& message);

}  // namespace linetune::control
