// The AES70 device model without sockets: the object tree, Get and Set with the profile's ranges
// and steps, status codes, locks, subscriptions and notifications, atomic SetMultiple and the
// refusal fault.

#include "linetune/control/aes70/ocp1_device_model.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;

constexpr Ocp1ControllerId first_controller = 1;
constexpr Ocp1ControllerId second_controller = 2;

// Generated layout of the virtual-amp profile: channel n at n·10000.
constexpr OcaONo channel1_block = 10000;
constexpr OcaONo channel1_gain = 10001;
constexpr OcaONo channel1_mute = 10002;
constexpr OcaONo channel1_delay = 10003;
constexpr OcaONo channel1_polarity = 10004;
constexpr OcaONo channel1_band1 = 10011;
constexpr OcaONo channel2_gain = 20001;

DeviceProfile virtual_amp_profile() { return io::read_device_profile(io::default_hardware_dir() / "virtual-amp.json"); }

/// A device model over its own state.
struct Device {
    explicit Device(DeviceProfile profile = virtual_amp_profile())
        : state(neutral_amplifier_state(profile.channel_count, profile.limits.eq.max_bands)),
          model(std::move(profile), state) {}

    Ocp1CommandOutcome call(Ocp1ControllerId controller, OcaONo target, OcaMethodId method, std::uint8_t count = 0,
                            std::vector<std::uint8_t> parameters = {}) {
        return model.handle(controller, Ocp1Command{++handle, target, method, count, std::move(parameters)});
    }

    Ocp1CommandOutcome call(OcaONo target, OcaMethodId method, std::uint8_t count = 0,
                            std::vector<std::uint8_t> parameters = {}) {
        return call(first_controller, target, method, count, std::move(parameters));
    }

    SharedAmplifierState state;
    Ocp1DeviceModel model;
    std::uint32_t handle = 0;
};

std::vector<std::uint8_t> f32(float value) { return Ocp1Writer().f32(value).take(); }

Ocp1Reader reader_of(const Ocp1Response& response) { return Ocp1Reader(response.parameters, "response"); }

/// The subscription parameters for PropertyChanged of emitter, delivered to method 1.1 of ONo 77.
std::vector<std::uint8_t> property_changed_subscription(OcaONo emitter) {
    Ocp1Writer writer;
    writer.ono(emitter).member_id({1, 1}).ono(77).member_id({1, 1});
    writer.blob(std::vector<std::uint8_t>{0xca, 0xfe}).u8(1).blob(std::vector<std::uint8_t>{});
    return writer.take();
}

}  // namespace

