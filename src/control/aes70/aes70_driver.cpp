#include "linetune/control/aes70/aes70_driver.hpp"

#include "../device_address.hpp"
#include "aes70_property_watch.hpp"

#include "linetune/core/error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <thread>

namespace linetune::control {
namespace {

using boost::asio::ip::tcp;

/// The AES70 object class that contains a parameter.
enum class ObjectClass { gain, mute, delay, polarity, filter };

/// Wire type of a parameter's value.
enum class WireType { float32, mute_state, polarity_state, boolean, eq_shape };

/// Access to one parameter kind: the Get and Set methods of its class and the
/// value's wire type. IDs from AES70-2018 (OcaGain, OcaMute, OcaPolarity and OcaDelay level 4,
/// OcaFilterParametric level 4, OcaWorker level 2).
struct ParameterMethods {
    ObjectClass object_class;
    OcaMethodId get;
    OcaMethodId set;
    WireType wire_type;
    OcaPropertyId property;  ///< the property that Get reads and Set writes
};

ParameterMethods methods_of(ParameterKind kind) {
    switch (kind) {
    case ParameterKind::gain_db: return {ObjectClass::gain, {4, 1}, {4, 2}, WireType::float32, {4, 1}};
    case ParameterKind::delay_ms: return {ObjectClass::delay, {4, 1}, {4, 2}, WireType::float32, {4, 1}};
    case ParameterKind::mute: return {ObjectClass::mute, {4, 1}, {4, 2}, WireType::mute_state, {4, 1}};
    case ParameterKind::polarity_inverted:
        return {ObjectClass::polarity, {4, 1}, {4, 2}, WireType::polarity_state, {4, 1}};
    case ParameterKind::band_enabled: return {ObjectClass::filter, {2, 1}, {2, 2}, WireType::boolean, {2, 1}};
    case ParameterKind::band_type: return {ObjectClass::filter, {4, 3}, {4, 4}, WireType::eq_shape, {4, 2}};
    case ParameterKind::band_freq_hz: return {ObjectClass::filter, {4, 1}, {4, 2}, WireType::float32, {4, 1}};
    case ParameterKind::band_q: return {ObjectClass::filter, {4, 5}, {4, 6}, WireType::float32, {4, 3}};
    case ParameterKind::band_gain_db: return {ObjectClass::filter, {4, 7}, {4, 8}, WireType::float32, {4, 4}};
    }
    return {ObjectClass::gain, {4, 1}, {4, 2}, WireType::float32, {4, 1}};
}

// OcaMuteState: 1 Muted, 2 Unmuted. OcaPolarityState: 1 NonInverted, 2 Inverted.
constexpr std::uint8_t mute_muted = 1;
constexpr std::uint8_t mute_unmuted = 2;
constexpr std::uint8_t polarity_non_inverted = 1;
constexpr std::uint8_t polarity_inverted = 2;

// OcaDelay.DelayTime is an OcaTimeInterval in seconds; linetune's delays are in milliseconds.
constexpr double milliseconds_per_second = 1000.0;

// OcaParametricEQShape values of the five shapes linetune uses (AES70-2018 OcaParametricEQShape:
// 1 PEQ, 2 LowShelv, 3 HighShelv, 4 LowPass, 5 HighPass).
std::uint8_t eq_shape_of(FilterKind kind) {
    switch (kind) {
    case FilterKind::peaking: return 1;
    case FilterKind::low_shelf: return 2;
    case FilterKind::high_shelf: return 3;
    case FilterKind::low_pass: return 4;
    case FilterKind::high_pass: return 5;
    }
    return 1;
}

std::optional<FilterKind> filter_kind_of(std::uint8_t shape) {
    switch (shape) {
    case 1: return FilterKind::peaking;
    case 2: return FilterKind::low_shelf;
    case 3: return FilterKind::high_shelf;
    case 4: return FilterKind::low_pass;
    case 5: return FilterKind::high_pass;
    default: return std::nullopt;
    }
}

/// Class ID prefix each object of the map must start with (a subclass such as OcaDelayExtended
/// 1.1.1.7.1 passes for OcaDelay 1.1.1.7).
std::vector<std::uint16_t> class_prefix_of(ObjectClass object_class) {
    switch (object_class) {
    case ObjectClass::gain: return {1, 1, 1, 5};
    case ObjectClass::mute: return {1, 1, 1, 2};
    case ObjectClass::delay: return {1, 1, 1, 7};
    case ObjectClass::polarity: return {1, 1, 1, 3};
    case ObjectClass::filter: return {1, 1, 1, 10};
    }
    return {};
}

std::string class_name_of(ObjectClass object_class) {
    switch (object_class) {
    case ObjectClass::gain: return "OcaGain";
    case ObjectClass::mute: return "OcaMute";
    case ObjectClass::delay: return "OcaDelay";
    case ObjectClass::polarity: return "OcaPolarity";
    case ObjectClass::filter: return "OcaFilterParametric";
    }
    return "?";
}

/// Bytes of a value on the wire: float32 4, every enumeration and Boolean 1.
std::size_t wire_size_of(WireType wire_type) { return wire_type == WireType::float32 ? 4 : 1; }

// Method IDs (AES70-2018): OcaRoot 1.x, OcaSubscriptionManager 3.1 AddSubscription,
// OcaFilterParametric 4.11 SetMultiple.
constexpr OcaMethodId get_lockable{1, 2};
constexpr OcaMethodId unlock{1, 4};
constexpr OcaMethodId lock_readonly{1, 6};
constexpr OcaMethodId add_subscription{3, 1};
constexpr OcaMethodId set_multiple{4, 11};
constexpr OcaEventId property_changed_event{1, 1};

// The subscriber method that notifications name. EV1 leaves it to the controller: the device only
// echoes it back, and linetune matches notifications by emitter and property instead.
constexpr OcaMethodId subscriber_method{1, 1};

// OcaNotificationDeliveryMode 1: Reliable (on the same TCP connection).
constexpr std::uint8_t delivery_reliable = 1;

// SetMultiple mask bits: 1 Frequency, 2 Shape, 4 WidthParameter, 8 InbandGain, 16 ShapeParameter.
// linetune sets the first four; ShapeParameter is unused by its five shapes.
constexpr std::uint16_t set_multiple_linetune_fields = 0x0F;

// Maximum age of a Get reply fetched ahead that a read may use. A run of reads uses a channel's
// replies within a few milliseconds of fetching them (an estimate on loopback). The limit keeps a
// reply left over from an earlier run from being taken for the device's state much later.
constexpr std::chrono::milliseconds prefetch_lifetime{200};

/// Decodes a value of the parameter's wire type into linetune's units (delay: s on the wire, ms here).
/// Throws Error (device) for a value linetune cannot represent or a short buffer.
ParameterValue decode_value(const ParameterId& id, WireType wire_type, Ocp1Reader& reader) {
    const std::string head = describe(id);
    try {
        switch (wire_type) {
        case WireType::float32: {
            const double value = reader.f32();
            return id.kind == ParameterKind::delay_ms ? value * milliseconds_per_second : value;
        }
        case WireType::boolean: return reader.boolean();
        case WireType::mute_state: {
            const std::uint8_t state = reader.u8();
            if (state != mute_muted && state != mute_unmuted) {
                throw Error(head + ": OcaMuteState " + std::to_string(state) + " is neither 1 (Muted) nor 2 (Unmuted)",
                            ErrorKind::device);
            }
            return state == mute_muted;
        }
        case WireType::polarity_state: {
            const std::uint8_t state = reader.u8();
            if (state != polarity_non_inverted && state != polarity_inverted) {
                throw Error(head + ": OcaPolarityState " + std::to_string(state) +
                                " is neither 1 (NonInverted) nor 2 (Inverted)",
                            ErrorKind::device);
            }
            return state == polarity_inverted;
        }
        case WireType::eq_shape: {
            const std::uint8_t shape = reader.u8();
            if (const auto kind = filter_kind_of(shape)) {
                return *kind;
            }
            throw Error(head + ": OcaParametricEQShape " + std::to_string(shape) +
                            " is none of the shapes linetune uses (1 PEQ, 2 LowShelv, 3 HighShelv, 4 LowPass, "
                            "5 HighPass); set the band on the device or leave it out of eq.max_bands",
                        ErrorKind::device);
        }
        }
    } catch (const Error& error) {
        if (error.kind() == ErrorKind::device) {
            throw;
        }
        throw Error(error.what(), ErrorKind::device);  // a short Response is the device's fault
    }
    return 0.0;
}

/// Encodes a value for a Set. Throws Error (configuration) for a value of the wrong type or a
/// number that is not a finite float32. head names the device and parameter.
std::vector<std::uint8_t> encode_value(const ParameterId& id, WireType wire_type, const ParameterValue& value,
                                       const std::string& head) {
    const auto wrong_type = [&] {
        return Error(head + ": value '" + describe(value) + "' has the wrong type for this parameter",
                     ErrorKind::configuration);
    };
    Ocp1Writer parameter;
    switch (wire_type) {
    case WireType::float32: {
        const double* number = std::get_if<double>(&value);
        if (number == nullptr) {
            throw wrong_type();
        }
        const double wire_value = id.kind == ParameterKind::delay_ms ? *number / milliseconds_per_second : *number;
        if (!std::isfinite(wire_value) || std::fabs(wire_value) > std::numeric_limits<float>::max()) {
            throw Error(head + ": value " + describe(value) + " is not a finite 32-bit float", ErrorKind::configuration);
        }
        parameter.f32(static_cast<float>(wire_value));
        break;
    }
    case WireType::boolean:
    case WireType::mute_state:
    case WireType::polarity_state: {
        const bool* flag = std::get_if<bool>(&value);
        if (flag == nullptr) {
            throw wrong_type();
        }
        if (wire_type == WireType::boolean) {
            parameter.boolean(*flag);
        } else if (wire_type == WireType::mute_state) {
            parameter.u8(*flag ? mute_muted : mute_unmuted);
        } else {
            parameter.u8(*flag ? polarity_inverted : polarity_non_inverted);
        }
        break;
    }
    case WireType::eq_shape: {
        const FilterKind* kind = std::get_if<FilterKind>(&value);
        if (kind == nullptr) {
            throw wrong_type();
        }
        parameter.u8(eq_shape_of(*kind));
        break;
    }
    }
    return parameter.take();
}

Aes70ControlSettings settings_with_options(const DeviceProfile& profile, const Aes70DriverOptions& options) {
    auto settings = read_aes70_control_settings(profile);
    if (options.reply_timeout) {
        settings.reply_timeout = *options.reply_timeout;
    }
    return settings;
}

}  // namespace

struct Aes70Driver::Target {
    OcaONo ono = 0;  ///< 0: the channel has no such object (a polarity switch only)
    ParameterMethods methods;
};

Aes70Driver::Aes70Driver(const Amplifier& amplifier, Aes70DriverOptions options)
    : Aes70Driver(amplifier.name, amplifier.host, amplifier.port, amplifier.profile, std::move(options)) {}

Aes70Driver::Aes70Driver(std::string device_name, const std::string& host, std::uint16_t port, DeviceProfile profile,
                         Aes70DriverOptions options)
    : device_name_(std::move(device_name)),
      profile_(std::move(profile)),
      options_(std::move(options)),
      settings_(settings_with_options(profile_, options_)),
      endpoint_(detail::device_endpoint<tcp>(device_name_, host, port, profile_.name,
                                                settings_.verified_on_real_device || options_.allow_unverified_remote_host)),
      watch_(std::make_shared<Aes70PropertyWatch>()) {}

Aes70Driver::~Aes70Driver() { close(); }

std::string Aes70Driver::description() const {
    const auto address = endpoint_.address();
    const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return "amplifier '" + device_name_ + "' (ocp1.tcp://" + host + ":" + std::to_string(endpoint_.port()) + ")";
}

void Aes70Driver::connect() {
    close();
    prefetched_.clear();
    last_call_was_read_ = false;
    Aes70ConnectionOptions connection_options;
    connection_options.reply_timeout = settings_.reply_timeout;
    connection_options.heartbeat = settings_.heartbeat;
    connection_options.log = options_.log;
    connection_options.on_notification = [watch = watch_](const Ocp1Notification& notification) {
        watch->on_notification(notification);
    };
    auto connection = std::make_unique<Aes70Connection>(description(), connection_options);
    connection->open(endpoint_);
    connection_ = std::move(connection);

    if (!settings_.role_paths.empty()) {
        resolve_role_paths();
    } else {
        check_object_map();
    }
    if (options_.watch_changes) {
        watch_properties();
        if (connected_before_) {
            verify_after_reconnect();
        }
    }
    if (options_.lock_objects) {
        lock_mapped_objects();
    }
    connected_before_ = true;
    last_call_was_read_ = true;  // the snapshot's reads follow: fetch each channel ahead
}

void Aes70Driver::close() {
    if (!connection_) {
        return;
    }
    unlock_objects();
    connection_->close();
    connection_.reset();
    subscribed_ = false;
}

/// Checks the class of every mapped object, all GetClassIdentification commands in one batch.
void Aes70Driver::check_object_map() {
    struct Check {
        OcaONo ono;
        ObjectClass object_class;
        std::string what;
    };
    std::vector<Check> checks;
    for (std::size_t c = 0; c < settings_.channels.size(); ++c) {
        const auto& objects = settings_.channels[c];
        const std::string channel = "channel " + std::to_string(c + 1);
        checks.push_back({objects.gain, ObjectClass::gain, channel + " gain"});
        checks.push_back({objects.mute, ObjectClass::mute, channel + " mute"});
        checks.push_back({objects.delay, ObjectClass::delay, channel + " delay"});
        if (objects.polarity) {
            checks.push_back({*objects.polarity, ObjectClass::polarity, channel + " polarity"});
        }
        for (std::size_t b = 0; b < profile_.limits.eq.max_bands && b < objects.bands.size(); ++b) {
            checks.push_back({objects.bands[b], ObjectClass::filter, channel + " band " + std::to_string(b + 1)});
        }
    }

    constexpr OcaMethodId get_class_identification{1, 1};
    std::vector<Aes70Request> requests;
    for (const auto& check : checks) {
        requests.push_back({check.ono, get_class_identification, 0, {}});
    }
    const auto replies = call_batch_on_device(std::move(requests));
    for (std::size_t i = 0; i < checks.size(); ++i) {
        check_object_class(checks[i].ono, class_prefix_of(checks[i].object_class), checks[i].what, replies[i]);
    }
}

/// Resolves every role path of the profile to an object number and checks the object's class.
/// Throws Error (configuration) naming every path the device lacks and every class that differs.
void Aes70Driver::resolve_role_paths() {
    std::vector<Aes70ObjectInfo> tree;  // read only when the device lacks FindObjectsByPath
    std::vector<std::string> problems;
    const auto resolve = [&](const std::string& path, ObjectClass object_class, const std::string& what) -> OcaONo {
        const auto found = find_object_by_role_path(*connection_, path, tree);
        if (!found) {
            problems.push_back(what + ": the device has no object at role path \"" + path + "\"");
            return 0;
        }
        if (!is_class_or_subclass(found->class_id, class_prefix_of(object_class))) {
            problems.push_back(what + ": \"" + path + "\" (object " + std::to_string(found->ono) + ") has class " +
                               class_id_text(found->class_id) + ", not " + class_name_of(object_class) + " " +
                               class_id_text(class_prefix_of(object_class)));
        }
        return found->ono;
    };
    for (std::size_t c = 0; c < settings_.role_paths.size(); ++c) {
        const auto& paths = settings_.role_paths[c];
        auto& objects = settings_.channels[c];
        const std::string channel = "channel " + std::to_string(c + 1);
        objects.gain = resolve(paths.gain, ObjectClass::gain, channel + " gain");
        objects.mute = resolve(paths.mute, ObjectClass::mute, channel + " mute");
        objects.delay = resolve(paths.delay, ObjectClass::delay, channel + " delay");
        if (paths.polarity) {
            objects.polarity = resolve(*paths.polarity, ObjectClass::polarity, channel + " polarity");
        }
        objects.bands.clear();
        for (std::size_t b = 0; b < paths.bands.size(); ++b) {
            objects.bands.push_back(resolve(paths.bands[b], ObjectClass::filter, channel + " band " + std::to_string(b + 1)));
        }
    }
    if (!problems.empty()) {
        std::string message = description() + ": the role paths of profile '" + profile_.name +
                              "' do not match the device (list its objects with 'linetune devices VENUE --probe'):";
        for (const auto& problem : problems) {
            message += "\n  " + problem;
        }
        throw Error(message, ErrorKind::configuration);
    }
}

std::vector<OcaONo> Aes70Driver::mapped_objects() const {
    std::vector<OcaONo> objects;
    for (std::size_t c = 0; c < settings_.channels.size(); ++c) {
        const auto& channel = settings_.channels[c];
        objects.insert(objects.end(), {channel.gain, channel.mute, channel.delay});
        if (channel.polarity) {
            objects.push_back(*channel.polarity);
        }
        for (std::size_t b = 0; b < profile_.limits.eq.max_bands && b < channel.bands.size(); ++b) {
            objects.push_back(channel.bands[b]);
        }
    }
    return objects;
}

/// Subscribes to PropertyChanged of every mapped object. A device that rejects AddSubscription
/// is used without: the log records it, and changes by others are then caught by read-back only.
void Aes70Driver::watch_properties() {
    for (std::size_t c = 0; c < settings_.channels.size(); ++c) {
        for (const auto& id : all_parameters(neutral_amplifier_state(1, std::min(profile_.limits.eq.max_bands,
                                                                                  settings_.channels[c].bands.size())))) {
            const ParameterId channel_id{c + 1, id.kind, id.band};
            const Target target = target_of(channel_id);
            if (target.ono != 0) {
                watch_->watch(target.ono, target.methods.property, channel_id);
            }
        }
    }
    subscribed_ = true;
    const auto objects = mapped_objects();
    std::vector<Aes70Request> requests;
    for (const OcaONo ono : objects) {
        Ocp1Writer parameters;
        parameters.ono(ono).member_id(property_changed_event);  // the event: emitter and event ID
        parameters.ono(ono).member_id(subscriber_method);       // the subscriber method
        parameters.blob({});                                    // context
        parameters.u8(delivery_reliable);
        parameters.blob({});                                    // destination: unused for TCP
        requests.push_back({oca_subscription_manager_ono, add_subscription, 5, parameters.take()});
    }
    auto replies = call_batch_on_device(std::move(requests));
    for (std::size_t i = 0; i < objects.size(); ++i) {
        const OcaONo ono = objects[i];
        if (!replies[i].response) {
            subscribed_ = false;
            throw Error(replies[i].failure, ErrorKind::device);
        }
        const auto& response = *replies[i].response;
        if (response.status != OcaStatus::ok) {
            subscribed_ = false;
            if (options_.log) {
                options_.log(description() + ": AddSubscription for object " + std::to_string(ono) + " returned " +
                             to_string(response.status) + "; changes by other controllers are noticed only by read-back");
            }
            return;
        }
    }
}

/// After a reconnect, reads every property whose value linetune knew and records those that
/// changed while the link was down (in changes_found_on_reconnect() and the log).
void Aes70Driver::verify_after_reconnect() {
    reconnect_changes_.clear();
    const auto expected_values = watch_->expected_values();
    std::vector<Aes70Request> requests;
    for (const auto& [id, expected] : expected_values) {
        const Target target = target_of(id);
        requests.push_back({target.ono, target.methods.get, 0, {}});
    }
    const auto replies = call_batch_on_device(std::move(requests));
    for (std::size_t i = 0; i < expected_values.size(); ++i) {
        const auto& [id, expected] = expected_values[i];
        const Target target = target_of(id);
        if (!replies[i].response) {
            throw Error(replies[i].failure, ErrorKind::device);
        }
        const auto& response = *replies[i].response;
        const std::size_t size = wire_size_of(target.methods.wire_type);
        if (response.status != OcaStatus::ok || response.parameters.size() < size) {
            continue;  // the read-back of the next push or restore reports it
        }
        std::vector<std::uint8_t> actual(response.parameters.begin(), response.parameters.begin() + static_cast<long>(size));
        if (actual != expected) {
            reconnect_changes_.push_back(describe(id) + " differs from what linetune last wrote or read: another "
                                         "controller changed it, or linetune's write was lost with the link");
            (void)watch_->expect(target.ono, target.methods.property, std::move(actual));
        }
    }
    if (options_.log) {
        for (const auto& change : reconnect_changes_) {
            options_.log(description() + ": " + change);
        }
    }
}

/// Locks every mapped object against writes by others when the device offers locks on all of
/// them. Throws Error (device) when an object is locked by another controller already.
void Aes70Driver::lock_mapped_objects() {
    const auto objects = mapped_objects();
    std::vector<Aes70Request> requests;
    for (const OcaONo ono : objects) {
        requests.push_back({ono, get_lockable, 0, {}});
    }
    const auto replies = call_batch_on_device(std::move(requests));
    for (const auto& reply : replies) {
        if (!reply.response) {
            throw Error(reply.failure, ErrorKind::device);
        }
        const auto& response = *reply.response;
        if (response.status != OcaStatus::ok || response.parameters.empty() || response.parameters[0] == 0) {
            return;  // not offered: the push relies on the subscriptions alone
        }
    }
    for (const OcaONo ono : objects) {
        const auto response = call_on_device(ono, lock_readonly, 0, {});
        if (response.status == OcaStatus::ok) {
            locked_.push_back(ono);
            continue;
        }
        unlock_objects();
        throw Error(description() + ": cannot lock object " + std::to_string(ono) + " against other controllers: " +
                        to_string(response.status) + ": " + explain_status(response.status) +
                        "; another controller may hold a lock on it, so release it there and try again",
                    ErrorKind::device);
    }
}

void Aes70Driver::unlock_objects() {
    for (const OcaONo ono : locked_) {
        if (!connection_ || !connection_->is_open()) {
            break;  // a lock ends with its connection
        }
        try {
            (void)connection_->call(ono, unlock, 0, {});
        } catch (const Error& error) {
            if (options_.log) {
                options_.log(std::string("unlock failed; the lock ends with the connection: ") + error.what());
            }
            break;
        }
    }
    locked_.clear();
}

bool Aes70Driver::subscribe(std::function<void(const ParameterId&, const ParameterValue&)> on_change) {
    if (!subscribed_) {
        return false;
    }
    watch_->set_on_change([this, on_change = std::move(on_change)](const Aes70ForeignChange& change) {
        const Target target = target_of(change.id);
        Ocp1Reader reader(change.value, description() + ": PropertyChanged value");
        try {
            on_change(change.id, decode_value(change.id, target.methods.wire_type, reader));
        } catch (const Error& error) {
            if (options_.log) {
                options_.log(error.what());
            }
        }
    });
    return true;
}

void Aes70Driver::throw_on_foreign_change() {
    const auto change = watch_->take_change();
    if (!change) {
        return;
    }
    const Target target = target_of(change->id);
    std::string value = "an unreadable value";
    try {
        Ocp1Reader reader(change->value, description());
        value = describe(decode_value(change->id, target.methods.wire_type, reader));
    } catch (const Error&) {
    }
    throw Error(description() + ": " + describe(change->id) + " was changed to " + value +
                    " by another controller (PropertyChanged from object " + std::to_string(change->ono) +
                    "); linetune stops, because its snapshot and plan no longer match the device. Agree with the "
                    "other operator who controls the amplifier, then push again",
                ErrorKind::device);
}

Aes70DeviceIdentity Aes70Driver::identity() {
    if (!connection_ || !connection_->is_open()) {
        throw Error(description() + ": not connected (connect first, or the link was lost)", ErrorKind::device);
    }
    return read_device_identity(*connection_);
}

std::vector<Aes70ObjectInfo> Aes70Driver::object_tree() {
    if (!connection_ || !connection_->is_open()) {
        throw Error(description() + ": not connected (connect first, or the link was lost)", ErrorKind::device);
    }
    return read_object_tree(*connection_);
}

void Aes70Driver::check_object_class(OcaONo ono, const std::vector<std::uint16_t>& class_prefix, std::string_view what,
                                     const Aes70Reply& reply) const {
    if (!reply.response) {
        throw Error(reply.failure, ErrorKind::device);
    }
    const auto& response = *reply.response;
    const std::string head = description() + ": " + std::string(what) + " (object " + std::to_string(ono) + ")";
    if (response.status != OcaStatus::ok) {
        throw Error(head + ": GetClassIdentification returned " + to_string(response.status) + ": " +
                        explain_status(response.status),
                    ErrorKind::configuration);
    }
    Ocp1Reader reader(response.parameters, head + " class identification");
    const std::uint16_t field_count = reader.u16();
    std::vector<std::uint16_t> class_id;
    for (std::uint16_t i = 0; i < field_count && reader.remaining() >= 2; ++i) {
        class_id.push_back(reader.u16());
    }
    if (!is_class_or_subclass(class_id, class_prefix)) {
        throw Error(head + " has class " + class_id_text(class_id) + ", not " + class_id_text(class_prefix) +
                        " or a subclass; correct the object map in profile '" + profile_.name + "'",
                    ErrorKind::configuration);
    }
}

Aes70Driver::Target Aes70Driver::target_of(const ParameterId& id) const {
    if (id.channel < 1 || id.channel > settings_.channels.size()) {
        throw Error(description() + ": " + describe(id) + ": the profile maps channels 1 to " +
                        std::to_string(settings_.channels.size()),
                    ErrorKind::configuration);
    }
    const auto& objects = settings_.channels[id.channel - 1];
    Target target;
    target.methods = methods_of(id.kind);
    switch (target.methods.object_class) {
    case ObjectClass::gain: target.ono = objects.gain; break;
    case ObjectClass::mute: target.ono = objects.mute; break;
    case ObjectClass::delay: target.ono = objects.delay; break;
    case ObjectClass::polarity: target.ono = objects.polarity.value_or(0); break;
    case ObjectClass::filter:
        if (id.band < 1 || id.band > objects.bands.size()) {
            throw Error(description() + ": " + describe(id) + ": the profile maps bands 1 to " +
                            std::to_string(objects.bands.size()) + " of this channel",
                        ErrorKind::configuration);
        }
        target.ono = objects.bands[id.band - 1];
        break;
    }
    return target;
}

/// Sends one command, spaced after the previous one to keep under control.max_commands_per_s.
Ocp1Response Aes70Driver::call_on_device(OcaONo ono, OcaMethodId method, std::uint8_t parameter_count,
                                         std::vector<std::uint8_t> parameters) {
    if (settings_.max_commands_per_s > 0.0) {
        const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(1.0 / settings_.max_commands_per_s));
        std::this_thread::sleep_until(last_command_ + interval);
    }
    last_command_ = std::chrono::steady_clock::now();
    return connection_->call(ono, method, parameter_count, std::move(parameters));
}

