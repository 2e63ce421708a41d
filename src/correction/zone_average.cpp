#include "linetune/correction/zone_average.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Spatial average of one zone
// ---------------------------
// 1. Screening. A mic flagged dead, clipped or not_impulse_response by the analysis, a mic with
//    weight 0 and a mic whose response does not reach into the zone's band are rejected.
// 2. Grid. When every remaining mic has the same frequency grid (one analysis run), the average
//    uses it. Otherwise all responses are interpolated (linear in dB over log frequency) onto a
//    1/48-octave grid over the range they all cover.
// 3. Outliers, one at a time while more than two mics remain. For each mic i, L_i is its in-band
//    level: the power mean over the grid points inside the band, 10·log10(mean 10^(L_i(f)/10)).
//    On a log grid this gives each octave equal weight. Against the median of the OTHER mics:
//      level deviation  |L_i − median_j≠i L_j|                          limit 10 dB
//      shape deviation  RMS_f [ (L_i(f) − L_i) − median_j≠i (L_j(f) − L_j) ]  limit 6 dB
//    The mic with the largest level deviation beyond its limit is rejected first, then the one
//    with the largest shape deviation, and the rest are judged again without it. Rejecting the
//    worst mic first matters with three mics: the median of two others is their mean, so one
//    unplugged mic also pulls the good mics' deviations to half its own.
// 4. Average, per grid point f, with per-mic weights w_i(f):
//      power             10·log10( Σ w_i 10^(L_i(f)/10) / Σ w_i ),  w_i = weight_i
//      decibel           Σ w_i L_i(f) / Σ w_i,                       w_i = weight_i
//      quality_weighted  as power, with w_i(f) = weight_i · s_i · γ²_i(f), where
//                          s_i = p_i / (p_i + p_ref),  p_i = 10^(peak_to_noise_db_i / 10),
//                          p_ref = 10^(30 / 10)
//                        and γ²_i(f) the mic's coherence (1 when it has none).
//    s_i is 0.5 at 30 dB peak-to-noise, 0.91 at 40 dB and above 0.99 from 50 dB. Above about
//    40 dB the spread between positions limits the average more than noise does, so clean mics
//    count alike while a noisy one fades out. γ² is the usual coherence weighting of a transfer
//    function estimate. Where every weight of a point is 0 (no coherence at any mic), that point
//    falls back to weight_i · s_i and a note says how many points did.
// The power average is the usual spatial average of a sound field (energy per position, as in
// ISO 3382-1's averaging over positions); the dB average gives the shape that a single listener
// most often hears but lets a deep local cancellation at one mic pull the average down.

