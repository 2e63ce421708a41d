#include "linetune/capture/multi_sweep.hpp"

#include "linetune/analysis/arrival.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace linetune::capture {
namespace {

// The pre-roll kept before each response: the same rule as analysis::SweepRecordingOptions
// (10 ms, at most a quarter of the 2nd harmonic's advance L·ln 2), so that a zone's response
// from a multiple-sweep pass has the layout of one from a sequential pass.
constexpr double default_pre_roll_s = 0.01;
constexpr double max_pre_roll_fraction_of_h2_advance = 0.25;

// A response whose direct sound is less than 10 dB above its noise recorded no sweep; the level
// at which analysis::Arrival::confidence reaches 0 (as for sequential recordings).
constexpr double dead_direct_to_noise_db = 10.0;

// Share of the window whose energy is reported as its end (MultiSweepSeparation::window_end_db).
constexpr double window_end_fraction = 0.1;

/// A stretch [start, end) of the circular deconvolution, in frames after the start of playback;
/// start may be negative (a harmonic response that precedes the pass wraps to its end).
struct Span {
    double start = 0.0;
    double end = 0.0;
};

bool overlaps(const Span& a, const Span& b, double guard) { return a.start < b.end + guard && b.start < a.end + guard; }

/// Where the responses of a zone whose sweep starts at `offset` lie after deconvolution: the
/// linear one from its offset, harmonic n earlier by L·ln n (Farina, AES 108th Convention, 2000).
Span linear_span(double offset, double pre_roll, double window) { return {offset - pre_roll, offset + window}; }

Span harmonic_span(double offset, double advance, double pre_roll, double window) {
    return {offset - advance - pre_roll, offset - advance + window};
}

std::size_t pre_roll_frames(const SweepParameters& sweep) {
    const double h2_advance_frames = harmonic_advance_s(sweep, 2) * sweep.sample_rate_hz;
    return static_cast<std::size_t>(std::min(std::round(default_pre_roll_s * sweep.sample_rate_hz),
                                             std::floor(max_pre_roll_fraction_of_h2_advance * h2_advance_frames)));
}

/// Greedy placement: each zone starts at the earliest offset after the previous zone's window
/// where none of its harmonic responses meets a placed zone's linear one. A conflict moves the
/// offset just far enough that the harmonic response lies after the linear one it met. Earlier
/// zones' harmonic responses precede their own offsets and so the new zone's linear response too.
/// When the sweep is long against the window this interleaves zones between the harmonics (the
/// multiple exponential sweep method, Majdak, Balazs & Laback, JAES 55(7/8), 2007).
std::vector<double> place_offsets(std::size_t zone_count, const std::vector<double>& advances, double pre_roll,
                                  double window, double guard) {
    std::vector<double> offsets;
    std::vector<Span> linear;
    for (std::size_t zone = 0; zone < zone_count; ++zone) {
        double offset = offsets.empty() ? 0.0 : offsets.back() + window + pre_roll + guard;
        for (bool moved = true; moved;) {
            moved = false;
            for (const double advance : advances) {
                const Span harmonic = harmonic_span(offset, advance, pre_roll, window);
                for (const Span& placed : linear) {
                    // Only a real move counts: rounding can leave a harmonic response that was just
                    // moved past a linear one touching it by a fraction of a frame.
                    const double after_placed = placed.end + guard + advance + pre_roll;
                    if (overlaps(harmonic, placed, guard) && after_placed > offset + 0.5) {
                        offset = after_placed;
                        moved = true;
                    }
                }
            }
        }
        offsets.push_back(std::ceil(offset));
        linear.push_back(linear_span(offsets.back(), pre_roll, window));
    }
    return offsets;
}

std::size_t most_overlapping(const std::vector<std::size_t>& offsets, std::size_t sweep_frames) {
    std::size_t most = 1;
    for (const std::size_t start : offsets) {
        const auto playing = std::count_if(offsets.begin(), offsets.end(), [&](std::size_t other) {
            return other <= start && start < other + sweep_frames;
        });
        most = std::max(most, static_cast<std::size_t>(playing));
    }
    return most;
}

void check_plan_inputs(const std::vector<std::string>& zones, double tail_s, const MultiSweepOptions& options) {
    if (zones.empty()) {
        throw Error("the multiple-sweep method needs at least one zone; name the zones to measure",
                    ErrorKind::configuration);
    }
    if (!(tail_s > 0.0) || !std::isfinite(tail_s)) {
        throw Error("the impulse-response window is " + format_significant(tail_s) +
                        " s; give the room's decay time (over 0 s)",
                    ErrorKind::configuration);
    }
    if (options.highest_harmonic < 1 || options.highest_harmonic > 10) {
        throw Error("highest harmonic " + std::to_string(options.highest_harmonic) +
                        " is outside 1 to 10; keep the 2nd and 3rd clear (3)",
                    ErrorKind::configuration);
    }
    if (!(options.guard_s >= 0.0) || !std::isfinite(options.guard_s)) {
        throw Error("guard " + format_significant(options.guard_s) + " s is invalid; give 0 s or more",
                    ErrorKind::configuration);
    }
}

}  // namespace

