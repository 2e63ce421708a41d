#pragma once

// The device side of AES70 without sockets: the object tree of a virtual amplifier, the methods of
// its classes, locks, subscriptions and PropertyChanged notifications. The TCP server in
// ocp1_device.hpp feeds it one command at a time from its network thread.

#include "linetune/control/aes70/ocp1_message.hpp"
#include "linetune/core/amplifier_state.hpp"
#include "linetune/core/venue.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace linetune::control {

/// Identifies one controller connection to the device model; 0 is never used.
using Ocp1ControllerId = std::uint64_t;

/// Roles of one channel's objects: the block's role in the root block and each member's role in
/// that block.
struct Ocp1DeviceChannelRoles {
    std::string block;                ///< "Zone{n}" unless the profile's role paths say otherwise
    std::string gain = "Gain";
    std::string mute = "Mute";
    std::string delay = "Delay";
    std::string polarity = "Polarity";
    std::vector<std::string> bands;   ///< "PEQ{b}", band 1 first
};

/// Object numbers and roles of one channel of the device tree.
struct Ocp1DeviceChannelObjects {
    OcaONo block = 0;                 ///< OcaBlock in the root block
    OcaONo gain = 0;                  ///< OcaGain
    OcaONo mute = 0;                  ///< OcaMute
    OcaONo delay = 0;                 ///< OcaDelayExtended
    std::optional<OcaONo> polarity;   ///< OcaPolarity; empty when the layout has none
    std::vector<OcaONo> bands;        ///< OcaFilterParametric, band 1 first
    Ocp1DeviceChannelRoles roles;
};

/// Object numbers of the whole device tree, channel 1 first.
struct Ocp1DeviceLayout {
    std::vector<Ocp1DeviceChannelObjects> channels;
};

/// The layout for a profile, made so that the AES70 driver reaches the virtual amplifier with
/// that profile. An AES70 profile with an object map keeps its object numbers and gets channel
/// blocks at free numbers. Other profiles get generated numbers: channel n's block at n·10000,
/// Gain +1, Mute +2, Delay +3, Polarity +4 and band b at +10+b. Roles are Zone{n}/Gain, Mute,
/// Delay, Polarity and PEQ{b}, unless an AES70 profile gives role paths, which must then have the
/// form BLOCK/OBJECT. Throws Error (configuration) for an invalid object map or role paths, or an
/// object number below 4096 (reserved for managers).
Ocp1DeviceLayout ocp1_device_layout(const DeviceProfile& profile);

/// Kind of an object of the device tree; each kind has one AES70 class.
enum class Ocp1DeviceObjectKind { device_manager, subscription_manager, block, gain, mute, polarity, delay, filter };

/// Lock of an object, with the values of AES70-2023's OcaLockState.
enum class Ocp1LockState : std::uint8_t {
    none = 0,
    read_only = 1,  ///< LockReadonly: other controllers may read but not change the object
    total = 2,      ///< LockTotal: other controllers may not use the object at all
};

/// Identity that DeviceManager reports.
struct Ocp1DeviceIdentity {
    std::string device_name = "linetune virtual amplifier";
    std::string serial_number = "virtual-0001";
};

/// One PDU to deliver to one controller.
struct Ocp1Delivery {
    Ocp1ControllerId controller = 0;
    Ocp1Notification notification;
};

/// Outcome of one command: its Response, the notifications it caused and the state it left.
struct Ocp1CommandOutcome {
    Ocp1Response response;
    std::vector<Ocp1Delivery> notifications;
    bool state_changed = false;
    AmplifierState state;  ///< the state after the command, when it changed
    std::vector<std::string> log_lines;
};

