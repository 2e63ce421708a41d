#pragma once

#include "linetune/analysis/room_metrics.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/venue.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace linetune::report {

/// What the report shows of one impulse response: its curves on plotting grids and its figures.
struct ImpulseResponseView {
    std::filesystem::path file;
    double sample_rate_hz = 0.0;
    FrequencyResponse response;             ///< 1/6 octave magnitude (dB re full scale) and phase
    std::vector<double> impulse_time_ms;    ///< around the direct sound, relative to t = 0 of the time base
    std::vector<double> impulse_samples;    ///< the impulse response there, normalised to a peak of 1
    std::vector<double> energy_time_ms;     ///< the whole response, reduced to a plotting resolution
    std::vector<double> energy_time_db;     ///< Hilbert envelope in dB re its peak (energy-time curve)
    FrequencyResponse signal_to_noise;      ///< magnitude_db holds the ratio in dB per frequency; empty for text exports
    std::optional<double> arrival_ms;       ///< direct sound relative to t = 0
    std::string time_base;                  ///< "loopback", "file_start", ...
    double peak_dbfs = 0.0;
    double noise_floor_dbfs = 0.0;
    double peak_to_noise_db = 0.0;
    std::optional<analysis::RoomMetrics> metrics;
    std::vector<std::string> flags;  ///< clipped, dead, relative_timing, ... from the sidecar and the analysis
    std::vector<std::string> notes;
};

/// One microphone of a zone: its impulse response before the push and, after a push, after it.
struct MicView {
    std::string mic;
    std::optional<ImpulseResponseView> before;
    std::optional<ImpulseResponseView> after;
    std::optional<double> rms_before_db;  ///< measured residual from summary.json, when there is one
    std::optional<double> rms_after_db;
};

/// One EQ band as written in corrections.json.
struct BandView {
    std::string type;
    double freq_hz = 0.0;
    double gain_db = 0.0;
    double q = 0.0;
};

/// One zone: its venue entry, its tuning from corrections.json and its microphones.
struct ZoneView {
    Zone zone;
    bool tuned = false;  ///< corrections.json has this zone
    double delay_ms = 0.0;
    double gain_db = 0.0;
    std::vector<BandView> bands;
    bool polarity_fault = false;
    FrequencyResponse predicted_before;  ///< spatial average with the applied setting removed
    FrequencyResponse predicted_after;
    FrequencyResponse target;  ///< level-aligned with predicted_before
    std::optional<double> rms_before_db;
    std::optional<double> rms_after_db;            ///< measured after the push
    std::optional<double> predicted_rms_after_db;
    std::vector<MicView> mics;
    std::vector<std::string> notes;  ///< tuning notes and mics the tuning left out
};

/// One amplifier's push outcome as summary.json records it.
struct DeviceOutcomeView {
    std::string amplifier;
    std::string outcome;  ///< verified, unverified, unchanged, restored or FAILED
    long writes_sent = 0;
};

/// Everything the report shows, read from one session folder.
struct SessionView {
    std::filesystem::path folder;
    Venue venue;
    std::string linetune_version;
    std::vector<ZoneView> zones;
    bool pushed = false;  ///< summary.json exists: the job pushed and measured again
    bool push_succeeded = false;
    std::vector<DeviceOutcomeView> devices;
    std::vector<std::string> warnings;  ///< from summary.json and from every flag and left-out mic
    std::vector<std::string> missing;   ///< session files that were absent, so their parts are empty
};

/// Reads a session folder: venue.json (required), corrections.json, summary.json and the
/// impulse responses before (impulse-responses/) and after the push (after/impulse-responses/).
/// Throws a configuration Error naming the folder when venue.json is missing; any other missing
/// file leaves its part of the report empty and is listed in `missing`. Without impulse
/// responses in the session, a zone's mics are read from the venue's measurement map.
SessionView read_session(const std::filesystem::path& session_dir);

/// Renders a session as one self-contained HTML page: inline SVG plots and CSS, no scripts and
/// no reference to any other file or address.
std::string render_session_html(const SessionView& session);

/// Reads the session and writes its HTML report atomically to output (default SESSION/report.html).
/// Returns the path written.
std::filesystem::path write_session_report(const std::filesystem::path& session_dir,
                                           const std::filesystem::path& output = {});

}  // namespace linetune::report
