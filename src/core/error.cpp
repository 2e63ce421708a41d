#include "linetune/core/error.hpp"

namespace linetune {

Error::Error(std::string message, ErrorKind kind)
    : std::runtime_error(std::move(message)), kind_(kind) {}

Error Error::with_context(std::string_view context) const {
    std::string message(context);
    message += ": ";
    message += what();
    return Error(std::move(message), kind_);
}

void require(bool condition, std::string_view message, ErrorKind kind) {
    if (!condition) {
        throw Error(std::string(message), kind);
    }
}

int exit_code_for(ErrorKind kind) noexcept {
    switch (kind) {
    case ErrorKind::input: return 1;
    case ErrorKind::configuration: return 2;
    case ErrorKind::device: return 3;
    }
    return 1;
}

}  // namespace linetune
