#pragma once

#include <filesystem>

namespace linetune::io {

/// A new version of a file being written beside it: writes go to a temporary file in the same
/// folder, and commit() flushes it to disk and renames it over the destination, so readers see
/// the old file or the whole new one. Destroyed without commit(), it removes the temporary file.
/// The destination may be missing or a writable regular file; a symbolic link is followed so
/// that its target is replaced and the link kept. Errors carry no file label: callers add it.
class AtomicFileReplacement {
public:
    explicit AtomicFileReplacement(const std::filesystem::path& destination);
    ~AtomicFileReplacement();
    AtomicFileReplacement(const AtomicFileReplacement&) = delete;
    AtomicFileReplacement& operator=(const AtomicFileReplacement&) = delete;

    /// Descriptor of the temporary file, open for writing.
    [[nodiscard]] int descriptor() const { return descriptor_; }

    /// Flushes, closes and renames the temporary file into place, then flushes the folder.
    void commit();

private:
    std::filesystem::path destination_;
    std::filesystem::path temporary_;
    int descriptor_ = -1;
    bool committed_ = false;
};

}  // namespace linetune::io
