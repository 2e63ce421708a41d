#include "linetune/report/session_report.hpp"

#include "html_text.hpp"

#include "linetune/core/format.hpp"
#include "linetune/io/text_file_writer.hpp"
#include "linetune/report/svg_plot.hpp"

#include <cmath>
#include <sstream>

namespace linetune::report {
namespace {

// Colours that stay distinct with red-green colour blindness too: before in orange-red, after
// in blue, the target in near-black.
constexpr const char* before_colour = "#d35400";
constexpr const char* after_colour = "#1f5fa8";
constexpr const char* target_colour = "#222222";

// The audible range the frequency plots span.
constexpr double plot_low_hz = 20.0;
constexpr double plot_high_hz = 20000.0;

constexpr const char* page_style = R"(
body { font-family: sans-serif; margin: 0 auto; max-width: 1340px; padding: 0 16px 40px; color: #111; background: #f6f7f9; }
h1 { font-size: 24px; margin: 20px 0 4px; }
h2 { font-size: 20px; margin: 28px 0 8px; border-bottom: 2px solid #ccd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
p.meta { color: #444; margin: 2px 0; }
nav a { margin-right: 12px; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; font-size: 13px; align-self: flex-start; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #ccd; padding: 3px 8px; text-align: right; }
th { background: #e8eaf0; }
td.name, th.name { text-align: left; }
.outcome-verified { color: #1e7b34; font-weight: bold; }
.outcome-failed { color: #b00020; font-weight: bold; }
.banner { padding: 8px 12px; border-radius: 4px; margin: 8px 0; font-weight: bold; }
.banner.good { background: #e3f4e6; border: 1px solid #8fca9b; }
.banner.bad { background: #fbe4e6; border: 1px solid #e79aa3; }
.banner.info { background: #eef1f8; border: 1px solid #b7c1da; }
ul.warnings li { margin: 3px 0; }
.plots { display: flex; flex-wrap: wrap; gap: 10px; }
figure.plot { margin: 0; background: #fff; border: 1px solid #d5d8dc; }
figure.plot figcaption { font-size: 12px; color: #555; padding: 2px 8px 6px; max-width: 624px; }
section.zone { background: #fbfbfc; }
article.mic { border-top: 1px dashed #ccd; margin-top: 12px; }
)";

std::string fixed_or_dash(std::optional<double> value, int decimals) {
    return value && std::isfinite(*value) ? format_fixed(*value, decimals) : "–";
}

std::string quoted(const std::string& name) { return "'" + name + "'"; }

PlotSeries series(std::string name, const char* colour, LineStyle style, std::vector<double> x, std::vector<double> y) {
    return {std::move(name), colour, style, std::move(x), std::move(y)};
}

PlotAxis frequency_axis() { return {"frequency (Hz)", plot_low_hz, plot_high_hz, AxisScale::logarithmic}; }

ShadedRange fit_band(const Zone& zone) {
    return {"fit band " + format_significant(zone.fit_band_hz.low_hz, 4) + "–" +
                format_significant(zone.fit_band_hz.high_hz, 5) + " Hz",
            zone.fit_band_hz.low_hz, zone.fit_band_hz.high_hz};
}

/// Writes a plot as a figure with a caption; data-zone and data-mic name what it shows.
void write_figure(std::ostringstream& html, const Plot& plot, const std::string& zone, const std::string& mic,
                  const std::string& caption) {
    html << "<figure class=\"plot\" data-plot=\"" << escape_html(plot.kind) << "\" data-zone=\"" << escape_html(zone)
         << "\"";
    if (!mic.empty()) {
        html << " data-mic=\"" << escape_html(mic) << "\"";
    }
    html << ">\n" << render_svg(plot);
    if (!caption.empty()) {
        html << "<figcaption>" << escape_html(caption) << "</figcaption>";
    }
    html << "</figure>\n";
}

/// Returns the zone target on the mic's grid, shifted to the mic's mean level in the fit band. So
/// the plot compares shape and not absolute level, as the tuning does when it removes level.
std::vector<double> aligned_target_db(const Venue& venue, const Zone& zone, const FrequencyResponse& response) {
    std::vector<double> target;
    double offset_sum_db = 0.0;
    std::size_t offset_count = 0;
    for (std::size_t i = 0; i < response.size(); ++i) {
        target.push_back(target_db(venue, zone, response.freq_hz[i]));
        const double f = response.freq_hz[i];
        if (f >= zone.fit_band_hz.low_hz && f <= zone.fit_band_hz.high_hz && std::isfinite(response.magnitude_db[i])) {
            offset_sum_db += response.magnitude_db[i] - target.back();
            ++offset_count;
        }
    }
    const double offset_db = offset_count == 0 ? 0.0 : offset_sum_db / static_cast<double>(offset_count);
    for (double& value : target) {
        value += offset_db;
    }
    return target;
}

void write_zone_average(std::ostringstream& html, const ZoneView& zone) {
    if (!zone.tuned || zone.predicted_before.size() == 0) {
        html << "<p>No tuning for this zone in corrections.json.</p>\n";
        return;
    }
    Plot plot;
    plot.kind = "zone-magnitude";
    plot.title = "zone " + quoted(zone.zone.name) + ": spatial average, 1/6 octave";
    plot.x = frequency_axis();
    plot.shaded = fit_band(zone.zone);
    plot.series = {
        series("measured before", before_colour, LineStyle::solid, zone.predicted_before.freq_hz,
               zone.predicted_before.magnitude_db),
        series("predicted after", after_colour, LineStyle::dashed, zone.predicted_after.freq_hz,
               zone.predicted_after.magnitude_db),
        series("target", target_colour, LineStyle::dotted, zone.target.freq_hz, zone.target.magnitude_db),
    };
    // The grid steps by 6 dB. At least 24 dB are shown, so small ripples are not blown up, and at
    // most 60 dB, so a deep null outside the band does not squash the band.
    plot.y = fit_y_axis("level (dB)", plot.series, 6.0, 24.0, 60.0);
    write_figure(html, plot, zone.zone.name, "",
                 "The weighted average of the zone's mics with the settings applied while measuring removed, "
                 "the response the new settings are predicted to give, and the target aligned to its level.");
}

void write_mic_plots(std::ostringstream& html, const Venue& venue, const ZoneView& zone, const MicView& mic) {
    const ImpulseResponseView* before = mic.before ? &*mic.before : nullptr;
    const ImpulseResponseView* after = mic.after ? &*mic.after : nullptr;
    const std::string& zone_name = zone.zone.name;

    Plot magnitude;
    magnitude.kind = "magnitude";
    magnitude.title = "mic " + quoted(mic.mic) + ": magnitude, 1/6 octave";
    magnitude.x = frequency_axis();
    magnitude.shaded = fit_band(zone.zone);
    Plot phase = magnitude;
    phase.kind = "phase";
    phase.title = "mic " + quoted(mic.mic) + ": phase, direct sound's delay removed";
    phase.shaded.reset();
    Plot impulse;
    impulse.kind = "impulse-response";
    impulse.title = "mic " + quoted(mic.mic) + ": impulse response";
    Plot energy = impulse;
    energy.kind = "energy-time";
    energy.title = "mic " + quoted(mic.mic) + ": energy-time curve";
    Plot snr = magnitude;
    snr.kind = "signal-to-noise";
    snr.title = "mic " + quoted(mic.mic) + ": signal-to-noise ratio, 1/3 octave";
    snr.shaded.reset();

    for (const auto& [view, name, colour] : {std::tuple{before, "before", before_colour},
                                            std::tuple{after, "after", after_colour}}) {
        if (view == nullptr) {
            continue;
        }
        magnitude.series.push_back(
            series(name, colour, LineStyle::solid, view->response.freq_hz, view->response.magnitude_db));
        if (view->response.has_phase()) {
            phase.series.push_back(series(name, colour, LineStyle::solid, view->response.freq_hz, view->response.phase_deg));
        }
        impulse.series.push_back(series(name, colour, LineStyle::solid, view->impulse_time_ms, view->impulse_samples));
        energy.series.push_back(series(name, colour, LineStyle::solid, view->energy_time_ms, view->energy_time_db));
        snr.series.push_back(series(name, colour, LineStyle::solid, view->signal_to_noise.freq_hz,
                                    view->signal_to_noise.magnitude_db));
    }
    if (before != nullptr) {
        magnitude.series.push_back(series("target", target_colour, LineStyle::dotted, before->response.freq_hz,
                                          aligned_target_db(venue, zone.zone, before->response)));
    }
    magnitude.y = fit_y_axis("level (dB re full scale)", magnitude.series, 6.0, 24.0, 60.0);
    write_figure(html, magnitude, zone_name, mic.mic,
                 "Measured at this mic before and after the push; the target is shifted to the mic's mean level in "
                 "the fit band.");

    if (!phase.series.empty()) {
        phase.y = {"phase (degrees)", -180.0, 180.0, AxisScale::linear};
        write_figure(html, phase, zone_name, mic.mic, "");
    }

    const auto time_range = [](const Plot& plot) {
        double low = INFINITY;
        double high = -INFINITY;
        for (const auto& curve : plot.series) {
            if (!curve.x.empty()) {
                low = std::min(low, curve.x.front());
                high = std::max(high, curve.x.back());
            }
        }
        return std::pair{low, high};
    };
    if (!impulse.series.empty() && !impulse.series.front().x.empty()) {
        const auto [low_ms, high_ms] = time_range(impulse);
        impulse.x = {"time (ms) from t = 0", low_ms, high_ms, AxisScale::linear};
        impulse.y = {"amplitude (re peak)", -1.0, 1.0, AxisScale::linear};
        write_figure(html, impulse, zone_name, mic.mic,
                     "From 5 ms before to 60 ms after the direct sound; t = 0 is the " +
                         (before != nullptr ? before->time_base : std::string("file start")) + " time base.");
    }
    if (!energy.series.empty() && !energy.series.front().x.empty()) {
        const auto [low_ms, high_ms] = time_range(energy);
        energy.x = {"time (ms) from t = 0", low_ms, high_ms, AxisScale::linear};
        // 10 dB steps over the 80 dB a measurement sweep usually gets above the noise.
        energy.y = fit_y_axis("level (dB re peak)", energy.series, 10.0, 40.0, 80.0);
        write_figure(html, energy, zone_name, mic.mic, "Squared Hilbert envelope of the impulse response.");
    }
    if (!snr.series.empty() && !snr.series.front().x.empty()) {
        snr.y = fit_y_axis("ratio (dB)", snr.series, 10.0, 40.0, 100.0);
        write_figure(html, snr, zone_name, mic.mic,
                     "Spectrum of the first quarter of the impulse response against its last quarter. Where the "
                     "response is shorter than the room's decay the last quarter still holds reverberation, so the "
                     "ratio is a lower bound.");
    }
}

void write_room_metrics(std::ostringstream& html, const MicView& mic) {
    if (!mic.before || !mic.before->metrics) {
        return;
    }
    const analysis::RoomMetrics& metrics = *mic.before->metrics;
    html << "<table class=\"room-metrics\" data-mic=\"" << escape_html(mic.mic)
         << "\"><caption>ISO 3382-1 room metrics at mic " << escape_html(quoted(mic.mic))
         << " (before)</caption>\n<tr><th class=\"name\">octave band</th><th>EDT (s)</th><th>T30 (s)</th><th>C80 "
            "(dB)</th></tr>\n";
    for (const auto& band : metrics.octave_bands) {
        html << "<tr><td class=\"name\">" << format_significant(band.center_hz, 4) << " Hz</td><td>"
             << fixed_or_dash(band.edt_s, 2) << "</td><td>" << fixed_or_dash(band.t30_s, 2) << "</td><td>"
             << fixed_or_dash(band.c80_db, 1) << "</td></tr>\n";
    }
    html << "<tr><td class=\"name\">broadband</td><td>" << fixed_or_dash(metrics.broadband.edt_s, 2) << "</td><td>"
         << fixed_or_dash(metrics.broadband.t30_s, 2) << "</td><td>" << fixed_or_dash(metrics.broadband.c80_db, 1)
         << "</td></tr>\n</table>\n";
}

void write_zone(std::ostringstream& html, const SessionView& session, const ZoneView& zone, std::size_t index) {
    const Zone& z = zone.zone;
    html << "<section class=\"zone\" id=\"zone-" << index << "\" data-zone=\"" << escape_html(z.name) << "\">\n<h2>Zone "
         << escape_html(quoted(z.name)) << "</h2>\n<p class=\"meta\">" << escape_html(z.system.empty() ? "" : z.system + ", ")
         << "amplifier " << escape_html(quoted(z.amplifier)) << " channel " << z.channel << ", fit band "
         << format_significant(z.fit_band_hz.low_hz, 4) << "–" << format_significant(z.fit_band_hz.high_hz, 5)
         << " Hz, target offset " << format_fixed(z.level_offset_db, 1) << " dB</p>\n";
    if (zone.tuned) {
        html << "<table class=\"bands\"><tr><th>band</th><th class=\"name\">type</th><th>frequency (Hz)</th><th>gain "
                "(dB)</th><th>Q</th></tr>\n";
        for (std::size_t i = 0; i < zone.bands.size(); ++i) {
            const BandView& band = zone.bands[i];
            html << "<tr><td>" << i + 1 << "</td><td class=\"name\">" << escape_html(band.type) << "</td><td>"
                 << format_fixed(band.freq_hz, 1) << "</td><td>" << format_fixed(band.gain_db, 2) << "</td><td>"
                 << format_fixed(band.q, 3) << "</td></tr>\n";
        }
        html << "</table>\n";
    }
    html << "<div class=\"plots\">\n";
    write_zone_average(html, zone);
    html << "</div>\n";
    for (const auto& mic : zone.mics) {
        html << "<article class=\"mic\" data-mic=\"" << escape_html(mic.mic) << "\">\n<h3>Mic " << escape_html(quoted(mic.mic))
             << "</h3>\n";
        if (!mic.before && !mic.after) {
            html << "<p>No measurement of this mic in the session.</p>\n</article>\n";
            continue;
        }
        // The metrics table sits beside the last plot, so a mic's figures stay on one screen.
        html << "<div class=\"plots\">\n";
        write_mic_plots(html, session.venue, zone, mic);
        write_room_metrics(html, mic);
        html << "</div>\n</article>\n";
    }
    html << "</section>\n";
}

void write_summary(std::ostringstream& html, const SessionView& session) {
    html << "<section id=\"summary\">\n<h2>Summary</h2>\n";
    if (!session.pushed) {
        html << "<div class=\"banner info\">Not pushed: this session holds the tuning only (a dry run, or the push was "
                "not confirmed).</div>\n";
    } else if (session.push_succeeded) {
        html << "<div class=\"banner good\">Pushed and verified by reading every value back; the rig was measured "
                "again after the push.</div>\n";
    } else {
        html << "<div class=\"banner bad\">The push failed: see 'What was pushed' below.</div>\n";
    }
    html << "<p>Residual: RMS deviation from the target in dB, 1/6 octave, over the correctable points of the zone's "
            "fit band, level removed.</p>\n";
    html << "<table class=\"zones\"><tr><th class=\"name\">zone</th><th class=\"name\">position</th><th>delay "
            "(ms)</th><th>gain (dB)</th><th>EQ bands</th><th>residual before (dB)</th><th>predicted after "
            "(dB)</th><th>measured after (dB)</th></tr>\n";
    for (const auto& zone : session.zones) {
        html << "<tr><td class=\"name\">" << escape_html(zone.zone.name) << "</td><td class=\"name\">average</td><td>"
             << (zone.tuned ? format_fixed(zone.delay_ms, 3) : "–") << "</td><td>"
             << (zone.tuned ? format_fixed(zone.gain_db, 2) : "–") << "</td><td>"
             << (zone.tuned ? std::to_string(zone.bands.size()) : "–") << "</td><td>"
             << fixed_or_dash(zone.rms_before_db, 2) << "</td><td>" << fixed_or_dash(zone.predicted_rms_after_db, 2)
             << "</td><td>" << fixed_or_dash(zone.rms_after_db, 2) << "</td></tr>\n";
        for (const auto& mic : zone.mics) {
            if (mic.rms_before_db || mic.rms_after_db) {
                html << "<tr><td></td><td class=\"name\">mic " << escape_html(mic.mic)
                     << "</td><td></td><td></td><td></td><td>" << fixed_or_dash(mic.rms_before_db, 2)
                     << "</td><td></td><td>" << fixed_or_dash(mic.rms_after_db, 2) << "</td></tr>\n";
            }
        }
    }
    html << "</table>\n</section>\n";
}

void write_warnings(std::ostringstream& html, const SessionView& session) {
    html << "<section id=\"warnings\">\n<h2>Warnings</h2>\n";
    if (session.warnings.empty()) {
        html << "<p>None.</p>\n";
    } else {
        html << "<ul class=\"warnings\">\n";
        for (const auto& warning : session.warnings) {
            html << "<li>" << escape_html(warning) << "</li>\n";
        }
        html << "</ul>\n";
    }
    if (!session.missing.empty()) {
        html << "<p>Not in the session folder, so left out of this report:";
        for (const auto& name : session.missing) {
            html << " " << escape_html(name);
        }
        html << ".</p>\n";
    }
    html << "</section>\n";
}

void write_delays_and_levels(std::ostringstream& html, const SessionView& session) {
    html << "<section id=\"delays-levels\">\n<h2>Delays and levels</h2>\n<table class=\"delays-levels\"><tr><th "
            "class=\"name\">zone</th><th class=\"name\">mic</th><th>arrival before (ms)</th><th>arrival after "
            "(ms)</th><th>peak before (dBFS)</th><th>peak after (dBFS)</th><th>peak to noise (dB)</th><th "
            "class=\"name\">time base</th></tr>\n";
    for (const auto& zone : session.zones) {
        for (const auto& mic : zone.mics) {
            const auto arrival = [](const std::optional<ImpulseResponseView>& view) {
                return view ? fixed_or_dash(view->arrival_ms, 3) : std::string("–");
            };
            const auto peak = [](const std::optional<ImpulseResponseView>& view) {
                return view ? format_fixed(view->peak_dbfs, 1) : std::string("–");
            };
            html << "<tr><td class=\"name\">" << escape_html(zone.zone.name) << "</td><td class=\"name\">"
                 << escape_html(mic.mic) << "</td><td>" << arrival(mic.before) << "</td><td>" << arrival(mic.after)
                 << "</td><td>" << peak(mic.before) << "</td><td>" << peak(mic.after) << "</td><td>"
                 << (mic.before ? format_fixed(mic.before->peak_to_noise_db, 1) : "–") << "</td><td class=\"name\">"
                 << escape_html(mic.before ? mic.before->time_base : "") << "</td></tr>\n";
        }
    }
    html << "</table>\n</section>\n";
}

void write_push(std::ostringstream& html, const SessionView& session) {
    html << "<section id=\"push\">\n<h2>What was pushed</h2>\n";
    if (!session.pushed) {
        html << "<p>Nothing was pushed. corrections.csv in the session folder lists the settings for manual "
                "entry.</p>\n</section>\n";
        return;
    }
    html << "<table class=\"devices\"><tr><th class=\"name\">amplifier</th><th class=\"name\">verification</th><th>writes "
            "sent</th><th class=\"name\">zones (channel: delay, gain, EQ bands)</th></tr>\n";
    for (const auto& device : session.devices) {
        std::string zones;
        for (const auto& zone : session.zones) {
            if (zone.zone.amplifier == device.amplifier && zone.tuned) {
                zones += (zones.empty() ? "" : "; ") + zone.zone.name + " (ch " + std::to_string(zone.zone.channel) +
                         ": " + format_fixed(zone.delay_ms, 3) + " ms, " + format_fixed(zone.gain_db, 2) + " dB, " +
                         std::to_string(zone.bands.size()) + " bands)";
            }
        }
        const std::string outcome_class = device.outcome == "verified" ? "outcome-verified"
                                          : device.outcome == "FAILED" ? "outcome-failed"
                                                                       : "";
        html << "<tr><td class=\"name\">" << escape_html(device.amplifier) << "</td><td class=\"name " << outcome_class
             << "\">" << escape_html(device.outcome) << "</td><td>" << device.writes_sent << "</td><td class=\"name\">"
             << escape_html(zones) << "</td></tr>\n";
    }
    html << "</table>\n</section>\n";
}

}  // namespace

std::string render_session_html(const SessionView& session) {
    std::ostringstream html;
    html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>linetune report: "
         << escape_html(session.venue.name) << "</title>\n<style>" << page_style << "</style>\n</head>\n<body>\n";
    html << "<h1>linetune report: venue " << escape_html(quoted(session.venue.name)) << "</h1>\n";
    html << "<p class=\"meta\">session folder " << escape_html(session.folder.string()) << "; "
         << session.zones.size() << " zones, " << session.venue.microphones.size() << " microphones"
         << (session.linetune_version.empty() ? "" : "; linetune " + escape_html(session.linetune_version))
         << "</p>\n<nav>";
    for (std::size_t i = 0; i < session.zones.size(); ++i) {
        html << "<a href=\"#zone-" << i + 1 << "\">" << escape_html(session.zones[i].zone.name) << "</a>";
    }
    html << "</nav>\n";
    write_summary(html, session);
    write_warnings(html, session);
    write_push(html, session);
    write_delays_and_levels(html, session);
    for (std::size_t i = 0; i < session.zones.size(); ++i) {
        write_zone(html, session, session.zones[i], i + 1);
    }
    html << "</body>\n</html>\n";
    return html.str();
}

std::filesystem::path write_session_report(const std::filesystem::path& session_dir,
                                           const std::filesystem::path& output) {
    const std::filesystem::path path = output.empty() ? session_dir / "report.html" : output;
    io::write_text_file(path, render_session_html(read_session(session_dir)));
    return path;
}

}  // namespace linetune::report
