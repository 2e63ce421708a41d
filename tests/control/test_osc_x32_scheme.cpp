// The X32 / M32 address scheme and its normalised 0..1 scales, checked against the example values
// of P.-G. Maillot's unofficial X32/M32 OSC document (f 0.265 is 124.7 Hz, fader 0.75 is 0 dB).
// The shipped x32-console profile is driven through the virtual amplifier.

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/control/osc/osc_driver.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <chrono>
#include <cmath>
#include <string>

namespace {

using namespace linetune;
using namespace linetune::control;

const X32OscAddressScheme scheme;

/// The argument as a float, failing the test for another type.
float fraction_of(const OscArgument& argument) {
    REQUIRE(std::holds_alternative<float>(argument));
    return std::get<float>(argument);
}

ParameterValue decoded(const ParameterId& id, OscArgument argument) { return scheme.decode_value(id, std::span(&argument, 1)); }

}  // namespace

TEST_SUITE("control") {

TEST_CASE("x32 eq frequency follows 20 times 1000 to the x") {
    CHECK(x32::eq_frequency_hz(0.0) == doctest::Approx(20.0).epsilon(1e-12));
    CHECK(x32::eq_frequency_hz(1.0) == doctest::Approx(20000.0).epsilon(1e-12));
    CHECK(x32::eq_frequency_hz(0.5) == doctest::Approx(632.456).epsilon(1e-6));
    // The document's example: 0.265 reads 124.7 Hz on the console (to its 0.1 Hz display).
    CHECK(std::fabs(x32::eq_frequency_hz(0.265) - 124.7) < 0.05);
    CHECK(x32::eq_frequency_fraction(124.7) == doctest::Approx(0.265).epsilon(1e-12));
}

TEST_CASE("x32 eq frequency snaps to 201 steps") {
    for (const double freq_hz : {20.0, 31.5, 100.0, 1000.0, 4567.0, 20000.0}) {
        CAPTURE(freq_hz);
        const double fraction = x32::eq_frequency_fraction(freq_hz);
        CHECK(std::fabs(fraction * 200.0 - std::round(fraction * 200.0)) < 1e-9);
        // One step is 1000^(1/200) = 3.5 %: the held value lies within half a step.
        CHECK(std::fabs(std::log(x32::eq_frequency_hz(fraction) / freq_hz)) <= std::log(1000.0) / 400.0 + 1e-12);
    }
    CHECK(x32::eq_frequency_fraction(5.0) == 0.0);
    CHECK(x32::eq_frequency_fraction(96000.0) == 1.0);
}

TEST_CASE("x32 eq gain is linear from -15 to +15 dB") {
    CHECK(x32::eq_gain_db(0.0) == -15.0);
    CHECK(x32::eq_gain_db(0.5) == 0.0);
    CHECK(x32::eq_gain_db(1.0) == 15.0);
    CHECK(x32::eq_gain_fraction(-4.5) == doctest::Approx(0.35).epsilon(1e-12));
    CHECK(x32::eq_gain_fraction(20.0) == 1.0);
}

TEST_CASE("x32 eq q follows 10 times 0.03 to the x in 72 steps") {
    CHECK(x32::eq_q(0.0) == doctest::Approx(10.0).epsilon(1e-12));
    CHECK(x32::eq_q(1.0) == doctest::Approx(0.3).epsilon(1e-12));
    for (const double q : {0.3, 0.707, 1.41, 4.0, 10.0}) {
        CAPTURE(q);
        const double fraction = x32::eq_q_fraction(q);
        CHECK(std::fabs(fraction * 71.0 - std::round(fraction * 71.0)) < 1e-9);
        // One step is 0.03^(-1/71) = 5.1 %: the held Q lies within half a step.
        CHECK(std::fabs(std::log(x32::eq_q(fraction) / q)) <= -std::log(0.03) / 142.0 + 1e-12);
    }
}

TEST_CASE("x32 fader maps 0.75 to 0 dB and joins its segments") {
    CHECK(x32::fader_db(0.75) == 0.0);
    CHECK(x32::fader_db(1.0) == 10.0);
    CHECK(x32::fader_db(0.0) == -90.0);
    // The four segments meet without a jump at -10, -30 and -60 dB.
    CHECK(x32::fader_db(0.5) == doctest::Approx(-10.0).epsilon(1e-12));
    CHECK(x32::fader_db(0.25) == doctest::Approx(-30.0).epsilon(1e-12));
    CHECK(x32::fader_db(0.0625) == doctest::Approx(-60.0).epsilon(1e-12));
    CHECK(x32::fader_db(0.5 - 1e-12) == doctest::Approx(-10.0).epsilon(1e-9));
    for (const double gain_db : {-90.0, -75.0, -60.0, -42.0, -30.0, -12.5, -10.0, -3.0, 0.0, 6.0, 10.0}) {
        CAPTURE(gain_db);
        CHECK(x32::fader_db(x32::fader_fraction(gain_db)) == doctest::Approx(gain_db).epsilon(1e-12));
    }
}

TEST_CASE("x32 delay is linear from 0.3 to 500 ms") {
    CHECK(x32::delay_ms(0.0) == doctest::Approx(0.3).epsilon(1e-12));
    CHECK(x32::delay_ms(1.0) == doctest::Approx(500.0).epsilon(1e-12));
    CHECK(x32::delay_ms(x32::delay_fraction(12.5)) == doctest::Approx(12.5).epsilon(1e-12));
    // Below 0.3 ms the console cannot go: 0 ms is held as 0.3 ms.
    CHECK(x32::delay_fraction(0.0) == 0.0);
}

TEST_CASE("x32 addresses use two-digit channels") {
    CHECK(scheme.address({1, ParameterKind::band_freq_hz, 1}) == "/ch/01/eq/1/f");
    CHECK(scheme.address({12, ParameterKind::band_gain_db, 4}) == "/ch/12/eq/4/g");
    CHECK(scheme.address({32, ParameterKind::band_q, 2}) == "/ch/32/eq/2/q");
    CHECK(scheme.address({3, ParameterKind::band_type, 3}) == "/ch/03/eq/3/type");
    CHECK(scheme.address({1, ParameterKind::gain_db, 0}) == "/ch/01/mix/fader");
    CHECK(scheme.address({1, ParameterKind::mute, 0}) == "/ch/01/mix/on");
    CHECK(scheme.address({1, ParameterKind::polarity_inverted, 0}) == "/ch/01/preamp/invert");
    CHECK(scheme.address({1, ParameterKind::delay_ms, 0}) == "/ch/01/delay/time");
    for (const ParameterId id : {ParameterId{7, ParameterKind::band_q, 2}, ParameterId{10, ParameterKind::mute, 0},
                                 ParameterId{32, ParameterKind::delay_ms, 0}}) {
        CHECK(scheme.parse_address(scheme.address(id)) == id);
    }
    CHECK_FALSE(scheme.parse_address("/ch/1/eq/1/f").has_value());
    CHECK_FALSE(scheme.parse_address("/ch/00/mix/fader").has_value());
    CHECK_FALSE(scheme.parse_address("/ch/01/eq/0/f").has_value());
    CHECK_FALSE(scheme.parse_address("/ch/01/eq/1/freq").has_value());
    CHECK_FALSE(scheme.parse_address("/bus/01/mix/fader").has_value());
}

TEST_CASE("x32 encoding reproduces the reference vector") {
    // "/ch/01/eq/1/f ,f 0.5" as osc.js encodes it: 2f63682f 30312f65 712f312f 66000000 2c660000 3f000000.
    const ParameterId id{1, ParameterKind::band_freq_hz, 1};
    const OscMessage message{scheme.address(id), {scheme.encode_value(id, x32::eq_frequency_hz(0.5))}};
    const std::vector<std::uint8_t> expected{0x2f, 0x63, 0x68, 0x2f, 0x30, 0x31, 0x2f, 0x65, 0x71, 0x2f, 0x31, 0x2f,
                                             0x66, 0x00, 0x00, 0x00, 0x2c, 0x66, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00};
    CHECK(encode_osc_message(message) == expected);
}

TEST_CASE("x32 values encode as fractions and switches") {
    CHECK(fraction_of(scheme.encode_value({1, ParameterKind::gain_db, 0}, 0.0)) == 0.75f);
    CHECK(fraction_of(scheme.encode_value({1, ParameterKind::band_gain_db, 1}, 0.0)) == 0.5f);
    CHECK(scheme.encode_value({1, ParameterKind::mute, 0}, true) == OscArgument{std::int32_t{0}});
    CHECK(scheme.encode_value({1, ParameterKind::mute, 0}, false) == OscArgument{std::int32_t{1}});
    CHECK(scheme.encode_value({1, ParameterKind::band_type, 1}, FilterKind::high_pass) == OscArgument{std::int32_t{0}});
    CHECK(scheme.encode_value({1, ParameterKind::band_type, 1}, FilterKind::peaking) == OscArgument{std::int32_t{2}});
    CHECK(scheme.encode_value({1, ParameterKind::band_type, 1}, FilterKind::low_pass) == OscArgument{std::int32_t{5}});

    CHECK(std::get<bool>(decoded({1, ParameterKind::mute, 0}, std::int32_t{0})));
    CHECK(std::get<FilterKind>(decoded({1, ParameterKind::band_type, 1}, std::int32_t{4})) == FilterKind::high_shelf);
    CHECK(std::get<double>(decoded({1, ParameterKind::gain_db, 0}, 0.75f)) == 0.0);
}

TEST_CASE("x32 band switches read the channel eq switch") {
    for (const std::size_t band : {1U, 2U, 4U}) {
        CAPTURE(band);
        CHECK(scheme.address({7, ParameterKind::band_enabled, band}) == "/ch/07/eq/on");
    }
    CHECK(scheme.parse_address("/ch/07/eq/on") == ParameterId{7, ParameterKind::band_enabled, 1});
    CHECK(scheme.encode_value({7, ParameterKind::band_enabled, 3}, true) == OscArgument{std::int32_t{1}});
    CHECK_FALSE(std::get<bool>(decoded({7, ParameterKind::band_enabled, 2}, std::int32_t{0})));
    CHECK_FALSE(scheme.can_write(ParameterKind::band_enabled));
    CHECK(scheme.can_write(ParameterKind::band_gain_db));
    CHECK(scheme.can_write(ParameterKind::mute));
}

TEST_CASE("x32 scheme asks for /xremote within 10 s") {
    const auto subscription = scheme.remote_subscription();
    REQUIRE(subscription.has_value());
    CHECK(subscription->address == "/xremote");
    CHECK(subscription->lifetime == std::chrono::milliseconds(10000));
    CHECK(subscription->renew_after < subscription->lifetime);
    CHECK_FALSE(GenericOscAddressScheme().remote_subscription().has_value());
}

TEST_CASE("x32 rejects VEQ and out-of-range fractions") {
    CHECK_THROWS_WITH_AS((void)decoded({1, ParameterKind::band_type, 1}, std::int32_t{3}),
                         doctest::Contains("VEQ (type 3)"), Error);
    CHECK_THROWS_WITH_AS((void)decoded({1, ParameterKind::band_gain_db, 1}, 1.5f),
                         doctest::Contains("takes a float from 0 to 1"), Error);
    CHECK_THROWS_WITH_AS((void)decoded({1, ParameterKind::mute, 0}, std::int32_t{2}), doctest::Contains("0 or 1"),
                         Error);
    CHECK_THROWS_AS((void)scheme.address({100, ParameterKind::gain_db, 0}), Error);
}

TEST_CASE("x32 profile drives the virtual amplifier through its scales") {
    const DeviceProfile profile = io::read_device_profile(io::default_hardware_dir() / "x32-console.json");
    SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
    VirtualAmplifier amplifier(profile, state);
    amplifier.start();
    OscUdpDriver driver("x32", "127.0.0.1", amplifier.port(), profile, test::test_driver_options());
    driver.connect();

    driver.write({5, ParameterKind::gain_db, 0}, -12.5);
    driver.write({5, ParameterKind::mute, 0}, true);
    driver.write({5, ParameterKind::delay_ms, 0}, 12.5);
    driver.write({5, ParameterKind::band_type, 2}, FilterKind::low_shelf);
    driver.write({5, ParameterKind::band_freq_hz, 2}, 1000.0);
    driver.write({5, ParameterKind::band_gain_db, 2}, -4.5);
    driver.write({5, ParameterKind::band_q, 2}, 1.41);

    // The console keeps the nearest step of its grids: 1000 Hz is step 113 of 200 and Q 1.41 is
    // step 40 of 71.
    const ChannelState channel = state.snapshot().channels[4];
    CHECK(channel.gain_db == doctest::Approx(-12.5).epsilon(1e-6));
    CHECK(channel.mute);
    CHECK(channel.delay_ms == doctest::Approx(12.5).epsilon(1e-5));
    CHECK(channel.bands[1].type == FilterKind::low_shelf);
    CHECK(channel.bands[1].freq_hz == doctest::Approx(x32::eq_frequency_hz(113.0 / 200.0)).epsilon(1e-6));
    CHECK(channel.bands[1].gain_db == doctest::Approx(-4.5).epsilon(1e-6));
    CHECK(channel.bands[1].q == doctest::Approx(x32::eq_q(40.0 / 71.0)).epsilon(1e-6));
    CHECK(std::get<double>(driver.read({5, ParameterKind::band_freq_hz, 2})) == doctest::Approx(channel.bands[1].freq_hz).epsilon(1e-6));
    CHECK(std::get<bool>(driver.read({5, ParameterKind::mute, 0})));

    // band_enabled reads the channel's EQ switch and is never sent as a set.
    CHECK_FALSE(std::get<bool>(driver.read({5, ParameterKind::band_enabled, 1})));
    CHECK_FALSE(driver.can_write(ParameterKind::band_enabled));
    CHECK_THROWS_WITH_AS(driver.write({5, ParameterKind::band_enabled, 1}, true),
                         doctest::Contains("cannot be set through the x32 scheme"), Error);
    CHECK_FALSE(state.snapshot().channels[4].bands[0].enabled);
}

TEST_CASE("x32 virtual amplifier acknowledges sets only after /xremote") {
    const DeviceProfile profile = io::read_device_profile(io::default_hardware_dir() / "x32-console.json");
    SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
    VirtualAmplifier amplifier(profile, state);
    amplifier.start();
    test::RawOscClient client(amplifier.port());
    const auto set_fader = OscPacket{OscMessage{"/ch/02/mix/fader", {0.5f}}};

    // Without /xremote the console applies the set but sends nothing back.
    client.send(set_fader);
    CHECK_FALSE(client.receive(std::chrono::milliseconds(300)).has_value());
    CHECK(state.snapshot().channels[1].gain_db == doctest::Approx(x32::fader_db(0.5)).epsilon(1e-6));

    // A query is answered either way.
    client.send(OscPacket{OscMessage{"/ch/02/mix/fader", {}}});
    CHECK(client.receive().has_value());

    // /xremote itself gets no reply, and the next set is acknowledged.
    client.send(OscPacket{OscMessage{"/xremote", {}}});
    CHECK_FALSE(client.receive(std::chrono::milliseconds(300)).has_value());
    client.send(OscPacket{OscMessage{"/ch/02/mix/fader", {0.25f}}});
    const auto reply = client.receive();
    REQUIRE(reply.has_value());
    const auto packet = decode_osc_packet(*reply);
    REQUIRE(std::holds_alternative<OscMessage>(packet.content));
    CHECK(std::get<OscMessage>(packet.content).address == "/ch/02/mix/fader");

    // Another client has no subscription of its own.
    test::RawOscClient other(amplifier.port());
    other.send(set_fader);
    CHECK_FALSE(other.receive(std::chrono::milliseconds(300)).has_value());
}

TEST_CASE("x32 virtual amplifier switches every band with eq on") {
    const DeviceProfile profile = io::read_device_profile(io::default_hardware_dir() / "x32-console.json");
    SharedAmplifierState state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands));
    VirtualAmplifier amplifier(profile, state);
    amplifier.start();
    test::RawOscClient client(amplifier.port());
    client.send(OscPacket{OscMessage{"/xremote", {}}});
    client.send(OscPacket{OscMessage{"/ch/03/eq/on", {std::int32_t{1}}}});
    REQUIRE(client.receive().has_value());
    for (const auto& band : state.snapshot().channels[2].bands) {
        CHECK(band.enabled);
    }
    CHECK_FALSE(state.snapshot().channels[1].bands[0].enabled);
}

}