namespace linetune::correction {
namespace {

// Analysis flags after which a mic's response does not describe the zone.
constexpr std::array<std::string_view, 3> rejecting_flags{"dead", "clipped", "not_impulse_response"};

// A mic whose in-band level is further than this from the median of the other mics is rejected.
// A zone's mics sit inside its coverage, where the design aims for a spread of a few dB (±3 dB is
// the usual target), so 10 dB lies beyond any intended spread. An unplugged mic, a mic on the
// wrong input or one behind a case reads 15 dB or more off. A lower limit would reject real
// positions near the coverage edge, and a higher one would keep a mic on the wrong input.
constexpr double level_outlier_db = 10.0;

// A mic whose level-normalised response deviates by more than this RMS over the band from the
// median of the others' is rejected. Responses smoothed to 1/6 octave or wider (what the analysis
// stage delivers) typically differ by 2-4 dB RMS between positions in one zone. A blocked or
// covered mic loses 10 dB and more above a few kHz, which gives well over 6 dB RMS. With
// unsmoothed or 1/48-octave responses room modes raise the normal spread, so this limit
// assumes smoothed input.
constexpr double shape_outlier_rms_db = 6.0;

// Outlier rejection never leaves fewer mics than this: with two mics there is no majority to
// tell which of them is wrong.
constexpr std::size_t min_mics_after_outlier_rejection = 2;

// Density of the common grid when the mics' grids differ.
constexpr double common_grid_points_per_octave = 48.0;

// Peak-to-noise ratio at which the quality weight s_i is 0.5 (see the formula above).
constexpr double reference_peak_to_noise_db = 30.0;

std::string format_value(double value, const char* format = "%.1f") {
    std::array<char, 64> buffer{};
    std::snprintf(buffer.data(), buffer.size(), format, value);
    return buffer.data();
}

std::string quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    if (values.size() % 2 == 1) {
        return values[middle];
    }
    return 0.5 * (values[middle - 1] + values[middle]);
}

void validate_band(double band_start_hz, double band_end_hz) {
    const bool valid = std::isfinite(band_start_hz) && std::isfinite(band_end_hz) && band_start_hz > 0 &&
                       band_end_hz > band_start_hz;
    require(valid,
            "zone band " + format_value(band_start_hz) + " Hz to " + format_value(band_end_hz) +
                " Hz is invalid: it needs 0 < start < end; correct the zone's band",
            ErrorKind::configuration);
}

// Rejects malformed data (a bug or a damaged export) with an Error; usable-but-poor data is
// screened later and reported as a rejection instead.
void validate_mic(const MicResponse& mic) {
    const std::string name = "mic " + quoted(mic.mic);
    require(!mic.mic.empty(), "a mic response has an empty name; every mic needs a name");
    require(std::isfinite(mic.weight) && mic.weight >= 0,
            name + ": weight " + format_value(mic.weight, "%g") + " is invalid; use a weight >= 0");
    require(std::isfinite(mic.peak_to_noise_db),
            name + ": peak-to-noise ratio is not a finite number; re-run the analysis");

    const auto& response = mic.response;
    require(response.freq_hz.size() >= 2 && response.magnitude_db.size() == response.freq_hz.size(),
            name + ": response has " + std::to_string(response.freq_hz.size()) + " frequencies and " +
                std::to_string(response.magnitude_db.size()) +
                " magnitudes; it needs at least 2 of each, equally many");
    for (std::size_t i = 0; i < response.size(); ++i) {
        const double freq_hz = response.freq_hz[i];
        const bool ascending = i == 0 || freq_hz > response.freq_hz[i - 1];
        require(std::isfinite(freq_hz) && freq_hz > 0 && ascending,
                name + ": frequency " + format_value(freq_hz, "%g") + " Hz at point " + std::to_string(i) +
                    " is not positive and ascending; re-export the response");
        require(std::isfinite(response.magnitude_db[i]),
                name + ": magnitude at " + format_value(freq_hz, "%g") + " Hz is not a finite number");
    }

    if (mic.coherence.empty()) {
        return;
    }
    require(mic.coherence.size() == response.size(),
            name + ": " + std::to_string(mic.coherence.size()) + " coherence values for " +
                std::to_string(response.size()) + " response points; they must match one to one");
    for (std::size_t i = 0; i < mic.coherence.size(); ++i) {
        const double coherence = mic.coherence[i];
        require(std::isfinite(coherence) && coherence >= 0 && coherence <= 1,
                name + ": coherence " + format_value(coherence, "%g") + " at " +
                    format_value(response.freq_hz[i], "%g") + " Hz is outside 0..1");
    }
}

// Returns why a mic cannot be used at all, or an empty string when it can.
std::string screening_reason(const MicResponse& mic, double band_start_hz, double band_end_hz) {
    for (const auto flag : rejecting_flags) {
        if (std::find(mic.flags.begin(), mic.flags.end(), flag) != mic.flags.end()) {
            return "flagged " + std::string(flag) + " by the analysis";
        }
    }
    if (mic.weight == 0) {
        return "weight 0";
    }
    const double first_hz = mic.response.freq_hz.front();
    const double last_hz = mic.response.freq_hz.back();
    if (last_hz < band_start_hz || first_hz > band_end_hz) {
        return "response (" + format_value(first_hz) + " Hz to " + format_value(last_hz) +
               " Hz) does not reach into the zone band";
    }
    return {};
}

// A mic that passed screening, resampled onto the common grid.
struct Candidate {
    const MicResponse* mic = nullptr;
    std::vector<double> magnitude_db;  // per grid point
    std::vector<double> coherence;     // per grid point, 1 where the mic has none
    double band_level_db = 0;
};

struct Grid {
    std::vector<double> freq_hz;
    std::vector<std::size_t> band_points;  // indices inside [band_start_hz, band_end_hz]
};

Grid choose_grid(const std::vector<const MicResponse*>& mics, double band_start_hz, double band_end_hz,
                 std::vector<std::string>& notes) {
    Grid grid;
    const auto& first_grid = mics.front()->response.freq_hz;
    const bool shared = std::all_of(mics.begin(), mics.end(),
                                    [&](const MicResponse* mic) { return mic->response.freq_hz == first_grid; });
    if (shared) {
        grid.freq_hz = first_grid;
    } else {
        double start_hz = 0;
        double end_hz = std::numeric_limits<double>::infinity();
        for (const auto* mic : mics) {
            start_hz = std::max(start_hz, mic->response.freq_hz.front());
            end_hz = std::min(end_hz, mic->response.freq_hz.back());
        }
        require(end_hz > start_hz, "the mics' responses share no frequency range; export them over the zone band");
        grid.freq_hz = log_frequency_grid(start_hz, end_hz, common_grid_points_per_octave);
        notes.push_back("the mics' frequency grids differ: responses resampled to 1/48 octave from " +
                        format_value(start_hz) + " Hz to " + format_value(end_hz) + " Hz");
    }

    for (std::size_t i = 0; i < grid.freq_hz.size(); ++i) {
        if (grid.freq_hz[i] >= band_start_hz && grid.freq_hz[i] <= band_end_hz) {
            grid.band_points.push_back(i);
        }
    }
    require(!grid.band_points.empty(),
            "no response point lies inside the zone band " + format_value(band_start_hz) + " Hz to " +
                format_value(band_end_hz) + " Hz (the common range is " + format_value(grid.freq_hz.front()) +
                " Hz to " + format_value(grid.freq_hz.back()) + " Hz); check the band or the exports");
    return grid;
}

Candidate resample(const MicResponse& mic, const Grid& grid) {
    Candidate candidate;
    candidate.mic = &mic;
    candidate.magnitude_db.reserve(grid.freq_hz.size());
    candidate.coherence.assign(grid.freq_hz.size(), 1.0);

    // Coherence is interpolated like a magnitude (linear over log frequency, held at the ends),
    // so it travels in a FrequencyResponse of its own.
    FrequencyResponse coherence_curve;
    if (!mic.coherence.empty()) {
        coherence_curve.freq_hz = mic.response.freq_hz;
        coherence_curve.magnitude_db = mic.coherence;
    }
    for (std::size_t i = 0; i < grid.freq_hz.size(); ++i) {
        candidate.magnitude_db.push_back(interpolate_magnitude_db(mic.response, grid.freq_hz[i]));
        if (!mic.coherence.empty()) {
            candidate.coherence[i] = std::clamp(interpolate_magnitude_db(coherence_curve, grid.freq_hz[i]), 0.0, 1.0);
        }
    }

    double power_sum = 0;
    for (const std::size_t point : grid.band_points) {
        power_sum += power_from_db(candidate.magnitude_db[point]);
    }
    candidate.band_level_db = db_from_power(power_sum / static_cast<double>(grid.band_points.size()));
    return candidate;
}

struct Deviation {
    double level_db = 0;      // signed: L_i − median of the others
    double shape_rms_db = 0;
};

Deviation deviation_from_others(const std::vector<Candidate>& candidates, std::size_t index, const Grid& grid) {
    const Candidate& self = candidates[index];
    std::vector<double> other_levels;
    for (std::size_t j = 0; j < candidates.size(); ++j) {
        if (j != index) {
            other_levels.push_back(candidates[j].band_level_db);
        }
    }

    Deviation deviation;
    deviation.level_db = self.band_level_db - median(other_levels);

    double squared_sum = 0;
    for (const std::size_t point : grid.band_points) {
        std::vector<double> other_shapes;
        for (std::size_t j = 0; j < candidates.size(); ++j) {
            if (j != index) {
                other_shapes.push_back(candidates[j].magnitude_db[point] - candidates[j].band_level_db);
            }
        }
        const double difference = (self.magnitude_db[point] - self.band_level_db) - median(other_shapes);
        squared_sum += difference * difference;
    }
    deviation.shape_rms_db = std::sqrt(squared_sum / static_cast<double>(grid.band_points.size()));
    return deviation;
}

// Rejects the single worst outlier, if any; returns false when none is left to reject.
bool reject_worst_outlier(std::vector<Candidate>& candidates, const Grid& grid, ZoneAverage& result) {
    std::vector<Deviation> deviations;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        deviations.push_back(deviation_from_others(candidates, i, grid));
    }

