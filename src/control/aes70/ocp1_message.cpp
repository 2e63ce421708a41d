#include "linetune/control/aes70/ocp1_message.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>

namespace linetune::control {
namespace {

// Fixed parts of each PDU, size field included (AES70-3, OCP.1 PDU formats):
// Command: size u32, handle u32, target ONo u32, method ID 2 × u16, parameter count u8.
constexpr std::size_t command_fixed_size = 17;
// Response: size u32, handle u32, status u8, parameter count u8.
constexpr std::size_t response_fixed_size = 10;
// EV1 Notification: size u32, target ONo u32, method ID 2 × u16, parameter count u8, context
// blob length u16, emitter ONo u32, event ID 2 × u16.
constexpr std::size_t notification_fixed_size = 23;
// MessageSize counts the header after the sync byte: version u16, size u32, type u8, count u16.
constexpr std::uint32_t header_size_after_sync = 9;

constexpr std::size_t max_u16 = std::numeric_limits<std::uint16_t>::max();

std::string hex_byte(std::uint8_t value) {
    constexpr std::string_view digits = "0123456789abcdef";
    return {'0', 'x', digits[value >> 4], digits[value & 0x0f]};
}

Error malformed(std::string message) { return Error("OCP.1 message: " + message, ErrorKind::input); }

/// Length of the UTF-8 sequence that starts with lead, or 0 for a byte that cannot start one.
std::size_t utf8_sequence_length(std::uint8_t lead) {
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xc2 && lead <= 0xdf) {
        return 2;
    }
    if (lead >= 0xe0 && lead <= 0xef) {
        return 3;
    }
    if (lead >= 0xf0 && lead <= 0xf4) {
        return 4;
    }
    return 0;  // a continuation byte, an overlong lead (0xc0, 0xc1) or beyond U+10FFFF
}

/// Checks one UTF-8 sequence of the given length at text[0]: continuation bytes, no overlong
/// three- or four-byte forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8_sequence(std::span<const std::uint8_t> text, std::size_t length) {
    for (std::size_t i = 1; i < length; ++i) {
        if ((text[i] & 0xc0) != 0x80) {
            return false;
        }
    }
    if (length == 3) {
        const bool overlong = text[0] == 0xe0 && text[1] < 0xa0;
        const bool surrogate = text[0] == 0xed && text[1] >= 0xa0;
        return !overlong && !surrogate;
    }
    if (length == 4) {
        const bool overlong = text[0] == 0xf0 && text[1] < 0x90;
        const bool above_unicode = text[0] == 0xf4 && text[1] >= 0x90;
        return !overlong && !above_unicode;
    }
    return true;
}

/// Writes the message header and returns the writer for the PDUs.
Ocp1Writer message_header(Ocp1PduType type, std::size_t pdu_count) {
    if (pdu_count == 0 || pdu_count > max_u16) {
        throw malformed("a message carries 1 to 65535 PDUs, not " + std::to_string(pdu_count));
    }
    Ocp1Writer writer;
    writer.u8(ocp1_sync_byte).u16(ocp1_protocol_version).u32(0).u8(static_cast<std::uint8_t>(type));
    writer.u16(static_cast<std::uint16_t>(pdu_count));
    return writer;
}

