#include "linetune/control/osc/osc_driver.hpp"
#include "linetune/control/osc/virtual_amplifier.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <chrono>
#include <string>

namespace {

using namespace linetune;
using namespace linetune::control;
using namespace std::chrono_literals;
using test::VirtualAmpFixture;

/// The Error the action throws, failing the test when it throws none.
Error thrown_error(const auto& action) {
    try {
        action();
    } catch (const Error& error) {
        return error;
    }
    FAIL("expected a linetune::Error");
    return Error("");
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

ParameterId channel_parameter(std::size_t channel, ParameterKind kind) { return {channel, kind, 0}; }

ParameterId band_parameter(std::size_t channel, std::size_t band, ParameterKind kind) { return {channel, kind, band}; }

}  // namespace

TEST_SUITE("control") {

TEST_CASE("osc driver reads what the virtual amplifier holds") {
    VirtualAmpFixture fixture;
    AmplifierState state = fixture.state.snapshot();
    state.channels[2].gain_db = -4.5;
    state.channels[2].delay_ms = 12.5;
    state.channels[2].mute = true;
    state.channels[2].polarity_inverted = true;
    state.channels[2].bands[4] = EqBandState{true, FilterKind::high_shelf, 8000.0, -2.5, 0.7};
    fixture.state.replace(state);

    auto driver = fixture.driver();
    driver->connect();

    CHECK(std::get<double>(driver->read(channel_parameter(3, ParameterKind::gain_db))) == doctest::Approx(-4.5));
    CHECK(std::get<double>(driver->read(channel_parameter(3, ParameterKind::delay_ms))) == doctest::Approx(12.5));
    CHECK(std::get<bool>(driver->read(channel_parameter(3, ParameterKind::mute))));
    CHECK(std::get<bool>(driver->read(channel_parameter(3, ParameterKind::polarity_inverted))));
    CHECK(std::get<bool>(driver->read(band_parameter(3, 5, ParameterKind::band_enabled))));
    CHECK(std::get<FilterKind>(driver->read(band_parameter(3, 5, ParameterKind::band_type))) == FilterKind::high_shelf);
    CHECK(std::get<double>(driver->read(band_parameter(3, 5, ParameterKind::band_freq_hz))) == doctest::Approx(8000.0));
    CHECK(std::get<double>(driver->read(band_parameter(3, 5, ParameterKind::band_gain_db))) == doctest::Approx(-2.5));
    // 0.7 travels as float32, within 1e-7 relative.
    CHECK(std::get<double>(driver->read(band_parameter(3, 5, ParameterKind::band_q))) ==
          doctest::Approx(0.7).epsilon(1e-7));
}

TEST_CASE("osc driver write changes the shared state and reads back") {
    VirtualAmpFixture fixture;
    auto driver = fixture.driver();
    driver->connect();

    const ParameterId gain = channel_parameter(1, ParameterKind::gain_db);
    const ParameterId type = band_parameter(1, 2, ParameterKind::band_type);
    const ParameterId enabled = band_parameter(1, 2, ParameterKind::band_enabled);
    const ParameterId freq = band_parameter(1, 2, ParameterKind::band_freq_hz);
    driver->write(gain, -6.0);
    driver->write(type, FilterKind::low_shelf);
    driver->write(enabled, true);
    driver->write(freq, 125.0);

    // The simulated signal path reads the shared state, so it hears the writes at once.
    const AmplifierState held = fixture.state.snapshot();
    CHECK(held.channels[0].gain_db == doctest::Approx(-6.0));
    CHECK(held.channels[0].bands[1].type == FilterKind::low_shelf);
    CHECK(held.channels[0].bands[1].enabled);
    CHECK(held.channels[0].bands[1].freq_hz == doctest::Approx(125.0));

    CHECK(std::get<double>(driver->read(gain)) == doctest::Approx(-6.0));
    CHECK(std::get<FilterKind>(driver->read(type)) == FilterKind::low_shelf);
    CHECK(std::get<bool>(driver->read(enabled)));
    CHECK(std::get<double>(driver->read(freq)) == doctest::Approx(125.0));
}

TEST_CASE("virtual amplifier rounds values to the profile step") {
    // virtual-amp.json: gain 0.1 dB steps, delay 0.02 ms, band Q 0.01 from 0.3, frequency continuous.
    VirtualAmpFixture fixture;
    auto driver = fixture.driver();

    driver->write(channel_parameter(2, ParameterKind::gain_db), -3.04);
    driver->write(channel_parameter(2, ParameterKind::delay_ms), 12.345);
    driver->write(band_parameter(2, 1, ParameterKind::band_q), 1.234);
    driver->write(band_parameter(2, 1, ParameterKind::band_freq_hz), 1234.5);

    const ChannelState channel = fixture.state.snapshot().channels[1];
    CHECK(channel.gain_db == doctest::Approx(-3.0).epsilon(1e-12));
    CHECK(channel.delay_ms == doctest::Approx(12.34).epsilon(1e-12));
    CHECK(channel.bands[0].q == doctest::Approx(1.23).epsilon(1e-12));
    CHECK(channel.bands[0].freq_hz == 1234.5);
    CHECK(std::get<double>(driver->read(channel_parameter(2, ParameterKind::gain_db))) ==
          doctest::Approx(-3.0).epsilon(1e-7));
}

TEST_CASE("osc driver rejects out-of-range values before sending") {
    VirtualAmpFixture fixture;
    auto driver = fixture.driver();
    driver->connect();
    const std::size_t packets_before = fixture.amplifier.packets_received();

    const Error too_loud = thrown_error([&] { driver->write(channel_parameter(1, ParameterKind::gain_db), 20.0); });
    CHECK(too_loud.kind() == ErrorKind::configuration);
    CHECK(contains(too_loud.what(), "amplifier 'amp-1'"));
    CHECK(contains(too_loud.what(), "above the maximum 12 dB"));

    const Error no_band = thrown_error([&] { driver->read(band_parameter(1, 11, ParameterKind::band_q)); });
    CHECK(no_band.kind() == ErrorKind::configuration);
    CHECK(contains(no_band.what(), "bands 1 to 10"));

    const Error no_channel = thrown_error([&] { driver->read(channel_parameter(9, ParameterKind::mute)); });
    CHECK(no_channel.kind() == ErrorKind::configuration);
    CHECK(contains(no_channel.what(), "channels 1 to 8"));

    CHECK(fixture.amplifier.packets_received() == packets_before);
}

TEST_CASE("refused value raises a device error and keeps the old value") {
    VirtualAmplifierOptions options;
    options.faults.refused_parameters = {"gain_db"};
    VirtualAmpFixture fixture(options);
    auto driver = fixture.driver();

    const Error error = thrown_error([&] { driver->write(channel_parameter(4, ParameterKind::gain_db), -2.0); });
    CAPTURE(error.what());
    CHECK(error.kind() == ErrorKind::device);
    CHECK(contains(error.what(), "amplifier 'amp-1' (osc.udp://127.0.0.1:"));
    CHECK(contains(error.what(), "refused /ch/4/gain_db"));
    CHECK(contains(error.what(), "still holds 0"));
    CHECK(contains(error.what(), "rejected by fault injection"));
    CHECK(fixture.state.snapshot().channels[3].gain_db == 0.0);

    // Band gain is another parameter kind and still accepted.
    driver->write(band_parameter(4, 1, ParameterKind::band_gain_db), -2.0);
    CHECK(fixture.state.snapshot().channels[3].bands[0].gain_db == doctest::Approx(-2.0));
}

TEST_CASE("refusal of one address leaves the others writable") {
    VirtualAmplifierOptions options;
    options.faults.refused_parameters = {"/ch/2/eq/3/freq_hz"};
    VirtualAmpFixture fixture(options);
    auto driver = fixture.driver();

    CHECK_THROWS_AS(driver->write(band_parameter(2, 3, ParameterKind::band_freq_hz), 500.0), Error);
    CHECK_NOTHROW(driver->write(band_parameter(2, 4, ParameterKind::band_freq_hz), 500.0));
    CHECK_NOTHROW(driver->write(band_parameter(3, 3, ParameterKind::band_freq_hz), 500.0));
    CHECK(fixture.state.snapshot().channels[1].bands[2].freq_hz == 1000.0);
}

TEST_CASE("osc driver retries through an outage that ends") {
    // Two packets pass, then the amplifier ignores everything for 300 ms. The driver sends again
    // every 100 ms up to 8 times (800 ms), so a write during the outage lands after it.
    VirtualAmplifierOptions options;
    options.faults.drop_after_packets = 2;
    options.faults.outage = 300ms;
    VirtualAmpFixture fixture(options);
    std::vector<std::string> log_lines;
    auto driver_options = test::test_driver_options(100ms, 7);
    driver_options.log = [&log_lines](std::string_view line) { log_lines.emplace_back(line); };
    auto driver = fixture.driver(driver_options);

    driver->connect();                                                    // packet 1
    driver->write(channel_parameter(1, ParameterKind::delay_ms), 2.0);   // packet 2
    driver->write(channel_parameter(1, ParameterKind::gain_db), -1.0);   // dropped, then answered

    CHECK(fixture.state.snapshot().channels[0].gain_db == doctest::Approx(-1.0));
    CHECK(fixture.amplifier.packets_received() >= 4);
    REQUIRE_FALSE(log_lines.empty());
    CHECK(contains(log_lines.front(), "sending again (attempt 2 of 8)"));
}

TEST_CASE("osc driver times out when the device stops answering") {
    VirtualAmplifierOptions options;
    options.faults.drop_after_packets = 1;  // no outage length: it never ends
    VirtualAmpFixture fixture(options);
    auto driver = fixture.driver(test::test_driver_options(50ms, 2));
    driver->connect();

    const Error error = thrown_error([&] { driver->write(channel_parameter(1, ParameterKind::gain_db), -1.0); });
    CAPTURE(error.what());
    CHECK(error.kind() == ErrorKind::device);
    CHECK(contains(error.what(), "amplifier 'amp-1'"));
    CHECK(contains(error.what(), "no reply to /ch/1/gain_db ,f -1 after 3 attempt(s) of 50 ms"));
    CHECK(fixture.state.snapshot().channels[0].gain_db == 0.0);
    CHECK(fixture.amplifier.packets_received() == 4);
}

TEST_CASE("osc driver waits for slow answers within its timeout") {
    VirtualAmplifierOptions options;
    options.faults.reply_delay = 60ms;
    VirtualAmpFixture fixture(options);
    auto driver = fixture.driver(test::test_driver_options(400ms, 0));

    driver->write(channel_parameter(5, ParameterKind::mute), true);
    CHECK(std::get<bool>(driver->read(channel_parameter(5, ParameterKind::mute))));
}

TEST_CASE("osc driver fails on answers slower than its retries") {
    // Replies come 400 ms late; three attempts of 50 ms give up after 150 ms. The amplifier still
    // applies the value, as a real device that answers late would.
    VirtualAmplifierOptions options;
    options.faults.reply_delay = 400ms;
    VirtualAmpFixture fixture(options);
    auto driver = fixture.driver(test::test_driver_options(50ms, 2));

    const Error error = thrown_error([&] { driver->write(channel_parameter(5, ParameterKind::gain_db), -2.0); });
    CHECK(error.kind() == ErrorKind::device);
    CHECK(contains(error.what(), "no reply to /ch/5/gain_db"));
}

TEST_CASE("osc driver connect fails when nothing listens") {
    std::uint16_t closed_port = 0;
    {
        VirtualAmpFixture fixture;
        closed_port = fixture.amplifier.port();
    }
    OscUdpDriver driver("amp-1", "127.0.0.1", closed_port, test::virtual_amp_profile(),
                        test::test_driver_options(50ms, 1));

    const Error error = thrown_error([&] { driver.connect(); });
    CAPTURE(error.what());
    CHECK(error.kind() == ErrorKind::device);
    CHECK(contains(error.what(), "amplifier 'amp-1'"));
    CHECK(contains(error.what(), "127.0.0.1:" + std::to_string(closed_port)));
}

TEST_CASE("osc driver refuses hosts outside loopback for unverified profiles") {
    const DeviceProfile profile = test::virtual_amp_profile();
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737), which no real device uses.
    for (const std::string host : {"192.0.2.10", "amp.example", "0.0.0.0"}) {
        CAPTURE(host);
        const Error error = thrown_error([&] { OscUdpDriver driver("amp-1", host, 9000, profile); });
        CHECK(error.kind() == ErrorKind::configuration);
        CHECK(contains(error.what(), "is not a loopback address"));
        CHECK(contains(error.what(), "verified_on_real_device is false"));
    }

    for (const std::string host : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "::ffff:127.0.0.1"}) {
        CAPTURE(host);
        CHECK_NOTHROW(OscUdpDriver("amp-1", host, 9000, profile));
    }

