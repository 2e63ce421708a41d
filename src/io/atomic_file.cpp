#include "atomic_file.hpp"

#include "linetune/core/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>

namespace linetune::io {
namespace {

std::string system_message(int error_number) { return std::generic_category().message(error_number); }

std::filesystem::path folder_of(const std::filesystem::path& path) {
    return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

/// The path to replace. Anything but a missing path or a writable regular file (a device, a
/// FIFO, a folder, a read-only file) is rejected, because the rename would silently put a file
/// in its place.
std::filesystem::path replaceable_path(const std::filesystem::path& requested) {
    std::error_code error;
    const std::filesystem::path path =
        std::filesystem::is_symlink(requested, error) ? std::filesystem::weakly_canonical(requested, error) : requested;
    const auto status = std::filesystem::status(path, error);
    if (!std::filesystem::exists(status)) {
        return path;
    }
    if (!std::filesystem::is_regular_file(status)) {
        throw Error("it exists and is not a regular file (a device, FIFO or folder); choose another output path");
    }
    if (::access(path.c_str(), W_OK) != 0) {
        throw Error("it exists and is read-only; make it writable or choose another output path");
    }
    return path;
}

/// Creates a new, empty temporary file beside the destination and returns its descriptor.
int create_temporary_file(const std::filesystem::path& path, std::filesystem::path& temporary_path) {
    static std::atomic<unsigned> counter{0};
    const std::filesystem::path folder = folder_of(path);
    for (int attempt = 0; attempt < 100; ++attempt) {
        temporary_path = folder / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                                   std::to_string(counter++));
        const int descriptor = ::open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (descriptor >= 0) {
            return descriptor;
        }
        if (errno != EEXIST) {
            throw Error("cannot create a temporary file in folder '" + folder.string() + "' (" + system_message(errno) +
                        "); check that the folder is writable");
        }
    }
    throw Error("cannot create a temporary file in folder '" + folder.string() +
                "': 100 names were taken; remove stale '.*.tmp-*' files there");
}

}  // namespace

AtomicFileReplacement::AtomicFileReplacement(const std::filesystem::path& destination)
    : destination_(replaceable_path(destination)) {
    std::error_code error;
    const std::filesystem::path folder = folder_of(destination_);
    if (!std::filesystem::is_directory(folder, error)) {
        throw Error("cannot write it because the folder '" + folder.string() + "' does not exist; create the folder first");
    }
    descriptor_ = create_temporary_file(destination_, temporary_);
}

AtomicFileReplacement::~AtomicFileReplacement() {
    if (committed_) {
        return;
    }
    if (descriptor_ >= 0) {
        ::close(descriptor_);
    }
    ::unlink(temporary_.c_str());
}

void AtomicFileReplacement::commit() {
    if (::fsync(descriptor_) != 0) {
        throw Error("flushing to disk failed (" + system_message(errno) + "); check the disk");
    }
    const int close_result = ::close(descriptor_);
    descriptor_ = -1;
    if (close_result != 0) {
        throw Error("closing the temporary file failed (" + system_message(errno) + "); check the disk");
    }
    if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
        throw Error("cannot put the written file in place (" + system_message(errno) +
                    "); check that the path is not a folder and that the folder is writable");
    }
    committed_ = true;

    // Make the rename itself durable. A failure here leaves a complete file in place, so it is
    // not reported.
    const int folder_descriptor = ::open(folder_of(destination_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder_descriptor >= 0) {
        ::fsync(folder_descriptor);
        ::close(folder_descriptor);
    }
}

}  // namespace linetune::io
