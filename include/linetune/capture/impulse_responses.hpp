#pragma once

#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/capture/multi_sweep.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace linetune::capture {

/// Settings of write_impulse_responses.
struct ImpulseResponseOptions {
    std::vector<std::string> zones;  ///< zones to process; empty: every complete recording of the session
    analysis::SweepRecordingOptions deconvolution;
};

/// The impulse response written for one mic of one zone.
struct MicImpulseResponse {
    std::string mic;
    std::filesystem::path wav_path;
    analysis::RecordedChannel channel;  ///< levels, flags and arrival from the recording
    std::optional<MultiSweepSeparation> separation;  ///< set for a zone of a multiple-sweep pass
};

/// The impulse responses of one zone's recording.
struct ZoneImpulseResponses {
    std::string zone;
    analysis::LoopbackStatus loopback_status = analysis::LoopbackStatus::not_recorded;
    std::optional<double> latency_samples;
    std::vector<MicImpulseResponse> mics;  ///< in recording order
    std::vector<std::string> notes;        ///< recording-wide findings (relative timing, loopback problems)
};

/// The impulse responses written for a session.
struct SessionImpulseResponses {
    std::vector<ZoneImpulseResponses> zones;  ///< sorted by zone name
    std::vector<std::string> notes;           ///< e.g. unfinished recordings that were skipped
};

/// Reads every complete recording of a session (SESSION/measurements/ZONE/recording.json and
/// its WAV) and writes SESSION/impulse-responses/ZONE/MIC.wav with its JSON sidecar for every
/// mic. A zone folder with a WAV but no JSON is an unfinished recording and is skipped with a
/// note. Throws Error naming the file for an unreadable recording or a requested zone without one.
SessionImpulseResponses write_impulse_responses(const std::filesystem::path& session_dir,
                                                const ImpulseResponseOptions& options);

}  // namespace linetune::capture