/// Sends the commands as one batch (several per message, none waiting for the one before). With
/// control.max_commands_per_s set, it sends them one at a time, spaced like call_on_device().
std::vector<Aes70Reply> Aes70Driver::call_batch_on_device(std::vector<Aes70Request> requests) {
    if (settings_.max_commands_per_s <= 0.0) {
        last_command_ = std::chrono::steady_clock::now();
        return connection_->call_batch(std::move(requests));
    }
    std::vector<Aes70Reply> replies;
    for (auto& request : requests) {
        Aes70Reply reply;
        try {
            reply.response = call_on_device(request.target, request.method, request.parameter_count,
                                            std::move(request.parameters));
        } catch (const Error& error) {
            if (error.kind() != ErrorKind::device) {
                throw;
            }
            reply.failure = error.what();
        }
        replies.push_back(std::move(reply));
    }
    return replies;
}

/// Fetches the Get replies of every mapped parameter of the channel in one batch, for the reads
/// that follow. A failed or missing reply is kept and reported by the read of its parameter.
void Aes70Driver::prefetch_channel(std::size_t channel) {
    const std::size_t band_count = std::min(profile_.limits.eq.max_bands, settings_.channels[channel - 1].bands.size());
    std::vector<ParameterId> ids;
    for (const auto& id : all_parameters(neutral_amplifier_state(1, band_count))) {
        ids.push_back({channel, id.kind, id.band});
    }
    prefetch(ids);
}

