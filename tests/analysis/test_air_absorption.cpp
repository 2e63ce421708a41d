#include "linetune/analysis/air_absorption.hpp"
#include "linetune/core/error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using linetune::Error;
using linetune::ErrorKind;
using linetune::analysis::air_absorption_change_curve_db;
using linetune::analysis::air_absorption_curve_db;
using linetune::analysis::air_absorption_db;
using linetune::analysis::air_absorption_db_per_m;
using linetune::analysis::AtmosphericConditions;
using linetune::analysis::validate;

namespace {

// The tables of ISO 9613-1 hold values at the exact midband frequencies of the base-10 series,
// f = 1000 · 10^(k/10) Hz, not at the nominal band names (63 Hz is really 63.096 Hz).
double exact_midband_hz(int tenth_decade_index) {
    return 1000.0 * std::pow(10.0, tenth_decade_index / 10.0);
}

struct PublishedCoefficient {
    double temperature_c;
    double humidity_percent;
    int tenth_decade_index;  // exact midband frequency index k, 0 is 1 kHz
    double alpha_db_per_km;
};

// Pure-tone attenuation coefficients of ISO 9613-1:1993 Table 1 at 101.325 kPa, in dB/km, given
// there to three significant figures. k: -13 is 50 Hz, -10 100 Hz, -9 125 Hz, -8 160 Hz,
// -7 200 Hz, 0 1 kHz, 6 4 kHz, 8 6.3 kHz, 9 8 kHz, 10 10 kHz.
const std::vector<PublishedCoefficient> iso_9613_1_table_1 = {
    {20.0, 10.0, -13, 0.270},  {20.0, 100.0, -13, 0.0403}, {20.0, 80.0, -13, 0.0501},
    {20.0, 10.0, -10, 0.622},  {20.0, 50.0, -10, 0.294},   {20.0, 100.0, -10, 0.158},
    {20.0, 10.0, -9, 0.776},   {20.0, 50.0, -9, 0.445},    {20.0, 70.0, -9, 0.339},
    {20.0, 100.0, -9, 0.247},  {20.0, 10.0, -8, 0.965},    {20.0, 70.0, -8, 0.518},
    {20.0, 10.0, -7, 1.22},    {20.0, 70.0, -7, 0.776},    {20.0, 100.0, -7, 0.591},
    {20.0, 10.0, 0, 14.1},     {20.0, 70.0, 0, 4.98},      {20.0, 80.0, 0, 5.15},
    {20.0, 100.0, 0, 5.42},    {20.0, 10.0, 6, 109.0},     {20.0, 100.0, 6, 19.4},
    {20.0, 15.0, 8, 175.0},    {20.0, 80.0, 10, 105.0},
    {10.0, 10.0, -9, 0.788},   {10.0, 70.0, -9, 0.411},    {10.0, 10.0, 0, 21.6},
    {10.0, 20.0, 0, 11.0},     {10.0, 50.0, 0, 4.26},      {10.0, 70.0, 0, 3.66},
    {10.0, 100.0, 0, 3.55},    {10.0, 10.0, 6, 57.3},      {10.0, 70.0, 6, 32.8},
    {10.0, 100.0, 6, 23.5},    {10.0, 10.0, 9, 69.4},
    {30.0, 10.0, -9, 0.958},   {30.0, 70.0, -9, 0.256},    {30.0, 10.0, 0, 8.67},
    {30.0, 50.0, 0, 7.03},     {30.0, 70.0, 0, 7.41},      {30.0, 100.0, 0, 7.17},
    {30.0, 10.0, 6, 96.0},     {30.0, 70.0, 6, 23.1},      {30.0, 100.0, 6, 24.0},
};

// Three significant figures round by at most 0.5 %, and 1 % leaves room for that and little
// more. The largest deviation of this implementation from these rows is 0.31 %.
constexpr double table_1_relative_tolerance = 0.01;

struct OctaveBandRow {
    double temperature_c;
    double humidity_percent;
    std::vector<double> alpha_db_per_km;  // octave bands 63 Hz to 8 kHz
};

// ISO 9613-2:1996 Table 2: the ISO 9613-1 coefficient at the exact octave midbands
// 1000 · 10^(3k/10) Hz, k = -4 … 3, at 101.325 kPa, in dB/km rounded to 0.1 dB/km (to three
// significant figures above 100 dB/km).
const std::vector<OctaveBandRow> iso_9613_2_table_2 = {
    {10.0, 70.0, {0.1, 0.4, 1.0, 1.9, 3.7, 9.7, 32.8, 117.0}},
    {20.0, 70.0, {0.1, 0.3, 1.1, 2.8, 5.0, 9.0, 22.9, 76.6}},
    {30.0, 70.0, {0.1, 0.3, 1.0, 3.1, 7.4, 12.7, 23.1, 59.3}},
    {15.0, 20.0, {0.3, 0.6, 1.2, 2.7, 8.2, 28.2, 88.8, 202.0}},
    {15.0, 50.0, {0.1, 0.5, 1.2, 2.2, 4.2, 10.8, 36.2, 129.0}},
    {15.0, 80.0, {0.1, 0.3, 1.1, 2.4, 4.1, 8.3, 23.7, 82.8}},
};

// Half the table's last digit (0.05 dB/km) plus 1 %: the rounding alone, with the 1 % allowed
// for the three-significant-figure entries above 100 dB/km.
constexpr double table_2_absolute_tolerance_db_per_km = 0.05;
constexpr double table_2_relative_tolerance = 0.01;

AtmosphericConditions conditions_at(double temperature_c, double humidity_percent,
                                    double pressure_kpa = 101.325) {
    AtmosphericConditions conditions;
    conditions.temperature_c = temperature_c;
    conditions.humidity_percent = humidity_percent;
    conditions.pressure_kpa = pressure_kpa;
    return conditions;
}

template <typename Call>
std::optional<Error> error_from(Call call) {
    try {
        call();
    } catch (const Error& error) {
        return error;
    }
    return std::nullopt;
}

}  // namespace

