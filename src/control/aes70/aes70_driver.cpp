#include "linetune/control/aes70/aes70_driver.hpp"

#include "../device_address.hpp"

#include "linetune/core/error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

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
};

ParameterMethods methods_of(ParameterKind kind) {
    switch (kind) {
    case ParameterKind::gain_db: return {ObjectClass::gain, {4, 1}, {4, 2}, WireType::float32};
    case ParameterKind::delay_ms: return {ObjectClass::delay, {4, 1}, {4, 2}, WireType::float32};
    case ParameterKind::mute: return {ObjectClass::mute, {4, 1}, {4, 2}, WireType::mute_state};
    case ParameterKind::polarity_inverted: return {ObjectClass::polarity, {4, 1}, {4, 2}, WireType::polarity_state};
    case ParameterKind::band_enabled: return {ObjectClass::filter, {2, 1}, {2, 2}, WireType::boolean};
    case ParameterKind::band_type: return {ObjectClass::filter, {4, 3}, {4, 4}, WireType::eq_shape};
    case ParameterKind::band_freq_hz: return {ObjectClass::filter, {4, 1}, {4, 2}, WireType::float32};
    case ParameterKind::band_q: return {ObjectClass::filter, {4, 5}, {4, 6}, WireType::float32};
    case ParameterKind::band_gain_db: return {ObjectClass::filter, {4, 7}, {4, 8}, WireType::float32};
    }
    return {ObjectClass::gain, {4, 1}, {4, 2}, WireType::float32};
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

std::string class_id_text(const std::vector<std::uint16_t>& fields) {
    std::string text;
    for (const auto field : fields) {
        text += (text.empty() ? "" : ".") + std::to_string(field);
    }
    return text;
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
                                                settings_.verified_on_real_device || options_.allow_unverified_remote_host)) {}

Aes70Driver::~Aes70Driver() = default;

std::string Aes70Driver::description() const {
    const auto address = endpoint_.address();
    const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return "amplifier '" + device_name_ + "' (ocp1.tcp://" + host + ":" + std::to_string(endpoint_.port()) + ")";
}

void Aes70Driver::connect() {
    connection_.reset();
    Aes70ConnectionOptions connection_options;
    connection_options.reply_timeout = settings_.reply_timeout;
    connection_options.heartbeat = settings_.heartbeat;
    connection_options.log = options_.log;
    auto connection = std::make_unique<Aes70Connection>(description(), connection_options);
    connection->open(endpoint_);
    connection_ = std::move(connection);

    for (std::size_t c = 0; c < settings_.channels.size(); ++c) {
        const auto& objects = settings_.channels[c];
        const std::string channel = "channel " + std::to_string(c + 1);
        check_object_class(objects.gain, class_prefix_of(ObjectClass::gain), channel + " gain");
        check_object_class(objects.mute, class_prefix_of(ObjectClass::mute), channel + " mute");
        check_object_class(objects.delay, class_prefix_of(ObjectClass::delay), channel + " delay");
        if (objects.polarity) {
            check_object_class(*objects.polarity, class_prefix_of(ObjectClass::polarity), channel + " polarity");
        }
        for (std::size_t b = 0; b < profile_.limits.eq.max_bands && b < objects.bands.size(); ++b) {
            check_object_class(objects.bands[b], class_prefix_of(ObjectClass::filter),
                               channel + " band " + std::to_string(b + 1));
        }
    }
}

void Aes70Driver::check_object_class(OcaONo ono, const std::vector<std::uint16_t>& class_prefix, std::string_view what) {
    constexpr OcaMethodId get_class_identification{1, 1};
    const auto response = connection_->call(ono, get_class_identification, 0, {});
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
    const bool matches = class_id.size() >= class_prefix.size() &&
                         std::equal(class_prefix.begin(), class_prefix.end(), class_id.begin());
    if (!matches) {
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

Ocp1Response Aes70Driver::call(const ParameterId& id, const Target& target, OcaMethodId method,
                               std::uint8_t parameter_count, std::vector<std::uint8_t> parameters) {
    if (!connection_ || !connection_->is_open()) {
        throw Error(description() + ": " + describe(id) + ": not connected (connect first, or the link was lost)",
                    ErrorKind::device);
    }
    auto response = connection_->call(target.ono, method, parameter_count, std::move(parameters));
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

ParameterValue Aes70Driver::read(const ParameterId& id) {
    const Target target = target_of(id);
    if (target.ono == 0) {
        // NOTE: a channel without an OcaPolarity object is reported as not inverted, so that a
        // push can snapshot it; write() rejects inverting it.
        return false;
    }
    const auto response = call(id, target, target.methods.get, 0, {});
    const std::string head = description() + ": " + describe(id);
    if (response.parameter_count < 1) {
        throw Error(head + ": the Get Response carries no value", ErrorKind::device);
    }
    Ocp1Reader reader(response.parameters, head);
    try {
        switch (target.methods.wire_type) {
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

void Aes70Driver::write(const ParameterId& id, const ParameterValue& value) {
    const Target target = target_of(id);
    const std::string head = description() + ": " + describe(id);
    const auto wrong_type = [&] {
        return Error(head + ": value '" + describe(value) + "' has the wrong type for this parameter",
                     ErrorKind::configuration);
    };
    if (target.ono == 0) {
        const bool* inverted = std::get_if<bool>(&value);
        if (inverted == nullptr) {
            throw wrong_type();
        }
        if (*inverted) {
            throw Error(head + ": the profile maps no OcaPolarity object for this channel, so linetune cannot "
                               "invert it; add \"polarity\" to the channel's object map or leave polarity unchanged",
                        ErrorKind::configuration);
        }
        return;  // not inverted is what a channel without a polarity switch always is
    }

    Ocp1Writer parameter;
    switch (target.methods.wire_type) {
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
        if (target.methods.wire_type == WireType::boolean) {
            parameter.boolean(*flag);
        } else if (target.methods.wire_type == WireType::mute_state) {
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
    (void)call(id, target, target.methods.set, 1, parameter.take());
}

}  // namespace linetune::control
