#include "linetune/analysis/arrival.hpp"

#include "band_limited_response.hpp"

#include "linetune/analysis/fft.hpp"
#include "golden_section.hpp"
#include "linetune/analysis/window.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace linetune::analysis {
namespace {

// ISO 3382-1 (A.3.4) places the start of an impulse response where the signal first comes within
// 20 dB of its maximum.
constexpr double start_threshold_db = 20.0;
// A direct sound counts when its envelope comes within this distance of the envelope maximum.
// A guitar cabinet or a position behind an obstacle can have a direct sound well below a later
// path; 20 dB keeps those while staying above a typical measurement's noise and pre-ringing.
constexpr double direct_sound_range_db = 20.0;
// After the envelope first crosses that threshold, its largest value within this time is the
// direct sound's peak (then followed uphill to the local maximum). It must cover pre-ringing
// side lobes before the main lobe, yet end before the earliest strong reflection.
// NOTE: a reflection more than 6 dB stronger than the direct sound and less than 1 ms behind it
// (a floor bounce at a near-grazing angle) is taken as the direct sound.
constexpr double direct_sound_window_ms = 1.0;
// Within that millisecond, the first local envelope maximum within this distance of the largest
// one is the direct sound. Two nearly equal arrivals (direct sound and a close reflection) thus
// resolve to the first, and pre-ringing side lobes (13 dB or more below the main lobe) are skipped.
constexpr double direct_peak_margin_db = 6.0;
// ...and counts as a separate arrival only when the envelope falls at least this far below it
// before the stronger peak. Smaller dips are ripple on one pulse; a larger value would merge a
// direct sound with a reflection less than a millisecond behind it.
constexpr double separate_arrival_valley_db = 3.0;
// The onset is where the direct sound's envelope rises through this level below its own peak.
constexpr double onset_threshold_db = 20.0;
// Noise before the arrival is measured up to this time before the onset, so that the rising
// edge of the direct sound does not count as noise...
constexpr double pre_arrival_guard_ms = 0.5;
// ...and is used only when at least this much of it remains. Otherwise the noise is measured
// over the last 10 % of the input.
constexpr double min_pre_arrival_ms = 1.0;
constexpr double noise_tail_fraction = 0.10;
// Confidence maps the direct-to-noise ratio linearly from 0 at 10 dB (Hilbert envelope peaks of
// Gaussian noise reach about 10 dB above its RMS in a second of audio) to 1 at 40 dB.
constexpr double confidence_zero_db = 10.0;
constexpr double confidence_full_db = 40.0;
// The polarity is reported as uncertain when the direct sound's largest sample of the other sign
// comes within this distance of its largest sample (a pulse with its phase near ±90°).
constexpr double polarity_margin_db = 2.0;
// Golden-section iterations for the sub-sample peak: the bracket shrinks by 0.618 each time, so
// 40 iterations narrow 2 samples to under 1e-8 sample.
constexpr int peak_search_iterations = 40;
// Half-width in samples of the segment the sub-sample interpolation works on (43 ms at 48 kHz),
// and the taper fraction of its edges.
constexpr std::size_t interpolation_half_width = 2048;
constexpr double segment_taper_fraction = 0.25;
// The envelope is computed from the start of the input to this long after the largest sample,
// because the direct sound and the paths that compete with it lie there. The rest of a long
// response would only cost memory (an analytic signal of 2^20 samples needs about 80 MB).
constexpr double envelope_after_peak_ms = 50.0;
// The in-band judgement is tried only below this broadband direct-to-noise ratio. There noise
// envelope peaks (about 10 dB above the noise RMS) come within 10 dB of the direct sound, so
// they can start the search for it, and below 10 dB the channel would count as dead. Above it
// the broadband arrival is kept, because its timing is sharper.
constexpr double in_band_trial_below_db = 20.0;
// ...and replaces the broadband one only when it raises the direct-to-noise ratio by at least
// this much, i.e. when the band contains at most a quarter of the noise power. A full-range
// response thus keeps its broadband (unfiltered) arrival.
constexpr double min_in_band_gain_db = 6.0;

void validate_input(std::span<const float> ir, double sample_rate_hz) {
    std::ostringstream message;
    if (!(sample_rate_hz > 0.0) || !std::isfinite(sample_rate_hz)) {
        message << "sample rate " << sample_rate_hz << " Hz is invalid: it must be above 0 Hz";
        throw Error(message.str());
    }
    if (ir.empty()) {
        throw Error("the impulse response is empty: there is no arrival to find; check the file or the channel");
    }
    for (std::size_t n = 0; n < ir.size(); ++n) {
        if (!std::isfinite(ir[n])) {
            message << "sample " << n << " is " << ir[n]
                    << ": the audio contains NaN or infinite values; re-export it as PCM or as float without them";
            throw Error(message.str());
        }
    }
    if (std::all_of(ir.begin(), ir.end(), [](float x) { return x == 0.0F; })) {
        throw Error("every sample of the impulse response is zero: there is no arrival to find; "
                    "check the recording or the export");
    }
}

/// Band-limited interpolation of the analytic signal z = x + j·H{x} between samples, over a
/// local segment of the input around the direct sound. With X[k] the DFT of the segment
/// (first sample `offset`) zero-padded to N,
///   z(t) = (1/N) · Σ_{k=0}^{N/2} c_k · X[k] · e^{j2πk(t − offset)/N},  c_0 = c_{N/2} = 1, c_k = 2 otherwise,
/// which is the exact band-limited (DFT) interpolation of the segment's analytic signal. One
/// evaluation costs N/2 complex multiply-adds, so the segment is kept short: the pulse's energy
/// sits near its peak, and the segment's Tukey-tapered edges are interpolation_half_width samples
/// away from it, where they cannot shift the envelope maximum measurably (the fractional-delay
/// test holds the result to 0.05 samples).
class AnalyticInterpolator {
public:
    AnalyticInterpolator(std::span<const float> x, std::size_t centre) {
        offset_ = centre > interpolation_half_width ? centre - interpolation_half_width : 0;
        const std::size_t end = std::min(x.size(), centre + interpolation_half_width + 1);
        const std::size_t length = end - offset_;
        size_ = next_fast_fft_size(2 * length);
        spectrum_.resize(size_ / 2 + 1);

        const std::vector<double> taper = tukey_window(length, segment_taper_fraction);
        std::vector<double> input(length);
        for (std::size_t n = 0; n < length; ++n) {
            // Keep the direct sound itself untapered when the segment is cut short by a file edge.
            const bool near_centre = offset_ + n + interpolation_half_width / 2 > centre &&
                                     offset_ + n < centre + interpolation_half_width / 2;
            input[n] = static_cast<double>(x[offset_ + n]) * (near_centre ? 1.0 : taper[n]);
        }
        RealFft<double> fft(size_);
        fft.forward(input, spectrum_);
        for (std::size_t k = 1; k < spectrum_.size(); ++k) {
            const bool nyquist = size_ % 2 == 0 && k == size_ / 2;
            spectrum_[k] *= nyquist ? 1.0 : 2.0;
        }
    }