/// Fills in MessageSize once the PDUs are written.
std::vector<std::uint8_t> finish_message(Ocp1Writer& writer) {
    auto bytes = writer.take();
    const auto size_after_sync = static_cast<std::uint32_t>(bytes.size() - 1);
    for (int i = 0; i < 4; ++i) {
        bytes[3 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(size_after_sync >> (24 - 8 * i));
    }
    return bytes;
}

/// Appends a PDU: its u32 size (counting itself), then the body.
void append_pdu(Ocp1Writer& writer, const std::vector<std::uint8_t>& body) {
    writer.u32(static_cast<std::uint32_t>(body.size() + 4)).raw(body);
}

/// Reads a PDU's size field and returns a reader over the rest of that PDU.
Ocp1Reader next_pdu(Ocp1Reader& message, std::size_t fixed_size, std::string_view kind, std::size_t number) {
    const std::string name = std::string(kind) + " PDU " + std::to_string(number);
    if (message.remaining() < 4) {
        throw malformed(name + " is missing: " + std::to_string(message.remaining()) +
                        " bytes remain, fewer than its 4-byte size field (MessageCount may be too large)");
    }
    const std::uint32_t size = message.u32();
    if (size < fixed_size) {
        throw malformed(name + " declares " + std::to_string(size) + " bytes, less than the " +
                        std::to_string(fixed_size) + " of its fixed fields");
    }
    if (size - 4 > message.remaining()) {
        throw malformed(name + " declares " + std::to_string(size) + " bytes but only " +
                        std::to_string(message.remaining() + 4) + " remain in the message");
    }
    return Ocp1Reader(message.bytes(size - 4), name);
}

std::vector<std::uint8_t> copy_rest(Ocp1Reader& reader) {
    const auto rest = reader.bytes(reader.remaining());
    return {rest.begin(), rest.end()};
}

Ocp1Command decode_command(Ocp1Reader& message, std::size_t number) {
    Ocp1Reader pdu = next_pdu(message, command_fixed_size, "Command", number);
    Ocp1Command command;
    command.handle = pdu.u32();
    command.target_ono = pdu.ono();
    command.method = pdu.member_id();
    command.parameter_count = pdu.u8();
    command.parameters = copy_rest(pdu);
    return command;
}

Ocp1Response decode_response(Ocp1Reader& message, std::size_t number) {
    Ocp1Reader pdu = next_pdu(message, response_fixed_size, "Response", number);
    Ocp1Response response;
    response.handle = pdu.u32();
    response.status = static_cast<OcaStatus>(pdu.u8());
    response.parameter_count = pdu.u8();
    response.parameters = copy_rest(pdu);
    return response;
}

Ocp1Notification decode_notification(Ocp1Reader& message, std::size_t number) {
    Ocp1Reader pdu = next_pdu(message, notification_fixed_size, "Notification", number);
    Ocp1Notification notification;
    notification.target_ono = pdu.ono();
    notification.method = pdu.member_id();
    notification.parameter_count = pdu.u8();
    notification.context = pdu.blob();
    notification.emitter_ono = pdu.ono();
    notification.event = pdu.member_id();
    notification.event_data = copy_rest(pdu);
    return notification;
}

Ocp1KeepAlive decode_keep_alive(Ocp1Reader& message, std::uint16_t pdu_count) {
    if (pdu_count != 1) {
        throw malformed("a KeepAlive message carries exactly 1 PDU, not " + std::to_string(pdu_count));
    }
    Ocp1KeepAlive keep_alive;
    if (message.remaining() == 2) {
        keep_alive.heartbeat = std::chrono::seconds(message.u16());
    } else if (message.remaining() == 4) {
        keep_alive.heartbeat = std::chrono::milliseconds(message.u32());
        keep_alive.milliseconds_form = true;
    } else {
        throw malformed("a KeepAlive payload is 2 bytes (seconds) or 4 bytes (milliseconds), not " +
                        std::to_string(message.remaining()));
    }
    // The same range as encode_ocp1_keep_alive: with a heartbeat of 0, "drop the link after 3
    // heartbeats of silence" would drop it at once.
    if (keep_alive.heartbeat.count() == 0) {
        throw malformed("a KeepAlive heartbeat of 0 is invalid; it is 1 s to 65535 s, or 1 ms to 4294967295 ms");
    }
    return keep_alive;
}

/// Capacity to reserve for count PDUs of at least min_size bytes each: never more than the bytes
/// present can hold, so a forged count cannot make the decoder allocate.
std::size_t bounded_reserve(std::uint16_t count, const Ocp1Reader& reader, std::size_t min_size) {
    return std::min<std::size_t>(count, reader.remaining() / min_size);
}

}  // namespace

