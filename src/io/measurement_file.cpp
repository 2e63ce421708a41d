#include "linetune/io/measurement_file.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/impulse_response_file.hpp"
#include "linetune/io/rew_impulse_text.hpp"
#include "linetune/io/text_table.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace linetune::io {
namespace {

std::string quoted(const std::filesystem::path& path) { return "file '" + path.string() + "'"; }

/// True when the first 4 KiB hold a NUL byte: binary data, never one of the text exports. UTF-16
/// text (which starts with a byte-order mark) counts as text, so that the text reader can say
/// how to convert it.
bool starts_with_binary_data(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    char buffer[4096];
    file.read(buffer, sizeof buffer);
    const auto count = static_cast<std::size_t>(file.gcount());
    const bool utf16_byte_order_mark =
        count >= 2 && ((buffer[0] == '\xFF' && buffer[1] == '\xFE') || (buffer[0] == '\xFE' && buffer[1] == '\xFF'));
    return !utf16_byte_order_mark && std::find(buffer, buffer + count, '\0') != buffer + count;
}

/// Places t = 0 at the user's sample, which must lie inside the file.
void apply_t0_sample(Measurement& measurement, double t0_sample) {
    const auto frames = static_cast<double>(measurement.signal.frame_count());
    if (!(t0_sample >= 0.0 && t0_sample < frames)) {
        throw Error(quoted(measurement.path) + ": --t0-sample " + format_number(t0_sample) +
                        " is outside the file's 0 to " + format_number(frames - 1) +
                        " samples; give the sample index where t = 0 sits",
                    ErrorKind::configuration);
    }
    if (measurement.signal.time_base.is_absolute()) {
        measurement.notes.push_back("--t0-sample " + format_number(t0_sample) +
                                    " replaces the time base the file carries");
    }
    measurement.signal.time_base = {t0_sample, TimeBaseSource::t0_sample_option};
}

/// Rejects a --sample-rate that differs from the container's own rate: the header is right, so the option is a mistake.
void check_declared_sample_rate(const Measurement& measurement, const MeasurementReadOptions& options) {
    if (!options.raw_layout) {
        return;
    }
    const double declared_hz = options.raw_layout->sample_rate_hz;
    const double file_hz = measurement.signal.sample_rate_hz();
    if (declared_hz > 0.0 && std::fabs(declared_hz - file_hz) > 1e-6) {
        throw Error(quoted(measurement.path) + ": the file is at " + format_number(file_hz) +
                        " Hz but --sample-rate " + format_number(declared_hz) +
                        " Hz was given; drop --sample-rate for files with a header, or convert the file",
                    ErrorKind::input);
    }
}

/// Takes the time base from an impulse-response sidecar beside the audio file (NAME.json beside
/// NAME.wav). The sidecar must agree with the audio's rate and length, because a sidecar left
/// beside a different WAV would place t = 0 at a meaningless sample.
void apply_impulse_response_sidecar(Measurement& measurement) {
    const std::filesystem::path sidecar_path = impulse_response_sidecar_path(measurement.path);
    std::error_code error;
    if (sidecar_path == measurement.path || !std::filesystem::is_regular_file(sidecar_path, error)) {
        return;
    }
    std::optional<ImpulseResponseSidecar> sidecar;
    try {
        sidecar = read_impulse_response_sidecar(sidecar_path);
    } catch (const Error& failure) {
        throw Error(quoted(measurement.path) + ": its " + failure.what() +
                        "; fix or delete the sidecar (without it the time base is relative)",
                    ErrorKind::input);
    }
    if (!sidecar) {
        measurement.notes.push_back("'" + sidecar_path.filename().string() +
                                    "' beside the file is not an impulse-response sidecar and was ignored");
        return;
    }

    const MultichannelSignal& signal = measurement.signal;
    const std::string both = quoted(measurement.path) + " and its sidecar '" + sidecar_path.string() + "'";
    if (std::fabs(sidecar->sample_rate_hz - signal.sample_rate_hz()) > 1e-6) {
        throw Error(both + " disagree: the audio is at " + format_number(signal.sample_rate_hz()) +
                    " Hz, the sidecar says " + format_number(sidecar->sample_rate_hz) +
                    " Hz; write the impulse response again or delete the sidecar");
    }
    if (sidecar->frames != signal.frame_count()) {
        throw Error(both + " disagree: the audio has " + std::to_string(signal.frame_count()) +
                    " samples, the sidecar says " + std::to_string(sidecar->frames) +
                    "; write the impulse response again or delete the sidecar");
    }
    measurement.signal.time_base = sidecar->time_base;
    measurement.notes.push_back("time base from '" + sidecar_path.filename().string() + "': t = 0 at sample " +
                                format_number(sidecar->time_base.time_zero_sample) + " (" +
                                std::string(to_string(sidecar->time_base.source)) + ")");
}

Measurement read_rew_text(const std::filesystem::path& path) {
    RewImpulseResponse rew = read_rew_impulse_text(path);
    Measurement measurement;
    measurement.path = path;
    measurement.kind = MeasurementKind::rew_impulse_text;
    measurement.info.container = "REW impulse response text";
    measurement.info.sample_format = "text";
    measurement.info.channels = 1;
    measurement.info.sample_rate_hz = rew.signal.sample_rate_hz();
    measurement.info.frames = rew.signal.frame_count();
    measurement.signal = std::move(rew.signal);
    return measurement;
}

}  // namespace

