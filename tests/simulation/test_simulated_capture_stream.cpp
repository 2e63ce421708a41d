#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/response.hpp"
#include "linetune/analysis/time_delay.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/core/units.hpp"
#include "linetune/simulation/amplifier_dsp.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/simulated_capture_stream.hpp"

#include "simulation_fixtures.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

namespace {

using namespace linetune;
using simulation::SimulatedCaptureOptions;
using simulation::SimulatedCaptureStream;

constexpr double rate_hz = 48000.0;
constexpr std::size_t loopback = 8;

SweepParameters test_sweep(double duration_s) {
    SweepParameters sweep;
    sweep.duration_s = duration_s;
    sweep.sample_rate_hz = rate_hz;
    return sweep;
}

/// A request that plays `signal` on each of `outputs` and records `inputs` for `frames`.
CaptureRequest request_for(const std::vector<float>& signal, std::vector<std::size_t> outputs,
                           std::vector<std::size_t> inputs, std::size_t frames) {
    CaptureRequest request;
    request.playback = MultichannelSignal(outputs.size(), signal.size(), rate_hz);
    for (std::size_t c = 0; c < outputs.size(); ++c) {
        std::copy(signal.begin(), signal.end(), request.playback.channel(c).begin());
    }
    request.output_channels = std::move(outputs);
    request.input_channels = std::move(inputs);
    request.record_frames = frames;
    return request;
}

/// Delays a signal by a fractional number of samples with a DFT on a long zero-padded block,
/// independently of the product. The result is exact for a band-limited signal.
std::vector<double> delayed_by(const std::vector<float>& signal, double delay_samples, std::size_t frames) {
    const std::size_t size = analysis::next_fast_fft_size(2 * (signal.size() + frames));
    analysis::RealFft<double> fft(size);
    const std::vector<double> padded(signal.begin(), signal.end());
    std::vector<std::complex<double>> bins(fft.bin_count());
    fft.forward(padded, bins);
    for (std::size_t k = 0; k < bins.size(); ++k) {
        bins[k] *= std::polar(1.0, -2.0 * pi * static_cast<double>(k) * delay_samples / static_cast<double>(size));
    }
    std::vector<double> delayed(size);
    fft.inverse(bins, delayed);
    delayed.resize(frames);
    return delayed;
}

double rms_dbfs(std::span<const float> x) {
    double sum = 0.0;
    for (const float v : x) {
        sum += static_cast<double>(v) * v;
    }
    return 10.0 * std::log10(sum / static_cast<double>(x.size()));
}

SimulatedCaptureOptions quiet_options() {
    SimulatedCaptureOptions options;
    options.noise_level_dbfs = -300.0;
    options.harmonic2_db = -300.0;
    options.harmonic3_db = -300.0;
    return options;
}

std::string configuration_error(SimulatedCaptureStream& stream, const CaptureRequest& request) {
    try {
        (void)stream.play_and_record(request);
    } catch (const Error& error) {
        CHECK(error.kind() == ErrorKind::configuration);
        return error.what();
    }
    return "(no error)";
}

}  // namespace