std::string to_string(OcaStatus status) {
    static constexpr std::array<std::string_view, 18> names{
        "OK",          "ProtocolVersionError", "DeviceError", "Locked",          "BadFormat",
        "BadONo",      "ParameterError",       "ParameterOutOfRange", "NotImplemented", "InvalidRequest",
        "ProcessingFailed", "BadMethod",       "PartiallySucceeded",  "Timeout",        "BufferOverflow",
        "PermissionDenied", "OutOfMemory",     "Busy"};
    const auto code = static_cast<std::size_t>(status);
    if (code < names.size()) {
        return std::string(names[code]);
    }
    return "status " + std::to_string(code);
}

std::string explain_status(OcaStatus status) {
    switch (status) {
    case OcaStatus::ok: return "the command succeeded";
    case OcaStatus::protocol_version_error: return "the device does not speak this OCP.1 version";
    case OcaStatus::device_error: return "the device reported an internal error; check its front panel or log";
    case OcaStatus::locked:
        return "another controller holds a lock on the object; release it there before pushing";
    case OcaStatus::bad_format: return "the device could not parse the parameters; the profile's class may be wrong";
    case OcaStatus::bad_ono:
        return "the device has no object with this number; correct the object map in the profile";
    case OcaStatus::parameter_error: return "the device rejected the value as invalid";
    case OcaStatus::parameter_out_of_range:
        return "the value is outside the device's range; narrow the profile's limits to the device's";
    case OcaStatus::not_implemented: return "the device does not implement this method";
    case OcaStatus::invalid_request: return "the device rejected the request in its current state";
    case OcaStatus::processing_failed: return "the device could not carry out the command";
    case OcaStatus::bad_method:
        return "the object has no such method; the profile maps it to an object of another class";
    case OcaStatus::partially_succeeded: return "only part of the command took effect; read the values back";
    case OcaStatus::timeout: return "the device timed out carrying out the command";
    case OcaStatus::buffer_overflow: return "the device ran out of buffer space";
    case OcaStatus::permission_denied: return "the device denies this controller the change";
    case OcaStatus::out_of_memory: return "the device ran out of memory";
    case OcaStatus::busy: return "the device is busy; try again later";
    }
    return "the device returned an unknown status code";
}

// ---------------------------------------------------------------- writer

Ocp1Writer& Ocp1Writer::u8(std::uint8_t value) {
    bytes_.push_back(value);
    return *this;
}

Ocp1Writer& Ocp1Writer::u16(std::uint16_t value) {
    bytes_.push_back(static_cast<std::uint8_t>(value >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(value));
    return *this;
}

Ocp1Writer& Ocp1Writer::u32(std::uint32_t value) {
    u16(static_cast<std::uint16_t>(value >> 16));
    return u16(static_cast<std::uint16_t>(value));
}

Ocp1Writer& Ocp1Writer::u64(std::uint64_t value) {
    u32(static_cast<std::uint32_t>(value >> 32));
    return u32(static_cast<std::uint32_t>(value));
}

Ocp1Writer& Ocp1Writer::i8(std::int8_t value) { return u8(static_cast<std::uint8_t>(value)); }
Ocp1Writer& Ocp1Writer::i16(std::int16_t value) { return u16(static_cast<std::uint16_t>(value)); }
Ocp1Writer& Ocp1Writer::i32(std::int32_t value) { return u32(static_cast<std::uint32_t>(value)); }
Ocp1Writer& Ocp1Writer::i64(std::int64_t value) { return u64(static_cast<std::uint64_t>(value)); }
Ocp1Writer& Ocp1Writer::f32(float value) { return u32(std::bit_cast<std::uint32_t>(value)); }
Ocp1Writer& Ocp1Writer::f64(double value) { return u64(std::bit_cast<std::uint64_t>(value)); }
Ocp1Writer& Ocp1Writer::boolean(bool value) { return u8(value ? 1 : 0); }

Ocp1Writer& Ocp1Writer::string(std::string_view utf8) {
    const std::span<const std::uint8_t> text(reinterpret_cast<const std::uint8_t*>(utf8.data()), utf8.size());
    std::size_t code_points = 0;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t length = utf8_sequence_length(text[i]);
        if (length == 0 || i + length > text.size() || !valid_utf8_sequence(text.subspan(i), length)) {
            throw Error("OcaString: byte " + std::to_string(i) + " of the text is not valid UTF-8", ErrorKind::input);
        }
        i += length;
        ++code_points;
    }
    if (code_points > max_u16) {
        throw Error("OcaString: " + std::to_string(code_points) + " code points exceed the OcaString maximum of 65535",
                    ErrorKind::input);
    }
    u16(static_cast<std::uint16_t>(code_points));
    return raw(text);
}

