#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
using linetune::test::error_message;

fs::path venues_dir() { return fs::path(LINETUNE_TEST_DATA_DIR) / "venues"; }

linetune::Venue load(const std::string& name) {
    return linetune::io::read_venue_file(venues_dir() / name, linetune::io::default_hardware_dir());
}

/// Message of loading a broken example venue, with the hardware folder it needs.
std::string load_error(const std::string& name, const fs::path& hardware_dir = linetune::io::default_hardware_dir()) {
    return error_message([&] { (void)linetune::io::read_venue_file(venues_dir() / name, hardware_dir); });
}

std::string head(const std::string& name) { return "venue '" + (venues_dir() / name).string() + "': "; }

const linetune::Microphone& find_mic(const linetune::Venue& venue, const std::string& name) {
    for (const auto& mic : venue.microphones) {
        if (mic.name == name) {
            return mic;
        }
    }
    FAIL("no microphone " << name);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("warehouse venue maps five positions to one zone") {
    const auto venue = load("warehouse.json");

    REQUIRE(venue.zones.size() == 1);
    REQUIRE(venue.microphones.size() == 5);
    const auto& zone = venue.zones.front();
    CHECK(zone.name == "main");
    CHECK(zone.max_boost_db == doctest::Approx(6.0));
    CHECK(zone.polarity_reference);

    const fs::path examples = fs::path(LINETUNE_TEST_DATA_DIR) / ".." / ".." / "docs" / "examples" / "warehouse";
    for (const auto* position : {"omni-7-4", "omni-8-14", "omni-15-10", "omni-25-12", "omni-35-10"}) {
        CAPTURE(position);
        const auto path = linetune::measurement_path(venue, "main", position, "/nonexistent");
        CHECK(fs::equivalent(path, examples / (std::string(position) + ".wav")));
        CHECK(linetune::measurement_channel(venue, "main", position) == std::optional<std::size_t>(1));
    }
    CHECK(find_mic(venue, "omni-35-10").zone_weights.at("main") == doctest::Approx(0.5));
}

TEST_CASE("warehouse limits narrow the EQ gain only") {
    const auto venue = load("warehouse.json");
    const auto& amplifier = linetune::amplifier_of(venue, venue.zones.front());

    CHECK(amplifier.profile.name == "generic-dsp");
    CHECK(amplifier.profile.limits.eq.gain_db.max == doctest::Approx(15.0));
    CHECK(amplifier.limits.eq.gain_db.max == doctest::Approx(6.0));
    CHECK(amplifier.limits.eq.gain_db.min == doctest::Approx(-15.0));
    CHECK(amplifier.limits.eq.max_bands == 10);
}

TEST_CASE("tilt target falls one dB per octave") {
    const auto venue = load("warehouse.json");

    CHECK(linetune::target_db(venue, 1000.0) == doctest::Approx(0.0).epsilon(1e-12));
    CHECK(linetune::target_db(venue, 2000.0) == doctest::Approx(-1.0).epsilon(1e-12));
    CHECK(linetune::target_db(venue, 250.0) == doctest::Approx(2.0).epsilon(1e-12));
}

TEST_CASE("zone delay bound is travel time plus latency") {
    const auto venue = load("warehouse.json");

    // 40 m at 18 °C plus the generic profile's 1 ms latency, well inside its 1000 ms delay line.
    const double expected_ms = 1000.0 * 40.0 / linetune::speed_of_sound_m_per_s(18.0) + 1.0;
    CHECK(linetune::max_zone_delay_ms(venue, venue.zones.front()) == doctest::Approx(expected_ms).epsilon(1e-12));
    CHECK(expected_ms == doctest::Approx(117.96).epsilon(1e-3));
}

TEST_CASE("festival venue applies system defaults") {
    const auto venue = load("festival.json");

    CHECK(linetune::find_zone(venue, "subs").max_boost_db == doctest::Approx(3.0));
    CHECK(linetune::find_zone(venue, "L-main").max_boost_db == doctest::Approx(6.0));
    CHECK(linetune::find_zone(venue, "L-main").precedence_ms == doctest::Approx(0.0));
    CHECK(linetune::find_zone(venue, "front-fill").precedence_ms == doctest::Approx(5.0));
    CHECK(linetune::find_zone(venue, "front-fill").level_offset_db == doctest::Approx(-3.0));
    CHECK(linetune::find_zone(venue, "tower-1").precedence_ms == doctest::Approx(10.0));
    CHECK(venue.humidity_percent == std::optional<double>(55.0));
    CHECK(linetune::find_zone(venue, "subs").averaging == linetune::SpatialAveraging::power);
    CHECK(linetune::find_zone(venue, "L-main").averaging == linetune::SpatialAveraging::quality_weighted);
    CHECK(linetune::target_db(venue, 63.0) == doctest::Approx(0.0));
    CHECK(linetune::target_db(venue, linetune::find_zone(venue, "front-fill"), 63.0) == doctest::Approx(-3.0));
}

TEST_CASE("festival venue reads the interface, control addresses and safety limits") {
    const auto venue = load("festival.json");

    CHECK(venue.audio_interface.sample_rate_hz == doctest::Approx(48000.0));
    REQUIRE(venue.audio_interface.loopback.has_value());
    CHECK(venue.audio_interface.loopback->output == 8);
    CHECK(venue.audio_interface.loopback->input == 8);
    // Zones without "output" feed the outputs in list order; tower-1 names its own.
    CHECK(linetune::find_zone(venue, "L-main").output == 1);
    CHECK(linetune::find_zone(venue, "front-fill").output == 3);
    CHECK(linetune::find_zone(venue, "tower-1").output == 7);
    CHECK(venue.amplifiers[0].host == "127.0.0.1");
    CHECK(venue.amplifiers[0].port == 47001);
    CHECK(venue.amplifiers[1].host.empty());
    CHECK(venue.safety.max_gain_increase_db == doctest::Approx(2.0));
    CHECK(venue.safety.delay_margin_ms == doctest::Approx(8.0));
    // Keys the file leaves out keep the documented defaults.
    CHECK(venue.safety.max_band_boost_db == doctest::Approx(6.0));
    CHECK(venue.safety.max_total_boost_db == doctest::Approx(6.0));
}

TEST_CASE("interface channels, control address and safety limits are checked") {
    CHECK(load_error("broken-interface-channels.json") ==
          head("broken-interface-channels.json") + "5 problems:\n"
          "  - safety: max_band_boost_db 30 dB is outside 0 to 24 dB; a wider limit would let a push harm drivers or ears\n"
          "  - amplifier 'sub-amp': 'host' is given without 'port'; add the control port (1 to 65535)\n"
          "  - zone 'front-fill': interface output 3 already feeds zone 'L-main'; give each zone its own \"output\"\n"
          "  - audio_interface: loopback output 2 also feeds zone 'R-main'; wire the loopback from an output of its own\n"
          "  - microphone 'foh': input 1 is the loopback input; give the microphone another input");
}

TEST_CASE("festival sub amplifier limits tighten every key") {
    const auto venue = load("festival.json");
    const auto& limits = linetune::amplifier_of(venue, linetune::find_zone(venue, "subs")).limits;

    CHECK(limits.eq.max_bands == 4);
    REQUIRE(limits.eq.filter_types.size() == 2);
    CHECK(limits.eq.offers(linetune::FilterKind::low_shelf));
    CHECK_FALSE(limits.eq.offers(linetune::FilterKind::high_pass));
    CHECK(limits.eq.freq_hz.min == doctest::Approx(20.0));
    CHECK(limits.eq.freq_hz.max == doctest::Approx(200.0));
    CHECK(limits.eq.q.max == doctest::Approx(5.0));
    CHECK(limits.eq.q.step == doctest::Approx(0.01));
    CHECK(limits.delay_ms.max == doctest::Approx(200.0));
    CHECK(limits.gain_db.max == doctest::Approx(6.0));

    // 120 m at 24 °C is about 347 ms, so the 200 ms limit decides.
    CHECK(linetune::max_zone_delay_ms(venue, linetune::find_zone(venue, "subs")) == doctest::Approx(200.0));
}

TEST_CASE("default measurement layout finds wav, txt or csv") {
    const auto venue = load("festival.json");
    const auto dir = linetune::test::scratch_dir("venue_measurement_layout");
    fs::create_directories(dir / "front-fill");
    linetune::test::write_file(dir / "front-fill" / "front.txt", "100 0\n");

    CHECK(linetune::measurement_path(venue, "front-fill", "front", dir) == dir / "front-fill" / "front.txt");
    CHECK(linetune::measurement_path(venue, "subs", "foh", dir) == dir / "subs" / "foh.wav");
    CHECK_FALSE(linetune::measurement_channel(venue, "subs", "foh").has_value());
}

TEST_CASE("curve target is read relative to the venue") {
    const auto venue = load("target-curve.json");

    CHECK(venue.target.kind == linetune::TargetCurve::Kind::curve);
    CHECK(linetune::target_db(venue, 50.0) == doctest::Approx(3.0));
    CHECK(linetune::target_db(venue, 1000.0) == doctest::Approx(0.0));
    CHECK(linetune::target_db(venue, 8000.0) == doctest::Approx(-2.0));
}

TEST_CASE("car venue loads eight Helix zones") {
    if (!linetune::test::shared_data_available()) {
        return;
    }
    const auto venue = load("passat-b8-front.json");

    REQUIRE(venue.zones.size() == 8);
    const char* names[] = {"sw", "w_L", "w_R", "m_L", "m_R", "tw_L", "tw_R", "c"};
    for (std::size_t i = 0; i < 8; ++i) {
        CAPTURE(names[i]);
        const auto& zone = linetune::find_zone(venue, names[i]);
        CHECK(zone.channel == i + 1);
        CHECK(fs::is_regular_file(linetune::measurement_path(venue, names[i], "mmm", "/nonexistent")));
    }
    const auto& helix = linetune::amplifier_of(venue, venue.zones.front());
    CHECK(helix.profile.limits.eq.max_bands == 30);
    CHECK(helix.profile.sample_rate_hz == doctest::Approx(96000.0));
    CHECK(linetune::find_zone(venue, "sw").max_boost_db == doctest::Approx(3.0));

    // The DRC target falls to −200 dB at 0 Hz but is 0 dB over the sub's band and −4 dB at 20 kHz.
    CHECK(linetune::target_db(venue, 20.0) == doctest::Approx(0.0));
    CHECK(linetune::target_db(venue, 70.0) == doctest::Approx(0.0));
    CHECK(linetune::target_db(venue, 20000.0) == doctest::Approx(-4.0));
}

TEST_CASE("zone without microphone is rejected") {
    CHECK(load_error("broken-zone-without-mic.json") ==
          head("broken-zone-without-mic.json") +
              "zone 'subs' has no microphone; give it a weight above 0 in a microphone's \"zones\"");
}

TEST_CASE("widened limit is rejected") {
    CHECK(load_error("broken-widened-limit.json") ==
          head("broken-widened-limit.json") +
              "amplifier 'amp-1': limits.eq.gain_db.max 20 dB widens the profile 'generic-dsp' limit 15 dB; "
              "limits may only narrow the profile, so use a value inside it or remove the key");
}

TEST_CASE("unknown key is rejected") {
    CHECK(load_error("broken-unknown-key.json") ==
          head("broken-unknown-key.json") +
              "zone 'L-main': unknown key 'level_ofset_db' (allowed: name, hang, system, amplifier, channel, "
              "fit_band_hz, level_offset_db, max_boost_db, precedence_ms, polarity_reference, averaging, output); check the spelling");
}

TEST_CASE("bad JSON names line and column") {
    // The column is where parsing stopped: the last character of the unexpected "target" key.
    CHECK(load_error("broken-bad-json.json") ==
          head("broken-bad-json.json") +
              "invalid JSON at line 4, column 10: syntax error while parsing object - unexpected string literal; "
              "expected '}'; fix the syntax and load the file again");
}

TEST_CASE("missing profile is rejected") {
    const auto hardware = linetune::io::default_hardware_dir();
    CHECK(load_error("broken-missing-profile.json") ==
          head("broken-missing-profile.json") + "amplifier 'amp-1': profile 'no-such-amp' not found: no file '" +
              (hardware / "no-such-amp.json").string() + "'; use a profile from that folder or add one");
}

TEST_CASE("duplicate channel is rejected") {
    CHECK(load_error("broken-duplicate-channel.json") ==
          head("broken-duplicate-channel.json") +
              "zone 'subs': channel 1 of amplifier 'amp-1' is already used by zone 'L-main'; "
              "give each zone its own channel");
}

TEST_CASE("unknown averaging method is rejected") {
    CHECK(load_error("broken-unknown-averaging.json") ==
          head("broken-unknown-averaging.json") +
              "zone 'main': averaging 'median' is not one of quality_weighted, power, decibel");
}

TEST_CASE("hang spanning two systems is rejected") {
    CHECK(load_error("broken-hang-across-systems.json") ==
          head("broken-hang-across-systems.json") +
              "hang 'L' has zone 'L-main' in system 'mains' and zone 'front-fill' in system 'fills'; a hang is "
              "one array and belongs to one system: give the zones separate hangs");
}

TEST_CASE("fit band above Nyquist is rejected") {
    CHECK(load_error("broken-fit-band-above-nyquist.json") ==
          head("broken-fit-band-above-nyquist.json") +
              "zone 'L-main': fit_band_hz [100, 30000] reaches the Nyquist frequency 24000 Hz of profile "
              "'generic-dsp' (48000 Hz sample rate); lower the band's top");
}

TEST_CASE("missing target curve file is rejected") {
    CHECK(load_error("broken-missing-target-curve.json") ==
          head("broken-missing-target-curve.json") + "target: curve file 'targets/house.txt' not found (looked for '" +
              (venues_dir() / "targets/house.txt").string() + "'); give a path relative to the venue file");
}

TEST_CASE("profile without bands is rejected") {
    const auto hardware = venues_dir() / "hardware";
    CHECK(load_error("broken-profile-without-bands.json", hardware) ==
          head("broken-profile-without-bands.json") + "amplifier 'amp-1': profile '" +
              (hardware / "no-bands.json").string() +
              "': eq.max_bands is 0, so linetune could set no EQ band; give the number of bands linetune may use "
              "(at least 1)");
}

TEST_CASE("target curve must cover every fit band") {
    const auto message = load_error("broken-target-outside-band.json");
    CHECK(message == head("broken-target-outside-band.json") + "2 problems:\n"
                         "  - zone 'L-main': target curve 'narrow.txt' covers 200 to 5000 Hz, not the whole fit band "
                         "60 to 16000 Hz; extend the curve or narrow the band\n"
                         "  - zone 'subs': target curve 'narrow.txt' covers 200 to 5000 Hz, not the whole fit band "
                         "30 to 100 Hz; extend the curve or narrow the band");
}

TEST_CASE("every problem of a venue is listed") {
    const auto message = load_error("broken-several-problems.json");
    CHECK(message == head("broken-several-problems.json") + "3 problems:\n"
                         "  - max_distance_m -5 m is outside 0 to 1000 m; give the largest source-to-listener "
                         "distance in metres\n"
                         "  - zone 'subs': channel 9 exceeds the 8 channels of profile 'generic-dsp'; use a channel "
                         "from 1 to 8\n"
                         "  - microphone 'foh': zones: zone 'stage' is not in \"zones\"; fix the name");
}

TEST_CASE("venue errors are configuration errors") {
    try {
        (void)load("broken-widened-limit.json");
        FAIL("no error");
    } catch (const linetune::Error& error) {
        CHECK(error.kind() == linetune::ErrorKind::configuration);
        CHECK(linetune::exit_code_for(error.kind()) == 2);
    }
}

TEST_CASE("target deviating over 30 dB in a band is rejected") {
    const auto dir = linetune::test::scratch_dir("venue_steep_target");
    const auto venue_path = linetune::test::write_file(dir / "steep.json", R"({
      "name": "steep", "max_distance_m": 10,
      "target": {"type": "tilt", "tilt_db_per_octave": -8, "pivot_hz": 1000},
      "amplifiers": [{"name": "amp", "profile": "generic-dsp"}],
      "zones": [{"name": "full", "system": "mains", "amplifier": "amp", "channel": 1, "fit_band_hz": [20, 20000]}],
      "microphones": [{"name": "m", "input": 1, "zones": {"full": 1}}]
    })");

    // −8 dB/octave over the 10 octaves from 20 Hz to 20 kHz spans about 80 dB, so both ends sit
    // about 40 dB from the mean of the log-spaced check grid.
    const auto message = error_message([&] { (void)linetune::io::read_venue_file(venue_path, linetune::io::default_hardware_dir()); });
    CHECK(message.find("zone 'full': the target deviates ") != std::string::npos);
    CHECK(message.find("more than ±30 dB; use a gentler target or a narrower band") != std::string::npos);
}

