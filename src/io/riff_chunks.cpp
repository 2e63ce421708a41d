#include "linetune/io/riff_chunks.hpp"

#include "linetune/core/error.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <system_error>

// Layouts walked here:
// - RIFF (Microsoft/IBM Multimedia Programming Interface and Data Specifications 1.0, 1991):
//   "RIFF", u32 size of everything after this field, form type, then chunks of
//   {id[4], u32 size, payload, one pad byte when size is odd}. RIFX is the same in big-endian.
// - RF64 (EBU Tech 3306) and BW64 (ITU-R BS.2088): "RF64"/"BW64", u32 0xFFFFFFFF, "WAVE", then a
//   "ds64" chunk {u64 riff size, u64 data size, u64 sample count, u32 table length,
//   table of {id[4], u64 size}}. A chunk whose u32 size is 0xFFFFFFFF takes its size from ds64.
// - Sony Wave64: 16-byte GUIDs instead of four-character codes, u64 sizes that include the
//   24-byte chunk header, chunks aligned to 8 bytes. Each standard GUID starts with the
//   little-endian bytes of a four-character code ("fmt ", "data"), which becomes the chunk id.

namespace linetune::io {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t rf64_size_placeholder = 0xFFFFFFFF;

constexpr std::array<std::uint8_t, 16> w64_riff_guid = {0x72, 0x69, 0x66, 0x66, 0x2E, 0x91, 0xCF, 0x11,
                                                        0xA5, 0xD6, 0x28, 0xDB, 0x04, 0xC1, 0x00, 0x00};
// The last 12 bytes shared by Wave64's "wave", "fmt ", "data", "fact" and other chunk GUIDs.
constexpr std::array<std::uint8_t, 12> w64_guid_tail = {0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1,
                                                        0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A};
constexpr std::uint64_t w64_header_bytes = 24;

// Last 12 bytes of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT and the other subtypes whose first
// two bytes are a WAVE format tag (mmreg.h, ksmedia.h).
constexpr std::array<std::uint8_t, 12> ksdataformat_guid_tail = {0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
                                                                 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
// Last 12 bytes of the ambisonic B-format subtypes (00000001-0721-11d3-8644-c8c1ca000000 and
// 00000003-...), which the same first two bytes extend to PCM and IEEE float.
constexpr std::array<std::uint8_t, 12> ambisonic_guid_tail = {0x21, 0x07, 0xD3, 0x11, 0x86, 0x44,
                                                              0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00};

std::uint64_t read_unsigned(const std::uint8_t* bytes, std::size_t count, bool big_endian) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t index = big_endian ? i : count - 1 - i;
        value = (value << 8U) | bytes[index];
    }
    return value;
}

bool is_printable_code(const std::uint8_t* bytes) {
    return std::all_of(bytes, bytes + 4, [](std::uint8_t byte) { return byte >= 0x20 && byte <= 0x7E; });
}

std::string code_of(const std::uint8_t* bytes) { return {reinterpret_cast<const char*>(bytes), 4}; }

std::string hex_of(const std::uint8_t* bytes, std::size_t count) {
    std::string text;
    for (std::size_t i = 0; i < count; ++i) {
        std::array<char, 3> digits{};
        std::snprintf(digits.data(), digits.size(), "%02x", bytes[i]);
        text += digits.data();
    }
    return text;
}

class FileReader {
public:
    explicit FileReader(const std::filesystem::path& path) : stream_(path, std::ios::binary) {
        std::error_code error;
        size_bytes_ = std::filesystem::file_size(path, error);
        require(stream_.is_open() && !error, "cannot be opened for reading; check that it exists and is readable");
    }

    [[nodiscard]] std::uint64_t size_bytes() const { return size_bytes_; }

    // Reads up to count bytes at offset; fewer at the end of the file.
    Bytes read(std::uint64_t offset, std::size_t count) {
        const std::uint64_t end = std::min<std::uint64_t>(offset + count, size_bytes_);
        Bytes bytes(end > offset ? static_cast<std::size_t>(end - offset) : 0);
        stream_.clear();
        stream_.seekg(static_cast<std::streamoff>(offset));
        stream_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        require(static_cast<std::size_t>(stream_.gcount()) == bytes.size(), "read failed in the middle of the file");
        return bytes;
    }

private:
    std::ifstream stream_;
    std::uint64_t size_bytes_ = 0;
};

struct Ds64 {
    std::uint64_t riff_size = 0;
    std::uint64_t data_size = 0;
    std::map<std::string, std::uint64_t> table;
};

