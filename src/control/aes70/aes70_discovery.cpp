#include "linetune/control/aes70/aes70_discovery.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace linetune::control {
namespace {

// Method IDs (AES70-2018): OcaRoot level 1, OcaBlock level 3, OcaDeviceManager level 3.
constexpr OcaMethodId get_role{1, 5};
constexpr OcaMethodId get_members{3, 5};
constexpr OcaMethodId get_members_recursive{3, 6};
constexpr OcaMethodId find_objects_by_path{3, 20};
constexpr OcaMethodId get_oca_version{3, 1};
constexpr OcaMethodId get_serial_number{3, 3};
constexpr OcaMethodId get_device_name{3, 4};
constexpr OcaMethodId get_model_description{3, 6};

// OcaObjectSearchResultFlags: ONo 1, ClassIdentification 2, ContainerPath 4, Role 8, Label 16.
// linetune asks for all five, so every result carries them in that order.
constexpr std::uint16_t all_search_result_fields = 0x1F;

// Class ID of OcaBlock; a member whose class starts with it holds members of its own.
const OcaClassId block_class{1, 1, 3};

// A block nested deeper than this is taken for a loop in a broken device's tree.
constexpr int max_block_depth = 32;

bool method_missing(OcaStatus status) {
    return status == OcaStatus::bad_method || status == OcaStatus::not_implemented;
}

OcaClassId read_class_id(Ocp1Reader& reader) {
    const std::uint16_t field_count = reader.u16();
    OcaClassId class_id;
    for (std::uint16_t i = 0; i < field_count; ++i) {
        class_id.push_back(reader.u16());
    }
    return class_id;
}

/// Calls a DeviceManager method that returns one OcaString; empty when the device rejects it.
std::string manager_string(Aes70Connection& connection, OcaMethodId method) {
    const auto response = connection.call(oca_device_manager_ono, method, 0, {});
    if (response.status != OcaStatus::ok) {
        return {};
    }
    Ocp1Reader reader(response.parameters, connection.description() + ": DeviceManager string");
    return reader.string();
}

/// GetMembers block by block from the root, for devices without GetMembersRecursive.
void walk_members(Aes70Connection& connection, OcaONo block, int depth, std::vector<Aes70ObjectInfo>& tree) {
    if (depth > max_block_depth) {
        throw Error(connection.description() + ": the block tree is deeper than " + std::to_string(max_block_depth) +
                        " levels at block " + std::to_string(block) + "; the device's tree is broken",
                    ErrorKind::device);
    }
    const auto response = connection.call(block, get_members, 0, {});
    if (response.status != OcaStatus::ok) {
        throw Error(connection.description() + ": GetMembers of block " + std::to_string(block) + " returned " +
                        to_string(response.status) + ": " + explain_status(response.status),
                    ErrorKind::device);
    }
    Ocp1Reader reader(response.parameters, connection.description() + ": members of block " + std::to_string(block));
    const std::uint16_t count = reader.u16();
    std::vector<Aes70ObjectInfo> members;
    for (std::uint16_t i = 0; i < count; ++i) {
        Aes70ObjectInfo member;
        member.ono = reader.ono();
        member.class_id = read_class_id(reader);
        member.class_version = reader.u16();
        member.container = block;
        members.push_back(std::move(member));
    }
    for (auto& member : members) {
        tree.push_back(member);
        if (is_class_or_subclass(member.class_id, block_class)) {
            walk_members(connection, member.ono, depth + 1, tree);
        }
    }
}

/// Fills role and role_path of every object: GetRole per object, then the roles of its
/// containers up to the root block.
void add_role_paths(Aes70Connection& connection, std::vector<Aes70ObjectInfo>& tree) {
    std::map<OcaONo, std::size_t> index_of;
    for (std::size_t i = 0; i < tree.size(); ++i) {
        index_of[tree[i].ono] = i;
        const auto response = connection.call(tree[i].ono, get_role, 0, {});
        if (response.status == OcaStatus::ok) {
            Ocp1Reader reader(response.parameters, connection.description() + ": role of object " +
                                                       std::to_string(tree[i].ono));
            tree[i].role = reader.string();
        }
    }
    for (auto& object : tree) {
        std::string path = object.role;
        std::set<OcaONo> seen{object.ono};
        for (OcaONo container = object.container; container != oca_root_block_ono;) {
            const auto parent = index_of.find(container);
            if (parent == index_of.end() || !seen.insert(container).second) {
                break;  // a container outside the tree, or a loop: keep the path found so far
            }
            path = tree[parent->second].role + "/" + path;
            container = tree[parent->second].container;
        }
        object.role_path = path;
    }
}

std::vector<std::string> split_role_path(const std::string& role_path) {
    std::vector<std::string> roles;
    std::stringstream stream(role_path);
    for (std::string role; std::getline(stream, role, '/');) {
        roles.push_back(role);
    }
    return roles;
}

}  // namespace

std::string class_id_text(const OcaClassId& class_id) {
    std::string text;
    for (const auto field : class_id) {
        text += (text.empty() ? "" : ".") + std::to_string(field);
    }
    return text;
}

