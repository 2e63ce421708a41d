#pragma once

#include "linetune/core/capture_stream.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::capture {

/// Limits that a calibrator recording must meet before its level becomes a mic's sensitivity.
struct CalibratorCheckOptions {
    /// The tone's third-octave band must stand this far above the noise in that band, else the
    /// input contains no tone. A calibrator at 94 dB SPL is 40 dB or more above a quiet hall.
    double min_tone_to_noise_db = 10.0;
    /// Below this the tone is too quiet: band noise at −30 dB re the tone moves its RMS by
    /// 0.004 dB, so 30 dB keeps the reading well inside ±0.05 dB.
    double accurate_tone_to_noise_db = 30.0;
    /// Everything outside the tone's band (noise, hum, harmonics, a second tone) must stay this far
    /// under the tone. A calibrator's distortion is typically a few percent at most (3 % is −30
    /// dB), while a second tone of similar level, or speech near the mic, reaches 0 to −10 dB.
    double min_tone_to_residual_db = 20.0;
    /// Length of the blocks whose RMS levels must agree: 0.1 s contains 25 periods of a 250 Hz
    /// pistonphone, so where a block cuts the period moves its RMS by less than 0.03 dB.
    double block_s = 0.1;
    /// Largest spread (maximum − minimum) of the block levels. A calibrator sealed on the capsule
    /// keeps its level within hundredths of a dB, while one that slips or is moved changes it by a
    /// dB or more, so 0.5 dB separates the two (an estimate, not a standard's limit).
    double max_level_spread_db = 0.5;
    /// Tones below this are rejected: the lowest calibrator tones are pistonphones at 250 Hz and a
    /// few at 125 Hz, and under 31.5 Hz a 3 s recording contains too few periods.
    double min_frequency_hz = 31.5;
};

/// Figures of a calibrator recording: the tone, its level, its purity and its steadiness.
struct CalibratorReading {
    double frequency_hz = 0.0;     ///< strongest spectral peak, interpolated between bins
    double tone_rms_dbfs = 0.0;    ///< RMS of the tone's third-octave band around frequency_hz
    double total_rms_dbfs = 0.0;   ///< RMS of the whole recording without its DC offset
    double peak_dbfs = 0.0;
    bool clipped = false;
    double tone_to_noise_db = 0.0;     ///< tone band power over the noise expected in that band
    double tone_to_residual_db = 0.0;  ///< tone band power over everything else in the recording
    double level_spread_db = 0.0;      ///< maximum − minimum RMS of the blocks (CalibratorCheckOptions::block_s)
};

/// Analyses a recording of a calibrator tone. The frequency is the peak of a Hann-windowed
/// spectrum, refined by a parabola through the log magnitudes of the peak bin and its neighbours.
/// Throws an input Error when the recording is shorter than four blocks or contains a non-finite sample.
CalibratorReading read_calibrator_tone(std::span<const float> samples, double sample_rate_hz,
                                       const CalibratorCheckOptions& options = {});

/// Returns the first problem that makes a reading unusable as a calibration (clipped, no tone,
/// too quiet, not one tone, unsteady, frequency too low) as a sentence that ends with what to do, or
/// nothing when the reading is usable.
std::optional<std::string> calibrator_problem(const CalibratorReading& reading, const CalibratorCheckOptions& options = {});

/// A mic's sensitivity as the venue file defines sensitivity_dbfs: the RMS level in dBFS at its
/// input for 94 dB SPL, S = L_tone − (L_calibrator − 94 dB).
double sensitivity_from_calibrator(double tone_rms_dbfs, double calibrator_db_spl);

/// A mic's calibration, as stored in the session's calibration file.
struct MicCalibration {
    std::string mic;
    std::size_t input = 0;  ///< 1-based interface input it was recorded on
    double sensitivity_dbfs = 0.0;
    double calibrator_db_spl = 94.0;
    CalibratorReading reading;
    std::string recorded_utc;  ///< ISO 8601
    std::string software;      ///< "linetune 0.1.0"
};

/// Settings of calibrate_microphone.
struct CalibrationOptions {
    double calibrator_db_spl = 94.0;  ///< the calibrator's level: 94 dB SPL, or 114 dB SPL
    /// Recording length. Three seconds give 30 blocks for the steadiness check and a spectrum with
    /// 0.33 Hz bins, and are short enough to hold a calibrator still.
    double record_s = 3.0;
    CalibratorCheckOptions check;
};

/// Records the named mic's input while every output plays silence (the engineer keeps the
/// calibrator on the mic), reads the tone and returns the mic's calibration. Throws a
/// configuration Error for a mic that the venue lacks or an input beyond the stream's, and an
/// input Error naming the mic, the problem and what to do when the recording is unusable.
MicCalibration calibrate_microphone(const Venue& venue, const std::string& mic, CaptureStream& stream,
                                    const CalibrationOptions& options = {});

/// Value of the "format" key of a session's calibration file.
inline constexpr const char* calibration_format = "linetune mic calibration";

/// SESSION/calibration.json: the calibrations that later measurements of the session use.
std::filesystem::path calibration_file_path(const std::filesystem::path& session_dir);

/// Reads a calibration file; a missing file gives no calibrations. Throws an input Error naming
/// the file and the key for an unreadable one.
std::vector<MicCalibration> read_calibration_file(const std::filesystem::path& path);

/// Adds or replaces the mic's entry in the calibration file, keeping the other mics' entries, and
/// writes it atomically. Throws Error naming the file.
void store_calibration(const std::filesystem::path& path, const MicCalibration& calibration);

/// Origin of a mic's sensitivity once a session's calibrations are applied.
struct SensitivitySource {
    std::string mic;
    std::optional<double> sensitivity_dbfs;
    std::string source;  ///< "calibration file", "venue file" or "none"
    std::optional<MicCalibration> calibration;  ///< set when the calibration file supplied it
    std::optional<double> venue_sensitivity_dbfs;  ///< the venue file's value, replaced or kept
    std::string note;  ///< why a calibration file entry was not used, or empty
};

/// Gives each venue mic the sensitivity of its calibration-file entry, which wins over the venue
/// file's sensitivity_dbfs. An entry recorded on another input than the mic's input now is not
/// used (another preamp has another gain) and gets a note. Returns one entry per venue mic.
std::vector<SensitivitySource> apply_calibrations(Venue& venue, const std::vector<MicCalibration>& calibrations);

}  // namespace linetune::capture
