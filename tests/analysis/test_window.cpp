#include "linetune/analysis/window.hpp"
#include "linetune/core/error.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

using linetune::analysis::apply_left_right_window;
using linetune::analysis::LeftRightWindow;
using linetune::analysis::tukey_window;

namespace {

// Window values are computed in double from closed forms; 1e-9 leaves room only for rounding.
constexpr double exact_tolerance = 1e-9;
// apply_left_right_window returns float32 samples, which hold about 7 significant digits.
constexpr double float_tolerance = 1e-6;

}  // namespace

TEST_SUITE("window") {
    TEST_CASE("tukey window matches the closed form at known points") {
        const auto window = tukey_window(11, 0.5);
        REQUIRE(window.size() == 11);
        // x = n/10; the taper covers x < 0.25: w = ½(1 − cos(2πx/0.5)).
        CHECK(window[0] == doctest::Approx(0.0).epsilon(exact_tolerance));
        CHECK(window[1] == doctest::Approx(0.3454915028).epsilon(exact_tolerance));
        CHECK(window[2] == doctest::Approx(0.9045084972).epsilon(exact_tolerance));
        CHECK(window[3] == doctest::Approx(1.0).epsilon(exact_tolerance));
        CHECK(window[5] == doctest::Approx(1.0).epsilon(exact_tolerance));
        CHECK(window[7] == doctest::Approx(1.0).epsilon(exact_tolerance));
        CHECK(window[8] == doctest::Approx(0.9045084972).epsilon(exact_tolerance));
        CHECK(window[9] == doctest::Approx(0.3454915028).epsilon(exact_tolerance));
        CHECK(window[10] == doctest::Approx(0.0).epsilon(exact_tolerance));
    }

    TEST_CASE("tukey window with full taper is hann") {
        const auto window = tukey_window(9, 1.0);
        REQUIRE(window.size() == 9);
        CHECK(window[0] == doctest::Approx(0.0).epsilon(exact_tolerance));
        CHECK(window[2] == doctest::Approx(0.5).epsilon(exact_tolerance));
        CHECK(window[4] == doctest::Approx(1.0).epsilon(exact_tolerance));
        CHECK(window[6] == doctest::Approx(0.5).epsilon(exact_tolerance));
        CHECK(window[8] == doctest::Approx(0.0).epsilon(exact_tolerance));
    }

    TEST_CASE("tukey window with no taper is rectangular") {
        const auto window = tukey_window(6, 0.0);
        REQUIRE(window.size() == 6);
        for (const double value : window) {
            CHECK(value == 1.0);
        }
    }

    TEST_CASE("tukey window handles zero and one point") {
        CHECK(tukey_window(0, 0.5).empty());
        const auto single = tukey_window(1, 0.5);
        REQUIRE(single.size() == 1);
        CHECK(single[0] == 1.0);
    }

    TEST_CASE("tukey window rejects a taper fraction above one") {
        CHECK_THROWS_AS(tukey_window(8, 1.5), linetune::Error);
        CHECK_THROWS_AS(tukey_window(8, -0.1), linetune::Error);
    }

    TEST_CASE("left right window values at reference and edges") {
        // At 48 kHz the left side is 48 samples (1 ms), the right side 96 samples (2 ms) with its
        // last quarter (24 samples) tapered.
        const std::vector<float> ones(400, 1.0F);
        const LeftRightWindow window{1.0, 2.0, 1.0, 0.25};
        const auto windowed = apply_left_right_window(ones, 200.0, 48000.0, window);
        REQUIRE(windowed.size() == ones.size());

        CHECK(windowed[200] == doctest::Approx(1.0).epsilon(float_tolerance));
        CHECK(windowed[0] == 0.0F);
        CHECK(windowed[151] == 0.0F);
        CHECK(windowed[152] == doctest::Approx(0.0).epsilon(float_tolerance));
        CHECK(windowed[176] == doctest::Approx(0.5).epsilon(float_tolerance));
        CHECK(windowed[199] == doctest::Approx(0.998929).epsilon(float_tolerance));
        CHECK(windowed[272] == doctest::Approx(1.0).epsilon(float_tolerance));
        CHECK(windowed[284] == doctest::Approx(0.5).epsilon(float_tolerance));
        CHECK(windowed[296] == doctest::Approx(0.0).epsilon(float_tolerance));
        CHECK(windowed[297] == 0.0F);
        CHECK(windowed[399] == 0.0F);
    }

    TEST_CASE("left right window scales the samples it keeps") {
        std::vector<float> ir(100, 0.0F);
        ir[50] = -0.5F;
        ir[60] = 0.25F;
        const LeftRightWindow window{1.0, 1.0, 1.0, 1.0};
        // 1000 Hz: one sample per ms, so the window spans samples 49..51 around reference 50.
        const auto windowed = apply_left_right_window(ir, 50.0, 1000.0, window);
        CHECK(windowed[50] == doctest::Approx(-0.5).epsilon(float_tolerance));
        CHECK(windowed[60] == 0.0F);
    }

    TEST_CASE("left right window follows a fractional reference") {
        const std::vector<float> ones(200, 1.0F);
        const LeftRightWindow window{1.0, 1.0, 1.0, 1.0};
        // fs = 10 kHz: 10 samples per ms. Reference 100.5: the window starts at 90.5, so sample
        // 95 sits 4.5 samples into a 10-sample half-Hann: ½(1 − cos(0.45π)) = 0.421783. The right
        // taper spans all 10 samples after the reference, so sample 110 (9.5 samples after it)
        // has ½(1 + cos(0.95π)) = 0.006156.
        const auto windowed = apply_left_right_window(ones, 100.5, 10000.0, window);
        CHECK(windowed[90] == 0.0F);
        CHECK(windowed[95] == doctest::Approx(0.421783).epsilon(float_tolerance));
        CHECK(windowed[110] == doctest::Approx(0.0061558).epsilon(1e-5));
        CHECK(windowed[111] == 0.0F);
    }

    TEST_CASE("left right window rejects invalid settings") {
        const std::vector<float> ones(16, 1.0F);
        CHECK_THROWS_AS(apply_left_right_window(ones, 8.0, 48000.0, {-1.0, 10.0, 1.0, 0.25}),
                        linetune::Error);
        CHECK_THROWS_AS(apply_left_right_window(ones, 8.0, 48000.0, {1.0, 0.0, 1.0, 0.25}),
                        linetune::Error);
        CHECK_THROWS_AS(apply_left_right_window(ones, 8.0, 48000.0, {1.0, 10.0, 1.2, 0.25}),
                        linetune::Error);
        CHECK_THROWS_AS(apply_left_right_window(ones, 8.0, 0.0, {1.0, 10.0, 1.0, 0.25}),
                        linetune::Error);
    }

    TEST_CASE("left right window error names the field and value") {
        const std::vector<float> ones(16, 1.0F);
        CHECK_THROWS_WITH(apply_left_right_window(ones, 8.0, 48000.0, {1.0, 10.0, 1.0, 1.5}),
                          doctest::Contains("right taper fraction 1.5 is outside [0, 1]"));
    }
}
