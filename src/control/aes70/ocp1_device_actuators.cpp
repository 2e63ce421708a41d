#include "ocp1_device_classes.hpp"

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/core/error.hpp"

namespace linetune::control {

using namespace ocp1_device;

// ---------------------------------------------------------------- actuators (level 4 and 5)

void Ocp1DeviceModel::actuator_method(Call& call) {
    const Object& object = call.object;
    const std::size_t channel = object.channel;
    const auto reply_range = [&call](double value, double min, double max) {
        call.arguments(0);
        call.result.f32(static_cast<float>(value)).f32(static_cast<float>(min)).f32(static_cast<float>(max));
        call.returns(3);
    };
    const auto reply_state = [&call](std::uint8_t state) {
        call.arguments(0);
        call.result.u8(state);
        call.returns(1);
    };
    const auto read_float = [&call]() {
        const double value = call.parameters.f32();
        call.arguments(1);
        return value;
    };

    switch (object.kind) {
    case ObjectKind::gain: {
        const ParameterId id{channel, ParameterKind::gain_db, 0};
        if (call.index() == 1) {
            reply_range(std::get<double>(state_.get(id)), profile_.limits.gain_db.min, profile_.limits.gain_db.max);
        } else if (call.index() == 2) {
            set_parameters(call, {{id, read_float()}});
        } else {
            call.fail(OcaStatus::bad_method);
        }
        return;
    }
    case ObjectKind::delay: {  // OcaDelay: DelayTime in seconds
        const ParameterId id{channel, ParameterKind::delay_ms, 0};
        if (call.index() == 1) {
            reply_range(std::get<double>(state_.get(id)) / 1000.0, 0.0, profile_.limits.delay_ms.max / 1000.0);
        } else if (call.index() == 2) {
            set_parameters(call, {{id, read_float() * 1000.0}});
        } else {
            call.fail(OcaStatus::bad_method);
        }
        return;
    }
    case ObjectKind::mute:
    case ObjectKind::polarity: {
        const bool is_mute = object.kind == ObjectKind::mute;
        const ParameterId id{channel, is_mute ? ParameterKind::mute : ParameterKind::polarity_inverted, 0};
        const std::uint8_t on = is_mute ? mute_state_muted : polarity_inverted;
        const std::uint8_t off = is_mute ? mute_state_unmuted : polarity_non_inverted;
        if (call.index() == 1) {
            reply_state(std::get<bool>(state_.get(id)) ? on : off);
        } else if (call.index() == 2) {
            const std::uint8_t state = call.parameters.u8();
            call.arguments(1);
            if (state != on && state != off) {
                call.fail(OcaStatus::parameter_error);
                return;
            }
            set_parameters(call, {{id, state == on}});
        } else {
            call.fail(OcaStatus::bad_method);
        }
        return;
    }
    case ObjectKind::filter: filter_method(call); return;
    default: call.fail(OcaStatus::bad_method);
    }
}

void Ocp1DeviceModel::filter_method(Call& call) {
    const Object& object = call.object;
    const auto band_id = [&object](ParameterKind kind) { return ParameterId{object.channel, kind, object.band}; };
    const auto& eq = profile_.limits.eq;
    const auto reply_range = [&call](double value, const Range& range) {
        call.arguments(0);
        call.result.f32(static_cast<float>(value));
        call.result.f32(static_cast<float>(range.min)).f32(static_cast<float>(range.max));
        call.returns(3);
    };
    const auto number = [this, &band_id](ParameterKind kind) { return std::get<double>(state_.get(band_id(kind))); };
    const auto set_number = [&](ParameterKind kind) {
        const double value = call.parameters.f32();
        call.arguments(1);
        set_parameters(call, {{band_id(kind), value}});
    };

    switch (call.index()) {
    case 1: reply_range(number(ParameterKind::band_freq_hz), eq.freq_hz); return;  // GetFrequency
    case 2: set_number(ParameterKind::band_freq_hz); return;                       // SetFrequency
    case 3:                                                                        // GetShape
        call.arguments(0);
        call.result.u8(shape_of(std::get<FilterKind>(state_.get(band_id(ParameterKind::band_type)))));
        call.returns(1);
        return;
    case 4: {  // SetShape
        const std::uint8_t shape = call.parameters.u8();
        call.arguments(1);
        const auto kind = filter_kind_of(shape);
        if (!kind) {
            call.fail(OcaStatus::parameter_out_of_range);
            return;
        }
        set_parameters(call, {{band_id(ParameterKind::band_type), *kind}});
        return;
    }
    case 5: reply_range(number(ParameterKind::band_q), eq.q); return;             // GetWidthParameter
    case 6: set_number(ParameterKind::band_q); return;                            // SetWidthParameter
    case 7: reply_range(number(ParameterKind::band_gain_db), eq.gain_db); return;  // GetInbandGain
    case 8: set_number(ParameterKind::band_gain_db); return;                      // SetInbandGain
    case 9:  // GetShapeParameter: the five shapes served have no shape parameter, so it is fixed at 0
        reply_range(0.0, Range{0.0, 0.0, 0.0});
        return;
    case 10: {  // SetShapeParameter
        const float value = call.parameters.f32();
        call.arguments(1);
        if (value != 0.0F) {
            call.fail(OcaStatus::parameter_out_of_range);
            return;
        }
        notify(call, object, OcaPropertyId{4, 5}, f32_bytes(0.0));
        return;
    }
    case 11: set_filter_multiple(call); return;
    default: call.fail(OcaStatus::bad_method);
    }
}

void Ocp1DeviceModel::set_filter_multiple(Call& call) {
    const Object& object = call.object;
    Ocp1Reader& in = call.parameters;
    const std::uint16_t mask = in.u16();
    const double frequency_hz = in.f32();
    const std::uint8_t shape = in.u8();
    const double q = in.f32();
    const double gain_db = in.f32();
    const float shape_parameter = in.f32();
    call.arguments(6);
    if ((mask & ~mask_all) != 0) {
        call.fail(OcaStatus::parameter_error);
        return;
    }

    // Every field is checked before anything changes, so the filter moves as one (AES70 defines
    // SetMultiple as atomic).
    const auto id = [&object](ParameterKind kind) { return ParameterId{object.channel, kind, object.band}; };
    std::vector<std::pair<ParameterId, ParameterValue>> values;
    if ((mask & mask_frequency) != 0) {
        values.emplace_back(id(ParameterKind::band_freq_hz), frequency_hz);
    }
    if ((mask & mask_shape) != 0) {
        const auto kind = filter_kind_of(shape);
        if (!kind) {
            call.fail(OcaStatus::parameter_out_of_range);
            return;
        }
        values.emplace_back(id(ParameterKind::band_type), *kind);
    }
    if ((mask & mask_width) != 0) {
        values.emplace_back(id(ParameterKind::band_q), q);
    }
    if ((mask & mask_inband_gain) != 0) {
        values.emplace_back(id(ParameterKind::band_gain_db), gain_db);
    }
    if ((mask & mask_shape_parameter) != 0 && shape_parameter != 0.0F) {
        call.fail(OcaStatus::parameter_out_of_range);
        return;
    }
    set_parameters(call, values);
    if (call.ok() && (mask & mask_shape_parameter) != 0) {
        notify(call, object, OcaPropertyId{4, 5}, f32_bytes(0.0));
    }
}

void Ocp1DeviceModel::delay_extended_method(Call& call) {
    Object& object = call.object;
    const ParameterId id{object.channel, ParameterKind::delay_ms, 0};
    const double sample_rate_hz = profile_.sample_rate_hz;
    const auto write_value = [&](double seconds, std::uint8_t unit) {
        call.result.f32(static_cast<float>(seconds / *seconds_per_unit(unit, sample_rate_hz))).u8(unit);
    };
    const double seconds_now = std::get<double>(state_.get(id)) / 1000.0;

    switch (call.index()) {
    case 1:  // GetDelayValue: value, min, max in the unit of the last SetDelayValue
        call.arguments(0);
        write_value(seconds_now, object.delay_unit);
        write_value(0.0, object.delay_unit);
        write_value(profile_.limits.delay_ms.max / 1000.0, object.delay_unit);
        call.returns(3);
        return;
    case 2: {  // SetDelayValue
        const double value = call.parameters.f32();
        const std::uint8_t unit = call.parameters.u8();
        call.arguments(1);
        const auto factor = seconds_per_unit(unit, sample_rate_hz);
        if (!factor) {
            call.fail(OcaStatus::parameter_error);
            return;
        }
        const std::uint8_t previous_unit = object.delay_unit;
        object.delay_unit = unit;
        set_parameters(call, {{id, value * *factor * 1000.0}});
        if (!call.ok()) {
            object.delay_unit = previous_unit;
        }
        return;
    }
    case 3: {  // GetDelayValueConverted
        const std::uint8_t unit = call.parameters.u8();
        call.arguments(1);
        if (!seconds_per_unit(unit, sample_rate_hz)) {
            call.fail(OcaStatus::parameter_error);
            return;
        }
        write_value(seconds_now, unit);
        call.returns(1);
        return;
    }
    default: call.fail(OcaStatus::bad_method);
    }
}

// ---------------------------------------------------------------- sets and notifications

void Ocp1DeviceModel::set_parameters(Call& call, const std::vector<std::pair<ParameterId, ParameterValue>>& values) {
    for (const auto& [id, value] : values) {
        if (is_refused(id)) {
            call.fail(OcaStatus::processing_failed);
            call.outcome.log_lines.push_back(describe(id) + ": " + describe(value) + " rejected by fault injection");
            return;
        }
    }
    const AmplifierState original = state_.snapshot();
    AmplifierState working = original;
    for (const auto& [id, value] : values) {
        try {
            set_parameter(working, id, quantise_for_device(profile_.limits, id, value));
        } catch (const Error& error) {
            call.fail(OcaStatus::parameter_out_of_range);
            call.outcome.log_lines.emplace_back(error.what());
            return;
        }
    }
    if (working != original) {
        state_.replace(working);
        call.outcome.state_changed = true;
        call.outcome.state = std::move(working);
    }
    // Every successful Set is notified, changed or not, as AES70.js's conformance suite expects.
    for (const auto& entry : values) {
        notify_parameter(call, entry.first);
    }
}

void Ocp1DeviceModel::notify_parameter(Call& call, const ParameterId& id) {
    const auto& channel = layout_.channels.at(id.channel - 1);
    const ParameterValue value = state_.get(id);
    switch (id.kind) {
    case ParameterKind::gain_db:
        notify(call, objects_.at(channel.gain), OcaPropertyId{4, 1}, f32_bytes(std::get<double>(value)));
        return;
    case ParameterKind::delay_ms: {
        const Object& delay = objects_.at(channel.delay);
        const double seconds = std::get<double>(value) / 1000.0;
        notify(call, delay, OcaPropertyId{4, 1}, f32_bytes(seconds));
        const double per_unit = *seconds_per_unit(delay.delay_unit, profile_.sample_rate_hz);
        notify(call, delay, OcaPropertyId{5, 1},
               Ocp1Writer().f32(static_cast<float>(seconds / per_unit)).u8(delay.delay_unit).take());
        return;
    }
    case ParameterKind::mute:
        notify(call, objects_.at(channel.mute), OcaPropertyId{4, 1},
               {std::get<bool>(value) ? mute_state_muted : mute_state_unmuted});
        return;
    case ParameterKind::polarity_inverted:
        if (channel.polarity) {
            notify(call, objects_.at(*channel.polarity), OcaPropertyId{4, 1},
                   {std::get<bool>(value) ? polarity_inverted : polarity_non_inverted});
        }
        return;
    case ParameterKind::band_enabled:
        notify(call, objects_.at(channel.bands.at(id.band - 1)), OcaPropertyId{2, 1},
               {static_cast<std::uint8_t>(std::get<bool>(value) ? 1 : 0)});
        return;
    case ParameterKind::band_type:
        notify(call, objects_.at(channel.bands.at(id.band - 1)), OcaPropertyId{4, 2},
               {shape_of(std::get<FilterKind>(value))});
        return;
    case ParameterKind::band_freq_hz:
    case ParameterKind::band_q:
    case ParameterKind::band_gain_db: {
        // OcaFilterParametric properties: 4.1 Frequency, 4.3 WidthParameter, 4.4 InbandGain.
        std::uint16_t property = 4;
        if (id.kind == ParameterKind::band_freq_hz) {
            property = 1;
        } else if (id.kind == ParameterKind::band_q) {
            property = 3;
        }
        notify(call, objects_.at(channel.bands.at(id.band - 1)), OcaPropertyId{4, property},
               f32_bytes(std::get<double>(value)));
        return;
    }
    }
}

void Ocp1DeviceModel::notify(Call& call, const Object& emitter, OcaPropertyId property,
                             std::vector<std::uint8_t> value) {
    for (const auto& subscription : subscriptions_) {
        if (subscription.emitter != emitter.ono || subscription.event != property_changed_event ||
            (subscription.property && *subscription.property != property)) {
            continue;
        }
        const auto disabled = notifications_disabled_.find(subscription.controller);
        if (disabled != notifications_disabled_.end() && disabled->second) {
            continue;
        }
        Ocp1Notification notification;
        notification.target_ono = subscription.subscriber_ono;
        notification.method = subscription.subscriber_method;
        notification.parameter_count = 2;
        notification.context = subscription.context;
        notification.emitter_ono = emitter.ono;
        notification.event = property_changed_event;
        notification.event_data =
            Ocp1Writer().member_id(property).raw(value).u8(change_type_current_changed).take();
        call.outcome.notifications.push_back({subscription.controller, std::move(notification)});
    }
}

}  // namespace linetune::control
