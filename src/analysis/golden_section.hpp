#pragma once

#include <cmath>

namespace linetune::analysis {

/// Position in [low, high] of the maximum of `value` by golden-section search (Kiefer, 1953).
/// `value` must have a single maximum in the bracket; each iteration shrinks it by 0.618, so 40
/// iterations narrow a 2-sample bracket to under 1e-8 sample.
template <typename Function>
double golden_section_maximum(const Function& value, double low, double high, int iterations) {
    const double inverse_golden = (std::sqrt(5.0) - 1.0) / 2.0;
    double a = low;
    double b = high;
    double c = b - inverse_golden * (b - a);
    double d = a + inverse_golden * (b - a);
    double value_c = value(c);
    double value_d = value(d);
    for (int i = 0; i < iterations; ++i) {
        if (value_c > value_d) {
            b = d;
            d = c;
            value_d = value_c;
            c = b - inverse_golden * (b - a);
            value_c = value(c);
        } else {
            a = c;
            c = d;
            value_c = value_d;
            d = a + inverse_golden * (b - a);
            value_d = value(d);
        }
    }
    return 0.5 * (a + b);
}

}  // namespace linetune::analysis
