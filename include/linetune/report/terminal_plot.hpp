#pragma once

#include "linetune/core/frequency_response.hpp"
#include "linetune/core/venue.hpp"

#include <string>
#include <vector>

namespace linetune::report {

/// One magnitude curve of a terminal plot and the character that draws it.
struct TerminalCurve {
    std::string name;
    char symbol = '*';
    int ansi_colour = 0;  ///< SGR foreground code (31 red, 34 blue, ...); 0 for the default colour
    FrequencyResponse response;
};

/// Size and colour of a terminal plot.
struct TerminalPlotOptions {
    int width_columns = 80;  ///< total width, labels included
    int height_rows = 10;    ///< rows of the plot area
    bool colour = false;     ///< ANSI colour escapes; off when the output is not a terminal
};

/// Draws magnitude curves over a log frequency axis (20 Hz to 20 kHz) as text: a dB scale on the
/// left, the fit band marked with '=' on the frequency axis, frequency labels and a legend. Later
/// curves are drawn over earlier ones where they meet.
std::string render_terminal_plot(const std::string& title, const std::vector<TerminalCurve>& curves,
                                 const FrequencyBand& fit_band_hz, const TerminalPlotOptions& options);

/// Decides whether to colour terminal output: the stream is a terminal, NO_COLOR is unset or
/// empty (no-color.org), and TERM is set and not "dumb". no_color and term may be null (unset).
bool colour_wanted(bool stream_is_terminal, const char* no_color, const char* term);

}  // namespace linetune::report
