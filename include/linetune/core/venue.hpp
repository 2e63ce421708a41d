#pragma once

#include "linetune/core/frequency_response.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace linetune {

/// Parametric filter shape an amplifier's EQ bank offers (the same five names as analysis::FilterType).
enum class FilterKind { peaking, low_shelf, high_shelf, high_pass, low_pass };

/// Name of a filter kind as written in JSON ("peaking", "low_shelf", ...).
std::string_view to_string(FilterKind kind);

/// Filter kind for a name that to_string returns; empty for any other text.
std::optional<FilterKind> parse_filter_kind(std::string_view text);

/// Allowed values of one device parameter: min to max in steps of step (0 = continuous).
struct Range {
    double min = 0.0;
    double max = 0.0;
    double step = 0.0;

    /// True when value lies in [min, max].
    [[nodiscard]] bool contains(double value) const { return value >= min && value <= max; }
};

/// Maximum and step of a delay line, in milliseconds.
struct DelayRange {
    double max = 0.0;
    double step = 0.0;  ///< 0 = continuous
};

/// Capabilities of a channel's parametric EQ bank that linetune may use.
struct EqCapabilities {
    std::size_t max_bands = 0;             ///< bands linetune may set; presets, crossovers and limiters stay untouched
    std::vector<FilterKind> filter_types;  ///< shapes offered, in the profile's order
    Range freq_hz;
    Range gain_db;
    Range q;

    /// True when the bank offers this filter kind.
    [[nodiscard]] bool offers(FilterKind kind) const;
};

/// Per-channel limits of an amplifier: EQ bank, delay line and output gain.
struct ChannelLimits {
    EqCapabilities eq;
    DelayRange delay_ms;
    Range gain_db;
};

/// An amplifier or DSP model as described by a hardware/<name>.json profile.
struct DeviceProfile {
    std::string name;              ///< file stem of the profile
    std::string description;
    std::string verified_against;  ///< real device or peer it was checked with, or "unverified"
    std::size_t channel_count = 0;
    double sample_rate_hz = 0.0;   ///< DSP sample rate
    double latency_ms = 0.0;       ///< input-to-output latency of the DSP path
    ChannelLimits limits;
    std::string control_json;      ///< the "control" object as compact JSON text, empty when absent
};

/// Target curve the tuning aims each zone's response at.
struct TargetCurve {
    enum class Kind { flat, tilt, curve };

    Kind kind = Kind::flat;
    double tilt_db_per_octave = 0.0;  ///< tilt only
    double pivot_hz = 1000.0;         ///< tilt only: frequency where the tilt passes 0 dB
    std::filesystem::path file;       ///< curve only: the curve file, resolved against the venue file
    FrequencyResponse curve;          ///< curve only: magnitude_db over freq_hz as read from the file
};

/// Frequency interval [low_hz, high_hz].
struct FrequencyBand {
    double low_hz = 0.0;
    double high_hz = 0.0;
};

/// One amplifier of the venue and the limits linetune may use on it.
struct Amplifier {
    std::string name;
    std::string profile_name;
    DeviceProfile profile;
    ChannelLimits limits;  ///< effective limits: the profile's, tightened by the venue's "limits"
    std::string host;      ///< control address (IP or name); empty: not reachable, export only
    std::uint16_t port = 0;  ///< control port; 0 when host is empty
};

/// A 1-based output of the audio interface wired straight back to a 1-based input.
struct LoopbackRoute {
    std::size_t output = 0;
    std::size_t input = 0;
};

/// The measurement audio interface as the venue uses it.
struct AudioInterfaceSetup {
    double sample_rate_hz = 48000.0;
    std::optional<LoopbackRoute> loopback;  ///< absolute time base; without it timing is relative only
    std::optional<double> room_t60_s;  ///< the room's estimated reverberation time; each sweep's tail is at least this
};

/// How a zone's microphone responses are combined into its spatial average.
enum class SpatialAveraging {
    quality_weighted,  ///< power average weighted per point by mic weight, peak-to-noise ratio and coherence
    power,             ///< power average weighted by mic weight
    decibel,           ///< mean of the dB values weighted by mic weight
};

/// Name of an averaging method as written in the venue file.
std::string_view to_string(SpatialAveraging averaging);

