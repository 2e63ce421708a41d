#pragma once

#include "linetune/analysis/fft.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/capture_stream.hpp"
#include "linetune/core/venue.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include <complex>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace linetune::simulation {

/// Effects of the simulated audio interface that it does not report to the software.
struct SimulatedCaptureOptions {
    std::size_t output_channels = 8;
    std::size_t input_channels = 8;
    /// Latency from output to input on every path, loopback included, in samples (fractional).
    double hidden_latency_samples = 97.37;
    double noise_level_dbfs = -80.0;  ///< RMS of the pink noise added to every input; below -200: none
    std::uint64_t noise_seed = 1;     ///< seeds the noise; pass k and input i draw from (seed, k, i)
    /// Second and third harmonic of a sine at full scale at the amplifier output, in dB re the
    /// fundamental, from y = x + a2·x² + a3·x³; below -200 that term is off. The third is lower
    /// because the cubic term also changes the fundamental's gain with level.
    double harmonic2_db = -40.0;
    double harmonic3_db = -46.0;
};

/// A CaptureStream over a simulated rig. Interface output k feeds the amplifier channel of the
/// zone whose `output` is k, and that channel applies the shared amplifier state as it is at the
/// start of the pass. The amplifier output passes a weak polynomial non-linearity (oversampled,
/// so no harmonic aliases), then every zone's transfer function to each microphone's input. The loopback output is wired to the
/// loopback input. Every input gets the hidden latency and seeded pink noise.
class SimulatedCaptureStream final : public CaptureStream {
public:
    /// Wires the venue to the rig. Throws a configuration Error when the rig cannot serve the
    /// venue: a zone or microphone without a source or position in the rig, zones on more than
    /// one amplifier, two microphones on one input, or a channel beyond the options' counts.
    /// The venue's interface rate must also equal the rig's rate and the amplifier's DSP rate.
    SimulatedCaptureStream(const Venue& venue, const RigTransferFunctions& rig, SharedAmplifierState& amplifier,
                           SimulatedCaptureOptions options = {});

    [[nodiscard]] StreamFormat format() const override;
    [[nodiscard]] std::string description() const override;

    /// Plays and records one pass. Throws a configuration Error for a request the interface
    /// cannot serve: a channel beyond its count, an output requested twice, a playback signal at
    /// another rate or with another channel count than output_channels, or no frames to record.
    CaptureResult play_and_record(const CaptureRequest& request) override;

    /// Number of passes played so far.
    [[nodiscard]] std::size_t pass_count() const { return pass_count_; }

private:
    struct ZoneWiring {
        std::string zone;
        std::size_t output = 0;   ///< 1-based interface output
        std::size_t channel = 0;  ///< 1-based amplifier channel
    };
    struct InputWiring {
        std::size_t input = 0;  ///< 1-based interface input
        std::string position;   ///< microphone name
    };

    /// Spectra of what the pass plays: each playing zone's amplifier output (by index into
    /// zones_), and the loopback output's signal.
    struct PlayedSpectra {
        std::vector<std::pair<std::size_t, std::vector<std::complex<float>>>> zones;
        std::vector<std::complex<float>> loopback;  ///< empty when the loopback output is silent
    };

    void check_request(const CaptureRequest& request) const;
    [[nodiscard]] PlayedSpectra played_spectra(const CaptureRequest& request, const AmplifierState& state,
                                               analysis::RealFft<float>& fft) const;
    void record_input(std::size_t input, const PlayedSpectra& played, const std::vector<std::complex<float>>& latency,
                      analysis::RealFft<float>& fft, std::span<float> channel);
    [[nodiscard]] const std::vector<std::complex<float>>& transfer_spectrum(std::size_t zone_index,
                                                                           const std::string& position,
                                                                           std::size_t fft_size);

    const RigTransferFunctions& rig_;
    SharedAmplifierState& amplifier_;
    SimulatedCaptureOptions options_;
    std::string venue_name_;
    double sample_rate_hz_ = 0.0;
    DeviceProfile profile_;
    std::vector<ZoneWiring> zones_;
    std::vector<InputWiring> inputs_;
    std::size_t loopback_output_ = 0;  ///< 0: no loopback
    std::size_t loopback_input_ = 0;
    std::size_t pass_count_ = 0;
    std::size_t cached_fft_size_ = 0;
    std::map<std::pair<std::size_t, std::string>, std::vector<std::complex<float>>> spectrum_cache_;
};

}  // namespace linetune::simulation