// Reads the ds64 chunk that must follow "RF64"/"BW64" + "WAVE".
Ds64 read_ds64(FileReader& reader, std::vector<std::string>& notes) {
    const Bytes header = reader.read(12, 8);
    if (header.size() < 8 || code_of(header.data()) != "ds64") {
        throw Error("RF64 file without the ds64 chunk that must follow its header; the header is damaged; re-export the file");
    }
    const std::uint64_t size = read_unsigned(header.data() + 4, 4, false);
    const Bytes payload = reader.read(20, static_cast<std::size_t>(std::min<std::uint64_t>(size, 1U << 20U)));
    if (payload.size() < 24) {
        throw Error("ds64 chunk is " + std::to_string(payload.size()) +
                    " bytes, shorter than the 24 bytes of its sizes; the header is damaged; re-export the file");
    }

    Ds64 ds64;
    ds64.riff_size = read_unsigned(payload.data(), 8, false);
    ds64.data_size = read_unsigned(payload.data() + 8, 8, false);
    const std::uint64_t table_length = payload.size() >= 28 ? read_unsigned(payload.data() + 24, 4, false) : 0;

    // Each table entry is {id[4], u64 size}: 12 bytes.
    for (std::uint64_t entry = 0; entry < table_length; ++entry) {
        const std::size_t entry_offset = 28 + static_cast<std::size_t>(entry) * 12;
        if (entry_offset + 12 > payload.size()) {
            notes.push_back("ds64 table declares " + std::to_string(table_length) + " entries but holds only " +
                            std::to_string(entry) + "; the rest were ignored");
            break;
        }
        ds64.table[code_of(payload.data() + entry_offset)] = read_unsigned(payload.data() + entry_offset + 4, 8, false);
    }
    return ds64;
}

struct WalkRules {
    std::uint64_t first_chunk_offset = 12;
    std::uint64_t header_bytes = 8;
    std::uint64_t alignment_bytes = 2;
    bool wave64 = false;
};

// Reads one chunk header at offset; false when the bytes there are not a chunk header.
bool read_chunk_header(FileReader& reader, const RiffLayout& layout, const WalkRules& rules,
                       const std::optional<Ds64>& ds64, std::uint64_t offset, RiffChunk& chunk) {
    const Bytes header = reader.read(offset, static_cast<std::size_t>(rules.header_bytes));
    chunk.offset = offset;
    chunk.payload_offset = offset + rules.header_bytes;

    if (rules.wave64) {
        const bool standard_guid = std::equal(w64_guid_tail.begin(), w64_guid_tail.end(), header.begin() + 4);
        const bool riff_guid = std::equal(w64_riff_guid.begin() + 4, w64_riff_guid.end(), header.begin() + 4);
        const bool named = (standard_guid || riff_guid) && is_printable_code(header.data());
        chunk.id = named ? code_of(header.data()) : hex_of(header.data(), 16);
        const std::uint64_t size_with_header = read_unsigned(header.data() + 16, 8, false);
        if (size_with_header < w64_header_bytes) {
            return false;
        }
        chunk.declared_size = size_with_header - w64_header_bytes;
        return true;
    }

    if (!is_printable_code(header.data())) {
        return false;
    }
    chunk.id = code_of(header.data());
    chunk.declared_size = read_unsigned(header.data() + 4, 4, layout.big_endian);

    if (ds64.has_value() && chunk.declared_size == rf64_size_placeholder) {
        if (chunk.id == "data") {
            chunk.declared_size = ds64->data_size;
        } else if (const auto entry = ds64->table.find(chunk.id); entry != ds64->table.end()) {
            chunk.declared_size = entry->second;
        }
    }
    return true;
}

void walk_chunks(FileReader& reader, RiffLayout& layout, const WalkRules& rules, const std::optional<Ds64>& ds64) {
    const std::uint64_t file_size = layout.file_size_bytes;
    std::uint64_t offset = rules.first_chunk_offset;

    while (offset + rules.header_bytes <= file_size) {
        RiffChunk chunk;
        if (!read_chunk_header(reader, layout, rules, ds64, offset, chunk)) {
            layout.notes.push_back(std::to_string(file_size - offset) + " bytes from offset " + std::to_string(offset) +
                                   " do not form a chunk and were ignored");
            return;
        }

        const std::uint64_t bytes_left = file_size - chunk.payload_offset;
        chunk.available_size = std::min(chunk.declared_size, bytes_left);
        layout.chunks.push_back(chunk);
        if (chunk.declared_size > bytes_left) {
            return;  // truncated: the callers compare declared_size with available_size
        }

        // Odd RIFF chunks are followed by a pad byte; Wave64 chunks start on 8-byte boundaries.
        const std::uint64_t remainder = chunk.declared_size % rules.alignment_bytes;
        const std::uint64_t padding = remainder == 0 ? 0 : rules.alignment_bytes - remainder;
        offset = chunk.payload_offset + chunk.declared_size + padding;
    }

    if (offset < file_size) {
        layout.notes.push_back(std::to_string(file_size - offset) + " trailing bytes at offset " +
                               std::to_string(offset) + " are too short for a chunk and were ignored");
    }
}

