#pragma once

// Discovery on an AES70 device: its identity from the DeviceManager, its object tree from the root
// block, and object numbers of role paths ("Zone1/Gain").

#include "linetune/control/aes70/aes70_connection.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace linetune::control {

/// OcaClassID: the class's position in the class tree, one field per level (OcaGain = 1.1.1.5).
using OcaClassId = std::vector<std::uint16_t>;

/// "1.1.1.5" for messages.
std::string class_id_text(const OcaClassId& class_id);

/// True when class_id is prefix or a subclass of it (OcaDelayExtended 1.1.1.7.1 is an OcaDelay).
bool is_class_or_subclass(const OcaClassId& class_id, const OcaClassId& prefix);

/// The standard name of a class linetune supports ("OcaGain"), else its class ID as text.
std::string class_name(const OcaClassId& class_id);

/// What the DeviceManager (ONo 1) reports about the device; a field the device does not give
/// stays empty.
struct Aes70DeviceIdentity {
    std::string manufacturer;  ///< OcaModelDescription.Manufacturer
    std::string model;         ///< OcaModelDescription.Name
    std::string version;       ///< OcaModelDescription.Version (the model's firmware or hardware version)
    std::string serial_number;
    std::string device_name;
    std::optional<std::uint16_t> oca_version;  ///< 1 AES70-2015, 2 AES70-2018, 3 AES70-2023
};

/// One object of the device tree.
struct Aes70ObjectInfo {
    OcaONo ono = 0;
    OcaClassId class_id;
    std::uint16_t class_version = 0;
    OcaONo container = 0;   ///< the block that holds it (100 for the root block's members)
    std::string role;       ///< OcaRoot.Role; empty when GetRole failed
    std::string role_path;  ///< roles from the root block's member down to this object, joined by '/'
};

/// Reads the DeviceManager's model description, serial number, device name and OCA version. A
/// method the device rejects leaves its fields empty. Throws Error (device) only when the link fails.
Aes70DeviceIdentity read_device_identity(Aes70Connection& connection);

/// Reads every object under the root block (ONo 100) with its class and role path: one
/// GetMembersRecursive, or GetMembers block by block where the device lacks it, then GetRole per
/// object. Throws Error (device) when the root block cannot be read.
std::vector<Aes70ObjectInfo> read_object_tree(Aes70Connection& connection);

/// The object a role path names, with its class; empty when the device has no such path. Uses
/// the root block's FindObjectsByPath, or the object tree where the device lacks that method
/// (tree, when given, is that tree read once and reused; it is read here when empty).
std::optional<Aes70ObjectInfo> find_object_by_role_path(Aes70Connection& connection, const std::string& role_path,
                                                        std::vector<Aes70ObjectInfo>& tree);

}  // namespace linetune::control
