#pragma once

// Reading of a whole JSON file (venue files, device profiles, corrections files, push journals,
// impulse-response sidecars) in which every failure becomes one linetune::Error naming the file.

#include "linetune/core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace linetune::io {

/// Throws Error(kind) unless path names an existing regular file; head names the file in the
/// message ("venue 'v.json'"). A folder gets its own message, because reading one fails deep in
/// the standard library with "Is a directory".
inline void require_regular_file(const std::filesystem::path& path, const std::string& head,
                                 ErrorKind kind = ErrorKind::configuration) {
    std::error_code error;
    const auto status = std::filesystem::status(path, error);
    if (status.type() == std::filesystem::file_type::not_found) {
        throw Error(head + ": file not found or not readable; check the path", kind);
    }
    if (status.type() == std::filesystem::file_type::directory) {
        throw Error(head + ": is a folder, not a file; give the path of the JSON file", kind);
    }
    if (error || status.type() != std::filesystem::file_type::regular) {
        throw Error(head + ": not a regular file or not readable; check the path", kind);
    }
}

/// Parses a whole JSON file; head names the file in messages ("venue 'v.json'"). A syntax error
/// gets its 1-based line and column, and a number too large for a double (1e999) names the key it
/// belongs to. Every nlohmann exception becomes an Error(kind).
inline nlohmann::json parse_json_file(const std::filesystem::path& path, const std::string& head,
                                      ErrorKind kind = ErrorKind::configuration) {
    require_regular_file(path, head, kind);
    std::ifstream stream(path, std::ios::binary);
    if (!stream) {
        throw Error(head + ": file not readable; check its permissions", kind);
    }
    const std::string text{std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>()};

    // The last object key read, so that an error inside a value can name the key it belongs to.
    std::string last_key;
    const nlohmann::json::parser_callback_t remember_key = [&last_key](int, nlohmann::json::parse_event_t event,
                                                                        nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && parsed.is_string()) {
            last_key = parsed.get<std::string>();
        }
        return true;
    };

    try {
        return nlohmann::json::parse(text, remember_key);
    } catch (const nlohmann::json::parse_error& error) {
        // error.byte counts from 1 and points at the byte where parsing stopped (the last
        // character of the unexpected token).
        const auto offset = std::min<std::size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
        const auto line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
        const auto column = line_start == std::string::npos || offset == 0 ? offset + 1 : offset - line_start;

        const std::string what = error.what();
        const auto reason_at = what.find("syntax error");
        const std::string reason = reason_at == std::string::npos ? what : what.substr(reason_at);
        throw Error(head + ": invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) +
                        ": " + reason + "; fix the syntax and load the file again",
                    kind);
    } catch (const nlohmann::json::out_of_range& error) {
        // nlohmann reports a number beyond the double range (about ±1.8e308) as out_of_range 406.
        const std::string what = error.what();
        const auto reason_at = what.find("] ");
        const std::string reason = reason_at == std::string::npos ? what : what.substr(reason_at + 2);
        const std::string where = last_key.empty() ? "" : " in the value of '" + last_key + "'";
        throw Error(head + ": invalid JSON" + where + ": " + reason +
                        " (a number must lie within about ±1.8e308); fix the value",
                    kind);
    } catch (const nlohmann::json::exception& error) {
        throw Error(head + ": invalid JSON: " + error.what() + "; fix the file", kind);
    }
}

}  // namespace linetune::io