TEST_CASE("hardware folder follows the environment override") {
    if (std::getenv("LINETUNE_HARDWARE_DIR") != nullptr) {
        MESSAGE("skipped: LINETUNE_HARDWARE_DIR is already set in this environment");
        return;
    }
    const auto built_in = linetune::io::default_hardware_dir();
    CHECK(fs::is_regular_file(built_in / "generic-dsp.json"));

    setenv("LINETUNE_HARDWARE_DIR", "/tmp/linetune-profiles", 1);
    CHECK(linetune::io::default_hardware_dir() == fs::path("/tmp/linetune-profiles"));
    unsetenv("LINETUNE_HARDWARE_DIR");
    CHECK(linetune::io::default_hardware_dir() == built_in);
}

TEST_CASE("venue path that is a folder is rejected") {
    const auto dir = linetune::test::scratch_dir("venue_folder");
    const auto message = error_message([&] { (void)linetune::io::read_venue_file(dir, linetune::io::default_hardware_dir()); });
    CHECK(message.find("'" + dir.string() + "'") != std::string::npos);
    CHECK(message.find("is a folder, not a file") != std::string::npos);
}

TEST_CASE("venue number beyond double range names its key") {
    const auto dir = linetune::test::scratch_dir("venue_overflow");
    const auto venue_path = linetune::test::write_file(dir / "overflow.json", R"({
      "name": "overflow", "max_distance_m": 1e999,
      "amplifiers": [{"name": "amp", "profile": "generic-dsp"}],
      "zones": [{"name": "full", "system": "mains", "amplifier": "amp", "channel": 1}],
      "microphones": [{"name": "m", "input": 1, "zones": {"full": 1}}]
    })");
    std::string message;
    auto kind = linetune::ErrorKind::input;
    try {
        (void)linetune::io::read_venue_file(venue_path, linetune::io::default_hardware_dir());
    } catch (const linetune::Error& error) {
        message = error.what();
        kind = error.kind();
    }
    CHECK(kind == linetune::ErrorKind::configuration);
    CHECK(message.find(venue_path.string()) != std::string::npos);
    CHECK(message.find("in the value of 'max_distance_m': number overflow") != std::string::npos);
}

