#pragma once

// The built-in rig and venue, built once per test program because the rig's transfer functions
// take a fraction of a second to compute.

#include "linetune/core/venue.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include "test_support.hpp"

#include <complex>
#include <cstdint>
#include <span>
#include <vector>

namespace linetune::test {

/// Port written into the built-in venue; no test opens it.
inline constexpr std::uint16_t builtin_test_port = 47399;

/// Reads the built-in venue with io::read_venue_file from its JSON text, once.
inline const Venue& builtin_venue() {
    static const Venue venue = [] {
        const auto dir = scratch_dir("simulation-builtin-venue");
        const auto path = write_file(dir / "venue.json", simulation::builtin_venue_json(builtin_test_port));
        return io::read_venue_file(path, io::default_hardware_dir());
    }();
    return venue;
}

/// Builds the built-in rig's transfer functions with its measured room responses, once.
inline const simulation::RigTransferFunctions& builtin_transfer_functions() {
    static const simulation::RigTransferFunctions transfer_functions(simulation::builtin_rig());
    return transfer_functions;
}

/// Value at freq_hz of the DTFT Σ x[n]·e^(−j2πf·n/fs) of a short signal.
inline std::complex<double> dtft(std::span<const float> x, double freq_hz, double sample_rate_hz) {
    std::complex<double> sum = 0.0;
    const double w = -2.0 * 3.14159265358979323846 * freq_hz / sample_rate_hz;
    for (std::size_t n = 0; n < x.size(); ++n) {
        sum += static_cast<double>(x[n]) * std::polar(1.0, w * static_cast<double>(n));
    }
    return sum;
}

}  // namespace linetune::test
