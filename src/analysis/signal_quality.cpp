#include "linetune/analysis/signal_quality.hpp"

#include "band_limited_response.hpp"

#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace linetune::analysis {
namespace {

// Peaks below this level carry at most a few LSB of a 16-bit file and no usable measurement.
// Lower it and a disconnected input's hiss passes as a signal; raise it and quiet but valid
// recordings are rejected.
constexpr double dead_peak_floor_dbfs = -100.0;

// A sample is at full scale when |x| >= 0.999 (−0.009 dBFS). That covers the positive integer
// full scale of 16- and 24-bit files (32767/32768 = 0.99997) as well as float files limited at 1.0.
constexpr double full_scale_threshold = 0.999;
// Samples of one clipped run differ by at most this much (two 16-bit LSB): a flat top. A smooth
// waveform normalised to full scale changes faster than this near its peak unless its period is
// thousands of samples long (below about 20 Hz at 48 kHz).
constexpr double flat_top_tolerance = 1.0 / 16384.0;
// Shortest run counted as clipping; one or two samples at full scale are normal after peak
// normalisation.
constexpr std::size_t min_clipped_run = 3;

// Short-block RMS levels, used for the noise floor and the decay checks. Blocks are 1 ms or
// 1/400 of the input, whichever is longer: short enough to follow a decay, long enough that noise
// levels of one block scatter by about 1 dB or less.
constexpr double min_block_ms = 1.0;
constexpr std::size_t target_block_count = 400;
// The noise floor is this percentile of the block levels. In an impulse response with a noise
// tail the quietest blocks are noise, and for steady noise it lies within about 0.5 dB of the RMS.
constexpr double noise_floor_percentile = 0.10;

// An impulse response concentrates its energy in one arrival, so its crest factor over the whole
// input is large: 15 dB for the densest guitar-cabinet responses, 25 to 45 dB for rooms. A sweep
// through a flat system has 3 to 6 dB; steady noise 12 to 14 dB and music 10 to 20 dB, which the
// decay checks below reject.
constexpr double min_impulse_response_crest_factor_db = 12.0;
// A raw sweep recording is a tone whose frequency rises over time. Among the blocks within 30 dB
// of the loudest, the zero-crossing rate of each third (by time) must then rise by this factor
// over the previous third (half an octave). In an impulse response it falls or stays flat,
// because high frequencies decay first. A noise tail after a reverberant decay can raise the last
// third, but not the second over the first.
constexpr double sweep_active_range_db = 30.0;
constexpr double sweep_crossing_rate_rise = 1.4;
// A sweep recording's level varies with the loudspeaker's and the room's response, by well under
// 15 dB between the averages of its first and last thirds; an impulse response decays by more.
constexpr double sweep_level_spread_db = 10.0;
// Each third must contain at least this many zero crossings for its rate to count. A sweep
// recording through a sub still has dozens in its quietest third. A sub's own short 80 Hz
// ringing has only a handful, whose count varies with where the blocks fall.
constexpr std::size_t min_crossings_per_third = 20;
// After its maximum the level of an impulse response falls at least this far...
constexpr double min_decay_depth_db = 20.0;
// ...and never comes back within this distance of the maximum (a second impulse, a new note).
constexpr double second_event_margin_db = 6.0;
// Dips between loud blocks are judged after holding each block's level at the maximum within
// this time on either side (half a period of 25 Hz). Separate impulses lie further apart.
constexpr double dip_smoothing_s = 0.010;

// The decay slope is fitted on block levels from this far below the maximum...
constexpr double decay_fit_start_db = 5.0;
// ...down to this far below it (a T20-like range), or to the start of the end window.
constexpr double decay_fit_end_db = 25.0;
// The end window is the last 10 % of the blocks, at least 4 blocks.
constexpr double end_window_fraction = 0.10;
constexpr std::size_t min_end_window_blocks = 4;
// The input is truncated when the end window still falls at half the decay slope or faster...
constexpr double still_decaying_slope_ratio = 0.5;
// ...and its last block is no more than this far below the extrapolated decay line; a fade-out
// leaves the last block far below the line.
constexpr double fade_out_margin_db = 10.0;
// A last block at or below this level is digital silence: the decay ended, by itself or by a fade.
constexpr double digital_silence_dbfs = -140.0;

struct BlockLevels {
    std::vector<double> level_db;
    std::vector<double> time_s;            // block centre
    std::vector<std::size_t> block_begin;  // first sample of each block, then the input length
};

void validate_input(std::span<const float> samples, double sample_rate_hz) {
    if (!(sample_rate_hz > 0.0) || !std::isfinite(sample_rate_hz)) {
        std::ostringstream message;
        message << "sample rate " << sample_rate_hz << " Hz is invalid: it must be above 0 Hz";
        throw Error(message.str());
    }
    for (std::size_t n = 0; n < samples.size(); ++n) {
        if (!std::isfinite(samples[n])) {
            std::ostringstream message;
            message << "sample " << n << " is " << samples[n]
                    << ": the audio contains NaN or infinite values; re-export it as PCM or as float without them";
            throw Error(message.str());
        }
    }
}

BlockLevels measure_block_levels(std::span<const float> samples, double sample_rate_hz) {
    const auto min_block = static_cast<std::size_t>(
        std::max(1.0, std::round(samples_from_ms(min_block_ms, sample_rate_hz))));
    const std::size_t block_length = std::max(min_block, samples.size() / target_block_count);
    const std::size_t block_count = std::max<std::size_t>(1, samples.size() / block_length);

    // Equal-length blocks cover the input exactly; the boundaries are spread with integer
    // division so that no short block is left at the end.
    BlockLevels levels;
    for (std::size_t b = 0; b < block_count; ++b) {
        const std::size_t begin = b * samples.size() / block_count;
        const std::size_t end = (b + 1) * samples.size() / block_count;
        double energy = 0.0;
        for (std::size_t n = begin; n < end; ++n) {
            energy += static_cast<double>(samples[n]) * static_cast<double>(samples[n]);
        }
        levels.level_db.push_back(db_from_power(energy / static_cast<double>(end - begin)));
        levels.time_s.push_back(0.5 * static_cast<double>(begin + end) / sample_rate_hz);
        levels.block_begin.push_back(begin);
    }
    levels.block_begin.push_back(samples.size());
    return levels;
}

/// Total samples in flat runs at full scale (see the constants above).
std::size_t count_clipped_samples(std::span<const float> samples) {
    std::size_t clipped = 0;
    std::size_t n = 0;
    while (n < samples.size()) {
        const float first = samples[n];
        if (std::fabs(first) < full_scale_threshold) {
            ++n;
            continue;
        }
        std::size_t end = n + 1;
        while (end < samples.size() && std::fabs(samples[end]) >= full_scale_threshold &&
               (samples[end] > 0.0F) == (first > 0.0F) &&
               std::fabs(samples[end] - first) <= flat_top_tolerance) {
            ++end;
        }
        if (end - n >= min_clipped_run) {
            clipped += end - n;
        }
        n = end;
    }
    return clipped;
}

/// Least-squares slope in dB per second of block levels [begin, end).
double fit_slope_db_per_s(const BlockLevels& levels, std::size_t begin, std::size_t end) {
    const auto count = static_cast<double>(end - begin);
    double mean_t = 0.0;
    double mean_level = 0.0;
    for (std::size_t b = begin; b < end; ++b) {
        mean_t += levels.time_s[b] / count;
        mean_level += levels.level_db[b] / count;
    }
    double covariance = 0.0;
    double variance = 0.0;
    for (std::size_t b = begin; b < end; ++b) {
        covariance += (levels.time_s[b] - mean_t) * (levels.level_db[b] - mean_level);
        variance += (levels.time_s[b] - mean_t) * (levels.time_s[b] - mean_t);
    }
    return variance > 0.0 ? covariance / variance : 0.0;
}

/// Zero crossings per sample in each third of the blocks within 30 dB of the loudest; empty when
/// there are fewer than three such blocks.
std::vector<double> crossing_rate_by_third(std::span<const float> samples, const BlockLevels& levels) {
    const auto& level = levels.level_db;
    const double active_level = *std::max_element(level.begin(), level.end()) - sweep_active_range_db;
    std::vector<std::size_t> active;
    for (std::size_t b = 0; b < level.size(); ++b) {
        if (level[b] >= active_level) {
            active.push_back(b);
        }
    }
    if (active.size() < 3) {
        return {};
    }

    std::vector<double> rates;
    for (std::size_t third = 0; third < 3; ++third) {
        std::size_t crossings = 0;
        std::size_t length = 0;
        for (std::size_t i = third * active.size() / 3; i < (third + 1) * active.size() / 3; ++i) {
            const std::size_t begin = levels.block_begin[active[i]];
            const std::size_t end = levels.block_begin[active[i] + 1];
            for (std::size_t n = begin + 1; n < end; ++n) {
                crossings += (samples[n - 1] < 0.0F) != (samples[n] < 0.0F) ? 1 : 0;
            }
            length += end - begin;
        }
        if (crossings < min_crossings_per_third) {
            return {};  // too few cycles to tell a rising tone from a decaying low-frequency response
        }
        rates.push_back(static_cast<double>(crossings) / static_cast<double>(length));
    }
    return rates;
}

/// True when the active blocks (within sweep_active_range_db of the maximum) fall by more than
/// sweep_level_spread_db from their first third to their last. A sweep recording keeps its level
/// while the tone rises; an impulse response decays, and in a low-frequency response (a
/// subwoofer's) the last active third is the quiet tail where broadband noise raises the
/// zero-crossing rate without any sweep.
bool decays_across_thirds(const BlockLevels& levels) {
    const auto& level = levels.level_db;
    const double active_level = *std::max_element(level.begin(), level.end()) - sweep_active_range_db;
    std::vector<double> active;
    for (const double l : level) {
        if (l >= active_level) {
            active.push_back(l);
        }
    }
    if (active.size() < 3) {
        return false;
    }
    const auto mean_of = [&](std::size_t third) {
        double sum = 0.0;
        const std::size_t begin = third * active.size() / 3;
        const std::size_t end = (third + 1) * active.size() / 3;
        for (std::size_t i = begin; i < end; ++i) {
            sum += active[i];
        }
        return sum / static_cast<double>(end - begin);
    };
    return mean_of(0) - mean_of(2) > sweep_level_spread_db;
}

/// Decides whether the input is one decaying event; returns the reason when it is not.
std::string reason_not_impulse_response(const SignalQuality& quality, std::span<const float> samples,
                                        const BlockLevels& levels) {
    if (quality.crest_factor_db < min_impulse_response_crest_factor_db) {
        return "crest factor " + format_fixed(quality.crest_factor_db, 1) + " dB is below " +
               format_fixed(min_impulse_response_crest_factor_db, 0) +
               " dB: the energy is spread over the input like a sweep recording or steady noise, "
               "while an impulse response concentrates it in one arrival";
    }

    const auto rates = crossing_rate_by_third(samples, levels);
    if (!rates.empty() && rates[0] > 0.0 && rates[1] >= sweep_crossing_rate_rise * rates[0] &&
        rates[2] >= sweep_crossing_rate_rise * rates[1] && !decays_across_thirds(levels)) {
        return "the zero-crossing rate rises " + format_fixed(rates[2] / rates[0], 1) +
               "-fold from the first to the last third of the signal: a sweep recording, which needs "
               "deconvolution with the played sweep";
    }

    const auto& level = levels.level_db;
    const double max_level = *std::max_element(level.begin(), level.end());
    const double loud_level = max_level - second_event_margin_db;
    const double decayed_level = max_level - min_decay_depth_db;

    // The blocks within 6 dB of the maximum must form one event: no dip of 20 dB between them.
    // Dips are judged on the running maximum over ±10 ms, because 1 ms blocks of a
    // low-frequency response (a sub at 60 Hz has a 17 ms period) dip at every zero crossing.
    const double block_s = levels.time_s.size() > 1 ? levels.time_s[1] - levels.time_s[0] : 1.0;
    const auto reach = static_cast<std::size_t>(std::ceil(dip_smoothing_s / block_s));
    std::vector<double> held(level.size());
    for (std::size_t b = 0; b < level.size(); ++b) {
        const std::size_t begin = b > reach ? b - reach : 0;
        const std::size_t end = std::min(level.size(), b + reach + 1);
        held[b] = *std::max_element(level.begin() + static_cast<std::ptrdiff_t>(begin),
                                    level.begin() + static_cast<std::ptrdiff_t>(end));
    }
    const auto first_loud = static_cast<std::size_t>(
        std::find_if(level.begin(), level.end(), [&](double l) { return l >= loud_level; }) - level.begin());
    const auto last_loud = static_cast<std::size_t>(
        level.rend() - std::find_if(level.rbegin(), level.rend(), [&](double l) { return l >= loud_level; }) - 1);
    for (std::size_t b = first_loud; b <= last_loud; ++b) {
        if (held[b] > decayed_level) {
            continue;
        }
        const auto next_loud = static_cast<std::size_t>(
            std::find_if(level.begin() + static_cast<std::ptrdiff_t>(b), level.end(),
                         [&](double l) { return l >= loud_level; }) - level.begin());
        return "a second event at " + format_fixed(levels.time_s[next_loud], 3) +
               " s comes within " + format_fixed(second_event_margin_db, 0) +
               " dB of the maximum after the level had fallen " +
               format_fixed(min_decay_depth_db, 0) +
               " dB: several impulses or music, not one impulse response";
    }

    const bool decays = std::any_of(level.begin() + static_cast<std::ptrdiff_t>(last_loud), level.end(),
                                    [&](double l) { return l <= decayed_level; });
    if (!decays) {
        return "the level never falls " + format_fixed(min_decay_depth_db, 0) +
               " dB below its maximum: steady noise or a signal without a decay";
    }
    return {};
}

// Truncation: the decay is still falling when the input ends. The decay slope s_decay is a
// least-squares line through the block levels from 5 to 25 dB below the maximum (as far as they
// come before the end window). The end window (last 10 % of the blocks) has its own slope s_end.
// A noise tail is flat (s_end ≈ 0); a fade-out ends far below the decay line; digital silence
// ends the decay. Only a window that keeps falling at s_end <= 0.5·s_decay while its last block
// sits near the decay line is truncated.
// NOTE: a double-slope decay (coupled spaces) cut during its slow late part may fall slower than
// half the early slope and is then not reported as truncated.
bool decay_is_truncated(const BlockLevels& levels) {
    const auto& level = levels.level_db;
    const std::size_t block_count = level.size();
    const std::size_t end_blocks = std::max(
        min_end_window_blocks,
        static_cast<std::size_t>(std::ceil(end_window_fraction * static_cast<double>(block_count))));
    if (block_count < end_blocks + 3 || level.back() <= digital_silence_dbfs) {
        return false;
    }
    const std::size_t end_begin = block_count - end_blocks;

    const auto max_block = static_cast<std::size_t>(
        std::max_element(level.begin(), level.end()) - level.begin());
    if (max_block >= end_begin) {
        return true;  // the maximum sits in the last 10 %: nothing after it can have decayed
    }

    std::size_t fit_begin = max_block + 1;
    while (fit_begin < end_begin && level[fit_begin] > level[max_block] - decay_fit_start_db) {
        ++fit_begin;
    }
    std::size_t fit_end = fit_begin;
    while (fit_end < end_begin && level[fit_end] > level[max_block] - decay_fit_end_db) {
        ++fit_end;
    }
    fit_end = std::min(fit_end + 1, end_begin);
    if (fit_end < fit_begin + 3) {
        // Too few blocks between the 5 dB point and the end window: fit from the maximum.
        fit_begin = max_block;
        fit_end = end_begin;
    }
    if (fit_end < fit_begin + 3) {
        return false;
    }

    const double decay_slope = fit_slope_db_per_s(levels, fit_begin, fit_end);
    if (decay_slope >= 0.0) {
        return false;
    }

    // A decay that keeps falling to the end sits below every earlier block. An end window that is
    // on average no lower than some earlier block has already reached its floor: an electrical
    // loopback response falls to the noise within one block and then stays there.
    const double quietest_before_end =
        *std::min_element(level.begin() + static_cast<std::ptrdiff_t>(max_block),
                          level.begin() + static_cast<std::ptrdiff_t>(end_begin));
    double end_window_mean = 0.0;
    for (std::size_t b = end_begin; b < block_count; ++b) {
        end_window_mean += level[b];
    }
    end_window_mean /= static_cast<double>(block_count - end_begin);
    if (end_window_mean >= quietest_before_end) {
        return false;
    }
    const double end_slope = fit_slope_db_per_s(levels, end_begin, block_count);
    if (end_slope > still_decaying_slope_ratio * decay_slope) {
        return false;
    }

    // Decay line through the fitted blocks' mean point, extrapolated to the last block.
    double mean_t = 0.0;
    double mean_level = 0.0;
    for (std::size_t b = fit_begin; b < fit_end; ++b) {
        mean_t += levels.time_s[b];
        mean_level += level[b];
    }
    mean_t /= static_cast<double>(fit_end - fit_begin);
    mean_level /= static_cast<double>(fit_end - fit_begin);
    const double line_at_end = mean_level + decay_slope * (levels.time_s.back() - mean_t);
    return level.back() >= line_at_end - fade_out_margin_db;
}

}  // namespace