    std::size_t worst = candidates.size();
    std::string reason;
    double worst_level_db = level_outlier_db;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (std::fabs(deviations[i].level_db) > worst_level_db) {
            worst_level_db = std::fabs(deviations[i].level_db);
            worst = i;
            reason = "in-band level " + format_value(std::fabs(deviations[i].level_db)) + " dB " +
                     (deviations[i].level_db < 0 ? "below" : "above") +
                     " the median of the other mics (limit " + format_value(level_outlier_db, "%.0f") +
                     " dB): unplugged, on the wrong input or blocked?";
        }
    }
    if (worst == candidates.size()) {
        double worst_shape_db = shape_outlier_rms_db;
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            if (deviations[i].shape_rms_db > worst_shape_db) {
                worst_shape_db = deviations[i].shape_rms_db;
                worst = i;
                reason = "in-band response shape deviates " + format_value(deviations[i].shape_rms_db) +
                         " dB RMS from the median of the other mics (limit " +
                         format_value(shape_outlier_rms_db, "%.0f") + " dB): blocked or covered mic?";
            }
        }
    }
    if (worst == candidates.size()) {
        return false;
    }

    result.rejected.emplace_back(candidates[worst].mic->mic, reason);
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(worst));
    return true;
}

// Per-point weight of one mic, before normalisation (see the formulas at the top).
double point_weight(const Candidate& candidate, std::size_t point, AveragingMethod method) {
    if (method != AveragingMethod::quality_weighted) {
        return candidate.mic->weight;
    }
    const double noise_power_ratio = power_from_db(reference_peak_to_noise_db - candidate.mic->peak_to_noise_db);
    const double quality = 1.0 / (1.0 + noise_power_ratio);  // p / (p + p_ref)
    return candidate.mic->weight * quality * candidate.coherence[point];
}

