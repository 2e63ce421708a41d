#include "linetune/report/svg_plot.hpp"

#include "html_text.hpp"

#include "linetune/core/format.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace linetune::report {
namespace {

// Space around the plot area in pixels: the title and legend rows above, the y tick labels and
// the rotated y label on the left, the x tick labels and the x label below.
constexpr double margin_left_px = 60.0;
constexpr double margin_right_px = 16.0;
constexpr double margin_top_px = 46.0;
constexpr double margin_bottom_px = 42.0;

// Width of one character of the 12 px sans-serif labels, an estimate for laying out the legend.
constexpr double char_width_px = 6.6;

/// Maps data values of one axis to pixels between two pixel positions.
struct AxisMap {
    PlotAxis axis;
    double from_px = 0.0;
    double to_px = 0.0;

    [[nodiscard]] double to_unit(double value) const {
        if (axis.scale == AxisScale::logarithmic) {
            return (std::log10(value) - std::log10(axis.min)) / (std::log10(axis.max) - std::log10(axis.min));
        }
        return (value - axis.min) / (axis.max - axis.min);
    }

    [[nodiscard]] double pixel(double value) const { return from_px + to_unit(value) * (to_px - from_px); }

    [[nodiscard]] bool contains(double value) const {
        const double unit = to_unit(value);
        return std::isfinite(unit) && unit >= -1e-9 && unit <= 1.0 + 1e-9;
    }
};

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value + 0.0);
    return text;
}

std::string_view dash_array(LineStyle style) {
    switch (style) {
    case LineStyle::dashed:
        return "7 4";
    case LineStyle::dotted:
        return "2 3";
    case LineStyle::solid:
        break;
    }
    return "";
}

/// Builds the path data of a series. A point with a non-finite coordinate, or one outside a log
/// axis's domain, ends the current line, so gaps stay visible.
std::string path_data(const PlotSeries& series, const AxisMap& x, const AxisMap& y) {
    std::string data;
    bool pen_down = false;
    const std::size_t count = std::min(series.x.size(), series.y.size());
    for (std::size_t i = 0; i < count; ++i) {
        const bool usable = std::isfinite(series.x[i]) && std::isfinite(series.y[i]) &&
                            (x.axis.scale == AxisScale::linear || series.x[i] > 0.0) &&
                            (y.axis.scale == AxisScale::linear || series.y[i] > 0.0);
        if (!usable) {
            pen_down = false;
            continue;
        }
        data += pen_down ? " L" : (data.empty() ? "M" : " M");
        data += number(x.pixel(series.x[i])) + " " + number(y.pixel(series.y[i]));
        pen_down = true;
    }
    return data;
}

/// Minor grid lines of a log axis: 3, 4, 6, 7, 8 and 9 times each power of ten in range.
std::vector<double> log_minor_ticks(const PlotAxis& axis) {
    std::vector<double> ticks;
    for (int decade = static_cast<int>(std::floor(std::log10(axis.min))); decade <= std::ceil(std::log10(axis.max));
         ++decade) {
        for (const double mantissa : {3.0, 4.0, 6.0, 7.0, 8.0, 9.0}) {
            const double value = mantissa * std::pow(10.0, decade);
            if (value >= axis.min && value <= axis.max) {
                ticks.push_back(value);
            }
        }
    }
    return ticks;
}

void write_grid_and_ticks(std::ostringstream& svg, const AxisMap& x, const AxisMap& y) {
    svg << "<g class=\"grid\" stroke=\"#d5d8dc\" stroke-width=\"1\">";
    if (x.axis.scale == AxisScale::logarithmic) {
        for (const double tick : log_minor_ticks(x.axis)) {
            svg << "<line x1=\"" << number(x.pixel(tick)) << "\" y1=\"" << number(y.to_px) << "\" x2=\""
                << number(x.pixel(tick)) << "\" y2=\"" << number(y.from_px) << "\" stroke=\"#eef0f2\"/>";
        }
    }
    for (const double tick : axis_ticks(x.axis)) {
        svg << "<line x1=\"" << number(x.pixel(tick)) << "\" y1=\"" << number(y.to_px) << "\" x2=\""
            << number(x.pixel(tick)) << "\" y2=\"" << number(y.from_px) << "\"/>";
    }
    for (const double tick : axis_ticks(y.axis)) {
        svg << "<line x1=\"" << number(x.from_px) << "\" y1=\"" << number(y.pixel(tick)) << "\" x2=\""
            << number(x.to_px) << "\" y2=\"" << number(y.pixel(tick)) << "\"/>";
    }
    svg << "</g>\n";

    svg << "<g class=\"ticks\" font-size=\"11\" fill=\"#333\">";
    for (const double tick : axis_ticks(x.axis)) {
        svg << "<text x=\"" << number(x.pixel(tick)) << "\" y=\"" << number(y.from_px + 15.0)
            << "\" text-anchor=\"middle\">" << escape_html(tick_label(x.axis, tick)) << "</text>";
    }
    for (const double tick : axis_ticks(y.axis)) {
        svg << "<text x=\"" << number(x.from_px - 6.0) << "\" y=\"" << number(y.pixel(tick) + 4.0)
            << "\" text-anchor=\"end\">" << escape_html(tick_label(y.axis, tick)) << "</text>";
    }
    svg << "</g>\n";
}