// ---- the "system" object: subs-to-mains alignment, hang coupling, level shading ----------------

/// Path of a two-zone venue (mains and subs, two mics) with `system` as its "system" object
/// (omitted when empty), written to the test's scratch folder.
fs::path system_venue(const std::string& test_name, const std::string& system) {
    const auto dir = linetune::test::scratch_dir(test_name);
    std::string text = R"({
      "name": "system-venue", "max_distance_m": 40,
      "target": {"type": "tilt", "tilt_db_per_octave": -1.0, "pivot_hz": 1000},
      "amplifiers": [{"name": "amp", "profile": "generic-dsp"}],
      "zones": [{"name": "L", "hang": "L", "system": "mains", "amplifier": "amp", "channel": 1, "fit_band_hz": [60, 16000]},
                {"name": "subs", "system": "subs", "amplifier": "amp", "channel": 2, "fit_band_hz": [30, 120]}],
      "microphones": [{"name": "foh", "input": 1, "zones": {"L": 1, "subs": 1}},
                      {"name": "rear", "input": 2, "zones": {"L": 1}}])";
    if (!system.empty()) {
        text += ",\n      \"system\": " + system;
    }
    text += "\n    }";
    return linetune::test::write_file(dir / "venue.json", text);
}

linetune::Venue load_system_venue(const std::string& test_name, const std::string& system) {
    return linetune::io::read_venue_file(system_venue(test_name, system), linetune::io::default_hardware_dir());
}

