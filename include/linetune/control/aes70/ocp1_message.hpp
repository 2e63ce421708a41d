#pragma once

// OCP.1, the TCP/UDP protocol of AES70 (AES70-3): message framing, the PDU types a controller
// sends and receives, and the data types of their parameters. Every integer and float is
// big-endian on the wire.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::control {

/// First byte of every OCP.1 message.
inline constexpr std::uint8_t ocp1_sync_byte = 0x3B;

/// Protocol version linetune sends. AES70-3 keeps it at 1, but AES70.js 2.x sends 4, so decoding
/// accepts any version from 1.
inline constexpr std::uint16_t ocp1_protocol_version = 1;

/// Bytes of the message header: sync byte, ProtocolVersion u16, MessageSize u32, PduType u8,
/// MessageCount u16.
inline constexpr std::size_t ocp1_header_size = 10;

/// Object number (ONo) of an AES70 object.
using OcaONo = std::uint32_t;

/// Well-known object numbers that every AES70 device has.
inline constexpr OcaONo oca_device_manager_ono = 1;
inline constexpr OcaONo oca_subscription_manager_ono = 4;
inline constexpr OcaONo oca_root_block_ono = 100;

/// Kind of the PDUs in a message; all PDUs of one message share it.
enum class Ocp1PduType : std::uint8_t {
    command = 0,                   ///< no response wanted
    command_response_required = 1,
    notification = 2,              ///< AES70-2018 event notification (EV1)
    response = 3,
    keep_alive = 4,
    notification2 = 5,             ///< AES70-2023 notification (EV2); decoded as an error for now
};

/// A method or event of a class: the class's depth in the class tree (OcaRoot = 1) and the index
/// of the method or event within that class.
struct OcaMemberId {
    std::uint16_t def_level = 0;
    std::uint16_t index = 0;

    bool operator==(const OcaMemberId&) const = default;
};

using OcaMethodId = OcaMemberId;
using OcaEventId = OcaMemberId;
using OcaPropertyId = OcaMemberId;

/// OcaStatus of a Response (AES70-2018 codes 0 to 14, AES70-2023 adds 15 to 17).
enum class OcaStatus : std::uint8_t {
    ok = 0,
    protocol_version_error = 1,
    device_error = 2,
    locked = 3,
    bad_format = 4,
    bad_ono = 5,
    parameter_error = 6,
    parameter_out_of_range = 7,
    not_implemented = 8,
    invalid_request = 9,
    processing_failed = 10,
    bad_method = 11,
    partially_succeeded = 12,
    timeout = 13,
    buffer_overflow = 14,
    permission_denied = 15,
    out_of_memory = 16,
    busy = 17,
};

/// The standard name of a status ("ParameterOutOfRange"), or "status N" for an unknown code.
std::string to_string(OcaStatus status);

/// Returns the meaning of a status and the next step for the user, for error messages.
std::string explain_status(OcaStatus status);

/// A Command or CommandResponseRequired PDU: call a method of an object.
struct Ocp1Command {
    std::uint32_t handle = 0;  ///< chosen by the controller; the Response carries it back
    OcaONo target_ono = 0;
    OcaMethodId method;
    std::uint8_t parameter_count = 0;
    std::vector<std::uint8_t> parameters;  ///< the encoded parameters, parameter_count of them

    bool operator==(const Ocp1Command&) const = default;
};

/// A Response PDU: the outcome of a CommandResponseRequired.
struct Ocp1Response {
    std::uint32_t handle = 0;
    OcaStatus status = OcaStatus::ok;
    std::uint8_t parameter_count = 0;
    std::vector<std::uint8_t> parameters;

    bool operator==(const Ocp1Response&) const = default;
};

/// An EV1 Notification PDU: an event of an emitter object delivered to a subscriber method.
struct Ocp1Notification {
    OcaONo target_ono = 0;  ///< the subscriber's object number
    OcaMethodId method;     ///< the subscriber's method
    std::uint8_t parameter_count = 2;
    std::vector<std::uint8_t> context;  ///< the context blob given at subscription
    OcaONo emitter_ono = 0;
    OcaEventId event;
    std::vector<std::uint8_t> event_data;  ///< for PropertyChanged: PropertyID, value, ChangeType

    bool operator==(const Ocp1Notification&) const = default;
};

/// A KeepAlive PDU: the heartbeat time that one side requests the other to keep.
struct Ocp1KeepAlive {
    std::chrono::milliseconds heartbeat{1000};
    /// True for the u32 milliseconds form (AES70-2018 and later), false for u16 seconds.
    bool milliseconds_form = false;

    bool operator==(const Ocp1KeepAlive&) const = default;
};

/// One decoded message: its header and the PDUs of its type (the other lists stay empty).
struct Ocp1Message {
    std::uint16_t protocol_version = ocp1_protocol_version;
    Ocp1PduType type = Ocp1PduType::command_response_required;
    std::vector<Ocp1Command> commands;
    std::vector<Ocp1Response> responses;
    std::vector<Ocp1Notification> notifications;
    std::optional<Ocp1KeepAlive> keep_alive;
};

