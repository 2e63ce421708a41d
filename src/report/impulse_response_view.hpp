#pragma once

#include "linetune/report/session_report.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>

namespace linetune::report {

/// Reads and analyses one measurement (an impulse-response WAV with its sidecar, or a text
/// export) into what the report plots. channel is 1-based; unset means channel 1. Throws Error
/// naming the file when it cannot be read.
ImpulseResponseView read_impulse_response_view(const std::filesystem::path& path, std::optional<std::size_t> channel);

}  // namespace linetune::report
