// OSC 1.0 encoding (opensoundcontrol.org, "The Open Sound Control 1.0 Specification", 2002) with
// the OSC 1.1 additions (Freed & Schmeder, "Features and Future of Open Sound Control version 1.1",
// NIME 2009):
//   - every item is big-endian and the packet is a multiple of 4 bytes;
//   - an OSC-string is ASCII followed by 1 to 4 NULs up to the next multiple of 4, so "/abc" takes
//     8 bytes and a 3-character string 4;
//   - a message is an address, a type tag string (',' and one character per argument), then the
//     arguments. 'i' 'f' 'c' 'r' 'm' take 4 bytes and 'h' 'd' 't' 8. 'b' takes an int32 count, then
//     the bytes padded to 4, and 'T' 'F' 'N' 'I' take nothing;
//   - a bundle is "#bundle", a time tag, then elements, each an int32 size and a message or bundle.
// Arrays ('[' ... ']') are rejected as unsupported: no device profile uses them.

#include "linetune/control/osc/osc_packet.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <string>

namespace linetune::control {
namespace {

constexpr std::size_t osc_alignment_bytes = 4;
constexpr std::string_view bundle_tag{"#bundle\0", 8};

constexpr std::size_t padded_size(std::size_t size) {
    return (size + osc_alignment_bytes - 1) / osc_alignment_bytes * osc_alignment_bytes;
}

// ---------------------------------------------------------------------------------------------
// Encoding

class OscWriter {
public:
    void append_u32(std::uint32_t value) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            bytes_.push_back(static_cast<std::uint8_t>(value >> shift));
        }
    }

    void append_u64(std::uint64_t value) {
        append_u32(static_cast<std::uint32_t>(value >> 32));
        append_u32(static_cast<std::uint32_t>(value));
    }

    /// Appends the text and 1 to 4 NULs up to the next multiple of 4.
    void append_string(std::string_view text, std::string_view what) {
        if (text.find('\0') != std::string_view::npos) {
            throw Error("OSC " + std::string(what) + " '" + std::string(text.substr(0, text.find('\0'))) +
                            "...' contains a NUL character, which OSC strings cannot carry; send it as a blob",
                        ErrorKind::configuration);
        }
        bytes_.insert(bytes_.end(), text.begin(), text.end());
        bytes_.resize(bytes_.size() + padded_size(text.size() + 1) - text.size(), 0);
    }

    void append_bytes(std::span<const std::uint8_t> data) {
        bytes_.insert(bytes_.end(), data.begin(), data.end());
        bytes_.resize(padded_size(bytes_.size()), 0);
    }

    [[nodiscard]] std::size_t size() const { return bytes_.size(); }

    /// Overwrites 4 bytes at offset with a big-endian value (a bundle element's size field).
    void patch_u32(std::size_t offset, std::uint32_t value) {
        for (std::size_t i = 0; i < 4; ++i) {
            bytes_[offset + i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
        }
    }

    std::vector<std::uint8_t> take() { return std::move(bytes_); }

private:
    std::vector<std::uint8_t> bytes_;
};

void append_argument(OscWriter& writer, const OscArgument& argument) {
    std::visit(
        [&writer](const auto& value) {
            using T = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<T, std::int32_t>) {
                writer.append_u32(static_cast<std::uint32_t>(value));
            } else if constexpr (std::is_same_v<T, float>) {
                writer.append_u32(std::bit_cast<std::uint32_t>(value));
            } else if constexpr (std::is_same_v<T, std::string>) {
                writer.append_string(value, "string argument");
            } else if constexpr (std::is_same_v<T, OscSymbol>) {
                writer.append_string(value.text, "symbol argument");
            } else if constexpr (std::is_same_v<T, OscBlob>) {
                writer.append_u32(static_cast<std::uint32_t>(value.bytes.size()));
                writer.append_bytes(value.bytes);
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                writer.append_u64(static_cast<std::uint64_t>(value));
            } else if constexpr (std::is_same_v<T, double>) {
                writer.append_u64(std::bit_cast<std::uint64_t>(value));
            } else if constexpr (std::is_same_v<T, OscTimetag>) {
                writer.append_u64(value.ntp);
            } else if constexpr (std::is_same_v<T, OscChar>) {
                writer.append_u32(value.code);
            } else if constexpr (std::is_same_v<T, OscRgba>) {
                writer.append_u32(std::uint32_t{value.red} << 24 | std::uint32_t{value.green} << 16 |
                                  std::uint32_t{value.blue} << 8 | value.alpha);
            } else if constexpr (std::is_same_v<T, OscMidi>) {
                writer.append_u32(std::uint32_t{value.port} << 24 | std::uint32_t{value.status} << 16 |
                                  std::uint32_t{value.data1} << 8 | value.data2);
            }
            // bool, OscNil and OscImpulse live in the type tag alone.
        },
        argument);
}

