#include "linetune/control/osc/osc_packet.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <atomic>
#include <string>

namespace {

using namespace linetune;
using namespace linetune::control;
using test::message_copies;
using test::RawOscClient;
using test::VirtualAmpFixture;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

/// The reason string of an "/error" message.
std::string error_text(const OscMessage& message) {
    REQUIRE(message.address == "/error");
    REQUIRE(message.arguments.size() == 1);
    return std::get<std::string>(message.arguments.front());
}

OscPacket bundle_of(std::vector<OscMessage> messages) {
    OscBundle bundle;
    for (auto& message : messages) {
        bundle.elements.push_back(OscPacket{std::move(message)});
    }
    return OscPacket{std::move(bundle)};
}

}  // namespace

TEST_SUITE("control") {

TEST_CASE("virtual amplifier answers a query with the value held") {
    VirtualAmpFixture fixture;
    fixture.state.set({2, ParameterKind::band_type, 3}, FilterKind::high_pass);
    RawOscClient client(fixture.amplifier.port());

    client.send(OscPacket{OscMessage{"/ch/2/eq/3/type", {}}});

    CHECK(message_copies(client.receive_packet()) ==
          std::vector<OscMessage>{{"/ch/2/eq/3/type", {std::string("high_pass")}}});
}

TEST_CASE("virtual amplifier acknowledges a set with the value held") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    // An int for a float parameter is accepted (liblo senders often infer 'i'); the answer is 'f'.
    client.send(OscPacket{OscMessage{"/ch/1/gain_db", {std::int32_t{-3}}}});
    CHECK(message_copies(client.receive_packet()) == std::vector<OscMessage>{{"/ch/1/gain_db", {-3.0f}}});

    client.send(OscPacket{OscMessage{"/ch/1/mute", {true}}});
    CHECK(message_copies(client.receive_packet()) == std::vector<OscMessage>{{"/ch/1/mute", {std::int32_t{1}}}});
    CHECK(fixture.state.snapshot().channels[0].mute);
}

TEST_CASE("virtual amplifier refuses a value outside the profile") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    client.send(OscPacket{OscMessage{"/ch/1/eq/1/gain_db", {15.5f}}});
    const auto replies = message_copies(client.receive_packet());

    REQUIRE(replies.size() == 2);
    CHECK(replies[0] == OscMessage{"/ch/1/eq/1/gain_db", {0.0f}});
    CHECK(contains(error_text(replies[1]), "15.5 dB is above the maximum 15 dB"));
    CHECK(fixture.state.snapshot().channels[0].bands[0].gain_db == 0.0);
}

TEST_CASE("virtual amplifier refuses an unknown filter type") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    client.send(OscPacket{OscMessage{"/ch/1/eq/1/type", {std::string("bell")}}});
    const auto replies = message_copies(client.receive_packet());

    REQUIRE(replies.size() == 2);
    CHECK(replies[0] == OscMessage{"/ch/1/eq/1/type", {std::string("peaking")}});
    CHECK(contains(error_text(replies[1]), "filter type 'bell' is not one of"));
}

TEST_CASE("virtual amplifier refuses wrong argument types") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    client.send(OscPacket{OscMessage{"/ch/1/mute", {std::int32_t{2}}}});
    auto replies = message_copies(client.receive_packet());
    REQUIRE(replies.size() == 2);
    CHECK(contains(error_text(replies[1]), "takes 0 or 1, not 2"));

    client.send(OscPacket{OscMessage{"/ch/1/delay_ms", {std::string("fast")}}});
    replies = message_copies(client.receive_packet());
    REQUIRE(replies.size() == 2);
    CHECK(contains(error_text(replies[1]), "takes one number"));
}

TEST_CASE("virtual amplifier applies a bundle as a whole") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    client.send(bundle_of({{"/ch/1/eq/1/freq_hz", {250.0f}}, {"/ch/1/eq/1/gain_db", {-4.0f}},
                           {"/ch/1/eq/1/enabled", {std::int32_t{1}}}}));
    const auto replies = message_copies(client.receive_packet());

    CHECK(replies == std::vector<OscMessage>{{"/ch/1/eq/1/freq_hz", {250.0f}},
                                             {"/ch/1/eq/1/gain_db", {-4.0f}},
                                             {"/ch/1/eq/1/enabled", {std::int32_t{1}}}});
    const EqBandState band = fixture.state.snapshot().channels[0].bands[0];
    CHECK(band.freq_hz == 250.0);
    CHECK(band.gain_db == doctest::Approx(-4.0));
    CHECK(band.enabled);
}

TEST_CASE("virtual amplifier applies no set of a bundle with a refused one") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());
    const AmplifierState before = fixture.state.snapshot();

    client.send(bundle_of({{"/ch/1/gain_db", {-6.0f}}, {"/ch/1/delay_ms", {5000.0f}}, {"/ch/1/mute", {true}}}));
    const auto replies = message_copies(client.receive_packet());

    CHECK(fixture.state.snapshot() == before);
    REQUIRE(replies.size() == 5);
    CHECK(replies[0] == OscMessage{"/ch/1/gain_db", {0.0f}});
    CHECK(replies[1] == OscMessage{"/ch/1/delay_ms", {0.0f}});
    CHECK(contains(error_text(replies[2]), "5000 ms is above the maximum 1000 ms"));
    CHECK(replies[3] == OscMessage{"/ch/1/mute", {std::int32_t{0}}});
    CHECK(contains(error_text(replies[4]), "none of the bundle's 3 sets was applied"));
}

