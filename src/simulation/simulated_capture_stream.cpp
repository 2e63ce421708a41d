#include "linetune/simulation/simulated_capture_stream.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"
#include "linetune/simulation/amplifier_dsp.hpp"
#include "linetune/simulation/polynomial_distortion.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <set>

// One pass of the simulated interface
// -----------------------------------
// For each zone whose interface output plays: x → amplifier channel (amplifier_dsp) →
// y = x + a2·x² + a3·x³ → FFT. The polynomial runs at twice the rate (polynomial_distortion.cpp),
// so harmonics above the Nyquist frequency are removed instead of folding back, as a real
// interface's anti-alias filter would remove them. For each recorded input, the spectrum is the sum over zones of
// Y·H, where H is the zone's transfer function to the microphone at that input. The loopback
// input gets the loopback output's spectrum instead. Both are multiplied by e^(−j2πf·d) for the
// hidden latency d (fractional samples), transformed back, and get pink noise added. One FFT size N ≥ record length + transfer-function length +
// latency keeps every convolution linear: nothing wraps into the recorded frames.
//
// Harmonics of the polynomial for x = A·cos ωt (A = 1 is full scale):
//     a2·x² = a2·A²/2 · (1 + cos 2ωt),   a3·x³ = a3·A³/4 · (3·cos ωt + cos 3ωt),
// so at full scale H2/H1 = a2/2 and H3/H1 = a3/4, giving a2 = 2·10^(h2/20), a3 = 4·10^(h3/20).
// The cubic term also raises the fundamental by 3·a3·A²/4 (+0.13 dB at full scale with the
// default h3 = −46 dB, +0.03 dB at −6 dBFS), a level-dependent gain that a linear model does not
// have. That is why the default h3 is lower than h2: at −40 dB the gain change alone would be
// −42.5 dB of error in a measured impulse response at −6 dBFS.

namespace linetune::simulation {
namespace {

constexpr double off_threshold_db = -200.0;   // harmonic and noise levels below this switch the term off
constexpr double max_record_s = 600.0;        // one pass at most 10 minutes: bounds the memory of a request
constexpr std::size_t fft_guard_samples = 64; // beyond the fractional latency's integer part
// Background noise of a hall and a microphone preamp falls towards high frequencies, so pink
// noise (−3 dB per octave) stands for it here. Below 20 Hz its density is held flat rather than rising
// without bound.
constexpr double pink_noise_floor_hz = 20.0;

/// Gaussian noise from mt19937_64 (its sequence is fixed by the C++ standard) and the Box–Muller
/// transform. std::normal_distribution is not used because its output differs between standard
/// libraries, and a seed should give the same noise everywhere the maths library agrees.
class NoiseSource {
public:
    NoiseSource(std::uint64_t seed, std::uint64_t pass, std::uint64_t input) {
        std::seed_seq sequence{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32U),
                               static_cast<std::uint32_t>(pass), static_cast<std::uint32_t>(input)};
        engine_.seed(sequence);
    }

    double next_gaussian() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = uniform_open();
        const double u2 = uniform_open();
        const double radius = std::sqrt(-2.0 * std::log(u1));
        spare_ = radius * std::sin(2.0 * pi * u2);
        has_spare_ = true;
        return radius * std::cos(2.0 * pi * u2);
    }

private:
    /// Uniform in (0, 1]: 53 random bits.
    double uniform_open() { return (static_cast<double>(engine_() >> 11U) + 1.0) * 0x1.0p-53; }