/// Fetches the Get replies of the parameters (those with an object) in one batch, for the reads
/// that follow.
void Aes70Driver::prefetch(const std::vector<ParameterId>& parameters) {
    prefetched_.clear();
    std::vector<ParameterId> ids;
    std::vector<Aes70Request> requests;
    for (const auto& id : parameters) {
        const Target target = target_of(id);
        if (target.ono != 0) {
            ids.push_back(id);
            requests.push_back({target.ono, target.methods.get, 0, {}});
        }
    }
    throw_on_foreign_change();
    auto replies = call_batch_on_device(std::move(requests));
    prefetched_at_ = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < ids.size(); ++i) {
        prefetched_.emplace_back(ids[i], std::move(replies[i]));
    }
}

/// Removes and returns the reply fetched ahead for the parameter; empty when there is none or it
/// is older than prefetch_lifetime.
std::optional<Aes70Reply> Aes70Driver::take_prefetched(const ParameterId& id) {
    if (std::chrono::steady_clock::now() - prefetched_at_ > prefetch_lifetime) {
        prefetched_.clear();
    }
    const auto found = std::find_if(prefetched_.begin(), prefetched_.end(), [&](const auto& entry) { return entry.first == id; });
    if (found == prefetched_.end()) {
        return std::nullopt;
    }
    auto reply = std::move(found->second);
    prefetched_.erase(found);
    return reply;
}

