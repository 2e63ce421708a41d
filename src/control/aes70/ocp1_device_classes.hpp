#pragma once

// Parts shared by the files of Ocp1DeviceModel: the AES70 class facts it serves (class IDs,
// method counts, enum values) and the command being executed.

#include "linetune/control/aes70/ocp1_device_model.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

namespace linetune::control::ocp1_device {

// Class versions of AES70-2018, which is what this device implements (DeviceManager reports
// OcaVersion 2). AES70-2023 raised most versions to 3 without changing the method IDs.
inline constexpr std::uint16_t class_version = 2;
inline constexpr std::uint16_t aes70_2018_oca_version = 2;

// Speed of sound for OcaDelayExtended's distance units, m/s: 331.3·sqrt(1 + T/273.15) at 20 °C
// gives 343.2; 343 is the round figure that consoles and amplifiers use for delay in metres.
inline constexpr double speed_of_sound_m_per_s = 343.0;

// Subscriber contexts are stored per subscription; AES70.js sends empty ones. The cap keeps a
// controller from tying up memory, and GetMaximumSubscriberContextLength reports it.
inline constexpr std::uint16_t max_subscriber_context_bytes = 64;

// Subscriptions one controller may hold: more than the properties of a 64-channel, 32-band
// amplifier, and a bound on the memory a misbehaving controller can take.
inline constexpr std::size_t max_subscriptions_per_controller = 8192;

// Methods each class level defines in AES70-2018 (2023 adds GetLockState 1.7, which is served
// too). An index up to this count that the device does not implement returns NotImplemented, a
// higher one BadMethod.
inline constexpr std::uint16_t root_method_count = 7;
inline constexpr std::uint16_t worker_method_count = 13;
inline constexpr std::uint16_t block_method_count = 20;
inline constexpr std::uint16_t device_manager_method_count = 20;
inline constexpr std::uint16_t subscription_manager_method_count = 7;

inline constexpr OcaEventId property_changed_event{1, 1};
inline constexpr std::uint8_t change_type_current_changed = 1;

// OcaMuteState and OcaPolarityState.
inline constexpr std::uint8_t mute_state_muted = 1;
inline constexpr std::uint8_t mute_state_unmuted = 2;
inline constexpr std::uint8_t polarity_non_inverted = 1;
inline constexpr std::uint8_t polarity_inverted = 2;

// OcaFilterParametric.SetMultiple mask bits, in the order of its parameters.
inline constexpr std::uint16_t mask_frequency = 1;
inline constexpr std::uint16_t mask_shape = 2;
inline constexpr std::uint16_t mask_width = 4;
inline constexpr std::uint16_t mask_inband_gain = 8;
inline constexpr std::uint16_t mask_shape_parameter = 16;
inline constexpr std::uint16_t mask_all = 31;

// OcaStringComparisonType of FindObjectsByRole and FindObjectsByLabelRecursive.
enum class Comparison : std::uint8_t {
    exact = 0,
    substring = 1,  // the search text starts the name
    contains = 2,
    exact_case_insensitive = 3,
    substring_case_insensitive = 4,
    contains_case_insensitive = 5,
};

inline std::vector<std::uint16_t> class_id_of(Ocp1DeviceObjectKind kind) {
    switch (kind) {
    case Ocp1DeviceObjectKind::device_manager: return {1, 3, 1};
    case Ocp1DeviceObjectKind::subscription_manager: return {1, 3, 4};
    case Ocp1DeviceObjectKind::block: return {1, 1, 3};
    case Ocp1DeviceObjectKind::gain: return {1, 1, 1, 5};
    case Ocp1DeviceObjectKind::mute: return {1, 1, 1, 2};
    case Ocp1DeviceObjectKind::polarity: return {1, 1, 1, 3};
    case Ocp1DeviceObjectKind::delay: return {1, 1, 1, 7, 1};  // OcaDelayExtended
    case Ocp1DeviceObjectKind::filter: return {1, 1, 1, 10};
    }
    return {};
}

inline bool is_manager(Ocp1DeviceObjectKind kind) {
    return kind == Ocp1DeviceObjectKind::device_manager || kind == Ocp1DeviceObjectKind::subscription_manager;
}

inline bool is_actuator(Ocp1DeviceObjectKind kind) {
    return !is_manager(kind) && kind != Ocp1DeviceObjectKind::block;
}

inline void write_class_id(Ocp1Writer& writer, const std::vector<std::uint16_t>& class_id) {
    writer.u16(static_cast<std::uint16_t>(class_id.size()));
    for (const auto field : class_id) {
        writer.u16(field);
    }
}

inline std::vector<std::uint8_t> f32_bytes(double value) { return Ocp1Writer().f32(static_cast<float>(value)).take(); }

/// OcaParametricEQShape of a filter kind: 1 PEQ, 2 LowShelv, 3 HighShelv, 4 LowPass, 5 HighPass.
inline std::uint8_t shape_of(FilterKind kind) {
    switch (kind) {
    case FilterKind::peaking: return 1;
    case FilterKind::low_shelf: return 2;
    case FilterKind::high_shelf: return 3;
    case FilterKind::low_pass: return 4;
    case FilterKind::high_pass: return 5;
    }
    return 0;
}

inline std::optional<FilterKind> filter_kind_of(std::uint8_t shape) {
    switch (shape) {
    case 1: return FilterKind::peaking;
    case 2: return FilterKind::low_shelf;
    case 3: return FilterKind::high_shelf;
    case 4: return FilterKind::low_pass;
    case 5: return FilterKind::high_pass;
    default: return std::nullopt;
    }
}

/// Seconds per unit of an OcaDelayUnit (1 s, 2 m, 3 samples, 4 µs, 5 ms, 6 cm, 7 in, 8 ft), or
/// empty for an unknown unit or samples without a sample rate.
inline std::optional<double> seconds_per_unit(std::uint8_t unit, double sample_rate_hz) {
    switch (unit) {
    case 1: return 1.0;
    case 2: return 1.0 / speed_of_sound_m_per_s;
    case 3: return sample_rate_hz > 0.0 ? std::optional(1.0 / sample_rate_hz) : std::nullopt;
    case 4: return 1e-6;
    case 5: return 1e-3;
    case 6: return 0.01 / speed_of_sound_m_per_s;
    case 7: return 0.0254 / speed_of_sound_m_per_s;
    case 8: return 0.3048 / speed_of_sound_m_per_s;
    default: return std::nullopt;
    }
}

inline std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

inline bool matches(const std::string& name, const std::string& search, Comparison comparison) {
    const bool fold = comparison >= Comparison::exact_case_insensitive;
    const std::string subject = fold ? lower(name) : name;
    const std::string pattern = fold ? lower(search) : search;
    switch (comparison) {
    case Comparison::exact:
    case Comparison::exact_case_insensitive: return subject == pattern;
    case Comparison::substring:
    case Comparison::substring_case_insensitive: return subject.starts_with(pattern);
    case Comparison::contains:
    case Comparison::contains_case_insensitive: return subject.find(pattern) != std::string::npos;
    }
    return false;
}

/// True for methods that change the object, which a read-only lock of another controller blocks.
inline bool modifies(Ocp1DeviceObjectKind kind, OcaMethodId method) {
    const std::uint16_t index = method.index;
    switch (method.def_level) {
    case 1: return index == 3 || index == 4 || index == 6;  // LockTotal, Unlock, LockReadonly
    case 2: return index == 2 || index == 3 || index == 4 || index == 7 || index == 9 || index == 12;
    case 3:
        if (kind == Ocp1DeviceObjectKind::block) {
            return index == 2 || index == 3 || index == 4 || index == 7 || index == 8 || index == 12 || index == 14;
        }
        return kind == Ocp1DeviceObjectKind::device_manager && index % 2 == 0 && index >= 4 && index <= 18;
    case 4: return index % 2 == 0 || index == 11;  // every Set, and SetMultiple
    case 5: return index == 2;                     // SetDelayValue
    default: return false;
    }
}

}  // namespace linetune::control::ocp1_device

namespace linetune::control {

/// One command being executed: its reader, the result parameters and the outcome so far.
struct Ocp1DeviceModel::Call {
    Ocp1ControllerId controller;
    const Ocp1Command& command;
    Object& object;
    Ocp1Reader parameters;
    Ocp1CommandOutcome outcome;
    Ocp1Writer result;
    std::uint8_t result_count = 0;

    [[nodiscard]] std::uint16_t index() const { return command.method.index; }
    [[nodiscard]] bool ok() const { return outcome.response.status == OcaStatus::ok; }
    void fail(OcaStatus status) { outcome.response.status = status; }

    /// Checks that the command carried exactly count parameters and nothing after them; throws
    /// Error (input), which handle() turns into BadFormat.
    void arguments(std::uint8_t count) {
        if (command.parameter_count != count) {
            throw Error("the method takes " + std::to_string(count) + " parameters, the command declares " +
                            std::to_string(command.parameter_count),
                        ErrorKind::input);
        }
        parameters.expect_end();
    }

    void returns(std::uint8_t count) { result_count = count; }
};

}  // namespace linetune::control