void append_message(OscWriter& writer, const OscMessage& message) {
    if (message.address.empty() || message.address.front() != '/') {
        throw Error("OSC address '" + message.address + "' must start with '/'", ErrorKind::configuration);
    }
    writer.append_string(message.address, "address");

    std::string type_tags = ",";
    for (const auto& argument : message.arguments) {
        type_tags += osc_type_tag(argument);
    }
    writer.append_string(type_tags, "type tags");

    for (const auto& argument : message.arguments) {
        append_argument(writer, argument);
    }
}

void append_packet(OscWriter& writer, const OscPacket& packet);

void append_bundle(OscWriter& writer, const OscBundle& bundle) {
    writer.append_bytes(std::span(reinterpret_cast<const std::uint8_t*>(bundle_tag.data()), bundle_tag.size()));
    writer.append_u64(bundle.timetag.ntp);
    for (const auto& element : bundle.elements) {
        const std::size_t size_offset = writer.size();
        writer.append_u32(0);
        append_packet(writer, element);
        writer.patch_u32(size_offset, static_cast<std::uint32_t>(writer.size() - size_offset - 4));
    }
}

void append_packet(OscWriter& writer, const OscPacket& packet) {
    if (const auto* message = std::get_if<OscMessage>(&packet.content)) {
        append_message(writer, *message);
    } else {
        append_bundle(writer, std::get<OscBundle>(packet.content));
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Reads one packet or bundle element; every read checks the bytes left first, so a lying size
/// field fails before anything is allocated for it.
class OscReader {
public:
    OscReader(std::span<const std::uint8_t> bytes, std::size_t base_offset)
        : bytes_(bytes), base_offset_(base_offset) {}

    [[nodiscard]] std::size_t remaining() const { return bytes_.size() - position_; }
    [[nodiscard]] bool at_end() const { return position_ == bytes_.size(); }
    [[nodiscard]] std::size_t offset() const { return base_offset_ + position_; }

    [[noreturn]] void fail(const std::string& fault) const {
        throw Error("malformed OSC packet: byte " + std::to_string(offset()) + ": " + fault, ErrorKind::device);
    }

    std::uint32_t read_u32(std::string_view what) {
        require_bytes(4, what);
        std::uint32_t value = 0;
        for (std::size_t i = 0; i < 4; ++i) {
            value = value << 8 | bytes_[position_ + i];
        }
        position_ += 4;
        return value;
    }

    std::uint64_t read_u64(std::string_view what) {
        require_bytes(8, what);
        const std::uint64_t high = read_u32(what);
        return high << 32 | read_u32(what);
    }

    /// Reads an OSC-string: text, then NULs up to a multiple of 4, all inside the packet.
    std::string read_string(std::string_view what) {
        const auto* begin = bytes_.data() + position_;
        const void* nul = std::memchr(begin, 0, remaining());
        if (nul == nullptr) {
            fail(std::string(what) + " is not terminated by a NUL before the end of the packet");
        }
        const auto length = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - begin);
        const std::size_t stored = padded_size(length + 1);
        if (stored > remaining()) {
            fail(std::string(what) + " of " + std::to_string(length) + " characters needs " + std::to_string(stored) +
                 " bytes with its padding, but only " + std::to_string(remaining()) + " remain");
        }
        for (std::size_t i = length; i < stored; ++i) {
            if (begin[i] != 0) {
                fail(std::string(what) + " is padded with a non-zero byte at byte " +
                     std::to_string(offset() + i) + "; OSC pads strings with NULs");
            }
        }
        std::string text(reinterpret_cast<const char*>(begin), length);
        position_ += stored;
        return text;
    }

    /// Reads a blob: an int32 count, the bytes and zero padding to a multiple of 4.
    OscBlob read_blob() {
        const std::uint32_t count = read_u32("blob size");
        if (count > remaining()) {
            fail("blob of " + std::to_string(count) + " bytes overruns the packet: " + std::to_string(remaining()) +
                 " bytes remain");
        }
        const std::size_t stored = padded_size(count);
        if (stored > remaining()) {
            fail("blob of " + std::to_string(count) + " bytes lacks its padding to a multiple of 4");
        }
        OscBlob blob;
        blob.bytes.assign(bytes_.begin() + static_cast<std::ptrdiff_t>(position_),
                          bytes_.begin() + static_cast<std::ptrdiff_t>(position_ + count));
        for (std::size_t i = count; i < stored; ++i) {
            if (bytes_[position_ + i] != 0) {
                fail("blob padding byte " + std::to_string(offset() + i) + " is not zero");
            }
        }
        position_ += stored;
        return blob;
    }

    /// The next size bytes as their own reader, for one bundle element.
    OscReader take(std::size_t size) {
        OscReader element(bytes_.subspan(position_, size), offset());
        position_ += size;
        return element;
    }

    [[nodiscard]] bool starts_with(std::string_view prefix) const {
        return remaining() >= prefix.size() &&
               std::memcmp(bytes_.data() + position_, prefix.data(), prefix.size()) == 0;
    }

private:
    void require_bytes(std::size_t count, std::string_view what) const {
        if (count > remaining()) {
            fail(std::string(what) + " needs " + std::to_string(count) + " bytes, but only " +
                 std::to_string(remaining()) + " remain");
        }
    }

    std::span<const std::uint8_t> bytes_;
    std::size_t base_offset_ = 0;
    std::size_t position_ = 0;
};

OscArgument read_argument(OscReader& reader, char tag) {
    const std::string what = std::string("argument '") + tag + "'";
    switch (tag) {
    case 'i': return static_cast<std::int32_t>(reader.read_u32(what));
    case 'f': return std::bit_cast<float>(reader.read_u32(what));
    case 's': return reader.read_string("string argument");
    case 'S': return OscSymbol{reader.read_string("symbol argument")};
    case 'b': return reader.read_blob();
    case 'h': return static_cast<std::int64_t>(reader.read_u64(what));
    case 'd': return std::bit_cast<double>(reader.read_u64(what));
    case 't': return OscTimetag{reader.read_u64(what)};
    case 'c': {
        const std::uint32_t code = reader.read_u32(what);
        if (code > 0xFF) {
            reader.fail("char argument " + std::to_string(code) + " is not one byte (0 to 255)");
        }
        return OscChar{static_cast<std::uint8_t>(code)};
    }
    case 'r': {
        const std::uint32_t rgba = reader.read_u32(what);
        return OscRgba{static_cast<std::uint8_t>(rgba >> 24), static_cast<std::uint8_t>(rgba >> 16),
                       static_cast<std::uint8_t>(rgba >> 8), static_cast<std::uint8_t>(rgba)};
    }
    case 'm': {
        const std::uint32_t midi = reader.read_u32(what);
        return OscMidi{static_cast<std::uint8_t>(midi >> 24), static_cast<std::uint8_t>(midi >> 16),
                       static_cast<std::uint8_t>(midi >> 8), static_cast<std::uint8_t>(midi)};
    }
    case 'T': return true;
    case 'F': return false;
    case 'N': return OscNil{};
    case 'I': return OscImpulse{};
    case '[':
    case ']': reader.fail("OSC arrays ('[' ... ']') are not supported; send the items as separate arguments");
    default: break;
    }
    const auto code = static_cast<unsigned char>(tag);
    const std::string shown = code >= 0x20 && code < 0x7F ? std::string("'") + tag + "'"
                                                          : "byte " + std::to_string(code);
    reader.fail("unknown type tag " + shown + "; known tags are i f s S b h d t c r m T F N I");
}

OscMessage read_message(OscReader& reader) {
    OscMessage message;
    message.address = reader.read_string("address");
    for (const char c : message.address) {
        const auto code = static_cast<unsigned char>(c);
        if (code < 0x20 || code >= 0x7F) {
            reader.fail("address '" + message.address + "' holds a byte " + std::to_string(code) +
                        " outside printable ASCII");
        }
    }

    // OSC 1.0 makes the type tag string optional ("should") and OSC 1.1 requires it. Older senders
    // omit it for messages without arguments, so an address alone is a message without arguments.
    if (reader.at_end()) {
        return message;
    }
    if (!reader.starts_with(",")) {
        reader.fail("message '" + message.address + "' lacks the type tag string (starting with ',')");
    }
    const std::string type_tags = reader.read_string("type tag string");

    // Each argument needs at least its tag, so reserving one slot per tag stays within the packet size.
    message.arguments.reserve(type_tags.size() - 1);
    for (std::size_t i = 1; i < type_tags.size(); ++i) {
        message.arguments.push_back(read_argument(reader, type_tags[i]));
    }
    if (!reader.at_end()) {
        reader.fail(std::to_string(reader.remaining()) + " bytes follow the last argument of '" + message.address +
                    "'; the type tags ',"+ type_tags.substr(1) + "' do not cover them");
    }
    return message;
}

OscPacket read_packet(OscReader& reader, std::uint64_t parent_timetag, std::size_t depth,
                      const OscDecodeLimits& limits);

OscBundle read_bundle(OscReader& reader, std::uint64_t parent_timetag, std::size_t depth,
                      const OscDecodeLimits& limits) {
    if (depth >= limits.max_bundle_depth) {
        reader.fail("bundles are nested more than " + std::to_string(limits.max_bundle_depth) + " deep");
    }
    reader.read_string("bundle tag");
    OscBundle bundle;
    bundle.timetag.ntp = reader.read_u64("bundle time tag");
    // OSC 1.0: a bundle inside a bundle must be dated no earlier than the one that contains it.
    if (bundle.timetag.ntp < parent_timetag) {
        reader.fail("nested bundle time tag " + std::to_string(bundle.timetag.ntp) +
                    " is earlier than its parent's " + std::to_string(parent_timetag));
    }

    while (!reader.at_end()) {
        const std::uint32_t size = reader.read_u32("bundle element size");
        if (size == 0 || size % osc_alignment_bytes != 0) {
            reader.fail("bundle element size " + std::to_string(size) + " is not a positive multiple of 4");
        }
        if (size > reader.remaining()) {
            reader.fail("bundle element of " + std::to_string(size) + " bytes overruns the bundle: " +
                        std::to_string(reader.remaining()) + " bytes remain");
        }
        OscReader element = reader.take(size);
        bundle.elements.push_back(read_packet(element, bundle.timetag.ntp, depth + 1, limits));
    }
    return bundle;
}

OscPacket read_packet(OscReader& reader, std::uint64_t parent_timetag, std::size_t depth,
                      const OscDecodeLimits& limits) {
    if (reader.starts_with("/")) {
        return OscPacket{read_message(reader)};
    }
    if (reader.starts_with(bundle_tag)) {
        return OscPacket{read_bundle(reader, parent_timetag, depth, limits)};
    }
    reader.fail("packet starts with neither '/' (a message) nor \"#bundle\" (a bundle)");
}

}  // namespace

