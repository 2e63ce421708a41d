#include "analysis_table.hpp"
#include "commands.hpp"
#include "linetune_version.hpp"

#include "linetune/analysis/analysis_json.hpp"
#include "linetune/analysis/channel_analysis.hpp"
#include "linetune/analysis/deconvolution.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/measurement_file.hpp"
#include "linetune/io/mic_calibration.hpp"

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace linetune::cli {
namespace {

struct AnalyzeArguments {
    std::vector<std::string> files;
    std::string sweep_path;
    std::size_t channel = 0;
    double sample_rate_hz = 0.0;
    std::size_t channels = 0;
    std::string sample_format;
    std::string endian = "little";
    std::optional<double> t0_sample;
    std::string mic_cal_path;
    std::string smoothing = "1/6";
    bool distortion = false;
    bool json = false;
    double max_delay_ms = 1000.0;
    std::vector<double> window_ms;
    std::optional<double> fdw_cycles;
    bool phase_split = false;
};

/// Raw-audio layout from the options; set only when the user gave any of them.
std::optional<io::RawAudioLayout> raw_layout_from(const AnalyzeArguments& args, const CLI::App& command) {
    const bool any_given = command.count("--channels") > 0 || command.count("--sample-format") > 0 ||
                           command.count("--endian") > 0;
    if (!any_given && command.count("--sample-rate") == 0) {
        return std::nullopt;
    }
    io::RawAudioLayout layout;
    layout.sample_rate_hz = args.sample_rate_hz;
    if (!any_given) {
        // --sample-rate alone only checks files that carry their own rate.
        layout.channels = 0;
        return layout;
    }
    if (command.count("--sample-rate") == 0 || command.count("--channels") == 0 ||
        command.count("--sample-format") == 0) {
        throw Error("headerless raw audio needs --sample-rate, --channels and --sample-format "
                    "(and --endian when not little)",
                    ErrorKind::configuration);
    }
    layout.channels = args.channels;
    const auto format = io::parse_sample_format(args.sample_format);
    if (!format) {
        throw Error("--sample-format '" + args.sample_format + "' is not one of s16, s24, s32, f32, f64",
                    ErrorKind::configuration);
    }
    layout.sample_format = *format;
    const auto endian = io::parse_endian(args.endian);
    if (!endian) {
        throw Error("--endian '" + args.endian + "' is not one of little, big", ErrorKind::configuration);
    }
    layout.endian = *endian;
    try {
        io::validate_raw_audio_layout(layout);
    } catch (const Error& error) {
        throw Error(error.what(), ErrorKind::configuration);
    }
    return layout;
}

using analysis::LeftRightWindow;

analysis::AnalysisOptions analysis_options_from(const AnalyzeArguments& args) {
    analysis::AnalysisOptions options;
    options.smoothing = analysis::parse_smoothing(args.smoothing);
    if (args.channel > 0) {
        options.channel = args.channel;
    }
    options.distortion = args.distortion;
    options.max_delay_ms = args.max_delay_ms;
    if (!args.window_ms.empty()) {
        if (args.window_ms.size() != 2 || !(args.window_ms[0] >= 0.0) || !(args.window_ms[1] > 0.0)) {
            throw Error("--window-ms takes LEFT,RIGHT: milliseconds before and after the arrival, e.g. 10,500",
                        ErrorKind::configuration);
        }
        LeftRightWindow window;
        window.left_ms = args.window_ms[0];
        window.right_ms = args.window_ms[1];
        options.response_window = window;
    }
    options.fdw_cycles = args.fdw_cycles;
    options.phase_split = args.phase_split;
    if (!args.mic_cal_path.empty()) {
        try {
            options.mic_calibration = io::read_mic_calibration(args.mic_cal_path);
        } catch (const Error& error) {
            // Every response would be wrong without it: a configuration error, not one bad input.
            throw Error(std::string("--mic-cal: ") + error.what(), ErrorKind::configuration);
        }
    }
    if (args.distortion && args.sweep_path.empty()) {
        throw Error("--distortion needs the played sweep: give --sweep PLAYED.wav", ErrorKind::configuration);
    }
    return options;
}

std::unique_ptr<analysis::SweepDeconvolver> deconvolver_from(const AnalyzeArguments& args) {
    if (args.sweep_path.empty()) {
        return nullptr;
    }
    try {
        io::AudioFile sweep = io::read_audio_file(args.sweep_path);
        if (sweep.signal.channel_count() != 1) {
            throw Error("file '" + args.sweep_path + "': the played sweep must have one channel, not " +
                        std::to_string(sweep.signal.channel_count()));
        }
        const auto samples = sweep.signal.channel(0);
        return std::make_unique<analysis::SweepDeconvolver>(std::vector<float>(samples.begin(), samples.end()),
                                                            sweep.signal.sample_rate_hz());
    } catch (const Error& error) {
        throw Error(std::string("--sweep: ") + error.what(), ErrorKind::configuration);
    }
}

int run_analyze(const AnalyzeArguments& args, const CLI::App& command) {
    io::MeasurementReadOptions read_options;
    read_options.raw_layout = raw_layout_from(args, command);
    read_options.t0_sample = args.t0_sample;
    const analysis::AnalysisOptions options = analysis_options_from(args);
    const auto deconvolver = deconvolver_from(args);

    nlohmann::json document;
    document["linetune_version"] = LINETUNE_VERSION;
    document["files"] = nlohmann::json::array();
    int failed = 0;

    for (const auto& path : args.files) {
        try {
            io::Measurement measurement = io::read_measurement(path, read_options);
            const analysis::FileAnalysis result =
                analysis::analyze_measurement(std::move(measurement), options, deconvolver.get());
            if (args.json) {
                document["files"].push_back(analysis::to_json(result, options));
            } else {
                print_file_analysis(std::cout, result, options);
            }
        } catch (const Error& error) {
            const std::string message = error.what();
            const std::string located =
                message.rfind("file '", 0) == 0 ? message : "file '" + path + "': " + message;
            std::cerr << "linetune: " << located << '\n';
            if (args.json) {
                document["files"].push_back(analysis::failed_file_json(path, located));
            }
            ++failed;
        }
    }

    if (args.json) {
        std::cout << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    if (failed > 0) {
        std::cerr << "linetune: " << failed << " of " << args.files.size() << " file(s) could not be analysed\n";
    }
    return failed > 0 ? 1 : 0;
}

}  // namespace

Command add_analyze_command(CLI::App& app) {
    auto args = std::make_shared<AnalyzeArguments>();
    auto* command = app.add_subcommand(
        "analyze",
        "Analyse measurement files: impulse responses (WAV, RF64, W64, AIFF, FLAC, headerless raw, REW "
        "text), sweep recordings (with --sweep) and frequency-response exports (REW, Smaart, Open Sound "
        "Meter, CSV). Prints arrival time, levels, data-quality flags, ISO 3382-1 room metrics and the "
        "smoothed response per file and channel. A file that cannot be read is reported and the others "
        "are still analysed (exit code 1).");

    command->add_option("files", args->files, "Measurement files to analyse")->required();
    command->add_option("--sweep", args->sweep_path,
                        "The played sweep (mono WAV); the files are then recordings of it and are deconvolved");
    command->add_option("--channel", args->channel, "Analyse only this channel (1-based)")->check(number_in_range(1, 64, ""));
    command->add_option("--sample-rate", args->sample_rate_hz,
                        "Sample rate of headerless raw files, in Hz; for files with a header it must match")
        ->check(number_in_range(1000, 768000, "Hz"));
    command->add_option("--channels", args->channels, "Channel count of headerless raw files")
        ->check(number_in_range(1, 64, "channels"));
    command->add_option("--sample-format", args->sample_format, "Sample format of headerless raw files: s16, s24, s32, f32 or f64");
    command->add_option("--endian", args->endian, "Byte order of headerless raw files: little (default) or big");
    command->add_option("--t0-sample", args->t0_sample,
                        "Sample index where t = 0 sits (REW's 't=0 at sample' convention); times are then absolute")
        ->check(number_in_range(0, 1e12, "samples"));
    command->add_option("--mic-cal", args->mic_cal_path,
                        "Microphone calibration file (UMIK, Dayton or plain frequency/dB[/phase] columns); its "
                        "deviation is subtracted from every magnitude response");
    command->add_option("--smoothing", args->smoothing,
                        "Smoothing of the reported response: none, 1/1, 1/2, 1/3, 1/6, 1/12, 1/24, 1/48, var, psy or erb")
        ->capture_default_str();
    command->add_flag("--distortion", args->distortion, "With --sweep: report THD and harmonics H2 to H5 per frequency");
    command->add_option("--max-delay-ms", args->max_delay_ms,
                        "Largest delay between channels searched for in recordings that are not impulse responses, in ms")
        ->check(number_in_range(0.01, 60000, "ms"))
        ->capture_default_str();
    command->add_option("--window-ms", args->window_ms,
                        "Window the impulse response before computing its response: LEFT,RIGHT in ms around the "
                        "arrival (Hann rise before, Tukey fall after); metrics still use the whole response")
        ->delimiter(',')
        ->expected(2);
    command->add_option("--fdw-cycles", args->fdw_cycles,
                        "Frequency-dependent window of this many cycles at each frequency (e.g. 15), centred on the arrival")
        ->check(number_in_range(1, 1000, "cycles"));
    command->add_flag("--phase-split", args->phase_split,
                      "Also report minimum phase, excess phase and excess group delay (JSON only)");
    command->add_flag("--json", args->json, "Print one JSON document instead of tables");

    return {command, [args, command] { return run_analyze(*args, *command); }};
}

}  // namespace linetune::cli
