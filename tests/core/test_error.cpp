#include "linetune/core/error.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_SUITE("error") {
    TEST_CASE("context grows outward") {
        const linetune::Error inner("gain +14 dB exceeds the device limit +6 dB");
        const auto outer = inner.with_context("band 3").with_context("zone 'L-mid'");
        CHECK(std::string(outer.what()) ==
              "zone 'L-mid': band 3: gain +14 dB exceeds the device limit +6 dB");
    }

    TEST_CASE("context keeps the error kind") {
        const linetune::Error error("bad option", linetune::ErrorKind::configuration);
        CHECK(error.with_context("venue.json").kind() == linetune::ErrorKind::configuration);
    }

    TEST_CASE("exit codes follow the CLI contract") {
        CHECK(linetune::exit_code_for(linetune::ErrorKind::input) == 1);
        CHECK(linetune::exit_code_for(linetune::ErrorKind::configuration) == 2);
        CHECK(linetune::exit_code_for(linetune::ErrorKind::device) == 3);
    }

    TEST_CASE("require throws only when the condition fails") {
        CHECK_NOTHROW(linetune::require(true, "never shown"));
        CHECK_THROWS_WITH_AS(linetune::require(false, "value missing"), "value missing",
                             linetune::Error);
    }
}