MultiSweepPlan plan_multi_sweep(const std::vector<std::string>& zones, const SweepParameters& sweep, double tail_s,
                                const MultiSweepOptions& options) {
    check_plan_inputs(zones, tail_s, options);
    validate(sweep);
    const double rate_hz = sweep.sample_rate_hz;
    MultiSweepPlan plan;
    plan.zones = zones;
    plan.ceiling_dbfs = sweep.level_dbfs;
    plan.sweep = sweep;
    plan.sweep_frames = generate_exponential_sweep(sweep).size();
    plan.pre_roll_frames = pre_roll_frames(sweep);
    plan.window_frames = static_cast<std::size_t>(std::round(tail_s * rate_hz));

    const double guard = std::round(options.guard_s * rate_hz);
    const auto pre_roll = static_cast<double>(plan.pre_roll_frames);
    const auto window = static_cast<double>(plan.window_frames);
    std::vector<double> advances;
    for (int harmonic = 2; harmonic <= options.highest_harmonic; ++harmonic) {
        advances.push_back(harmonic_advance_s(sweep, harmonic) * rate_hz);
    }
    // The first zone's harmonic responses precede the pass and wrap to the end of the circular
    // deconvolution, which is at least record_frames long: they stay clear of the last zone's
    // window when the sweep is longer than the largest advance plus pre-roll and guard.
    const double largest_advance = advances.empty() ? 0.0 : advances.back();
    if (static_cast<double>(plan.sweep_frames) < largest_advance + pre_roll + guard) {
        throw Error("a " + format_significant(sweep_duration_s(sweep)) + " s sweep is too short for the multiple-sweep "
                        "method: its harmonic " + std::to_string(options.highest_harmonic) + " precedes the linear "
                        "response by more than the sweep lasts; sweep for at least " +
                        format_significant(2.0 * (largest_advance + pre_roll + guard) / rate_hz) + " s",
                    ErrorKind::configuration);
    }

    for (const double offset : place_offsets(zones.size(), advances, pre_roll, window, guard)) {
        plan.offsets_frames.push_back(static_cast<std::size_t>(offset));
    }
    plan.record_frames = plan.offsets_frames.back() + plan.sweep_frames + plan.window_frames;
    plan.max_overlapping = most_overlapping(plan.offsets_frames, plan.sweep_frames);
    // The peaks of M sweeps add at most to M times one peak, so each plays 20·log10(M) dB lower.
    plan.sweep.level_dbfs = sweep.level_dbfs - db_from_amplitude(static_cast<double>(plan.max_overlapping));
    plan.sound_s = static_cast<double>(plan.record_frames) / rate_hz;
    plan.sequential_sound_s = static_cast<double>(zones.size() * (plan.sweep_frames + plan.window_frames)) / rate_hz;
    return plan;
}

