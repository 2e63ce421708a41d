#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace linetune {

/// What kind of failure an Error reports; the CLI maps it to its exit code.
enum class ErrorKind {
    input,          ///< a measurement or data file cannot be used (exit 1: other inputs still done)
    configuration,  ///< bad arguments, venue file or profile (exit 2)
    device,         ///< audio interface or amplifier failure (exit 3)
};

/// The project's one error type: a message that grows context outward
/// ("file 'a.wav', channel 2: ..."), and the kind of failure.
class Error : public std::runtime_error {
public:
    explicit Error(std::string message, ErrorKind kind = ErrorKind::input);

    /// Returns a copy whose message is prefixed with "context: ".
    [[nodiscard]] Error with_context(std::string_view context) const;

    [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }

private:
    ErrorKind kind_;
};

/// Throws Error(kind) with the message unless the condition holds.
void require(bool condition, std::string_view message, ErrorKind kind = ErrorKind::input);

/// Exit code of the CLI for an error kind: 1 input, 2 configuration, 3 device.
int exit_code_for(ErrorKind kind) noexcept;

}  // namespace linetune