/// The Response of a reply, or Error: device for a missing Response, configuration for a
/// status that means the object map is wrong, device for any other status.
Ocp1Response Aes70Driver::checked_response(const ParameterId& id, const Target& target, OcaMethodId method,
                                           Aes70Reply reply) const {
    if (!reply.response) {
        throw Error(reply.failure + " (" + describe(id) + ")", ErrorKind::device);
    }
    auto response = std::move(*reply.response);
    if (response.status == OcaStatus::ok) {
        return response;
    }
    const bool map_error = response.status == OcaStatus::bad_ono || response.status == OcaStatus::bad_method ||
                           response.status == OcaStatus::not_implemented;
    throw Error(description() + ": " + describe(id) + ": " + class_name_of(target.methods.object_class) + " method " +
                    std::to_string(method.def_level) + "." + std::to_string(method.index) + " on object " +
                    std::to_string(target.ono) + " returned " + to_string(response.status) + ": " +
                    explain_status(response.status),
                map_error ? ErrorKind::configuration : ErrorKind::device);
}

Ocp1Response Aes70Driver::call(const ParameterId& id, const Target& target, OcaMethodId method,
                               std::uint8_t parameter_count, std::vector<std::uint8_t> parameters) {
    if (!connection_ || !connection_->is_open()) {
        throw Error(description() + ": " + describe(id) + ": not connected (connect first, or the link was lost)",
                    ErrorKind::device);
    }
    throw_on_foreign_change();
    Aes70Reply reply;
    reply.response = call_on_device(target.ono, method, parameter_count, std::move(parameters));
    return checked_response(id, target, method, std::move(reply));
}