Ocp1Writer& Ocp1Writer::blob(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > max_u16) {
        throw Error("OcaBlob: " + std::to_string(bytes.size()) + " bytes exceed the OcaBlob maximum of 65535",
                    ErrorKind::input);
    }
    u16(static_cast<std::uint16_t>(bytes.size()));
    return raw(bytes);
}

Ocp1Writer& Ocp1Writer::raw(std::span<const std::uint8_t> bytes) {
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
    return *this;
}

// ---------------------------------------------------------------- reader

Ocp1Reader::Ocp1Reader(std::span<const std::uint8_t> bytes, std::string what) : data_(bytes), what_(std::move(what)) {}

void Ocp1Reader::need(std::size_t count, std::string_view field) const {
    if (count > remaining()) {
        throw malformed(what_ + ": " + std::string(field) + " at byte " + std::to_string(offset_) + " needs " +
                        std::to_string(count) + " bytes but " + std::to_string(remaining()) + " remain");
    }
}

std::uint8_t Ocp1Reader::u8() {
    need(1, "Uint8");
    return data_[offset_++];
}

std::uint16_t Ocp1Reader::u16() {
    need(2, "Uint16");
    const auto value = static_cast<std::uint16_t>((data_[offset_] << 8) | data_[offset_ + 1]);
    offset_ += 2;
    return value;
}

std::uint32_t Ocp1Reader::u32() {
    need(4, "Uint32");
    const std::uint32_t high = u16();
    return (high << 16) | u16();
}

std::uint64_t Ocp1Reader::u64() {
    need(8, "Uint64");
    const std::uint64_t high = u32();
    return (high << 32) | u32();
}

std::int8_t Ocp1Reader::i8() { return static_cast<std::int8_t>(u8()); }
std::int16_t Ocp1Reader::i16() { return static_cast<std::int16_t>(u16()); }
std::int32_t Ocp1Reader::i32() { return static_cast<std::int32_t>(u32()); }
std::int64_t Ocp1Reader::i64() { return static_cast<std::int64_t>(u64()); }
float Ocp1Reader::f32() { return std::bit_cast<float>(u32()); }
double Ocp1Reader::f64() { return std::bit_cast<double>(u64()); }

bool Ocp1Reader::boolean() {
    need(1, "Boolean");
    const std::uint8_t value = data_[offset_];
    if (value > 1) {
        throw malformed(what_ + ": Boolean at byte " + std::to_string(offset_) + " is " + hex_byte(value) +
                        ", not 0 or 1");
    }
    ++offset_;
    return value == 1;
}

