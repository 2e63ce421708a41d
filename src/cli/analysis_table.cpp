#include "analysis_table.hpp"

#include "linetune/core/units.hpp"

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <optional>
#include <string>

namespace linetune::cli {
namespace {

std::string fixed(const std::optional<double>& value, int decimals, int width) {
    char buffer[64];
    if (!value) {
        std::snprintf(buffer, sizeof buffer, "%*s", width, "-");
    } else {
        // Adding 0.0 turns a negative zero into +0 so that "-0.000" is never printed.
        const double rounded = std::round(*value * std::pow(10.0, decimals)) / std::pow(10.0, decimals) + 0.0;
        std::snprintf(buffer, sizeof buffer, "%*.*f", width, decimals, rounded);
    }
    return buffer;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
    std::string text;
    for (const auto& item : items) {
        text += text.empty() ? item : separator + item;
    }
    return text;
}

std::optional<double> ms_of(const std::optional<double>& sample, const analysis::ChannelAnalysis& channel) {
    if (!sample) {
        return std::nullopt;
    }
    return ms_from_samples(*sample - channel.time_zero_sample, channel.sample_rate_hz);
}

void print_header(std::ostream& out, const analysis::FileAnalysis& file) {
    const io::Measurement& m = file.measurement;
    out << m.path.string() << '\n';
    if (m.kind == io::MeasurementKind::frequency_response) {
        out << "  frequency response, " << m.responses.size() << " trace(s)";
        if (!m.responses.empty()) {
            out << ", " << io::to_string(m.responses.front().format);
        }
        out << '\n';
        return;
    }
    char line[256];
    std::snprintf(line, sizeof line, "  %s, %s, %zu channel(s), %.0f Hz, %zu frames (%.3f s), t = 0 at sample %.3f (%s)\n",
                  m.info.container.c_str(), m.info.sample_format.c_str(), m.info.channels, m.info.sample_rate_hz,
                  m.info.frames, static_cast<double>(m.info.frames) / m.info.sample_rate_hz,
                  file.time_base.time_zero_sample, std::string(to_string(file.time_base.source)).c_str());
    out << line;
    for (const auto& note : m.info.notes) {
        out << "  note: " << note << '\n';
    }
    for (const auto& note : m.notes) {
        out << "  note: " << note << '\n';
    }
}

void print_impulse_rows(std::ostream& out, const analysis::FileAnalysis& file) {
    const bool multichannel = file.measurement.info.channels > 1;
    out << "  ch  arrival_ms  conf    peak_ms   start_ms  pol  peak_dBFS  PNR_dB  EDT_s  T30_s  C80_dB"
        << (multichannel ? "  delay_to_1_ms" : "") << "  flags\n";
    for (const auto& channel : file.channels) {
        const auto& arrival = channel.arrival;
        const auto& quality = channel.quality;
        const auto& broadband = channel.metrics ? std::optional(channel.metrics->broadband) : std::nullopt;
        char line[512];
        std::snprintf(
            line, sizeof line, "  %2zu  %s  %s  %s  %s  %3s  %s  %s  %s  %s  %s", channel.channel,
            fixed(ms_of(arrival ? std::optional(arrival->arrival_sample) : std::nullopt, channel), 3, 10).c_str(),
            fixed(arrival ? std::optional(arrival->confidence) : std::nullopt, 2, 4).c_str(),
            fixed(ms_of(channel.peak_sample ? std::optional(static_cast<double>(*channel.peak_sample)) : std::nullopt, channel), 3, 9).c_str(),
            fixed(ms_of(channel.start_sample ? std::optional(static_cast<double>(*channel.start_sample)) : std::nullopt, channel), 3, 9).c_str(),
            arrival ? (arrival->polarity > 0 ? "+" : "-") : "-",
            fixed(quality ? std::optional(quality->peak_dbfs) : std::nullopt, 1, 9).c_str(),
            fixed(quality ? std::optional(quality->peak_to_noise_db) : std::nullopt, 1, 6).c_str(),
            fixed(broadband ? broadband->edt_s : std::nullopt, 2, 5).c_str(),
            fixed(broadband ? broadband->t30_s : std::nullopt, 2, 5).c_str(),
            fixed(broadband ? broadband->c80_db : std::nullopt, 1, 6).c_str());
        out << line;
        if (multichannel) {
            out << "  " << fixed(channel.delay_to_channel_1_ms, 3, 13);
        }
        out << "  " << (channel.flags.empty() ? "ok" : join(channel.flags, ",")) << '\n';
    }
}

void print_octave_bands(std::ostream& out, const analysis::FileAnalysis& file) {
    for (const auto& channel : file.channels) {
        if (!channel.metrics || channel.metrics->octave_bands.empty()) {
            continue;
        }
        out << "  ch " << channel.channel << " T30_s per octave:";
        for (const auto& band : channel.metrics->octave_bands) {
            char cell[64];
            std::snprintf(cell, sizeof cell, " %g Hz %s", band.center_hz, fixed(band.t30_s, 2, 1).c_str());
            out << cell;
        }
        out << '\n';
    }
}

void print_response_rows(std::ostream& out, const analysis::FileAnalysis& file) {
    for (const auto& channel : file.channels) {
        const auto& response = *channel.response;
        char line[256];
        std::snprintf(line, sizeof line, "  trace %zu '%s': %zu points, %.1f Hz to %.1f Hz%s\n", channel.channel,
                      channel.trace_name.c_str(), response.size(),
                      response.size() > 0 ? response.freq_hz.front() : 0.0,
                      response.size() > 0 ? response.freq_hz.back() : 0.0, response.has_phase() ? ", with phase" : "");
        out << line;
    }
}

void print_notes(std::ostream& out, const analysis::FileAnalysis& file) {
    for (const auto& channel : file.channels) {
        for (const auto& note : channel.notes) {
            out << "  ch " << channel.channel << ": " << note << '\n';
        }
        if (channel.metrics) {
            for (const auto& warning : channel.metrics->broadband.warnings) {
                out << "  ch " << channel.channel << ": broadband " << warning << '\n';
            }
        }
    }
}

/// THD and H2/H3 at octave frequencies; the full curves are in --json.
void print_distortion(std::ostream& out, const analysis::FileAnalysis& file) {
    for (const auto& channel : file.channels) {
        if (!channel.distortion || channel.distortion->freq_hz.empty()) {
            continue;
        }
        const auto& d = *channel.distortion;
        out << "  ch " << channel.channel << " distortion (% of the fundamental):\n";
        out << "       freq_Hz   THD_%    H2_%    H3_%\n";
        for (double octave_hz = 31.25; octave_hz <= d.freq_hz.back(); octave_hz *= 2.0) {
            const auto nearest = std::min_element(d.freq_hz.begin(), d.freq_hz.end(), [&](double a, double b) {
                return std::fabs(std::log(a / octave_hz)) < std::fabs(std::log(b / octave_hz));
            });
            const auto i = static_cast<std::size_t>(nearest - d.freq_hz.begin());
            if (std::fabs(std::log2(d.freq_hz[i] / octave_hz)) > 0.1) {
                continue;
            }
            const auto percent = [](double value) {
                return std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
            };
            out << "  " << fixed(d.freq_hz[i], 0, 12) << fixed(percent(d.thd_percent[i]), 3, 8)
                << fixed(percent(d.harmonic_percent[0][i]), 3, 8) << fixed(percent(d.harmonic_percent[1][i]), 3, 8)
                << '\n';
        }
    }
}

}  // namespace

void print_file_analysis(std::ostream& out, const analysis::FileAnalysis& file, const analysis::AnalysisOptions& options) {
    print_header(out, file);
    if (options.mic_calibration) {
        out << "  note: microphone calibration subtracted from every response\n";
    }
    if (file.measurement.kind == io::MeasurementKind::frequency_response) {
        print_response_rows(out, file);
    } else {
        print_impulse_rows(out, file);
        print_octave_bands(out, file);
        print_distortion(out, file);
    }
    print_notes(out, file);
    out << '\n';
}

}  // namespace linetune::cli