std::vector<float> multi_sweep_playback(const MultiSweepPlan& plan, std::size_t zone_index) {
    const std::vector<float> sweep = generate_exponential_sweep(plan.sweep);
    std::vector<float> playback(plan.record_frames, 0.0F);
    std::copy(sweep.begin(), sweep.end(),
              playback.begin() + static_cast<std::ptrdiff_t>(plan.offsets_frames.at(zone_index)));
    return playback;
}

std::vector<float> multi_sweep_loopback_playback(const MultiSweepPlan& plan) {
    const std::vector<float> sweep = generate_exponential_sweep(plan.sweep);
    std::vector<float> playback(plan.record_frames, 0.0F);
    std::copy(sweep.begin(), sweep.end(), playback.begin());
    return playback;
}

namespace {

std::string channel_label(const analysis::SweepRecordingLayout& layout, std::size_t channel) {
    if (channel <= layout.channel_names.size() && !layout.channel_names[channel - 1].empty()) {
        return "channel " + std::to_string(channel) + " (" + layout.channel_names[channel - 1] + ")";
    }
    return "channel " + std::to_string(channel);
}

/// The zone's response from the circular deconvolution d of length N:
/// [d[(offset − pre_roll) mod N], ..., d[(offset + window − 1) mod N]].
void cut_window(const std::vector<float>& circular, std::size_t offset, std::size_t pre_roll, std::span<float> response) {
    const std::size_t size = circular.size();
    const std::size_t start = (offset + size - pre_roll % size) % size;
    for (std::size_t n = 0; n < response.size(); ++n) {
        response[n] = circular[(start + n) % size];
    }
}

double window_end_db(std::span<const float> response) {
    const auto end_frames = std::max<std::size_t>(1, static_cast<std::size_t>(window_end_fraction * response.size()));
    double end_energy = 0.0;
    double energy = 0.0;
    for (std::size_t n = 0; n < response.size(); ++n) {
        const double power = static_cast<double>(response[n]) * response[n];
        energy += power;
        if (n + end_frames >= response.size()) {
            end_energy += power;
        }
    }
    return energy > 0.0 ? db_from_power(std::max(end_energy, 1e-30 * energy) / energy) : 0.0;
}

/// Level, clipping, deadness and arrival of one mic's response, as a sequential recording reports them.
analysis::RecordedChannel assess_mic(std::span<const float> recording, std::span<const float> response,
                                     double sample_rate_hz, const analysis::SweepRecordingLayout& layout,
                                     std::size_t channel) {
    analysis::RecordedChannel result;
    result.channel = channel;
    result.name = channel <= layout.channel_names.size() && !layout.channel_names[channel - 1].empty()
                      ? layout.channel_names[channel - 1]
                      : "channel " + std::to_string(channel);
    const std::string label = channel_label(layout, channel);
    const analysis::InputLevel level = analysis::measure_input_level(recording, sample_rate_hz);
    result.peak_dbfs = level.peak_dbfs;
    result.clipped = level.clipped;
    if (result.clipped) {
        result.notes.push_back(label + " clipped (peak " + format_fixed(level.peak_dbfs, 1) +
                               " dBFS); lower the output level or the input gain and measure again");
    }
    if (std::all_of(response.begin(), response.end(), [](float x) { return x == 0.0F; })) {
        result.dead = true;
        result.notes.push_back(label + " recorded no sweep: its impulse response is all zero; check the wiring");
        return result;
    }
    analysis::Arrival arrival = analysis::estimate_arrival(response, sample_rate_hz);
    if (arrival.confidence <= 0.0) {
        result.dead = true;
        result.notes.push_back(label + " recorded no sweep: its impulse response is less than " +
                               format_fixed(dead_direct_to_noise_db, 0) +
                               " dB above the noise; check the mic, its cable and the input gain");
        return result;
    }
    result.arrival = std::move(arrival);
    return result;
}

}  // namespace