TEST_CASE("virtual amplifier answers malformed packets with an error") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());
    const AmplifierState before = fixture.state.snapshot();

    client.send(std::vector<std::uint8_t>{'/', 'c', 'h', '/', '1', '/', 'g', 'a'});
    const auto replies = message_copies(client.receive_packet());

    REQUIRE(replies.size() == 1);
    CHECK(contains(error_text(replies[0]), "malformed OSC packet"));
    CHECK(fixture.state.snapshot() == before);
}

TEST_CASE("virtual amplifier answers unknown addresses with an error") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    const std::vector<std::pair<std::string, std::string>> cases{
        {"/ch/1/volume", "is not in the linetune-generic scheme"},
        {"/ch/01/gain_db", "is not in the linetune-generic scheme"},
        {"/ch/*/gain_db", "is a pattern"},
        {"/ch/9/gain_db", "the amplifier has 8 channel(s)"},
        {"/ch/1/eq/11/q", "the channel has 10 band(s)"},
    };
    for (const auto& [address, reason] : cases) {
        CAPTURE(address);
        client.send(OscPacket{OscMessage{address, {}}});
        const auto replies = message_copies(client.receive_packet());
        REQUIRE(replies.size() == 1);
        CHECK(contains(error_text(replies[0]), reason));
    }
}

TEST_CASE("virtual amplifier reports each state change") {
    std::atomic<int> changes{0};
    std::atomic<double> last_gain_db{0.0};
    VirtualAmplifierOptions options;
    options.on_state_changed = [&](const AmplifierState& state) {
        ++changes;
        last_gain_db = state.channels[6].gain_db;
    };
    VirtualAmpFixture fixture(options);
    RawOscClient client(fixture.amplifier.port());

    client.send(OscPacket{OscMessage{"/ch/7/gain_db", {-9.0f}}});
    (void)client.receive_packet();
    client.send(OscPacket{OscMessage{"/ch/7/gain_db", {}}});  // a query changes nothing
    (void)client.receive_packet();
    client.send(OscPacket{OscMessage{"/ch/7/gain_db", {-9.0f}}});  // the same value changes nothing
    (void)client.receive_packet();

    CHECK(changes.load() == 1);
    CHECK(last_gain_db.load() == doctest::Approx(-9.0));
}

TEST_CASE("virtual amplifier faults can change while it runs") {
    VirtualAmpFixture fixture;
    RawOscClient client(fixture.amplifier.port());

    VirtualAmplifierFaults faults;
    faults.refused_parameters = {"all"};
    fixture.amplifier.set_faults(faults);
    client.send(OscPacket{OscMessage{"/ch/1/polarity_inverted", {std::int32_t{1}}}});
    CHECK(message_copies(client.receive_packet()).size() == 2);

    fixture.amplifier.set_faults({});
    client.send(OscPacket{OscMessage{"/ch/1/polarity_inverted", {std::int32_t{1}}}});
    CHECK(message_copies(client.receive_packet()).size() == 1);
    CHECK(fixture.state.snapshot().channels[0].polarity_inverted);
}

TEST_CASE("virtual amplifier rejects refusal rules that name nothing") {
    VirtualAmpFixture fixture;
    VirtualAmplifierFaults faults;
    faults.refused_parameters = {"volume"};

    const std::string message = test::error_message([&] { fixture.amplifier.set_faults(faults); });
    CHECK(contains(message, "invalid parameter to refuse 'volume'"));
}

TEST_CASE("virtual amplifier reports a taken port") {
    VirtualAmpFixture first;
    VirtualAmplifierOptions options;
    options.port = first.amplifier.port();
    SharedAmplifierState state(neutral_amplifier_state(2, 2));
    VirtualAmplifier second(first.profile, state, options);

    try {
        second.start();
        FAIL("the second amplifier started on a taken port");
    } catch (const Error& error) {
        CHECK(error.kind() == ErrorKind::device);
        CHECK(contains(error.what(), "cannot listen on osc.udp://127.0.0.1:" + std::to_string(options.port)));
    }
}

TEST_CASE("virtual amplifier stops answering after stop and restarts") {
    VirtualAmpFixture fixture;
    const std::uint16_t port = fixture.amplifier.port();
    CHECK(port != 0);
    CHECK(fixture.amplifier.url() == "osc.udp://127.0.0.1:" + std::to_string(port));

    fixture.amplifier.stop();
    fixture.amplifier.stop();  // a second stop does nothing
    RawOscClient client(port);
    client.send(OscPacket{OscMessage{"/ch/1/gain_db", {}}});
    CHECK_FALSE(client.receive(std::chrono::milliseconds(100)).has_value());

    fixture.amplifier.start();
    RawOscClient second_client(fixture.amplifier.port());
    second_client.send(OscPacket{OscMessage{"/ch/1/gain_db", {}}});
    CHECK(messages_of(second_client.receive_packet()).size() == 1);
}

TEST_CASE("virtual amplifier rejects a state larger than its profile") {
    const DeviceProfile profile = test::virtual_amp_profile();
    SharedAmplifierState too_many_channels(neutral_amplifier_state(profile.channel_count + 1, 1));
    SharedAmplifierState too_many_bands(neutral_amplifier_state(1, profile.limits.eq.max_bands + 1));

    CHECK(contains(test::error_message([&] { VirtualAmplifier amp(profile, too_many_channels); }),
                   "the state has 9 channels, but profile 'virtual-amp' has 8"));
    CHECK(contains(test::error_message([&] { VirtualAmplifier amp(profile, too_many_bands); }),
                   "has 11 bands, but profile 'virtual-amp' allows 10"));
}

}
