#include "linetune/capture/impulse_responses.hpp"
#include "linetune/capture/measure.hpp"
#include "linetune/capture/multi_sweep.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/simulated_capture_stream.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using namespace linetune;
namespace fs = std::filesystem;

constexpr double rate_hz = 48000.0;

/// Start and end of each response after deconvolution, in frames (see plan_multi_sweep).
struct Span {
    double start = 0.0;
    double end = 0.0;
};

bool spans_overlap(const Span& a, const Span& b) { return a.start < b.end && b.start < a.end; }

/// Checks that no zone's harmonic response (2 to highest) meets another zone's linear one, that
/// linear responses do not meet, and that wrapped harmonic responses stay after the last window.
void check_no_collision(const capture::MultiSweepPlan& plan, int highest_harmonic) {
    const auto pre_roll = static_cast<double>(plan.pre_roll_frames);
    const auto window = static_cast<double>(plan.window_frames);
    const auto circular_frames = static_cast<double>(plan.record_frames);
    for (std::size_t a = 0; a < plan.zones.size(); ++a) {
        const auto offset_a = static_cast<double>(plan.offsets_frames[a]);
        for (std::size_t b = 0; b < plan.zones.size(); ++b) {
            if (a == b) {
                continue;
            }
            const auto offset_b = static_cast<double>(plan.offsets_frames[b]);
            const Span linear_b{offset_b - pre_roll, offset_b + window};
            CHECK_FALSE(spans_overlap({offset_a - pre_roll, offset_a + window}, linear_b));
            for (int n = 2; n <= highest_harmonic; ++n) {
                const double advance = harmonic_advance_s(plan.sweep, n) * rate_hz;
                const Span harmonic{offset_a - advance - pre_roll, offset_a - advance + window};
                CAPTURE(a);
                CAPTURE(b);
                CAPTURE(n);
                CHECK_FALSE(spans_overlap(harmonic, linear_b));
                if (harmonic.start < 0.0) {
                    // The part before the pass wraps to the end of the circular deconvolution,
                    // which is at least record_frames long.
                    const Span wrapped{harmonic.start + circular_frames, std::min(harmonic.end, 0.0) + circular_frames};
                    CHECK_FALSE(spans_overlap(wrapped, linear_b));
                }
            }
        }
    }
}

/// Plays only one zone's output (and the loopback) of each request through another stream, so that
/// the same plan measures a zone alone.
class OneZoneStream final : public CaptureStream {
public:
    OneZoneStream(CaptureStream& inner, std::size_t kept_output, std::size_t loopback_output)
        : inner_(inner), kept_output_(kept_output), loopback_output_(loopback_output) {}

    [[nodiscard]] StreamFormat format() const override { return inner_.format(); }
    [[nodiscard]] std::string description() const override { return inner_.description(); }

    CaptureResult play_and_record(const CaptureRequest& request) override {
        CaptureRequest one_zone = request;
        for (std::size_t index = 0; index < one_zone.output_channels.size(); ++index) {
            const std::size_t output = one_zone.output_channels[index];
            if (output != kept_output_ && output != loopback_output_) {
                const auto channel = one_zone.playback.channel(index);
                std::fill(channel.begin(), channel.end(), 0.0F);
            }
        }
        return inner_.play_and_record(one_zone);
    }

private:
    CaptureStream& inner_;
    std::size_t kept_output_;
    std::size_t loopback_output_;
};

/// Reads the built-in venue and keeps three of its microphones, so that the convolutions stay short.
Venue venue_with_three_mics() {
    const fs::path dir = test::scratch_dir("capture-multi-sweep-venue");
    const fs::path path = test::write_file(dir / "venue.json", simulation::builtin_venue_json(47398));
    Venue venue = io::read_venue_file(path, io::default_hardware_dir());
    std::erase_if(venue.microphones, [](const Microphone& mic) {
        return mic.name != "front-left" && mic.name != "mid-centre" && mic.name != "rear-left";
    });
    return venue;
}

std::vector<float> read_response(const fs::path& path) {
    const io::AudioFile audio = io::read_audio_file(path);
    const auto samples = audio.signal.channel(0);
    return {samples.begin(), samples.end()};
}

