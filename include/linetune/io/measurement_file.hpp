#pragma once

#include "linetune/core/signal.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/raw_audio.hpp"
#include "linetune/io/response_text.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::io {

/// What a measurement file holds once read.
enum class MeasurementKind {
    audio,               ///< sampled audio: impulse responses, recordings or sweeps
    rew_impulse_text,    ///< a REW "impulse response as text" export (one channel, absolute time base)
    frequency_response,  ///< magnitude (and maybe phase) curves: REW, Smaart, Open Sound Meter, CSV
};

/// Name of a measurement kind as written in JSON and tables.
std::string_view to_string(MeasurementKind kind);

/// How to read files whose layout the file itself does not state.
struct MeasurementReadOptions {
    std::optional<RawAudioLayout> raw_layout;  ///< set: files that are not audio containers are raw audio
    std::optional<double> t0_sample;           ///< place t = 0 at this sample (REW's convention)
};

/// One measurement file, read and identified.
struct Measurement {
    std::filesystem::path path;
    MeasurementKind kind = MeasurementKind::audio;
    AudioFileInfo info;                       ///< audio and REW impulse text only
    MultichannelSignal signal;                ///< audio and REW impulse text only
    std::vector<MeasuredResponse> responses;  ///< frequency-response files only
    std::vector<std::string> notes;
};

/// Reads any supported measurement file, telling formats apart by content, not by extension.
/// Throws Error with the file named when the file cannot be used.
Measurement read_measurement(const std::filesystem::path& path, const MeasurementReadOptions& options);

}  // namespace linetune::io
