#include "linetune/core/amplifier_state.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <array>
#include <utility>

namespace linetune {
namespace {

struct ParameterKindName {
    ParameterKind kind;
    std::string_view name;
};

constexpr std::array<ParameterKindName, 9> parameter_kind_names{{
    {ParameterKind::gain_db, "gain_db"},
    {ParameterKind::delay_ms, "delay_ms"},
    {ParameterKind::mute, "mute"},
    {ParameterKind::polarity_inverted, "polarity_inverted"},
    {ParameterKind::band_enabled, "band_enabled"},
    {ParameterKind::band_type, "band_type"},
    {ParameterKind::band_freq_hz, "band_freq_hz"},
    {ParameterKind::band_gain_db, "band_gain_db"},
    {ParameterKind::band_q, "band_q"},
}};

/// The channel the id names, const or not with the state.
template <typename State>
auto& channel_of(State& state, const ParameterId& id) {
    if (id.channel == 0 || id.channel > state.channels.size()) {
        throw Error(describe(id) + ": the amplifier has " + std::to_string(state.channels.size()) + " channel(s)",
                    ErrorKind::configuration);
    }
    return state.channels[id.channel - 1];
}

template <typename Channel>
auto& band_of(Channel& channel, const ParameterId& id) {
    if (id.band == 0 || id.band > channel.bands.size()) {
        throw Error(describe(id) + ": the channel has " + std::to_string(channel.bands.size()) + " band(s)",
                    ErrorKind::configuration);
    }
    return channel.bands[id.band - 1];
}

template <typename T>
T value_as(const ParameterValue& value, const ParameterId& id) {
    if (const T* typed = std::get_if<T>(&value)) {
        return *typed;
    }
    throw Error(describe(id) + ": value " + describe(value) + " has the wrong type for this parameter",
                ErrorKind::configuration);
}

}  // namespace

std::string_view to_string(ParameterKind kind) {
    for (const auto& entry : parameter_kind_names) {
        if (entry.kind == kind) {
            return entry.name;
        }
    }
    return "gain_db";
}

std::optional<ParameterKind> parse_parameter_kind(std::string_view text) {
    for (const auto& entry : parameter_kind_names) {
        if (entry.name == text) {
            return entry.kind;
        }
    }
    return std::nullopt;
}

bool is_band_parameter(ParameterKind kind) {
    switch (kind) {
    case ParameterKind::band_enabled:
    case ParameterKind::band_type:
    case ParameterKind::band_freq_hz:
    case ParameterKind::band_gain_db:
    case ParameterKind::band_q: return true;
    case ParameterKind::gain_db:
    case ParameterKind::delay_ms:
    case ParameterKind::mute:
    case ParameterKind::polarity_inverted: return false;
    }
    return false;
}

std::string describe(const ParameterId& id) {
    std::string text = "channel " + std::to_string(id.channel) + " ";
    if (is_band_parameter(id.kind)) {
        // "band_freq_hz" reads as "band 2 freq_hz".
        text += "band " + std::to_string(id.band) + " " + std::string(to_string(id.kind).substr(5));
    } else {
        text += std::string(to_string(id.kind));
    }
    return text;
}

std::string describe(const ParameterValue& value) {
    if (const double* number = std::get_if<double>(&value)) {
        return format_significant(*number, 9);
    }
    if (const bool* flag = std::get_if<bool>(&value)) {
        return *flag ? "true" : "false";
    }
    return std::string(to_string(std::get<FilterKind>(value)));
}

ParameterValue get_parameter(const AmplifierState& state, const ParameterId& id) {
    const auto& channel = channel_of(state, id);
    switch (id.kind) {
    case ParameterKind::gain_db: return channel.gain_db;
    case ParameterKind::delay_ms: return channel.delay_ms;
    case ParameterKind::mute: return channel.mute;
    case ParameterKind::polarity_inverted: return channel.polarity_inverted;
    case ParameterKind::band_enabled: return band_of(channel, id).enabled;
    case ParameterKind::band_type: return band_of(channel, id).type;
    case ParameterKind::band_freq_hz: return band_of(channel, id).freq_hz;
    case ParameterKind::band_gain_db: return band_of(channel, id).gain_db;
    case ParameterKind::band_q: return band_of(channel, id).q;
    }
    return 0.0;
}

void set_parameter(AmplifierState& state, const ParameterId& id, const ParameterValue& value) {
    auto& channel = channel_of(state, id);
    switch (id.kind) {
    case ParameterKind::gain_db: channel.gain_db = value_as<double>(value, id); return;
    case ParameterKind::delay_ms: channel.delay_ms = value_as<double>(value, id); return;
    case ParameterKind::mute: channel.mute = value_as<bool>(value, id); return;
    case ParameterKind::polarity_inverted: channel.polarity_inverted = value_as<bool>(value, id); return;
    case ParameterKind::band_enabled: band_of(channel, id).enabled = value_as<bool>(value, id); return;
    case ParameterKind::band_type: band_of(channel, id).type = value_as<FilterKind>(value, id); return;
    case ParameterKind::band_freq_hz: band_of(channel, id).freq_hz = value_as<double>(value, id); return;
    case ParameterKind::band_gain_db: band_of(channel, id).gain_db = value_as<double>(value, id); return;
    case ParameterKind::band_q: band_of(channel, id).q = value_as<double>(value, id); return;
    }
}

std::vector<ParameterId> all_parameters(const AmplifierState& state) {
    constexpr std::array channel_kinds{ParameterKind::gain_db, ParameterKind::delay_ms, ParameterKind::mute,
                                       ParameterKind::polarity_inverted};
    constexpr std::array band_kinds{ParameterKind::band_enabled, ParameterKind::band_type, ParameterKind::band_freq_hz,
                                    ParameterKind::band_gain_db, ParameterKind::band_q};
    std::vector<ParameterId> ids;
    for (std::size_t c = 1; c <= state.channels.size(); ++c) {
        for (const ParameterKind kind : channel_kinds) {
            ids.push_back({c, kind, 0});
        }
        for (std::size_t b = 1; b <= state.channels[c - 1].bands.size(); ++b) {
            for (const ParameterKind kind : band_kinds) {
                ids.push_back({c, kind, b});
            }
        }
    }
    return ids;
}

AmplifierState neutral_amplifier_state(std::size_t channel_count, std::size_t band_count) {
    AmplifierState state;
    state.channels.assign(channel_count, ChannelState{});
    for (auto& channel : state.channels) {
        channel.bands.assign(band_count, EqBandState{});
    }
    return state;
}

SharedAmplifierState::SharedAmplifierState(AmplifierState initial) : state_(std::move(initial)) {}

AmplifierState SharedAmplifierState::snapshot() const {
    std::lock_guard lock(mutex_);
    return state_;
}

ParameterValue SharedAmplifierState::get(const ParameterId& id) const {
    std::lock_guard lock(mutex_);
    return get_parameter(state_, id);
}

void SharedAmplifierState::set(const ParameterId& id, const ParameterValue& value) {
    std::lock_guard lock(mutex_);
    set_parameter(state_, id, value);
}

void SharedAmplifierState::replace(AmplifierState state) {
    std::lock_guard lock(mutex_);
    state_ = std::move(state);
}

}  // namespace linetune
