#pragma once

// Checked reading of configuration JSON (venue files and device profiles): every missing,
// mistyped or unknown key becomes one problem in a list, so a file is validated as a whole and
// reported in one error.

#include "linetune/core/error.hpp"
#include "linetune/io/json_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace linetune::io::detail {

/// Formats a number as a person writes it: "20", "0.5", "20.82", up to 10 significant digits.
inline std::string format_number(double value) {
    std::ostringstream stream;
    stream.precision(10);
    stream << value;
    return stream.str();
}

/// Formats a number followed by its unit ("15 dB"); a unitless quantity (Q) gets no suffix.
inline std::string format_quantity(double value, std::string_view unit) {
    return unit.empty() ? format_number(value) : format_number(value) + " " + std::string(unit);
}

/// Joins names with ", ".
inline std::string join_names(const std::vector<std::string>& names) {
    std::string joined;
    for (const auto& name : names) {
        joined += joined.empty() ? name : ", " + name;
    }
    return joined;
}

/// Builds one Error for a whole file: "HEAD: problem" for one problem, else a dashed list.
inline Error make_problems_error(const std::string& head, const std::vector<std::string>& problems) {
    if (problems.size() == 1) {
        return Error(head + ": " + problems.front(), ErrorKind::configuration);
    }
    std::string message = head + ": " + std::to_string(problems.size()) + " problems:";
    for (const auto& problem : problems) {
        message += "\n  - " + problem;
    }
    return Error(message, ErrorKind::configuration);
}

/// Parses a whole JSON file; head names the file in messages ("venue 'v.json'"). Every failure
/// (no such file, a folder, a syntax error, a number beyond the double range) is an Error
/// (configuration) naming the file.
inline nlohmann::json parse_json_file(const std::filesystem::path& path, const std::string& head) {
    return io::parse_json_file(path, head, ErrorKind::configuration);
}

/// Reader of one JSON object that records a problem, prefixed with the object's context
/// ("zone 'L-mid'"), for each unknown key and for each missing or mistyped value it is asked for.
class JsonObjectReader {
public:
    JsonObjectReader(const nlohmann::json& object, std::string context, std::vector<std::string>& problems,
                     std::initializer_list<std::string_view> allowed_keys)
        : object_(object), context_(std::move(context)), problems_(problems) {
        if (!object.is_object()) {
            valid_ = false;
            problem("must be a JSON object {...}, not " + std::string(object.type_name()));
            return;
        }
        for (const auto& item : object.items()) {
            const auto allowed = std::find(allowed_keys.begin(), allowed_keys.end(), item.key());
            if (allowed == allowed_keys.end()) {
                std::vector<std::string> keys(allowed_keys.begin(), allowed_keys.end());
                problem("unknown key '" + item.key() + "' (allowed: " + join_names(keys) +
                        "); check the spelling");
            }
        }
    }

    /// False when the value is not an object; every accessor then returns empty.
    [[nodiscard]] bool valid() const { return valid_; }

    [[nodiscard]] const std::string& context() const { return context_; }

    /// Records a problem prefixed with the context.
    void problem(const std::string& text) const {
        problems_.push_back(context_.empty() ? text : context_ + ": " + text);
    }

    /// Returns the value of key, or null when absent (recording a problem when required).
    [[nodiscard]] const nlohmann::json* value(std::string_view key, bool required) const {
        if (!valid_) {
            return nullptr;
        }
        const auto found = object_.find(std::string(key));
        if (found == object_.end()) {
            if (required) {
                problem("missing key '" + std::string(key) + "'; add it");
            }
            return nullptr;
        }
        return &*found;
    }

    /// Reads a finite number.
    [[nodiscard]] std::optional<double> number(std::string_view key, bool required) const {
        const auto* item = value(key, required);
        if (item == nullptr) {
            return std::nullopt;
        }
        if (!item->is_number() || !std::isfinite(item->get<double>())) {
            problem("'" + std::string(key) + "' must be a number, not " + item->dump());
            return std::nullopt;
        }
        return item->get<double>();
    }

    /// Reads a whole number of at least minimum.
    [[nodiscard]] std::optional<std::size_t> count(std::string_view key, bool required,
                                                   std::size_t minimum) const {
        const auto* item = value(key, required);
        if (item == nullptr) {
            return std::nullopt;
        }
        if (!item->is_number_integer() || item->get<long long>() < static_cast<long long>(minimum)) {
            problem("'" + std::string(key) + "' must be a whole number of at least " +
                    std::to_string(minimum) + ", not " + item->dump());
            return std::nullopt;
        }
        return static_cast<std::size_t>(item->get<long long>());
    }

    /// Reads a string; a required string must not be empty.
    [[nodiscard]] std::optional<std::string> text(std::string_view key, bool required) const {
        const auto* item = value(key, required);
        if (item == nullptr) {
            return std::nullopt;
        }
        if (!item->is_string() || (required && item->get<std::string>().empty())) {
            problem("'" + std::string(key) + "' must be a non-empty string, not " + item->dump());
            return std::nullopt;
        }
        return item->get<std::string>();
    }

    [[nodiscard]] std::optional<bool> boolean(std::string_view key) const {
        const auto* item = value(key, false);
        if (item == nullptr) {
            return std::nullopt;
        }
        if (!item->is_boolean()) {
            problem("'" + std::string(key) + "' must be true or false, not " + item->dump());
            return std::nullopt;
        }
        return item->get<bool>();
    }

    /// Returns an array, checked for its type only.
    [[nodiscard]] const nlohmann::json* array(std::string_view key, bool required) const {
        const auto* item = value(key, required);
        if (item != nullptr && !item->is_array()) {
            problem("'" + std::string(key) + "' must be a JSON array [...], not " + std::string(item->type_name()));
            return nullptr;
        }
        return item;
    }

private:
    const nlohmann::json& object_;
    std::string context_;
    std::vector<std::string>& problems_;
    bool valid_ = true;
};

}  // namespace linetune::io::detail
