// OSC over byte streams. OSC 1.0 ("The Open Sound Control 1.0 Specification", 2002) frames each
// packet with an int32 big-endian byte count. OSC 1.1 (Freed & Schmeder, NIME 2009) frames it
// with SLIP (RFC 1055): END (0xC0) ends a packet, 0xC0 inside it is sent as ESC ESC_END
// (0xDB 0xDC) and 0xDB as ESC ESC_ESC (0xDB 0xDD). An END also before the packet ("double END")
// flushes line noise on the receiver; the empty frame it makes is skipped.

#include "linetune/control/osc/osc_stream_framing.hpp"

#include "linetune/core/error.hpp"

#include <limits>
#include <string>

namespace linetune::control {
namespace {

constexpr std::uint8_t slip_end = 0xC0;
constexpr std::uint8_t slip_escape = 0xDB;
constexpr std::uint8_t slip_escaped_end = 0xDC;
constexpr std::uint8_t slip_escaped_escape = 0xDD;

constexpr std::size_t length_prefix_bytes = 4;

// The length prefix is an OSC int32, so a packet needs fewer than 2^31 bytes.
constexpr std::size_t max_length_prefixed_bytes = std::numeric_limits<std::int32_t>::max();

std::string hex_byte(std::uint8_t byte) {
    constexpr std::string_view digits = "0123456789ABCDEF";
    return std::string("0x") + digits[byte >> 4] + digits[byte & 0x0F];
}

std::vector<std::uint8_t> length_prefixed(std::span<const std::uint8_t> packet) {
    if (packet.size() > max_length_prefixed_bytes) {
        throw Error("an OSC packet of " + std::to_string(packet.size()) +
                        " bytes does not fit the int32 length prefix of OSC 1.0 stream framing",
                    ErrorKind::configuration);
    }
    const auto size = static_cast<std::uint32_t>(packet.size());
    std::vector<std::uint8_t> frame{static_cast<std::uint8_t>(size >> 24), static_cast<std::uint8_t>(size >> 16),
                                    static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size)};
    frame.insert(frame.end(), packet.begin(), packet.end());
    return frame;
}

std::vector<std::uint8_t> slip_framed(std::span<const std::uint8_t> packet) {
    std::vector<std::uint8_t> frame;
    frame.reserve(packet.size() + 2);
    frame.push_back(slip_end);
    for (const std::uint8_t byte : packet) {
        if (byte == slip_end) {
            frame.push_back(slip_escape);
            frame.push_back(slip_escaped_end);
        } else if (byte == slip_escape) {
            frame.push_back(slip_escape);
            frame.push_back(slip_escaped_escape);
        } else {
            frame.push_back(byte);
        }
    }
    frame.push_back(slip_end);
    return frame;
}

}  // namespace

std::string_view to_string(OscStreamFraming framing) {
    switch (framing) {
    case OscStreamFraming::length_prefix: return "length-prefix";
    case OscStreamFraming::slip: return "slip";
    }
    return "unknown";
}

std::optional<OscStreamFraming> parse_osc_stream_framing(std::string_view name) {
    if (name == "length-prefix") {
        return OscStreamFraming::length_prefix;
    }
    if (name == "slip") {
        return OscStreamFraming::slip;
    }
    return std::nullopt;
}

std::vector<std::uint8_t> frame_osc_packet(std::span<const std::uint8_t> packet, OscStreamFraming framing) {
    return framing == OscStreamFraming::slip ? slip_framed(packet) : length_prefixed(packet);
}

OscStreamDecoder::OscStreamDecoder(OscStreamFraming framing, std::size_t max_packet_bytes)
    : framing_(framing), max_packet_bytes_(max_packet_bytes) {}

std::size_t OscStreamDecoder::buffered_bytes() const { return prefix_.size() + packet_.size(); }

void OscStreamDecoder::reset() {
    prefix_.clear();
    expected_bytes_.reset();
    escape_pending_ = false;
    packet_.clear();
}

void OscStreamDecoder::fail(const std::string& fault) {
    reset();
    throw Error("OSC stream (" + std::string(to_string(framing_)) + " framing): " + fault +
                    "; the stream is out of step, so the connection must be closed",
                ErrorKind::device);
}

std::vector<std::vector<std::uint8_t>> OscStreamDecoder::feed(std::span<const std::uint8_t> bytes) {
    std::vector<std::vector<std::uint8_t>> packets;
    if (framing_ == OscStreamFraming::slip) {
        feed_slip(bytes, packets);
    } else {
        feed_length_prefixed(bytes, packets);
    }
    return packets;
}

void OscStreamDecoder::feed_length_prefixed(std::span<const std::uint8_t> bytes,
                                            std::vector<std::vector<std::uint8_t>>& packets) {
    std::size_t offset = 0;
    while (offset < bytes.size()) {
        if (!expected_bytes_) {
            const std::size_t taken = std::min(length_prefix_bytes - prefix_.size(), bytes.size() - offset);
            prefix_.insert(prefix_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                           bytes.begin() + static_cast<std::ptrdiff_t>(offset + taken));
            offset += taken;
            if (prefix_.size() < length_prefix_bytes) {
                return;
            }
            const std::uint32_t size = std::uint32_t{prefix_[0]} << 24 | std::uint32_t{prefix_[1]} << 16 |
                                       std::uint32_t{prefix_[2]} << 8 | std::uint32_t{prefix_[3]};
            prefix_.clear();
            if (size == 0) {
                fail("a length prefix of 0 bytes announces no packet");
            }
            if (size > max_packet_bytes_) {
                fail("a length prefix announces " + std::to_string(size) + " bytes, above the limit of " +
                     std::to_string(max_packet_bytes_) + " bytes per packet");
            }
            // Nothing is reserved for the announced size: the buffer grows only with bytes that
            // actually arrive, so a false prefix costs no memory.
            expected_bytes_ = size;
        }

        const std::size_t taken = std::min(*expected_bytes_ - packet_.size(), bytes.size() - offset);
        packet_.insert(packet_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset),
                       bytes.begin() + static_cast<std::ptrdiff_t>(offset + taken));
        offset += taken;
        if (packet_.size() == *expected_bytes_) {
            packets.push_back(std::move(packet_));
            packet_.clear();
            expected_bytes_.reset();
        }
    }
}

void OscStreamDecoder::feed_slip(std::span<const std::uint8_t> bytes, std::vector<std::vector<std::uint8_t>>& packets) {
    for (const std::uint8_t byte : bytes) {
        if (escape_pending_) {
            escape_pending_ = false;
            if (byte == slip_escaped_end) {
                packet_.push_back(slip_end);
            } else if (byte == slip_escaped_escape) {
                packet_.push_back(slip_escape);
            } else {
                fail("SLIP escape byte 0xDB is followed by " + hex_byte(byte) + " instead of 0xDC or 0xDD");
            }
        } else if (byte == slip_end) {
            if (!packet_.empty()) {
                packets.push_back(std::move(packet_));
                packet_.clear();
            }
            continue;
        } else if (byte == slip_escape) {
            escape_pending_ = true;
            continue;
        } else {
            packet_.push_back(byte);
        }
        if (packet_.size() > max_packet_bytes_) {
            fail("a SLIP frame exceeds the limit of " + std::to_string(max_packet_bytes_) + " bytes per packet");
        }
    }
}

}  // namespace linetune::control
