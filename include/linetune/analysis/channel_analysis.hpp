#pragma once

#include "linetune/analysis/arrival.hpp"
#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/harmonic_distortion.hpp"
#include "linetune/analysis/room_metrics.hpp"
#include "linetune/analysis/signal_quality.hpp"
#include "linetune/analysis/smoothing.hpp"
#include "linetune/analysis/minimum_phase.hpp"
#include "linetune/analysis/time_delay.hpp"
#include "linetune/analysis/window.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/io/measurement_file.hpp"
#include "linetune/io/mic_calibration.hpp"

#include <optional>
#include <string>
#include <vector>

namespace linetune::analysis {

/// Settings of one analysis run, shared by every file and channel.
struct AnalysisOptions {
    Smoothing smoothing{SmoothingKind::fractional_octave, 6.0};
    double response_points_per_octave = 24.0;          ///< density of the reported response
    std::optional<std::size_t> channel;                ///< 1-based; unset: every channel
    std::optional<io::MicCalibration> mic_calibration;  ///< subtracted from every magnitude response
    bool distortion = false;                           ///< needs a played sweep
    double max_delay_ms = 1000.0;                      ///< search range of delays between channels
    std::optional<LeftRightWindow> response_window;    ///< window around the arrival before the response
    std::optional<double> fdw_cycles;                  ///< frequency-dependent window width in cycles
    bool phase_split = false;                          ///< also report minimum and excess phase
};

/// Results for one channel of a file (or one trace of a frequency-response file).
struct ChannelAnalysis {
    std::size_t channel = 1;  ///< 1-based
    std::string trace_name;   ///< frequency-response traces only
    double sample_rate_hz = 0.0;
    std::size_t frames = 0;
    std::optional<SignalQuality> quality;
    std::optional<std::size_t> peak_sample;   ///< largest |sample|; set unless the channel is dead
    std::optional<std::size_t> start_sample;  ///< ISO 3382-1 start; set unless the channel is dead
    std::optional<Arrival> arrival;           ///< impulse responses only
    double time_zero_sample = 0.0;  ///< copied from the file's time base
    std::vector<std::string> flags;  ///< dead, not_impulse_response, truncated, clipped, centred_ir, ...
    std::vector<std::string> notes;  ///< one sentence per flag or oddity, for people
    std::optional<RoomMetrics> metrics;
    std::optional<FrequencyResponse> response;
    std::optional<PhaseSplit> phase_split;  ///< on the response's frequencies, with --phase-split
    std::optional<HarmonicDistortion> distortion;
    std::optional<double> delay_to_channel_1_ms;
    std::optional<double> delay_confidence;  ///< GCC-PHAT delays only: correlation at the delay, 0..1

    [[nodiscard]] bool has_flag(std::string_view flag) const;
};

/// Results for one measurement file.
struct FileAnalysis {
    io::Measurement measurement;  ///< signal emptied after analysis to free memory
    TimeBase time_base;           ///< the signal's time base, kept when the signal is emptied
    std::vector<ChannelAnalysis> channels;
    /// Pairwise delays (GCC-PHAT) of multichannel recordings that are not impulse responses;
    /// [i][j] is channel j's delay relative to channel i.
    std::vector<std::vector<TimeDelay>> delay_matrix;
};

/// Analyses every requested channel of a measurement. With a deconvolver, audio channels are
/// recordings of its sweep and are deconvolved first. Throws Error for problems that make the
/// whole file unusable (e.g. a channel number beyond the file); per-channel problems become flags.
FileAnalysis analyze_measurement(io::Measurement measurement, const AnalysisOptions& options,
                                 SweepDeconvolver* deconvolver);

}  // namespace linetune::analysis
