#pragma once

#include "linetune/core/amplifier_state.hpp"
#include "linetune/simulation/rig.hpp"

#include <cstdint>
#include <string>

namespace linetune::simulation {

/// Name of the built-in venue ("builtin-arena").
inline constexpr const char* builtin_venue_name = "builtin-arena";

/// Returns the built-in compact arena: hang L (zones L-long, L-mid, L-near), ground subs, a front
/// fill and a delay tower on amplifier amp-1 (profile virtual-amp). Six measurement microphones
/// and three audience probes listen, and the rig has faults that EQ, delay and gain can mostly fix.
RigModel builtin_rig();

/// The built-in venue as venue-file JSON text (read it with io::read_venue_file): amp-1 is
/// controlled at 127.0.0.1:amplifier_port (1 to 65535), interface outputs 1-6 feed the zones and
/// output 8 is wired to input 8 as the loopback.
std::string builtin_venue_json(std::uint16_t amplifier_port);

/// The state amp-1 starts in: every channel of the virtual-amp profile at 0 dB, 0 ms, unmuted,
/// with all bands disabled.
AmplifierState builtin_initial_amplifier_state();

}  // namespace linetune::simulation
