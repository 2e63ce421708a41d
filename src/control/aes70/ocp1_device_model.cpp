#include "ocp1_device_classes.hpp"

#include "linetune/control/osc/device_value_rules.hpp"
#include "linetune/control/osc/osc_address_scheme.hpp"
#include "linetune/core/error.hpp"

#include "linetune_version.hpp"

#include <algorithm>
#include <array>

namespace linetune::control {

using namespace ocp1_device;

Ocp1DeviceModel::Ocp1DeviceModel(DeviceProfile profile, SharedAmplifierState& state, Ocp1DeviceIdentity identity)
    : profile_(std::move(profile)), state_(state), identity_(std::move(identity)),
      layout_(ocp1_device_layout(profile_)) {
    AmplifierState held = state_.snapshot();
    if (held.channels.size() > profile_.channel_count) {
        throw Error("AES70 virtual amplifier: the state has " + std::to_string(held.channels.size()) +
                        " channels, but profile '" + profile_.name + "' has " + std::to_string(profile_.channel_count),
                    ErrorKind::configuration);
    }
    for (const ParameterId& id : all_parameters(held)) {
        require_parameter_in_profile(profile_, id);
        set_parameter(held, id, quantise_for_device(profile_.limits, id, get_parameter(held, id)));
    }
    if (held != state_.snapshot()) {
        state_.replace(held);
    }
    build_tree();
}

void Ocp1DeviceModel::build_tree() {
    add_object({.ono = oca_device_manager_ono, .kind = ObjectKind::device_manager, .role = "DeviceManager"});
    add_object({.ono = oca_subscription_manager_ono, .kind = ObjectKind::subscription_manager,
                .role = "SubscriptionManager"});
    Object& root = add_object({.ono = oca_root_block_ono, .kind = ObjectKind::block, .role = "Root"});
    const AmplifierState held = state_.snapshot();

    for (std::size_t c = 0; c < layout_.channels.size(); ++c) {
        const auto& channel = layout_.channels[c];
        const std::size_t number = c + 1;
        Object block{.ono = channel.block, .kind = ObjectKind::block, .role = channel.roles.block,
                     .owner = oca_root_block_ono, .channel = number};
        const auto member = [&](OcaONo ono, ObjectKind kind, std::string role, std::size_t band = 0) {
            add_object({.ono = ono, .kind = kind, .role = std::move(role), .owner = channel.block, .channel = number,
                        .band = band});
            block.members.push_back(ono);
        };
        member(channel.gain, ObjectKind::gain, channel.roles.gain);
        member(channel.mute, ObjectKind::mute, channel.roles.mute);
        member(channel.delay, ObjectKind::delay, channel.roles.delay);
        if (channel.polarity) {
            member(*channel.polarity, ObjectKind::polarity, channel.roles.polarity);
        }
        for (std::size_t b = 0; b < channel.bands.size(); ++b) {
            member(channel.bands[b], ObjectKind::filter, channel.roles.bands.at(b), b + 1);
        }
        root.members.push_back(channel.block);
        add_object(std::move(block));
    }
}

Ocp1DeviceModel::Object& Ocp1DeviceModel::add_object(Object object) {
    if (object.label.empty()) {
        object.label = object.role;
    }
    const OcaONo ono = object.ono;
    const auto [entry, inserted] = objects_.emplace(ono, std::move(object));
    if (!inserted) {
        throw Error("AES70 virtual amplifier for profile '" + profile_.name + "': object number " +
                        std::to_string(ono) + " is used twice; give every object its own number",
                    ErrorKind::configuration);
    }
    return entry->second;
}

void Ocp1DeviceModel::set_refused_parameters(const std::vector<std::string>& entries) {
    const GenericOscAddressScheme scheme;
    std::vector<RefusalRule> rules;
    for (const auto& entry : entries) {
        RefusalRule rule;
        if (entry == "all") {
            rule.every_parameter = true;
        } else if (const auto kind = parse_parameter_kind(entry)) {
            rule.kind = kind;
        } else if (const auto id = scheme.parse_address(entry)) {
            rule.id = id;
        } else {
            throw Error("invalid parameter to refuse '" + entry +
                            "': give \"all\", a parameter name (gain_db, delay_ms, mute, polarity_inverted, "
                            "band_enabled, band_type, band_freq_hz, band_gain_db, band_q) or an address such as "
                            "/ch/1/eq/2/gain_db",
                        ErrorKind::configuration);
        }
        rules.push_back(rule);
    }
    refusal_rules_ = std::move(rules);
}

bool Ocp1DeviceModel::is_refused(const ParameterId& id) const {
    return std::any_of(refusal_rules_.begin(), refusal_rules_.end(), [&id](const RefusalRule& rule) {
        return rule.every_parameter || rule.kind == id.kind || rule.id == id;
    });
}

Ocp1CommandOutcome Ocp1DeviceModel::handle(Ocp1ControllerId controller, const Ocp1Command& command) {
    Ocp1CommandOutcome outcome;
    outcome.response.handle = command.handle;
    const auto found = objects_.find(command.target_ono);
    if (found == objects_.end()) {
        outcome.response.status = OcaStatus::bad_ono;
        return outcome;
    }
    Object& object = found->second;
    const bool locked_by_other = object.lock != LockState::none && object.lock_owner != controller;
    if (locked_by_other && (object.lock == LockState::total || modifies(object.kind, command.method))) {
        outcome.response.status = OcaStatus::locked;
        return outcome;
    }

    const std::string what = "parameters of method " + std::to_string(command.method.def_level) + "." +
                             std::to_string(command.method.index) + " on object " + std::to_string(object.ono);
    Call call{controller, command, object, Ocp1Reader(command.parameters, what), {}, {}, 0};
    call.outcome.response.handle = command.handle;
    try {
        dispatch(call);
    } catch (const Error& error) {
        call.fail(OcaStatus::bad_format);
        call.outcome.log_lines.emplace_back(error.what());
    }

    Ocp1CommandOutcome result = std::move(call.outcome);
    if (result.response.status == OcaStatus::ok) {
        result.response.parameter_count = call.result_count;
        result.response.parameters = call.result.take();
    } else {
        result.notifications.clear();
    }
    return result;
}

void Ocp1DeviceModel::disconnect(Ocp1ControllerId controller) {
    std::erase_if(subscriptions_, [controller](const Subscription& s) { return s.controller == controller; });
    notifications_disabled_.erase(controller);
    for (auto& [ono, object] : objects_) {
        if (object.lock_owner == controller) {
            object.lock = LockState::none;
            object.lock_owner = 0;
        }
    }
}

void Ocp1DeviceModel::dispatch(Call& call) {
    const ObjectKind kind = call.object.kind;
    switch (call.command.method.def_level) {
    case 1: root_method(call); return;
    case 2:
        if (!is_manager(kind)) {
            worker_method(call);
            return;
        }
        break;
    case 3:
        if (kind == ObjectKind::block) {
            block_method(call);
            return;
        }
        if (kind == ObjectKind::device_manager) {
            device_manager_method(call);
            return;
        }
        if (kind == ObjectKind::subscription_manager) {
            subscription_manager_method(call);
            return;
        }
        break;
    case 4:
        if (is_actuator(kind)) {
            actuator_method(call);
            return;
        }
        break;
    case 5:
        if (kind == ObjectKind::delay) {
            delay_extended_method(call);
            return;
        }
        break;
    default: break;
    }
    call.fail(OcaStatus::bad_method);
}

// ---------------------------------------------------------------- OcaRoot (level 1)

void Ocp1DeviceModel::root_method(Call& call) {
    Object& object = call.object;
    const bool lockable = !is_manager(object.kind);
    const auto set_lock = [&](LockState lock) {
        call.arguments(0);
        if (!lockable) {
            call.fail(OcaStatus::not_implemented);
            return;
        }
        object.lock = lock;
        object.lock_owner = lock == LockState::none ? 0 : call.controller;
    };

    switch (call.index()) {
    case 1:  // GetClassIdentification
        call.arguments(0);
        write_class_id(call.result, class_id_of(object.kind));
        call.result.u16(class_version);
        call.returns(1);
        return;
    case 2:  // GetLockable
        call.arguments(0);
        call.result.boolean(lockable);
        call.returns(1);
        return;
    case 3: set_lock(LockState::total); return;  // LockTotal
    case 4: set_lock(LockState::none); return;   // Unlock
    case 5:                                      // GetRole
        call.arguments(0);
        call.result.string(object.role);
        call.returns(1);
        return;
    case 6: set_lock(LockState::read_only); return;  // LockReadonly
    case 7:                                          // GetLockState (AES70-2023)
        call.arguments(0);
        call.result.u8(static_cast<std::uint8_t>(object.lock));
        call.returns(1);
        return;
    default: call.fail(OcaStatus::bad_method);
    }
}

// ---------------------------------------------------------------- OcaWorker (level 2)

void Ocp1DeviceModel::worker_method(Call& call) {
    Object& object = call.object;
    const bool is_band = object.kind == ObjectKind::filter;
    const ParameterId enabled_id{object.channel, ParameterKind::band_enabled, object.band};

    switch (call.index()) {
    case 1:  // GetEnabled
        call.arguments(0);
        call.result.boolean(is_band ? std::get<bool>(state_.get(enabled_id)) : true);
        call.returns(1);
        return;
    case 2: {  // SetEnabled
        const bool enabled = call.parameters.boolean();
        call.arguments(1);
        if (!is_band) {
            // Only the filters can be bypassed; the other objects are always in the signal path.
            call.fail(OcaStatus::not_implemented);
            return;
        }
        set_parameters(call, {{enabled_id, enabled}});
        return;
    }
    case 5:  // GetPorts: the objects are not wired by ports
        call.arguments(0);
        call.result.u16(0);
        call.returns(1);
        return;
    case 8:  // GetLabel
        call.arguments(0);
        call.result.string(object.label);
        call.returns(1);
        return;
    case 9: {  // SetLabel
        std::string label = call.parameters.string();
        call.arguments(1);
        object.label = std::move(label);
        notify(call, object, OcaPropertyId{2, 3}, Ocp1Writer().string(object.label).take());
        return;
    }
    case 10:  // GetOwner
        call.arguments(0);
        call.result.ono(object.owner);
        call.returns(1);
        return;
    case 11:  // GetLatency, in seconds: the profile's latency of the whole DSP path
        call.arguments(0);
        call.result.f32(static_cast<float>(profile_.latency_ms / 1000.0));
        call.returns(1);
        return;
    case 13: {  // GetPath: roles and object numbers from below the root block down to this object
        call.arguments(0);
        std::vector<const Object*> path;
        for (const Object* at = &object; at->ono != oca_root_block_ono && at->owner != 0;
             at = &objects_.at(at->owner)) {
            path.insert(path.begin(), at);
        }
        call.result.u16(static_cast<std::uint16_t>(path.size()));
        for (const Object* at : path) {
            call.result.string(at->role);
        }
        call.result.u16(static_cast<std::uint16_t>(path.size()));
        for (const Object* at : path) {
            call.result.ono(at->ono);
        }
        call.returns(2);
        return;
    }
    default:
        call.fail(call.index() >= 1 && call.index() <= worker_method_count ? OcaStatus::not_implemented
                                                                            : OcaStatus::bad_method);
    }
}

// ---------------------------------------------------------------- OcaBlock (level 3)

void Ocp1DeviceModel::block_method(Call& call) {
    const Object& block = call.object;
    const auto identify = [this](Ocp1Writer& writer, const Object& object) {
        writer.ono(object.ono);
        write_class_id(writer, class_id_of(object.kind));
        writer.u16(class_version);
    };
    // Depth first, each block followed by its members, like AES70.js's device tree.
    const auto collect = [this](const Object& from, auto&& self, std::vector<const Object*>& out) -> void {
        for (const OcaONo ono : from.members) {
            const Object& member = objects_.at(ono);
            out.push_back(&member);
            if (member.kind == ObjectKind::block) {
                self(member, self, out);
            }
        }
    };
    const auto container_path = [this, &block](const Object& object) {
        std::vector<OcaONo> path;
        for (OcaONo at = object.owner; at != 0 && at != block.ono; at = objects_.at(at).owner) {
            path.insert(path.begin(), at);
        }
        path.insert(path.begin(), block.ono);
        return path;
    };
    const auto write_results = [&](const std::vector<const Object*>& found) {
        call.result.u16(static_cast<std::uint16_t>(found.size()));
        for (const Object* object : found) {
            // NOTE: every field is filled whatever the search flags ask for; AES70.js 1.1.16
            // decodes OcaObjectSearchResult as a fixed structure.
            identify(call.result, *object);
            const auto path = container_path(*object);
            call.result.u16(static_cast<std::uint16_t>(path.size()));
            for (const OcaONo ono : path) {
                call.result.ono(ono);
            }
            call.result.string(object->role).string(object->label);
        }
        call.returns(1);
    };

    switch (call.index()) {
    case 1:  // GetType: 0, because no factory built these blocks
        call.arguments(0);
        call.result.ono(0);
        call.returns(1);
        return;
    case 5:  // GetMembers
        call.arguments(0);
        call.result.u16(static_cast<std::uint16_t>(block.members.size()));
        for (const OcaONo ono : block.members) {
            identify(call.result, objects_.at(ono));
        }
        call.returns(1);
        return;
    case 6: {  // GetMembersRecursive
        call.arguments(0);
        std::vector<const Object*> all;
        collect(block, collect, all);
        call.result.u16(static_cast<std::uint16_t>(all.size()));
        for (const Object* object : all) {
            identify(call.result, *object);
            call.result.ono(object->owner);
        }
        call.returns(1);
        return;
    }
    case 9:   // GetSignalPaths
    case 10:  // GetSignalPathsRecursive: the tree declares no signal paths
        call.arguments(0);
        call.result.u16(0);
        call.returns(1);
        return;
    case 17:    // FindObjectsByRole
    case 18:    // FindObjectsByRoleRecursive
    case 19: {  // FindObjectsByLabelRecursive
        const std::string search = call.parameters.string();
        const std::uint8_t comparison = call.parameters.u8();
        const std::uint16_t class_fields = call.parameters.u16();
        std::vector<std::uint16_t> class_filter;
        for (std::uint16_t i = 0; i < class_fields; ++i) {
            class_filter.push_back(call.parameters.u16());
        }
        (void)call.parameters.u16();  // result flags: every field is returned
        call.arguments(4);
        if (comparison > static_cast<std::uint8_t>(Comparison::contains_case_insensitive)) {
            call.fail(OcaStatus::parameter_error);
            return;
        }
        std::vector<const Object*> candidates;
        if (call.index() == 17) {
            for (const OcaONo ono : block.members) {
                candidates.push_back(&objects_.at(ono));
            }
        } else {
            collect(block, collect, candidates);
        }
        std::vector<const Object*> found;
        for (const Object* object : candidates) {
            const auto id = class_id_of(object->kind);
            const bool class_matches = class_filter.size() <= id.size() &&
                                       std::equal(class_filter.begin(), class_filter.end(), id.begin());
            const std::string& name = call.index() == 19 ? object->label : object->role;
            if (class_matches && matches(name, search, static_cast<Comparison>(comparison))) {
                found.push_back(object);
            }
        }
        write_results(found);
        return;
    }
    case 20: {  // FindObjectsByPath: one role per level below this block
        const std::uint16_t count = call.parameters.u16();
        std::vector<std::string> roles;
        for (std::uint16_t i = 0; i < count; ++i) {
            roles.push_back(call.parameters.string());
        }
        (void)call.parameters.u16();  // result flags: every field is returned
        call.arguments(2);
        const Object* at = &block;
        for (const auto& role : roles) {
            const auto next = std::find_if(at->members.begin(), at->members.end(),
                                           [&](OcaONo ono) { return objects_.at(ono).role == role; });
            if (next == at->members.end()) {
                at = nullptr;
                break;
            }
            at = &objects_.at(*next);
        }
        write_results(at != nullptr && !roles.empty() ? std::vector<const Object*>{at} : std::vector<const Object*>{});
        return;
    }
    default:
        call.fail(call.index() >= 1 && call.index() <= block_method_count ? OcaStatus::not_implemented
                                                                           : OcaStatus::bad_method);
    }
}

// ---------------------------------------------------------------- OcaDeviceManager (level 3)

void Ocp1DeviceModel::device_manager_method(Call& call) {
    const auto reply_string = [&call](const std::string& text) {
        call.arguments(0);
        call.result.string(text);
        call.returns(1);
    };
    switch (call.index()) {
    case 1:  // GetOcaVersion
        call.arguments(0);
        call.result.u16(aes70_2018_oca_version);
        call.returns(1);
        return;
    case 2: {  // GetModelGUID: reserved byte, manufacturer code (none registered), model code "LTVA"
        call.arguments(0);
        const std::array<std::uint8_t, 8> guid{0, 0, 0, 0, 'L', 'T', 'V', 'A'};
        call.result.raw(guid);
        call.returns(1);
        return;
    }
    case 3: reply_string(identity_.serial_number); return;  // GetSerialNumber
    case 4: reply_string(identity_.device_name); return;    // GetDeviceName
    case 5: {                                               // SetDeviceName
        std::string name = call.parameters.string();
        call.arguments(1);
        identity_.device_name = std::move(name);
        return;
    }
    case 6:  // GetModelDescription: manufacturer, model, version
        call.arguments(0);
        call.result.string("linetune").string("virtual amplifier (" + profile_.name + ")").string(LINETUNE_VERSION);
        call.returns(1);
        return;
    case 7: reply_string("amplifier"); return;  // GetDeviceRole
    case 9: reply_string(""); return;           // GetUserInventoryCode
    case 11:                                    // GetEnabled
        call.arguments(0);
        call.result.boolean(true);
        call.returns(1);
        return;
    case 13:  // GetState: an empty OcaDeviceState bitset means operational
        call.arguments(0);
        call.result.u16(0);
        call.returns(1);
        return;
    case 19:  // GetManagers
        call.arguments(0);
        call.result.u16(2);
        for (const OcaONo ono : {oca_device_manager_ono, oca_subscription_manager_ono}) {
            const Object& manager = objects_.at(ono);
            call.result.ono(ono).string(manager.role);
            write_class_id(call.result, class_id_of(manager.kind));
            call.result.u16(class_version);
        }
        call.returns(1);
        return;
    case 20: reply_string(LINETUNE_VERSION); return;  // GetDeviceRevisionID
    default:
        call.fail(call.index() >= 1 && call.index() <= device_manager_method_count ? OcaStatus::not_implemented
                                                                                    : OcaStatus::bad_method);
    }
}

// ---------------------------------------------------------------- OcaSubscriptionManager (level 3)

void Ocp1DeviceModel::subscription_manager_method(Call& call) {
    Ocp1Reader& in = call.parameters;
    const auto same_target = [&call](const Subscription& s, OcaONo emitter, OcaEventId event, OcaONo subscriber,
                                     OcaMethodId method) {
        return s.controller == call.controller && s.emitter == emitter && s.event == event &&
               s.subscriber_ono == subscriber && s.subscriber_method == method;
    };
    const auto add = [&](Subscription subscription) {
        if (!objects_.contains(subscription.emitter)) {
            call.fail(OcaStatus::bad_ono);
            return;
        }
        if (subscription.context.size() > max_subscriber_context_bytes) {
            call.fail(OcaStatus::parameter_out_of_range);
            return;
        }
        const auto held = std::count_if(subscriptions_.begin(), subscriptions_.end(),
                                        [&call](const Subscription& s) { return s.controller == call.controller; });
        if (static_cast<std::size_t>(held) >= max_subscriptions_per_controller) {
            call.fail(OcaStatus::processing_failed);
            call.outcome.log_lines.push_back("controller " + std::to_string(call.controller) + " holds " +
                                             std::to_string(held) + " subscriptions, the maximum");
            return;
        }
        const bool duplicate = std::any_of(subscriptions_.begin(), subscriptions_.end(), [&](const Subscription& s) {
            return same_target(s, subscription.emitter, subscription.event, subscription.subscriber_ono,
                               subscription.subscriber_method) &&
                   s.property == subscription.property;
        });
        if (!duplicate) {
            subscriptions_.push_back(std::move(subscription));
        }
    };

    switch (call.index()) {
    case 1: {  // AddSubscription(Event, Subscriber method, Context, DeliveryMode, Destination)
        Subscription s{.controller = call.controller};
        s.emitter = in.ono();
        s.event = in.member_id();
        s.subscriber_ono = in.ono();
        s.subscriber_method = in.member_id();
        s.context = in.blob();
        (void)in.u8();    // delivery mode: notifications go back on the same connection either way
        (void)in.blob();  // destination: used by UDP only
        call.arguments(5);
        add(std::move(s));
        return;
    }
    case 2: {  // RemoveSubscription(Event, Subscriber method)
        const OcaONo emitter = in.ono();
        const OcaEventId event = in.member_id();
        const OcaONo subscriber = in.ono();
        const OcaMethodId method = in.member_id();
        call.arguments(2);
        std::erase_if(subscriptions_, [&](const Subscription& s) {
            return same_target(s, emitter, event, subscriber, method) && !s.property;
        });
        return;
    }
    case 3:  // DisableNotifications
    case 4:  // ReEnableNotifications
        call.arguments(0);
        notifications_disabled_[call.controller] = call.index() == 3;
        return;
    case 5: {  // AddPropertyChangeSubscription(Emitter, PropertyID, Subscriber, Context, Mode, Destination)
        Subscription s{.controller = call.controller, .event = property_changed_event};
        s.emitter = in.ono();
        s.property = in.member_id();
        s.subscriber_ono = in.ono();
        s.subscriber_method = in.member_id();
        s.context = in.blob();
        (void)in.u8();
        (void)in.blob();
        call.arguments(6);
        add(std::move(s));
        return;
    }
    case 6: {  // RemovePropertyChangeSubscription(Emitter, PropertyID, Subscriber)
        const OcaONo emitter = in.ono();
        const OcaPropertyId property = in.member_id();
        const OcaONo subscriber = in.ono();
        const OcaMethodId method = in.member_id();
        call.arguments(3);
        std::erase_if(subscriptions_, [&](const Subscription& s) {
            return same_target(s, emitter, property_changed_event, subscriber, method) && s.property == property;
        });
        return;
    }
    case 7:  // GetMaximumSubscriberContextLength
        call.arguments(0);
        call.result.u16(max_subscriber_context_bytes);
        call.returns(1);
        return;
    default:
        call.fail(call.index() >= 1 && call.index() <= subscription_manager_method_count ? OcaStatus::not_implemented
                                                                                          : OcaStatus::bad_method);
    }
}

}  // namespace linetune::control
