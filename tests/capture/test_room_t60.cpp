#include "linetune/capture/measure.hpp"
#include "linetune/capture/recording_file.hpp"
#include "linetune/capture/room_t60.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/io/wav_writer.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/simulated_capture_stream.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;

constexpr double rate_hz = 48000.0;
// Port written into the built-in venue's amplifier entry; nothing connects to it here.
constexpr std::uint16_t unused_amplifier_port = 47201;

/// Writes a room response with a known T60 (Polack's statistical model): a direct-sound impulse at
/// 10 ms, then Gaussian noise whose envelope falls by 60 dB in t60_s, exp(−3·ln(10)·t / T60).
/// White noise gives every octave band the same decay time.
fs::path write_room_response(const fs::path& dir, double t60_s) {
    const double length_s = 3.0;
    MultichannelSignal room(1, static_cast<std::size_t>(length_s * rate_hz), rate_hz);
    auto samples = room.channel(0);
    const auto direct = static_cast<std::size_t>(0.01 * rate_hz);
    samples[direct] = 1.0f;
    std::mt19937 generator(2027);
    std::normal_distribution<double> noise(0.0, 0.05);
    for (std::size_t n = direct + 1; n < samples.size(); ++n) {
        const double t_s = static_cast<double>(n - direct) / rate_hz;
        samples[n] = static_cast<float>(noise(generator) * std::exp(-3.0 * std::log(10.0) * t_s / t60_s));
    }
    const fs::path path = dir / "polack-room.wav";
    io::write_wav(path, room, io::WavEncoding::float32);
    return path;
}

/// Returns the built-in venue cut to two zones and the three mics that hear them, with no room T60.
Venue two_zone_venue(const fs::path& dir) {
    const fs::path path = test::write_file(dir / "venue.json", simulation::builtin_venue_json(unused_amplifier_port));
    Venue venue = io::read_venue_file(path, io::default_hardware_dir());
    std::erase_if(venue.zones, [](const Zone& zone) { return zone.name != "L-mid" && zone.name != "L-near"; });
    std::erase_if(venue.microphones, [](const Microphone& mic) {
        return mic.name != "near-left" && mic.name != "mid-centre" && mic.name != "mid-left";
    });
    venue.audio_interface.room_t60_s.reset();
    return venue;
}

/// Returns the built-in rig in a room whose reflections decay with the known T60. A small volume puts the
/// critical distance at a few metres, so the reverberant field dominates at the mics and the
/// octave-band decay is the room's, not the direct sound's.
simulation::RigModel rig_with_room(double t60_s) {
    simulation::RigModel rig = simulation::builtin_rig();
    rig.room.impulse_responses = {{"polack-room.wav", 1}};
    rig.room.reverberation_time_s = t60_s;
    rig.room.volume_m3 = 3000.0;
    rig.room.tail_s = 2.5;  // 150 dB of decay at T60 1 s: nothing is cut
    return rig;
}

struct RoomSession {
    fs::path dir;
    Venue venue;
    simulation::RigTransferFunctions transfer_functions;
    SharedAmplifierState amplifier{simulation::builtin_initial_amplifier_state()};
    simulation::SimulatedCaptureStream stream;

    RoomSession(const std::string& name, double t60_s, double noise_dbfs = -100.0)
        : dir(test::scratch_dir(name)), venue(two_zone_venue(dir)),
          transfer_functions(make_rig(dir, t60_s)), stream(venue, transfer_functions, amplifier, noise(noise_dbfs)) {}

    static simulation::RigTransferFunctions make_rig(const fs::path& dir, double t60_s) {
        write_room_response(dir, t60_s);
        simulation::TransferFunctionOptions options;
        options.data_dir = dir;
        return simulation::RigTransferFunctions(rig_with_room(t60_s), options);
    }

    static simulation::SimulatedCaptureOptions noise(double noise_dbfs) {
        simulation::SimulatedCaptureOptions options;
        options.noise_level_dbfs = noise_dbfs;
        return options;
    }
};

