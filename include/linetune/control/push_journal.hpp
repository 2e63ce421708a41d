#pragma once

#include "linetune/control/push_plan.hpp"
#include "linetune/core/amplifier_state.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace linetune::control {

/// A channel state as JSON: gain_db, delay_ms, mute, polarity_inverted and bands[] (enabled,
/// type, freq_hz, gain_db, q). Numbers keep every bit (17 significant digits).
nlohmann::json channel_state_json(const ChannelState& state);

/// The channel state of channel_state_json; throws Error (configuration) naming `where` and the
/// key at fault.
ChannelState channel_state_from_json(const nlohmann::json& json, const std::string& where);

/// Writes the journal of a push (venue, and per device and channel the zone, snapshot and target)
/// atomically. The file and its folder are flushed to disk before it returns, so the journal
/// survives a crash or power loss during the writes that follow. Throws Error (configuration)
/// naming the file.
void write_push_journal(const std::filesystem::path& path, const PushPlan& plan);

/// Reads a journal written by write_push_journal; throws Error (configuration) naming the file and
/// what is wrong in it.
PushPlan read_push_journal(const std::filesystem::path& path);

/// Removes the journal and flushes its folder, so that the removal also survives a power loss.
/// Throws Error (configuration) when the file exists and cannot be removed.
void remove_push_journal(const std::filesystem::path& path);

}  // namespace linetune::control