ParameterValue Aes70Driver::read(const ParameterId& id) {
    const Target target = target_of(id);
    if (target.ono == 0) {
        // NOTE: a channel without an OcaPolarity object is reported as not inverted, so that a
        // push can snapshot it; write() rejects inverting it.
        return false;
    }
    // A read that follows a read fetches the rest of its channel in one batch (a snapshot or
    // read-back reads channel by channel); a read after a write sends one Get for its parameter.
    // This happens only while subscribed, because a change by another controller after the batch
    // then arrives as a notification and fails the read.
    auto prefetched = take_prefetched(id);
    if (!prefetched && subscribed_ && last_call_was_read_ && connection_ && connection_->is_open()) {
        prefetch_channel(id.channel);
        prefetched = take_prefetched(id);
    }
    last_call_was_read_ = true;
    Ocp1Response response;
    if (prefetched) {
        throw_on_foreign_change();
        response = checked_response(id, target, target.methods.get, std::move(*prefetched));
    } else {
        response = call(id, target, target.methods.get, 0, {});
    }
    const std::string head = description() + ": " + describe(id);
    if (response.parameter_count < 1) {
        throw Error(head + ": the Get Response carries no value", ErrorKind::device);
    }
    Ocp1Reader reader(response.parameters, head);
    auto value = decode_value(id, target.methods.wire_type, reader);
    const std::size_t size = wire_size_of(target.methods.wire_type);
    (void)watch_->expect(target.ono, target.methods.property,
                         {response.parameters.begin(), response.parameters.begin() + static_cast<long>(size)});
    // The device sends the notifications of every Set it applied before this command ahead of
    // this Response, so a change by another controller up to now is recorded by this point.
    throw_on_foreign_change();
    return value;
}

