#include "linetune/core/error.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
using linetune::test::error_message;

linetune::DeviceProfile load_shipped(const std::string& name) {
    return linetune::io::read_device_profile(linetune::io::default_hardware_dir() / (name + ".json"));
}

/// A valid profile body; tests replace one piece of it to break it.
const std::string valid_profile = R"({
  "name": "test-amp",
  "description": "test amplifier",
  "verified_against": "unverified",
  "channels": 4,
  "sample_rate_hz": 48000,
  "latency_ms": 1.5,
  "eq": {
    "max_bands": 6,
    "filter_types": ["peaking", "high_pass"],
    "freq_hz": {"min": 20, "max": 20000, "step": 0},
    "gain_db": {"min": -12, "max": 12, "step": 0.5},
    "q": {"min": 0.5, "max": 8, "step": 0.1}
  },
  "delay_ms": {"max": 50, "step": 0.01},
  "gain_db": {"min": -30, "max": 6, "step": 0.5},
  "control": {"protocol": "osc", "port": 9000}
})";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("shipped profiles load and match their file names") {
    std::size_t count = 0;
    for (const auto& entry : fs::directory_iterator(linetune::io::default_hardware_dir())) {
        if (entry.path().extension() != ".json") {
            continue;
        }
        CAPTURE(entry.path().string());
        const auto profile = linetune::io::read_device_profile(entry.path());
        CHECK(profile.name == entry.path().stem().string());
        CHECK_FALSE(profile.verified_against.empty());
        ++count;
    }
    CHECK(count >= 2);
}

TEST_CASE("generic profile has its documented limits") {
    const auto profile = load_shipped("generic-dsp");

    CHECK(profile.channel_count == 8);
    CHECK(profile.sample_rate_hz == doctest::Approx(48000.0));
    CHECK(profile.limits.eq.max_bands == 10);
    CHECK(profile.limits.eq.filter_types.size() == 5);
    CHECK(profile.limits.eq.freq_hz.min == doctest::Approx(20.0));
    CHECK(profile.limits.eq.freq_hz.max == doctest::Approx(20000.0));
    CHECK(profile.limits.eq.gain_db.min == doctest::Approx(-15.0));
    CHECK(profile.limits.eq.gain_db.max == doctest::Approx(15.0));
    CHECK(profile.limits.eq.q.min == doctest::Approx(0.3));
    CHECK(profile.limits.eq.q.max == doctest::Approx(10.0));
    CHECK(profile.limits.delay_ms.max == doctest::Approx(1000.0));
}

TEST_CASE("Helix profile carries the measured facts") {
    const auto profile = load_shipped("helix-dsp-ultra-s");

    CHECK(profile.limits.eq.max_bands == 30);
    CHECK(profile.sample_rate_hz == doctest::Approx(96000.0));
    CHECK(profile.limits.delay_ms.max == doctest::Approx(20.82));
    CHECK(profile.limits.eq.offers(linetune::FilterKind::peaking));
    CHECK(profile.limits.eq.offers(linetune::FilterKind::low_shelf));
    CHECK(profile.limits.eq.offers(linetune::FilterKind::high_shelf));
    CHECK_FALSE(profile.limits.eq.offers(linetune::FilterKind::high_pass));
    CHECK(profile.limits.eq.gain_db.max >= 12.0);
}

TEST_CASE("control object is kept as raw JSON") {
    const auto dir = linetune::test::scratch_dir("profile_control");
    const auto path = linetune::test::write_file(dir / "test-amp.json", valid_profile);
    const auto profile = linetune::io::read_device_profile(path);

    CHECK(profile.control_json == R"({"port":9000,"protocol":"osc"})");
    CHECK(profile.latency_ms == doctest::Approx(1.5));
    CHECK(profile.limits.eq.filter_types.size() == 2);
    CHECK(profile.limits.eq.gain_db.step == doctest::Approx(0.5));
}

TEST_CASE("profile name must match its file") {
    const auto dir = linetune::test::scratch_dir("profile_name");
    const auto path = linetune::test::write_file(dir / "other-name.json", valid_profile);

    CHECK(error_message([&] { (void)linetune::io::read_device_profile(path); }) ==
          "profile '" + path.string() +
              "': name 'test-amp' differs from the file name 'other-name'; make them equal, because venues name a "
              "profile by its file name");
}

TEST_CASE("every profile problem is listed") {
    const auto dir = linetune::test::scratch_dir("profile_problems");
    auto text = replaced(valid_profile, R"("max": 20000, "step": 0)", R"("max": 30000, "step": 0)");
    text = replaced(text, R"("filter_types": ["peaking", "high_pass"])", R"("filter_types": ["peaking", "bell"])");
    text = replaced(text, R"("delay_ms": {"max": 50, "step": 0.01})", R"("delay_ms": {"max": 50, "stepp": 0.01})");
    const auto path = linetune::test::write_file(dir / "test-amp.json", text);

    CHECK(error_message([&] { (void)linetune::io::read_device_profile(path); }) ==
          "profile '" + path.string() + "': 4 problems:\n"
          "  - eq.filter_types entry \"bell\" is not one of peaking, low_shelf, high_shelf, high_pass, low_pass\n"
          "  - eq.freq_hz.max 30000 Hz is above the Nyquist frequency 24000 Hz of sample_rate_hz 48000 Hz; lower it\n"
          "  - unknown key 'stepp' (allowed: max, step); check the spelling\n"
          "  - missing key 'step'; add it");
}

TEST_CASE("profile range with min above max is rejected") {
    const auto dir = linetune::test::scratch_dir("profile_range");
    const auto text = replaced(valid_profile, R"("q": {"min": 0.5, "max": 8, "step": 0.1})",
                               R"("q": {"min": 8, "max": 0.5, "step": 0.1})");
    const auto path = linetune::test::write_file(dir / "test-amp.json", text);

    CHECK(error_message([&] { (void)linetune::io::read_device_profile(path); }) ==
          "profile '" + path.string() + "': q.min 8 must be below q.max 0.5; swap or fix them");
}

TEST_CASE("profile syntax error names line and column") {
    const auto dir = linetune::test::scratch_dir("profile_syntax");
    const auto text = replaced(valid_profile, R"("channels": 4,)", R"("channels": 4,,)");
    const auto path = linetune::test::write_file(dir / "test-amp.json", text);

    CHECK(error_message([&] { (void)linetune::io::read_device_profile(path); }) ==
          "profile '" + path.string() +
              "': invalid JSON at line 5, column 17: syntax error while parsing object key - unexpected ','; "
              "expected string literal; fix the syntax and load the file again");
}

TEST_CASE("missing profile file is a configuration error") {
    try {
        (void)linetune::io::read_device_profile("/nonexistent/none.json");
        FAIL("no error");
    } catch (const linetune::Error& error) {
        CHECK(error.kind() == linetune::ErrorKind::configuration);
        CHECK(std::string(error.what()) ==
              "profile '/nonexistent/none.json': file not found or not readable; check the path");
    }
}

TEST_CASE("filter kind names round-trip") {
    for (const auto kind : {linetune::FilterKind::peaking, linetune::FilterKind::low_shelf,
                            linetune::FilterKind::high_shelf, linetune::FilterKind::high_pass,
                            linetune::FilterKind::low_pass}) {
        CHECK(linetune::parse_filter_kind(linetune::to_string(kind)) == kind);
    }
    CHECK_FALSE(linetune::parse_filter_kind("bell").has_value());
}

}  // TEST_SUITE