/// An amplifier's AES70 object tree over a SharedAmplifierState, for any profile:
/// DeviceManager (ONo 1), SubscriptionManager (ONo 4) and the root block (ONo 100) holding one
/// block per channel with OcaGain, OcaMute, OcaDelayExtended, optionally OcaPolarity, and one
/// OcaFilterParametric per band. Values are checked against the profile's ranges and rounded to
/// its steps, like the OSC virtual amplifier. Not thread-safe: one network thread calls it.
class Ocp1DeviceModel {
public:
    /// Rounds every number of the state to the profile's steps, because a device holds only values
    /// on its grid. Throws Error (configuration) when the state has more channels or bands than the
    /// profile or the layout is invalid.
    Ocp1DeviceModel(DeviceProfile profile, SharedAmplifierState& state, Ocp1DeviceIdentity identity = {});

    /// Replaces the refusal rules: "all", a parameter kind name ("gain_db") or a linetune-generic
    /// address ("/ch/2/eq/3/freq_hz"). A refused Set returns ProcessingFailed and changes nothing.
    /// Throws Error (configuration) for an entry that names nothing.
    void set_refused_parameters(const std::vector<std::string>& entries);

    /// Executes one command from a controller. Never throws for anything the controller sent: a
    /// malformed parameter list returns BadFormat.
    Ocp1CommandOutcome handle(Ocp1ControllerId controller, const Ocp1Command& command);

    /// Releases the locks and subscriptions of a controller whose connection ended.
    void disconnect(Ocp1ControllerId controller);

    [[nodiscard]] const Ocp1DeviceLayout& layout() const { return layout_; }

    /// Subscriptions held by all controllers together.
    [[nodiscard]] std::size_t subscription_count() const { return subscriptions_.size(); }

private:
    using ObjectKind = Ocp1DeviceObjectKind;
    using LockState = Ocp1LockState;

    /// One object of the tree.
    struct Object {
        OcaONo ono = 0;
        ObjectKind kind = ObjectKind::block;
        std::string role{};
        std::string label{};
        OcaONo owner = 0;              ///< containing block; 0 for the root block and the managers
        std::vector<OcaONo> members{};  ///< blocks only
        std::size_t channel = 0;       ///< 1-based; 0 for the root block and the managers
        std::size_t band = 0;          ///< 1-based; filters only
        std::uint8_t delay_unit = 5;   ///< OcaDelayUnit of DelayValue: 5 = milliseconds
        LockState lock = LockState::none;
        Ocp1ControllerId lock_owner = 0;
    };

    /// One EV1 subscription: where a controller wants an emitter's event delivered.
    struct Subscription {
        Ocp1ControllerId controller = 0;
        OcaONo emitter = 0;
        OcaEventId event{};
        OcaONo subscriber_ono = 0;
        OcaMethodId subscriber_method{};
        std::vector<std::uint8_t> context{};
        std::optional<OcaPropertyId> property{};  ///< only this property (AddPropertyChangeSubscription)
    };

    struct Call;

    void build_tree();
    Object& add_object(Object object);
    void dispatch(Call& call);
    void root_method(Call& call);
    void worker_method(Call& call);
    void block_method(Call& call);
    void device_manager_method(Call& call);
    void subscription_manager_method(Call& call);
    void actuator_method(Call& call);
    void delay_extended_method(Call& call);
    void filter_method(Call& call);
    void set_filter_multiple(Call& call);

    [[nodiscard]] bool is_refused(const ParameterId& id) const;
    void set_parameters(Call& call, const std::vector<std::pair<ParameterId, ParameterValue>>& values);
    void notify(Call& call, const Object& emitter, OcaPropertyId property, std::vector<std::uint8_t> value);
    void notify_parameter(Call& call, const ParameterId& id);

    DeviceProfile profile_;
    SharedAmplifierState& state_;
    Ocp1DeviceIdentity identity_;
    Ocp1DeviceLayout layout_;
    std::map<OcaONo, Object> objects_;
    std::vector<Subscription> subscriptions_;
    std::map<Ocp1ControllerId, bool> notifications_disabled_;

    struct RefusalRule {
        bool every_parameter = false;
        std::optional<ParameterKind> kind;
        std::optional<ParameterId> id;
    };
    std::vector<RefusalRule> refusal_rules_;
};

}  // namespace linetune::control
