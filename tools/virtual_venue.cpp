// virtual_venue: a JACK client that models the rig and room between an audio interface's
// outputs and its inputs, so that `linetune measure` can be tested end to end through a real
// audio server and PortAudio. It takes the interface's outputs from PortAudio's JACK ports
// (linetune:out_K) and convolves each zone's output with the built-in rig's transfer function to
// every microphone. The loopback output goes straight to the loopback input, and the sums feed
// PortAudio's input ports (linetune:in_K). On the way it adds a latency hidden from the software
// (whole and fractional samples), a weak non-linearity per zone amplifier and noise. The
// non-linearity is computed at twice the sample rate, so its harmonics above the Nyquist
// frequency are filtered out instead of aliasing back into the band.
// It prints "ready" once its ports are active on the server; it rewires PortAudio's ports from
// system: to itself whenever they appear, so several runs of linetune can follow one another.
// For fault tests it can overload one input, as a preamp gain set far too high would, clipping it
// at full scale. It can record what the interface's outputs played, to check a fade-out. It can
// add a calibrator's steady sine to one input, to test mic calibration. On SIGUSR1 it stalls its
// process callback for longer than one period, which makes the server xrun.

#include "linetune/analysis/fft.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/signal.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/io/wav_writer.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/polynomial_distortion.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include <CLI/CLI.hpp>
#include <jack/jack.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <complex>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;

struct Arguments {
    std::string venue_path;
    std::string server_name;
    std::string client_name = "virtual-venue";
    std::string interface_client = "linetune";
    std::size_t channels = 8;
    double latency_samples = 100.37;
    double noise_dbfs = -90.0;
    double harmonic2_db = -50.0;
    double harmonic3_db = -56.0;
    /// {output, input}: the input hears the amplifier of the zone on that output without the room; empty: none
    std::vector<std::size_t> amplifier_monitor;
    double room_tail_s = 0.25;
    std::string ground_truth_dir;
    bool print_builtin_venue = false;
    std::size_t overload_input = 0;  ///< 1-based input given overload_gain_db and clipped at full scale; 0: none
    double overload_after_s = 0.0;    ///< the overload starts this long after a zone output first plays
    std::string record_outputs_path;  ///< WAV of the interface's outputs, written on exit; empty: none
    double record_outputs_s = 30.0;
    std::size_t calibrator_input = 0;  ///< 1-based input that also hears a calibrator's sine; 0: none
    double calibrator_rms_dbfs = -20.0;
    double calibrator_hz = 1000.0;
};

// Gain of an overloaded input: 60 dB lifts a mic at a sweep's usual −40 dBFS far past full scale.
constexpr double overload_gain_db = 60.0;

// A stall lasts this many periods: more than one, so the server's cycle misses its deadline.
constexpr double stall_periods = 1.5;

// Half the length of the fractional-delay kernel in samples. A Blackman-windowed sinc of 64
// taps is flat within 0.01 dB up to about 20 kHz at 48 kHz (its transition band is about
// 5.5·fs/64 wide, centred on Nyquist) and its stop-band leakage is near −74 dB.
constexpr std::size_t latency_kernel_half_length = 32;

// Share of a zone path's energy that may lie in the samples cut off its start to take off the
// oversampled non-linearity's delay (advance_path): −100 dB, far under the −40 dB error allowed
// between measured and true impulse responses. The cut part is normally exactly zero, because
// sound needs its travel time and the hidden latency to arrive.
constexpr double path_cut_energy = 1e-10;

/// Windowed-sinc fractional delay: h[n] = sinc(n − D)·w(n − D) for |n − D| < half length, with
/// the Blackman window w(x) = 0.42 + 0.5·cos(2πx/K) + 0.08·cos(4πx/K), K = 2·half length. The
/// kernel is normalised to unit DC gain, so the delayed path keeps its level.
std::vector<float> fractional_delay_kernel(double delay_samples) {
    const double width = 2.0 * latency_kernel_half_length;
    const auto length = static_cast<std::size_t>(std::ceil(delay_samples + latency_kernel_half_length)) + 1;
    std::vector<double> taps(length, 0.0);
    double sum = 0.0;
    for (std::size_t n = 0; n < length; ++n) {
        const double x = static_cast<double>(n) - delay_samples;
        if (std::fabs(x) >= latency_kernel_half_length) {
            continue;
        }
        const double sinc = x == 0.0 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
        const double window =
            0.42 + 0.5 * std::cos(2.0 * std::numbers::pi * x / width) + 0.08 * std::cos(4.0 * std::numbers::pi * x / width);
        taps[n] = sinc * window;
        sum += taps[n];
    }
    std::vector<float> kernel(length);
    for (std::size_t n = 0; n < length; ++n) {
        kernel[n] = static_cast<float>(taps[n] / sum);
    }
    return kernel;
}

