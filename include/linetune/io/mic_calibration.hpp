#pragma once

#include "linetune/core/frequency_response.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace linetune::io {

/// A measurement microphone's calibration file: its deviation from flat and, where the file
/// gives them, its sensitivity figures.
struct MicCalibration {
    FrequencyResponse deviation;                     ///< the microphone's deviation from flat, dB (and phase if given)
    std::optional<double> sensitivity_factor_db;     ///< UMIK "Sens Factor"
    std::optional<double> amplifier_gain_db;         ///< UMIK "AGain"
    std::optional<double> sensitivity_dbv_at_1khz;   ///< Dayton "*1000Hz -38.6", dBV re 1 V/Pa
    std::string serial_number;                       ///< UMIK "SERNO", empty otherwise
    std::string style;                               ///< "umik", "dayton" or "plain"
    std::vector<std::string> warnings;               ///< repairs made, each naming the file and line
};

/// Reads a microphone calibration file: UMIK (quoted "Sens Factor" line), Dayton ("*1000Hz"
/// line) or headerless rows of frequency in Hz, deviation in dB and optional phase in degrees.
/// Rows follow the same ascending-frequency rules as read_response_text.
MicCalibration read_mic_calibration(const std::filesystem::path& path);

/// Corrects a measured response for the microphone. Sign convention: a calibration file contains
/// the microphone's own deviation, so the true response is measured − deviation, and measured
/// phase − deviation phase when both have phase. Sensitivity figures are not applied.
FrequencyResponse apply_mic_calibration(const FrequencyResponse& measured, const MicCalibration& calibration);

}  // namespace linetune::io