double quality_weight_without_coherence(const Candidate& candidate) {
    const double noise_power_ratio = power_from_db(reference_peak_to_noise_db - candidate.mic->peak_to_noise_db);
    return candidate.mic->weight / (1.0 + noise_power_ratio);
}

void average_candidates(const std::vector<Candidate>& candidates, const Grid& grid, AveragingMethod method,
                        ZoneAverage& result) {
    const std::size_t point_count = grid.freq_hz.size();
    result.average.freq_hz = grid.freq_hz;
    result.average.magnitude_db.assign(point_count, 0.0);
    result.weight_sum.assign(point_count, 0.0);
    std::size_t points_without_coherence = 0;

    for (std::size_t point = 0; point < point_count; ++point) {
        std::vector<double> weights;
        double weight_sum = 0;
        for (const auto& candidate : candidates) {
            weights.push_back(point_weight(candidate, point, method));
            weight_sum += weights.back();
        }
        if (weight_sum <= 0) {
            // Only the quality weighting can get here: every mic's coherence is 0 at this point.
            ++points_without_coherence;
            weight_sum = 0;
            for (std::size_t i = 0; i < candidates.size(); ++i) {
                weights[i] = quality_weight_without_coherence(candidates[i]);
                weight_sum += weights[i];
            }
        }

        double sum = 0;
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            const double magnitude_db = candidates[i].magnitude_db[point];
            sum += weights[i] * (method == AveragingMethod::decibel ? magnitude_db : power_from_db(magnitude_db));
        }
        const double mean = sum / weight_sum;
        result.average.magnitude_db[point] = method == AveragingMethod::decibel ? mean : db_from_power(mean);
        result.weight_sum[point] = weight_sum;
    }

    if (points_without_coherence > 0) {
        result.notes.push_back(std::to_string(points_without_coherence) +
                               " points have coherence 0 at every mic: averaged there without coherence weighting");
    }
}

