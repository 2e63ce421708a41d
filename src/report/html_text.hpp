#pragma once

#include <string>
#include <string_view>

namespace linetune::report {

/// Replaces &, <, >, " and ' by character references, so the text is safe inside elements and
/// quoted attributes.
std::string escape_html(std::string_view text);

}  // namespace linetune::report
