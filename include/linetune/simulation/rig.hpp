#pragma once

#include "linetune/analysis/biquad.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace linetune::simulation {

/// A point in the venue in metres: x across the room (positive to the right seen from the
/// stage), y away from the stage into the audience, z up from the floor.
using Point3 = std::array<double, 3>;

/// Acoustic model of the boxes of one zone, as its amplifier channel drives them.
struct LoudspeakerModel {
    /// Band limits, coupling and resonances as parametric filters at the model's sample rate,
    /// applied in this order (minimum phase, like the boxes they stand for).
    std::vector<analysis::ParametricBand> filters;
    /// On-axis level at 1 m at the interface input re the amplifier output (box sensitivity,
    /// microphone and preamp gain together), before the filters.
    double sensitivity_db = 0.0;
    double latency_ms = 0.0;      ///< processing delay of the boxes' own preset, added to the travel time
    bool omnidirectional = false; ///< true: no off-axis loss at any frequency (subwoofers)
    double beamwidth_1khz_deg = 90.0;  ///< −6 dB coverage angle at 1 kHz (full angle)
    double min_beamwidth_deg = 40.0;   ///< narrowest coverage, reached at high frequencies
    /// Directivity factor Q (on-axis intensity over the mean over all directions); sets how far
    /// the direct sound dominates the room's reverberation (the critical distance).
    double directivity_factor = 1.0;
};

/// The boxes of one zone: where they are, where they point and how they sound.
struct SourceModel {
    std::string zone;      ///< name of the zone in the venue file
    Point3 position_m{};   ///< acoustic centre
    Point3 aim_m{};        ///< point on the main axis
    LoudspeakerModel loudspeaker;
};

/// A listening position: a measurement microphone of the venue, or an audience probe.
struct ListeningPosition {
    std::string name;  ///< for microphones, the microphone's name in the venue file
    Point3 position_m{};
    std::map<std::string, double> zone_weights;  ///< zones that cover the position, as in the venue file
};

/// One channel of a measured room impulse response file.
struct RoomResponseSource {
    std::filesystem::path file;  ///< relative to the simulation data folder
    std::size_t channel = 1;     ///< 1-based
};

/// The room: measured impulse responses that give the reflections, and the size that sets
/// their level against the direct sound.
struct RoomModel {
    /// Measured responses; the pair (zone i, position j) uses entry (3·j + i) mod count, so
    /// neighbouring pairs hear different measurements. The assignment is not physical.
    std::vector<RoomResponseSource> impulse_responses;
    double volume_m3 = 10000.0;
    double reverberation_time_s = 2.0;  ///< T60 of the measured responses, for the critical distance
    double tail_s = 0.8;                ///< room response kept after the direct sound
    double fade_out_s = 0.2;            ///< half-Hann fade at the end of the kept tail
};

/// A loudspeaker rig in a room: the zones' sources, the measurement positions, audience probes
/// that the venue does not list (to check positions not used for fitting) and the air.
struct RigModel {
    std::string name;
    double temperature_c = 20.0;
    double humidity_percent = 50.0;
    RoomModel room;
    std::vector<SourceModel> sources;
    std::vector<ListeningPosition> microphones;  ///< same names as the venue's microphones
    std::vector<ListeningPosition> probes;       ///< audience positions not in the venue
};

/// Distance in metres between two points.
double distance_m(const Point3& from, const Point3& to);

/// Angle in degrees between a source's main axis and the direction to a point (0 on axis).
double off_axis_angle_deg(const SourceModel& source, const Point3& point);

}  // namespace linetune::simulation
