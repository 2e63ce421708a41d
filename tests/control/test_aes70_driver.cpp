// The AES70 driver: its profile object map and role paths, and reads, writes, discovery,
// subscriptions and a push against the Node OCP.1 test device oca-mini-device.js (started on
// 127.0.0.1, stopped by its process id; see test_aes70_support.hpp for when these tests skip).

#include "test_aes70_support.hpp"
#include "test_push_support.hpp"

#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/driver_factory.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;
using namespace linetune::test::aes70;
using namespace std::chrono_literals;

/// The generic role-path profile without its command rate limit, so the tests run at loopback speed.
DeviceProfile generic_profile() {
    auto profile = io::read_device_profile(io::default_hardware_dir() / "generic-aes70.json");
    auto control = nlohmann::json::parse(profile.control_json);
    control.erase("max_commands_per_s");
    profile.control_json = control.dump();
    return profile;
}

Amplifier generic_amplifier(std::uint16_t port) {
    Amplifier amplifier = mini_device_amplifier(port);
    amplifier.name = "generic-amp";
    amplifier.profile_name = "generic-aes70";
    amplifier.profile = generic_profile();
    amplifier.limits = amplifier.profile.limits;
    return amplifier;
}

Aes70DriverOptions unwatched() {
    Aes70DriverOptions options;
    options.watch_changes = false;
    return options;
}