capture::MeasureOptions estimating_options(double tail_s) {
    capture::MeasureOptions options;
    options.sweep.duration_s = 1.0;
    options.tail_s = tail_s;
    options.estimate_room_t60 = true;
    return options;
}

// The estimate's tolerance: 10 % of the room's T60. T20 from a 1 s sweep in a simulated room
// scatters by a few percent between octave bands, and the rule keeps the longest band.
constexpr double t60_tolerance = 0.10;

}  // namespace

TEST_SUITE("measure room T60 estimate") {
    TEST_CASE("short first tail: zone measured again and later tails follow the T60") {
        const double t60_s = 1.0;
        RoomSession session("room-t60-short-tail", t60_s);
        std::vector<capture::MeasureProgress> estimates;
        capture::MeasureOptions options = estimating_options(0.8);
        options.progress = [&](const capture::MeasureProgress& progress) {
            if (progress.event == capture::MeasureProgress::Event::room_t60_estimated) {
                estimates.push_back(progress);
                REQUIRE(progress.room_t60 != nullptr);
                MESSAGE("estimate " << progress.room_t60->t60_s.value_or(0.0) << " s (" << progress.room_t60->metric
                                    << " at mic '" << progress.room_t60->mic << "', " << progress.room_t60->band_hz
                                    << " Hz, " << progress.room_t60->values << " band values)");
            }
        };
        const capture::MeasureResult result = capture::measure(session.venue, session.stream, session.dir / "session", options);

        REQUIRE(result.room_t60);
        REQUIRE(result.room_t60->t60_s);
        const double estimate_s = *result.room_t60->t60_s;
        CHECK(std::fabs(estimate_s - t60_s) <= t60_tolerance * t60_s);
        REQUIRE(estimates.size() == 1);
        CHECK(estimates[0].remeasure);
        CHECK(estimates[0].tail_s == doctest::Approx(estimate_s));

        // The first zone played twice (0.8 s tail, then the estimate), the second once.
        CHECK(session.stream.pass_count() == 3);
        REQUIRE(result.recordings.size() == 2);
        for (const capture::ZoneRecording& recording : result.recordings) {
            const capture::RecordingMetadata saved = capture::read_recording_metadata(recording.json_path);
            MESSAGE("zone '" << recording.zone << "': tail " << saved.tail_s << " s");
            CHECK(std::fabs(saved.tail_s - t60_s) <= t60_tolerance * t60_s);
            CHECK(saved.tail_s == doctest::Approx(estimate_s));
            REQUIRE(saved.room_t60);
            CHECK(saved.room_t60->source == "estimated");
            CHECK(saved.room_t60->zone == "L-mid");
            CHECK(saved.room_t60->t60_s == doctest::Approx(estimate_s));
        }
        const capture::RecordingMetadata first = capture::read_recording_metadata(result.recordings[0].json_path);
        REQUIRE(first.room_t60->first_tail_s);
        CHECK(*first.room_t60->first_tail_s == doctest::Approx(0.8));
        CHECK(first.room_t60->remeasured);
        const capture::RecordingMetadata second = capture::read_recording_metadata(result.recordings[1].json_path);
        CHECK_FALSE(second.room_t60->first_tail_s);
        CHECK_FALSE(second.room_t60->remeasured);
    }

    TEST_CASE("long enough first tail is kept and later tails stay") {
        const double t60_s = 0.5;
        RoomSession session("room-t60-long-tail", t60_s);
        const capture::MeasureResult result =
            capture::measure(session.venue, session.stream, session.dir / "session", estimating_options(1.0));
        REQUIRE(result.room_t60);
        REQUIRE(result.room_t60->t60_s);
        MESSAGE("estimate " << *result.room_t60->t60_s << " s");
        CHECK(std::fabs(*result.room_t60->t60_s - t60_s) <= t60_tolerance * t60_s);
        CHECK(session.stream.pass_count() == 2);
        for (const capture::ZoneRecording& recording : result.recordings) {
            CHECK(recording.metadata.tail_s == doctest::Approx(1.0));
            REQUIRE(recording.metadata.room_t60);
            CHECK_FALSE(recording.metadata.room_t60->first_tail_s);
        }
    }

    TEST_CASE("short tail whose decay reached the noise is kept") {
        // −70 dBFS of pink noise: the 0.6 s decay falls into it before the 0.5 s tail ends.
        const double t60_s = 0.6;
        RoomSession session("room-t60-noisy", t60_s, -70.0);
        capture::MeasureOptions options = estimating_options(0.5);
        options.noise_floor_s = 0.25;
        bool short_tail = false;
        bool remeasure = true;
        options.progress = [&](const capture::MeasureProgress& progress) {
            if (progress.event == capture::MeasureProgress::Event::room_t60_estimated) {
                short_tail = progress.short_tail;
                remeasure = progress.remeasure;
            }
        };

        const capture::MeasureResult result = capture::measure(session.venue, session.stream, session.dir / "session", options);
        REQUIRE(result.room_t60);
        REQUIRE(result.room_t60->t60_s);
        MESSAGE("estimate " << *result.room_t60->t60_s << " s");
        CHECK(*result.room_t60->t60_s > 0.5);
        CHECK(std::fabs(*result.room_t60->t60_s - t60_s) <= t60_tolerance * t60_s);
        CHECK(short_tail);
        CHECK_FALSE(remeasure);

        // Two noise floors and two sweeps: the first zone played once.
        CHECK(session.stream.pass_count() == 4);
        const capture::RecordingMetadata& first = result.recordings[0].metadata;
        for (const capture::RecordingChannel& channel : first.channels) {
            CHECK_FALSE(channel.decay_incomplete);
        }
        CHECK(first.tail_s == doctest::Approx(0.5));
        REQUIRE(first.room_t60);
        CHECK(first.room_t60->first_tail_s == 0.5);
        CHECK_FALSE(first.room_t60->remeasured);
        CHECK(result.recordings[1].metadata.tail_s == doctest::Approx(*result.room_t60->t60_s));
    }

    TEST_CASE("venue's room T60 is used without an estimate") {
        RoomSession session("room-t60-venue", 0.5);
        session.venue.audio_interface.room_t60_s = 0.9;
        const capture::MeasureResult result =
            capture::measure(session.venue, session.stream, session.dir / "session", estimating_options(0.6));
        CHECK_FALSE(result.room_t60);
        CHECK(session.stream.pass_count() == 2);
        for (const capture::ZoneRecording& recording : result.recordings) {
            CHECK(recording.metadata.tail_s == doctest::Approx(0.9));
            REQUIRE(recording.metadata.room_t60);
            CHECK(recording.metadata.room_t60->source == "venue file");
        }
    }

    TEST_CASE("recording without a sweep gives no estimate and says why") {
        // −100 dBFS of noise on both mics and nothing else.
        MultichannelSignal silence(2, static_cast<std::size_t>(1.5 * rate_hz), rate_hz);
        std::mt19937 generator(7);
        std::normal_distribution<double> noise(0.0, 1e-5);
        for (std::size_t channel = 0; channel < 2; ++channel) {
            for (float& sample : silence.channel(channel)) {
                sample = static_cast<float>(noise(generator));
            }
        }
        SweepParameters sweep;
        sweep.duration_s = 1.0;
        const std::vector<float> played = generate_exponential_sweep(sweep);
        const capture::RoomT60Estimate estimate = capture::estimate_room_t60(silence, played, {"FOH", "balcony"}, {});
        CHECK_FALSE(estimate.t60_s);
        REQUIRE(estimate.notes.size() == 3);
        CHECK(estimate.notes[0].find("mic 'FOH' heard no sweep") != std::string::npos);
        CHECK(estimate.notes[2].find("no octave band from 250 Hz to 4000 Hz") != std::string::npos);
    }
}
