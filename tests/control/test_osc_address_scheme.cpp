#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/control/osc/osc_control_settings.hpp"
#include "linetune/core/error.hpp"
#include "test_osc_support.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

using namespace linetune;
using namespace linetune::control;
using test::error_message;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

/// The virtual-amp profile with its "control" object replaced.
DeviceProfile profile_with_control(const std::string& control_json) {
    DeviceProfile profile = test::virtual_amp_profile();
    profile.control_json = control_json;
    return profile;
}

}  // namespace

TEST_SUITE("control") {

TEST_CASE("generic scheme addresses every parameter both ways") {
    const GenericOscAddressScheme scheme;
    const auto ids = all_parameters(neutral_amplifier_state(12, 16));
    std::vector<std::string> addresses;

    for (const ParameterId& id : ids) {
        const std::string address = scheme.address(id);
        CAPTURE(address);
        CHECK(scheme.parse_address(address) == id);
        addresses.push_back(address);
    }
    std::sort(addresses.begin(), addresses.end());
    CHECK(std::adjacent_find(addresses.begin(), addresses.end()) == addresses.end());
}

TEST_CASE("generic scheme spells the documented addresses") {
    const GenericOscAddressScheme scheme;

    CHECK(scheme.address({1, ParameterKind::gain_db, 0}) == "/ch/1/gain_db");
    CHECK(scheme.address({12, ParameterKind::delay_ms, 0}) == "/ch/12/delay_ms");
    CHECK(scheme.address({3, ParameterKind::mute, 0}) == "/ch/3/mute");
    CHECK(scheme.address({3, ParameterKind::polarity_inverted, 0}) == "/ch/3/polarity_inverted");
    CHECK(scheme.address({2, ParameterKind::band_enabled, 10}) == "/ch/2/eq/10/enabled");
    CHECK(scheme.address({2, ParameterKind::band_type, 1}) == "/ch/2/eq/1/type");
    CHECK(scheme.address({2, ParameterKind::band_freq_hz, 1}) == "/ch/2/eq/1/freq_hz");
    CHECK(scheme.address({2, ParameterKind::band_gain_db, 1}) == "/ch/2/eq/1/gain_db");
    CHECK(scheme.address({2, ParameterKind::band_q, 1}) == "/ch/2/eq/1/q");
}

TEST_CASE("generic scheme rejects addresses outside it") {
    const GenericOscAddressScheme scheme;
    for (const std::string address :
         {"", "ch/1/gain_db", "/ch/0/gain_db", "/ch/01/gain_db", "/ch/-1/gain_db", "/ch/+1/gain_db", "/ch/1x/gain_db",
          "/ch/99999/gain_db", "/ch/1/gain", "/ch/1/band_q", "/ch/1/eq/1/band_q", "/ch/1/eq/0/q", "/ch/1/eq/1",
          "/ch/1/eq/1/q/x", "/ch//gain_db", "/ch/1/gain_db/", "/x/1/gain_db", "/ch/*/gain_db", "/ch/1/eq/1/gain_db/"}) {
        CAPTURE(address);
        CHECK_FALSE(scheme.parse_address(address).has_value());
    }
}

TEST_CASE("generic scheme sends floats, 0/1 ints and filter names") {
    const GenericOscAddressScheme scheme;

    CHECK(scheme.encode_value({1, ParameterKind::gain_db, 0}, -3.5) == OscArgument{-3.5f});
    CHECK(scheme.encode_value({1, ParameterKind::mute, 0}, true) == OscArgument{std::int32_t{1}});
    CHECK(scheme.encode_value({1, ParameterKind::band_enabled, 1}, false) == OscArgument{std::int32_t{0}});
    CHECK(scheme.encode_value({1, ParameterKind::band_type, 1}, FilterKind::low_shelf) ==
          OscArgument{std::string("low_shelf")});
    CHECK(contains(error_message([&] { (void)scheme.encode_value({1, ParameterKind::mute, 0}, 1.0); }),
                   "wrong type"));
}

TEST_CASE("generic scheme accepts the argument types senders use") {
    const GenericOscAddressScheme scheme;
    const ParameterId gain{1, ParameterKind::gain_db, 0};
    const ParameterId mute{1, ParameterKind::mute, 0};
    const ParameterId type{1, ParameterKind::band_type, 1};
    using Arguments = std::vector<OscArgument>;

    CHECK(std::get<double>(scheme.decode_value(gain, Arguments{-3.0f})) == -3.0);
    CHECK(std::get<double>(scheme.decode_value(gain, Arguments{-3.25})) == -3.25);
    CHECK(std::get<double>(scheme.decode_value(gain, Arguments{std::int32_t{-3}})) == -3.0);
    CHECK(std::get<double>(scheme.decode_value(gain, Arguments{std::int64_t{-3}})) == -3.0);
    CHECK(std::get<bool>(scheme.decode_value(mute, Arguments{std::int32_t{1}})));
    CHECK_FALSE(std::get<bool>(scheme.decode_value(mute, Arguments{false})));
    CHECK(std::get<FilterKind>(scheme.decode_value(type, Arguments{OscSymbol{"high_pass"}})) == FilterKind::high_pass);
}

TEST_CASE("generic scheme rejects unusable arguments with the reason") {
    const GenericOscAddressScheme scheme;
    const ParameterId gain{1, ParameterKind::gain_db, 0};
    const ParameterId mute{1, ParameterKind::mute, 0};
    using Arguments = std::vector<OscArgument>;

    const std::vector<std::pair<std::string, std::string>> cases{
        {error_message([&] { (void)scheme.decode_value(gain, Arguments{}); }), "takes one number"},
        {error_message([&] { (void)scheme.decode_value(gain, Arguments{1.0f, 2.0f}); }), "not arguments ',ff'"},
        {error_message([&] { (void)scheme.decode_value(gain, Arguments{std::string("-3")}); }), "not arguments ',s'"},
        {error_message([&] { (void)scheme.decode_value(gain, Arguments{std::nanf("")}); }), "finite number"},
        {error_message([&] { (void)scheme.decode_value(mute, Arguments{std::int32_t{2}}); }), "takes 0 or 1, not 2"},
        {error_message([&] { (void)scheme.decode_value(mute, Arguments{1.0f}); }), "one int32 0 or 1"},
    };
    for (const auto& [message, reason] : cases) {
        CAPTURE(message);
        CHECK(contains(message, "/ch/1/"));
        CHECK(contains(message, reason));
    }
}

TEST_CASE("address scheme lookup knows generic and x32") {
    CHECK(make_osc_address_scheme("linetune-generic")->name() == "linetune-generic");
    CHECK(make_osc_address_scheme("x32")->name() == "x32");
    const std::string unknown = error_message([] { (void)make_osc_address_scheme("wing"); });
    CHECK(contains(unknown, "'wing' is unknown"));
    CHECK(contains(unknown, "'linetune-generic' and 'x32'"));
}

TEST_CASE("device value rules round to the step and check ranges") {
    ChannelLimits limits = test::virtual_amp_profile().limits;
    limits.eq.filter_types = {FilterKind::peaking};

    CHECK(std::get<double>(quantise_for_device(limits, {1, ParameterKind::gain_db, 0}, -3.06)) ==
          doctest::Approx(-3.1).epsilon(1e-12));
    CHECK(std::get<double>(quantise_for_device(limits, {1, ParameterKind::delay_ms, 0}, 0.011)) ==
          doctest::Approx(0.02).epsilon(1e-12));
    // The float32 of a limit (0.3f = 0.30000001) still counts as inside.
    CHECK(std::get<double>(quantise_for_device(limits, {1, ParameterKind::band_q, 1}, double{0.3f})) ==
          doctest::Approx(0.3).epsilon(1e-12));
    CHECK(contains(error_message([&] { (void)quantise_for_device(limits, {1, ParameterKind::band_q, 1}, 0.29); }),
                   "0.29 is below the minimum 0.3"));
    CHECK(contains(error_message([&] { (void)quantise_for_device(limits, {1, ParameterKind::delay_ms, 0}, -1.0); }),
                   "-1 ms is below the minimum 0 ms"));
    CHECK(contains(error_message([&] {
                       (void)quantise_for_device(limits, {1, ParameterKind::band_type, 1}, FilterKind::low_pass);
                   }),
                   "offers no 'low_pass' filter"));
}

TEST_CASE("osc control settings read the shipped profile") {
    const OscControlSettings settings = read_osc_control_settings(test::virtual_amp_profile());

    CHECK(settings.transport == "udp");
    CHECK(settings.address_scheme == "linetune-generic");
    CHECK(settings.reply_timeout == std::chrono::milliseconds(200));
    CHECK(settings.retries == 2);
    CHECK_FALSE(settings.verified_on_real_device);
    CHECK(uses_osc(test::virtual_amp_profile()));
}

TEST_CASE("osc control settings list every problem") {
    const std::string message = error_message([] {
        (void)read_osc_control_settings(profile_with_control(
            R"({"protocol":"osc","transport":"serial","address_scheme":"x99","reply_timeout_ms":0,"retries":11,)"
            R"("verified_on_real_device":"yes","port":9000})"));
    });
    CAPTURE(message);

    CHECK(contains(message, "profile 'virtual-amp':"));
    CHECK(contains(message, "control.port is not a known key"));
    CHECK(contains(message, "control.transport \"serial\""));
    CHECK(contains(message, "'x99' is unknown"));
    CHECK(contains(message, "control.reply_timeout_ms 0 must be a whole number from 1 to 60000 ms"));
    CHECK(contains(message, "control.retries 11 must be a whole number from 0 to 10"));
    CHECK(contains(message, "control.verified_on_real_device must be true or false"));
}

TEST_CASE("osc control settings need a control object") {
    CHECK(contains(error_message([] { (void)read_osc_control_settings(profile_with_control("")); }),
                   "has no \"control\" object"));
    CHECK(contains(error_message([] { (void)read_osc_control_settings(profile_with_control(R"({"protocol":"aes70"})")); }),
                   "control.protocol must be \"osc\""));
    CHECK_FALSE(uses_osc(profile_with_control(R"({"protocol":"aes70"})")));
    CHECK_FALSE(uses_osc(profile_with_control("")));
}

}