std::string system_venue_error(const std::string& test_name, const std::string& system) {
    return error_message([&] { (void)load_system_venue(test_name, system); });
}

TEST_CASE("venue without system object gets the system defaults") {
    const auto venue = load_system_venue("system_defaults", "");
    CHECK(venue.system.alignment_mics.empty());
    CHECK_FALSE(venue.system.crossover_hz.has_value());
    CHECK(venue.system.coupling_below_hz == doctest::Approx(200.0));
    CHECK_FALSE(venue.system.level_drop_db_per_doubling.has_value());
}

TEST_CASE("system object reads every field") {
    const auto venue = load_system_venue(
        "system_fields",
        R"({"alignment_mics": ["foh", "rear"], "crossover_hz": 90, "coupling_below_hz": 160, "level_drop_db_per_doubling": 3})");
    REQUIRE(venue.system.alignment_mics.size() == 2);
    CHECK(venue.system.alignment_mics[0] == "foh");
    CHECK(venue.system.alignment_mics[1] == "rear");
    REQUIRE(venue.system.crossover_hz.has_value());
    CHECK(*venue.system.crossover_hz == doctest::Approx(90.0));
    CHECK(venue.system.coupling_below_hz == doctest::Approx(160.0));
    REQUIRE(venue.system.level_drop_db_per_doubling.has_value());
    CHECK(*venue.system.level_drop_db_per_doubling == doctest::Approx(3.0));
}