TEST_SUITE("air_absorption") {
    TEST_CASE("alpha reproduces ISO 9613-1 Table 1 within 1 %") {
        for (const auto& row : iso_9613_1_table_1) {
            const double freq_hz = exact_midband_hz(row.tenth_decade_index);
            const double alpha_db_per_km =
                1000.0 * air_absorption_db_per_m(
                             freq_hz, conditions_at(row.temperature_c, row.humidity_percent));
            CAPTURE(row.temperature_c);
            CAPTURE(row.humidity_percent);
            CAPTURE(freq_hz);
            CAPTURE(row.alpha_db_per_km);
            CAPTURE(alpha_db_per_km);
            CHECK(std::abs(alpha_db_per_km / row.alpha_db_per_km - 1.0) <=
                  table_1_relative_tolerance);
        }
    }

    TEST_CASE("alpha reproduces ISO 9613-2 octave bands within rounding") {
        for (const auto& row : iso_9613_2_table_2) {
            const auto conditions = conditions_at(row.temperature_c, row.humidity_percent);
            for (std::size_t band = 0; band < row.alpha_db_per_km.size(); ++band) {
                const double freq_hz = exact_midband_hz(3 * (static_cast<int>(band) - 4));
                const double table_db_per_km = row.alpha_db_per_km[band];
                const double alpha_db_per_km = 1000.0 * air_absorption_db_per_m(freq_hz, conditions);
                CAPTURE(row.temperature_c);
                CAPTURE(row.humidity_percent);
                CAPTURE(freq_hz);
                CAPTURE(table_db_per_km);
                CAPTURE(alpha_db_per_km);
                CHECK(std::abs(alpha_db_per_km - table_db_per_km) <=
                      table_2_absolute_tolerance_db_per_km +
                          table_2_relative_tolerance * table_db_per_km);
            }
        }
    }

    TEST_CASE("alpha rises with frequency in all conditions") {
        // Each relaxation term f² · f_r / (f_r² + f²) rises with f, so α must rise strictly at
        // every step of a 1/12-octave grid from 20 Hz to 20 kHz, at every corner of the ranges.
        for (const double temperature_c : {-20.0, 0.0, 20.0, 50.0}) {
            for (const double humidity_percent : {0.0, 10.0, 50.0, 100.0}) {
                for (const double pressure_kpa : {50.0, 101.325, 110.0}) {
                    const auto conditions =
                        conditions_at(temperature_c, humidity_percent, pressure_kpa);
                    double previous_db_per_m = air_absorption_db_per_m(20.0, conditions);
                    std::size_t falls = 0;
                    for (double freq_hz = 20.0 * std::pow(2.0, 1.0 / 12.0); freq_hz <= 20000.0;
                         freq_hz *= std::pow(2.0, 1.0 / 12.0)) {
                        const double alpha_db_per_m = air_absorption_db_per_m(freq_hz, conditions);
                        if (!(alpha_db_per_m > previous_db_per_m)) {
                            ++falls;
                        }
                        previous_db_per_m = alpha_db_per_m;
                    }
                    CAPTURE(temperature_c);
                    CAPTURE(humidity_percent);
                    CAPTURE(pressure_kpa);
                    CHECK(falls == 0);
                }
            }
        }
    }

    TEST_CASE("alpha is zero at zero frequency") {
        CHECK(air_absorption_db_per_m(0.0, AtmosphericConditions{}) == 0.0);
    }

    TEST_CASE("attenuation scales exactly with distance") {
        const AtmosphericConditions conditions;
        const double alpha_db_per_m = air_absorption_db_per_m(8000.0, conditions);
        CHECK(air_absorption_db(8000.0, 1.0, conditions) == alpha_db_per_m);
        CHECK(air_absorption_db(8000.0, 37.5, conditions) == alpha_db_per_m * 37.5);
        CHECK(air_absorption_db(8000.0, 75.0, conditions) ==
              2.0 * air_absorption_db(8000.0, 37.5, conditions));
        CHECK(air_absorption_db(8000.0, 0.0, conditions) == 0.0);
    }

    TEST_CASE("dry air absorbs 4 kHz more than humid air") {
        // At 20 °C the oxygen relaxation frequency falls towards 4 kHz as the air dries, so
        // Table 1 gives 109 dB/km at 10 %, and the formula gives about 29 dB/km at 50 %.
        const double dry_db_per_m = air_absorption_db_per_m(4000.0, conditions_at(20.0, 10.0));
        const double moderate_db_per_m = air_absorption_db_per_m(4000.0, conditions_at(20.0, 50.0));
        CHECK(dry_db_per_m > moderate_db_per_m);
        CHECK(dry_db_per_m > 3.0 * moderate_db_per_m);
    }

    TEST_CASE("curve is the negative attenuation at each frequency") {
        const std::vector<double> freq_hz = {63.0, 1000.0, 4000.0, 16000.0};
        const auto conditions = conditions_at(25.0, 40.0, 95.0);
        const auto magnitude_db = air_absorption_curve_db(freq_hz, 60.0, conditions);
        REQUIRE(magnitude_db.size() == freq_hz.size());
        for (std::size_t i = 0; i < freq_hz.size(); ++i) {
            CAPTURE(freq_hz[i]);
            CHECK(magnitude_db[i] == -air_absorption_db(freq_hz[i], 60.0, conditions));
            CHECK(magnitude_db[i] < 0.0);
        }
    }

    TEST_CASE("curve of an empty grid is empty") {
        CHECK(air_absorption_curve_db({}, 60.0, AtmosphericConditions{}).empty());
    }

    TEST_CASE("change curve is current minus reference") {
        const std::vector<double> freq_hz = {125.0, 2000.0, 8000.0};
        const auto reference = conditions_at(20.0, 50.0);
        const auto current = conditions_at(20.0, 10.0);
        const auto reference_db = air_absorption_curve_db(freq_hz, 80.0, reference);
        const auto current_db = air_absorption_curve_db(freq_hz, 80.0, current);
        const auto change_db = air_absorption_change_curve_db(freq_hz, 80.0, reference, current);
        REQUIRE(change_db.size() == freq_hz.size());
        for (std::size_t i = 0; i < freq_hz.size(); ++i) {
            CAPTURE(freq_hz[i]);
            CHECK(change_db[i] == current_db[i] - reference_db[i]);
        }
        // Drier air absorbs more at 8 kHz, so the level there drops.
        CHECK(change_db[2] < 0.0);
    }

    TEST_CASE("change curve is zero for unchanged air") {
        const std::vector<double> freq_hz = {125.0, 2000.0, 8000.0};
        const auto conditions = conditions_at(12.0, 65.0);
        for (const double change_db :
             air_absorption_change_curve_db(freq_hz, 80.0, conditions, conditions)) {
            CHECK(change_db == 0.0);
        }
    }

    TEST_CASE("validation accepts the range limits") {
        CHECK_NOTHROW(validate(conditions_at(-20.0, 0.0, 50.0)));
        CHECK_NOTHROW(validate(conditions_at(50.0, 100.0, 110.0)));
        CHECK_NOTHROW(air_absorption_db_per_m(10000.0, conditions_at(50.0, 100.0, 110.0)));
    }

    TEST_CASE("validation names temperature and its range") {
        const auto error = error_from([] { validate(conditions_at(60.0, 50.0)); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "invalid atmospheric conditions: temperature_c 60 °C is outside -20 to 50 °C. "
              "Enter the air temperature measured at the venue.");
        CHECK(error->kind() == ErrorKind::configuration);
    }

    TEST_CASE("validation rejects temperature below range") {
        const auto error = error_from([] { validate(conditions_at(-25.5, 50.0)); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "invalid atmospheric conditions: temperature_c -25.5 °C is outside -20 to 50 °C. "
              "Enter the air temperature measured at the venue.");
    }

    TEST_CASE("validation names humidity and its range") {
        const auto error = error_from([] { validate(conditions_at(20.0, 120.0)); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "invalid atmospheric conditions: humidity_percent 120 % is outside 0 to 100 %. "
              "Enter the relative humidity measured at the venue.");
        CHECK(error->kind() == ErrorKind::configuration);
    }

    TEST_CASE("validation names pressure and its range") {
        const auto error = error_from([] { validate(conditions_at(20.0, 50.0, 30.0)); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "invalid atmospheric conditions: pressure_kpa 30 kPa is outside 50 to 110 kPa. "
              "Enter the station pressure at the venue (101.325 kPa at sea level).");
        CHECK(error->kind() == ErrorKind::configuration);
    }

    TEST_CASE("validation rejects a non-finite field") {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const auto error = error_from([nan] { validate(conditions_at(20.0, nan)); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "invalid atmospheric conditions: humidity_percent nan % is outside 0 to 100 %. "
              "Enter the relative humidity measured at the venue.");
    }

    TEST_CASE("alpha rejects invalid conditions") {
        CHECK_THROWS_AS(air_absorption_db_per_m(1000.0, conditions_at(20.0, -1.0)), Error);
        CHECK_THROWS_AS(air_absorption_curve_db(std::vector<double>{1000.0}, 10.0,
                                                conditions_at(20.0, 50.0, 200.0)),
                        Error);
    }

    TEST_CASE("negative frequency is an input error") {
        const auto error = error_from([] { air_absorption_db_per_m(-5.0, AtmosphericConditions{}); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "frequency -5 Hz is invalid for air absorption: it must be a finite value of 0 Hz "
              "or more");
        CHECK(error->kind() == ErrorKind::input);
    }

    TEST_CASE("curve names the invalid frequency point") {
        const std::vector<double> freq_hz = {100.0, std::numeric_limits<double>::infinity()};
        const auto error =
            error_from([&freq_hz] { air_absorption_curve_db(freq_hz, 10.0, AtmosphericConditions{}); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "frequency point 1: frequency inf Hz is invalid for air absorption: it must be a "
              "finite value of 0 Hz or more");
        CHECK(error->kind() == ErrorKind::input);
    }

    TEST_CASE("negative distance is a configuration error") {
        const auto error =
            error_from([] { air_absorption_db(1000.0, -3.0, AtmosphericConditions{}); });
        REQUIRE(error.has_value());
        CHECK(std::string(error->what()) ==
              "distance -3 m is invalid for air absorption: it must be a finite value of 0 m or "
              "more");
        CHECK(error->kind() == ErrorKind::configuration);
    }

    TEST_CASE("change curve names the invalid conditions") {
        const std::vector<double> freq_hz = {1000.0};
        const auto reference_error = error_from([&freq_hz] {
            air_absorption_change_curve_db(freq_hz, 10.0, conditions_at(20.0, 101.0),
                                           AtmosphericConditions{});
        });
        REQUIRE(reference_error.has_value());
        CHECK(std::string(reference_error->what()) ==
              "reference conditions: invalid atmospheric conditions: humidity_percent 101 % is "
              "outside 0 to 100 %. Enter the relative humidity measured at the venue.");

        const auto current_error = error_from([&freq_hz] {
            air_absorption_change_curve_db(freq_hz, 10.0, AtmosphericConditions{},
                                           conditions_at(55.0, 50.0));
        });
        REQUIRE(current_error.has_value());
        CHECK(std::string(current_error->what()) ==
              "current conditions: invalid atmospheric conditions: temperature_c 55 °C is "
              "outside -20 to 50 °C. Enter the air temperature measured at the venue.");
    }
}