    std::mt19937_64 engine_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

/// Pink noise (power density ∝ 1/f above 20 Hz, flat below) of the given RMS over `frames`
/// samples: Gaussian bins shaped by 1/√f, transformed back with the pass's FFT.
std::vector<float> pink_noise(NoiseSource& source, analysis::RealFft<float>& fft, double sample_rate_hz,
                              std::size_t frames, double rms) {
    std::vector<std::complex<float>> bins(fft.bin_count());
    for (std::size_t k = 1; k < bins.size(); ++k) {
        const double freq_hz = static_cast<double>(k) * sample_rate_hz / static_cast<double>(fft.size());
        const double shape = 1.0 / std::sqrt(std::max(freq_hz, pink_noise_floor_hz));
        const double real = source.next_gaussian();
        const double imaginary = source.next_gaussian();
        bins[k] = {static_cast<float>(shape * real), static_cast<float>(shape * imaginary)};
    }
    std::vector<float> noise(fft.size());
    fft.inverse(bins, noise);
    noise.resize(frames);

    double power = 0.0;
    for (const float sample : noise) {
        power += static_cast<double>(sample) * sample;
    }
    const double scale = power > 0.0 ? rms / std::sqrt(power / static_cast<double>(frames)) : 0.0;
    for (auto& sample : noise) {
        sample = static_cast<float>(scale * sample);
    }
    return noise;
}

/// The signal the request plays on an output, cut or padded to the recorded length; empty when
/// the output plays nothing.
std::optional<std::vector<float>> output_signal(const CaptureRequest& request, std::size_t output) {
    const auto found = std::find(request.output_channels.begin(), request.output_channels.end(), output);
    if (found == request.output_channels.end()) {
        return std::nullopt;
    }
    const auto samples = request.playback.channel(static_cast<std::size_t>(found - request.output_channels.begin()));
    std::vector<float> signal(request.record_frames, 0.0f);
    std::copy_n(samples.begin(), std::min(request.record_frames, samples.size()), signal.begin());
    return signal;
}

std::string channel_list(std::size_t count) { return "1 to " + std::to_string(count); }

}  // namespace

SimulatedCaptureStream::SimulatedCaptureStream(const Venue& venue, const RigTransferFunctions& rig,
                                               SharedAmplifierState& amplifier, SimulatedCaptureOptions options)
    : rig_(rig), amplifier_(amplifier), options_(options), venue_name_(venue.name),
      sample_rate_hz_(venue.audio_interface.sample_rate_hz) {
    const std::string where = description();
    const auto fail = [&](const std::string& message) { throw Error(where + ": " + message, ErrorKind::configuration); };

    if (sample_rate_hz_ != rig_.sample_rate_hz()) {
        fail("the venue's interface runs at " + format_significant(sample_rate_hz_) + " Hz, the rig's model at " +
             format_significant(rig_.sample_rate_hz()) + " Hz; the simulation does not resample, so set "
             "audio_interface.sample_rate_hz to " + format_significant(rig_.sample_rate_hz()));
    }
    if (options_.output_channels == 0 || options_.input_channels == 0) {
        fail("the interface needs at least one output and one input");
    }
    if (!std::isfinite(options_.hidden_latency_samples) || options_.hidden_latency_samples < 0.0) {
        fail("hidden latency " + format_significant(options_.hidden_latency_samples) +
             " samples is invalid; give 0 or more samples");
    }

    const Amplifier* amplifier_used = nullptr;
    for (const auto& zone : venue.zones) {
        const Amplifier& zone_amplifier = amplifier_of(venue, zone);
        if (amplifier_used != nullptr && amplifier_used->name != zone_amplifier.name) {
            fail("zone '" + zone.name + "' is on amplifier '" + zone_amplifier.name + "' and another zone on '" +
                 amplifier_used->name + "'; the simulation models one amplifier");
        }
        amplifier_used = &zone_amplifier;
        if (!rig_.has_zone(zone.name)) {
            fail("zone '" + zone.name + "' has no source in the rig '" + rig_.rig().name +
                 "'; the simulation can only play the zones it models");
        }
        if (zone.output > options_.output_channels) {
            fail("zone '" + zone.name + "': output " + std::to_string(zone.output) + " is beyond the interface's " +
                 std::to_string(options_.output_channels) + " outputs; use outputs " + channel_list(options_.output_channels));
        }
        if (zone.output != 0) {
            zones_.push_back({zone.name, zone.output, zone.channel});
        }
    }
    if (amplifier_used != nullptr) {
        profile_ = amplifier_used->profile;
        if (profile_.sample_rate_hz != sample_rate_hz_) {
            fail("amplifier '" + amplifier_used->name + "' (profile '" + profile_.name + "') runs at " +
                 format_significant(profile_.sample_rate_hz) + " Hz and the interface at " +
                 format_significant(sample_rate_hz_) + " Hz; the simulation does not resample");
        }
    }

    std::set<std::size_t> used_inputs;
    for (const auto& mic : venue.microphones) {
        if (!rig_.has_position(mic.name)) {
            fail("microphone '" + mic.name + "' has no position in the rig '" + rig_.rig().name +
                 "'; the simulation can only record the positions it models");
        }
        if (mic.input == 0 || mic.input > options_.input_channels) {
            fail("microphone '" + mic.name + "': input " + std::to_string(mic.input) + " is beyond the interface's " +
                 std::to_string(options_.input_channels) + " inputs; use inputs " + channel_list(options_.input_channels));
        }
        if (!used_inputs.insert(mic.input).second) {
            fail("microphone '" + mic.name + "' shares input " + std::to_string(mic.input) +
                 " with another microphone; a simulated input hears one position, so give each microphone its own input");
        }
        inputs_.push_back({mic.input, mic.name});
    }

    if (const auto& loopback = venue.audio_interface.loopback) {
        if (loopback->output > options_.output_channels || loopback->input > options_.input_channels) {
            fail("loopback output " + std::to_string(loopback->output) + " to input " + std::to_string(loopback->input) +
                 " is beyond the interface's " + std::to_string(options_.output_channels) + " outputs and " +
                 std::to_string(options_.input_channels) + " inputs");
        }
        loopback_output_ = loopback->output;
        loopback_input_ = loopback->input;
    }
}

