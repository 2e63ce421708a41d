#pragma once

#include <doctest/doctest.h>

#include "linetune/core/error.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace linetune::test {

/// The team's shared data folder (../shared/data beside the checkout), set by meson.
inline std::filesystem::path shared_data_dir() { return LINETUNE_SHARED_DATA_DIR; }

/// True when the shared data is present. When absent, the calling test logs why it skips and
/// returns; under CI=true a missing folder fails the test instead, because CI must run it.
inline bool shared_data_available() {
    if (std::filesystem::is_directory(shared_data_dir())) {
        return true;
    }
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
        FAIL("shared data folder " << shared_data_dir().string() << " is missing and CI=true");
    }
    MESSAGE("skipped: shared data folder " << shared_data_dir().string() << " not found");
    return false;
}

/// A fresh empty folder under the build's temporary directory for one test.
inline std::filesystem::path scratch_dir(const std::string& name) {
    const auto dir = std::filesystem::path(LINETUNE_TEST_SCRATCH_DIR) / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

/// Writes the bytes to a file (replacing it) and returns its path.
inline std::filesystem::path write_file(const std::filesystem::path& path, std::string_view bytes) {
    std::ofstream stream(path, std::ios::binary);
    stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

/// Message of the linetune::Error the action throws, or "(no error)".
inline std::string error_message(const auto& action) {
    try {
        action();
    } catch (const Error& error) {
        return error.what();
    }
    return "(no error)";
}

}  // namespace linetune::test
