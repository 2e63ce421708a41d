#include "linetune/correction/level_shading.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

// Level shading to a target that falls with distance, on levels that follow the inverse-square
// law from point sources (−6.02 dB per doubling), as the simulated rig's direct sound does.

namespace {

using namespace linetune;

// Gains and deviations are arithmetic on given levels; this only absorbs rounding.
constexpr double level_tolerance_db = 1e-9;

double free_field_level_db(double level_at_1m_db, double distance_m) {
    return level_at_1m_db - 20.0 * std::log10(distance_m);
}

correction::ShadingZone zone_at(const std::string& name, const std::string& system, double level_at_1m_db,
                                std::vector<double> distances_m) {
    correction::ShadingZone zone;
    zone.zone = name;
    zone.system = system;
    for (std::size_t i = 0; i < distances_m.size(); ++i) {
        zone.mics.push_back({name + "-" + std::to_string(i), free_field_level_db(level_at_1m_db, distances_m[i]),
                             distances_m[i], 1.0});
    }
    return zone;
}

}  // namespace

TEST_SUITE("level shading") {

TEST_CASE("level shading at 6 dB per doubling leaves free-field levels on target") {
    const std::vector<correction::ShadingZone> zones{zone_at("near", "mains", 90.0, {5.0, 10.0}),
                                                     zone_at("far", "mains", 100.0, {20.0, 40.0})};
    correction::ShadingTarget target;
    target.drop_db_per_doubling = 20.0 * std::log10(2.0);
    const auto shading = correction::shade_levels(zones, target);
    // The far zone is 10 dB louder at 1 m. With a target that falls as fast as free field, it must
    // come down 5 dB and the near zone up 5 dB, which puts every mic exactly on target.
    CHECK(shading.gain_db.at("near") == doctest::Approx(5.0).epsilon(level_tolerance_db));
    CHECK(shading.gain_db.at("far") == doctest::Approx(-5.0).epsilon(level_tolerance_db));
    for (const auto& mic : shading.mics) {
        CAPTURE(mic.mic);
        CHECK(std::fabs(mic.deviation_db) < level_tolerance_db);
    }
}

TEST_CASE("level shading reports the deviation a single gain cannot remove") {
    const std::vector<correction::ShadingZone> zones{zone_at("long", "mains", 100.0, {20.0, 40.0})};
    correction::ShadingTarget target;
    target.drop_db_per_doubling = 3.0;
    const auto shading = correction::shade_levels(zones, target);
    REQUIRE(shading.mics.size() == 2);
    // Free field drops 6.02 dB from 20 to 40 m, the target 3 dB: ±(6.0206 − 3)/2 dB around it.
    CHECK(shading.mics[0].deviation_db == doctest::Approx(+1.5103).epsilon(1e-4));
    CHECK(shading.mics[1].deviation_db == doctest::Approx(-1.5103).epsilon(1e-4));
    CHECK(shading.mics[0].target_db - shading.mics[1].target_db == doctest::Approx(3.0));
}

TEST_CASE("level shading follows each zone's level offset") {
    auto fill = zone_at("fill", "fills", 80.0, {4.0});
    fill.level_offset_db = -4.0;
    const std::vector<correction::ShadingZone> zones{zone_at("main", "mains", 100.0, {16.0}), fill};
    correction::ShadingTarget target;
    target.drop_db_per_doubling = 0.0;
    const auto shading = correction::shade_levels(zones, target);
    CHECK(shading.gain_db.at("main") == doctest::Approx(0.0).epsilon(level_tolerance_db));
    // Main at 16 m: 75.92 dB. The fill must sit 4 dB under it at its own mic.
    CHECK(shading.mics[1].level_db == doctest::Approx(free_field_level_db(100.0, 16.0) - 4.0));
    CHECK(std::fabs(shading.mics[1].deviation_db) < level_tolerance_db);
}

TEST_CASE("level shading rejects a drop beyond 12 dB and a zero distance") {
    const std::vector<correction::ShadingZone> zones{zone_at("main", "mains", 100.0, {16.0})};
    correction::ShadingTarget target;
    target.drop_db_per_doubling = 13.0;
    CHECK(test::error_message([&] { (void)correction::shade_levels(zones, target); }).find("outside 0 to 12 dB") !=
          std::string::npos);
    auto broken = zones;
    broken[0].mics[0].distance_m = 0.0;
    CHECK(test::error_message([&] { (void)correction::shade_levels(broken, {}); }).find("distances and weights") !=
          std::string::npos);
}

}