TEST_SUITE("simulated capture stream") {

TEST_CASE("stream reports the interface format") {
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    SimulatedCaptureStream stream(test::builtin_venue(), test::builtin_transfer_functions(), amplifier);
    CHECK(stream.format().sample_rate_hz == rate_hz);
    CHECK(stream.format().output_channels == 8);
    CHECK(stream.format().input_channels == 8);
    CHECK(stream.description() == "simulated rig 'builtin-arena'");
}

TEST_CASE("loopback input is the playback delayed by the hidden latency") {
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    SimulatedCaptureStream stream(test::builtin_venue(), test::builtin_transfer_functions(), amplifier, quiet_options());
    const auto sweep = generate_exponential_sweep(test_sweep(1.0));
    const std::size_t frames = sweep.size() + 4800;
    const auto result = stream.play_and_record(request_for(sweep, {loopback}, {loopback}, frames));

    REQUIRE(result.recording.channel_count() == 1);
    REQUIRE(result.recording.frame_count() == frames);
    CHECK(result.xrun_count == 0);
    const auto expected = delayed_by(sweep, 97.37, frames);
    const auto recorded = result.recording.channel(0);
    double worst = 0.0;
    for (std::size_t n = 0; n < frames; ++n) {
        worst = std::max(worst, std::fabs(recorded[n] - expected[n]));
    }
    MESSAGE("largest difference from the sweep delayed by 97.37 samples: " << worst);
    CHECK(worst < 1e-4);  // −80 dB re full scale: float rounding of a −6 dBFS sweep

    const auto delay = analysis::gcc_phat_delay(sweep, recorded, 200);
    CHECK(std::fabs(delay.delay_samples - 97.37) < analysis::gcc_phat_precision_samples());
}

TEST_CASE("every input carries seeded noise at the set level") {
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    SimulatedCaptureOptions options;
    options.noise_seed = 42;
    SimulatedCaptureStream stream(test::builtin_venue(), test::builtin_transfer_functions(), amplifier, options);
    const std::vector<std::size_t> inputs{1, 2, 3, 4, 5, 6, 7, 8};
    const std::size_t frames = 48000;
    const auto first = stream.play_and_record(request_for({}, {}, inputs, frames)).recording;
    const auto second = stream.play_and_record(request_for({}, {}, inputs, frames)).recording;
    for (std::size_t c = 0; c < inputs.size(); ++c) {
        INFO("input " << inputs[c]);
        CHECK(std::fabs(rms_dbfs(first.channel(c)) - (-80.0)) < 0.1);
        CHECK_FALSE(std::equal(first.channel(c).begin(), first.channel(c).end(), second.channel(c).begin()));
    }
    CHECK_FALSE(std::equal(first.channel(0).begin(), first.channel(0).end(), first.channel(1).begin()));

    SimulatedCaptureStream same_seed(test::builtin_venue(), test::builtin_transfer_functions(), amplifier, options);
    const auto again = same_seed.play_and_record(request_for({}, {}, inputs, frames)).recording;
    CHECK(std::equal(first.channel(3).begin(), first.channel(3).end(), again.channel(3).begin()));

    options.noise_seed = 43;
    SimulatedCaptureStream other_seed(test::builtin_venue(), test::builtin_transfer_functions(), amplifier, options);
    const auto other = other_seed.play_and_record(request_for({}, {}, inputs, frames)).recording;
    CHECK_FALSE(std::equal(first.channel(3).begin(), first.channel(3).end(), other.channel(3).begin()));
}

TEST_CASE("microphone input hears the zone through its transfer function") {
    // With no noise, no non-linearity and a neutral amplifier, the recording is the playback
    // convolved with the ground truth, delayed by the amplifier's latency and the hidden latency.
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    SimulatedCaptureStream stream(test::builtin_venue(), test::builtin_transfer_functions(), amplifier, quiet_options());
    std::vector<float> impulse(1, 0.5f);
    const auto& truth = test::builtin_transfer_functions().transfer_function("L-near", "front-left");
    const std::size_t frames = truth.size() + 400;
    const auto recorded = stream.play_and_record(request_for(impulse, {3}, {1}, frames)).recording;

    std::vector<float> scaled(truth.begin(), truth.end());
    for (auto& v : scaled) {
        v *= 0.5f;
    }
    const auto expected = delayed_by(scaled, 48.0 + 97.37, frames);  // 1 ms profile latency + hidden latency
    double error = 0.0;
    double reference = 0.0;
    for (std::size_t n = 0; n < frames; ++n) {
        error += (recorded.channel(0)[n] - expected[n]) * (recorded.channel(0)[n] - expected[n]);
        reference += expected[n] * expected[n];
    }
    const double error_db = 10.0 * std::log10(error / reference);
    MESSAGE("recording against the delayed transfer function: " << error_db << " dB");
    CHECK(error_db < -80.0);
}

TEST_CASE("pushed amplifier state changes the next recording as the model predicts") {
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    SimulatedCaptureStream stream(test::builtin_venue(), test::builtin_transfer_functions(), amplifier);
    const auto sweep = generate_exponential_sweep(test_sweep(2.0));
    const std::size_t frames = sweep.size() + 60000;
    const auto request = request_for(sweep, {2}, {3}, frames);  // zone L-mid, microphone mid-centre
    analysis::SweepDeconvolver deconvolver(sweep, rate_hz);
    const auto before = deconvolver.deconvolve(stream.play_and_record(request).recording.channel(0));

    // The push: band 1 a +6 dB peak at 1 kHz, the channel 3 dB down and 2 ms (96 samples) later.
    ChannelState pushed = amplifier.snapshot().channels[1];
    pushed.bands[0] = {true, FilterKind::peaking, 1000.0, 6.0, 2.0};
    pushed.gain_db = -3.0;
    pushed.delay_ms = 2.0;
    auto state = amplifier.snapshot();
    state.channels[1] = pushed;
    amplifier.replace(state);
    const auto after = deconvolver.deconvolve(stream.play_and_record(request).recording.channel(0));

    const auto shift = analysis::gcc_phat_delay(before, after, 400);
    CHECK(std::fabs(shift.delay_samples - 96.0) < 0.05);

    analysis::ResponseOptions options;
    options.start_freq_hz = 100.0;
    options.end_freq_hz = 10000.0;
    options.points_per_octave = 12.0;
    options.smoothing = {analysis::SmoothingKind::fractional_octave, 6.0};
    const double arrival = test::builtin_transfer_functions().arrival_s("L-mid", "mid-centre") * rate_hz + 48.0 + 97.37;
    const auto response_before = analysis::compute_frequency_response(before, rate_hz, arrival, options);
    const auto response_after = analysis::compute_frequency_response(after, rate_hz, arrival + 96.0, options);
    const auto& profile = amplifier_of(test::builtin_venue(), find_zone(test::builtin_venue(), "L-mid")).profile;
    const auto predicted = simulation::channel_response(pushed, profile, response_after.freq_hz);
    double worst_db = 0.0;
    for (std::size_t i = 0; i < response_after.size(); ++i) {
        const double measured_db = response_after.magnitude_db[i] - response_before.magnitude_db[i];
        const double predicted_db = 20.0 * std::log10(std::abs(predicted[i]));
        worst_db = std::max(worst_db, std::fabs(measured_db - predicted_db));
    }
    MESSAGE("largest deviation of the measured change from the pushed channel's response: " << worst_db << " dB");
    // Not exact: the 1/6-octave window averages the peak over a reverberant response, and the
    // cubic term's gain grows with the level the EQ sets (about 0.1 dB here).
    CHECK(worst_db < 0.3);
}

TEST_CASE("predicted response matches the measured one within 0.5 dB") {
    // The prediction the held-out checks use, against a measurement of the same state: L-long at
    // the farthest microphone, through three EQ bands, a gain and a delay.
    const Venue& venue = test::builtin_venue();
    const auto& rig = test::builtin_transfer_functions();
    auto state = simulation::builtin_initial_amplifier_state();
    auto& channel = state.channels[0];
    channel.bands[0] = {true, FilterKind::peaking, 2500.0, -5.0, 4.0};
    channel.bands[1] = {true, FilterKind::low_shelf, 180.0, -4.0, 0.7071};
    channel.bands[2] = {true, FilterKind::high_shelf, 6000.0, 4.0, 0.7071};
    channel.gain_db = 2.0;
    channel.delay_ms = 1.5;
    SharedAmplifierState amplifier(state);
    SimulatedCaptureStream stream(venue, rig, amplifier);

    const auto sweep = generate_exponential_sweep(test_sweep(5.0));
    analysis::SweepDeconvolver deconvolver(sweep, rate_hz);
    const auto recording = stream.play_and_record(request_for(sweep, {1}, {6}, sweep.size() + 60000)).recording;
    const auto measured_ir = deconvolver.deconvolve(recording.channel(0));

    analysis::ResponseOptions options;
    options.start_freq_hz = 60.0;
    options.end_freq_hz = 16000.0;
    options.points_per_octave = 12.0;
    options.smoothing = {analysis::SmoothingKind::fractional_octave, 6.0};
    const auto predicted = rig.predicted_response(venue, state, "L-long", "back-left", options);
    const double delay = static_cast<double>(simulation::channel_delay_samples(channel, venue.amplifiers[0].profile));
    const double arrival = rig.arrival_s("L-long", "back-left") * rate_hz + delay + 97.37;
    const auto measured = analysis::compute_frequency_response(measured_ir, rate_hz, arrival, options);

    REQUIRE(measured.size() == predicted.size());
    double worst_db = 0.0;
    for (std::size_t i = 0; i < measured.size(); ++i) {
        CHECK(measured.freq_hz[i] == predicted.freq_hz[i]);
        worst_db = std::max(worst_db, std::fabs(measured.magnitude_db[i] - predicted.magnitude_db[i]));
    }
    MESSAGE("largest difference between predicted and measured response, 60 Hz to 16 kHz: " << worst_db << " dB");
    CHECK(worst_db < 0.5);
}

TEST_CASE("requests the interface cannot serve are configuration errors") {
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    SimulatedCaptureStream stream(test::builtin_venue(), test::builtin_transfer_functions(), amplifier);
    const std::vector<float> tone(100, 0.1f);

    CHECK(configuration_error(stream, request_for(tone, {9}, {1}, 100)).find("output 9 does not exist") != std::string::npos);
    CHECK(configuration_error(stream, request_for(tone, {1}, {0}, 100)).find("input 0 does not exist") != std::string::npos);
    CHECK(configuration_error(stream, request_for(tone, {1, 1}, {1}, 100)).find("output 1 is requested twice") !=
          std::string::npos);
    CHECK(configuration_error(stream, request_for(tone, {1}, {1}, 0)).find("record_frames is 0") != std::string::npos);

    auto wrong_rate = request_for(tone, {1}, {1}, 100);
    wrong_rate.playback = MultichannelSignal(1, 100, 44100.0);
    CHECK(configuration_error(stream, wrong_rate).find("44100 Hz and the stream runs at 48000 Hz") != std::string::npos);

    auto missing_channel = request_for(tone, {1, 2}, {1}, 100);
    missing_channel.output_channels = {1};
    CHECK(configuration_error(stream, missing_channel).find("2 channel(s) for 1 output(s)") != std::string::npos);
    CHECK(stream.pass_count() == 0);
}

TEST_CASE("venue the rig cannot play is rejected when the stream is made") {
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    const auto& rig = test::builtin_transfer_functions();

    Venue unknown_mic = test::builtin_venue();
    unknown_mic.microphones[2].name = "FOH";
    CHECK(test::error_message([&] { SimulatedCaptureStream stream(unknown_mic, rig, amplifier); })
              .find("microphone 'FOH' has no position in the rig") != std::string::npos);

    Venue shared_input = test::builtin_venue();
    shared_input.microphones[1].input = 1;
    CHECK(test::error_message([&] { SimulatedCaptureStream stream(shared_input, rig, amplifier); })
              .find("shares input 1") != std::string::npos);

    Venue wrong_rate = test::builtin_venue();
    wrong_rate.audio_interface.sample_rate_hz = 44100.0;
    CHECK(test::error_message([&] { SimulatedCaptureStream stream(wrong_rate, rig, amplifier); })
              .find("does not resample") != std::string::npos);

    SimulatedCaptureOptions four_outputs;
    four_outputs.output_channels = 4;
    CHECK(test::error_message([&] { SimulatedCaptureStream stream(test::builtin_venue(), rig, amplifier, four_outputs); })
              .find("output 5 is beyond the interface's 4 outputs") != std::string::npos);
}

}  // TEST_SUITE