SignalQuality assess_signal_quality(std::span<const float> samples, double sample_rate_hz) {
    validate_input(samples, sample_rate_hz);
    SignalQuality quality;
    if (samples.empty()) {
        quality.dead = true;
        quality.peak_dbfs = quality.rms_dbfs = quality.noise_floor_dbfs = db_from_amplitude(0.0);
        quality.not_impulse_response_reason = "the input is empty";
        return quality;
    }

    double peak = 0.0;
    double energy = 0.0;
    for (const float sample : samples) {
        peak = std::max(peak, std::fabs(static_cast<double>(sample)));
        energy += static_cast<double>(sample) * static_cast<double>(sample);
    }
    quality.peak_dbfs = db_from_amplitude(peak);
    quality.rms_dbfs = db_from_power(energy / static_cast<double>(samples.size()));
    quality.crest_factor_db = quality.peak_dbfs - quality.rms_dbfs;
    quality.clipped_samples = count_clipped_samples(samples);
    quality.clipped = quality.clipped_samples > 0;

    const BlockLevels levels = measure_block_levels(samples, sample_rate_hz);
    std::vector<double> sorted = levels.level_db;
    const auto percentile_index =
        static_cast<std::size_t>(noise_floor_percentile * static_cast<double>(sorted.size() - 1));
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(percentile_index), sorted.end());
    quality.noise_floor_dbfs = sorted[percentile_index];
    quality.peak_to_noise_db = quality.peak_dbfs - quality.noise_floor_dbfs;

    const auto [lowest, highest] = std::minmax_element(samples.begin(), samples.end());
    if (*lowest == *highest || quality.peak_dbfs < dead_peak_floor_dbfs) {
        quality.dead = true;
        quality.not_impulse_response_reason =
            *lowest == *highest ? "every sample has the same value"
                                : "the peak " + format_fixed(quality.peak_dbfs, 1) + " dBFS is below " +
                                      format_fixed(dead_peak_floor_dbfs, 0) + " dBFS";
        return quality;
    }

    quality.not_impulse_response_reason = reason_not_impulse_response(quality, samples, levels);
    quality.impulse_response = quality.not_impulse_response_reason.empty();
    // A band-limited response (a subwoofer turned down) can decay into noise that lies outside its
    // band. Its decay is judged again in the band where its power lies, as the arrival estimate
    // judges its direct sound there, and the response counts when it decays there.
    if (!quality.impulse_response && quality.crest_factor_db >= min_impulse_response_crest_factor_db) {
        if (const auto band = detail::band_limited_response(samples, sample_rate_hz)) {
            SignalQuality in_band = quality;
            const BlockLevels band_levels = measure_block_levels(band->samples, sample_rate_hz);
            if (reason_not_impulse_response(in_band, band->samples, band_levels).empty()) {
                quality.impulse_response = true;
                quality.impulse_response_note = "judged as an impulse response in its band, " +
                                                format_fixed(band->low_hz, 0) + " to " + format_fixed(band->high_hz, 0) +
                                                " Hz: over the whole band " + quality.not_impulse_response_reason;
                quality.not_impulse_response_reason.clear();
            }
        }
    }
    // Truncation is judged only on an impulse response: noise and music have no decay to end.
    quality.truncated = quality.impulse_response && decay_is_truncated(levels);
    return quality;
}

}  // namespace linetune::analysis
