#pragma once

#include <string>

namespace linetune {

/// Formats a number for messages with printf's %g: at most significant_digits digits, no
/// trailing zeros ("48000", "0.333333", "1e-05").
std::string format_significant(double value, int significant_digits = 6);

/// Formats a number for messages and tables with a fixed number of decimals ("27.281").
std::string format_fixed(double value, int decimals);

}  // namespace linetune