TEST_SUITE("AES70 driver") {
    TEST_CASE("profile object map matches the Node device") {
        const auto settings = read_aes70_control_settings(mini_device_profile());
        REQUIRE(settings.channels.size() == 2);
        CHECK(settings.channels[0].gain == 10001);
        CHECK(settings.channels[0].mute == 10002);
        CHECK(settings.channels[0].delay == 10003);
        CHECK(settings.channels[1].bands == std::vector<OcaONo>{20011, 20012, 20013, 20014});
        CHECK_FALSE(settings.channels[0].polarity.has_value());
        CHECK(settings.heartbeat == 1000ms);
        CHECK(settings.reply_timeout == 500ms);
        CHECK(uses_aes70(mini_device_profile()));
    }

    TEST_CASE("broken object map lists every problem") {
        auto profile = mini_device_profile();
        profile.control_json = R"({"protocol":"aes70","transport":"udp","heartbeat_ms":50,"colour":1,)"
                               R"("objects":{"channels":[{"gain":0,"mute":10002,"delay":10002,"bands":[10011]}]}})";
        const std::string message = error_text([&] { (void)read_aes70_control_settings(profile); });
        CHECK(message.find("profile 'aes70-mini-device'") != std::string::npos);
        CHECK(message.find("control.transport \"udp\"") != std::string::npos);
        CHECK(message.find("control.heartbeat_ms 50 must be a whole number from 200 to 60000 ms") != std::string::npos);
        CHECK(message.find("control.colour is not a known key") != std::string::npos);
        CHECK(message.find("channels[0].gain 0 must be an object number") != std::string::npos);
        CHECK(message.find("reuses object number 10002") != std::string::npos);
        CHECK(message.find("lists 1 channels but the profile has 2") != std::string::npos);
        CHECK(message.find("lists 1 filters but eq.max_bands is 4") != std::string::npos);
    }

    TEST_CASE("factory picks AES70 and keeps to loopback") {
        auto amplifier = mini_device_amplifier(47349);
        const auto driver = make_device_driver(amplifier);
        CHECK(driver->description() == "amplifier 'mini-amp' (ocp1.tcp://127.0.0.1:47349)");
        CHECK(dynamic_cast<Aes70Driver*>(driver.get()) != nullptr);

        amplifier.host = "192.0.2.7";  // TEST-NET-1: never contacted, the check comes first
        const std::string message = error_text([&] { (void)make_device_driver(amplifier); });
        CHECK(message.find("is not a loopback address") != std::string::npos);
    }

    TEST_CASE("refused connection is a device error") {
        // Port 47349 of the test range with nothing listening (the Node device is not started here).
        Aes70Driver driver(mini_device_amplifier(47349), {});
        try {
            driver.connect();
            MESSAGE("something listens on 127.0.0.1:47349; the refused-connection check is skipped");
        } catch (const Error& error) {
            CHECK(error.kind() == ErrorKind::device);
            CHECK(std::string(error.what()).find("TCP connection failed") != std::string::npos);
        }
    }

    TEST_CASE("silent device times out") {
        // A TCP listener on an ephemeral loopback port that accepts and reads but never sends a Response.
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
        const auto port = acceptor.local_endpoint().port();
        std::thread listener([&] {
            boost::asio::ip::tcp::socket peer(io);
            acceptor.accept(peer);
            std::array<char, 256> sink{};
            boost::system::error_code error;
            while (!error) {
                (void)peer.read_some(boost::asio::buffer(sink), error);
            }
        });
        {
            Aes70DriverOptions options;
            options.reply_timeout = 100ms;
            Aes70Driver driver(mini_device_amplifier(port), options);
            const std::string message = error_text([&] { driver.connect(); });
            CHECK(message.find("no Response to method 1.1 of object 10001 within 100 ms") != std::string::npos);
        }  // the driver closes its connection, which ends the listener's read loop
        listener.join();
    }

    TEST_CASE("malformed reply ends the link") {
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
        const auto port = acceptor.local_endpoint().port();
        std::thread listener([&] {
            boost::asio::ip::tcp::socket peer(io);
            acceptor.accept(peer);
            std::array<char, 256> sink{};
            boost::system::error_code error;
            (void)peer.read_some(boost::asio::buffer(sink), error);
            const std::array<std::uint8_t, 12> not_ocp1{'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '4', '0', '0'};
            boost::asio::write(peer, boost::asio::buffer(not_ocp1), error);
            while (!error) {
                (void)peer.read_some(boost::asio::buffer(sink), error);
            }
        });
        {
            Aes70DriverOptions options;
            options.reply_timeout = 2000ms;  // the malformed reply must end the call long before this
            Aes70Driver driver(mini_device_amplifier(port), options);
            const std::string message = error_text([&] { driver.connect(); });
            CHECK(message.find("the device sent a malformed message") != std::string::npos);
            CHECK(message.find("sync byte is 0x48") != std::string::npos);
        }
        listener.join();
    }

    TEST_CASE("batched reads match values to parameters") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver writer(mini_device_amplifier(device.port()), unwatched());
        Aes70Driver reader(mini_device_amplifier(device.port()), {});  // subscribed: reads a channel in one batch
        writer.connect();
        // A distinct value in every band, so that a value given to the wrong parameter shows.
        const std::size_t band_count = 4;
        for (std::size_t b = 1; b <= band_count; ++b) {
            writer.write({1, ParameterKind::band_freq_hz, b}, 100.0 * static_cast<double>(b));
            writer.write({1, ParameterKind::band_gain_db, b}, -static_cast<double>(b));
            writer.write({1, ParameterKind::band_q, b}, 0.5 + static_cast<double>(b));
        }
        writer.write({1, ParameterKind::gain_db, 0}, -7.0);
        writer.write({1, ParameterKind::delay_ms, 0}, 4.0);
        writer.write({1, ParameterKind::band_type, 3}, FilterKind::low_shelf);
        reader.connect();
        REQUIRE(reader.subscribed());

        const auto state = read_channel_state(reader, 1, band_count);
        CHECK(state.gain_db == -7.0);
        CHECK(state.delay_ms == doctest::Approx(4.0).epsilon(float32_relative_tolerance));
        CHECK_FALSE(state.mute);
        for (std::size_t b = 1; b <= band_count; ++b) {
            INFO("band " << b);
            CHECK(state.bands[b - 1].freq_hz == 100.0 * static_cast<double>(b));
            CHECK(state.bands[b - 1].gain_db == -static_cast<double>(b));
            CHECK(state.bands[b - 1].q == 0.5 + static_cast<double>(b));
            CHECK(state.bands[b - 1].type == (b == 3 ? FilterKind::low_shelf : FilterKind::peaking));
        }
    }

    TEST_CASE("batch reports each failed command") {
        // A loopback listener that replies to one message of Gets: to the first command with its
        // target's object number as a float, to the second with BadONo, and to the third not at all.
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
        const auto port = acceptor.local_endpoint().port();
        std::thread listener([&] {
            boost::asio::ip::tcp::socket peer(io);
            acceptor.accept(peer);
            boost::system::error_code error;
            std::vector<std::uint8_t> pending;
            std::array<std::uint8_t, 4096> buffer{};
            while (!error) {
                const std::size_t count = peer.read_some(boost::asio::buffer(buffer), error);
                pending.insert(pending.end(), buffer.begin(), buffer.begin() + static_cast<long>(count));
                while (pending.size() >= ocp1_header_size) {
                    const auto header = decode_ocp1_header(std::span<const std::uint8_t>(pending.data(), ocp1_header_size));
                    if (pending.size() < header.total_size()) {
                        break;
                    }
                    const auto message =
                        decode_ocp1_message(std::span<const std::uint8_t>(pending.data(), header.total_size()));
                    pending.erase(pending.begin(), pending.begin() + static_cast<long>(header.total_size()));
                    std::vector<Ocp1Response> responses;
                    for (std::size_t i = 0; i < message.commands.size() && i < 2; ++i) {
                        Ocp1Response response;
                        response.handle = message.commands[i].handle;
                        if (i == 0) {
                            Ocp1Writer value;
                            value.f32(static_cast<float>(message.commands[i].target_ono));
                            response.parameter_count = 1;
                            response.parameters = value.take();
                        } else {
                            response.status = OcaStatus::bad_ono;
                        }
                        responses.push_back(response);
                    }
                    if (!responses.empty()) {
                        boost::asio::write(peer, boost::asio::buffer(encode_ocp1_responses(responses)), error);
                    }
                }
            }
        });
        {
            Aes70ConnectionOptions options;
            options.reply_timeout = 100ms;
            Aes70Connection connection("test device", options);
            connection.open({boost::asio::ip::address_v4::loopback(), port});
            const auto replies = connection.call_batch({{10001, {4, 1}, 0, {}}, {99999, {4, 1}, 0, {}}, {10002, {4, 1}, 0, {}}});
            REQUIRE(replies.size() == 3);
            REQUIRE(replies[0].response.has_value());
            Ocp1Reader value(replies[0].response->parameters, "first reply");
            CHECK(value.f32() == 10001.0F);
            REQUIRE(replies[1].response.has_value());
            CHECK(replies[1].response->status == OcaStatus::bad_ono);
            CHECK_FALSE(replies[2].response.has_value());
            CHECK(replies[2].failure.find("no Response to method 4.1 of object 10002 within 100 ms") != std::string::npos);
            connection.close();
        }  // closing ends the listener's read loop
        listener.join();
    }

    TEST_CASE("reads and writes reach the Node device") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver writer(mini_device_amplifier(device.port()), {});
        Aes70Driver checker(mini_device_amplifier(device.port()), unwatched());  // a second OCP.1 connection
        writer.connect();
        checker.connect();

        // The Node device starts at 0 dB, 0 s, unmuted, bands at 1 kHz, PEQ, Q 1, 0 dB, enabled.
        CHECK(number(checker.read({1, ParameterKind::gain_db, 0})) == 0.0);
        CHECK(checker.read({1, ParameterKind::band_type, 2}) == ParameterValue{FilterKind::peaking});
        CHECK(checker.read({1, ParameterKind::polarity_inverted, 0}) == ParameterValue{false});

        writer.write({1, ParameterKind::gain_db, 0}, -3.5);
        writer.write({2, ParameterKind::mute, 0}, true);
        writer.write({1, ParameterKind::delay_ms, 0}, 12.5);
        writer.write({2, ParameterKind::delay_ms, 0}, 3.48);  // zone 2's delay is an OcaDelayExtended
        writer.write({1, ParameterKind::band_type, 2}, FilterKind::high_shelf);
        writer.write({1, ParameterKind::band_freq_hz, 2}, 315.0);
        writer.write({1, ParameterKind::band_q, 2}, 1.4);
        writer.write({1, ParameterKind::band_gain_db, 2}, -2.0);
        writer.write({1, ParameterKind::band_enabled, 2}, false);

        CHECK(number(checker.read({1, ParameterKind::gain_db, 0})) == -3.5);
        CHECK(checker.read({2, ParameterKind::mute, 0}) == ParameterValue{true});
        CHECK(checker.read({1, ParameterKind::mute, 0}) == ParameterValue{false});
        CHECK(number(checker.read({1, ParameterKind::delay_ms, 0})) ==
              doctest::Approx(12.5).epsilon(float32_relative_tolerance));
        CHECK(number(checker.read({2, ParameterKind::delay_ms, 0})) ==
              doctest::Approx(3.48).epsilon(float32_relative_tolerance));
        CHECK(checker.read({1, ParameterKind::band_type, 2}) == ParameterValue{FilterKind::high_shelf});
        CHECK(number(checker.read({1, ParameterKind::band_freq_hz, 2})) == 315.0);
        CHECK(number(checker.read({1, ParameterKind::band_q, 2})) == doctest::Approx(1.4).epsilon(float32_relative_tolerance));
        CHECK(number(checker.read({1, ParameterKind::band_gain_db, 2})) == -2.0);
        CHECK(checker.read({1, ParameterKind::band_enabled, 2}) == ParameterValue{false});
        CHECK(checker.read({1, ParameterKind::band_enabled, 1}) == ParameterValue{true});
        CHECK(number(checker.read({2, ParameterKind::band_freq_hz, 2})) == 1000.0);  // channel 2 untouched
    }

    TEST_CASE("rejected values name the status") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver driver(mini_device_amplifier(device.port()), {});
        driver.connect();

        Error out_of_range("none");
        try {
            driver.write({1, ParameterKind::gain_db, 0}, 20.0);  // the device allows -60 to +12 dB
        } catch (const Error& error) {
            out_of_range = error;
        }
        CHECK(out_of_range.kind() == ErrorKind::device);
        const std::string message = out_of_range.what();
        CHECK(message.find("amplifier 'mini-amp' (ocp1.tcp://127.0.0.1:") != std::string::npos);
        CHECK(message.find("channel 1 gain_db") != std::string::npos);
        CHECK(message.find("OcaGain method 4.2 on object 10001 returned ParameterOutOfRange") != std::string::npos);
        CHECK(number(driver.read({1, ParameterKind::gain_db, 0})) == 0.0);  // unchanged

        const std::string polarity = error_text([&] { driver.write({1, ParameterKind::polarity_inverted, 0}, true); });
        CHECK(polarity.find("maps no OcaPolarity object") != std::string::npos);
        driver.write({1, ParameterKind::polarity_inverted, 0}, false);  // nothing to send

        const std::string missing_band = error_text([&] { (void)driver.read({1, ParameterKind::band_q, 5}); });
        CHECK(missing_band.find("maps bands 1 to 4") != std::string::npos);
    }

    TEST_CASE("object map checked against the device") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        auto amplifier = mini_device_amplifier(device.port());
        // Channel 1's gain mapped to its mute object, and channel 2's mute to an object that does not exist.
        amplifier.profile.control_json =
            R"({"protocol":"aes70","transport":"tcp","objects":{"channels":[)"
            R"({"gain":10002,"mute":10001,"delay":10003,"bands":[10011,10012,10013,10014]},)"
            R"({"gain":20001,"mute":29999,"delay":20003,"bands":[20011,20012,20013,20014]}]}})";
        Aes70Driver swapped(amplifier, {});
        const std::string message = error_text([&] { swapped.connect(); });
        CHECK(message.find("channel 1 gain (object 10002) has class 1.1.1.2, not 1.1.1.5") != std::string::npos);
    }

    TEST_CASE("keepalive holds an idle link") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver driver(mini_device_amplifier(device.port()), {});
        driver.connect();
        // The device adopts the 1 s heartbeat and drops a controller that is silent for 3 s. The
        // driver sends a KeepAlive after each idle second, so the link survives 3.5 s without commands.
        std::this_thread::sleep_for(3500ms);
        driver.write({1, ParameterKind::gain_db, 0}, -1.0);
        CHECK(number(driver.read({1, ParameterKind::gain_db, 0})) == -1.0);
    }

    TEST_CASE("push to the Node device ends verified") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Venue venue = test::memory_venue(1);
        venue.amplifiers[0] = mini_device_amplifier(device.port());
        venue.amplifiers[0].name = "amp-1";  // the memory venue's zones name amp-1
        const std::map<std::string, ZoneTarget> targets{
            {"zone-1", test::zone_target(-4.5, 3.48, {test::peaking(125.0, -6.0, 4.0), test::peaking(2500.0, 3.0, 1.0)})},
            {"zone-2", test::zone_target(2.5, 0.0, {{analysis::FilterType::high_pass, 35.0, 0.0, 0.71}})}};
        const auto factory = [](const Amplifier& amplifier) { return make_device_driver(amplifier); };

        auto push = prepare_push(venue, targets, factory, test::quick_options());
        const auto report = execute_push(push, test::scratch_dir("push-aes70") / "push-journal.json", test::quick_options());
        CHECK(report.succeeded());
        REQUIRE(report.devices.size() == 1);
        CHECK(report.devices[0].outcome == DeviceOutcome::verified);
        CHECK(report.devices[0].device.find("ocp1.tcp://127.0.0.1:") != std::string::npos);

        Aes70Driver checker(venue.amplifiers[0], {});
        checker.connect();
        CHECK(number(checker.read({1, ParameterKind::gain_db, 0})) == -4.5);
        CHECK(number(checker.read({1, ParameterKind::delay_ms, 0})) == doctest::Approx(3.48).epsilon(float32_relative_tolerance));
        CHECK(number(checker.read({1, ParameterKind::band_freq_hz, 1})) == 125.0);
        CHECK(number(checker.read({1, ParameterKind::band_gain_db, 1})) == -6.0);
        CHECK(number(checker.read({1, ParameterKind::band_q, 1})) == 4.0);
        CHECK(number(checker.read({1, ParameterKind::band_freq_hz, 2})) == 2500.0);
        CHECK(checker.read({1, ParameterKind::band_enabled, 3}) == ParameterValue{false});
        CHECK(number(checker.read({2, ParameterKind::gain_db, 0})) == 2.5);
        CHECK(checker.read({2, ParameterKind::band_type, 1}) == ParameterValue{FilterKind::high_pass});
        CHECK(number(checker.read({2, ParameterKind::band_freq_hz, 1})) == 35.0);
        CHECK(checker.read({2, ParameterKind::band_enabled, 2}) == ParameterValue{false});
        CHECK(checker.read({1, ParameterKind::mute, 0}) == ParameterValue{false});
    }
    TEST_CASE("d&b-style profile follows the object number scheme") {
        // ONo = 1 << 28 | record 0 << 20 | channel << 15 | object; Config_PotiLevel is object 0x206
        // (channel 1: 0x10008206) and Config_Mute 0x205.
        const auto profile = io::read_device_profile(io::default_hardware_dir() / "db-style-4ch.json");
        const auto settings = read_aes70_control_settings(profile);
        REQUIRE(settings.channels.size() == 4);
        CHECK(settings.channels[0].gain == 0x10008206u);
        CHECK(settings.channels[0].mute == 0x10008205u);
        CHECK(settings.channels[3].gain == 0x10020206u);
        CHECK(settings.channels[1].bands.size() == 16);
        CHECK_FALSE(settings.verified_on_real_device);
        CHECK(profile.verified_against.find("unverified") == 0);

        Amplifier amplifier = mini_device_amplifier(50014);
        amplifier.profile = profile;
        amplifier.host = "192.0.2.7";  // TEST-NET-1: never contacted, the loopback check comes first
        CHECK(error_text([&] { Aes70Driver driver(amplifier); }).find("is not a loopback address") != std::string::npos);
    }

    TEST_CASE("role paths expand per channel and band") {
        const auto settings = read_aes70_control_settings(generic_profile());
        REQUIRE(settings.role_paths.size() == 4);
        CHECK(settings.role_paths[0].gain == "Zone1/Gain");
        CHECK(settings.role_paths[2].delay == "Zone3/Delay");
        CHECK(settings.role_paths[3].bands == std::vector<std::string>{"Zone4/PEQ1", "Zone4/PEQ2", "Zone4/PEQ3", "Zone4/PEQ4"});
        CHECK_FALSE(settings.role_paths[0].polarity.has_value());
        CHECK(settings.channels.size() == 4);
        CHECK(settings.channels[0].gain == 0);  // resolved on connect
        CHECK(expand_role_path("Amp/Out{channel}/Eq{band}/{band}", 12, 3) == "Amp/Out12/Eq3/3");
    }

    TEST_CASE("broken role paths list every problem") {
        auto profile = generic_profile();
        profile.control_json = R"({"protocol":"aes70","transport":"tcp","max_commands_per_s":0,)"
                               R"("role_paths":{"gain":"Zone/Gain","mute":"Zone{channel}//Mute","band":"Zone{channel}/PEQ",)"
                               R"("volume":"x"}})";
        const std::string message = error_text([&] { (void)read_aes70_control_settings(profile); });
        CHECK(message.find("control.max_commands_per_s 0 must be a number from 1 to 10000") != std::string::npos);
        CHECK(message.find("control.role_paths.volume is not a known key") != std::string::npos);
        CHECK(message.find("control.role_paths.mute \"Zone{channel}//Mute\" must be a role path") != std::string::npos);
        CHECK(message.find("control.role_paths.delay is missing") != std::string::npos);
        CHECK(message.find("control.role_paths.band \"Zone{channel}/PEQ\" has no {band}") != std::string::npos);

        profile.control_json = R"({"protocol":"aes70","transport":"tcp","objects":{"channels":[]},)"
                               R"("role_paths":{"gain":"G","mute":"M","delay":"D","band":"B{band}"}})";
        const std::string both = error_text([&] { (void)read_aes70_control_settings(profile); });
        CHECK(both.find("has both \"objects\" and \"role_paths\"") != std::string::npos);

        profile.control_json = R"({"protocol":"aes70","transport":"tcp",)"
                               R"("role_paths":{"gain":"Gain","mute":"Mute","delay":"Delay","band":"PEQ{band}"}})";
        const std::string shared = error_text([&] { (void)read_aes70_control_settings(profile); });
        CHECK(shared.find("give channel 2 the path \"Gain\" of channel 1") != std::string::npos);
    }

    TEST_CASE("role paths resolve on the Node device") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device({"--zones=4"});
        Aes70Driver driver(generic_amplifier(device.port()), {});
        driver.connect();
        const auto& channels = driver.settings().channels;
        REQUIRE(channels.size() == 4);
        CHECK(channels[0].gain == 10001);
        CHECK(channels[1].delay == 20003);
        CHECK(channels[2].mute == 30002);
        CHECK(channels[3].bands == std::vector<OcaONo>{40011, 40012, 40013, 40014});
        CHECK(driver.subscribed());
        CHECK(driver.locked_object_count() == 0);  // the Node device offers no locks

        driver.write({3, ParameterKind::band_freq_hz, 2}, 250.0);
        Aes70Driver checker(mini_device_amplifier(device.port()), unwatched());  // channels 1 and 2 by number
        checker.connect();
        CHECK(number(driver.read({3, ParameterKind::band_freq_hz, 2})) == 250.0);
        CHECK(number(checker.read({2, ParameterKind::band_freq_hz, 2})) == 1000.0);
    }

    TEST_CASE("missing role path names the path") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;  // 2 zones: channels 3 and 4 of the generic profile are missing
        auto amplifier = generic_amplifier(device.port());
        auto control = nlohmann::json::parse(amplifier.profile.control_json);
        control["role_paths"]["gain"] = "Zone{channel}";  // the zone's block, not its OcaGain
        amplifier.profile.control_json = control.dump();
        Aes70Driver driver(amplifier, {});
        Error failure("none");
        try {
            driver.connect();
        } catch (const Error& error) {
            failure = error;
        }
        const std::string message = failure.what();
        CHECK(failure.kind() == ErrorKind::configuration);
        CHECK(message.find("the role paths of profile 'generic-aes70' do not match the device") != std::string::npos);
        CHECK(message.find("channel 1 gain: \"Zone1\" (object 10000) has class 1.1.3, not OcaGain 1.1.1.5") !=
              std::string::npos);
        CHECK(message.find("channel 3 delay: the device has no object at role path \"Zone3/Delay\"") != std::string::npos);
        CHECK(message.find("channel 4 band 4: the device has no object at role path \"Zone4/PEQ4\"") != std::string::npos);
    }

    TEST_CASE("identity and object tree of the Node device") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver driver(mini_device_amplifier(device.port()), unwatched());
        driver.connect();
        const auto identity = driver.identity();
        CHECK(identity.manufacturer == "Example Audio");
        CHECK(identity.model == "MiniAmp");
        CHECK(identity.version == "0.1");
        CHECK(identity.serial_number == "SN-000001");
        CHECK(identity.device_name == "MiniAmp-1");
        CHECK(identity.oca_version == std::optional<std::uint16_t>{2});

        const auto tree = driver.object_tree();
        CHECK(tree.size() == 2 * (1 + 3 + 4));  // per zone: the block, gain, mute, delay and 4 filters
        const auto peq = std::find_if(tree.begin(), tree.end(), [](const auto& object) { return object.ono == 20013; });
        REQUIRE(peq != tree.end());
        CHECK(peq->role_path == "Zone2/PEQ3");
        CHECK(peq->container == 20000);
        CHECK(class_name(peq->class_id) == "OcaFilterParametric");
        const auto delay = std::find_if(tree.begin(), tree.end(), [](const auto& object) { return object.ono == 20003; });
        REQUIRE(delay != tree.end());
        CHECK(class_name(delay->class_id) == "OcaDelayExtended");
        CHECK(delay->role_path == "Zone2/Delay");
    }

    TEST_CASE("change by another controller fails the next call") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver pusher(mini_device_amplifier(device.port()), {});
        Aes70Driver other(mini_device_amplifier(device.port()), unwatched());
        pusher.connect();
        other.connect();
        std::atomic<int> changes_seen{0};
        REQUIRE(pusher.subscribe([&](const ParameterId& id, const ParameterValue& value) {
            if (id == ParameterId{1, ParameterKind::gain_db, 0} && value == ParameterValue{-7.0}) {
                ++changes_seen;
            }
        }));

        // linetune's own writes notify too, and must not count as changes by others.
        CHECK(number(pusher.read({1, ParameterKind::gain_db, 0})) == 0.0);
        pusher.write({1, ParameterKind::gain_db, 0}, -2.0);
        pusher.write({1, ParameterKind::band_type, 1}, FilterKind::low_shelf);
        CHECK(number(pusher.read({1, ParameterKind::gain_db, 0})) == -2.0);

        other.write({1, ParameterKind::gain_db, 0}, -7.0);
        const std::string message = error_text([&] { (void)pusher.read({2, ParameterKind::mute, 0}); });
        CHECK(message.find("channel 1 gain_db was changed to -7 by another controller (PropertyChanged from object 10001)") !=
              std::string::npos);
        CHECK(changes_seen.load() == 1);
        CHECK(number(pusher.read({1, ParameterKind::gain_db, 0})) == -7.0);  // reported once, then known

        other.write({2, ParameterKind::band_q, 3}, 2.5);  // a property linetune never read still counts
        const std::string q_message = error_text([&] { pusher.write({1, ParameterKind::delay_ms, 0}, 1.0); });
        CHECK(q_message.find("channel 2 band 3 q was changed to 2.5 by another controller") != std::string::npos);
    }

    TEST_CASE("reconnect re-subscribes and re-verifies") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver pusher(mini_device_amplifier(device.port()), {});
        Aes70Driver other(mini_device_amplifier(device.port()), unwatched());
        pusher.connect();
        other.connect();
        pusher.write({1, ParameterKind::gain_db, 0}, -2.0);
        CHECK(pusher.read({2, ParameterKind::mute, 0}) == ParameterValue{false});

        pusher.close();
        other.write({1, ParameterKind::gain_db, 0}, -9.0);
        pusher.connect();
        REQUIRE(pusher.changes_found_on_reconnect().size() == 1);
        CHECK(pusher.changes_found_on_reconnect()[0].find("channel 1 gain_db differs from what linetune last wrote") == 0);
        CHECK(number(pusher.read({1, ParameterKind::gain_db, 0})) == -9.0);

        other.write({2, ParameterKind::mute, 0}, true);  // noticed through the new subscriptions
        const std::string message = error_text([&] { (void)pusher.read({1, ParameterKind::gain_db, 0}); });
        CHECK(message.find("channel 2 mute was changed to true by another controller") != std::string::npos);
    }

    TEST_CASE("SetMultiple sets a band atomically") {
        if (!device_peer_available()) {
            return;
        }
        NodeDevice device;
        Aes70Driver driver(mini_device_amplifier(device.port()), {});
        driver.connect();
        driver.write_band(1, 2, {true, FilterKind::high_shelf, 4000.0, -3.0, 0.8});
        CHECK(driver.read({1, ParameterKind::band_type, 2}) == ParameterValue{FilterKind::high_shelf});
        CHECK(number(driver.read({1, ParameterKind::band_freq_hz, 2})) == 4000.0);
        CHECK(number(driver.read({1, ParameterKind::band_gain_db, 2})) == -3.0);
        CHECK(number(driver.read({1, ParameterKind::band_q, 2})) == doctest::Approx(0.8).epsilon(float32_relative_tolerance));
        CHECK(driver.read({1, ParameterKind::band_enabled, 2}) == ParameterValue{true});

        // +30 dB is beyond the device's +12 dB: the device rejects the whole call, the new frequency included.
        const std::string message = error_text([&] { driver.write_band(1, 2, {true, FilterKind::peaking, 250.0, 30.0, 2.0}); });
        CHECK(message.find("method 4.11 on object 10012 returned ParameterOutOfRange") != std::string::npos);
        CHECK(number(driver.read({1, ParameterKind::band_freq_hz, 2})) == 4000.0);
        CHECK(driver.read({1, ParameterKind::band_type, 2}) == ParameterValue{FilterKind::high_shelf});
    }
}

}  // namespace
