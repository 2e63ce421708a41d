#include "linetune/analysis/analysis_json.hpp"

#include "linetune/core/units.hpp"

#include <cmath>

namespace linetune::analysis {
namespace {

using nlohmann::json;

/// Converts a number to JSON, or to null when it is unknown or not finite (JSON has no NaN).
json number_or_null(const std::optional<double>& value) {
    if (!value || !std::isfinite(*value)) {
        return nullptr;
    }
    return *value;
}

json number_or_null(double value) { return number_or_null(std::optional<double>(value)); }

json band_json(const BandMetrics& band) {
    json out;
    if (band.center_hz > 0.0) {
        out["center_hz"] = band.center_hz;
    }
    out["edt_s"] = number_or_null(band.edt_s);
    out["t20_s"] = number_or_null(band.t20_s);
    out["t30_s"] = number_or_null(band.t30_s);
    out["edt_correlation"] = number_or_null(band.edt_correlation);
    out["t20_correlation"] = number_or_null(band.t20_correlation);
    out["t30_correlation"] = number_or_null(band.t30_correlation);
    out["c50_db"] = number_or_null(band.c50_db);
    out["c80_db"] = number_or_null(band.c80_db);
    out["d50"] = number_or_null(band.d50);
    out["noise_floor_db"] = number_or_null(band.noise_floor_db);
    out["decay_range_db"] = number_or_null(band.decay_range_db);
    out["warnings"] = band.warnings;
    return out;
}

json metrics_json(const RoomMetrics& metrics) {
    json out = band_json(metrics.broadband);
    out["octave_bands"] = json::array();
    for (const auto& band : metrics.octave_bands) {
        out["octave_bands"].push_back(band_json(band));
    }
    return out;
}

json numbers_json(const std::vector<double>& values) {
    json out = json::array();
    for (const double value : values) {
        out.push_back(number_or_null(value));
    }
    return out;
}

json response_json(const FrequencyResponse& response, const Smoothing& smoothing) {
    json out;
    out["smoothing"] = to_string(smoothing);
    out["freq_hz"] = numbers_json(response.freq_hz);
    out["magnitude_db"] = numbers_json(response.magnitude_db);
    out["phase_deg"] = response.has_phase() ? numbers_json(response.phase_deg) : json(nullptr);
    return out;
}

json distortion_json(const HarmonicDistortion& distortion) {
    json out;
    out["freq_hz"] = numbers_json(distortion.freq_hz);
    out["fundamental_db"] = numbers_json(distortion.fundamental_db);
    out["thd_percent"] = numbers_json(distortion.thd_percent);
    for (std::size_t i = 0; i < distortion.harmonic_percent.size(); ++i) {
        out["h" + std::to_string(i + 2) + "_percent"] = numbers_json(distortion.harmonic_percent[i]);
    }
    return out;
}

json quality_json(json& out, const SignalQuality& quality) {
    out["peak_dbfs"] = number_or_null(quality.peak_dbfs);
    out["rms_dbfs"] = number_or_null(quality.rms_dbfs);
    out["crest_factor_db"] = number_or_null(quality.crest_factor_db);
    out["noise_floor_dbfs"] = number_or_null(quality.noise_floor_dbfs);
    out["peak_to_noise_db"] = number_or_null(quality.peak_to_noise_db);
    out["clipped"] = quality.clipped;
    out["clipped_samples"] = quality.clipped_samples;
    return out;
}

json timing_json(json& out, const ChannelAnalysis& channel) {
    const double fs = channel.sample_rate_hz;
    const auto ms = [&](double sample) { return ms_from_samples(sample - channel.time_zero_sample, fs); };
    out["peak_ms"] = channel.peak_sample ? number_or_null(ms(static_cast<double>(*channel.peak_sample))) : json(nullptr);
    out["peak_sample"] = channel.peak_sample ? json(*channel.peak_sample) : json(nullptr);
    out["start_ms"] = channel.start_sample ? number_or_null(ms(static_cast<double>(*channel.start_sample))) : json(nullptr);
    out["start_sample"] = channel.start_sample ? json(*channel.start_sample) : json(nullptr);

    const auto& arrival = channel.arrival;
    out["arrival_ms"] = arrival ? number_or_null(ms(arrival->arrival_sample)) : json(nullptr);
    out["arrival_sample"] = arrival ? number_or_null(arrival->arrival_sample) : json(nullptr);
    out["arrival_confidence"] = arrival ? number_or_null(arrival->confidence) : json(nullptr);
    out["onset_ms"] = arrival ? number_or_null(ms(arrival->onset_sample)) : json(nullptr);
    out["polarity"] = arrival ? json(arrival->polarity) : json(nullptr);
    return out;
}

json channel_json(const ChannelAnalysis& channel, const AnalysisOptions& options, bool multichannel) {
    json out;
    out["channel"] = channel.channel;
    if (!channel.trace_name.empty()) {
        out["trace_name"] = channel.trace_name;
    }
    out["sample_rate_hz"] = channel.sample_rate_hz > 0.0 ? json(channel.sample_rate_hz) : json(nullptr);
    out["frames"] = channel.frames;
    timing_json(out, channel);
    if (channel.quality) {
        quality_json(out, *channel.quality);
    }
    out["flags"] = channel.flags;
    out["notes"] = channel.notes;
    if (multichannel) {
        out["delays_to_channel_1_ms"] = number_or_null(channel.delay_to_channel_1_ms);
        out["delay_confidence"] = number_or_null(channel.delay_confidence);
    }
    out["metrics"] = channel.metrics ? metrics_json(*channel.metrics) : json(nullptr);
    out["response"] = channel.response ? response_json(*channel.response, options.smoothing) : json(nullptr);
    if (options.phase_split) {
        json split = nullptr;
        if (channel.phase_split) {
            split = {{"minimum_phase_deg", numbers_json(channel.phase_split->minimum_phase.phase_deg)},
                     {"excess_phase_deg", numbers_json(channel.phase_split->excess_phase_deg)},
                     {"excess_group_delay_ms", numbers_json(channel.phase_split->excess_group_delay_ms)}};
        }
        out["phase_split"] = split;
    }
    if (options.distortion) {
        out["distortion"] = channel.distortion ? distortion_json(*channel.distortion) : json(nullptr);
    }
    return out;
}

}  // namespace

json to_json(const FileAnalysis& file, const AnalysisOptions& options) {
    const io::Measurement& m = file.measurement;
    json out;
    out["path"] = m.path.string();
    out["kind"] = io::to_string(m.kind);
    out["error"] = nullptr;
    if (m.kind != io::MeasurementKind::frequency_response) {
        out["container"] = m.info.container;
        out["sample_format"] = m.info.sample_format;
        out["sample_rate_hz"] = m.info.sample_rate_hz;
        out["channel_count"] = m.info.channels;
        out["frames"] = m.info.frames;
        out["time_base"] = {{"source", to_string(file.time_base.source)},
                            {"time_zero_sample", file.time_base.time_zero_sample}};
    } else if (!m.responses.empty()) {
        out["format"] = io::to_string(m.responses.front().format);
    }
    json notes = m.info.notes;
    for (const auto& note : m.notes) {
        notes.push_back(note);
    }
    out["notes"] = notes;

    const bool multichannel = m.kind != io::MeasurementKind::frequency_response && m.info.channels > 1;
    out["channels"] = json::array();
    for (const auto& channel : file.channels) {
        out["channels"].push_back(channel_json(channel, options, multichannel));
    }

    if (!file.delay_matrix.empty()) {
        const double fs = m.info.sample_rate_hz;
        json matrix = json::array();
        for (const auto& row : file.delay_matrix) {
            json values = json::array();
            for (const auto& delay : row) {
                values.push_back(number_or_null(ms_from_samples(delay.delay_samples, fs)));
            }
            matrix.push_back(values);
        }
        out["delay_matrix_ms"] = matrix;
        out["delay_precision_ms"] = ms_from_samples(gcc_phat_precision_samples(), fs);
    }
    return out;
}

json failed_file_json(const std::filesystem::path& path, std::string_view message) {
    return {{"path", path.string()}, {"error", std::string(message)}, {"channels", json::array()}};
}

}  // namespace linetune::analysis
