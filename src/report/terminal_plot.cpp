#include "linetune/report/terminal_plot.hpp"

#include "linetune/core/format.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace linetune::report {
namespace {

constexpr double low_hz = 20.0;
constexpr double high_hz = 20000.0;

// Width of the dB labels left of the plot area ("-12 dB |").
constexpr int label_columns = 8;

// Each row spans at least 3 dB, so the ripple of a good tuning (about 1 dB) does not fill the
// height. The scale spans at most 48 dB, so a deep null does not flatten the band.
constexpr double min_row_step_db = 3.0;
constexpr double max_range_db = 48.0;

double frequency_at_column(int column, int columns) {
    return low_hz * std::pow(high_hz / low_hz, (column + 0.5) / columns);
}

int column_of_frequency(double freq_hz, int columns) {
    return static_cast<int>(std::floor(std::log(freq_hz / low_hz) / std::log(high_hz / low_hz) * columns));
}

/// Magnitude at f, or NaN outside the curve's frequency range (held values would be invented data).
double magnitude_at(const FrequencyResponse& response, double freq_hz) {
    if (response.size() == 0 || freq_hz < response.freq_hz.front() || freq_hz > response.freq_hz.back()) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    return interpolate_magnitude_db(response, freq_hz);
}

std::string coloured(char symbol, int ansi_colour, bool colour) {
    if (!colour || ansi_colour == 0) {
        return std::string(1, symbol);
    }
    return "\x1b[" + std::to_string(ansi_colour) + "m" + symbol + "\x1b[0m";
}

}  // namespace

std::string render_terminal_plot(const std::string& title, const std::vector<TerminalCurve>& curves,
                                 const FrequencyBand& fit_band_hz, const TerminalPlotOptions& options) {
    const int columns = std::max(20, options.width_columns - label_columns - 1);
    const int rows = std::max(4, options.height_rows);

    // Sample every curve at each column's centre frequency.
    std::vector<std::vector<double>> values(curves.size(), std::vector<double>(static_cast<std::size_t>(columns)));
    double top_db = -std::numeric_limits<double>::infinity();
    double bottom_db = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < curves.size(); ++c) {
        for (int column = 0; column < columns; ++column) {
            const double value = magnitude_at(curves[c].response, frequency_at_column(column, columns));
            values[c][static_cast<std::size_t>(column)] = value;
            if (std::isfinite(value)) {
                top_db = std::max(top_db, value);
                bottom_db = std::min(bottom_db, value);
            }
        }
    }
    std::string text = title + "\n";
    if (!std::isfinite(top_db)) {
        return text + "  (no data)\n";
    }
    bottom_db = std::max(bottom_db, top_db - max_range_db);
    const double row_step_db = std::max(min_row_step_db, std::ceil((top_db - bottom_db) / (rows - 1)));
    top_db = std::ceil(top_db / row_step_db) * row_step_db;

    // Each row covers row_step_db; row 0 is the top.
    std::vector<std::string> grid(static_cast<std::size_t>(rows), std::string(static_cast<std::size_t>(columns), ' '));
    std::vector<std::vector<int>> owner(static_cast<std::size_t>(rows), std::vector<int>(static_cast<std::size_t>(columns), -1));
    for (std::size_t c = 0; c < curves.size(); ++c) {
        for (int column = 0; column < columns; ++column) {
            const double value = values[c][static_cast<std::size_t>(column)];
            if (!std::isfinite(value)) {
                continue;
            }
            const int row = static_cast<int>(std::lround((top_db - value) / row_step_db));
            if (row < 0 || row >= rows) {
                continue;
            }
            grid[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)] = curves[c].symbol;
            owner[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)] = static_cast<int>(c);
        }
    }

    for (int row = 0; row < rows; ++row) {
        char label[32];
        const double level_db = top_db - row * row_step_db + 0.0;
        std::snprintf(label, sizeof label, level_db == 0.0 ? "%4.0f dB|" : "%+4.0f dB|", level_db);
        text += std::string(static_cast<std::size_t>(std::max(0, label_columns - static_cast<int>(std::strlen(label)))), ' ') + label;
        for (int column = 0; column < columns; ++column) {
            const int curve = owner[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)];
            text += curve < 0 ? std::string(" ")
                              : coloured(grid[static_cast<std::size_t>(row)][static_cast<std::size_t>(column)],
                                         curves[static_cast<std::size_t>(curve)].ansi_colour, options.colour);
        }
        while (!text.empty() && text.back() == ' ') {
            text.pop_back();
        }
        text += '\n';
    }

    // Frequency axis: '=' inside the fit band, '-' outside it, then the labels under their columns.
    text += std::string(static_cast<std::size_t>(label_columns - 1), ' ') + "+";
    for (int column = 0; column < columns; ++column) {
        const double f = frequency_at_column(column, columns);
        text += f >= fit_band_hz.low_hz && f <= fit_band_hz.high_hz ? '=' : '-';
    }
    text += '\n';
    std::string labels(static_cast<std::size_t>(label_columns + columns), ' ');
    labels.replace(2, 2, "Hz");
    for (const double f : {20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0}) {
        const std::string name = f >= 1000.0 ? format_significant(f / 1000.0, 3) + "k" : format_significant(f, 3);
        const int at = label_columns + std::min(column_of_frequency(f, columns), columns - 1);
        const int start = std::clamp(at - static_cast<int>(name.size()) / 2, label_columns,
                                     label_columns + columns - static_cast<int>(name.size()));
        labels.replace(static_cast<std::size_t>(start), name.size(), name);
    }
    while (!labels.empty() && labels.back() == ' ') {
        labels.pop_back();
    }
    text += labels + "\n";

    text += std::string(static_cast<std::size_t>(label_columns), ' ');
    for (const auto& curve : curves) {
        text += coloured(curve.symbol, curve.ansi_colour, options.colour) + " " + curve.name + "   ";
    }
    text += "= fit band\n";
    return text;
}

bool colour_wanted(bool stream_is_terminal, const char* no_color, const char* term) {
    if (!stream_is_terminal) {
        return false;
    }
    if (no_color != nullptr && no_color[0] != '\0') {
        return false;
    }
    return term != nullptr && term[0] != '\0' && std::strcmp(term, "dumb") != 0;
}

}  // namespace linetune::report