TEST_CASE("system limits are accepted at their edges") {
    const auto low = load_system_venue("system_edges_low",
                                       R"({"crossover_hz": 20, "coupling_below_hz": 0, "level_drop_db_per_doubling": 0})");
    CHECK(*low.system.crossover_hz == doctest::Approx(20.0));
    CHECK(low.system.coupling_below_hz == 0.0);
    CHECK(*low.system.level_drop_db_per_doubling == 0.0);
    const auto high = load_system_venue("system_edges_high",
                                        R"({"crossover_hz": 500, "coupling_below_hz": 1000, "level_drop_db_per_doubling": 12})");
    CHECK(*high.system.crossover_hz == doctest::Approx(500.0));
    CHECK(high.system.coupling_below_hz == doctest::Approx(1000.0));
    CHECK(*high.system.level_drop_db_per_doubling == doctest::Approx(12.0));
}

TEST_CASE("alignment mic that is not a venue mic is rejected") {
    const auto message = system_venue_error("system_unknown_mic", R"({"alignment_mics": ["foh", "stage"]})");
    CHECK(message.find("alignment_mics: \"stage\" is not a microphone of the venue") != std::string::npos);
    CHECK(message.find("\"foh\"") == std::string::npos);
}

TEST_CASE("alignment mic that is not a string is rejected") {
    const auto message = system_venue_error("system_mic_number", R"({"alignment_mics": [3]})");
    CHECK(message.find("alignment_mics: 3 is not a microphone of the venue") != std::string::npos);
}

