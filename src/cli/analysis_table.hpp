#pragma once

#include "linetune/analysis/channel_analysis.hpp"

#include <ostream>

namespace linetune::cli {

/// Prints one analysed file as a readable block: a header line, a row per channel, octave-band
/// reverberation times, and the notes behind every flag.
void print_file_analysis(std::ostream& out, const analysis::FileAnalysis& file, const analysis::AnalysisOptions& options);

}  // namespace linetune::cli