// Written out instead of "= default": clang 14 crashes (a segfault in Sema) when it instantiates a
// defaulted comparison through the recursive variant, which the libFuzzer build needs.
bool OscBundle::operator==(const OscBundle& other) const {
    return timetag == other.timetag && elements == other.elements;
}

char osc_type_tag(const OscArgument& argument) {
    static constexpr std::array<char, std::variant_size_v<OscArgument>> tags{'i', 'f', 's', 'S', 'b', 'h', 'd',
                                                                             't', 'c', 'r', 'm', 'T', 'N', 'I'};
    if (const bool* flag = std::get_if<bool>(&argument)) {
        return *flag ? 'T' : 'F';
    }
    return tags[argument.index()];
}

std::vector<std::uint8_t> encode_osc_message(const OscMessage& message) {
    OscWriter writer;
    append_message(writer, message);
    return writer.take();
}

std::vector<std::uint8_t> encode_osc_packet(const OscPacket& packet) {
    OscWriter writer;
    append_packet(writer, packet);
    return writer.take();
}

OscPacket decode_osc_packet(std::span<const std::uint8_t> bytes, const OscDecodeLimits& limits) {
    if (bytes.empty() || bytes.size() % osc_alignment_bytes != 0) {
        throw Error("malformed OSC packet: its size of " + std::to_string(bytes.size()) +
                        " bytes is not a positive multiple of 4",
                    ErrorKind::device);
    }
    OscReader reader(bytes, 0);
    return read_packet(reader, 0, 0, limits);
}