StreamFormat SimulatedCaptureStream::format() const {
    return {sample_rate_hz_, options_.output_channels, options_.input_channels};
}

std::string SimulatedCaptureStream::description() const { return "simulated rig '" + venue_name_ + "'"; }

void SimulatedCaptureStream::check_request(const CaptureRequest& request) const {
    const std::string where = description();
    const auto fail = [&](const std::string& message) { throw Error(where + ": " + message, ErrorKind::configuration); };

    if (request.playback.channel_count() != request.output_channels.size()) {
        fail("the playback signal has " + std::to_string(request.playback.channel_count()) + " channel(s) for " +
             std::to_string(request.output_channels.size()) + " output(s); give one channel per output");
    }
    if (request.playback.channel_count() > 0 && request.playback.sample_rate_hz() != sample_rate_hz_) {
        fail("the playback signal is at " + format_significant(request.playback.sample_rate_hz()) +
             " Hz and the stream runs at " + format_significant(sample_rate_hz_) + " Hz; resample it to the stream's rate");
    }
    std::set<std::size_t> outputs;
    for (const std::size_t output : request.output_channels) {
        if (output == 0 || output > options_.output_channels) {
            fail("output " + std::to_string(output) + " does not exist; the interface has outputs " +
                 channel_list(options_.output_channels));
        }
        if (!outputs.insert(output).second) {
            fail("output " + std::to_string(output) + " is requested twice; give each output one signal");
        }
    }
    for (const std::size_t input : request.input_channels) {
        if (input == 0 || input > options_.input_channels) {
            fail("input " + std::to_string(input) + " does not exist; the interface has inputs " +
                 channel_list(options_.input_channels));
        }
    }
    if (request.record_frames == 0) {
        fail("record_frames is 0; record at least the sweep and its tail");
    }
    if (static_cast<double>(request.record_frames) > max_record_s * sample_rate_hz_) {
        fail("record_frames " + std::to_string(request.record_frames) + " is more than " +
             format_significant(max_record_s) + " s; record shorter passes");
    }
}

const std::vector<std::complex<float>>& SimulatedCaptureStream::transfer_spectrum(std::size_t zone_index,
                                                                                  const std::string& position,
                                                                                  std::size_t fft_size) {
    if (fft_size != cached_fft_size_) {
        spectrum_cache_.clear();
        cached_fft_size_ = fft_size;
    }
    const auto key = std::make_pair(zone_index, position);
    auto found = spectrum_cache_.find(key);
    if (found == spectrum_cache_.end()) {
        analysis::RealFft<float> fft(fft_size);
        std::vector<std::complex<float>> spectrum(fft.bin_count());
        fft.forward(rig_.transfer_function(zones_[zone_index].zone, position), spectrum);
        found = spectrum_cache_.emplace(key, std::move(spectrum)).first;
    }
    return found->second;
}