bool is_class_or_subclass(const OcaClassId& class_id, const OcaClassId& prefix) {
    return class_id.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), class_id.begin());
}

std::string class_name(const OcaClassId& class_id) {
    static const std::map<OcaClassId, std::string> names{
        {{1}, "OcaRoot"},
        {{1, 1}, "OcaWorker"},
        {{1, 1, 1, 2}, "OcaMute"},
        {{1, 1, 1, 3}, "OcaPolarity"},
        {{1, 1, 1, 4}, "OcaSwitch"},
        {{1, 1, 1, 5}, "OcaGain"},
        {{1, 1, 1, 7}, "OcaDelay"},
        {{1, 1, 1, 7, 1}, "OcaDelayExtended"},
        {{1, 1, 1, 9}, "OcaFilterClassical"},
        {{1, 1, 1, 10}, "OcaFilterParametric"},
        {{1, 1, 1, 12}, "OcaFilterFIR"},
        {{1, 1, 3}, "OcaBlock"},
        {{1, 3, 1}, "OcaDeviceManager"},
        {{1, 3, 4}, "OcaSubscriptionManager"},
    };
    const auto name = names.find(class_id);
    return name != names.end() ? name->second : class_id_text(class_id);
}

Aes70DeviceIdentity read_device_identity(Aes70Connection& connection) {
    Aes70DeviceIdentity identity;
    const auto model = connection.call(oca_device_manager_ono, get_model_description, 0, {});
    if (model.status == OcaStatus::ok) {
        Ocp1Reader reader(model.parameters, connection.description() + ": model description");
        identity.manufacturer = reader.string();
        identity.model = reader.string();
        identity.version = reader.string();
    }
    identity.serial_number = manager_string(connection, get_serial_number);
    identity.device_name = manager_string(connection, get_device_name);
    const auto version = connection.call(oca_device_manager_ono, get_oca_version, 0, {});
    if (version.status == OcaStatus::ok) {
        Ocp1Reader reader(version.parameters, connection.description() + ": OCA version");
        identity.oca_version = reader.u16();
    }
    return identity;
}

std::vector<Aes70ObjectInfo> read_object_tree(Aes70Connection& connection) {
    std::vector<Aes70ObjectInfo> tree;
    const auto response = connection.call(oca_root_block_ono, get_members_recursive, 0, {});
    if (response.status == OcaStatus::ok) {
        Ocp1Reader reader(response.parameters, connection.description() + ": members of the root block");
        const std::uint16_t count = reader.u16();
        for (std::uint16_t i = 0; i < count; ++i) {
            Aes70ObjectInfo member;
            member.ono = reader.ono();
            member.class_id = read_class_id(reader);
            member.class_version = reader.u16();
            member.container = reader.ono();
            tree.push_back(std::move(member));
        }
    } else if (method_missing(response.status)) {
        walk_members(connection, oca_root_block_ono, 0, tree);
    } else {
        throw Error(connection.description() + ": GetMembersRecursive of the root block returned " +
                        to_string(response.status) + ": " + explain_status(response.status),
                    ErrorKind::device);
    }
    add_role_paths(connection, tree);
    return tree;
}

std::optional<Aes70ObjectInfo> find_object_by_role_path(Aes70Connection& connection, const std::string& role_path,
                                                        std::vector<Aes70ObjectInfo>& tree) {
    if (tree.empty()) {
        const auto roles = split_role_path(role_path);
        Ocp1Writer parameters;
        parameters.u16(static_cast<std::uint16_t>(roles.size()));
        for (const auto& role : roles) {
            parameters.string(role);
        }
        parameters.u16(all_search_result_fields);
        const auto response = connection.call(oca_root_block_ono, find_objects_by_path, 2, parameters.take());
        if (response.status == OcaStatus::ok) {
            Ocp1Reader reader(response.parameters, connection.description() + ": objects at role path '" + role_path + "'");
            if (reader.u16() == 0) {
                return std::nullopt;
            }
            Aes70ObjectInfo found;
            found.ono = reader.ono();
            found.class_id = read_class_id(reader);
            found.class_version = reader.u16();
            const std::uint16_t depth = reader.u16();
            for (std::uint16_t i = 0; i < depth; ++i) {
                found.container = reader.ono();  // the last container is the object's own block
            }
            if (depth == 0) {
                found.container = oca_root_block_ono;
            }
            found.role = reader.string();
            found.role_path = role_path;
            return found;
        }
        if (!method_missing(response.status)) {
            throw Error(connection.description() + ": FindObjectsByPath for '" + role_path + "' returned " +
                            to_string(response.status) + ": " + explain_status(response.status),
                        ErrorKind::device);
        }
        tree = read_object_tree(connection);  // the device has no FindObjectsByPath: search the tree
    }
    for (const auto& object : tree) {
        if (object.role_path == role_path) {
            return object;
        }
    }
    return std::nullopt;
}

}  // namespace linetune::control
