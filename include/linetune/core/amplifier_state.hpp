#pragma once

#include "linetune/core/venue.hpp"

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace linetune {

/// One parametric band of an amplifier channel as the device holds it.
struct EqBandState {
    bool enabled = false;
    FilterKind type = FilterKind::peaking;
    double freq_hz = 1000.0;
    double gain_db = 0.0;
    double q = 0.707;

    bool operator==(const EqBandState&) const = default;
};

/// Everything linetune may change on one amplifier output channel.
struct ChannelState {
    double gain_db = 0.0;
    double delay_ms = 0.0;
    bool mute = false;
    bool polarity_inverted = false;
    std::vector<EqBandState> bands;  ///< the bands linetune owns, band 1 first

    bool operator==(const ChannelState&) const = default;
};

/// The parameters of a whole amplifier: channel 1 first.
struct AmplifierState {
    std::vector<ChannelState> channels;

    bool operator==(const AmplifierState&) const = default;
};

/// Kind of a channel or band parameter.
enum class ParameterKind {
    gain_db,
    delay_ms,
    mute,
    polarity_inverted,
    band_enabled,
    band_type,
    band_freq_hz,
    band_gain_db,
    band_q,
};

/// Name of a parameter kind as used in addresses and JSON ("gain_db", "band_freq_hz", ...).
std::string_view to_string(ParameterKind kind);

/// Parameter kind for a name that to_string returns; empty for any other text.
std::optional<ParameterKind> parse_parameter_kind(std::string_view text);

/// True for the band_* kinds.
bool is_band_parameter(ParameterKind kind);

/// Address of one parameter in linetune's generic scheme: 1-based channel and, for band
/// parameters, 1-based band.
struct ParameterId {
    std::size_t channel = 1;
    ParameterKind kind = ParameterKind::gain_db;
    std::size_t band = 0;  ///< 0 for channel parameters

    bool operator==(const ParameterId&) const = default;
};

/// Human-readable name for messages: "channel 3 gain_db", "channel 3 band 2 freq_hz".
std::string describe(const ParameterId& id);

/// A parameter's value: numbers for gains, delay, frequency and Q; bool for mute, polarity and
/// band enable; a filter kind for a band's type.
using ParameterValue = std::variant<double, bool, FilterKind>;

/// The value as text for messages and journals ("-3.5", "true", "peaking").
std::string describe(const ParameterValue& value);

/// Value of one parameter; throws Error (configuration) when the channel or band does not exist.
ParameterValue get_parameter(const AmplifierState& state, const ParameterId& id);

/// Sets one parameter; throws Error (configuration) when the channel or band does not exist or
/// the value has the wrong alternative for the kind.
void set_parameter(AmplifierState& state, const ParameterId& id, const ParameterValue& value);

/// Every parameter of the state, channel by channel, band parameters last in each channel.
std::vector<ParameterId> all_parameters(const AmplifierState& state);

/// A state with channel_count channels of band_count disabled bands, 0 dB, 0 ms, unmuted.
AmplifierState neutral_amplifier_state(std::size_t channel_count, std::size_t band_count);

/// An amplifier state shared between threads: the virtual amplifier's protocol side writes it
/// while the simulated signal path reads it.
class SharedAmplifierState {
public:
    explicit SharedAmplifierState(AmplifierState initial);

    /// A copy of the whole state, taken atomically.
    [[nodiscard]] AmplifierState snapshot() const;

    [[nodiscard]] ParameterValue get(const ParameterId& id) const;
    void set(const ParameterId& id, const ParameterValue& value);

    /// Replaces the whole state at once.
    void replace(AmplifierState state);

private:
    mutable std::mutex mutex_;
    AmplifierState state_;
};

}  // namespace linetune
