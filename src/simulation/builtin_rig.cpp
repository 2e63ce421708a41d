#include "linetune/simulation/builtin_rig.hpp"

#include "linetune/core/error.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <string>
#include <vector>

// The built-in compact arena
// --------------------------
// One venue, written once as the tables below, from which both the venue file (what linetune
// reads) and the rig model (what the simulation hears) are made, so the two cannot drift
// apart. The room is about 44 m deep, 32 m wide and 16 m high; the stage edge is at y = 0, the
// left hang L flies 7 m left of the centre line, and the audience floor ends at y = 36 m.
//
// Faults built in, each one a 10-band EQ, a delay or a gain can mostly fix:
// - the mains' low-frequency coupling (the boxes of a hang add up below about 200 Hz): a low
//   shelf of +3 to +4 dB;
// - two or three cabinet resonances per zone, ±3 to ±6 dB, Q 2 to 5;
// - high-frequency loss with distance (air absorption, added by the propagation model) and off
//   axis (the directivity model);
// - level differences between zones (sensitivities from −8 to +6 dB relative to each other);
// - subs 2 to 6 ms late against L-mid at the microphones that judge both, because they stand
//   under the stage lip behind the hang's line and their preset adds 4 ms of latency;
// - a delay tower 20 m out, which must be delayed by about 60 ms to arrive after the mains.

