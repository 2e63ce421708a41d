#pragma once

#include "linetune/core/signal.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace linetune::io {

/// Value of the "format" key that marks a JSON file as an impulse-response sidecar.
inline constexpr const char* impulse_response_sidecar_format = "linetune impulse response";

/// What an impulse-response sidecar records about where the response came from.
struct ImpulseResponseOrigin {
    std::string zone;
    std::string mic;
    std::filesystem::path recording;      ///< recording it was deconvolved from, relative to the sidecar's folder
    std::size_t recording_channel = 0;    ///< 1-based channel of that recording; 0 when unknown
    std::optional<double> latency_samples;  ///< audio-path latency the loopback measured
    std::optional<FrequencyBand> band_hz;   ///< band the deconvolution kept
    std::optional<double> recording_peak_dbfs;
    std::vector<std::string> flags;  ///< "clipped", "dead", "relative_timing", ...
    std::vector<std::string> notes;  ///< findings for people
};

/// An impulse-response sidecar as read: the audio's rate, length and time base, and its origin.
struct ImpulseResponseSidecar {
    double sample_rate_hz = 0.0;
    std::size_t frames = 0;
    TimeBase time_base;
    ImpulseResponseOrigin origin;
};

/// The sidecar path of an impulse-response WAV: the same path with the extension ".json".
std::filesystem::path impulse_response_sidecar_path(const std::filesystem::path& wav_path);

/// Writes a float32 WAV of the impulse response and its JSON sidecar (rate, length and time
/// base taken from the signal), each atomically. An old sidecar is removed before the WAV is
/// replaced and the new one is written after it, so a sidecar always describes the WAV beside it.
/// Creates missing folders. Throws Error naming the file.
void write_impulse_response(const std::filesystem::path& wav_path, const MultichannelSignal& impulse_response,
                            const ImpulseResponseOrigin& origin);

/// Reads a sidecar. Returns nothing for valid JSON of another format (not a sidecar); throws an
/// input Error naming the file for JSON that does not parse or a sidecar with a missing or
/// invalid field.
std::optional<ImpulseResponseSidecar> read_impulse_response_sidecar(const std::filesystem::path& sidecar_path);

}  // namespace linetune::io
