#include "linetune/analysis/signal_quality.hpp"
#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/simulation/amplifier_dsp.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/simulated_capture_stream.hpp"

#include "simulation_fixtures.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

// The simulation recovers its own ground truth. Every zone of the built-in rig is measured as
// linetune measures a real rig: one sweep on the zone's output and on the loopback output, and
// every microphone and the loopback recorded in one pass, with the default noise, non-linearity
// and hidden latency. The impulse responses are taken from the recording with the loopback as
// the time base and compared with the transfer functions the simulation was built from.

namespace {

using namespace linetune;

constexpr double rate_hz = 48000.0;
constexpr double hidden_latency_samples = 97.37;  // the default of SimulatedCaptureOptions, checked below

// A 12 s sweep, because the quietest pairs need its energy. The front fill heard from the back of
// the hall records about 19 dB under the loudest pairs, and the -80 dBFS pink noise must stay
// 40 dB under its response over a whole second of reverberation. With a 3 s sweep these pairs
// reach about -37 dB. The non-linearity alone sets a floor near -48 dB (the cubic term's gain
// at -6 dBFS).
SweepParameters measurement_sweep() {
    SweepParameters sweep;
    sweep.start_freq_hz = 20.0;
    sweep.end_freq_hz = 20000.0;
    sweep.duration_s = 12.0;
    sweep.sample_rate_hz = rate_hz;
    sweep.level_dbfs = -6.0;
    return sweep;
}

}  // namespace

TEST_SUITE("simulation ground truth") {

TEST_CASE("simulation recovers its hidden latency and transfer functions") {
    const Venue& venue = test::builtin_venue();
    const auto& truth = test::builtin_transfer_functions();
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    const simulation::SimulatedCaptureOptions options;
    REQUIRE(options.hidden_latency_samples == hidden_latency_samples);
    simulation::SimulatedCaptureStream stream(venue, truth, amplifier, options);
    REQUIRE(venue.audio_interface.loopback.has_value());
    const auto loopback = *venue.audio_interface.loopback;

    const auto sweep = generate_exponential_sweep(measurement_sweep());
    // The record continues until the longest transfer function, the amplifier's latency and the
    // hidden latency have all passed, so that no part of the response is cut.
    const auto& profile = venue.amplifiers.front().profile;
    const std::size_t amplifier_delay = simulation::channel_delay_samples(ChannelState{}, profile);
    const std::size_t response_frames = truth.length() + amplifier_delay;
    const std::size_t frames = sweep.size() + response_frames + 2 * static_cast<std::size_t>(hidden_latency_samples);

    analysis::SweepRecordingLayout layout;
    std::vector<std::size_t> inputs;
    for (const auto& mic : venue.microphones) {
        inputs.push_back(mic.input);
        layout.channel_names.push_back("mic '" + mic.name + "'");
    }
    inputs.push_back(loopback.input);
    layout.channel_names.push_back("loopback");
    layout.loopback_channel = inputs.size();

    double worst_error_db = -1000.0;
    for (const auto& zone : venue.zones) {
        CAPTURE(zone.name);
        CaptureRequest request;
        request.output_channels = {zone.output, loopback.output};
        request.input_channels = inputs;
        request.record_frames = frames;
        request.playback = MultichannelSignal(2, sweep.size(), rate_hz);
        for (std::size_t c = 0; c < 2; ++c) {
            std::copy(sweep.begin(), sweep.end(), request.playback.channel(c).begin());
        }
        const auto recording = stream.play_and_record(request).recording;
        const auto result = analysis::impulse_responses_from_sweep_recording(recording, sweep, layout);

        REQUIRE(result.loopback_status == analysis::LoopbackStatus::used);
        REQUIRE(result.latency_samples.has_value());
        MESSAGE("zone " << zone.name << ": latency found through the loopback " << *result.latency_samples
                        << " samples, hidden " << hidden_latency_samples);
        CHECK(std::fabs(*result.latency_samples - hidden_latency_samples) < 0.1);

        for (std::size_t m = 0; m < venue.microphones.size(); ++m) {
            const auto& mic = venue.microphones[m];
            // The ground truth as the interface hears it: after the amplifier's latency (whole
            // samples), limited to the band the deconvolution keeps.
            std::vector<float> delayed(amplifier_delay, 0.0f);
            const auto transfer_function = truth.transfer_function(zone.name, mic.name);
            delayed.insert(delayed.end(), transfer_function.begin(), transfer_function.end());
            const auto reference = analysis::limit_to_band(delayed, result.band, rate_hz, response_frames);
            const auto measured = analysis::impulse_response_from_time_zero(result.impulse_responses, m, response_frames);
            const double error_db = analysis::impulse_response_error_db(measured, reference);
            MESSAGE("  " << mic.name << ": time-domain error " << error_db << " dB");
            CHECK(error_db <= -40.0);
            worst_error_db = std::max(worst_error_db, error_db);
        }
    }
    MESSAGE("largest time-domain error over all zones and microphones: " << worst_error_db << " dB");
}

}  // TEST_SUITE

TEST_SUITE("simulation ground truth") {

TEST_CASE("subwoofer impulse responses from a short sweep are recognised as impulse responses") {
    // The 2 s sweep of `linetune run --simulate`: the subs' responses are narrow-band and decay
    // slowly into the noise, whose higher zero-crossing rate once read as a sweep recording.
    const Venue& venue = test::builtin_venue();
    const auto& truth = test::builtin_transfer_functions();
    SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
    simulation::SimulatedCaptureStream stream(venue, truth, amplifier);
    const auto loopback = *venue.audio_interface.loopback;

    SweepParameters parameters = measurement_sweep();
    parameters.duration_s = 2.0;
    parameters.level_dbfs = -12.0;
    const auto sweep = generate_exponential_sweep(parameters);

    analysis::SweepRecordingLayout layout;
    std::vector<std::size_t> inputs;
    for (const auto& mic : venue.microphones) {
        inputs.push_back(mic.input);
    }
    inputs.push_back(loopback.input);
    layout.loopback_channel = inputs.size();

    CaptureRequest request;
    request.output_channels = {find_zone(venue, "subs").output, loopback.output};
    request.input_channels = inputs;
    request.record_frames = sweep.size() + static_cast<std::size_t>(1.5 * rate_hz);
    request.playback = MultichannelSignal(2, sweep.size(), rate_hz);
    for (std::size_t c = 0; c < 2; ++c) {
        std::copy(sweep.begin(), sweep.end(), request.playback.channel(c).begin());
    }
    const auto result =
        analysis::impulse_responses_from_sweep_recording(stream.play_and_record(request).recording, sweep, layout);
    for (std::size_t m = 0; m < venue.microphones.size(); ++m) {
        CAPTURE(venue.microphones[m].name);
        const auto quality = analysis::assess_signal_quality(result.impulse_responses.channel(m), rate_hz);
        CHECK(quality.not_impulse_response_reason == "");
    }
}

}  // TEST_SUITE