void note_size_mismatch(RiffLayout& layout, std::uint64_t declared_file_size) {
    if (declared_file_size != layout.file_size_bytes) {
        layout.notes.push_back("the " + layout.form + " header declares a file of " + std::to_string(declared_file_size) +
                               " bytes but the file has " + std::to_string(layout.file_size_bytes) +
                               " bytes; chunks were walked to the end of the file");
    }
}

RiffLayout read_riff_layout_unlabelled(const std::filesystem::path& path) {
    FileReader reader(path);
    RiffLayout layout;
    layout.file_size_bytes = reader.size_bytes();
    const Bytes start = reader.read(0, 40);

    if (start.size() >= 40 && std::equal(w64_riff_guid.begin(), w64_riff_guid.end(), start.begin())) {
        layout.form = "W64";
        const bool wave = code_of(start.data() + 24) == "wave" &&
                          std::equal(w64_guid_tail.begin(), w64_guid_tail.end(), start.begin() + 28);
        layout.form_type = wave ? "WAVE" : hex_of(start.data() + 24, 16);
        note_size_mismatch(layout, read_unsigned(start.data() + 16, 8, false));
        walk_chunks(reader, layout, WalkRules{40, w64_header_bytes, 8, true}, std::nullopt);
        return layout;
    }

    const std::string magic = start.size() >= 12 ? code_of(start.data()) : std::string();
    if (magic != "RIFF" && magic != "RIFX" && magic != "RF64" && magic != "BW64") {
        throw Error("not a RIFF, RIFX, RF64, BW64 or Wave64 file (it starts with bytes " +
                    hex_of(start.data(), std::min<std::size_t>(start.size(), 4)) + ")");
    }
    layout.form = magic;
    layout.big_endian = magic == "RIFX";
    layout.form_type = code_of(start.data() + 8);

    std::optional<Ds64> ds64;
    std::uint64_t declared_file_size = read_unsigned(start.data() + 4, 4, layout.big_endian) + 8;
    if (magic == "RF64" || magic == "BW64") {
        ds64 = read_ds64(reader, layout.notes);
        declared_file_size = ds64->riff_size + 8;
    }
    note_size_mismatch(layout, declared_file_size);
    walk_chunks(reader, layout, WalkRules{}, ds64);
    return layout;
}

std::uint16_t read_u16(std::span<const std::uint8_t> bytes, std::size_t offset, bool big_endian) {
    return static_cast<std::uint16_t>(read_unsigned(bytes.data() + offset, 2, big_endian));
}

std::uint32_t read_u32(std::span<const std::uint8_t> bytes, std::size_t offset, bool big_endian) {
    return static_cast<std::uint32_t>(read_unsigned(bytes.data() + offset, 4, big_endian));
}

// WAVE_FORMAT_EXTENSIBLE (mmreg.h): WAVEFORMATEX (18 bytes, cbSize = 22), then
// wValidBitsPerSample (u16), dwChannelMask (u32) and the SubFormat GUID (16 bytes): 40 bytes.
constexpr std::size_t extensible_fmt_bytes = 40;
constexpr std::uint16_t extensible_extension_bytes = 22;