/// Appends OCP.1 data types to a byte buffer, big-endian.
class Ocp1Writer {
public:
    Ocp1Writer& u8(std::uint8_t value);
    Ocp1Writer& u16(std::uint16_t value);
    Ocp1Writer& u32(std::uint32_t value);
    Ocp1Writer& u64(std::uint64_t value);
    Ocp1Writer& i8(std::int8_t value);
    Ocp1Writer& i16(std::int16_t value);
    Ocp1Writer& i32(std::int32_t value);
    Ocp1Writer& i64(std::int64_t value);
    Ocp1Writer& f32(float value);
    Ocp1Writer& f64(double value);
    Ocp1Writer& boolean(bool value);
    /// OcaString: u16 count of Unicode code points, then the UTF-8 bytes. Throws Error (input)
    /// for text that is not valid UTF-8 or has more than 65535 code points.
    Ocp1Writer& string(std::string_view utf8);
    /// OcaBlob: u16 length, then the bytes. Throws Error (input) above 65535 bytes.
    Ocp1Writer& blob(std::span<const std::uint8_t> bytes);
    Ocp1Writer& ono(OcaONo value) { return u32(value); }
    Ocp1Writer& member_id(OcaMemberId id) { return u16(id.def_level).u16(id.index); }
    Ocp1Writer& raw(std::span<const std::uint8_t> bytes);

    [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }
    [[nodiscard]] std::vector<std::uint8_t> take() { return std::move(bytes_); }

private:
    std::vector<std::uint8_t> bytes_;
};

/// Reads OCP.1 data types from a byte span without reading past its end. Every failure throws
/// Error (input) naming what was being read, its offset and the bytes left.
class Ocp1Reader {
public:
    /// what names the bytes in messages ("Response to handle 7").
    Ocp1Reader(std::span<const std::uint8_t> bytes, std::string what);

    std::uint8_t u8();
    std::uint16_t u16();
    std::uint32_t u32();
    std::uint64_t u64();
    std::int8_t i8();
    std::int16_t i16();
    std::int32_t i32();
    std::int64_t i64();
    float f32();
    double f64();
    /// Boolean: u8 0 or 1; any other byte is an error.
    bool boolean();
    /// OcaString: walks the code-point count through the UTF-8 bytes and checks each sequence.
    std::string string();
    std::vector<std::uint8_t> blob();
    OcaONo ono() { return u32(); }
    OcaMemberId member_id();
    /// The next count bytes.
    std::span<const std::uint8_t> bytes(std::size_t count);

    [[nodiscard]] std::size_t remaining() const { return data_.size() - offset_; }
    [[nodiscard]] std::size_t offset() const { return offset_; }

    /// Throws unless every byte was read.
    void expect_end() const;

private:
    void need(std::size_t count, std::string_view field) const;

    std::span<const std::uint8_t> data_;
    std::size_t offset_ = 0;
    std::string what_;
};

/// The header fields of a message, read from its first ocp1_header_size bytes.
struct Ocp1Header {
    std::uint16_t protocol_version = 0;
    std::uint32_t message_size = 0;  ///< bytes after the sync byte: 9 + the PDUs
    Ocp1PduType type = Ocp1PduType::command;
    std::uint16_t pdu_count = 0;

    /// Bytes of the whole message, sync byte included.
    [[nodiscard]] std::size_t total_size() const { return std::size_t{message_size} + 1; }
};

/// Largest message linetune accepts from a device (1 MiB). By our estimate the whole object tree of
/// a large amplifier frame (GetMembersRecursive) takes tens of kilobytes. A bigger size field
/// points to a broken or hostile peer, and reading it would tie up that much memory.
inline constexpr std::size_t ocp1_max_message_size = 1u << 20;

/// Reads and checks a message header: sync byte, version from 1, size from 9 up to
/// ocp1_max_message_size, known PDU type, and at least one PDU. Throws Error (input).
Ocp1Header decode_ocp1_header(std::span<const std::uint8_t> header);

/// Decodes exactly one whole message. Throws Error (input) for anything malformed: a short or
/// long buffer, a PDU whose size field disagrees with its content, too few or too many PDUs,
/// invalid UTF-8, a KeepAlive payload other than 2 or 4 bytes or with a heartbeat of 0, or an EV2
/// notification.
Ocp1Message decode_ocp1_message(std::span<const std::uint8_t> message);

/// One message of Command (response_required false) or CommandResponseRequired PDUs.
std::vector<std::uint8_t> encode_ocp1_commands(std::span<const Ocp1Command> commands, bool response_required);

/// One message of Response PDUs.
std::vector<std::uint8_t> encode_ocp1_responses(std::span<const Ocp1Response> responses);

/// One message of EV1 Notification PDUs.
std::vector<std::uint8_t> encode_ocp1_notifications(std::span<const Ocp1Notification> notifications);

/// A KeepAlive message. The u16 seconds form needs a whole number of seconds from 1 to 65535;
/// the milliseconds form takes 1 ms to 2^32 − 1 ms. Throws Error (input) otherwise.
std::vector<std::uint8_t> encode_ocp1_keep_alive(const Ocp1KeepAlive& keep_alive);

}  // namespace linetune::control
