#include "linetune/simulation/transfer_functions.hpp"

#include "linetune/analysis/air_absorption.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/minimum_phase.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"
#include "linetune/simulation/amplifier_dsp.hpp"

#include "room_response.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

// Transfer function of a zone at a listening position
// ---------------------------------------------------
// Built on the bins f_k = k·fs/N of one N-point FFT and transformed back:
//
//     H(f) = S(f) · e^(−j2πf·τ) · [ (1/r) · 10^(−α(f)·r/20) · D(f, θ) · B(f)  +  g_rev · R(f) ]
//
// - S(f): the loudspeaker model, 10^(sensitivity_db/20) times its biquads' exact responses
//   (minimum phase, like the boxes);
// - τ = r / c + the loudspeaker's latency, with c = 331.3·√(1 + T/273.15) m/s: the delay is
//   applied as a linear phase, so the direct sound arrives at τ with sub-sample precision;
// - 1/r: spherical spreading, −6 dB per doubling of distance (r in metres, 0 dB at 1 m);
// - α(f): ISO 9613-1 pure-tone attenuation of the air in dB/m at the rig's temperature and
//   humidity (analysis/air_absorption);
// - D(f, θ): off-axis loss of a Gaussian main lobe, x = 6·(θ / (w(f)/2))² dB, where the −6 dB
//   coverage w(f) falls as beamwidth_1khz_deg·√(1000/f) and is bounded smoothly below by
//   min_beamwidth_deg and above by 360°. The loss saturates smoothly at 24 dB,
//   24·(1 − e^(−x/24)), a stand-in for the side and rear lobes this model does not have. The
//   smooth bounds keep the response free of kinks that would ring. D is minimum phase, so the
//   off-axis sound never precedes the on-axis arrival;
// - B(f): the model's band limit, 1 up to 20 kHz and a raised cosine to 0 at 23.5 kHz, so the
//   delayed direct sound is a band-limited pulse that rings little;
// - R(f): a measured room response whose direct sound is cut out (room_response.cpp), so its
//   reflections follow the modelled arrival, and g_rev scales them to the room's diffuse level.
//
// Air absorption and the band limit are applied as zero-phase magnitudes: the speed of sound
// does not depend on frequency here (the dispersion of air is not modelled), which keeps the
// direct sound's envelope peak exactly at τ. Both are smooth in frequency, so their symmetric
// ringing before τ is weak: in the built-in rig, less than −60 dB of a response's energy lies
// more than 1 ms before τ.
//
// Level of the reflections. In a diffuse field the reverberant energy is the same everywhere in
// the room, while the direct sound's falls as 1/r². They are equal at the critical distance
// r_c = √(Q·A / (16π)), with A = 0.161·V / T60 the equivalent absorption area from Sabine's
// formula and Q the source's directivity factor. With the reflections R scaled to unit energy
// of the measured direct sound (so their energy is the measurement's reverberant-to-direct ratio
// E), g_rev = 1 / (r_c·√E) gives them the energy 1/r_c², which equals the direct sound's 1/r² at r_c.

