#pragma once

#include <algorithm>
#include <optional>
#include <string>

namespace linetune::capture::detail {

/// Returns why a zone or mic name cannot name a file or folder of a session, or nothing when it
/// can. A rejected name would leave the session folder or be refused by the file system.
inline std::optional<std::string> unusable_file_name_reason(const std::string& name) {
    if (name.empty()) {
        return "it is empty";
    }
    if (name == "." || name == "..") {
        return "'" + name + "' names a folder itself";
    }
    const bool control_character =
        std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (control_character || name.find_first_of("/\\") != std::string::npos) {
        return "it contains a slash, a backslash or a control character";
    }
    return std::nullopt;
}

}  // namespace linetune::capture::detail
