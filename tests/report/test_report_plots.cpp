#include "linetune/report/svg_plot.hpp"
#include "linetune/report/terminal_plot.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

using namespace linetune;
using namespace linetune::report;

namespace {

/// Builds a 1/24-octave response from 20 Hz to 20 kHz: flat 0 dB with a 12 dB peak at 1 kHz.
FrequencyResponse peaked_response() {
    FrequencyResponse response;
    response.freq_hz = log_frequency_grid(20.0, 20000.0, 24.0);
    for (const double f : response.freq_hz) {
        response.magnitude_db.push_back(12.0 * std::exp(-std::pow(std::log2(f / 1000.0) / 0.3, 2.0)));
    }
    return response;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) {
        lines.push_back(line);
    }
    return lines;
}

}  // namespace

TEST_SUITE("svg_plot") {
    TEST_CASE("log axis ticks are 1-2-5 per decade") {
        const PlotAxis axis{"frequency (Hz)", 20.0, 20000.0, AxisScale::logarithmic};
        const std::vector<double> expected{20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000};
        const std::vector<double> ticks = axis_ticks(axis);
        REQUIRE(ticks.size() == expected.size());
        for (std::size_t i = 0; i < ticks.size(); ++i) {
            CHECK(ticks[i] == doctest::Approx(expected[i]));
        }
        CHECK(tick_label(axis, 1000.0) == "1k");
        CHECK(tick_label(axis, 20000.0) == "20k");
        CHECK(tick_label(axis, 500.0) == "500");
    }

    TEST_CASE("linear ticks step by a nice number") {
        const std::vector<double> ticks = axis_ticks({"level (dB)", -60.0, 0.0, AxisScale::linear});
        REQUIRE(ticks.size() == 7);
        CHECK(ticks.front() == doctest::Approx(-60.0));
        CHECK(ticks.back() == doctest::Approx(0.0));
        CHECK(ticks[1] - ticks[0] == doctest::Approx(10.0));
    }

    TEST_CASE("y axis covers data in whole steps") {
        const std::vector<PlotSeries> series{{"a", "#000", LineStyle::solid, {1, 2, 3}, {-31.0, -7.5, NAN}}};
        const PlotAxis axis = fit_y_axis("level (dB)", series, 6.0, 24.0, 60.0);
        CHECK(axis.min == doctest::Approx(-36.0));
        CHECK(axis.max == doctest::Approx(-6.0));
    }

    TEST_CASE("y axis caps its span below the top") {
        const std::vector<PlotSeries> series{{"a", "#000", LineStyle::solid, {1, 2}, {-200.0, 0.0}}};
        const PlotAxis axis = fit_y_axis("level (dB)", series, 10.0, 40.0, 80.0);
        CHECK(axis.min == doctest::Approx(-80.0));
        CHECK(axis.max == doctest::Approx(0.0));
    }

    TEST_CASE("decimation keeps every extreme") {
        PlotSeries series{"ir", "#000", LineStyle::solid, {}, {}};
        for (int i = 0; i < 10000; ++i) {
            series.x.push_back(i);
            series.y.push_back(i == 4321 ? 5.0 : (i == 777 ? -3.0 : std::sin(i * 0.01)));
        }
        const PlotSeries reduced = decimate_min_max(series, 100);
        CHECK(reduced.x.size() <= 200);
        CHECK(*std::max_element(reduced.y.begin(), reduced.y.end()) == 5.0);
        CHECK(*std::min_element(reduced.y.begin(), reduced.y.end()) == -3.0);
        CHECK(std::is_sorted(reduced.x.begin(), reduced.x.end()));
    }

    TEST_CASE("svg has escaped title and one path per series") {
        Plot plot;
        plot.title = "mic <A&B>";
        plot.kind = "magnitude";
        plot.x = {"frequency (Hz)", 20.0, 20000.0, AxisScale::logarithmic};
        plot.y = {"level (dB)", -20.0, 20.0, AxisScale::linear};
        const FrequencyResponse response = peaked_response();
        plot.series = {{"before", "#d35400", LineStyle::solid, response.freq_hz, response.magnitude_db},
                       {"target", "#222", LineStyle::dotted, {20.0, 20000.0}, {0.0, 0.0}}};
        plot.shaded = ShadedRange{"fit band", 60.0, 16000.0};
        const std::string svg = render_svg(plot);
        CHECK(svg.find("mic &lt;A&amp;B&gt;") != std::string::npos);
        CHECK(svg.find("<A&B>") == std::string::npos);
        CHECK(svg.find("data-plot=\"magnitude\"") != std::string::npos);
        std::size_t paths = 0;
        for (std::size_t at = svg.find("class=\"series\""); at != std::string::npos;
             at = svg.find("class=\"series\"", at + 1)) {
            ++paths;
        }
        CHECK(paths == 2);
        CHECK(svg.find("class=\"shaded\"") != std::string::npos);
        CHECK(svg.find("http") == std::string::npos);
    }

    TEST_CASE("non-finite values break the line") {
        Plot plot;
        plot.x = {"x", 0.0, 10.0, AxisScale::linear};
        plot.y = {"y", 0.0, 10.0, AxisScale::linear};
        plot.series = {{"s", "#000", LineStyle::solid, {1, 2, 3, 4, 5}, {1, 2, NAN, 4, 5}}};
        const std::string svg = render_svg(plot);
        const std::size_t path = svg.find(" d=\"M");
        REQUIRE(path != std::string::npos);
        const std::string data = svg.substr(path, svg.find('"', path + 5) - path);
        CHECK(std::count(data.begin(), data.end(), 'M') == 2);
        CHECK(std::count(data.begin(), data.end(), 'L') == 2);
    }
}

TEST_SUITE("terminal_plot") {
    TEST_CASE("plot fits 80 columns and marks the peak") {
        const FrequencyResponse response = peaked_response();
        const std::string text = render_terminal_plot("title", {{"before", 'o', 31, response}}, {60.0, 16000.0}, {});
        const std::vector<std::string> lines = lines_of(text);
        for (const auto& line : lines) {
            CHECK(line.size() <= 80);
        }
        // Title, 10 rows, the axis, its labels and the legend.
        REQUIRE(lines.size() == 14);
        // The 12 dB peak at 1 kHz is the top, so the first row has an 'o' only near the 1k label.
        const std::size_t peak_column = lines[1].find('o');
        const std::size_t label_column = lines[12].find("1k");
        REQUIRE(peak_column != std::string::npos);
        CHECK(std::abs(static_cast<long>(peak_column) - static_cast<long>(label_column)) <= 3);
        CHECK(lines[11].find('=') != std::string::npos);
        CHECK(text.find('\x1b') == std::string::npos);
    }

    TEST_CASE("colour only when asked") {
        const FrequencyResponse response = peaked_response();
        TerminalPlotOptions options;
        options.colour = true;
        const std::string text = render_terminal_plot("title", {{"before", 'o', 31, response}}, {60.0, 16000.0}, options);
        CHECK(text.find("\x1b[31mo\x1b[0m") != std::string::npos);
    }

    TEST_CASE("colour follows terminal, TERM and NO_COLOR") {
        CHECK(colour_wanted(true, nullptr, "xterm-256color"));
        CHECK(colour_wanted(true, "", "xterm"));
        CHECK_FALSE(colour_wanted(false, nullptr, "xterm"));
        CHECK_FALSE(colour_wanted(true, "1", "xterm"));
        CHECK_FALSE(colour_wanted(true, nullptr, "dumb"));
        CHECK_FALSE(colour_wanted(true, nullptr, nullptr));
    }
}