[[noreturn]] void throw_all_rejected(std::span<const MicResponse> mics, const ZoneAverage& result) {
    std::string list;
    for (const auto& [mic, reason] : result.rejected) {
        list += (list.empty() ? "" : "; ") + quoted(mic) + ": " + reason;
    }
    throw Error("all " + std::to_string(mics.size()) + " mics of the zone were rejected (" + list +
                "); fix or re-measure at least one position");
}

}  // namespace

ZoneAverage average_zone(std::span<const MicResponse> mics, AveragingMethod method, double band_start_hz,
                         double band_end_hz) {
    validate_band(band_start_hz, band_end_hz);
    require(!mics.empty(), "the zone has no mic responses to average; measure it at one position or more");
    std::set<std::string> names;
    for (const auto& mic : mics) {
        validate_mic(mic);
        require(names.insert(mic.mic).second, "mic " + quoted(mic.mic) + " appears twice in the zone; give each mic one response");
    }

    ZoneAverage result;
    std::vector<const MicResponse*> usable;
    for (const auto& mic : mics) {
        const std::string reason = screening_reason(mic, band_start_hz, band_end_hz);
        if (!reason.empty()) {
            result.rejected.emplace_back(mic.mic, reason);
            continue;
        }
        if (std::find(mic.flags.begin(), mic.flags.end(), "truncated") != mic.flags.end()) {
            result.notes.push_back("mic " + quoted(mic.mic) +
                                   " is flagged truncated: its low-frequency response may read too smooth");
        }
        usable.push_back(&mic);
    }
    if (usable.empty()) {
        throw_all_rejected(mics, result);
    }

    const Grid grid = choose_grid(usable, band_start_hz, band_end_hz, result.notes);
    std::vector<Candidate> candidates;
    for (const auto* mic : usable) {
        candidates.push_back(resample(*mic, grid));
    }
    while (candidates.size() > min_mics_after_outlier_rejection && reject_worst_outlier(candidates, grid, result)) {
    }
    if (candidates.size() == 1) {
        result.notes.push_back("only mic " + quoted(candidates.front().mic->mic) +
                               " is usable: the average is that single position");
    } else if (candidates.size() == 2) {
        const double difference_db = std::fabs(candidates[0].band_level_db - candidates[1].band_level_db);
        if (difference_db > level_outlier_db) {
            result.notes.push_back("the two remaining mics differ by " + format_value(difference_db) +
                                   " dB in band level; with two mics neither can be judged the outlier");
        }
    }

    average_candidates(candidates, grid, method, result);
    for (const auto& candidate : candidates) {
        result.used_mics.push_back(candidate.mic->mic);
    }
    return result;
}

}  // namespace linetune::correction
