#include "linetune/core/format.hpp"

#include <cstdio>

namespace linetune {

std::string format_significant(double value, int significant_digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*g", significant_digits, value);
    return text;
}

std::string format_fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

}  // namespace linetune
