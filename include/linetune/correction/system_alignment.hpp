#pragma once

#include "linetune/correction/alignment.hpp"
#include "linetune/correction/timed_response.hpp"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::correction {

/// Width in cycles of the frequency-dependent window on the responses the crossover alignment
/// reads. In a hall the reflections of the first tens of milliseconds set the phase at low
/// frequencies as much as the direct sound. Three cycles (47 ms at 64 Hz) keep the direct sound
/// and the floor reflection, which is coherent with it, and cut most of the rest. On the simulated
/// arena the polarity found at the reference mic changed with the crossover frequency without a
/// window and did not with this one.
inline constexpr double crossover_window_cycles = 3.0;

/// Settings of the alignment of subwoofers to the mains by phase at their crossover.
struct CrossoverAlignmentOptions {
    /// Frequency where subs and mains meet; empty: found where their levels at the reference
    /// microphones cross, between min_crossover_hz and max_crossover_hz.
    std::optional<double> crossover_hz;
    double min_crossover_hz = 40.0;
    double max_crossover_hz = 250.0;
    double in_phase_within_deg = 60.0;  ///< a mic counts as aligned while the phase difference stays within this
};

/// The phase relation of subs and mains at one microphone once aligned.
struct CrossoverPhaseAtMic {
    std::string mic;
    double phase_difference_deg = 0.0;  ///< arg(subs / mains) at the crossover, in (−180, 180]
    double below_coherent_sum_db = 0.0; ///< how far |subs + mains| stays under |subs| + |mains| there
    bool in_phase = false;              ///< |phase_difference_deg| <= in_phase_within_deg
};

/// Result of aligning the subs to the mains at their crossover.
struct CrossoverAlignment {
    double crossover_hz = 0.0;
    /// Delay to set on the subs minus the delay set on the mains. With a polarity fault it is the
    /// delay for the subs once their polarity is corrected.
    double offset_ms = 0.0;
    bool polarity_fault = false;  ///< with onsets lined up the subs are nearer opposite phase: wiring or preset fault
    double below_coherent_sum_db = 0.0;  ///< at the crossover, summed over the reference mics
    std::vector<CrossoverPhaseAtMic> mics;  ///< every mic with both subs and mains measured
    std::vector<std::string> notes;
};

/// Aligns subs to mains by phase at the crossover at the reference microphones (one mic, or an
/// area of several). At each mic the responses of all given sub zones add up (likewise the
/// mains), each zone delayed by its own `delay_ms` entry (0 when absent). The phase at the
/// crossover is matched exactly, on the cycle nearest the alignment of their onsets (method in
/// system_alignment.cpp). Throws Error when no reference mic has both subs and mains, or when
/// they have no level around the crossover.
CrossoverAlignment align_subs_at_crossover(std::span<const TimedResponse> subs, std::span<const TimedResponse> mains,
                                           std::span<const std::string> reference_mics,
                                           const std::map<std::string, double>& delay_ms,
                                           const CrossoverAlignmentOptions& options);

/// Sets the delay of every `subs` zone to the mains' delay plus `offset_ms` (the mains zone being
/// `mains_zone`), then shifts every delay so that the smallest is 0 again. Notes what it changed,
/// a suspected polarity fault included; the zones' polarity_fault flags are left as they are.
void apply_crossover_alignment(std::vector<ZoneAlignment>& alignments, std::span<const std::string> sub_zones,
                               const std::string& mains_zone, const CrossoverAlignment& alignment);

}  // namespace linetune::correction
