#include "linetune/core/venue.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>

namespace linetune {

std::string_view to_string(SpatialAveraging averaging) {
    switch (averaging) {
    case SpatialAveraging::quality_weighted: return "quality_weighted";
    case SpatialAveraging::power: return "power";
    case SpatialAveraging::decibel: return "decibel";
    }
    return "quality_weighted";
}

namespace {

struct FilterKindName {
    FilterKind kind;
    std::string_view name;
};

constexpr std::array<FilterKindName, 5> filter_kind_names{{
    {FilterKind::peaking, "peaking"},
    {FilterKind::low_shelf, "low_shelf"},
    {FilterKind::high_shelf, "high_shelf"},
    {FilterKind::high_pass, "high_pass"},
    {FilterKind::low_pass, "low_pass"},
}};

const MeasurementSource* find_measurement_source(const Venue& venue, std::string_view zone_name,
                                                 std::string_view mic_name) {
    const auto zone = venue.measurements.find(std::string(zone_name));
    if (zone == venue.measurements.end()) {
        return nullptr;
    }
    const auto mic = zone->second.find(std::string(mic_name));
    return mic == zone->second.end() ? nullptr : &mic->second;
}

}  // namespace

std::string_view to_string(FilterKind kind) {
    for (const auto& entry : filter_kind_names) {
        if (entry.kind == kind) {
            return entry.name;
        }
    }
    return "unknown";
}

std::optional<FilterKind> parse_filter_kind(std::string_view text) {
    for (const auto& entry : filter_kind_names) {
        if (entry.name == text) {
            return entry.kind;
        }
    }
    return std::nullopt;
}

bool EqCapabilities::offers(FilterKind kind) const {
    return std::find(filter_types.begin(), filter_types.end(), kind) != filter_types.end();
}

// Tilt target: T(f) = tilt_db_per_octave · log2(f / pivot_hz), so the line passes 0 dB at the
// pivot and falls (for a negative tilt) by the stated amount per doubling of frequency. A curve
// target is interpolated linearly in dB over log frequency and held flat beyond its ends. The
// venue reader rejects a curve that does not cover every zone's fit band, so the held ends are
// never inside a band that is fitted.
double target_db(const Venue& venue, double freq_hz) {
    const auto& target = venue.target;
    switch (target.kind) {
    case TargetCurve::Kind::flat:
        return 0.0;
    case TargetCurve::Kind::tilt:
        return target.tilt_db_per_octave * std::log2(freq_hz / target.pivot_hz);
    case TargetCurve::Kind::curve:
        return interpolate_magnitude_db(target.curve, freq_hz);
    }
    return 0.0;
}

double target_db(const Venue& venue, const Zone& zone, double freq_hz) {
    return target_db(venue, freq_hz) + zone.level_offset_db;
}

const Amplifier& amplifier_of(const Venue& venue, const Zone& zone) {
    for (const auto& amplifier : venue.amplifiers) {
        if (amplifier.name == zone.amplifier) {
            return amplifier;
        }
    }
    throw Error("zone '" + zone.name + "': amplifier '" + zone.amplifier +
                    "' is not in venue '" + venue.name + "'; add it to \"amplifiers\" or fix the zone",
                ErrorKind::configuration);
}

const Zone& find_zone(const Venue& venue, std::string_view zone_name) {
    for (const auto& zone : venue.zones) {
        if (zone.name == zone_name) {
            return zone;
        }
    }
    throw Error("zone '" + std::string(zone_name) + "' is not in venue '" + venue.name +
                    "'; use a zone name from its \"zones\" list",
                ErrorKind::configuration);
}

// No alignment delay is larger than the time sound takes to cross the venue's largest
// source-to-listener distance, plus the DSP latency another amplifier may need to be matched to.
// A fitted delay above that bound comes from a wrong arrival (a reflection or a wrapped impulse
// response), not from geometry.
double max_zone_delay_ms(const Venue& venue, const Zone& zone) {
    const auto& amplifier = amplifier_of(venue, zone);
    const double travel_ms = 1000.0 * venue.max_distance_m / speed_of_sound_m_per_s(venue.temperature_c);
    return std::min(travel_ms + amplifier.profile.latency_ms, amplifier.limits.delay_ms.max);
}

std::filesystem::path measurement_path(const Venue& venue, std::string_view zone_name,
                                       std::string_view mic_name, const std::filesystem::path& dir) {
    if (const auto* source = find_measurement_source(venue, zone_name, mic_name)) {
        return source->file;
    }

    const auto stem = dir / std::string(zone_name) / std::string(mic_name);
    for (const char* extension : {".wav", ".txt", ".csv"}) {
        auto candidate = stem;
        candidate += extension;
        if (std::filesystem::exists(candidate)) {
            return candidate;
        }
    }
    auto wav = stem;
    wav += ".wav";
    return wav;
}

std::optional<std::size_t> measurement_channel(const Venue& venue, std::string_view zone_name,
                                               std::string_view mic_name) {
    if (const auto* source = find_measurement_source(venue, zone_name, mic_name)) {
        return source->channel;
    }
    return std::nullopt;
}

}  // namespace linetune