double difference_db(const std::vector<float>& measured, const std::vector<float>& reference) {
    double error = 0.0;
    double energy = 0.0;
    for (std::size_t n = 0; n < reference.size(); ++n) {
        const double value = n < measured.size() ? measured[n] : 0.0;
        error += (value - reference[n]) * (value - reference[n]);
        energy += static_cast<double>(reference[n]) * reference[n];
    }
    return db_from_power(error / energy);
}

TEST_SUITE("multi sweep") {
    TEST_CASE("plan keeps responses apart") {
        for (const double sweep_s : {1.0, 5.0, 20.0}) {
            for (const double tail_s : {0.3, 1.2}) {
                SweepParameters sweep;
                sweep.duration_s = sweep_s;
                sweep.sample_rate_hz = rate_hz;
                CAPTURE(sweep_s);
                CAPTURE(tail_s);
                if (harmonic_advance_s(sweep, 3) * 1.5 > sweep_duration_s(sweep)) {
                    continue;
                }
                const auto plan = capture::plan_multi_sweep({"a", "b", "c", "d", "e", "f"}, sweep, tail_s);
                REQUIRE(plan.offsets_frames.size() == 6);
                CHECK(plan.offsets_frames.front() == 0);
                check_no_collision(plan, 3);
                CHECK(plan.record_frames == plan.offsets_frames.back() + plan.sweep_frames + plan.window_frames);
            }
        }
    }

    TEST_CASE("overlapped sweeps stay under ceiling") {
        SweepParameters sweep;
        sweep.duration_s = 10.0;
        sweep.level_dbfs = -6.0;
        sweep.sample_rate_hz = rate_hz;
        const auto plan = capture::plan_multi_sweep({"a", "b", "c", "d"}, sweep, 0.5);
        REQUIRE(plan.max_overlapping == 4);
        CHECK(plan.sweep.level_dbfs == doctest::Approx(-6.0 - 20.0 * std::log10(4.0)));

        std::vector<double> summed(plan.record_frames, 0.0);
        for (std::size_t zone = 0; zone < plan.zones.size(); ++zone) {
            const std::vector<float> playback = capture::multi_sweep_playback(plan, zone);
            for (std::size_t n = 0; n < playback.size(); ++n) {
                summed[n] += std::fabs(playback[n]);
            }
        }
        const double ceiling = amplitude_from_db(-6.0);
        const double peak = *std::max_element(summed.begin(), summed.end());
        CHECK(peak <= ceiling * (1.0 + 1e-6));
        CHECK(peak > 0.5 * ceiling);  // the sum still uses the ceiling, not far less
    }

    TEST_CASE("too short sweep is rejected") {
        SweepParameters sweep;
        sweep.duration_s = 0.1;
        sweep.start_freq_hz = 1000.0;
        sweep.end_freq_hz = 2000.0;
        sweep.fade_in_s = 0.005;
        sweep.sample_rate_hz = rate_hz;
        const std::string message =
            test::error_message([&] { (void)capture::plan_multi_sweep({"a", "b"}, sweep, 0.5); });
        CAPTURE(message);
        CHECK(message.find("too short for the multiple-sweep method") != std::string::npos);
        CHECK(message.find("sweep for at least") != std::string::npos);
    }

    TEST_CASE("zones sharing an output are rejected") {
        Venue venue = venue_with_three_mics();
        venue.zones[1].output = venue.zones[0].output;
        capture::MeasureOptions options;
        options.multi_sweep = true;
        const StreamFormat format{rate_hz, 8, 8};
        const std::string message = test::error_message([&] { capture::check_measurement_setup(venue, format, options); });
        CAPTURE(message);
        CHECK(message.find("share output " + std::to_string(venue.zones[0].output)) != std::string::npos);

        options.multi_sweep = false;  // one pass per zone may reuse an output
        CHECK_NOTHROW(capture::check_measurement_setup(venue, format, options));
    }

    // Six zones of the simulated rig with impulse responses over 1 s long,
    // 2nd and 3rd harmonics at -40 dB re the fundamental at the played level. The crosstalk into a
    // zone is what its response gains when the other zones play too: each zone is measured alone
    // with the same plan and the same noise, and the difference is the other zones' leakage.
    TEST_CASE("six-zone pass: 3 times faster, crosstalk under -50 dB") {
        const Venue venue = venue_with_three_mics();
        simulation::RigModel rig = simulation::builtin_rig();
        rig.room.tail_s = 1.0;
        rig.microphones.erase(std::remove_if(rig.microphones.begin(), rig.microphones.end(),
                                             [&](const auto& mic) {
                                                 return std::none_of(venue.microphones.begin(), venue.microphones.end(),
                                                                     [&](const Microphone& m) { return m.name == mic.name; });
                                             }),
                              rig.microphones.end());
        rig.probes.clear();
        const simulation::RigTransferFunctions transfer_functions(rig);
        const double response_s = static_cast<double>(transfer_functions.length()) / rate_hz;
        REQUIRE(response_s >= 1.0);

        capture::MeasureOptions options;
        options.multi_sweep = true;
        // A 30 s sweep advances its 2nd harmonic by 3 s, room for two 1.2 s windows between
        // one zone's linear and harmonic responses, so zones interleave in pairs.
        options.sweep.duration_s = 30.0;
        // The full audio band: the simulated amplifier oversamples its polynomial, so harmonics
        // above 24 kHz are removed instead of folding back as falling sweeps.
        options.sweep.end_freq_hz = 20000.0;
        options.sweep.level_dbfs = -6.0;
        // The window contains the longest response plus the interface's latency and a margin.
        options.tail_s = response_s + 0.1;
        REQUIRE(venue.zones.size() == 6);

        std::vector<std::string> zones;
        for (const Zone& zone : venue.zones) {
            zones.push_back(zone.name);
        }
        SweepParameters sweep = options.sweep;
        sweep.sample_rate_hz = rate_hz;
        const auto plan = capture::plan_multi_sweep(zones, sweep, options.tail_s);
        // y = x + a2·x² + a3·x³: the 2nd harmonic re the fundamental grows with the amplitude A,
        // the 3rd with A², so these full-scale levels give -40 dB for both at the played level.
        simulation::SimulatedCaptureOptions simulated;
        simulated.harmonic2_db = -40.0 - plan.sweep.level_dbfs;
        simulated.harmonic3_db = -40.0 - 2.0 * plan.sweep.level_dbfs;
        const std::size_t loopback_output = venue.audio_interface.loopback->output;

        const fs::path all_session = test::scratch_dir("capture-multi-sweep-all");
        capture::MeasureResult measured;
        {
            SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
            simulation::SimulatedCaptureStream stream(venue, transfer_functions, amplifier, simulated);
            measured = capture::measure(venue, stream, all_session, options);
        }
        REQUIRE(measured.multi_sweep);
        const double speed_up = measured.multi_sweep->sequential_sound_s / measured.sound_s;
        std::printf("multiple-sweep pass of 6 zones: %.1f s of sound, sequential %.1f s, %.2f times shorter\n",
                    measured.sound_s, measured.multi_sweep->sequential_sound_s, speed_up);
        CHECK(speed_up >= 3.0);
        capture::write_impulse_responses(all_session, {});

        double worst_db = -300.0;
        for (const Zone& zone : venue.zones) {
            const fs::path alone_session = test::scratch_dir("capture-multi-sweep-alone");
            SharedAmplifierState amplifier(simulation::builtin_initial_amplifier_state());
            simulation::SimulatedCaptureStream simulated_stream(venue, transfer_functions, amplifier, simulated);
            OneZoneStream stream(simulated_stream, zone.output, loopback_output);
            (void)capture::measure(venue, stream, alone_session, options);
            capture::ImpulseResponseOptions only_this_zone;
            only_this_zone.zones = {zone.name};
            const auto alone = capture::write_impulse_responses(alone_session, only_this_zone);
            REQUIRE(alone.zones.size() == 1);
            for (const auto& mic : alone.zones.front().mics) {
                const fs::path relative = fs::path("impulse-responses") / zone.name / (mic.mic + ".wav");
                const double crosstalk_db =
                    difference_db(read_response(all_session / relative), read_response(alone_session / relative));
                std::printf("zone %s, mic %s: crosstalk %.1f dB\n", zone.name.c_str(), mic.mic.c_str(), crosstalk_db);
                CAPTURE(zone.name);
                CAPTURE(mic.mic);
                CHECK(crosstalk_db <= -50.0);
                worst_db = std::max(worst_db, crosstalk_db);
            }
            fs::remove_all(alone_session);
        }
        std::printf("worst crosstalk between zones: %.1f dB\n", worst_db);
        fs::remove_all(all_session);
    }
}

}  // namespace