namespace linetune::simulation {
namespace {

constexpr double band_limit_start_hz = 20000.0;   // top of the swept band; flat up to here
constexpr double band_limit_stop_fraction = 0.98;  // of Nyquist: 23.52 kHz at 48 kHz
constexpr double max_off_axis_loss_db = 24.0;
constexpr double sabine_constant_s_per_m = 0.161;   // A = 0.161·V / T60 (Sabine, SI units)
constexpr double min_source_distance_m = 0.5;       // closer than this a box is no point source
constexpr double loudspeaker_ringing_s = 0.05;      // kept after the room tail for the filters' decay
// Extra FFT length beyond the kept response, so that the decay of the filters and the
// pre-ringing of the zero-phase factors wrap into samples that are discarded. The slowest filter
// of the built-in rig, the subs' 28 Hz high-pass (Q 1.31), decays by 60 dB in about 0.1 s.
constexpr double wrap_guard_s = 0.5;
constexpr double prediction_ringing_s = 0.5;        // after length() and the channel delay: the EQ's decay

double raised_cosine(double fraction) { return 0.5 - 0.5 * std::cos(pi * fraction); }

/// Off-axis loss D(f, θ) in dB (zero or negative), see the header comment.
double off_axis_db(const LoudspeakerModel& loudspeaker, double freq_hz, double angle_deg) {
    if (loudspeaker.omnidirectional || angle_deg <= 0.0) {
        return 0.0;
    }
    const double falling_deg = freq_hz > 0.0 ? loudspeaker.beamwidth_1khz_deg * std::sqrt(1000.0 / freq_hz)
                                             : std::numeric_limits<double>::infinity();
    // Smooth bounds: √(w² + w_min²) ≥ w_min, then 1/√(1/w² + 1/360²) ≤ 360°.
    const double bounded_below_deg = std::hypot(falling_deg, loudspeaker.min_beamwidth_deg);
    const double beamwidth_deg = 1.0 / std::hypot(1.0 / bounded_below_deg, 1.0 / 360.0);
    const double ratio = angle_deg / (beamwidth_deg / 2.0);
    const double gaussian_db = 6.0 * ratio * ratio;
    return -max_off_axis_loss_db * (1.0 - std::exp(-gaussian_db / max_off_axis_loss_db));
}

double band_limit(double freq_hz, double sample_rate_hz) {
    const double stop_hz = band_limit_stop_fraction * sample_rate_hz / 2.0;
    const double start_hz = std::min(band_limit_start_hz, 0.9 * stop_hz);
    if (freq_hz <= start_hz) {
        return 1.0;
    }
    if (freq_hz >= stop_hz) {
        return 0.0;
    }
    return raised_cosine((stop_hz - freq_hz) / (stop_hz - start_hz));
}

/// Minimum-phase D(f, θ) on the bins of an fft_size-point FFT; all ones on the axis.
std::vector<std::complex<double>> off_axis_response(const LoudspeakerModel& loudspeaker,
                                                    std::span<const double> freqs_hz, double angle_deg,
                                                    std::size_t fft_size) {
    std::vector<double> magnitude(freqs_hz.size());
    bool flat = true;
    for (std::size_t k = 0; k < freqs_hz.size(); ++k) {
        magnitude[k] = amplitude_from_db(off_axis_db(loudspeaker, freqs_hz[k], angle_deg));
        flat = flat && magnitude[k] == 1.0;
    }
    if (flat) {
        return std::vector<std::complex<double>>(freqs_hz.size(), 1.0);
    }
    return analysis::minimum_phase_spectrum(magnitude, fft_size);
}

/// Loudspeaker model S(f) on the bins.
std::vector<std::complex<double>> loudspeaker_response(const SourceModel& source, std::span<const double> freqs_hz,
                                                       double sample_rate_hz) {
    std::vector<analysis::BiquadCoefficients> biquads;
    for (const auto& filter : source.loudspeaker.filters) {
        try {
            biquads.push_back(analysis::design_biquad(filter, sample_rate_hz));
        } catch (const Error& error) {
            throw error.with_context("simulated zone '" + source.zone + "': loudspeaker model");
        }
    }
    const double gain = amplitude_from_db(source.loudspeaker.sensitivity_db);
    std::vector<std::complex<double>> response(freqs_hz.size());
    for (std::size_t k = 0; k < freqs_hz.size(); ++k) {
        std::complex<double> value = gain;
        for (const auto& biquad : biquads) {
            value *= analysis::biquad_response(biquad, freqs_hz[k], sample_rate_hz);
        }
        response[k] = value;
    }
    return response;
}

/// Critical distance r_c = √(Q·A / (16π)) with A = 0.161·V / T60.
double critical_distance_m(const LoudspeakerModel& loudspeaker, const RoomModel& room) {
    const double absorption_area_m2 = sabine_constant_s_per_m * room.volume_m3 / room.reverberation_time_s;
    return std::sqrt(loudspeaker.directivity_factor * absorption_area_m2 / (16.0 * pi));
}

void check_rig(const RigModel& rig, const TransferFunctionOptions& options) {
    const std::string where = "simulated rig '" + rig.name + "'";
    const auto fail = [&](const std::string& message) { throw Error(where + ": " + message, ErrorKind::configuration); };
    if (!(options.sample_rate_hz >= 8000.0)) {
        fail("sample rate " + format_significant(options.sample_rate_hz) + " Hz is below 8000 Hz");
    }
    if (rig.sources.empty() || rig.microphones.empty()) {
        fail("a rig needs at least one source and one microphone position");
    }
    std::set<std::string> names;
    for (const auto& source : rig.sources) {
        if (!names.insert("zone " + source.zone).second) {
            fail("zone '" + source.zone + "' has two sources; give each zone one");
        }
        if (!(source.loudspeaker.directivity_factor > 0.0)) {
            fail("zone '" + source.zone + "': directivity factor must be above 0");
        }
        if (!(source.loudspeaker.latency_ms >= 0.0)) {
            fail("zone '" + source.zone + "': loudspeaker latency must be 0 ms or more");
        }
    }
    for (const auto* list : {&rig.microphones, &rig.probes}) {
        for (const auto& position : *list) {
            if (!names.insert("position " + position.name).second) {
                fail("position '" + position.name + "' is listed twice; give each position its own name");
            }
        }
    }
    const auto& room = rig.room;
    if (options.room_reflections &&
        (room.impulse_responses.empty() || !(room.volume_m3 > 0.0) || !(room.reverberation_time_s > 0.0))) {
        fail("the room needs measured impulse responses, a volume above 0 m³ and a reverberation time above 0 s");
    }
    if (!(room.tail_s > 0.0) || !(room.fade_out_s >= 0.0) || room.fade_out_s > room.tail_s) {
        fail("room tail " + format_significant(room.tail_s) + " s and fade " + format_significant(room.fade_out_s) +
             " s are invalid; the tail must be above 0 s and the fade no longer than the tail");
    }
}

/// Microphones, then probes: the order of the pairs' second index.
std::vector<const ListeningPosition*> listening_positions(const RigModel& rig) {
    std::vector<const ListeningPosition*> positions;
    for (const auto* list : {&rig.microphones, &rig.probes}) {
        for (const auto& position : *list) {
            positions.push_back(&position);
        }
    }
    return positions;
}

/// Per-bin quantities that every pair shares.
struct BinGrid {
    std::vector<double> freqs_hz;
    std::vector<double> air_db_per_m;  ///< α(f) of ISO 9613-1
    std::vector<double> band_limit;    ///< B(f)
};

BinGrid make_bin_grid(const RigModel& rig, std::size_t fft_size, double sample_rate_hz) {
    const analysis::AtmosphericConditions air{rig.temperature_c, rig.humidity_percent, 101.325};
    analysis::validate(air);
    BinGrid grid;
    const std::size_t bins = fft_size / 2 + 1;
    for (std::size_t k = 0; k < bins; ++k) {
        const double freq_hz = static_cast<double>(k) * sample_rate_hz / static_cast<double>(fft_size);
        grid.freqs_hz.push_back(freq_hz);
        grid.air_db_per_m.push_back(analysis::air_absorption_db_per_m(freq_hz, air));
        grid.band_limit.push_back(band_limit(freq_hz, sample_rate_hz));
    }
    return grid;
}

/// A room's reflections on the FFT's bins.
struct RoomSpectrum {
    std::vector<std::complex<double>> spectrum;
    double reverberant_to_direct_energy = 0.0;
};

std::vector<RoomSpectrum> load_room_spectra(const RoomModel& room, const std::filesystem::path& data_dir,
                                            analysis::RealFft<double>& fft, double sample_rate_hz) {
    std::vector<RoomSpectrum> spectra;
    for (const auto& source : room.impulse_responses) {
        const auto reflections = detail::load_room_reflections(source, data_dir, sample_rate_hz, room);
        RoomSpectrum entry{std::vector<std::complex<double>>(fft.bin_count()), reflections.reverberant_to_direct_energy};
        fft.forward(reflections.samples, entry.spectrum);
        spectra.push_back(std::move(entry));
    }
    return spectra;
}

}  // namespace

std::filesystem::path default_simulation_data_dir() {
    const char* override_dir = std::getenv("LINETUNE_SIMULATION_DATA_DIR");
    if (override_dir != nullptr && *override_dir != '\0') {
        return override_dir;
    }
    return LINETUNE_SIMULATION_DATA_DIR;
}

RigTransferFunctions::RigTransferFunctions(RigModel rig, const TransferFunctionOptions& options)
    : rig_(std::move(rig)), sample_rate_hz_(options.sample_rate_hz) {
    check_rig(rig_, options);
    const auto positions = listening_positions(rig_);
    place_pairs(positions);

    length_ = static_cast<std::size_t>(std::ceil((latest_arrival_s() + rig_.room.tail_s + loudspeaker_ringing_s) *
                                                 sample_rate_hz_));
    const std::size_t fft_size =
        analysis::next_fast_fft_size(length_ + static_cast<std::size_t>(std::ceil(wrap_guard_s * sample_rate_hz_)));
    analysis::RealFft<double> fft(fft_size);
    const BinGrid grid = make_bin_grid(rig_, fft_size, sample_rate_hz_);
    const auto rooms = options.room_reflections ? load_room_spectra(rig_.room, options.data_dir, fft, sample_rate_hz_)
                                                : std::vector<RoomSpectrum>{};

    std::vector<std::complex<double>> spectrum(grid.freqs_hz.size());
    std::vector<double> samples(fft_size);
    for (std::size_t z = 0; z < rig_.sources.size(); ++z) {
        const auto& source = rig_.sources[z];
        const auto loudspeaker = loudspeaker_response(source, grid.freqs_hz, sample_rate_hz_);
        const double reflections_amplitude = 1.0 / critical_distance_m(source.loudspeaker, rig_.room);

        for (std::size_t p = 0; p < positions.size(); ++p) {
            auto& pair = pairs_[z][p];
            const double r = pair.distance_m;
            const auto directivity = off_axis_response(source.loudspeaker, grid.freqs_hz,
                                                       off_axis_angle_deg(source, positions[p]->position_m), fft_size);
            const RoomSpectrum* room = rooms.empty() ? nullptr : &rooms[(3 * p + z) % rooms.size()];
            const double room_gain = room == nullptr ? 0.0 : reflections_amplitude / std::sqrt(room->reverberant_to_direct_energy);

            for (std::size_t k = 0; k < spectrum.size(); ++k) {
                std::complex<double> path = amplitude_from_db(-grid.air_db_per_m[k] * r) * grid.band_limit[k] / r * directivity[k];
                if (room != nullptr) {
                    path += room_gain * room->spectrum[k];
                }
                spectrum[k] = loudspeaker[k] * path * std::polar(1.0, -2.0 * pi * grid.freqs_hz[k] * pair.arrival_s);
            }
            fft.inverse(spectrum, samples);
            pair.samples.assign(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(length_));
        }
    }
}

void RigTransferFunctions::place_pairs(const std::vector<const ListeningPosition*>& positions) {
    // NOTE: each zone is one point source at its acoustic centre. The boxes of a hang do not
    // interfere, so the array's near field and its steering by delay are not modelled.
    const double speed_m_per_s = speed_of_sound_m_per_s(rig_.temperature_c);
    pairs_.assign(rig_.sources.size(), std::vector<Pair>(positions.size()));
    for (std::size_t z = 0; z < rig_.sources.size(); ++z) {
        const auto& source = rig_.sources[z];
        for (std::size_t p = 0; p < positions.size(); ++p) {
            auto& pair = pairs_[z][p];
            pair.distance_m = simulation::distance_m(source.position_m, positions[p]->position_m);
            if (pair.distance_m < min_source_distance_m) {
                throw Error("simulated rig '" + rig_.name + "': position '" + positions[p]->name + "' is " +
                                format_significant(pair.distance_m, 3) + " m from zone '" + source.zone +
                                "', closer than " + format_significant(min_source_distance_m) +
                                " m; move it away from the source",
                            ErrorKind::configuration);
            }
            pair.arrival_s = pair.distance_m / speed_m_per_s + source.loudspeaker.latency_ms / 1000.0;
        }
    }
}

double RigTransferFunctions::latest_arrival_s() const {
    double latest_s = 0.0;
    for (const auto& zone_pairs : pairs_) {
        for (const auto& pair : zone_pairs) {
            latest_s = std::max(latest_s, pair.arrival_s);
        }
    }
    return latest_s;
}

bool RigTransferFunctions::has_zone(std::string_view zone) const {
    return std::any_of(rig_.sources.begin(), rig_.sources.end(), [&](const SourceModel& s) { return s.zone == zone; });
}

bool RigTransferFunctions::has_position(std::string_view position) const {
    const auto named = [&](const ListeningPosition& p) { return p.name == position; };
    return std::any_of(rig_.microphones.begin(), rig_.microphones.end(), named) ||
           std::any_of(rig_.probes.begin(), rig_.probes.end(), named);
}

std::size_t RigTransferFunctions::zone_index(std::string_view zone) const {
    for (std::size_t z = 0; z < rig_.sources.size(); ++z) {
        if (rig_.sources[z].zone == zone) {
            return z;
        }
    }
    std::string zones;
    for (const auto& source : rig_.sources) {
        zones += (zones.empty() ? "" : ", ") + source.zone;
    }
    throw Error("simulated rig '" + rig_.name + "': zone '" + std::string(zone) +
                    "' has no source in the rig; use one of " + zones,
                ErrorKind::configuration);
}

std::size_t RigTransferFunctions::position_index(std::string_view position) const {
    std::size_t index = 0;
    for (const auto* list : {&rig_.microphones, &rig_.probes}) {
        for (const auto& entry : *list) {
            if (entry.name == position) {
                return index;
            }
            ++index;
        }
    }
    std::string names;
    for (const auto* list : {&rig_.microphones, &rig_.probes}) {
        for (const auto& entry : *list) {
            names += (names.empty() ? "" : ", ") + entry.name;
        }
    }
    throw Error("simulated rig '" + rig_.name + "': position '" + std::string(position) +
                    "' is neither a microphone nor a probe of the rig; use one of " + names,
                ErrorKind::configuration);
}

const RigTransferFunctions::Pair& RigTransferFunctions::pair(std::string_view zone, std::string_view position) const {
    return pairs_[zone_index(zone)][position_index(position)];
}

std::span<const float> RigTransferFunctions::transfer_function(std::string_view zone, std::string_view position) const {
    return pair(zone, position).samples;
}

double RigTransferFunctions::arrival_s(std::string_view zone, std::string_view position) const {
    return pair(zone, position).arrival_s;
}

double RigTransferFunctions::distance_m(std::string_view zone, std::string_view position) const {
    return pair(zone, position).distance_m;
}

std::vector<std::complex<double>> RigTransferFunctions::predicted_spectrum(const Venue& venue,
                                                                           const AmplifierState& state,
                                                                           std::string_view zone,
                                                                           std::string_view position,
                                                                           std::size_t fft_size) const {
    const Zone& venue_zone = find_zone(venue, zone);
    const Amplifier& amplifier = amplifier_of(venue, venue_zone);
    if (venue_zone.channel == 0 || venue_zone.channel > state.channels.size()) {
        throw Error("zone '" + venue_zone.name + "': channel " + std::to_string(venue_zone.channel) + " of amplifier '" +
                        amplifier.name + "' is not in the amplifier state, which has " +
                        std::to_string(state.channels.size()) + " channel(s)",
                    ErrorKind::configuration);
    }
    if (amplifier.profile.sample_rate_hz != sample_rate_hz_) {
        throw Error("zone '" + venue_zone.name + "': amplifier profile '" + amplifier.profile.name + "' runs at " +
                        format_significant(amplifier.profile.sample_rate_hz) + " Hz, the simulated rig at " +
                        format_significant(sample_rate_hz_) + " Hz; the simulation does not resample",
                    ErrorKind::configuration);
    }

    analysis::RealFft<double> fft(fft_size);
    const auto samples = transfer_function(zone, position);
    const std::vector<double> padded(samples.begin(), samples.end());
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    fft.forward(padded, spectrum);

    std::vector<double> freqs_hz(fft.bin_count());
    for (std::size_t k = 0; k < freqs_hz.size(); ++k) {
        freqs_hz[k] = static_cast<double>(k) * sample_rate_hz_ / static_cast<double>(fft_size);
    }
    const auto channel = channel_response(state.channels[venue_zone.channel - 1], amplifier.profile, freqs_hz);
    for (std::size_t k = 0; k < spectrum.size(); ++k) {
        spectrum[k] *= channel[k];
    }
    return spectrum;
}

std::vector<float> RigTransferFunctions::predicted_impulse_response(const Venue& venue, const AmplifierState& state,
                                                                    std::string_view zone,
                                                                    std::string_view position) const {
    const Zone& venue_zone = find_zone(venue, zone);
    const auto& profile = amplifier_of(venue, venue_zone).profile;
    const std::size_t delay = venue_zone.channel >= 1 && venue_zone.channel <= state.channels.size()
                                  ? channel_delay_samples(state.channels[venue_zone.channel - 1], profile)
                                  : 0;
    const std::size_t frames = length_ + delay + static_cast<std::size_t>(std::ceil(prediction_ringing_s * sample_rate_hz_));
    const std::size_t fft_size = analysis::next_fast_fft_size(frames + static_cast<std::size_t>(std::ceil(wrap_guard_s * sample_rate_hz_)));

    auto spectrum = predicted_spectrum(venue, state, zone, position, fft_size);
    analysis::RealFft<double> fft(fft_size);
    std::vector<double> samples(fft_size);
    fft.inverse(spectrum, samples);
    return {samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(frames)};
}

FrequencyResponse RigTransferFunctions::predicted_response(const Venue& venue, const AmplifierState& state,
                                                           std::string_view zone, std::string_view position,
                                                           const analysis::ResponseOptions& options) const {
    const auto ir = predicted_impulse_response(venue, state, zone, position);
    const Zone& venue_zone = find_zone(venue, zone);
    const auto& profile = amplifier_of(venue, venue_zone).profile;
    const double delay = static_cast<double>(channel_delay_samples(state.channels[venue_zone.channel - 1], profile));
    return analysis::compute_frequency_response(ir, sample_rate_hz_, arrival_s(zone, position) * sample_rate_hz_ + delay,
                                                options);
}

FrequencyResponse RigTransferFunctions::predicted_system_response(const Venue& venue, const AmplifierState& state,
                                                                  std::string_view position,
                                                                  const analysis::ResponseOptions& options) const {
    std::size_t longest_delay = 0;
    double earliest_arrival_samples = std::numeric_limits<double>::infinity();
    for (const auto& zone : venue.zones) {
        const auto& profile = amplifier_of(venue, zone).profile;
        if (zone.channel == 0 || zone.channel > state.channels.size()) {
            continue;  // predicted_spectrum reports it
        }
        const std::size_t delay = channel_delay_samples(state.channels[zone.channel - 1], profile);
        longest_delay = std::max(longest_delay, delay);
        earliest_arrival_samples =
            std::min(earliest_arrival_samples, arrival_s(zone.name, position) * sample_rate_hz_ + static_cast<double>(delay));
    }
    const std::size_t frames =
        length_ + longest_delay + static_cast<std::size_t>(std::ceil(prediction_ringing_s * sample_rate_hz_));
    const std::size_t fft_size = analysis::next_fast_fft_size(frames + static_cast<std::size_t>(std::ceil(wrap_guard_s * sample_rate_hz_)));

    std::vector<std::complex<double>> sum;
    for (const auto& zone : venue.zones) {
        const auto spectrum = predicted_spectrum(venue, state, zone.name, position, fft_size);
        if (sum.empty()) {
            sum = spectrum;
        } else {
            for (std::size_t k = 0; k < sum.size(); ++k) {
                sum[k] += spectrum[k];
            }
        }
    }
    if (sum.empty()) {
        throw Error("venue '" + venue.name + "' has no zones to predict", ErrorKind::configuration);
    }
    analysis::RealFft<double> fft(fft_size);
    std::vector<double> samples(fft_size);
    fft.inverse(sum, samples);
    const std::vector<float> ir(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(frames));
    return analysis::compute_frequency_response(ir, sample_rate_hz_, earliest_arrival_samples, options);
}

}  // namespace linetune::simulation