namespace linetune::simulation {
namespace {

using analysis::FilterType;
using analysis::ParametricBand;

// Q of the two sections of a 4th-order Butterworth filter: 1 / (2·cos(π/8)) and 1 / (2·cos(3π/8)).
constexpr double butterworth4_q_low = 0.5412;
constexpr double butterworth4_q_high = 1.3066;
constexpr double butterworth2_q = 0.7071;

// The virtual-amp profile's shape (hardware/virtual-amp.json): the initial state has as many
// channels and bands, and a test checks that the two agree.
constexpr std::size_t virtual_amp_channels = 8;
constexpr std::size_t virtual_amp_bands = 10;

constexpr double audience_ear_height_m = 1.2;  // seated or standing floor audience, microphone height

// Level from the amplifier output to the interface input at 1 m on axis, shared by every zone:
// loudspeaker, microphone and preamp gain together. It puts the loudest recording of a −6 dBFS
// sweep (the subs' low end, where the room's modes add up) near −12 dBFS, with headroom against
// clipping, as an engineer sets the preamps.
constexpr double measurement_gain_db = -12.0;

/// Makes the two sections of a 4th-order Butterworth high-pass, the low-frequency limit of a cabinet.
std::vector<ParametricBand> high_pass_4th_order(double freq_hz) {
    return {{FilterType::high_pass, freq_hz, 0.0, butterworth4_q_low},
            {FilterType::high_pass, freq_hz, 0.0, butterworth4_q_high}};
}

/// Makes the filters of a full-range box: a 4th-order high-pass, a 2nd-order low-pass at 18 kHz
/// (standing for the compression driver's limit), then the given coupling and resonances.
std::vector<ParametricBand> full_range_filters(double high_pass_hz, std::vector<ParametricBand> colouring) {
    auto filters = high_pass_4th_order(high_pass_hz);
    filters.push_back({FilterType::low_pass, 18000.0, 0.0, butterworth2_q});
    filters.insert(filters.end(), colouring.begin(), colouring.end());
    return filters;
}

/// A zone as the venue file names it and as the rig models it.
struct BuiltinZone {
    const char* name;
    const char* hang;
    const char* system;
    std::array<double, 2> fit_band_hz;
    bool polarity_reference;
    SourceModel source;
};

/// A measurement microphone or audience probe.
struct BuiltinPosition {
    ListeningPosition position;
    std::size_t input;  ///< 1-based interface input; 0 for a probe
};

std::vector<BuiltinZone> builtin_zones() {
    // Main axes aim at the ear height of the zone's audience: L-long at the back, L-mid at the
    // middle, L-near at the front rows. The hang's boxes are 7.6 to 10 m up.
    LoudspeakerModel long_throw;
    long_throw.filters = full_range_filters(45.0, {{FilterType::low_shelf, 180.0, 4.0, butterworth2_q},
                                                   {FilterType::peaking, 650.0, -4.0, 3.0},
                                                   {FilterType::peaking, 2500.0, 5.0, 4.0}});
    long_throw.sensitivity_db = 2.0 + measurement_gain_db;
    long_throw.beamwidth_1khz_deg = 60.0;
    long_throw.min_beamwidth_deg = 25.0;
    long_throw.directivity_factor = 12.0;

    LoudspeakerModel mid_throw;
    mid_throw.filters = full_range_filters(45.0, {{FilterType::low_shelf, 180.0, 4.0, butterworth2_q},
                                                  {FilterType::peaking, 320.0, 4.0, 3.0},
                                                  {FilterType::peaking, 1200.0, 5.0, 5.0},
                                                  {FilterType::peaking, 3500.0, -3.0, 2.5}});
    mid_throw.sensitivity_db = 0.0 + measurement_gain_db;
    mid_throw.beamwidth_1khz_deg = 70.0;
    mid_throw.min_beamwidth_deg = 30.0;
    mid_throw.directivity_factor = 10.0;

    LoudspeakerModel near_throw;
    near_throw.filters = full_range_filters(50.0, {{FilterType::low_shelf, 200.0, 3.0, butterworth2_q},
                                                   {FilterType::peaking, 900.0, -4.0, 4.0},
                                                   {FilterType::peaking, 4200.0, 6.0, 5.0}});
    near_throw.sensitivity_db = -4.0 + measurement_gain_db;
    near_throw.beamwidth_1khz_deg = 80.0;
    near_throw.min_beamwidth_deg = 40.0;
    near_throw.directivity_factor = 8.0;

    // Subs: a 4th-order high-pass at 28 Hz, a Linkwitz-Riley 4th-order low-pass at 95 Hz (two
    // Butterworth sections), a port resonance and a dip. They stand on the floor and radiate
    // into half space, hence the directivity factor 2.
    LoudspeakerModel subs;
    subs.filters = high_pass_4th_order(28.0);
    subs.filters.insert(subs.filters.end(), {{FilterType::low_pass, 95.0, 0.0, butterworth2_q},
                                             {FilterType::low_pass, 95.0, 0.0, butterworth2_q},
                                             {FilterType::peaking, 55.0, 5.0, 4.0},
                                             {FilterType::peaking, 75.0, -3.0, 3.0}});
    subs.sensitivity_db = 6.0 + measurement_gain_db;
    subs.latency_ms = 4.0;
    subs.omnidirectional = true;
    subs.directivity_factor = 2.0;

    LoudspeakerModel front_fill;
    front_fill.filters = full_range_filters(90.0, {{FilterType::peaking, 250.0, -3.0, 2.0},
                                                   {FilterType::peaking, 2000.0, 5.0, 3.0},
                                                   {FilterType::peaking, 8000.0, 3.0, 3.0}});
    front_fill.sensitivity_db = -5.0 + measurement_gain_db;
    front_fill.beamwidth_1khz_deg = 90.0;
    front_fill.min_beamwidth_deg = 60.0;
    front_fill.directivity_factor = 5.0;

    LoudspeakerModel tower;
    tower.filters = full_range_filters(55.0, {{FilterType::peaking, 160.0, 3.0, 2.0},
                                              {FilterType::peaking, 1600.0, 4.0, 3.0},
                                              {FilterType::peaking, 5000.0, -5.0, 4.0}});
    tower.sensitivity_db = -2.0 + measurement_gain_db;
    tower.beamwidth_1khz_deg = 70.0;
    tower.min_beamwidth_deg = 35.0;
    tower.directivity_factor = 10.0;

    const double ear = audience_ear_height_m;
    return {
        {"L-long", "L", "mains", {60.0, 16000.0}, true, {"L-long", {-7.0, 0.0, 10.0}, {-7.0, 36.0, ear}, long_throw}},
        {"L-mid", "L", "mains", {60.0, 16000.0}, false, {"L-mid", {-7.0, 0.0, 8.8}, {-7.0, 20.0, ear}, mid_throw}},
        {"L-near", "L", "mains", {60.0, 16000.0}, false, {"L-near", {-7.0, 0.0, 7.6}, {-7.0, 8.0, ear}, near_throw}},
        {"subs", "", "subs", {30.0, 120.0}, false, {"subs", {-4.0, -1.5, 0.6}, {-4.0, 20.0, 0.6}, subs}},
        {"front-fill", "", "fills", {100.0, 16000.0}, false,
         {"front-fill", {-2.5, 0.5, 1.1}, {-3.5, 6.0, ear}, front_fill}},
        {"delay-tower", "", "delay_towers", {60.0, 16000.0}, false,
         {"delay-tower", {-7.0, 20.0, 7.0}, {-7.0, 36.0, ear}, tower}},
    };
}

std::vector<BuiltinPosition> builtin_microphones() {
    const double ear = audience_ear_height_m;
    return {
        {{"front-left", {-4.5, 5.0, ear}, {{"front-fill", 1.0}, {"L-near", 1.0}, {"subs", 0.5}}}, 1},
        {{"near-left", {-8.0, 9.0, ear}, {{"front-fill", 0.5}, {"L-near", 1.0}, {"L-mid", 0.5}, {"subs", 1.0}}}, 2},
        {{"mid-centre", {-3.0, 16.0, ear}, {{"L-mid", 1.0}, {"subs", 1.0}}}, 3},
        {{"mid-left", {-10.0, 21.0, ear}, {{"L-mid", 1.0}, {"L-long", 0.5}, {"subs", 1.0}}}, 4},
        {{"rear-left", {-6.0, 29.0, ear}, {{"L-long", 1.0}, {"delay-tower", 1.0}}}, 5},
        {{"back-left", {-9.0, 35.0, ear}, {{"L-long", 1.0}, {"delay-tower", 1.0}}}, 6},
    };
}

std::vector<ListeningPosition> builtin_probes() {
    const double ear = audience_ear_height_m;
    return {
        {"probe-front", {-6.0, 3.5, ear}, {{"front-fill", 1.0}, {"L-near", 1.0}}},
        {"probe-mid", {-6.0, 13.0, ear}, {{"L-mid", 1.0}, {"subs", 1.0}}},
        {"probe-rear", {-4.0, 32.0, ear}, {{"L-long", 1.0}, {"delay-tower", 1.0}}},
    };
}

RoomModel builtin_room() {
    RoomModel room;
    // Ten measured responses: both capsules of the omni pair at the five warehouse positions.
    for (const char* name : {"omni-7-4", "omni-8-14", "omni-15-10", "omni-25-12", "omni-35-10"}) {
        for (std::size_t channel = 1; channel <= 2; ++channel) {
            room.impulse_responses.push_back({std::filesystem::path("warehouse") / (std::string(name) + ".wav"), channel});
        }
    }
    room.volume_m3 = 22000.0;          // 44 m × 32 m × 16 m
    room.reverberation_time_s = 2.5;   // broadband T30 of the warehouse responses (linetune analyze: 2.51 s)
    room.tail_s = 0.8;                 // −19 dB of reverberant decay at 2.5 s T60; keeps passes short
    room.fade_out_s = 0.2;
    return room;
}

constexpr std::size_t zone_output(std::size_t zone_index) { return zone_index + 1; }
constexpr std::size_t loopback_channel = 8;  // output 8 is wired to input 8

}  // namespace

RigModel builtin_rig() {
    RigModel rig;
    rig.name = builtin_venue_name;
    rig.temperature_c = 20.0;
    rig.humidity_percent = 50.0;
    rig.room = builtin_room();
    for (const auto& zone : builtin_zones()) {
        rig.sources.push_back(zone.source);
    }
    for (const auto& mic : builtin_microphones()) {
        rig.microphones.push_back(mic.position);
    }
    rig.probes = builtin_probes();
    return rig;
}

std::string builtin_venue_json(std::uint16_t amplifier_port) {
    if (amplifier_port == 0) {
        throw Error("built-in venue: amplifier port 0 is invalid; give the virtual amplifier's bound port (1 to 65535)",
                    ErrorKind::configuration);
    }
    const RigModel rig = builtin_rig();
    nlohmann::ordered_json venue;
    venue["name"] = builtin_venue_name;
    venue["description"] = "linetune's built-in simulated compact arena: hang L in three zones, ground subs, "
                           "a front fill and a delay tower on one virtual amplifier";
    venue["max_distance_m"] = 40;
    venue["temperature_c"] = rig.temperature_c;
    venue["humidity_percent"] = rig.humidity_percent;
    venue["target"] = {{"type", "tilt"}, {"tilt_db_per_octave", -0.5}, {"pivot_hz", 1000}};
    venue["audio_interface"] = {{"sample_rate_hz", 48000},
                                {"loopback", {{"output", loopback_channel}, {"input", loopback_channel}}}};
    venue["amplifiers"] = nlohmann::ordered_json::array(
        {{{"name", "amp-1"}, {"profile", "virtual-amp"}, {"host", "127.0.0.1"}, {"port", amplifier_port}}});

    auto zones = nlohmann::ordered_json::array();
    const auto zone_table = builtin_zones();
    for (std::size_t i = 0; i < zone_table.size(); ++i) {
        const auto& zone = zone_table[i];
        nlohmann::ordered_json item;
        item["name"] = zone.name;
        if (*zone.hang != '\0') {
            item["hang"] = zone.hang;
        }
        item["system"] = zone.system;
        item["amplifier"] = "amp-1";
        item["channel"] = i + 1;
        item["output"] = zone_output(i);
        item["fit_band_hz"] = {zone.fit_band_hz[0], zone.fit_band_hz[1]};
        if (zone.polarity_reference) {
            item["polarity_reference"] = true;
        }
        zones.push_back(item);
    }
    venue["zones"] = zones;

    auto microphones = nlohmann::ordered_json::array();
    for (const auto& mic : builtin_microphones()) {
        nlohmann::ordered_json item;
        item["name"] = mic.position.name;
        item["input"] = mic.input;
        item["position_m"] = mic.position.position_m;
        item["zones"] = mic.position.zone_weights;
        microphones.push_back(item);
    }
    venue["microphones"] = microphones;
    return venue.dump(2) + "\n";
}

AmplifierState builtin_initial_amplifier_state() {
    return neutral_amplifier_state(virtual_amp_channels, virtual_amp_bands);
}

}  // namespace linetune::simulation