std::vector<float> convolve(std::span<const float> a, std::span<const float> b) {
    std::vector<double> sum(a.size() + b.size() - 1, 0.0);
    for (std::size_t j = 0; j < b.size(); ++j) {
        if (b[j] == 0.0f) {
            continue;
        }
        for (std::size_t i = 0; i < a.size(); ++i) {
            sum[i + j] += static_cast<double>(a[i]) * b[j];
        }
    }
    return {sum.begin(), sum.end()};
}

/// One FIR split into partitions of B samples, each held as the spectrum of a 2B-point FFT
/// (uniformly partitioned overlap-save convolution).
struct PartitionedFilter {
    std::size_t source = 0;  ///< index of the input port (interface output) it filters
    std::vector<std::vector<std::complex<float>>> partitions;
};

/// The signals that feed one interface input: filtered interface outputs and noise.
struct InputPath {
    std::vector<PartitionedFilter> filters;
    float noise_rms = 0.0f;
};

/// Everything the JACK process callback uses, allocated before the client is activated.
struct Engine {
    std::size_t block = 0;  ///< B: the JACK period the filters were partitioned for
    std::size_t channels = 0;
    std::vector<jack_port_t*> from_outputs;  ///< receive interface output k
    std::vector<jack_port_t*> to_inputs;     ///< feed interface input k
    std::vector<bool> nonlinear;             ///< per interface output: a zone (true) or the loopback cable
    /// Per interface output that feeds a zone: its amplifier's y = x + a2·x² + a3·x³, oversampled.
    std::vector<std::optional<simulation::OversampledPolynomial>> amplifiers;
    std::vector<InputPath> inputs;
    std::size_t partition_count = 0;

    // Per interface output: the last 2B input samples and a ring of the spectra of the last
    // partition_count blocks (frequency-domain delay line).
    std::vector<std::vector<float>> history;
    std::vector<std::vector<std::vector<std::complex<float>>>> spectra;
    std::size_t ring_position = 0;
    std::vector<std::complex<float>> accumulator;
    std::unique_ptr<analysis::RealFft<float>> fft;
    std::uint64_t noise_state = 0x9E3779B97F4A7C15ull;
    std::atomic<bool> wrong_period{false};

    std::size_t overload_input = 0;  ///< 1-based; 0: none
    float overload_gain = 1.0f;
    std::size_t overload_after_frames = 0;
    std::size_t frames_since_playing = 0;  ///< callback-owned: frames since a zone output first played
    bool playing = false;                  ///< callback-owned: a zone output has played
    /// Interface outputs as received, interleaved, preallocated; the callback fills it once.
    std::vector<float> recorded_outputs;
    std::atomic<std::size_t> recorded_frames{0};
    std::chrono::nanoseconds stall_time{0};  ///< how long a requested stall sleeps
    std::atomic<std::size_t> stalls{0};      ///< stalls done

    std::size_t calibrator_input = 0;    ///< 1-based; 0: none
    double calibrator_amplitude = 0.0;   ///< peak of the sine: √2 times its RMS
    double calibrator_step_rad = 0.0;    ///< phase advance per sample, 2π·f / fs
    double calibrator_phase_rad = 0.0;   ///< callback-owned
};

std::atomic<bool> stall_requested{false};
extern "C" void request_stall(int) { stall_requested.store(true); }

