#pragma once

#include "linetune/control/push_transaction.hpp"

#include <string>

namespace linetune::control {

/// The change per zone as text, old -> new for gain, delay, polarity, mute and each owned band,
/// and how each channel is kept quiet while it changes (for `push` and `run` to print before the
/// confirmation).
std::string format_push_plan(const PreparedPush& push);

/// Every write of the push in sending order, numbered, with its device and phase and, for a
/// device spoken to over OSC, the message as sent (the X32's normalised value, for example).
std::string format_write_order(const PreparedPush& push);

/// The outcome per device and what to do next (verified, unverified, unchanged, restored, FAILED).
std::string format_push_report(const PushReport& report);

}  // namespace linetune::control
