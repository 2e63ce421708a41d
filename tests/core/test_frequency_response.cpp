#include "linetune/core/frequency_response.hpp"

#include <doctest/doctest.h>

#include <cmath>

using linetune::FrequencyResponse;

TEST_SUITE("frequency_response") {
    TEST_CASE("magnitude interpolates linearly over log frequency") {
        const FrequencyResponse response{{100.0, 400.0}, {0.0, 6.0}, {}};
        // 200 Hz is half-way between 100 and 400 Hz on a log axis.
        CHECK(linetune::interpolate_magnitude_db(response, 200.0) == doctest::Approx(3.0).epsilon(1e-12));
    }

    TEST_CASE("magnitude is held beyond the ends") {
        const FrequencyResponse response{{100.0, 400.0}, {-2.0, 6.0}, {}};
        CHECK(linetune::interpolate_magnitude_db(response, 10.0) == -2.0);
        CHECK(linetune::interpolate_magnitude_db(response, 20000.0) == 6.0);
    }

    TEST_CASE("phase interpolation unwraps across 180 degrees") {
        const FrequencyResponse response{{100.0, 400.0}, {0.0, 0.0}, {170.0, -170.0}};
        const double phase = linetune::interpolate_phase_deg(response, 200.0);
        CHECK(std::fabs(std::remainder(phase - 180.0, 360.0)) < 1e-9);
    }

    TEST_CASE("phase is zero without phase data") {
        const FrequencyResponse response{{100.0, 400.0}, {0.0, 0.0}, {}};
        CHECK(linetune::interpolate_phase_deg(response, 200.0) == 0.0);
    }

    TEST_CASE("log grid spacing and end point") {
        const auto grid = linetune::log_frequency_grid(20.0, 20480.0, 3.0);
        REQUIRE(grid.size() == 31);
        CHECK(grid.front() == 20.0);
        CHECK(grid.back() == doctest::Approx(20480.0).epsilon(1e-12));
        CHECK(grid[3] == doctest::Approx(40.0).epsilon(1e-12));
    }
}
