#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::control {

/// Framing of OSC packets on a byte stream such as TCP.
enum class OscStreamFraming {
    length_prefix,  ///< OSC 1.0: an int32 big-endian byte count before each packet (liblo)
    slip,           ///< OSC 1.1: SLIP (RFC 1055), an END byte before and after each packet (osc.js)
};

/// The profile's name of a framing: "length-prefix" or "slip".
std::string_view to_string(OscStreamFraming framing);

/// The framing a profile names ("length-prefix", "slip"); empty for any other text.
std::optional<OscStreamFraming> parse_osc_stream_framing(std::string_view name);

/// Default limit on one packet received over a stream. OSC over UDP cannot carry more than a
/// 64 KiB datagram, so no device reply is expected to be larger. A bigger frame points to a
/// stream out of step or a hostile peer.
inline constexpr std::size_t osc_stream_default_max_packet_bytes = 65536;

/// The packet with its framing, ready to be written to the stream. Throws Error (configuration)
/// for a packet that a length prefix cannot express (2^31 bytes or more).
std::vector<std::uint8_t> frame_osc_packet(std::span<const std::uint8_t> packet, OscStreamFraming framing);

/// Splits a received byte stream into OSC packets. Bytes may arrive in any pieces: a packet cut
/// across reads is kept until its end arrives, and one read may complete several packets.
/// The decoder checks only the framing; decode_osc_packet checks each packet.
class OscStreamDecoder {
public:
    explicit OscStreamDecoder(OscStreamFraming framing,
                              std::size_t max_packet_bytes = osc_stream_default_max_packet_bytes);

    /// Appends received bytes and returns the packets they complete, in order. Empty SLIP frames
    /// (the double END between packets) are skipped. Throws Error (device) for a frame larger than
    /// the limit, a zero length prefix, or a SLIP escape followed by a byte other than DC or DD.
    /// After such an error the stream is out of step: the decoder clears its buffer and the
    /// caller must close the connection.
    std::vector<std::vector<std::uint8_t>> feed(std::span<const std::uint8_t> bytes);

    /// Bytes of a packet whose end has not arrived yet (0 between packets).
    [[nodiscard]] std::size_t buffered_bytes() const;

    /// Forgets a partly received packet, as after a new connection.
    void reset();

    [[nodiscard]] OscStreamFraming framing() const { return framing_; }
    [[nodiscard]] std::size_t max_packet_bytes() const { return max_packet_bytes_; }

private:
    void feed_length_prefixed(std::span<const std::uint8_t> bytes, std::vector<std::vector<std::uint8_t>>& packets);
    void feed_slip(std::span<const std::uint8_t> bytes, std::vector<std::vector<std::uint8_t>>& packets);
    [[noreturn]] void fail(const std::string& fault);

    OscStreamFraming framing_;
    std::size_t max_packet_bytes_;

    // Length prefix: the bytes of the prefix read so far, then the packet's size once known.
    std::vector<std::uint8_t> prefix_;
    std::optional<std::size_t> expected_bytes_;
    // SLIP: true after an ESC byte whose partner has not arrived yet.
    bool escape_pending_ = false;
    std::vector<std::uint8_t> packet_;
};

}  // namespace linetune::control