/// A group of boxes on one amplifier channel, tuned as one.
struct Zone {
    std::string name;
    std::string hang;               ///< flown array or side the zone belongs to ("L"), may be empty
    std::string system;             ///< mains, subs, fills, delay_towers or a free name
    std::string amplifier;          ///< name of an Amplifier of the venue
    std::size_t channel = 0;        ///< 1-based output channel of the amplifier
    std::size_t output = 0;         ///< 1-based audio-interface output that feeds the zone's amplifier input
    FrequencyBand fit_band_hz;      ///< band the EQ fit is judged in
    double level_offset_db = 0.0;   ///< target level relative to the venue target
    double max_boost_db = 0.0;      ///< largest EQ boost the fit may apply
    double precedence_ms = 0.0;     ///< how long after the mains this zone's sound should arrive
    bool polarity_reference = false;  ///< the zone whose polarity the others are matched to
    SpatialAveraging averaging = SpatialAveraging::quality_weighted;
};

/// A measurement microphone position and the zones it judges.
struct Microphone {
    std::string name;
    std::size_t input = 0;                         ///< 1-based input of the audio interface
    std::filesystem::path calibration_file;        ///< resolved path, empty when none
    std::optional<FrequencyResponse> calibration;  ///< deviation from flat read from calibration_file
    std::optional<std::array<double, 3>> position_m;  ///< x, y, z
    std::map<std::string, double> zone_weights;    ///< zone name to weight >= 0
    std::optional<double> sensitivity_dbfs;  ///< RMS level at its input for 94 dB SPL (a calibrator's tone)
};

/// Location of one (zone, microphone) measurement, from the venue's explicit map.
struct MeasurementSource {
    std::filesystem::path file;           ///< resolved against the venue file's folder
    std::optional<std::size_t> channel;   ///< 1-based channel of a multichannel file ("#2")
};

/// Limits every push is checked against before anything is sent; only the venue file changes
/// them, and no command-line flag skips them.
struct PushSafetyLimits {
    double max_gain_increase_db = 3.0;  ///< per zone, new output gain against the snapshot
    double max_band_boost_db = 6.0;     ///< largest gain of any one EQ band
    double max_total_boost_db = 6.0;    ///< largest sum of the EQ at any frequency
    double delay_margin_ms = 5.0;       ///< allowed above max_distance_m / c (latency, precedence offsets)
};

/// Settings that tune the rig as one system: subs aligned to the mains, the coupling of a hang's
/// zones and the level across the audience.
struct SystemTuningSetup {
    /// Microphones (one, or an area) where the subs are aligned to the mains by phase. Empty means
    /// every microphone that weights a subs zone and a mains zone above 0.
    std::vector<std::string> alignment_mics;
    std::optional<double> crossover_hz;  ///< subs-to-mains crossover; empty: where their levels meet
    double coupling_below_hz = 200.0;    ///< below it a hang's zones get one EQ curve in the joint fit; 0: off
    std::optional<double> level_drop_db_per_doubling;  ///< target level drop with distance; empty: no shading
};

/// A venue file: the amplifiers, zones, microphones and target of one tuning job.
struct Venue {
    std::string name;
    std::filesystem::path file;  ///< the venue file it was read from
    double max_distance_m = 0.0;
    double temperature_c = 20.0;  ///< 20 °C when the file does not give it
    std::optional<double> humidity_percent;
    TargetCurve target;
    AudioInterfaceSetup audio_interface;
    PushSafetyLimits safety;
    SystemTuningSetup system;
    std::vector<Amplifier> amplifiers;
    std::vector<Zone> zones;
    std::vector<Microphone> microphones;
    std::map<std::string, std::map<std::string, MeasurementSource>> measurements;  ///< zone, microphone
};

/// Target magnitude in dB at freq_hz: 0 (flat), the tilt line, or the interpolated curve.
double target_db(const Venue& venue, double freq_hz);

/// Target of one zone at freq_hz: target_db plus the zone's level_offset_db.
double target_db(const Venue& venue, const Zone& zone, double freq_hz);

/// The amplifier that drives the zone; throws Error when the venue has none of that name.
const Amplifier& amplifier_of(const Venue& venue, const Zone& zone);

/// The zone of that name; throws Error when there is none.
const Zone& find_zone(const Venue& venue, std::string_view zone_name);

/// Largest delay linetune may set on the zone's channel: max_distance_m / c + profile latency,
/// capped by the channel's delay range.
double max_zone_delay_ms(const Venue& venue, const Zone& zone);

/// Measurement file of a zone and microphone: the venue's explicit map entry, else the first of
/// DIR/<zone>/<mic>.wav, .txt, .csv that exists, else the .wav path.
std::filesystem::path measurement_path(const Venue& venue, std::string_view zone_name,
                                       std::string_view mic_name, const std::filesystem::path& dir);

/// 1-based channel the explicit map names for the zone and microphone ("file.wav#2").
/// Empty when the map names none, and then every channel of the file is the measurement.
std::optional<std::size_t> measurement_channel(const Venue& venue, std::string_view zone_name,
                                               std::string_view mic_name);

}  // namespace linetune