std::string describe(const OscMessage& message) {
    if (message.arguments.empty()) {
        return message.address;  // a query: no type tags to show
    }
    std::string text = message.address + " ,";
    for (const auto& argument : message.arguments) {
        text += osc_type_tag(argument);
    }
    for (const auto& argument : message.arguments) {
        text += ' ';
        std::visit(
            [&text](const auto& value) {
                using T = std::decay_t<decltype(value)>;
                if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
                    text += std::to_string(value);
                } else if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
                    text += format_significant(value, 9);
                } else if constexpr (std::is_same_v<T, std::string>) {
                    text += '"' + value + '"';
                } else if constexpr (std::is_same_v<T, OscSymbol>) {
                    text += '\'' + value.text + '\'';
                } else if constexpr (std::is_same_v<T, OscBlob>) {
                    text += "[" + std::to_string(value.bytes.size()) + "-byte blob]";
                } else if constexpr (std::is_same_v<T, OscTimetag>) {
                    text += "t" + std::to_string(value.ntp);
                } else if constexpr (std::is_same_v<T, OscChar>) {
                    text += "'" + std::string(1, static_cast<char>(value.code)) + "'";
                } else if constexpr (std::is_same_v<T, bool>) {
                    text += value ? "true" : "false";
                } else if constexpr (std::is_same_v<T, OscNil>) {
                    text += "nil";
                } else if constexpr (std::is_same_v<T, OscImpulse>) {
                    text += "impulse";
                } else {
                    text += "(4 bytes)";
                }
            },
            argument);
    }
    return text;
}

namespace {

void collect_messages(const OscPacket& packet, std::vector<const OscMessage*>& messages) {
    if (const auto* message = std::get_if<OscMessage>(&packet.content)) {
        messages.push_back(message);
        return;
    }
    for (const auto& element : std::get<OscBundle>(packet.content).elements) {
        collect_messages(element, messages);
    }
}

}  // namespace

std::vector<const OscMessage*> messages_of(const OscPacket& packet) {
    std::vector<const OscMessage*> messages;
    collect_messages(packet, messages);
    return messages;
}

}  // namespace linetune::control