/// xorshift64: a fast generator that needs no allocation or lock in the audio callback.
inline float next_uniform(std::uint64_t& state) noexcept {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<float>(static_cast<double>(state >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/// Approximately Gaussian noise of unit variance: the sum of four uniforms on [−1, 1) has
/// variance 4/3, scaled by √(3/4).
inline float next_noise(std::uint64_t& state) noexcept {
    const float sum = next_uniform(state) + next_uniform(state) + next_uniform(state) + next_uniform(state);
    return sum * 0.8660254f;
}

/// Appends the period's interface outputs to the preallocated recording until it is full.
void record_outputs(Engine& engine, std::size_t frame_count) noexcept {
    const std::size_t channels = engine.channels;
    const std::size_t done = engine.recorded_frames.load(std::memory_order_relaxed);
    const std::size_t frames = std::min(frame_count, engine.recorded_outputs.size() / channels - done);
    for (std::size_t k = 0; k < channels && frames > 0; ++k) {
        const auto* in = static_cast<const float*>(jack_port_get_buffer(engine.from_outputs[k], frame_count));
        for (std::size_t n = 0; n < frames; ++n) {
            engine.recorded_outputs[(done + n) * channels + k] = in[n];
        }
    }
    engine.recorded_frames.store(done + frames, std::memory_order_release);
}

/// Overloads one input like a preamp set far too high: gain, then the converter's full scale.
/// It starts overload_after_frames after a zone output first carries sound (above −80 dBFS).
void overload(Engine& engine, std::size_t frame_count) noexcept {
    if (engine.overload_input == 0) {
        return;
    }
    for (std::size_t k = 0; k < engine.channels && !engine.playing; ++k) {
        const auto* in = static_cast<const float*>(jack_port_get_buffer(engine.from_outputs[k], frame_count));
        engine.playing = engine.nonlinear[k] && std::any_of(in, in + frame_count, [](float x) { return std::fabs(x) > 1e-4f; });
    }
    if (!engine.playing) {
        return;
    }
    engine.frames_since_playing += frame_count;
    if (engine.frames_since_playing < engine.overload_after_frames) {
        return;
    }
    auto* out = static_cast<float*>(jack_port_get_buffer(engine.to_inputs[engine.overload_input - 1], frame_count));
    for (std::size_t n = 0; n < frame_count; ++n) {
        out[n] = std::clamp(out[n] * engine.overload_gain, -1.0f, 1.0f);
    }
}

/// Adds a calibrator's steady sine to one input, as if a calibrator sat on that mic.
void add_calibrator(Engine& engine, std::size_t frame_count) noexcept {
    if (engine.calibrator_input == 0) {
        return;
    }
    auto* out = static_cast<float*>(jack_port_get_buffer(engine.to_inputs[engine.calibrator_input - 1], frame_count));
    for (std::size_t n = 0; n < frame_count; ++n) {
        out[n] += static_cast<float>(engine.calibrator_amplitude * std::sin(engine.calibrator_phase_rad));
        engine.calibrator_phase_rad = std::fmod(engine.calibrator_phase_rad + engine.calibrator_step_rad, 2.0 * std::numbers::pi);
    }
}

int process(jack_nframes_t frame_count, void* user_data) noexcept {
    auto& engine = *static_cast<Engine*>(user_data);
    const std::size_t block = engine.block;
    if (frame_count != block) {
        engine.wrong_period.store(true, std::memory_order_relaxed);
        for (auto* port : engine.to_inputs) {
            auto* out = static_cast<float*>(jack_port_get_buffer(port, frame_count));
            std::fill(out, out + frame_count, 0.0f);
        }
        return 0;
    }

    // A stall for the xrun test: the server's cycle misses its deadline. Sleeping is what this
    // fault injection is for; nothing else in the callback blocks.
    if (stall_requested.exchange(false)) {
        std::this_thread::sleep_for(engine.stall_time);
        engine.stalls.fetch_add(1, std::memory_order_relaxed);
    }
    record_outputs(engine, frame_count);

    // Each interface output: shift in the new block (after the non-linearity of a zone's
    // amplifier) and transform the last 2B samples into the current ring slot.
    const std::size_t slot = engine.ring_position;
    auto& fft = *engine.fft;
    for (std::size_t k = 0; k < engine.channels; ++k) {
        const auto* in = static_cast<const float*>(jack_port_get_buffer(engine.from_outputs[k], frame_count));
        auto& history = engine.history[k];
        std::copy(history.begin() + static_cast<std::ptrdiff_t>(block), history.end(), history.begin());
        const std::span<float> newest(history.data() + block, block);
        if (engine.amplifiers[k]) {
            engine.amplifiers[k]->process({in, block}, newest);
        } else {
            std::copy(in, in + block, newest.begin());
        }
        if (engine.spectra[k].empty()) {
            continue;
        }
        std::copy(history.begin(), history.end(), fft.time_buffer().begin());
        fft.execute_forward();
        const auto bins = fft.bin_buffer();
        std::copy(bins.begin(), bins.end(), engine.spectra[k][slot].begin());
    }

    // Each interface input: Σ over its filters and partitions p of X[slot − p]·H_p, then the
    // last B samples of the inverse transform (overlap-save), plus noise.
    const std::size_t bin_count = block + 1;
    const float scale = 1.0f / static_cast<float>(2 * block);
    for (std::size_t j = 0; j < engine.channels; ++j) {
        auto* out = static_cast<float*>(jack_port_get_buffer(engine.to_inputs[j], frame_count));
        const InputPath& path = engine.inputs[j];
        std::fill(out, out + frame_count, 0.0f);
        if (!path.filters.empty()) {
            std::fill(engine.accumulator.begin(), engine.accumulator.end(), std::complex<float>());
            auto* acc = reinterpret_cast<float*>(engine.accumulator.data());
            for (const auto& filter : path.filters) {
                const auto& ring = engine.spectra[filter.source];
                for (std::size_t p = 0; p < filter.partitions.size(); ++p) {
                    const std::size_t index = (slot + engine.partition_count - p) % engine.partition_count;
                    const auto* x = reinterpret_cast<const float*>(ring[index].data());
                    const auto* h = reinterpret_cast<const float*>(filter.partitions[p].data());
                    for (std::size_t b = 0; b < 2 * bin_count; b += 2) {
                        acc[b] += x[b] * h[b] - x[b + 1] * h[b + 1];
                        acc[b + 1] += x[b] * h[b + 1] + x[b + 1] * h[b];
                    }
                }
            }
            std::copy(engine.accumulator.begin(), engine.accumulator.end(), fft.bin_buffer().begin());
            fft.execute_inverse();
            const auto time = fft.time_buffer();
            for (std::size_t n = 0; n < block; ++n) {
                out[n] = time[block + n] * scale;
            }
        }
        for (std::size_t n = 0; n < block; ++n) {
            out[n] += path.noise_rms * next_noise(engine.noise_state);
        }
    }
    add_calibrator(engine, frame_count);
    overload(engine, frame_count);
    engine.ring_position = (slot + 1) % engine.partition_count;
    return 0;
}

PartitionedFilter partition(std::span<const float> fir, std::size_t source, std::size_t block,
                            analysis::RealFft<float>& fft) {
    PartitionedFilter filter;
    filter.source = source;
    for (std::size_t start = 0; start < fir.size(); start += block) {
        const std::size_t count = std::min(block, fir.size() - start);
        std::vector<std::complex<float>> spectrum(block + 1);
        fft.forward(fir.subspan(start, count), spectrum);
        filter.partitions.push_back(std::move(spectrum));
    }
    return filter;
}

/// Returns the built-in rig with only the venue's zones and microphones, no probes, and a shorter
/// room tail, because fewer and shorter filters keep the real-time convolution cheap.
simulation::RigModel rig_for_venue(const Venue& venue, double room_tail_s) {
    simulation::RigModel rig = simulation::builtin_rig();
    std::vector<simulation::SourceModel> sources;
    for (const Zone& zone : venue.zones) {
        const auto found = std::find_if(rig.sources.begin(), rig.sources.end(),
                                        [&](const auto& source) { return source.zone == zone.name; });
        if (found == rig.sources.end()) {
            throw Error("zone '" + zone.name + "' is not a zone of the built-in rig; use its zone names",
                        ErrorKind::configuration);
        }
        sources.push_back(*found);
    }
    std::vector<simulation::ListeningPosition> microphones;
    for (const Microphone& mic : venue.microphones) {
        const auto found = std::find_if(rig.microphones.begin(), rig.microphones.end(),
                                        [&](const auto& position) { return position.name == mic.name; });
        if (found != rig.microphones.end()) {
            microphones.push_back(*found);
        }
    }
    rig.sources = std::move(sources);
    rig.microphones = std::move(microphones);
    rig.probes.clear();
    rig.room.tail_s = room_tail_s;
    rig.room.fade_out_s = std::min(rig.room.fade_out_s, room_tail_s / 2.0);
    return rig;
}

double amplitude(double level_db) { return level_db < -200.0 ? 0.0 : std::pow(10.0, level_db / 20.0); }

/// Writes each transfer function (t = 0 at the amplifier output, no latency) as a float WAV and
/// ground-truth.json listing them with the hidden latency.
void write_ground_truth(const fs::path& dir, const Venue& venue, const simulation::RigTransferFunctions& rig,
                        const Arguments& args) {
    nlohmann::json paths = nlohmann::json::array();
    for (const Zone& zone : venue.zones) {
        for (const Microphone& mic : venue.microphones) {
            if (!rig.has_position(mic.name)) {
                continue;
            }
            const auto fir = rig.transfer_function(zone.name, mic.name);
            MultichannelSignal signal(1, fir.size(), rig.sample_rate_hz());
            std::copy(fir.begin(), fir.end(), signal.channel(0).begin());
            const fs::path file = fs::path(zone.name) / (mic.name + ".wav");
            fs::create_directories(dir / zone.name);
            io::write_wav(dir / file, signal, io::WavEncoding::float32);
            paths.push_back({{"zone", zone.name}, {"mic", mic.name}, {"file", file.string()},
                             {"arrival_s", rig.arrival_s(zone.name, mic.name)}});
        }
    }
    const nlohmann::json document{{"sample_rate_hz", rig.sample_rate_hz()},
                                  {"latency_samples", args.latency_samples},
                                  {"harmonic2_db", args.harmonic2_db},
                                  {"harmonic3_db", args.harmonic3_db},
                                  {"noise_dbfs", args.noise_dbfs},
                                  {"paths", paths}};
    io::write_text_file(dir / "ground-truth.json", document.dump(2) + "\n");
}

std::atomic<bool> stop_requested{false};
extern "C" void request_stop(int) { stop_requested.store(true); }

std::string port_name(jack_port_t* port) { return jack_port_name(port); }

/// Wires the interface client's ports to the venue: out_K feeds from_output_(K+1) and
/// to_input_(K+1) feeds in_K; every other connection of those ports (system:) is removed.
void wire_interface(jack_client_t* client, const Engine& engine, const std::string& interface_client) {
    for (std::size_t k = 0; k < engine.channels; ++k) {
        const std::string out = interface_client + ":out_" + std::to_string(k);
        const std::string in = interface_client + ":in_" + std::to_string(k);
        if (jack_port_t* port = jack_port_by_name(client, out.c_str())) {
            const std::string ours = port_name(engine.from_outputs[k]);
            if (const char** connections = jack_port_get_all_connections(client, port)) {
                for (const char** c = connections; *c != nullptr; ++c) {
                    if (ours != *c) {
                        jack_disconnect(client, out.c_str(), *c);
                    }
                }
                jack_free(connections);
            }
            if (!jack_port_connected_to(port, ours.c_str())) {
                jack_connect(client, out.c_str(), ours.c_str());
                std::cout << "connected " << out << " to " << ours << std::endl;
            }
        }
        if (jack_port_t* port = jack_port_by_name(client, in.c_str())) {
            const std::string ours = port_name(engine.to_inputs[k]);
            if (const char** connections = jack_port_get_all_connections(client, port)) {
                for (const char** c = connections; *c != nullptr; ++c) {
                    if (ours != *c) {
                        jack_disconnect(client, *c, in.c_str());
                    }
                }
                jack_free(connections);
            }
            if (!jack_port_connected_to(port, ours.c_str())) {
                jack_connect(client, ours.c_str(), in.c_str());
                std::cout << "connected " << ours << " to " << in << std::endl;
            }
        }
    }
}

/// Returns a zone path's FIR started advance_samples earlier, because the zone amplifier's
/// oversampling filters delay its output by that much. The samples cut must carry no sound
/// (under path_cut_energy of the FIR's energy). Otherwise it throws a configuration Error that
/// names how much more hidden latency the path needs.
std::vector<float> advance_path(const std::vector<float>& fir, std::size_t advance_samples, const std::string& zone,
                                const std::string& mic) {
    double total = 0.0;
    for (const float x : fir) {
        total += static_cast<double>(x) * x;
    }
    double before = 0.0;
    std::size_t start = 0;
    while (start < fir.size() && before + static_cast<double>(fir[start]) * fir[start] <= path_cut_energy * total) {
        before += static_cast<double>(fir[start]) * fir[start];
        ++start;
    }
    if (start < advance_samples) {
        throw Error("zone '" + zone + "' to mic '" + mic + "': the path's sound starts " + std::to_string(start) +
                        " samples after the amplifier's input, before the " + std::to_string(advance_samples) +
                        "-sample delay of the oversampled non-linearity can be taken off it; raise --latency-samples "
                        "by at least " + std::to_string(advance_samples - start),
                    ErrorKind::configuration);
    }
    return {fir.begin() + static_cast<std::ptrdiff_t>(advance_samples), fir.end()};
}

/// Feeds monitor[1] (an input) with the amplifier of the zone on monitor[0] (an output) through
/// the hidden latency, without the room, as a line tap on the amplifier's output would. The tap
/// shows the amplifier's harmonics at their set levels at every frequency, where a mic adds the
/// room's response at the harmonic against that at the fundamental. Its path keeps the
/// oversampling filters' delay, so its arrival is not part of the ground truth.
void add_amplifier_monitor(Engine& engine, const std::vector<std::size_t>& monitor, const std::vector<float>& latency,
                           analysis::RealFft<float>& fft) {
    const std::size_t output = monitor[0];
    const std::size_t input = monitor[1];
    if (output == 0 || output > engine.channels || !engine.nonlinear[output - 1] || input == 0 ||
        input > engine.channels || !engine.inputs[input - 1].filters.empty()) {
        throw Error("--amplifier-monitor " + std::to_string(output) + "," + std::to_string(input) +
                        " needs a zone's output and an input that no mic of the rig and no loopback uses, both from 1 to " +
                        std::to_string(engine.channels) + "; give OUTPUT,INPUT",
                    ErrorKind::configuration);
    }
    engine.inputs[input - 1].filters.push_back(partition(latency, output - 1, engine.block, fft));
}

/// Builds the engine's filters for the venue. Each mic input receives every zone through its
/// amplifier's non-linearity, its transfer function and the hidden latency. The loopback input
/// receives the loopback output through the latency alone.
///
/// Each zone amplifier computes y = x + a2·x² + a3·x³ at twice the sample rate
/// (simulation::OversampledPolynomial, as the simulated capture stream does), whose resampling
/// filters delay y by a whole number of samples c. Every zone FIR starts c samples earlier to take
/// that delay off again, so the zone paths keep the hidden latency of the loopback path exactly
/// and ground-truth.json stays true.
void build_paths(Engine& engine, const Venue& venue, const simulation::RigTransferFunctions& rig, const Arguments& args) {
    analysis::RealFft<float> fft(2 * engine.block);
    const std::vector<float> latency = fractional_delay_kernel(args.latency_samples);
    const simulation::PolynomialCoefficients coefficients =
        simulation::polynomial_for_harmonics(args.harmonic2_db, args.harmonic3_db);
    const std::size_t amplifier_latency = simulation::OversampledPolynomial(coefficients).latency_samples();
    engine.amplifiers.assign(engine.channels, std::nullopt);
    const auto noise_rms = static_cast<float>(amplitude(args.noise_dbfs));
    engine.inputs.assign(engine.channels, InputPath{{}, noise_rms});
    engine.nonlinear.assign(engine.channels, false);
    std::size_t longest = 0;
    for (const Microphone& mic : venue.microphones) {
        if (!rig.has_position(mic.name) || mic.input == 0 || mic.input > engine.channels) {
            continue;
        }
        for (const Zone& zone : venue.zones) {
            if (zone.output == 0 || zone.output > engine.channels) {
                continue;
            }
            engine.nonlinear[zone.output - 1] = true;
            const std::vector<float> fir = advance_path(convolve(rig.transfer_function(zone.name, mic.name), latency),
                                                        amplifier_latency, zone.name, mic.name);
            engine.inputs[mic.input - 1].filters.push_back(partition(fir, zone.output - 1, engine.block, fft));
            longest = std::max(longest, engine.inputs[mic.input - 1].filters.back().partitions.size());
        }
    }
    if (const auto& loopback = venue.audio_interface.loopback) {
        engine.inputs[loopback->input - 1].filters.push_back(partition(latency, loopback->output - 1, engine.block, fft));
        longest = std::max(longest, engine.inputs[loopback->input - 1].filters.back().partitions.size());
    }
    if (!args.amplifier_monitor.empty()) {
        add_amplifier_monitor(engine, args.amplifier_monitor, latency, fft);
        longest = std::max(longest, engine.inputs[args.amplifier_monitor[1] - 1].filters.back().partitions.size());
    }
    engine.partition_count = std::max<std::size_t>(longest, 1);
    engine.history.assign(engine.channels, std::vector<float>(2 * engine.block, 0.0f));
    engine.spectra.assign(engine.channels, {});
    for (const auto& path : engine.inputs) {
        for (const auto& filter : path.filters) {
            engine.spectra[filter.source].assign(engine.partition_count,
                                                 std::vector<std::complex<float>>(engine.block + 1));
        }
    }
    engine.accumulator.assign(engine.block + 1, {});
    engine.fft = std::make_unique<analysis::RealFft<float>>(2 * engine.block);
    for (std::size_t k = 0; k < engine.channels; ++k) {
        if (engine.nonlinear[k]) {
            engine.amplifiers[k].emplace(coefficients);
        }
    }
}

int run(const Arguments& args) {
    if (args.print_builtin_venue) {
        // Port 9 only fills the venue's amplifier entry; nothing here or in measure connects to it.
        std::cout << simulation::builtin_venue_json(9);
        return 0;
    }
    if (args.latency_samples < static_cast<double>(latency_kernel_half_length)) {
        throw Error("--latency-samples " + std::to_string(args.latency_samples) + " is below the fractional-delay "
                        "kernel's half length of " + std::to_string(latency_kernel_half_length) + " samples; give more",
                    ErrorKind::configuration);
    }
    const Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir());
    simulation::TransferFunctionOptions options;
    options.sample_rate_hz = venue.audio_interface.sample_rate_hz;
    const simulation::RigTransferFunctions rig(rig_for_venue(venue, args.room_tail_s), options);
    if (!args.ground_truth_dir.empty()) {
        write_ground_truth(args.ground_truth_dir, venue, rig, args);
    }

    jack_status_t status{};
    const char* server = args.server_name.empty() ? nullptr : args.server_name.c_str();
    jack_client_t* client = jack_client_open(args.client_name.c_str(),
                                             static_cast<jack_options_t>(JackNoStartServer | JackUseExactName |
                                                                         (server != nullptr ? JackServerName : 0)),
                                             &status, server);
    if (client == nullptr) {
        throw Error("JACK server '" + args.server_name + "' cannot be reached (status 0x" + std::to_string(status) +
                        "); start jackd with -n NAME first",
                    ErrorKind::device);
    }
    const double server_rate_hz = jack_get_sample_rate(client);
    if (std::fabs(server_rate_hz - venue.audio_interface.sample_rate_hz) > 1e-6) {
        jack_client_close(client);
        throw Error("the JACK server runs at " + std::to_string(server_rate_hz) + " Hz but the venue at " +
                        std::to_string(venue.audio_interface.sample_rate_hz) + " Hz; start jackd with -r at the venue's rate",
                    ErrorKind::configuration);
    }

    Engine engine;
    engine.block = jack_get_buffer_size(client);
    engine.channels = args.channels;
    for (std::size_t k = 1; k <= args.channels; ++k) {
        engine.from_outputs.push_back(jack_port_register(client, ("from_output_" + std::to_string(k)).c_str(),
                                                         JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0));
        engine.to_inputs.push_back(jack_port_register(client, ("to_input_" + std::to_string(k)).c_str(),
                                                      JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0));
    }
    build_paths(engine, venue, rig, args);
    if (args.overload_input > engine.channels) {
        jack_client_close(client);
        throw Error("--overload-input " + std::to_string(args.overload_input) + " is beyond the " +
                        std::to_string(engine.channels) + " inputs; give 1 to " + std::to_string(engine.channels),
                    ErrorKind::configuration);
    }
    if (args.calibrator_input > engine.channels) {
        jack_client_close(client);
        throw Error("--calibrator-input " + std::to_string(args.calibrator_input) + " is beyond the " +
                        std::to_string(engine.channels) + " inputs; give 1 to " + std::to_string(engine.channels),
                    ErrorKind::configuration);
    }
    engine.calibrator_input = args.calibrator_input;
    engine.calibrator_amplitude = std::sqrt(2.0) * amplitude(args.calibrator_rms_dbfs);
    engine.calibrator_step_rad = 2.0 * std::numbers::pi * args.calibrator_hz / server_rate_hz;
    engine.overload_input = args.overload_input;
    engine.overload_gain = static_cast<float>(amplitude(overload_gain_db));
    engine.overload_after_frames = static_cast<std::size_t>(args.overload_after_s * server_rate_hz);
    if (!args.record_outputs_path.empty()) {
        engine.recorded_outputs.assign(
            static_cast<std::size_t>(args.record_outputs_s * server_rate_hz) * engine.channels, 0.0f);
    }
    engine.stall_time = std::chrono::nanoseconds(
        static_cast<std::int64_t>(stall_periods * static_cast<double>(engine.block) / server_rate_hz * 1e9));
    std::signal(SIGUSR1, request_stall);
    jack_set_process_callback(client, process, &engine);
    if (jack_activate(client) != 0) {
        jack_client_close(client);
        throw Error("the JACK client '" + args.client_name + "' cannot be activated", ErrorKind::device);
    }
    std::cout << "ready: " << engine.partition_count << " partitions of " << engine.block << " samples at "
              << server_rate_hz << " Hz" << std::endl;

    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    bool reported_period = false;
    std::size_t reported_stalls = 0;
    while (!stop_requested.load()) {
        wire_interface(client, engine, args.interface_client);
        if (const std::size_t stalls = engine.stalls.load(); stalls != reported_stalls) {
            std::cout << "stalled the process callback for " << stall_periods << " periods (" << stalls
                      << " so far)" << std::endl;
            reported_stalls = stalls;
        }
        if (engine.wrong_period.load() && !reported_period) {
            std::cerr << "virtual_venue: the JACK period changed from " << engine.block
                      << " frames; the venue plays silence until it is restarted\n";
            reported_period = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    jack_deactivate(client);
    jack_client_close(client);
    if (!args.record_outputs_path.empty()) {
        const std::size_t frames = engine.recorded_frames.load(std::memory_order_acquire);
        MultichannelSignal outputs(engine.channels, frames, server_rate_hz);
        for (std::size_t k = 0; k < engine.channels; ++k) {
            for (std::size_t n = 0; n < frames; ++n) {
                outputs.channel(k)[n] = engine.recorded_outputs[n * engine.channels + k];
            }
        }
        io::write_wav(args.record_outputs_path, outputs, io::WavEncoding::float32);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"virtual_venue: the built-in simulated rig as a JACK client between an audio interface's outputs "
                 "and inputs, for testing 'linetune measure' through JACK and PortAudio"};
    Arguments args;
    app.add_option("--venue", args.venue_path, "venue file whose zones and mics are built-in rig names");
    app.add_option("--server", args.server_name, "JACK server name (jackd -n NAME); default: the default server");
    app.add_option("--client-name", args.client_name, "this client's JACK name")->capture_default_str();
    app.add_option("--interface-client", args.interface_client, "JACK client name of the interface to wire (PortAudio's)")
        ->capture_default_str();
    app.add_option("--channels", args.channels, "interface outputs and inputs the venue serves")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--latency-samples", args.latency_samples,
                   "latency added to every path that the software is not told about, in samples (fractional)")
        ->capture_default_str();
    app.add_option("--noise-dbfs", args.noise_dbfs, "RMS of the noise on every input in dBFS; below -200: none")
        ->capture_default_str();
    app.add_option("--harmonic2-db", args.harmonic2_db, "2nd harmonic of a full-scale sine re the fundamental in dB")
        ->capture_default_str();
    app.add_option("--harmonic3-db", args.harmonic3_db, "3rd harmonic of a full-scale sine re the fundamental in dB")
        ->capture_default_str();
    app.add_option("--amplifier-monitor", args.amplifier_monitor,
                   "OUTPUT,INPUT: the input hears the amplifier of the zone on that output through the hidden latency "
                   "alone, without the room, to measure the amplifier's distortion")
        ->delimiter(',')
        ->expected(2);
    app.add_option("--room-tail-s", args.room_tail_s, "room response kept after the direct sound, in seconds")
        ->check(CLI::Range(0.02, 2.0))
        ->capture_default_str();
    app.add_option("--ground-truth", args.ground_truth_dir,
                   "folder to write the transfer functions (ZONE/MIC.wav) and ground-truth.json into");
    app.add_flag("--print-builtin-venue", args.print_builtin_venue, "print the built-in venue file and exit");
    app.add_option("--overload-input", args.overload_input,
                   "1-based input whose signal gets +60 dB and clips at full scale (a preamp gain set far too high)");
    app.add_option("--overload-after-s", args.overload_after_s,
                   "seconds after a zone output first plays before --overload-input starts clipping")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str();
    app.add_option("--record-outputs", args.record_outputs_path,
                   "WAV file to write on exit with what the interface's outputs played (the first --record-outputs-s)");
    app.add_option("--record-outputs-s", args.record_outputs_s, "seconds of outputs kept for --record-outputs")
        ->check(CLI::Range(1.0, 600.0))
        ->capture_default_str();
    app.add_option("--calibrator-input", args.calibrator_input,
                   "1-based input that also hears a calibrator's steady sine (--calibrator-rms-dbfs, --calibrator-hz)");
    app.add_option("--calibrator-rms-dbfs", args.calibrator_rms_dbfs, "RMS level of the calibrator's sine in dBFS")
        ->check(CLI::Range(-120.0, -3.02))
        ->capture_default_str();
    app.add_option("--calibrator-hz", args.calibrator_hz, "frequency of the calibrator's sine in Hz")
        ->check(CLI::Range(20.0, 20000.0))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (!args.print_builtin_venue && args.venue_path.empty()) {
        std::cerr << "virtual_venue: --venue is required\n";
        return 2;
    }
    try {
        return run(args);
    } catch (const Error& error) {
        std::cerr << "virtual_venue: " << error.what() << '\n';
        return exit_code_for(error.kind());
    }
}