    // The explicit override lets a literal address through; nothing is sent until connect().
    OscDriverOptions override_options;
    override_options.allow_unverified_remote_host = true;
    CHECK_NOTHROW(OscUdpDriver("amp-1", "192.0.2.10", 9000, profile, override_options));
}

TEST_CASE("osc driver needs a host and port") {
    const Error error = thrown_error([] { OscUdpDriver("amp-1", "", 0, test::virtual_amp_profile()); });
    CHECK(error.kind() == ErrorKind::configuration);
    CHECK(contains(error.what(), "give \"host\" and \"port\""));
}

TEST_CASE("osc driver description names device and address") {
    OscUdpDriver driver("stage-left", "127.0.0.1", 47123, test::virtual_amp_profile());

    CHECK(driver.description() == "amplifier 'stage-left' (osc.udp://127.0.0.1:47123)");
    CHECK(driver.can_read_back());
    CHECK_FALSE(driver.subscribe([](const ParameterId&, const ParameterValue&) {}));
}

TEST_CASE("osc driver takes timeouts from the profile") {
    OscUdpDriver driver("amp-1", "127.0.0.1", 47123, test::virtual_amp_profile());

    CHECK(driver.settings().reply_timeout == 200ms);
    CHECK(driver.settings().retries == 2);
    CHECK(driver.settings().address_scheme == "linetune-generic");
}

}
