#include "linetune/correction/system_alignment.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <set>

// Subwoofers to mains by phase at the crossover
// ----------------------------------------------
// At mic m, with S_m(f) and M_m(f) the complex responses of the subs and the mains on the
// absolute time base (timed_response.hpp), delaying the subs by τ and giving them polarity p
// makes the sum p·S_m(f)·e^(−j2πfτ) + M_m(f). At the crossover f_c it reaches the coherent sum
// |S_m| + |M_m| when the phases match:
//
//     arg(p · X(f_c) · e^(−j2πf_c·τ)) = 0,     X(f) = Σ_m w_m S_m(f) M_m*(f) over the reference mics
//
// Every cycle 1/f_c solves this, and p = −1 solves it half a cycle away.
//
// Polarity: at each reference mic, with its own onset alignment τ0_m = t_M(m) − t_S(m) (the
// onsets of the loudest mains and sub zone there), the phase φ_m = arg(S_m M_m* e^(−j2πf_c·τ0_m))
// measures how far from equal phase the two are once their arrivals line up. Correctly wired subs and
// mains are within a quarter cycle of each other there; reversed polarity puts them near opposite
// phase. p = −1, a polarity fault (not compensated, like a zone of a hang), when the weighted
// mean direction of the mics' phases is nearer opposite: Re Σ_m w_m e^(jφ_m) < 0. Each mic is
// judged at its own onsets, because one onset offset for the whole area would add each mic's
// path difference to its phase.
// NOTE: the polarity rests on the subs' onsets, which the arrival estimator finds only to a few
// milliseconds, a quarter cycle at 80 Hz. On the simulated arena measured through the whole
// chain, the default area of four mics judged correctly wired subs right, but near-left or
// mid-centre alone flagged them. So the finding stays a note and never sets the zone's
// polarity_fault, which the hang's wiring check owns.
//
// Delay: the solution nearest the area's arrival-time alignment τ0 = Σ w_m τ0_m / Σ w_m is taken,
// τ = τ0 + φ/(2πf_c) with φ = arg(p·X(f_c)·e^(−j2πf_c·τ0)) ∈ (−π, π].
// The onset of a subwoofer is vague: the arrival estimator finds a low-passed impulse response
// milliseconds after its true start. But it is the same on every measurement of the same subs,
// so a change of their timing moves τ0 and τ by exactly that change.
//
// As a figure of how well the two overlap beyond f_c, the normalised cross-correlation
//
//     C(τ) = Re Σ_f p·X(f) e^(−j2πfτ)  /  Σ_f Σ_m w_m |S_m(f)| |M_m(f)|
//
// over f_c/2 to 2·f_c is reported: 1 is a coherent sum at every frequency of that band.
//
// Where the alignment reaches: at every mic with both measured, the phase difference
// arg(p·S_m·e^(−j2πf_cτ) / M_m) at f_c is reported. Within ±60° the sum of equal levels loses at
// most 1.25 dB against |S| + |M| (20·log10 cos 30°), and beyond ±120° it cancels.
//
// Crossover frequency, unless the venue sets it: the grid point between the option limits where
// the weaker of the two power sums over the reference mics, min(Σ w|S|², Σ w|M|²), is largest.
// That is where the levels meet, and, unlike a sign change of their difference, it is not
// fooled by a room mode that dips one of them for a few points.

