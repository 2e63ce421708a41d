#include "linetune/io/wav_writer.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"

#include <sndfile.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <sstream>
#include <system_error>
#include <vector>

namespace linetune::io {
namespace {

// Frames interleaved per block for libsndfile. The block buffer takes frames × channels × 4
// bytes (2 MiB at 64 channels) and is the only copy of the audio besides the signal itself.
constexpr std::size_t write_block_frames = 8192;

// Largest data chunk written as plain WAV; a RIFF size field is 32 bits, and this leaves room
// for the header chunks. Larger audio is written as RF64 (EBU Tech 3306).
constexpr std::uint64_t max_wav_data_bytes = 0xFFFFFFFFULL - 65536;

std::string system_message(int error_number) { return std::generic_category().message(error_number); }

std::filesystem::path folder_of(const std::filesystem::path& path) {
    return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

std::size_t bytes_per_sample(WavEncoding encoding) {
    switch (encoding) {
    case WavEncoding::pcm16: return 2;
    case WavEncoding::pcm24: return 3;
    case WavEncoding::float32: return 4;
    }
    return 4;
}

int libsndfile_format(const MultichannelSignal& signal, WavEncoding encoding) {
    const std::uint64_t data_bytes =
        static_cast<std::uint64_t>(signal.frame_count()) * signal.channel_count() * bytes_per_sample(encoding);
    // WAVE_FORMAT_EXTENSIBLE is what Microsoft's format notes ask for beyond two channels.
    int container = signal.channel_count() > 2 ? SF_FORMAT_WAVEX : SF_FORMAT_WAV;
    if (data_bytes > max_wav_data_bytes) {
        container = SF_FORMAT_RF64;
    }
    switch (encoding) {
    case WavEncoding::pcm16: return container | SF_FORMAT_PCM_16;
    case WavEncoding::pcm24: return container | SF_FORMAT_PCM_24;
    case WavEncoding::float32: return container | SF_FORMAT_FLOAT;
    }
    return container | SF_FORMAT_FLOAT;
}

void validate_signal(const MultichannelSignal& signal) {
    if (signal.channel_count() == 0 || signal.frame_count() == 0) {
        throw Error("the signal contains no audio (channels: " + std::to_string(signal.channel_count()) +
                    ", frames: " + std::to_string(signal.frame_count()) + "); nothing would be written");
    }
    if (signal.channel_count() > max_audio_file_channels) {
        throw Error(std::to_string(signal.channel_count()) + " channels exceed the limit of 64 channels per file; "
                    "write the channels to several files");
    }
    // WAV stores the rate as a whole number of hertz.
    const double rate_hz = signal.sample_rate_hz();
    if (!(rate_hz >= 1.0 && rate_hz <= 2147483647.0) || std::round(rate_hz) != rate_hz) {
        std::ostringstream text;
        text << "sample rate " << rate_hz << " Hz cannot be stored in a WAV file, which needs a whole number of hertz";
        throw Error(text.str());
    }
    for (std::size_t channel = 0; channel < signal.channel_count(); ++channel) {
        const auto samples = signal.channel(channel);
        for (std::size_t frame = 0; frame < samples.size(); ++frame) {
            if (!std::isfinite(samples[frame])) {
                throw Error("channel " + std::to_string(channel + 1) + ", frame " + std::to_string(frame) + ": sample is " +
                            (std::isnan(samples[frame]) ? "NaN" : "infinite") +
                            ", which a WAV file cannot hold; check the processing that produced it");
            }
        }
    }
}

// Creates a new, empty temporary file beside the destination and returns its descriptor.
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

void write_samples(SNDFILE* file, const MultichannelSignal& signal) {
    const std::size_t channels = signal.channel_count();
    std::vector<float> block(write_block_frames * channels);
    for (std::size_t first = 0; first < signal.frame_count(); first += write_block_frames) {
        const std::size_t count = std::min(write_block_frames, signal.frame_count() - first);
        for (std::size_t channel = 0; channel < channels; ++channel) {
            const auto samples = signal.channel(channel).subspan(first, count);
            for (std::size_t frame = 0; frame < count; ++frame) {
                block[frame * channels + channel] = samples[frame];
            }
        }
        if (sf_writef_float(file, block.data(), static_cast<sf_count_t>(count)) != static_cast<sf_count_t>(count)) {
            throw Error("writing frame " + std::to_string(first) + " failed (" + sf_strerror(file) +
                        "); check the free space on the disk");
        }
    }
}

// Writes the WAV into an open descriptor and flushes it to disk; the descriptor stays open.
void write_into(int descriptor, const MultichannelSignal& signal, WavEncoding encoding) {
    SF_INFO info{};
    info.channels = static_cast<int>(signal.channel_count());
    info.samplerate = static_cast<int>(signal.sample_rate_hz());
    info.format = libsndfile_format(signal, encoding);

    SNDFILE* file = sf_open_fd(descriptor, SFM_WRITE, &info, SF_FALSE);
    if (file == nullptr) {
        throw Error(std::string("libsndfile could not start the file (") + sf_strerror(nullptr) + ")");
    }
    // Clip overs to full scale instead of letting integer conversion wrap them around, and leave
    // out the PEAK chunk, whose time stamp would make identical audio give different files.
    sf_command(file, SFC_SET_CLIPPING, nullptr, SF_TRUE);
    sf_command(file, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);

    try {
        write_samples(file, signal);
    } catch (...) {
        sf_close(file);
        throw;
    }
    if (const int status = sf_close(file); status != 0) {
        throw Error(std::string("finishing the header failed (") + sf_error_number(status) +
                    "); check the free space on the disk");
    }
    if (::fsync(descriptor) != 0) {
        throw Error("flushing to disk failed (" + system_message(errno) + "); check the disk");
    }
}

/// The path to replace: a symbolic link is followed so that its target is replaced and the link
/// kept. Anything but a missing path or a writable regular file (a device, a FIFO, a folder, a
/// read-only file) is rejected, because the rename would silently put a file in its place.
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

void write_wav_unlabelled(const std::filesystem::path& requested_path, const MultichannelSignal& signal,
                          WavEncoding encoding) {
    validate_signal(signal);
    const std::filesystem::path path = replaceable_path(requested_path);
    const std::filesystem::path folder = folder_of(path);
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error)) {
        throw Error("cannot write it because the folder '" + folder.string() + "' does not exist; create the folder first");
    }

    std::filesystem::path temporary_path;
    const int descriptor = create_temporary_file(path, temporary_path);
    try {
        write_into(descriptor, signal, encoding);
        if (::close(descriptor) != 0) {
            throw Error("closing the temporary file failed (" + system_message(errno) + "); check the disk");
        }
    } catch (...) {
        ::close(descriptor);
        ::unlink(temporary_path.c_str());
        throw;
    }

    if (::rename(temporary_path.c_str(), path.c_str()) != 0) {
        const int rename_error = errno;
        ::unlink(temporary_path.c_str());
        throw Error("cannot put the written file in place (" + system_message(rename_error) +
                    "); check that the path is not a folder and that the folder is writable");
    }

    // Make the rename itself durable. A failure here leaves a complete file in place, so it is
    // not reported.
    const int folder_descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder_descriptor >= 0) {
        ::fsync(folder_descriptor);
        ::close(folder_descriptor);
    }
}

}  // namespace

void write_wav(const std::filesystem::path& path, const MultichannelSignal& signal, WavEncoding encoding) {
    try {
        write_wav_unlabelled(path, signal, encoding);
    } catch (const Error& error) {
        throw error.with_context("file '" + path.string() + "'");
    }
}

}  // namespace linetune::io
