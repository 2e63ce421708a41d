#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace linetune::io {

/// One chunk of a RIFF-family file as found on disk.
struct RiffChunk {
    std::string id;                       ///< four-character code ("fmt ", "data"); for W64 the GUID's first four bytes
    std::uint64_t offset = 0;             ///< file offset of the chunk header (its id)
    std::uint64_t declared_size = 0;      ///< payload size in bytes that the header (or the RF64 ds64 chunk) declares
    std::uint64_t available_size = 0;     ///< payload bytes actually present before the end of the file
    std::uint64_t payload_offset = 0;     ///< file offset of the first payload byte
};

/// Container and chunks of a RIFF, RIFX, RF64, BW64 or Sony Wave64 file, in file order.
struct RiffLayout {
    std::string form;                     ///< "RIFF", "RIFX", "RF64", "BW64" or "W64"
    std::string form_type;                ///< "WAVE" for audio; other RIFF forms ("AVI ") are listed too
    bool big_endian = false;              ///< true for RIFX
    std::uint64_t file_size_bytes = 0;
    std::vector<RiffChunk> chunks;
    std::vector<std::string> notes;       ///< irregularities found while walking (size mismatches, trailing bytes)
};

/// Walks the chunks of a RIFF-family file; throws Error when the file is not one.
RiffLayout read_riff_layout(const std::filesystem::path& path);

/// Chunks of a RIFF/RIFX/RF64/BW64/W64 file for diagnostics (odd sizes padded).
std::vector<RiffChunk> list_riff_chunks(const std::filesystem::path& path);

/// Sample encoding declared by a WAVE fmt chunk.
enum class WaveEncoding { pcm_unsigned, pcm_signed, ieee_float, other };

/// Decoded WAVE fmt chunk (WAVEFORMATEX, optionally WAVE_FORMAT_EXTENSIBLE).
struct WaveFormat {
    std::uint16_t format_tag = 0;         ///< wFormatTag as written (0xFFFE for extensible)
    std::uint16_t channels = 0;
    std::uint32_t sample_rate_hz = 0;
    std::uint32_t bytes_per_second = 0;
    std::uint16_t block_align_bytes = 0;
    std::uint16_t bits_per_sample = 0;
    bool extensible = false;
    std::optional<std::uint16_t> extension_size_bytes;  ///< cbSize, when the chunk has it
    std::uint16_t valid_bits_per_sample = 0;            ///< extensible only
    std::uint32_t channel_mask = 0;                     ///< extensible only
    std::optional<std::uint16_t> sub_format_tag;        ///< format tag inside a recognised sub-format GUID
    std::vector<std::string> notes;                     ///< deviations from the standard layout

    /// Format tag of the samples: the sub-format's for extensible, else format_tag.
    [[nodiscard]] std::optional<std::uint16_t> effective_format_tag() const;
    /// Sample encoding that effective_format_tag() and bits_per_sample imply.
    [[nodiscard]] WaveEncoding encoding() const;
};

/// Parses a fmt chunk payload; throws Error when it is shorter than the 16 bytes every fmt has.
WaveFormat parse_wave_format(std::span<const std::uint8_t> payload, bool big_endian = false);

/// Name of a WAVE format tag ("PCM", "IEEE float", "A-law", "extensible", or "0x0055").
std::string wave_format_tag_name(std::uint16_t format_tag);

}  // namespace linetune::io