    [[nodiscard]] std::complex<double> value_at(double t) const {
        const double step_rad = 2.0 * pi * (t - static_cast<double>(offset_)) / static_cast<double>(size_);
        const std::complex<double> rotation = std::polar(1.0, step_rad);
        std::complex<double> phasor{1.0, 0.0};
        std::complex<double> sum{0.0, 0.0};
        for (const auto& bin : spectrum_) {
            sum += bin * phasor;
            phasor *= rotation;
        }
        return sum / static_cast<double>(size_);
    }

private:
    std::size_t offset_ = 0;
    std::size_t size_ = 0;
    std::vector<std::complex<double>> spectrum_;
};

/// Position in [low, high] of the largest envelope |z(t)|, by golden-section search; the
/// envelope must have a single maximum in the bracket.
double refine_envelope_peak(const AnalyticInterpolator& analytic, double low, double high) {
    const auto envelope_power = [&](double t) { return std::norm(analytic.value_at(t)); };
    return golden_section_maximum(envelope_power, low, high, peak_search_iterations);
}

/// Exact definitions shared with the reference timing of the test data: peak = first index of
/// the largest |x|; start = first index with |x| >= peak·10^(−20/20).
void find_peak_and_start(std::span<const float> ir, Arrival& arrival) {
    double peak = 0.0;
    for (std::size_t n = 0; n < ir.size(); ++n) {
        const double magnitude = std::fabs(static_cast<double>(ir[n]));
        if (magnitude > peak) {
            peak = magnitude;
            arrival.peak_sample = n;
        }
    }
    const double start_level = peak * amplitude_from_db(-start_threshold_db);
    for (std::size_t n = 0; n < ir.size(); ++n) {
        if (std::fabs(static_cast<double>(ir[n])) >= start_level) {
            arrival.start_sample = n;
            break;
        }
    }
    arrival.peak_position_fraction = static_cast<double>(arrival.peak_sample) / static_cast<double>(ir.size());
}

/// Finds the index of the direct sound's envelope peak. The search starts where the envelope first
/// comes within 20 dB of its maximum. The largest envelope value in the following millisecond,
/// followed uphill, sets a level, and the first local maximum within 6 dB of it is the peak.
std::size_t find_direct_sound(const std::vector<double>& envelope, double sample_rate_hz) {
    const double envelope_max = *std::max_element(envelope.begin(), envelope.end());
    const double threshold = envelope_max * amplitude_from_db(-direct_sound_range_db);
    const auto first = static_cast<std::size_t>(
        std::find_if(envelope.begin(), envelope.end(), [&](double e) { return e >= threshold; }) -
        envelope.begin());

    const auto window = static_cast<std::size_t>(
        std::max(2.0, std::round(samples_from_ms(direct_sound_window_ms, sample_rate_hz))));
    const std::size_t window_end = std::min(envelope.size(), first + window + 1);
    auto strongest = static_cast<std::size_t>(
        std::max_element(envelope.begin() + static_cast<std::ptrdiff_t>(first),
                         envelope.begin() + static_cast<std::ptrdiff_t>(window_end)) -
        envelope.begin());
    while (strongest + 1 < envelope.size() && envelope[strongest + 1] > envelope[strongest]) {
        ++strongest;
    }

    const double direct_level = envelope[strongest] * amplitude_from_db(-direct_peak_margin_db);
    for (std::size_t n = first; n < strongest; ++n) {
        const bool local_max = (n == 0 || envelope[n] >= envelope[n - 1]) && envelope[n] >= envelope[n + 1];
        if (!local_max || envelope[n] < direct_level) {
            continue;
        }
        // A separate arrival has a valley after it. A ripple on the rising edge of one broad pulse
        // (a woofer's band-limited direct sound) has none, so it belongs to the stronger peak.
        const double valley = *std::min_element(envelope.begin() + static_cast<std::ptrdiff_t>(n),
                                                envelope.begin() + static_cast<std::ptrdiff_t>(strongest) + 1);
        if (valley <= envelope[n] * amplitude_from_db(-separate_arrival_valley_db)) {
            return n;
        }
    }
    return strongest;
}

/// Sign of the largest |x| in the direct sound's main lobe, from the onset to as far after the
/// envelope peak; `uncertain` is set when the largest sample of the other sign comes within 2 dB.
int direct_sound_polarity(std::span<const float> ir, double onset_sample, double arrival_sample, bool& uncertain) {
    const double half_width = std::max(1.0, arrival_sample - onset_sample);
    const auto begin = static_cast<std::size_t>(std::max(0.0, std::floor(arrival_sample - half_width)));
    const auto end = std::min(ir.size(), static_cast<std::size_t>(std::ceil(arrival_sample + half_width)) + 1);
    double largest_positive = 0.0;
    double largest_negative = 0.0;
    for (std::size_t n = begin; n < end; ++n) {
        largest_positive = std::max(largest_positive, static_cast<double>(ir[n]));
        largest_negative = std::max(largest_negative, -static_cast<double>(ir[n]));
    }
    const double larger = std::max(largest_positive, largest_negative);
    const double smaller = std::min(largest_positive, largest_negative);
    uncertain = smaller >= larger * amplitude_from_db(-polarity_margin_db);
    return largest_positive >= largest_negative ? 1 : -1;
}

/// Sub-sample position where the envelope, walking back from the direct sound's peak, last lies
/// at or below `level`; 0 when it never does.
double find_onset(const std::vector<double>& envelope, std::size_t direct_peak, double level) {
    std::size_t n = direct_peak;
    while (n > 0 && envelope[n] > level) {
        --n;
    }
    if (envelope[n] > level) {
        return 0.0;
    }
    const double rise = envelope[n + 1] - envelope[n];
    return static_cast<double>(n) + (rise > 0.0 ? (level - envelope[n]) / rise : 0.0);
}

/// RMS of the envelope over samples [begin, end).
double envelope_rms(const std::vector<double>& envelope, std::size_t begin, std::size_t end) {
    double power = 0.0;
    for (std::size_t n = begin; n < end; ++n) {
        power += envelope[n] * envelope[n];
    }
    return std::sqrt(power / static_cast<double>(std::max<std::size_t>(1, end - begin)));
}

/// Direct-sound envelope peak over the noise before it, in dB (see Arrival::confidence).
double direct_to_noise_db(std::span<const float> ir, const std::vector<double>& envelope, double onset_sample,
                          double direct_envelope, double sample_rate_hz) {
    const double pre_arrival_end = onset_sample - samples_from_ms(pre_arrival_guard_ms, sample_rate_hz);
    double noise_rms = 0.0;
    if (pre_arrival_end >= samples_from_ms(min_pre_arrival_ms, sample_rate_hz)) {
        noise_rms = envelope_rms(envelope, 0, static_cast<std::size_t>(pre_arrival_end));
    } else {
        // The envelope stops shortly after the peak, so the tail's noise is measured on the samples:
        // for noise, the envelope's RMS is √2 times the samples' RMS (x and H{x} carry equal power).
        const auto tail = std::max<std::size_t>(1, static_cast<std::size_t>(noise_tail_fraction * static_cast<double>(ir.size())));
        double power = 0.0;
        for (std::size_t n = ir.size() - tail; n < ir.size(); ++n) {
            power += static_cast<double>(ir[n]) * static_cast<double>(ir[n]);
        }
        noise_rms = std::sqrt(2.0 * power / static_cast<double>(tail));
    }
    return db_from_amplitude(direct_envelope) - db_from_amplitude(noise_rms);
}

void add_notes(Arrival& arrival, const std::vector<double>& envelope, std::size_t direct_peak,
               double direct_envelope, bool polarity_uncertain, double direct_to_noise, double sample_rate_hz, double time_zero_sample) {
    const auto ms = [&](double sample) {
        return format_fixed(ms_from_samples(sample - time_zero_sample, sample_rate_hz), 1);
    };

    const auto envelope_max_index = static_cast<std::size_t>(
        std::max_element(envelope.begin(), envelope.end()) - envelope.begin());
    const auto window = samples_from_ms(direct_sound_window_ms, sample_rate_hz);
    if (static_cast<double>(envelope_max_index) > static_cast<double>(direct_peak) + window) {
        const double weaker_db = db_from_amplitude(envelope[envelope_max_index]) - db_from_amplitude(direct_envelope);
        arrival.notes.push_back("largest peak at " + ms(static_cast<double>(arrival.peak_sample)) +
                                " ms is a later path; direct sound at " + ms(arrival.arrival_sample) +
                                " ms is " + format_fixed(weaker_db, 0) + " dB weaker in envelope");
    }
    if (arrival.onset_sample == 0.0) {
        arrival.notes.emplace_back(
            "the input starts inside the direct sound: its onset is cut off, so the onset is reported at sample 0");
    }
    if (direct_to_noise < confidence_zero_db + 0.25 * (confidence_full_db - confidence_zero_db)) {
        arrival.notes.push_back("the direct sound is only " + format_fixed(direct_to_noise, 1) +
                                " dB above the noise: the arrival may be a noise peak");
    }
    if (polarity_uncertain) {
        arrival.notes.emplace_back("polarity is uncertain: the direct sound's largest positive and negative "
                                   "samples are within 2 dB of each other");
    }
}

/// The direct sound of one version of the input (whole band or band-limited): its envelope,
/// peak, onset, polarity and direct-to-noise ratio.
struct DirectSoundFit {
    std::vector<double> envelope;
    std::size_t direct_peak = 0;
    double arrival_sample = 0.0;
    double onset_sample = 0.0;
    double direct_envelope = 0.0;
    double direct_to_noise_db = 0.0;
    int polarity = 1;
    bool polarity_uncertain = false;
};

DirectSoundFit fit_direct_sound(std::span<const float> ir, double sample_rate_hz) {
    const auto largest = static_cast<std::size_t>(
        std::max_element(ir.begin(), ir.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - ir.begin());
    const auto envelope_end = std::min(
        ir.size(), largest + 1 + static_cast<std::size_t>(samples_from_ms(envelope_after_peak_ms, sample_rate_hz)));
    const auto analytic = analytic_signal(ir.first(envelope_end));
    DirectSoundFit fit;
    fit.envelope.resize(analytic.size());
    std::transform(analytic.begin(), analytic.end(), fit.envelope.begin(),
                   [](std::complex<double> z) { return std::abs(z); });

    fit.direct_peak = find_direct_sound(fit.envelope, sample_rate_hz);
    const AnalyticInterpolator interpolator(ir, fit.direct_peak);
    const double low = fit.direct_peak == 0 ? 0.0 : static_cast<double>(fit.direct_peak) - 1.0;
    const double high = std::min(static_cast<double>(ir.size() - 1), static_cast<double>(fit.direct_peak) + 1.0);
    fit.arrival_sample = refine_envelope_peak(interpolator, low, high);

    fit.direct_envelope = std::abs(interpolator.value_at(fit.arrival_sample));
    fit.onset_sample = find_onset(fit.envelope, fit.direct_peak, fit.direct_envelope * amplitude_from_db(-onset_threshold_db));
    fit.polarity = direct_sound_polarity(ir, fit.onset_sample, fit.arrival_sample, fit.polarity_uncertain);
    fit.direct_to_noise_db =
        direct_to_noise_db(ir, fit.envelope, fit.onset_sample, fit.direct_envelope, sample_rate_hz);
    return fit;
}


}  // namespace

// Direct sound (the first strong arrival, which need not be the largest sample):
//  1. The Hilbert envelope e = |x + j·H{x}| follows the energy of the arrival whatever its phase,
//     so a band-pass or phase-rotated direct sound is found as well as a clean impulse.
//  2. The search starts at the first sample where e comes within 20 dB of its maximum. The
//     largest e in the next millisecond, followed uphill, sets a level. The first local maximum
//     within 6 dB of that level is the direct sound's peak. A later, stronger path (a guitar cabinet's
//     reflections, a blocked line of sight) is therefore not taken for it.
//  3. The peak is refined to a sub-sample position by maximising |z(t)| under band-limited (DFT)
//     interpolation of the analytic signal z. For a symmetric band-limited pulse the envelope
//     peaks at the pulse centre, so the estimate is unbiased for a pure delay.
//  4. Polarity is the sign of the largest sample in the direct sound's main lobe (onset to as far
//     after the peak), which for a symmetric pulse is its centre.
//  5. When the direct sound is less than 20 dB above the noise, steps 1 to 4 are repeated on the
//     input band-passed (zero phase) to the band where its power lies. That result is kept when
//     its direct sound is at least 6 dB further above the noise, because the response is then
//     band-limited (a subwoofer) and most of the noise lay outside its band.
Arrival estimate_arrival(std::span<const float> ir, double sample_rate_hz, double time_zero_sample) {
    validate_input(ir, sample_rate_hz);
    Arrival arrival;
    find_peak_and_start(ir, arrival);

    DirectSoundFit fit = fit_direct_sound(ir, sample_rate_hz);
    std::optional<std::string> band_note;
    if (fit.direct_to_noise_db < in_band_trial_below_db) {
        if (const auto band = detail::band_limited_response(ir, sample_rate_hz)) {
            DirectSoundFit in_band = fit_direct_sound(band->samples, sample_rate_hz);
            if (in_band.direct_to_noise_db >= fit.direct_to_noise_db + min_in_band_gain_db) {
                band_note = "the direct sound was judged in the response's band, " + format_fixed(band->low_hz, 0) +
                            " to " + format_fixed(band->high_hz, 0) + " Hz, where it is " +
                            format_fixed(in_band.direct_to_noise_db, 1) + " dB above the noise (" +
                            format_fixed(fit.direct_to_noise_db, 1) + " dB over the whole band)";
                fit = std::move(in_band);
            }
        }
    }

    arrival.arrival_sample = fit.arrival_sample;
    arrival.onset_sample = fit.onset_sample;
    arrival.polarity = fit.polarity;
    arrival.confidence = std::clamp(
        (fit.direct_to_noise_db - confidence_zero_db) / (confidence_full_db - confidence_zero_db), 0.0, 1.0);
    add_notes(arrival, fit.envelope, fit.direct_peak, fit.direct_envelope, fit.polarity_uncertain,
              fit.direct_to_noise_db, sample_rate_hz, time_zero_sample);
    if (band_note) {
        arrival.notes.push_back(*band_note);
    }
    return arrival;
}

}  // namespace linetune::analysis