void Aes70Driver::write(const ParameterId& id, const ParameterValue& value) {
    prefetched_.clear();
    last_call_was_read_ = false;
    const Target target = target_of(id);
    const std::string head = description() + ": " + describe(id);
    if (target.ono == 0) {
        const bool* inverted = std::get_if<bool>(&value);
        if (inverted == nullptr) {
            throw Error(head + ": value '" + describe(value) + "' has the wrong type for this parameter",
                        ErrorKind::configuration);
        }
        if (*inverted) {
            throw Error(head + ": the profile maps no OcaPolarity object for this channel, so linetune cannot "
                               "invert it; add \"polarity\" to the channel's object map or leave polarity unchanged",
                        ErrorKind::configuration);
        }
        return;  // not inverted is what a channel without a polarity switch always is
    }

    auto parameter = encode_value(id, target.methods.wire_type, value, head);
    const auto before = watch_->expect(target.ono, target.methods.property, parameter);
    try {
        (void)call(id, target, target.methods.set, 1, std::move(parameter));
    } catch (const Error&) {
        watch_->restore(target.ono, target.methods.property, before);
        throw;
    }
    throw_on_foreign_change();
}

void Aes70Driver::write_band(std::size_t channel, std::size_t band, const EqBandState& state) {
    if (!write_band_shape(channel, band, state)) {
        write({channel, ParameterKind::band_freq_hz, band}, state.freq_hz);
        write({channel, ParameterKind::band_type, band}, state.type);
        write({channel, ParameterKind::band_q, band}, state.q);
        write({channel, ParameterKind::band_gain_db, band}, state.gain_db);
    }
    write({channel, ParameterKind::band_enabled, band}, state.enabled);
}

