#include "linetune/io/wav_writer.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/audio_file.hpp"

#include "atomic_file.hpp"

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

// Writes the WAV into an open descriptor; the descriptor stays open.
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
}

void write_wav_unlabelled(const std::filesystem::path& path, const MultichannelSignal& signal, WavEncoding encoding) {
    validate_signal(signal);
    AtomicFileReplacement replacement(path);
    write_into(replacement.descriptor(), signal, encoding);
    replacement.commit();
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