std::string Ocp1Reader::string() {
    const std::size_t start_of_field = offset_;
    const std::uint16_t code_points = u16();
    const std::size_t start = offset_;
    for (std::uint16_t i = 0; i < code_points; ++i) {
        need(1, "OcaString code point " + std::to_string(i + 1) + " of " + std::to_string(code_points));
        const std::size_t length = utf8_sequence_length(data_[offset_]);
        if (length == 0 || length > remaining() || !valid_utf8_sequence(data_.subspan(offset_), length)) {
            throw malformed(what_ + ": OcaString at byte " + std::to_string(start_of_field) +
                            " is not valid UTF-8 at byte " + std::to_string(offset_));
        }
        offset_ += length;
    }
    return {reinterpret_cast<const char*>(data_.data() + start), offset_ - start};
}

std::vector<std::uint8_t> Ocp1Reader::blob() {
    const std::uint16_t length = u16();
    const auto content = bytes(length);
    return {content.begin(), content.end()};
}

OcaMemberId Ocp1Reader::member_id() {
    OcaMemberId id;
    id.def_level = u16();
    id.index = u16();
    return id;
}

std::span<const std::uint8_t> Ocp1Reader::bytes(std::size_t count) {
    need(count, std::to_string(count) + "-byte field");
    const auto run = data_.subspan(offset_, count);
    offset_ += count;
    return run;
}

void Ocp1Reader::expect_end() const {
    if (remaining() != 0) {
        throw malformed(what_ + ": " + std::to_string(remaining()) + " unexpected bytes after the last field at byte " +
                        std::to_string(offset_));
    }
}

// ---------------------------------------------------------------- messages

Ocp1Header decode_ocp1_header(std::span<const std::uint8_t> header) {
    if (header.size() < ocp1_header_size) {
        throw malformed("header needs " + std::to_string(ocp1_header_size) + " bytes, got " +
                        std::to_string(header.size()));
    }
    Ocp1Reader reader(header.first(ocp1_header_size), "header");
    const std::uint8_t sync = reader.u8();
    if (sync != ocp1_sync_byte) {
        throw malformed("sync byte is " + hex_byte(sync) + ", not 0x3b; the peer does not speak OCP.1 or the stream "
                        "lost its framing");
    }
    Ocp1Header result;
    result.protocol_version = reader.u16();
    if (result.protocol_version < 1) {
        throw malformed("protocol version 0 is invalid (OCP.1 versions start at 1)");
    }
    result.message_size = reader.u32();
    if (result.message_size < header_size_after_sync || result.message_size >= ocp1_max_message_size) {
        throw malformed("MessageSize " + std::to_string(result.message_size) + " is outside 9 to " +
                        std::to_string(ocp1_max_message_size - 1) + " bytes");
    }
    const std::uint8_t type = reader.u8();
    if (type > static_cast<std::uint8_t>(Ocp1PduType::notification2)) {
        throw malformed("PDU type " + std::to_string(type) + " is unknown (0 to 5 are defined)");
    }
    result.type = static_cast<Ocp1PduType>(type);
    result.pdu_count = reader.u16();
    if (result.pdu_count == 0) {
        throw malformed("MessageCount is 0; a message carries at least one PDU");
    }
    return result;
}