void write_legend(std::ostringstream& svg, const Plot& plot) {
    double cursor_px = margin_left_px;
    const double row_px = 34.0;
    svg << "<g class=\"legend\" font-size=\"12\" fill=\"#222\">";
    if (plot.shaded) {
        svg << "<rect x=\"" << number(cursor_px) << "\" y=\"" << number(row_px - 9.0)
            << "\" width=\"18\" height=\"10\" fill=\"#e3f1e3\" stroke=\"#9cc89c\"/>";
        svg << "<text x=\"" << number(cursor_px + 24.0) << "\" y=\"" << number(row_px) << "\">"
            << escape_html(plot.shaded->name) << "</text>";
        cursor_px += 24.0 + char_width_px * static_cast<double>(plot.shaded->name.size()) + 16.0;
    }
    for (const auto& series : plot.series) {
        svg << "<line x1=\"" << number(cursor_px) << "\" y1=\"" << number(row_px - 4.0) << "\" x2=\""
            << number(cursor_px + 18.0) << "\" y2=\"" << number(row_px - 4.0) << "\" stroke=\"" << series.colour
            << "\" stroke-width=\"2.5\"";
        if (!dash_array(series.style).empty()) {
            svg << " stroke-dasharray=\"" << dash_array(series.style) << "\"";
        }
        svg << "/><text x=\"" << number(cursor_px + 24.0) << "\" y=\"" << number(row_px) << "\">"
            << escape_html(series.name) << "</text>";
        cursor_px += 24.0 + char_width_px * static_cast<double>(series.name.size()) + 16.0;
    }
    svg << "</g>\n";
}

/// Returns a nice step (1, 2 or 5 times a power of ten) that divides span into about target_count parts.
double nice_step(double span, double target_count) {
    const double raw = span / target_count;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (const double mantissa : {1.0, 2.0, 5.0}) {
        if (raw <= mantissa * power) {
            return mantissa * power;
        }
    }
    return 10.0 * power;
}

}  // namespace

std::vector<double> axis_ticks(const PlotAxis& axis) {
    std::vector<double> ticks;
    if (!(axis.max > axis.min)) {
        return ticks;
    }
    if (axis.scale == AxisScale::logarithmic) {
        for (int decade = static_cast<int>(std::floor(std::log10(axis.min)));
             decade <= std::ceil(std::log10(axis.max)); ++decade) {
            for (const double mantissa : {1.0, 2.0, 5.0}) {
                const double value = mantissa * std::pow(10.0, decade);
                // 1e-9 relative slack keeps an end value that is a tick despite rounding.
                if (value >= axis.min * (1.0 - 1e-9) && value <= axis.max * (1.0 + 1e-9)) {
                    ticks.push_back(value);
                }
            }
        }
        return ticks;
    }
    // About six intervals: enough to read a value, few enough that labels do not overlap on a 640 px plot.
    const double step = nice_step(axis.max - axis.min, 6.0);
    for (double value = std::ceil(axis.min / step - 1e-9) * step; value <= axis.max + step * 1e-9; value += step) {
        ticks.push_back(std::abs(value) < step * 1e-9 ? 0.0 : value);
    }
    return ticks;
}

std::string tick_label(const PlotAxis& axis, double value) {
    if (axis.scale == AxisScale::logarithmic && value >= 1000.0) {
        return format_significant(value / 1000.0, 3) + "k";
    }
    return format_significant(value, 4);
}

PlotAxis fit_y_axis(std::string label, const std::vector<PlotSeries>& series, double step, double min_span,
                    double max_span) {
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();
    for (const auto& curve : series) {
        for (const double value : curve.y) {
            if (std::isfinite(value)) {
                low = std::min(low, value);
                high = std::max(high, value);
            }
        }
    }
    if (!std::isfinite(low)) {
        return {std::move(label), 0.0, min_span, AxisScale::linear};
    }
    low = std::max(low, high - max_span);
    if (high - low < min_span) {
        const double centre = 0.5 * (high + low);
        low = centre - 0.5 * min_span;
        high = centre + 0.5 * min_span;
    }
    return {std::move(label), std::floor(low / step) * step, std::ceil(high / step) * step, AxisScale::linear};
}