void parse_extension(std::span<const std::uint8_t> payload, bool big_endian, WaveFormat& format) {
    const std::size_t size = payload.size();
    if (size < extensible_fmt_bytes) {
        format.notes.push_back("WAVE_FORMAT_EXTENSIBLE fmt chunk is " + std::to_string(size) +
                               " bytes, shorter than the 40 bytes it needs, so its sub-format GUID is missing");
        if (format.bits_per_sample == 8 || format.bits_per_sample == 16 || format.bits_per_sample == 24) {
            format.notes.push_back("samples taken as integer PCM, the only WAVE encoding with " +
                                   std::to_string(format.bits_per_sample) + "-bit samples");
        }
        return;
    }

    format.valid_bits_per_sample = read_u16(payload, 18, big_endian);
    format.channel_mask = read_u32(payload, 20, big_endian);
    const std::uint8_t* guid = payload.data() + 24;
    const bool tag_guid = std::equal(ksdataformat_guid_tail.begin(), ksdataformat_guid_tail.end(), guid + 4) ||
                          std::equal(ambisonic_guid_tail.begin(), ambisonic_guid_tail.end(), guid + 4);
    if (tag_guid && guid[2] == 0 && guid[3] == 0) {
        format.sub_format_tag = static_cast<std::uint16_t>(guid[0] | (guid[1] << 8U));
    } else {
        format.notes.push_back("unrecognised sub-format GUID " + hex_of(guid, 16));
    }

    if (format.extension_size_bytes != extensible_extension_bytes) {
        format.notes.push_back("fmt chunk's cbSize is " + std::to_string(*format.extension_size_bytes) +
                               " where WAVE_FORMAT_EXTENSIBLE needs 22; its fields were read at their standard offsets");
    }
    if (size > extensible_fmt_bytes) {
        format.notes.push_back("fmt chunk has " + std::to_string(size - extensible_fmt_bytes) +
                               " bytes after the standard 40; they were ignored");
    }
}

}  // namespace

RiffLayout read_riff_layout(const std::filesystem::path& path) {
    try {
        return read_riff_layout_unlabelled(path);
    } catch (const Error& error) {
        throw error.with_context("file '" + path.string() + "'");
    }
}

std::vector<RiffChunk> list_riff_chunks(const std::filesystem::path& path) { return read_riff_layout(path).chunks; }

std::optional<std::uint16_t> WaveFormat::effective_format_tag() const {
    if (!extensible) {
        return format_tag;
    }
    if (sub_format_tag.has_value()) {
        return sub_format_tag;
    }
    // A short extensible fmt lost its GUID; see parse_extension for why 8/16/24 bits mean PCM.
    const bool short_chunk = valid_bits_per_sample == 0 && channel_mask == 0;
    if (short_chunk && (bits_per_sample == 8 || bits_per_sample == 16 || bits_per_sample == 24)) {
        return std::uint16_t{1};
    }
    return std::nullopt;
}

WaveEncoding WaveFormat::encoding() const {
    const auto tag = effective_format_tag();
    if (tag == 1) {
        return bits_per_sample <= 8 ? WaveEncoding::pcm_unsigned : WaveEncoding::pcm_signed;
    }
    if (tag == 3) {
        return WaveEncoding::ieee_float;
    }
    return WaveEncoding::other;
}

WaveFormat parse_wave_format(std::span<const std::uint8_t> payload, bool big_endian) {
    // WAVEFORMAT (16 bytes): wFormatTag, nChannels, nSamplesPerSec, nAvgBytesPerSec,
    // nBlockAlign, wBitsPerSample; WAVEFORMATEX adds cbSize (u16) and cbSize extra bytes.
    if (payload.size() < 16) {
        throw Error("fmt chunk is " + std::to_string(payload.size()) +
                    " bytes, shorter than the 16 bytes every fmt chunk has; the header is damaged; re-export the file");
    }

    WaveFormat format;
    format.format_tag = read_u16(payload, 0, big_endian);
    format.channels = read_u16(payload, 2, big_endian);
    format.sample_rate_hz = read_u32(payload, 4, big_endian);
    format.bytes_per_second = read_u32(payload, 8, big_endian);
    format.block_align_bytes = read_u16(payload, 12, big_endian);
    format.bits_per_sample = read_u16(payload, 14, big_endian);
    if (payload.size() >= 18) {
        format.extension_size_bytes = read_u16(payload, 16, big_endian);
    }

    format.extensible = format.format_tag == 0xFFFE;
    if (format.extensible) {
        parse_extension(payload, big_endian, format);
    } else if (payload.size() > 18) {
        format.notes.push_back("fmt chunk is " + std::to_string(payload.size()) + " bytes where " +
                               wave_format_tag_name(format.format_tag) +
                               " needs 16 or 18; the extra bytes were ignored");
    }
    return format;
}

std::string wave_format_tag_name(std::uint16_t format_tag) {
    switch (format_tag) {
    case 0x0001: return "PCM";
    case 0x0002: return "Microsoft ADPCM";
    case 0x0003: return "IEEE float";
    case 0x0006: return "A-law";
    case 0x0007: return "mu-law";
    case 0x0011: return "IMA ADPCM";
    case 0x0031: return "GSM 6.10";
    case 0x0050: return "MPEG";
    case 0x0055: return "MPEG layer III";
    case 0xFFFE: return "extensible";
    default: break;
    }
    std::array<char, 8> text{};
    std::snprintf(text.data(), text.size(), "0x%04X", format_tag);
    return text.data();
}

}  // namespace linetune::io