TEST_CASE("crossover outside 20 to 500 Hz is rejected") {
    for (const char* value : {"19", "501"}) {
        CAPTURE(value);
        const auto message = system_venue_error("system_crossover", std::string(R"({"crossover_hz": )") + value + "}");
        CHECK(message.find("crossover_hz " + std::string(value) + " Hz is outside 20 Hz to 500 Hz") != std::string::npos);
        CHECK(message.find("give the frequency where subs and mains meet") != std::string::npos);
    }
}

TEST_CASE("coupling frequency outside 0 to 1000 Hz is rejected") {
    for (const char* value : {"-1", "1001"}) {
        CAPTURE(value);
        const auto message = system_venue_error("system_coupling", std::string(R"({"coupling_below_hz": )") + value + "}");
        CHECK(message.find("coupling_below_hz " + std::string(value) + " Hz is outside 0 to 1000 Hz") != std::string::npos);
        CHECK(message.find("0 turns the coupling off") != std::string::npos);
    }
}

TEST_CASE("level drop outside 0 to 12 dB is rejected") {
    for (const char* value : {"-0.5", "12.5"}) {
        CAPTURE(value);
        const auto message =
            system_venue_error("system_level_drop", std::string(R"({"level_drop_db_per_doubling": )") + value + "}");
        CHECK(message.find("level_drop_db_per_doubling " + std::string(value) + " dB is outside 0 to 12 dB") !=
              std::string::npos);
    }
}

TEST_CASE("unknown system key is rejected with the allowed keys") {
    const auto message = system_venue_error("system_unknown_key", R"({"crossover": 90})");
    CHECK(message.find("unknown key 'crossover'") != std::string::npos);
    CHECK(message.find("alignment_mics, crossover_hz, coupling_below_hz, level_drop_db_per_doubling") != std::string::npos);
}

TEST_CASE("system field of the wrong type is a configuration error") {
    const auto path = system_venue("system_wrong_type", R"({"crossover_hz": "90 Hz"})");
    auto kind = linetune::ErrorKind::input;
    std::string message;
    try {
        (void)linetune::io::read_venue_file(path, linetune::io::default_hardware_dir());
    } catch (const linetune::Error& error) {
        kind = error.kind();
        message = error.what();
    }
    CHECK(kind == linetune::ErrorKind::configuration);
    CHECK(message.find("crossover_hz") != std::string::npos);
}

TEST_CASE("every system problem is listed at once") {
    const auto message = system_venue_error(
        "system_problems", R"({"alignment_mics": ["nowhere"], "crossover_hz": 5, "level_drop_db_per_doubling": 20})");
    CHECK(message.find("\"nowhere\"") != std::string::npos);
    CHECK(message.find("crossover_hz 5 Hz") != std::string::npos);
    CHECK(message.find("level_drop_db_per_doubling 20 dB") != std::string::npos);
}

}  // TEST_SUITE
