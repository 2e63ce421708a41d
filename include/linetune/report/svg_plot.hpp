#pragma once

#include <optional>
#include <string>
#include <vector>

namespace linetune::report {

/// Mapping of values to positions along an axis.
enum class AxisScale { linear, logarithmic };

/// One axis of a plot: its label (with the unit), range and scale.
struct PlotAxis {
    std::string label;  ///< e.g. "frequency (Hz)", "level (dB)"
    double min = 0.0;
    double max = 1.0;
    AxisScale scale = AxisScale::linear;
};

/// Drawing style of a series.
enum class LineStyle { solid, dashed, dotted };

/// One curve of a plot; points with a non-finite y break the line.
struct PlotSeries {
    std::string name;    ///< shown in the legend
    std::string colour;  ///< CSS colour, e.g. "#c0392b"
    LineStyle style = LineStyle::solid;
    std::vector<double> x;
    std::vector<double> y;
};

/// A shaded x range behind the curves, such as a zone's fit band.
struct ShadedRange {
    std::string name;  ///< shown in the legend
    double min = 0.0;
    double max = 0.0;
};

/// A line chart: axes, curves, an optional shaded range, a title and a legend.
struct Plot {
    std::string title;
    std::string kind;  ///< written as data-plot on the <svg>, for tests and styling ("magnitude", ...)
    PlotAxis x;
    PlotAxis y;
    std::vector<PlotSeries> series;
    std::optional<ShadedRange> shaded;
    int width_px = 640;
    int height_px = 300;
};

/// Renders a plot as a self-contained inline <svg> element (no scripts, fonts or external files).
std::string render_svg(const Plot& plot);

/// Tick positions for an axis: 1-2-5 steps on a linear axis, 1-2-5 per decade on a log axis.
std::vector<double> axis_ticks(const PlotAxis& axis);

/// Label of a tick value: "1k" style for frequencies on a log axis, plain numbers otherwise.
std::string tick_label(const PlotAxis& axis, double value);

/// The smallest range that contains every finite y of the series, widened to whole steps of
/// step and to at least min_span, and capped to max_span below the largest value.
PlotAxis fit_y_axis(std::string label, const std::vector<PlotSeries>& series, double step, double min_span,
                    double max_span);

/// Reduces a densely sampled curve (x ascending) to the minimum and maximum of each of
/// bucket_count equal x intervals, so a plot keeps every peak at a fraction of the points.
PlotSeries decimate_min_max(const PlotSeries& series, std::size_t bucket_count);

}  // namespace linetune::report