Ocp1Message decode_ocp1_message(std::span<const std::uint8_t> message) {
    const Ocp1Header header = decode_ocp1_header(message);
    if (message.size() != header.total_size()) {
        throw malformed("MessageSize gives " + std::to_string(header.total_size()) + " bytes with the sync byte, but " +
                        std::to_string(message.size()) + " were given");
    }
    Ocp1Message result;
    result.protocol_version = header.protocol_version;
    result.type = header.type;
    Ocp1Reader body(message.subspan(ocp1_header_size), "message body");

    switch (header.type) {
    case Ocp1PduType::command:
    case Ocp1PduType::command_response_required:
        result.commands.reserve(bounded_reserve(header.pdu_count, body, command_fixed_size));
        for (std::size_t i = 1; i <= header.pdu_count; ++i) {
            result.commands.push_back(decode_command(body, i));
        }
        break;
    case Ocp1PduType::response:
        result.responses.reserve(bounded_reserve(header.pdu_count, body, response_fixed_size));
        for (std::size_t i = 1; i <= header.pdu_count; ++i) {
            result.responses.push_back(decode_response(body, i));
        }
        break;
    case Ocp1PduType::notification:
        result.notifications.reserve(bounded_reserve(header.pdu_count, body, notification_fixed_size));
        for (std::size_t i = 1; i <= header.pdu_count; ++i) {
            result.notifications.push_back(decode_notification(body, i));
        }
        break;
    case Ocp1PduType::keep_alive:
        result.keep_alive = decode_keep_alive(body, header.pdu_count);
        break;
    case Ocp1PduType::notification2:
        // TODO: EV2 notifications (AES70-2023) are not decoded; linetune subscribes with EV1 only.
        throw malformed("EV2 notifications (PDU type 5) are not supported; subscribe with AES70-2018 EV1");
    }
    if (body.remaining() != 0) {
        throw malformed(std::to_string(body.remaining()) + " bytes follow the last of the " +
                        std::to_string(header.pdu_count) + " PDUs that MessageCount announces");
    }
    return result;
}

std::vector<std::uint8_t> encode_ocp1_commands(std::span<const Ocp1Command> commands, bool response_required) {
    auto writer = message_header(response_required ? Ocp1PduType::command_response_required : Ocp1PduType::command,
                                 commands.size());
    for (const auto& command : commands) {
        Ocp1Writer body;
        body.u32(command.handle).ono(command.target_ono).member_id(command.method).u8(command.parameter_count);
        body.raw(command.parameters);
        append_pdu(writer, body.bytes());
    }
    return finish_message(writer);
}

std::vector<std::uint8_t> encode_ocp1_responses(std::span<const Ocp1Response> responses) {
    auto writer = message_header(Ocp1PduType::response, responses.size());
    for (const auto& response : responses) {
        Ocp1Writer body;
        body.u32(response.handle).u8(static_cast<std::uint8_t>(response.status)).u8(response.parameter_count);
        body.raw(response.parameters);
        append_pdu(writer, body.bytes());
    }
    return finish_message(writer);
}

std::vector<std::uint8_t> encode_ocp1_notifications(std::span<const Ocp1Notification> notifications) {
    auto writer = message_header(Ocp1PduType::notification, notifications.size());
    for (const auto& notification : notifications) {
        Ocp1Writer body;
        body.ono(notification.target_ono).member_id(notification.method).u8(notification.parameter_count);
        body.blob(notification.context).ono(notification.emitter_ono).member_id(notification.event);
        body.raw(notification.event_data);
        append_pdu(writer, body.bytes());
    }
    return finish_message(writer);
}

std::vector<std::uint8_t> encode_ocp1_keep_alive(const Ocp1KeepAlive& keep_alive) {
    const long long heartbeat_ms = keep_alive.heartbeat.count();
    auto writer = message_header(Ocp1PduType::keep_alive, 1);
    if (keep_alive.milliseconds_form) {
        if (heartbeat_ms < 1 || heartbeat_ms > std::numeric_limits<std::uint32_t>::max()) {
            throw Error("OCP.1 KeepAlive: heartbeat " + std::to_string(heartbeat_ms) +
                            " ms is outside 1 ms to 4294967295 ms",
                        ErrorKind::input);
        }
        writer.u32(static_cast<std::uint32_t>(heartbeat_ms));
    } else {
        if (heartbeat_ms % 1000 != 0 || heartbeat_ms < 1000 || heartbeat_ms / 1000 > static_cast<long long>(max_u16)) {
            throw Error("OCP.1 KeepAlive: heartbeat " + std::to_string(heartbeat_ms) +
                            " ms is not a whole number of seconds from 1 s to 65535 s; use the milliseconds form",
                        ErrorKind::input);
        }
        writer.u16(static_cast<std::uint16_t>(heartbeat_ms / 1000));
    }
    return finish_message(writer);
}

}  // namespace linetune::control