namespace linetune::correction {
namespace {

// Points per octave of the grid the crossover is searched and the correlation summed on.
constexpr double grid_points_per_octave = 48.0;

struct MicPair {
    std::string mic;
    double weight = 0.0;
    bool reference = false;
    std::vector<std::complex<double>> subs;   // on the grid
    std::vector<std::complex<double>> mains;  // on the grid
};

std::vector<std::complex<double>> summed_on_grid(std::span<const TimedResponse> zones, const std::string& mic,
                                                 const std::vector<double>& grid_hz,
                                                 const std::map<std::string, double>& delay_ms, double& weight) {
    std::vector<std::complex<double>> sum(grid_hz.size());
    for (const auto& timed : zones) {
        if (timed.mic != mic || timed.response.freq_hz.empty()) {
            continue;
        }
        const auto delay = delay_ms.find(timed.zone);
        const double zone_delay_ms = delay == delay_ms.end() ? 0.0 : delay->second;
        for (std::size_t i = 0; i < grid_hz.size(); ++i) {
            sum[i] += complex_response_at(timed, grid_hz[i], zone_delay_ms);
        }
        weight = std::max(weight, timed.weight);
    }
    return sum;
}

std::set<std::string> mics_of(std::span<const TimedResponse> zones) {
    std::set<std::string> mics;
    for (const auto& timed : zones) {
        if (!timed.response.freq_hz.empty()) {
            mics.insert(timed.mic);
        }
    }
    return mics;
}

std::vector<MicPair> pair_mics(std::span<const TimedResponse> subs, std::span<const TimedResponse> mains,
                               std::span<const std::string> reference_mics, const std::map<std::string, double>& delay_ms,
                               const std::vector<double>& grid_hz) {
    const auto sub_mics = mics_of(subs);
    const auto main_mics = mics_of(mains);
    std::vector<MicPair> pairs;
    for (const auto& mic : sub_mics) {
        if (!main_mics.contains(mic)) {
            continue;
        }
        MicPair pair;
        pair.mic = mic;
        double sub_weight = 0.0;
        double main_weight = 0.0;
        pair.subs = summed_on_grid(subs, mic, grid_hz, delay_ms, sub_weight);
        pair.mains = summed_on_grid(mains, mic, grid_hz, delay_ms, main_weight);
        pair.weight = std::min(sub_weight, main_weight);
        pair.reference = reference_mics.empty()
                             ? pair.weight > 0.0
                             : std::find(reference_mics.begin(), reference_mics.end(), mic) != reference_mics.end();
        pairs.push_back(std::move(pair));
    }
    return pairs;
}

std::size_t crossover_index(const std::vector<MicPair>& pairs, const std::vector<double>& grid_hz,
                            const CrossoverAlignmentOptions& options) {
    std::size_t best = grid_hz.size();
    double best_power = -1.0;
    for (std::size_t i = 0; i < grid_hz.size(); ++i) {
        if (grid_hz[i] < options.min_crossover_hz || grid_hz[i] > options.max_crossover_hz) {
            continue;
        }
        double sub_power = 0.0;
        double main_power = 0.0;
        for (const auto& pair : pairs) {
            if (pair.reference) {
                sub_power += pair.weight * std::norm(pair.subs[i]);
                main_power += pair.weight * std::norm(pair.mains[i]);
            }
        }
        if (std::min(sub_power, main_power) > best_power) {
            best_power = std::min(sub_power, main_power);
            best = i;
        }
    }
    return best;
}

// Arrival plus delay of the zone loudest at freq_hz at the mic: a listener there hears, and an
// onset alignment lines up, that wavefront.
double loudest_arrival_ms(std::span<const TimedResponse> zones, const std::string& mic, double freq_hz,
                          const std::map<std::string, double>& delay_ms) {
    bool found = false;
    double loudest_db = 0.0;
    double arrival_ms = 0.0;
    for (const auto& timed : zones) {
        if (timed.mic != mic || timed.response.freq_hz.empty()) {
            continue;
        }
        const double level_db = interpolate_magnitude_db(timed.response, freq_hz);
        if (!found || level_db > loudest_db) {
            const auto delay = delay_ms.find(timed.zone);
            found = true;
            loudest_db = level_db;
            arrival_ms = timed.arrival_ms + (delay == delay_ms.end() ? 0.0 : delay->second);
        }
    }
    return arrival_ms;
}

std::complex<double> rotation(double freq_hz, double delay_ms) {
    return std::polar(1.0, -2.0 * pi * freq_hz * delay_ms / 1000.0);
}

}  // namespace

CrossoverAlignment align_subs_at_crossover(std::span<const TimedResponse> subs, std::span<const TimedResponse> mains,
                                           std::span<const std::string> reference_mics,
                                           const std::map<std::string, double>& delay_ms,
                                           const CrossoverAlignmentOptions& options) {
    require(options.min_crossover_hz > 0.0 && options.max_crossover_hz > options.min_crossover_hz &&
                options.in_phase_within_deg > 0.0 && options.in_phase_within_deg <= 180.0,
            "crossover alignment settings are invalid: the crossover range must rise from above 0 Hz and the phase "
            "window must be 0 to 180 degrees",
            ErrorKind::configuration);
    if (options.crossover_hz) {
        require(std::isfinite(*options.crossover_hz) && *options.crossover_hz > 0.0,
                "crossover " + format_fixed(*options.crossover_hz, 1) + " Hz" + " is invalid; give a frequency above 0 Hz",
                ErrorKind::configuration);
    }

    const double search_low_hz = 0.5 * (options.crossover_hz ? *options.crossover_hz : options.min_crossover_hz);
    const double search_high_hz = 2.0 * (options.crossover_hz ? *options.crossover_hz : options.max_crossover_hz);
    const std::vector<double> grid_hz = log_frequency_grid(search_low_hz, search_high_hz, grid_points_per_octave);
    const std::vector<MicPair> pairs = pair_mics(subs, mains, reference_mics, delay_ms, grid_hz);
    const bool any_reference = std::any_of(pairs.begin(), pairs.end(), [](const MicPair& p) { return p.reference; });
    require(any_reference,
            "no reference microphone has measurements of both the subs and the mains; measure both at the alignment "
            "reference (or name a microphone that heard both)");

    CrossoverAlignment result;
    std::size_t centre = 0;
    if (options.crossover_hz) {
        result.crossover_hz = *options.crossover_hz;
    } else {
        centre = crossover_index(pairs, grid_hz, options);
        require(centre < grid_hz.size(), "no crossover between subs and mains found from " +
                                             format_fixed(options.min_crossover_hz, 1) + " Hz" + " to " +
                                             format_fixed(options.max_crossover_hz, 1) + " Hz" + "; set crossover_hz");
        result.crossover_hz = grid_hz[centre];
    }
    const double fc = result.crossover_hz;

    // Cross spectrum X(f) = Σ_m w_m S_m M_m* over the two octaves around f_c, and its normaliser.
    std::vector<std::complex<double>> cross(grid_hz.size());
    double normaliser = 0.0;
    for (std::size_t i = 0; i < grid_hz.size(); ++i) {
        if (grid_hz[i] < 0.5 * fc || grid_hz[i] > 2.0 * fc) {
            continue;
        }
        for (const auto& pair : pairs) {
            if (pair.reference) {
                cross[i] += pair.weight * pair.subs[i] * std::conj(pair.mains[i]);
                normaliser += pair.weight * std::abs(pair.subs[i]) * std::abs(pair.mains[i]);
            }
        }
    }
    require(normaliser > 0.0, "subs and mains have no level around " + format_fixed(fc, 1) + " Hz" +
                                  " at the reference microphones; check the measurements");

    // The arrival-time alignment τ0, the cross spectrum at f_c and the phase at each mic's own
    // onset alignment, over the reference mics.
    double onset_sum_ms = 0.0;
    double weight_sum = 0.0;
    std::complex<double> cross_at_fc = 0.0;
    std::complex<double> phase_direction = 0.0;
    for (const auto& pair : pairs) {
        if (!pair.reference) {
            continue;
        }
        double unused_weight = 0.0;
        const auto sub = summed_on_grid(subs, pair.mic, {fc}, delay_ms, unused_weight)[0];
        const auto main = summed_on_grid(mains, pair.mic, {fc}, delay_ms, unused_weight)[0];
        const double onset_ms =
            loudest_arrival_ms(mains, pair.mic, fc, delay_ms) - loudest_arrival_ms(subs, pair.mic, fc, delay_ms);
        cross_at_fc += pair.weight * sub * std::conj(main);
        phase_direction += pair.weight * std::polar(1.0, std::arg(sub * std::conj(main) * rotation(fc, onset_ms)));
        onset_sum_ms += pair.weight * onset_ms;
        weight_sum += pair.weight;
    }
    const double onset_offset_ms = onset_sum_ms / weight_sum;
    const double phase_rad = std::arg(phase_direction);
    const double polarity = std::real(phase_direction) >= 0.0 ? 1.0 : -1.0;
    result.polarity_fault = polarity < 0.0;
    const double matched_rad = std::remainder(std::arg(polarity * cross_at_fc * rotation(fc, onset_offset_ms)), 2.0 * pi);
    const double tau_ms = onset_offset_ms + 1000.0 * matched_rad / (2.0 * pi * fc);
    result.offset_ms = tau_ms;

    double correlation = 0.0;
    for (std::size_t i = 0; i < grid_hz.size(); ++i) {
        correlation += std::real(polarity * cross[i] * rotation(grid_hz[i], tau_ms));
    }
    correlation /= normaliser;

    // The phase at the crossover at every mic that measured both.
    double ideal_power = 0.0, summed_power = 0.0;
    for (const auto& pair : pairs) {
        double unused_weight = 0.0;
        const auto sub = polarity * summed_on_grid(subs, pair.mic, {fc}, delay_ms, unused_weight)[0] * rotation(fc, tau_ms);
        const auto main = summed_on_grid(mains, pair.mic, {fc}, delay_ms, unused_weight)[0];
        CrossoverPhaseAtMic at_mic;
        at_mic.mic = pair.mic;
        at_mic.phase_difference_deg = std::arg(sub / main) * 180.0 / pi;
        at_mic.below_coherent_sum_db = db_from_amplitude((std::abs(sub) + std::abs(main)) / std::abs(sub + main));
        at_mic.in_phase = std::fabs(at_mic.phase_difference_deg) <= options.in_phase_within_deg;
        if (pair.reference) {
            ideal_power += pair.weight * std::pow(std::abs(sub) + std::abs(main), 2.0);
            summed_power += pair.weight * std::norm(sub + main);
        }
        result.mics.push_back(at_mic);
    }
    result.below_coherent_sum_db = db_from_power(ideal_power / summed_power);

    std::string holding;
    std::string lost;
    for (const auto& at_mic : result.mics) {
        (at_mic.in_phase ? holding : lost) += ((at_mic.in_phase ? holding : lost).empty() ? "'" : ", '") + at_mic.mic + "'";
    }
    result.notes.push_back("subs aligned to the mains by phase at " + format_fixed(fc, 1) + " Hz: offset " +
                           format_fixed(tau_ms, 3) + " ms (onsets alone: " + format_fixed(onset_offset_ms, 3) +
                           " ms), correlation over " + format_fixed(0.5 * fc, 1) + " to " + format_fixed(2.0 * fc, 1) +
                           " Hz " + format_fixed(correlation, 2) + ", " +
                           format_fixed(result.below_coherent_sum_db, 2) +
                           " dB under the coherent sum at the reference microphones");
    result.notes.push_back("subs and mains in phase (within ±" + format_fixed(options.in_phase_within_deg, 0) +
                           "° at the crossover) at " + (holding.empty() ? std::string("no microphone") : holding) +
                           (lost.empty() ? std::string() : "; not at " + lost));
    if (result.polarity_fault) {
        result.notes.push_back("with their onsets aligned at each reference microphone, the subs are on average " +
                               format_fixed(std::fabs(phase_rad) * 180.0 / pi, 0) +
                               "° from the mains at the crossover, nearer opposite than equal phase: polarity fault? "
                               "Not compensated; check the wiring, and the offset assumes the polarity is corrected");
    }
    return result;
}

void apply_crossover_alignment(std::vector<ZoneAlignment>& alignments, std::span<const std::string> sub_zones,
                               const std::string& mains_zone, const CrossoverAlignment& alignment) {
    const auto mains = std::find_if(alignments.begin(), alignments.end(),
                                    [&](const ZoneAlignment& a) { return a.zone == mains_zone; });
    require(mains != alignments.end(), "zone '" + mains_zone + "' is not among the aligned zones");
    const double mains_delay_ms = mains->delay_ms;
    for (auto& zone : alignments) {
        if (std::find(sub_zones.begin(), sub_zones.end(), zone.zone) == sub_zones.end()) {
            continue;
        }
        zone.notes.push_back("delay by onset " + format_fixed(zone.delay_ms, 3) +
                             " ms replaced by phase alignment to '" + mains_zone + "'");
        zone.notes.insert(zone.notes.end(), alignment.notes.begin(), alignment.notes.end());
        zone.delay_ms = mains_delay_ms + alignment.offset_ms;
    }

    double smallest_ms = 0.0;
    for (const auto& zone : alignments) {
        smallest_ms = std::min(smallest_ms, zone.delay_ms);
    }
    if (smallest_ms < 0.0) {
        for (auto& zone : alignments) {
            zone.delay_ms -= smallest_ms;
        }
    }
}

}  // namespace linetune::correction