// The whole recording y = Σ_k h_k ∗ x(t − o_k) is deconvolved with the one sweep x that every
// zone plays (circularly, modulo N >= the recording's length), which gives Σ_k h_k(t − o_k) plus
// each zone's harmonic responses L·ln n earlier. plan_multi_sweep placed the offsets o_k so that
// [o_k − pre_roll, o_k + window) contains zone k's linear response alone.
analysis::SweepRecordingImpulseResponses multi_sweep_impulse_responses(
    const MultichannelSignal& recording, analysis::SweepDeconvolver& deconvolver,
    const analysis::SweepRecordingLayout& layout, std::size_t offset_frames, std::size_t window_frames,
    std::vector<MultiSweepSeparation>& separation, const analysis::SweepRecordingOptions& options) {
    const double sample_rate_hz = recording.sample_rate_hz();
    const std::size_t sweep_frames = static_cast<std::size_t>(
        std::ceil(static_cast<double>(deconvolver.sweep().first_sample) + deconvolver.sweep().duration_s * sample_rate_hz));
    if (recording.channel_count() == 0 || recording.frame_count() < offset_frames + sweep_frames + window_frames) {
        throw Error("the multiple-sweep recording has " + std::to_string(recording.frame_count()) +
                        " frames, fewer than the zone's offset, sweep and window (" +
                        std::to_string(offset_frames + sweep_frames + window_frames) + "); measure the zones again",
                    ErrorKind::input);
    }

    // The time base comes from the loopback (or, without one, the first channel) cut to the first
    // sweep and its window: that is a sequential recording of one sweep, so the analysis layer
    // judges it and picks the pre-roll as it does for sequential passes.
    const std::size_t reference_index = layout.loopback_channel ? *layout.loopback_channel - 1 : 0;
    MultichannelSignal reference(1, sweep_frames + window_frames, sample_rate_hz);
    const auto source = recording.channel(reference_index);
    std::copy(source.begin(), source.begin() + static_cast<std::ptrdiff_t>(reference.frame_count()),
              reference.channel(0).begin());
    analysis::SweepRecordingLayout reference_layout;
    if (layout.loopback_channel) {
        reference_layout.loopback_channel = 1;
    }
    if (reference_index < layout.channel_names.size()) {
        reference_layout.channel_names.push_back(layout.channel_names[reference_index]);
    }
    const analysis::SweepRecordingImpulseResponses timed =
        analysis::impulse_responses_from_sweep_recording(reference, deconvolver, reference_layout, options);

    analysis::SweepRecordingImpulseResponses result;
    result.pre_roll_samples = timed.pre_roll_samples;
    result.band = timed.band;
    result.loopback_status = timed.loopback_status;
    result.latency_samples = timed.latency_samples;
    result.notes = timed.notes;
    const std::size_t frames = timed.pre_roll_samples + window_frames;
    result.impulse_responses = MultichannelSignal(recording.channel_count(), frames, sample_rate_hz);
    result.impulse_responses.time_base = timed.impulse_responses.time_base;
    separation.assign(recording.channel_count(), MultiSweepSeparation{});

    for (std::size_t index = 0; index < recording.channel_count(); ++index) {
        const auto response = result.impulse_responses.channel(index);
        if (layout.loopback_channel && index == reference_index) {
            const auto loopback = timed.impulse_responses.channel(0);
            std::copy_n(loopback.begin(), std::min(loopback.size(), frames), response.begin());
            analysis::RecordedChannel channel = timed.channels.front();
            channel.channel = index + 1;
            result.channels.push_back(std::move(channel));
            continue;
        }
        cut_window(deconvolver.deconvolve(recording.channel(index)), offset_frames, timed.pre_roll_samples, response);
        result.channels.push_back(assess_mic(recording.channel(index), response, sample_rate_hz, layout, index + 1));
        separation[index].window_end_db = window_end_db(response);
    }
    return result;
}

}  // namespace linetune::capture
