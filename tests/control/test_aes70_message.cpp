// OCP.1 encoding and decoding. The expected bytes are those that AES70.js 1.1.16 (a third-party
// AES70 controller library) produced for the same commands. The Response and Notification vectors
// were built by hand and decoded with AES70.js as a cross-check.

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/error.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;
using Bytes = std::vector<std::uint8_t>;

/// Parses "3b 00 01 ..." into bytes.
Bytes hex(const std::string& text) {
    Bytes bytes;
    for (std::size_t i = 0; i + 1 < text.size();) {
        if (text[i] == ' ') {
            ++i;
            continue;
        }
        bytes.push_back(static_cast<std::uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
        i += 2;
    }
    return bytes;
}

Bytes encode_command(std::uint32_t handle, OcaONo target, OcaMethodId method, std::uint8_t count, Bytes parameters) {
    const std::vector<Ocp1Command> commands{{handle, target, method, count, std::move(parameters)}};
    return encode_ocp1_commands(commands, true);
}

Bytes f32(float value) { return Ocp1Writer().f32(value).take(); }

TEST_SUITE("OCP.1 messages") {
    TEST_CASE("commands match AES70.js golden bytes") {
        // DeviceManager(1).GetModelDescription 3.6, handle 1
        CHECK(encode_command(1, oca_device_manager_ono, {3, 6}, 0, {}) ==
              hex("3b 00 01 00 00 00 1a 01 00 01 00 00 00 11 00 00 00 01 00 00 00 01 00 03 00 06 00"));
        // Root block(100).GetMembers 3.5, handle 2
        CHECK(encode_command(2, oca_root_block_ono, {3, 5}, 0, {}) ==
              hex("3b 00 01 00 00 00 1a 01 00 01 00 00 00 11 00 00 00 02 00 00 00 64 00 03 00 05 00"));
        // Root block(100).GetMembersRecursive 3.6, handle 3
        CHECK(encode_command(3, oca_root_block_ono, {3, 6}, 0, {}) ==
              hex("3b 00 01 00 00 00 1a 01 00 01 00 00 00 11 00 00 00 03 00 00 00 64 00 03 00 06 00"));
        // OcaRoot.GetRole 1.5 on ONo 10001, handle 4
        CHECK(encode_command(4, 10001, {1, 5}, 0, {}) ==
              hex("3b 00 01 00 00 00 1a 01 00 01 00 00 00 11 00 00 00 04 00 00 27 11 00 01 00 05 00"));
        // OcaGain(10001).GetGain 4.1, handle 5
        CHECK(encode_command(5, 10001, {4, 1}, 0, {}) ==
              hex("3b 00 01 00 00 00 1a 01 00 01 00 00 00 11 00 00 00 05 00 00 27 11 00 04 00 01 00"));
        // OcaGain(10001).SetGain 4.2 (-3.5 dB), handle 6
        CHECK(encode_command(6, 10001, {4, 2}, 1, f32(-3.5f)) ==
              hex("3b 00 01 00 00 00 1e 01 00 01 00 00 00 15 00 00 00 06 00 00 27 11 00 04 00 02 01 c0 60 00 00"));
        // OcaMute(10002).SetState 4.2 (Muted = 1), handle 7
        CHECK(encode_command(7, 10002, {4, 2}, 1, {1}) ==
              hex("3b 00 01 00 00 00 1b 01 00 01 00 00 00 12 00 00 00 07 00 00 27 12 00 04 00 02 01 01"));
        // OcaDelay(10003).SetDelayTime 4.2 (0.0125 s), handle 8
        CHECK(encode_command(8, 10003, {4, 2}, 1, f32(0.0125f)) ==
              hex("3b 00 01 00 00 00 1e 01 00 01 00 00 00 15 00 00 00 08 00 00 27 13 00 04 00 02 01 3c 4c cc cd"));
        // OcaDelayExtended(20003).SetDelayValue 5.2 (12.5, unit 5 = ms), handle 9
        CHECK(encode_command(9, 20003, {5, 2}, 1, Ocp1Writer().f32(12.5f).u8(5).take()) ==
              hex("3b 00 01 00 00 00 1f 01 00 01 00 00 00 16 00 00 00 09 00 00 4e 23 00 05 00 02 01 41 48 00 00 05"));
        // OcaFilterParametric(10012).SetFrequency 4.2 (250 Hz), handle 10
        CHECK(encode_command(10, 10012, {4, 2}, 1, f32(250.0f)) ==
              hex("3b 00 01 00 00 00 1e 01 00 01 00 00 00 15 00 00 00 0a 00 00 27 1c 00 04 00 02 01 43 7a 00 00"));
        // SetShape 4.4 (PEQ = 1), handle 11
        CHECK(encode_command(11, 10012, {4, 4}, 1, {1}) ==
              hex("3b 00 01 00 00 00 1b 01 00 01 00 00 00 12 00 00 00 0b 00 00 27 1c 00 04 00 04 01 01"));
        // SetWidthParameter 4.6 (Q 1.4), handle 12
        CHECK(encode_command(12, 10012, {4, 6}, 1, f32(1.4f)) ==
              hex("3b 00 01 00 00 00 1e 01 00 01 00 00 00 15 00 00 00 0c 00 00 27 1c 00 04 00 06 01 3f b3 33 33"));
        // SetInbandGain 4.8 (-4.5 dB), handle 13
        CHECK(encode_command(13, 10012, {4, 8}, 1, f32(-4.5f)) ==
              hex("3b 00 01 00 00 00 1e 01 00 01 00 00 00 15 00 00 00 0d 00 00 27 1c 00 04 00 08 01 c0 90 00 00"));
        // SetMultiple 4.11 (mask 0x0f: 315 Hz, PEQ, Q 1.4, -2 dB, shape parameter 0), handle 14
        CHECK(encode_command(14, 10012, {4, 11}, 6,
                             Ocp1Writer().u16(0x0f).f32(315.0f).u8(1).f32(1.4f).f32(-2.0f).f32(0.0f).take()) ==
              hex("3b 00 01 00 00 00 2d 01 00 01 00 00 00 24 00 00 00 0e 00 00 27 1c 00 04 00 0b 06 00 0f 43 9d 80 00 "
                  "01 3f b3 33 33 c0 00 00 00 00 00 00 00"));
        // OcaWorker.SetLabel 2.9 ("Zone 1 – gain": 13 code points, 15 UTF-8 bytes), handle 15
        CHECK(encode_command(15, 10001, {2, 9}, 1, Ocp1Writer().string("Zone 1 \xe2\x80\x93 gain").take()) ==
              hex("3b 00 01 00 00 00 2b 01 00 01 00 00 00 22 00 00 00 0f 00 00 27 11 00 02 00 09 01 00 0d 5a 6f 6e 65 "
                  "20 31 20 e2 80 93 20 67 61 69 6e"));
        // SubscriptionManager(4).AddSubscription 3.1: event 1.1 of ONo 10001 to subscriber ONo 7,
        // method 1.1, empty context, delivery mode 1 (Reliable), empty destination; handle 16
        CHECK(encode_command(16, oca_subscription_manager_ono, {3, 1}, 5,
                             Ocp1Writer().ono(10001).member_id({1, 1}).ono(7).member_id({1, 1}).blob({}).u8(1).blob({}).take()) ==
              hex("3b 00 01 00 00 00 2f 01 00 01 00 00 00 26 00 00 00 10 00 00 00 04 00 03 00 01 05 00 00 27 11 00 01 "
                  "00 01 00 00 00 07 00 01 00 01 00 00 01 00 00"));
    }

    TEST_CASE("golden commands decode to their fields") {
        const auto message = decode_ocp1_message(
            hex("3b 00 01 00 00 00 2d 01 00 01 00 00 00 24 00 00 00 0e 00 00 27 1c 00 04 00 0b 06 00 0f 43 9d 80 00 "
                "01 3f b3 33 33 c0 00 00 00 00 00 00 00"));
        CHECK(message.type == Ocp1PduType::command_response_required);
        REQUIRE(message.commands.size() == 1);
        const auto& command = message.commands[0];
        CHECK(command.handle == 14);
        CHECK(command.target_ono == 10012);
        CHECK(command.method == OcaMethodId{4, 11});
        CHECK(command.parameter_count == 6);
        Ocp1Reader parameters(command.parameters, "SetMultiple");
        CHECK(parameters.u16() == 0x0f);
        CHECK(parameters.f32() == 315.0f);
        CHECK(parameters.u8() == 1);
        CHECK(parameters.f32() == 1.4f);
        CHECK(parameters.f32() == -2.0f);
        CHECK(parameters.f32() == 0.0f);
        parameters.expect_end();
    }

    TEST_CASE("keepalive matches golden bytes in both forms") {
        CHECK(encode_ocp1_keep_alive({std::chrono::milliseconds(1000), false}) ==
              hex("3b 00 01 00 00 00 0b 04 00 01 00 01"));
        CHECK(encode_ocp1_keep_alive({std::chrono::milliseconds(1500), true}) ==
              hex("3b 00 01 00 00 00 0d 04 00 01 00 00 05 dc"));
        const auto seconds = decode_ocp1_message(hex("3b 00 01 00 00 00 0b 04 00 01 00 01"));
        REQUIRE(seconds.keep_alive.has_value());
        CHECK(seconds.keep_alive->heartbeat == std::chrono::milliseconds(1000));
        CHECK_FALSE(seconds.keep_alive->milliseconds_form);
        const auto milliseconds = decode_ocp1_message(hex("3b 00 01 00 00 00 0d 04 00 01 00 00 05 dc"));
        REQUIRE(milliseconds.keep_alive.has_value());
        CHECK(milliseconds.keep_alive->heartbeat == std::chrono::milliseconds(1500));
        CHECK(milliseconds.keep_alive->milliseconds_form);
        CHECK_THROWS_AS(encode_ocp1_keep_alive({std::chrono::milliseconds(1500), false}), Error);
    }

    TEST_CASE("keepalive of 0 rejected by encoder and decoder alike") {
        CHECK_THROWS_AS(encode_ocp1_keep_alive({std::chrono::milliseconds(0), false}), Error);
        CHECK_THROWS_AS(encode_ocp1_keep_alive({std::chrono::milliseconds(0), true}), Error);
        CHECK_THROWS_WITH_AS(decode_ocp1_message(hex("3b 00 01 00 00 00 0b 04 00 01 00 00")),
                             doctest::Contains("heartbeat of 0"), Error);
        CHECK_THROWS_WITH_AS(decode_ocp1_message(hex("3b 00 01 00 00 00 0d 04 00 01 00 00 00 00")),
                             doctest::Contains("heartbeat of 0"), Error);
        // The smallest heartbeat of each form passes both ways.
        const auto one_second = encode_ocp1_keep_alive({std::chrono::milliseconds(1000), false});
        CHECK(decode_ocp1_message(one_second).keep_alive->heartbeat == std::chrono::milliseconds(1000));
        const auto one_millisecond = encode_ocp1_keep_alive({std::chrono::milliseconds(1), true});
        CHECK(decode_ocp1_message(one_millisecond).keep_alive->heartbeat == std::chrono::milliseconds(1));
    }

    TEST_CASE("GetGain response decodes value, min and max") {
        const Bytes golden = hex("3b 00 01 00 00 00 1f 03 00 01 00 00 00 16 00 00 00 07 00 03 c0 60 00 00 c2 70 00 00 "
                                 "41 40 00 00");
        const auto message = decode_ocp1_message(golden);
        REQUIRE(message.responses.size() == 1);
        const auto& response = message.responses[0];
        CHECK(response.handle == 7);
        CHECK(response.status == OcaStatus::ok);
        CHECK(response.parameter_count == 3);
        Ocp1Reader values(response.parameters, "GetGain");
        CHECK(values.f32() == -3.5f);
        CHECK(values.f32() == -60.0f);
        CHECK(values.f32() == 12.0f);
        values.expect_end();
        const std::vector<Ocp1Response> responses{response};
        CHECK(encode_ocp1_responses(responses) == golden);
    }

    TEST_CASE("error response carries ParameterOutOfRange") {
        const Bytes golden = hex("3b 00 01 00 00 00 13 03 00 01 00 00 00 0a 00 00 00 08 07 00");
        const auto message = decode_ocp1_message(golden);
        REQUIRE(message.responses.size() == 1);
        CHECK(message.responses[0].handle == 8);
        CHECK(message.responses[0].status == OcaStatus::parameter_out_of_range);
        CHECK(message.responses[0].parameter_count == 0);
        CHECK(to_string(OcaStatus::parameter_out_of_range) == "ParameterOutOfRange");
        CHECK(explain_status(OcaStatus::parameter_out_of_range).find("range") != std::string::npos);
        CHECK(to_string(static_cast<OcaStatus>(200)) == "status 200");
        const std::vector<Ocp1Response> responses{message.responses[0]};
        CHECK(encode_ocp1_responses(responses) == golden);
    }

    TEST_CASE("EV1 notification of a gain change round-trips") {
        const Bytes golden = hex("3b 00 01 00 00 00 29 02 00 01 00 00 00 20 00 00 00 07 00 01 00 01 02 00 00 00 00 27 "
                                 "11 00 01 00 01 00 04 00 01 c0 60 00 00 01");
        const auto message = decode_ocp1_message(golden);
        REQUIRE(message.notifications.size() == 1);
        const auto& notification = message.notifications[0];
        CHECK(notification.target_ono == 7);
        CHECK(notification.method == OcaMethodId{1, 1});
        CHECK(notification.parameter_count == 2);
        CHECK(notification.context.empty());
        CHECK(notification.emitter_ono == 10001);
        CHECK(notification.event == OcaEventId{1, 1});
        Ocp1Reader data(notification.event_data, "PropertyChanged");
        CHECK(data.member_id() == OcaPropertyId{4, 1});
        CHECK(data.f32() == -3.5f);
        CHECK(data.u8() == 1);  // CurrentChanged
        data.expect_end();
        const std::vector<Ocp1Notification> notifications{notification};
        CHECK(encode_ocp1_notifications(notifications) == golden);
    }

    TEST_CASE("data types round-trip") {
        Ocp1Writer writer;
        writer.u8(0xab).u16(0xbeef).u32(0xdeadbeef).u64(0x0123456789abcdefULL).i8(-2).i16(-300).i32(-70000);
        writer.i64(-5000000000LL).f32(-0.25f).f64(1e-300).boolean(true).string("a\xc3\xa9\xf0\x9f\x94\x8a");
        writer.blob(Bytes{1, 2, 3});
        const Bytes bytes = writer.take();
        Ocp1Reader reader(bytes, "round trip");
        CHECK(reader.u8() == 0xab);
        CHECK(reader.u16() == 0xbeef);
        CHECK(reader.u32() == 0xdeadbeefu);
        CHECK(reader.u64() == 0x0123456789abcdefULL);
        CHECK(reader.i8() == -2);
        CHECK(reader.i16() == -300);
        CHECK(reader.i32() == -70000);
        CHECK(reader.i64() == -5000000000LL);
        CHECK(reader.f32() == -0.25f);
        CHECK(reader.f64() == 1e-300);
        CHECK(reader.boolean());
        CHECK(reader.string() == "a\xc3\xa9\xf0\x9f\x94\x8a");
        CHECK(reader.blob() == Bytes{1, 2, 3});
        reader.expect_end();
        // the string's count is 3 code points for 7 bytes
        CHECK(Ocp1Writer().string("a\xc3\xa9\xf0\x9f\x94\x8a").bytes()[1] == 3);
    }

    TEST_CASE("malformed messages raise clear errors") {
        const auto message_error = [](const Bytes& bytes) {
            try {
                (void)decode_ocp1_message(bytes);
            } catch (const Error& error) {
                CHECK(error.kind() == ErrorKind::input);
                return std::string(error.what());
            }
            return std::string("no error");
        };
        // wrong sync byte
        CHECK(message_error(hex("3c 00 01 00 00 00 0b 04 00 01 00 01")).find("sync byte is 0x3c") != std::string::npos);
        // protocol version 0
        CHECK(message_error(hex("3b 00 00 00 00 00 0b 04 00 01 00 01")).find("version 0") != std::string::npos);
        // truncated header
        CHECK(message_error(hex("3b 00 01 00")).find("header needs 10 bytes") != std::string::npos);
        // MessageSize larger than the bytes given
        CHECK(message_error(hex("3b 00 01 00 00 00 0c 04 00 01 00 01")).find("MessageSize") != std::string::npos);
        // huge MessageSize is rejected from the header alone
        CHECK(message_error(hex("3b 00 01 7f ff ff ff 03 00 01 00 00")).find("outside 9") != std::string::npos);
        // unknown PDU type
        CHECK(message_error(hex("3b 00 01 00 00 00 0b 09 00 01 00 01")).find("PDU type 9") != std::string::npos);
        // zero PDUs
        CHECK(message_error(hex("3b 00 01 00 00 00 09 03 00 00")).find("MessageCount is 0") != std::string::npos);
        // KeepAlive of 3 bytes
        CHECK(message_error(hex("3b 00 01 00 00 00 0c 04 00 01 00 00 01")).find("KeepAlive payload") != std::string::npos);
        // Response whose size field claims more than the message contains
        CHECK(message_error(hex("3b 00 01 00 00 00 13 03 00 01 00 00 00 0b 00 00 00 08 07 00"))
                  .find("declares 11 bytes") != std::string::npos);
        // Response size below its fixed fields
        CHECK(message_error(hex("3b 00 01 00 00 00 13 03 00 01 00 00 00 04 00 00 00 08 07 00"))
                  .find("less than the 10") != std::string::npos);
        // MessageCount announces 65535 PDUs but one follows (a forged count allocates nothing extra)
        CHECK(message_error(hex("3b 00 01 00 00 00 13 03 ff ff 00 00 00 0a 00 00 00 08 07 00"))
                  .find("Response PDU 2") != std::string::npos);
        // trailing bytes after the announced PDUs
        CHECK(message_error(hex("3b 00 01 00 00 00 14 03 00 01 00 00 00 0a 00 00 00 08 07 00 ff"))
                  .find("follow the last") != std::string::npos);
        // EV2 notifications are not supported yet
        CHECK(message_error(hex("3b 00 01 00 00 00 0b 05 00 01 00 01")).find("EV2") != std::string::npos);
        // notification whose context blob runs past the PDU
        CHECK(message_error(hex("3b 00 01 00 00 00 20 02 00 01 00 00 00 17 00 00 00 07 00 01 00 01 02 ff ff 00 00 27 "
                                "11 00 01 00 01"))
                  .find("65535-byte field") != std::string::npos);
    }

    TEST_CASE("invalid strings and booleans are rejected") {
        const Bytes truncated = hex("00 02 61");            // 2 code points, 1 byte
        const Bytes continuation = hex("00 01 80");         // lone continuation byte
        const Bytes overlong = hex("00 01 c0 80");          // overlong NUL
        const Bytes surrogate = hex("00 01 ed a0 80");      // UTF-16 surrogate
        for (const auto& bytes : {truncated, continuation, overlong, surrogate}) {
            Ocp1Reader reader(bytes, "string");
            CHECK_THROWS_AS(reader.string(), Error);
        }
        const Bytes two = hex("02");
        Ocp1Reader boolean(two, "boolean");
        CHECK_THROWS_WITH(boolean.boolean(), doctest::Contains("not 0 or 1"));
        CHECK_THROWS_AS(Ocp1Writer().string("\xff"), Error);
    }

    TEST_CASE("random bytes never crash the decoder") {
        // Every prefix of the golden vectors, then each with one byte flipped: each must decode or
        // raise Error, never read out of bounds (run under the sanitizers to see the latter).
        const std::vector<Bytes> seeds{
            hex("3b 00 01 00 00 00 2d 01 00 01 00 00 00 24 00 00 00 0e 00 00 27 1c 00 04 00 0b 06 00 0f 43 9d 80 00 "
                "01 3f b3 33 33 c0 00 00 00 00 00 00 00"),
            hex("3b 00 01 00 00 00 29 02 00 01 00 00 00 20 00 00 00 07 00 01 00 01 02 00 00 00 00 27 11 00 01 00 01 "
                "00 04 00 01 c0 60 00 00 01"),
            hex("3b 00 01 00 00 00 1f 03 00 01 00 00 00 16 00 00 00 07 00 03 c0 60 00 00 c2 70 00 00 41 40 00 00")};
        std::mt19937 random(20261204u);
        std::size_t decoded = 0;
        std::size_t rejected = 0;
        for (const auto& seed : seeds) {
            for (std::size_t length = 0; length <= seed.size(); ++length) {
                for (int trial = 0; trial < 40; ++trial) {
                    Bytes bytes(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(length));
                    if (!bytes.empty() && trial > 0) {
                        bytes[random() % bytes.size()] = static_cast<std::uint8_t>(random());
                    }
                    try {
                        (void)decode_ocp1_message(bytes);
                        ++decoded;
                    } catch (const Error&) {
                        ++rejected;
                    }
                }
            }
        }
        CHECK(decoded > 0);
        CHECK(rejected > 0);
    }
}

}  // namespace
