#include "linetune/io/text_file_writer.hpp"

#include "linetune/core/error.hpp"

#include "atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace linetune::io {

void write_text_file(const std::filesystem::path& path, std::string_view content) {
    try {
        AtomicFileReplacement replacement(path);
        std::size_t written = 0;
        while (written < content.size()) {
            const ssize_t count = ::write(replacement.descriptor(), content.data() + written, content.size() - written);
            if (count < 0 && errno == EINTR) {
                continue;
            }
            if (count <= 0) {
                throw Error("writing failed (" + std::generic_category().message(errno) + "); check the free space on the disk");
            }
            written += static_cast<std::size_t>(count);
        }
        replacement.commit();
    } catch (const Error& error) {
        throw error.with_context("file '" + path.string() + "'");
    }
}

}  // namespace linetune::io
