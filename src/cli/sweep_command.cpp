#include "commands.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/signal.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/io/wav_writer.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

namespace linetune::cli {
namespace {

struct SweepArguments {
    std::string output;
    SweepParameters parameters;
    double fade_in_ms = 50.0;
    double fade_out_ms = 5.0;
    double silence_s = 2.0;
    std::string encoding = "float32";
    bool json = false;
};

io::WavEncoding encoding_from(const std::string& name) {
    if (name == "float32") {
        return io::WavEncoding::float32;
    }
    if (name == "pcm24") {
        return io::WavEncoding::pcm24;
    }
    if (name == "pcm16") {
        return io::WavEncoding::pcm16;
    }
    throw Error("--encoding '" + name + "' is not one of float32, pcm24, pcm16", ErrorKind::configuration);
}

int run_sweep(SweepArguments& args) {
    SweepParameters& p = args.parameters;
    p.fade_in_s = args.fade_in_ms / 1000.0;
    p.fade_out_s = args.fade_out_ms / 1000.0;
    validate(p);
    if (!(args.silence_s >= 0.0 && args.silence_s <= 600.0)) {
        throw Error("--silence-s " + std::to_string(args.silence_s) + " is outside 0 to 600 s", ErrorKind::configuration);
    }
    const io::WavEncoding encoding = encoding_from(args.encoding);

    const std::vector<float> sweep = generate_exponential_sweep(p);
    const auto silence_frames = static_cast<std::size_t>(std::llround(args.silence_s * p.sample_rate_hz));
    MultichannelSignal signal(1, sweep.size() + silence_frames, p.sample_rate_hz);
    std::copy(sweep.begin(), sweep.end(), signal.channel(0).begin());
    io::write_wav(args.output, signal, encoding);

    const double rate_s = sweep_rate_s(p);
    if (args.json) {
        nlohmann::json out;
        out["path"] = args.output;
        out["start_freq_hz"] = p.start_freq_hz;
        out["end_freq_hz"] = p.end_freq_hz;
        out["sample_rate_hz"] = p.sample_rate_hz;
        out["duration_s"] = sweep_duration_s(p);
        out["sweep_frames"] = sweep.size();
        out["silence_frames"] = silence_frames;
        out["sweep_rate_s"] = rate_s;
        out["level_dbfs"] = p.level_dbfs;
        out["harmonic_advance_ms"] = nlohmann::json::array();
        for (int n = 2; n <= 5; ++n) {
            out["harmonic_advance_ms"].push_back(1000.0 * harmonic_advance_s(p, n));
        }
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        return 0;
    }
    char line[512];
    std::snprintf(line, sizeof line,
                  "wrote %s: exponential sweep %.1f Hz to %.1f Hz, %.6f s (%zu frames, synchronized: L = %.6f s), "
                  "%.1f dBFS, then %.3f s of silence, %.0f Hz\n"
                  "harmonic impulse responses precede the linear one by: H2 %.3f ms, H3 %.3f ms, H4 %.3f ms, H5 %.3f ms\n",
                  args.output.c_str(), p.start_freq_hz, p.end_freq_hz, sweep_duration_s(p), sweep.size(), rate_s,
                  p.level_dbfs, args.silence_s, p.sample_rate_hz, 1000.0 * harmonic_advance_s(p, 2),
                  1000.0 * harmonic_advance_s(p, 3), 1000.0 * harmonic_advance_s(p, 4), 1000.0 * harmonic_advance_s(p, 5));
    std::cout << line;
    return 0;
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
    auto args = std::make_shared<SweepArguments>();
    auto* command = app.add_subcommand(
        "sweep",
        "Write an exponential sine sweep (synchronized, so harmonic responses separate cleanly) followed by "
        "silence to a mono WAV file, ready to play through a zone and to give back to 'analyze --sweep'.");
    SweepParameters& p = args->parameters;
    command->add_option("output", args->output, "WAV file to write")->required();
    command->add_option("--start-hz", p.start_freq_hz, "Start frequency in Hz")->capture_default_str();
    command->add_option("--end-hz", p.end_freq_hz, "End frequency in Hz (at most half the sample rate)")->capture_default_str();
    command->add_option("--duration-s", p.duration_s,
                        "Requested sweep duration in s; the nearest synchronized duration is used")
        ->capture_default_str();
    command->add_option("--sample-rate", p.sample_rate_hz, "Sample rate in Hz")->capture_default_str();
    command->add_option("--level-dbfs", p.level_dbfs, "Peak level of the sweep in dBFS")->capture_default_str();
    command->add_option("--fade-in-ms", args->fade_in_ms, "Half-Hann fade-in in ms")->capture_default_str();
    command->add_option("--fade-out-ms", args->fade_out_ms, "Half-Hann fade-out in ms")->capture_default_str();
    command->add_option("--silence-s", args->silence_s,
                        "Silence after the sweep in s; at least the room's decay time so the response can decay")
        ->capture_default_str();
    command->add_option("--encoding", args->encoding, "Sample encoding: float32, pcm24 or pcm16")->capture_default_str();
    command->add_flag("--json", args->json, "Print the sweep's parameters as JSON");
    return {command, [args] { return run_sweep(*args); }};
}

}  // namespace linetune::cli
