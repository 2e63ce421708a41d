#pragma once

// Reflections of measured room impulse responses, ready to add after a modelled direct sound.

#include "linetune/simulation/rig.hpp"

#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace linetune::simulation::detail {

/// The part of a measured room impulse response after its direct sound, resampled to the
/// model's rate and scaled so that the measured direct sound has unit energy.
struct RoomReflections {
    std::string name;            ///< "warehouse/omni-7-4.wav#1" for messages
    std::vector<double> samples; ///< index 0 is the measured direct sound's arrival (the direct sound itself is cut out)
    /// Energy of the reflections up to the end of the file (before the tail is cut) over the
    /// energy of the measured direct sound.
    double reverberant_to_direct_energy = 0.0;
};

/// Reads one channel of a measured response from data_dir and cuts out its reflections.
/// Throws a configuration Error naming the file and the data folder when it is missing or
/// unreadable, has no such channel, or its rate cannot be resampled to sample_rate_hz.
RoomReflections load_room_reflections(const RoomResponseSource& source, const std::filesystem::path& data_dir,
                                      double sample_rate_hz, const RoomModel& room);

/// Resamples a signal from one rate to another by zero-padding or truncating its spectrum, with a
/// raised-cosine taper over the top 10 % of the lower Nyquist band. The result is advanced by
/// advance_output_samples (fractional), so that output index 0 is input time
/// advance_output_samples / output rate, and what moves before index 0 wraps to the end. Returns
/// the whole padded block, longer than the input by the rate ratio, the advance and some zeros.
std::vector<double> resample(std::span<const float> input, double input_rate_hz, double output_rate_hz,
                             double advance_output_samples);

}  // namespace linetune::simulation::detail