CaptureResult SimulatedCaptureStream::play_and_record(const CaptureRequest& request) {
    check_request(request);
    const AmplifierState state = amplifier_.snapshot();
    const std::size_t frames = request.record_frames;
    const auto latency_whole = static_cast<std::size_t>(std::ceil(options_.hidden_latency_samples));
    const std::size_t fft_size = analysis::next_fast_fft_size(frames + rig_.length() + latency_whole + fft_guard_samples);
    analysis::RealFft<float> fft(fft_size);
    const PlayedSpectra played = played_spectra(request, state, fft);

    // The hidden latency as a linear phase: a band-limited fractional delay.
    std::vector<std::complex<float>> latency(fft.bin_count());
    for (std::size_t k = 0; k < latency.size(); ++k) {
        const double phase_rad = -2.0 * pi * static_cast<double>(k) * options_.hidden_latency_samples /
                                 static_cast<double>(fft_size);
        latency[k] = std::polar(1.0f, static_cast<float>(phase_rad));
    }

    CaptureResult result;
    result.recording = MultichannelSignal(request.input_channels.size(), frames, sample_rate_hz_);
    for (std::size_t i = 0; i < request.input_channels.size(); ++i) {
        record_input(request.input_channels[i], played, latency, fft, result.recording.channel(i));
    }
    ++pass_count_;
    return result;
}

SimulatedCaptureStream::PlayedSpectra SimulatedCaptureStream::played_spectra(const CaptureRequest& request,
                                                                             const AmplifierState& state,
                                                                             analysis::RealFft<float>& fft) const {
    const PolynomialCoefficients polynomial =
        polynomial_for_harmonics(options_.harmonic2_db, options_.harmonic3_db, off_threshold_db);
    const bool linear = polynomial.a2 == 0.0 && polynomial.a3 == 0.0;
    PlayedSpectra played;
    for (std::size_t z = 0; z < zones_.size(); ++z) {
        const auto signal = output_signal(request, zones_[z].output);
        if (!signal) {
            continue;
        }
        if (zones_[z].channel == 0 || zones_[z].channel > state.channels.size()) {
            throw Error(description() + ": zone '" + zones_[z].zone + "' is on amplifier channel " +
                            std::to_string(zones_[z].channel) + ", but the amplifier state has " +
                            std::to_string(state.channels.size()) + " channel(s)",
                        ErrorKind::configuration);
        }
        auto amplified = apply_channel_state(*signal, state.channels[zones_[z].channel - 1], profile_);
        // A silent output stays silent, so the oversampling is skipped for it (the outputs that a
        // pass does not play are often given as zeros).
        const bool silent = std::all_of(amplified.begin(), amplified.end(), [](float x) { return x == 0.0F; });
        if (!linear && !silent) {
            amplified = apply_oversampled_polynomial(amplified, polynomial);
        }
        std::vector<std::complex<float>> spectrum(fft.bin_count());
        fft.forward(amplified, spectrum);
        played.zones.emplace_back(z, std::move(spectrum));
    }
    if (loopback_output_ != 0) {
        if (const auto signal = output_signal(request, loopback_output_)) {
            played.loopback.resize(fft.bin_count());
            fft.forward(*signal, played.loopback);
        }
    }
    return played;
}

void SimulatedCaptureStream::record_input(std::size_t input, const PlayedSpectra& played,
                                          const std::vector<std::complex<float>>& latency,
                                          analysis::RealFft<float>& fft, std::span<float> channel) {
    std::vector<std::complex<float>> sum(fft.bin_count(), std::complex<float>{});
    const auto wired = std::find_if(inputs_.begin(), inputs_.end(), [&](const InputWiring& w) { return w.input == input; });
    if (wired != inputs_.end()) {
        for (const auto& [zone_index, spectrum] : played.zones) {
            const auto& transfer = transfer_spectrum(zone_index, wired->position, fft.size());
            for (std::size_t k = 0; k < sum.size(); ++k) {
                sum[k] += spectrum[k] * transfer[k];
            }
        }
    }
    if (input == loopback_input_ && !played.loopback.empty()) {
        for (std::size_t k = 0; k < sum.size(); ++k) {
            sum[k] += played.loopback[k];
        }
    }
    for (std::size_t k = 0; k < sum.size(); ++k) {
        sum[k] *= latency[k];
    }
    std::vector<float> recorded(fft.size());
    fft.inverse(sum, recorded);
    std::copy_n(recorded.begin(), channel.size(), channel.begin());

    if (options_.noise_level_dbfs >= off_threshold_db) {
        NoiseSource source(options_.noise_seed, pass_count_, input);
        const auto noise = pink_noise(source, fft, sample_rate_hz_, channel.size(), amplitude_from_db(options_.noise_level_dbfs));
        for (std::size_t n = 0; n < channel.size(); ++n) {
            channel[n] += noise[n];
        }
    }
}

}  // namespace linetune::simulation