PlotSeries decimate_min_max(const PlotSeries& series, std::size_t bucket_count) {
    const std::size_t count = std::min(series.x.size(), series.y.size());
    if (count <= 2 * bucket_count || bucket_count == 0) {
        return series;
    }
    PlotSeries reduced = series;
    reduced.x.clear();
    reduced.y.clear();
    const double x_first = series.x.front();
    const double bucket_width = (series.x[count - 1] - x_first) / static_cast<double>(bucket_count);
    std::size_t i = 0;
    for (std::size_t bucket = 0; bucket < bucket_count && i < count; ++bucket) {
        const double bucket_end = x_first + bucket_width * static_cast<double>(bucket + 1);
        std::size_t low_index = i;
        std::size_t high_index = i;
        for (; i < count && (series.x[i] <= bucket_end || bucket + 1 == bucket_count); ++i) {
            low_index = series.y[i] < series.y[low_index] ? i : low_index;
            high_index = series.y[i] > series.y[high_index] ? i : high_index;
        }
        // Keep the two extremes in time order, so the line is drawn as the signal ran.
        for (const std::size_t index : {std::min(low_index, high_index), std::max(low_index, high_index)}) {
            reduced.x.push_back(series.x[index]);
            reduced.y.push_back(series.y[index]);
        }
    }
    return reduced;
}

std::string render_svg(const Plot& plot) {
    // Clip-path ids must be unique in the page, so a process-wide counter numbers them.
    static std::atomic<unsigned> next_clip_id{1};
    const std::string clip_id = "plot-clip-" + std::to_string(next_clip_id++);

    const double width_px = plot.width_px;
    const double height_px = plot.height_px;
    const AxisMap x{plot.x, margin_left_px, width_px - margin_right_px};
    const AxisMap y{plot.y, height_px - margin_bottom_px, margin_top_px};
    const double area_width_px = x.to_px - x.from_px;
    const double area_height_px = y.from_px - y.to_px;

    std::ostringstream svg;
    svg << "<svg class=\"plot\" data-plot=\"" << escape_html(plot.kind)
        << "\" viewBox=\"0 0 " << plot.width_px << " " << plot.height_px << "\" width=\"" << plot.width_px
        << "\" height=\"" << plot.height_px << "\" role=\"img\" aria-label=\"" << escape_html(plot.title)
        << "\" font-family=\"sans-serif\">\n";
    svg << "<title>" << escape_html(plot.title) << "</title>\n";
    svg << "<defs><clipPath id=\"" << clip_id << "\"><rect x=\"" << number(x.from_px) << "\" y=\"" << number(y.to_px)
        << "\" width=\"" << number(area_width_px) << "\" height=\"" << number(area_height_px)
        << "\"/></clipPath></defs>\n";
    svg << "<rect x=\"0\" y=\"0\" width=\"" << plot.width_px << "\" height=\"" << plot.height_px
        << "\" fill=\"#ffffff\"/>\n";
    svg << "<text x=\"" << number(margin_left_px) << "\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#111\">"
        << escape_html(plot.title) << "</text>\n";

    if (plot.shaded && x.contains(std::clamp(plot.shaded->min, plot.x.min, plot.x.max))) {
        const double from_px = x.pixel(std::clamp(plot.shaded->min, plot.x.min, plot.x.max));
        const double to_px = x.pixel(std::clamp(plot.shaded->max, plot.x.min, plot.x.max));
        svg << "<rect class=\"shaded\" x=\"" << number(from_px) << "\" y=\"" << number(y.to_px) << "\" width=\""
            << number(std::max(0.0, to_px - from_px)) << "\" height=\"" << number(area_height_px)
            << "\" fill=\"#e3f1e3\"/>\n";
    }
    write_grid_and_ticks(svg, x, y);
    svg << "<rect x=\"" << number(x.from_px) << "\" y=\"" << number(y.to_px) << "\" width=\"" << number(area_width_px)
        << "\" height=\"" << number(area_height_px) << "\" fill=\"none\" stroke=\"#777\"/>\n";

    svg << "<g clip-path=\"url(#" << clip_id << ")\" fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\">\n";
    for (const auto& series : plot.series) {
        svg << "<path class=\"series\" data-series=\"" << escape_html(series.name) << "\" stroke=\"" << series.colour
            << "\"";
        if (!dash_array(series.style).empty()) {
            svg << " stroke-dasharray=\"" << dash_array(series.style) << "\"";
        }
        svg << " d=\"" << path_data(series, x, y) << "\"/>\n";
    }
    svg << "</g>\n";
    write_legend(svg, plot);

    svg << "<text x=\"" << number(x.from_px + area_width_px / 2.0) << "\" y=\"" << number(height_px - 6.0)
        << "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">" << escape_html(plot.x.label) << "</text>\n";
    svg << "<text transform=\"translate(14 " << number(y.to_px + area_height_px / 2.0)
        << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">" << escape_html(plot.y.label)
        << "</text>\n";
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace linetune::report