TEST_SUITE("aes70 device model") {
    TEST_CASE("root block lists one block per channel") {
        Device device;
        const auto members = device.call(oca_root_block_ono, {3, 5});
        REQUIRE(members.response.status == OcaStatus::ok);
        auto reader = reader_of(members.response);
        REQUIRE(reader.u16() == 8);
        CHECK(reader.ono() == channel1_block);
        CHECK(reader.u16() == 3);  // ClassID 1.1.3: OcaBlock
        CHECK(reader.u16() == 1);
        CHECK(reader.u16() == 1);
        CHECK(reader.u16() == 3);

        const auto role = device.call(channel1_block, {1, 5});
        CHECK(reader_of(role.response).string() == "Zone1");
        const auto band_role = device.call(channel1_band1, {1, 5});
        CHECK(reader_of(band_role.response).string() == "PEQ1");
    }

    TEST_CASE("recursive members cover the whole tree") {
        Device device;
        const auto all = device.call(oca_root_block_ono, {3, 6});
        auto reader = reader_of(all.response);
        // 8 channels × (block, gain, mute, delay, polarity, 10 bands).
        CHECK(reader.u16() == 8 * 15);
    }

    TEST_CASE("find by role path resolves one object") {
        Device device;
        Ocp1Writer path;
        path.u16(2).string("Zone2").string("Gain").u16(0x1f);
        const auto found = device.call(oca_root_block_ono, {3, 20}, 2, path.take());
        REQUIRE(found.response.status == OcaStatus::ok);
        auto reader = reader_of(found.response);
        REQUIRE(reader.u16() == 1);
        CHECK(reader.ono() == channel2_gain);
    }

    TEST_CASE("class identification of each object") {
        Device device;
        const auto expect_class = [&device](OcaONo ono, std::vector<std::uint16_t> expected) {
            const auto outcome = device.call(ono, {1, 1});
            auto reader = reader_of(outcome.response);
            std::vector<std::uint16_t> fields(reader.u16());
            for (auto& field : fields) {
                field = reader.u16();
            }
            CHECK(fields == expected);
            CHECK(reader.u16() == 2);
        };
        expect_class(channel1_gain, {1, 1, 1, 5});
        expect_class(channel1_mute, {1, 1, 1, 2});
        expect_class(channel1_delay, {1, 1, 1, 7, 1});
        expect_class(channel1_polarity, {1, 1, 1, 3});
        expect_class(channel1_band1, {1, 1, 1, 10});
        expect_class(oca_device_manager_ono, {1, 3, 1});
        expect_class(oca_subscription_manager_ono, {1, 3, 4});
    }

    TEST_CASE("gain set rounds to the step") {
        Device device;
        const auto set = device.call(channel1_gain, {4, 2}, 1, f32(-3.04F));
        REQUIRE(set.response.status == OcaStatus::ok);
        CHECK(set.state_changed);
        CHECK(std::get<double>(device.state.get({1, ParameterKind::gain_db, 0})) == doctest::Approx(-3.0).epsilon(1e-12));

        const auto get = device.call(channel1_gain, {4, 1});
        auto reader = reader_of(get.response);
        CHECK(get.response.parameter_count == 3);
        CHECK(reader.f32() == -3.0F);
        CHECK(reader.f32() == -40.0F);
        CHECK(reader.f32() == 12.0F);
    }

    TEST_CASE("delay travels in seconds and extended units") {
        Device device;
        REQUIRE(device.call(channel1_delay, {4, 2}, 1, f32(0.0125F)).response.status == OcaStatus::ok);
        CHECK(std::get<double>(device.state.get({1, ParameterKind::delay_ms, 0})) == doctest::Approx(12.5).epsilon(1e-9));

        // 3.43 m at 343 m/s is 10 ms.
        const auto metres = Ocp1Writer().f32(3.43F).u8(2).take();
        REQUIRE(device.call(channel1_delay, {5, 2}, 1, metres).response.status == OcaStatus::ok);
        CHECK(std::get<double>(device.state.get({1, ParameterKind::delay_ms, 0})) == doctest::Approx(10.0).epsilon(1e-6));

        const auto in_samples = device.call(channel1_delay, {5, 3}, 1, {3});
        auto reader = reader_of(in_samples.response);
        CHECK(reader.f32() == doctest::Approx(480.0).epsilon(1e-5));  // 10 ms at 48 kHz
        CHECK(reader.u8() == 3);
    }

    TEST_CASE("out of range set is rejected and changes nothing") {
        Device device;
        const auto outcome = device.call(channel1_gain, {4, 2}, 1, f32(20.0F));
        CHECK(outcome.response.status == OcaStatus::parameter_out_of_range);
        CHECK_FALSE(outcome.state_changed);
        CHECK(std::get<double>(device.state.get({1, ParameterKind::gain_db, 0})) == 0.0);
    }

    TEST_CASE("status codes of bad commands") {
        Device device;
        CHECK(device.call(4095, {1, 1}).response.status == OcaStatus::bad_ono);
        CHECK(device.call(channel1_gain, {4, 9}).response.status == OcaStatus::bad_method);
        CHECK(device.call(channel1_gain, {3, 5}).response.status == OcaStatus::bad_method);
        CHECK(device.call(channel1_gain, {2, 3}).response.status == OcaStatus::not_implemented);
        // A Float32 parameter cut to two bytes, and a parameter count that disagrees.
        CHECK(device.call(channel1_gain, {4, 2}, 1, {0x40, 0x00}).response.status == OcaStatus::bad_format);
        CHECK(device.call(channel1_gain, {4, 2}, 2, f32(1.0F)).response.status == OcaStatus::bad_format);
        CHECK(device.call(channel1_mute, {4, 2}, 1, {7}).response.status == OcaStatus::parameter_error);
    }

    TEST_CASE("mute and polarity states map to the channel flags") {
        Device device;
        REQUIRE(device.call(channel1_mute, {4, 2}, 1, {1}).response.status == OcaStatus::ok);
        CHECK(std::get<bool>(device.state.get({1, ParameterKind::mute, 0})));
        REQUIRE(device.call(channel1_polarity, {4, 2}, 1, {2}).response.status == OcaStatus::ok);
        CHECK(std::get<bool>(device.state.get({1, ParameterKind::polarity_inverted, 0})));
        CHECK(reader_of(device.call(channel1_mute, {4, 1}).response).u8() == 1);
    }

    TEST_CASE("total lock blocks other controllers") {
        Device device;
        REQUIRE(reader_of(device.call(channel1_gain, {1, 2}).response).boolean());
        REQUIRE(device.call(channel1_gain, {1, 3}).response.status == OcaStatus::ok);
        CHECK(device.call(channel1_gain, {1, 5}).response.status == OcaStatus::ok);
        CHECK(device.call(second_controller, channel1_gain, {1, 5}).response.status == OcaStatus::locked);
        CHECK(device.call(second_controller, channel1_gain, {1, 4}).response.status == OcaStatus::locked);
        REQUIRE(device.call(channel1_gain, {1, 4}).response.status == OcaStatus::ok);
        CHECK(device.call(second_controller, channel1_gain, {1, 5}).response.status == OcaStatus::ok);
    }

    TEST_CASE("read-only lock blocks others' writes") {
        Device device;
        REQUIRE(device.call(channel1_gain, {1, 6}).response.status == OcaStatus::ok);
        CHECK(reader_of(device.call(second_controller, channel1_gain, {1, 7}).response).u8() == 1);
        CHECK(device.call(second_controller, channel1_gain, {4, 1}).response.status == OcaStatus::ok);
        CHECK(device.call(second_controller, channel1_gain, {4, 2}, 1, f32(-1.0F)).response.status ==
              OcaStatus::locked);
        CHECK(device.call(channel1_gain, {4, 2}, 1, f32(-1.0F)).response.status == OcaStatus::ok);

        device.model.disconnect(first_controller);
        CHECK(device.call(second_controller, channel1_gain, {4, 2}, 1, f32(-2.0F)).response.status == OcaStatus::ok);
    }

    TEST_CASE("managers are not lockable") {
        Device device;
        CHECK_FALSE(reader_of(device.call(oca_device_manager_ono, {1, 2}).response).boolean());
        CHECK(device.call(oca_device_manager_ono, {1, 3}).response.status == OcaStatus::not_implemented);
    }

    TEST_CASE("every set notifies subscribers") {
        Device device;
        REQUIRE(device.call(second_controller, oca_subscription_manager_ono, {3, 1}, 5,
                            property_changed_subscription(channel1_gain))
                    .response.status == OcaStatus::ok);

        for (int repeat = 0; repeat < 2; ++repeat) {  // the second set changes nothing and is notified too
            const auto set = device.call(channel1_gain, {4, 2}, 1, f32(-6.0F));
            REQUIRE(set.notifications.size() == 1);
            const auto& delivery = set.notifications.front();
            CHECK(delivery.controller == second_controller);
            CHECK(delivery.notification.target_ono == 77);
            CHECK(delivery.notification.emitter_ono == channel1_gain);
            CHECK(delivery.notification.context == std::vector<std::uint8_t>{0xca, 0xfe});
            Ocp1Reader data(delivery.notification.event_data, "event data");
            CHECK(data.member_id() == OcaPropertyId{4, 1});
            CHECK(data.f32() == -6.0F);
            CHECK(data.u8() == 1);  // CurrentChanged
            data.expect_end();
        }

        Ocp1Writer remove;
        remove.ono(channel1_gain).member_id({1, 1}).ono(77).member_id({1, 1});
        REQUIRE(device.call(second_controller, oca_subscription_manager_ono, {3, 2}, 2, remove.take())
                    .response.status == OcaStatus::ok);
        CHECK(device.call(channel1_gain, {4, 2}, 1, f32(-5.0F)).notifications.empty());
    }

    TEST_CASE("subscriptions end with the connection") {
        Device device;
        REQUIRE(device.call(second_controller, oca_subscription_manager_ono, {3, 1}, 5,
                            property_changed_subscription(channel1_delay))
                    .response.status == OcaStatus::ok);
        // A delay set changes DelayTime (4.1) and DelayValue (5.1).
        CHECK(device.call(channel1_delay, {4, 2}, 1, f32(0.001F)).notifications.size() == 2);
        device.model.disconnect(second_controller);
        CHECK(device.model.subscription_count() == 0);
        CHECK(device.call(channel1_delay, {4, 2}, 1, f32(0.002F)).notifications.empty());
    }

    TEST_CASE("unknown emitter is rejected") {
        Device device;
        CHECK(device.call(oca_subscription_manager_ono, {3, 1}, 5, property_changed_subscription(4095))
                  .response.status == OcaStatus::bad_ono);
    }

    TEST_CASE("set multiple applies every masked field") {
        Device device;
        Ocp1Writer all;
        all.u16(0x0f).f32(315.0F).u8(3).f32(1.4F).f32(-2.0F).f32(0.0F);
        REQUIRE(device.call(channel1_band1, {4, 11}, 6, all.take()).response.status == OcaStatus::ok);
        const auto band = device.state.snapshot().channels[0].bands[0];
        CHECK(band.freq_hz == doctest::Approx(315.0));
        CHECK(band.type == FilterKind::high_shelf);
        CHECK(band.q == doctest::Approx(1.4));
        CHECK(band.gain_db == doctest::Approx(-2.0));
    }

    TEST_CASE("set multiple with one bad field changes nothing") {
        Device device;
        const auto before = device.state.snapshot();
        Ocp1Writer bad_gain;
        bad_gain.u16(0x0d).f32(315.0F).u8(1).f32(1.4F).f32(-30.0F).f32(0.0F);  // -30 dB is below -15 dB
        CHECK(device.call(channel1_band1, {4, 11}, 6, bad_gain.take()).response.status ==
              OcaStatus::parameter_out_of_range);
        Ocp1Writer bad_shape;
        bad_shape.u16(0x03).f32(315.0F).u8(8).f32(1.4F).f32(0.0F).f32(0.0F);  // Notch is not served
        CHECK(device.call(channel1_band1, {4, 11}, 6, bad_shape.take()).response.status ==
              OcaStatus::parameter_out_of_range);
        CHECK(device.state.snapshot() == before);
    }

    TEST_CASE("refused parameter returns processing failed") {
        Device device;
        device.model.set_refused_parameters({"band_q", "/ch/2/gain_db"});
        CHECK(device.call(channel1_band1, {4, 6}, 1, f32(2.0F)).response.status == OcaStatus::processing_failed);
        CHECK(device.call(channel2_gain, {4, 2}, 1, f32(-1.0F)).response.status == OcaStatus::processing_failed);
        CHECK(device.call(channel1_gain, {4, 2}, 1, f32(-1.0F)).response.status == OcaStatus::ok);
        CHECK(std::get<double>(device.state.get({2, ParameterKind::gain_db, 0})) == 0.0);
        CHECK_THROWS_AS(device.model.set_refused_parameters({"volume"}), Error);
    }

    TEST_CASE("band enabled is worker enabled") {
        Device device;
        CHECK_FALSE(reader_of(device.call(channel1_band1, {2, 1}).response).boolean());
        REQUIRE(device.call(channel1_band1, {2, 2}, 1, {1}).response.status == OcaStatus::ok);
        CHECK(std::get<bool>(device.state.get({1, ParameterKind::band_enabled, 1})));
        CHECK(device.call(channel1_gain, {2, 2}, 1, {0}).response.status == OcaStatus::not_implemented);
    }

    TEST_CASE("initial state rounds to steps") {
        // The neutral state holds Q 0.707; the virtual-amp profile's Q step of 0.01 makes it 0.71.
        Device device;
        CHECK(device.state.snapshot().channels[0].bands[0].q == doctest::Approx(0.71).epsilon(1e-12));
    }

    TEST_CASE("AES70 profile keeps its object map") {
        const auto profile = io::read_device_profile(io::default_hardware_dir() / "aes70-mini-device.json");
        const auto layout = ocp1_device_layout(profile);
        REQUIRE(layout.channels.size() == 2);
        CHECK(layout.channels[1].gain == 20001);
        CHECK(layout.channels[1].bands == std::vector<OcaONo>{20011, 20012, 20013, 20014});
        CHECK_FALSE(layout.channels[1].polarity.has_value());
        CHECK(layout.channels[1].block == 20000);
        CHECK(layout.channels[1].roles.block == "Zone2");
    }
}