std::string_view to_string(MeasurementKind kind) {
    switch (kind) {
    case MeasurementKind::audio: return "audio";
    case MeasurementKind::rew_impulse_text: return "rew_impulse_text";
    case MeasurementKind::frequency_response: return "frequency_response";
    }
    return "audio";
}

Measurement read_measurement(const std::filesystem::path& path, const MeasurementReadOptions& options) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        const bool exists = std::filesystem::exists(path, error);
        throw Error(quoted(path) + (exists ? ": not a regular file; give a measurement file"
                                           : ": not found; check the path"));
    }

    Measurement measurement;
    measurement.path = path;
    if (looks_like_audio_container(path)) {
        AudioFile audio = read_audio_file(path);
        measurement.info = std::move(audio.info);
        measurement.signal = std::move(audio.signal);
        check_declared_sample_rate(measurement, options);
        apply_impulse_response_sidecar(measurement);
    } else if (options.raw_layout && options.raw_layout->channels > 0) {
        AudioFile audio = read_raw_audio(path, *options.raw_layout);
        measurement.info = std::move(audio.info);
        measurement.signal = std::move(audio.signal);
    } else if (starts_with_binary_data(path)) {
        // Not a container we know and not text: let the audio reader name the problem.
        AudioFile audio = read_audio_file(path);
        measurement.info = std::move(audio.info);
        measurement.signal = std::move(audio.signal);
    } else {
        const std::vector<TextLine> lines = read_text_lines(path);
        const std::vector<TextLine> head(lines.begin(),
                                         lines.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(lines.size(), 40)));
        if (is_rew_impulse_text(head)) {
            measurement = read_rew_text(path);
        } else if (looks_like_response_text(head)) {
            measurement.kind = MeasurementKind::frequency_response;
            measurement.responses = read_response_text(path);
        } else {
            throw Error(quoted(path) +
                        ": not a recognised measurement file (expected WAV, RF64, W64, AIFF or FLAC "
                        "audio, a REW impulse-response or measurement text export, Smaart or Open "
                        "Sound Meter ASCII, or CSV rows of frequency,dB[,phase]); for headerless raw "
                        "audio give --sample-rate, --channels, --sample-format and --endian");
        }
    }

    if (options.t0_sample) {
        if (measurement.kind == MeasurementKind::frequency_response) {
            throw Error(quoted(path) +
                            ": --t0-sample applies to impulse responses, but this file holds a frequency response",
                        ErrorKind::configuration);
        }
        apply_t0_sample(measurement, *options.t0_sample);
    }
    return measurement;
}

}  // namespace linetune::io
