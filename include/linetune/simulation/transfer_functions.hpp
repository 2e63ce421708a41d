#pragma once

#include "linetune/analysis/response.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/simulation/rig.hpp"

#include <complex>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace linetune::simulation {

/// The folder of the simulation's measured room impulse responses:
/// $LINETUNE_SIMULATION_DATA_DIR when set and not empty, else the repository's docs/examples
/// folder as configured at build time.
std::filesystem::path default_simulation_data_dir();

/// Settings of RigTransferFunctions.
struct TransferFunctionOptions {
    double sample_rate_hz = 48000.0;
    bool room_reflections = true;  ///< false: direct sound only, for tests of the propagation model
    std::filesystem::path data_dir = default_simulation_data_dir();
};

/// The ground-truth transfer functions of a rig: one FIR per (zone, listening position) from
/// the amplifier's output to the microphone, built once. Each is the loudspeaker model (filters,
/// sensitivity, latency) times its directivity and the propagation (delay distance / c, 1/r
/// loss, ISO 9613-1 air absorption). A measured room response adds the reflections. Its own
/// direct sound is cut out, so the reflections only follow the modelled arrival.
class RigTransferFunctions {
public:
    /// Builds every transfer function. Throws a configuration Error for an invalid rig, or for a
    /// missing or unreadable room response file, naming it and the data folder.
    explicit RigTransferFunctions(RigModel rig, const TransferFunctionOptions& options = {});

    [[nodiscard]] const RigModel& rig() const { return rig_; }
    [[nodiscard]] double sample_rate_hz() const { return sample_rate_hz_; }

    /// True when the rig has a source for the zone.
    [[nodiscard]] bool has_zone(std::string_view zone) const;

    /// True when the rig has a microphone or probe of that name.
    [[nodiscard]] bool has_position(std::string_view position) const;

    /// Length in samples shared by every transfer function.
    [[nodiscard]] std::size_t length() const { return length_; }

    /// The FIR of a zone at a microphone or probe, t = 0 at the amplifier output: no amplifier
    /// DSP and no interface latency. Throws a configuration Error for an unknown name.
    [[nodiscard]] std::span<const float> transfer_function(std::string_view zone, std::string_view position) const;

    /// Modelled arrival of the direct sound in seconds after the amplifier output: distance / c
    /// plus the loudspeaker's latency.
    [[nodiscard]] double arrival_s(std::string_view zone, std::string_view position) const;

    /// Distance in metres from the zone's acoustic centre to the position.
    [[nodiscard]] double distance_m(std::string_view zone, std::string_view position) const;

    /// Impulse response of the zone at the position through the amplifier channel that drives
    /// the zone in the venue, as `state` sets it (t = 0 at the amplifier input), computed in the
    /// frequency domain; its length is length() plus the channel's delay plus 0.5 s for the EQ's
    /// ringing.
    [[nodiscard]] std::vector<float> predicted_impulse_response(const Venue& venue, const AmplifierState& state,
                                                                std::string_view zone,
                                                                std::string_view position) const;

    /// Response of predicted_impulse_response on the options' grid and smoothing, phase
    /// referred to the modelled arrival plus the channel's delay.
    [[nodiscard]] FrequencyResponse predicted_response(const Venue& venue, const AmplifierState& state,
                                                       std::string_view zone, std::string_view position,
                                                       const analysis::ResponseOptions& options) const;

    /// Response at the position with every zone of the venue playing the same signal at once
    /// (coherent sum), phase referred to the earliest arrival.
    [[nodiscard]] FrequencyResponse predicted_system_response(const Venue& venue, const AmplifierState& state,
                                                              std::string_view position,
                                                              const analysis::ResponseOptions& options) const;

private:
    struct Pair {
        double distance_m = 0.0;
        double arrival_s = 0.0;
        std::vector<float> samples;
    };

    void place_pairs(const std::vector<const ListeningPosition*>& positions);
    [[nodiscard]] double latest_arrival_s() const;
    [[nodiscard]] std::size_t zone_index(std::string_view zone) const;
    [[nodiscard]] std::size_t position_index(std::string_view position) const;
    [[nodiscard]] const Pair& pair(std::string_view zone, std::string_view position) const;
    [[nodiscard]] std::vector<std::complex<double>> predicted_spectrum(const Venue& venue, const AmplifierState& state,
                                                                       std::string_view zone, std::string_view position,
                                                                       std::size_t fft_size) const;

    RigModel rig_;
    double sample_rate_hz_ = 0.0;
    std::size_t length_ = 0;
    std::vector<std::vector<Pair>> pairs_;  ///< [zone][position]: microphones first, then probes
};

}  // namespace linetune::simulation