bool Aes70Driver::write_band_shape(std::size_t channel, std::size_t band, const EqBandState& state) {
    if (!offers_set_multiple_) {
        return false;
    }
    prefetched_.clear();
    last_call_was_read_ = false;
    const ParameterId shape_id{channel, ParameterKind::band_type, band};
    const Target target = target_of(shape_id);
    const std::string head = description() + ": channel " + std::to_string(channel) + " band " + std::to_string(band);

    const auto freq = encode_value({channel, ParameterKind::band_freq_hz, band}, WireType::float32, state.freq_hz, head);
    const auto shape = encode_value(shape_id, WireType::eq_shape, state.type, head);
    const auto width = encode_value({channel, ParameterKind::band_q, band}, WireType::float32, state.q, head);
    const auto gain = encode_value({channel, ParameterKind::band_gain_db, band}, WireType::float32, state.gain_db, head);
    Ocp1Writer parameters;
    parameters.u16(set_multiple_linetune_fields).raw(freq).raw(shape).raw(width).raw(gain).f32(0.0F);

    const std::array fields{std::pair{methods_of(ParameterKind::band_freq_hz).property, freq},
                            std::pair{methods_of(ParameterKind::band_type).property, shape},
                            std::pair{methods_of(ParameterKind::band_q).property, width},
                            std::pair{methods_of(ParameterKind::band_gain_db).property, gain}};
    std::vector<std::optional<std::vector<std::uint8_t>>> before;
    for (const auto& [property, bytes] : fields) {
        before.push_back(watch_->expect(target.ono, property, bytes));
    }
    const auto restore_expectations = [&] {
        for (std::size_t i = 0; i < fields.size(); ++i) {
            watch_->restore(target.ono, fields[i].first, before[i]);
        }
    };
    try {
        (void)call(shape_id, target, set_multiple, 6, parameters.take());
    } catch (const Error& error) {
        restore_expectations();
        // A device without SetMultiple returns BadMethod or NotImplemented, which the response
        // check reports as a configuration error; it has then changed nothing.
        if (error.kind() != ErrorKind::configuration) {
            throw;
        }
        offers_set_multiple_ = false;
        if (options_.log) {
            options_.log(description() + ": no OcaFilterParametric SetMultiple (" + error.what() +
                         "); bands are set one field at a time");
        }
        return false;
    }
    throw_on_foreign_change();
    // The read-back of the four fields follows, so their Gets go now in one batch. As with the
    // channel batch of read(), only while subscribed, because a change by another controller
    // after the batch then still arrives as a notification and fails the read.
    if (subscribed_) {
        prefetch({{channel, ParameterKind::band_freq_hz, band},
                  {channel, ParameterKind::band_type, band},
                  {channel, ParameterKind::band_q, band},
                  {channel, ParameterKind::band_gain_db, band}});
        last_call_was_read_ = true;
    }
    return true;
}

}  // namespace linetune::control
