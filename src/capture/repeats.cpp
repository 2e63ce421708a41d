#include "linetune/capture/repeats.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/time_delay.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>

namespace linetune::capture {
namespace {

// Largest shift between repeats that the alignment searches, in seconds. Repeats on one running
// stream share its latency. After an xrun the latency may move by a few buffers (two 2048-frame
// periods are 85 ms at 48 kHz), and acoustic drift over a run is well under 1 ms.
constexpr double max_shift_s = 0.1;

// A mic's drift is reported only when the PHAT correlation between its repeats reaches this
// height, the mean cos(phase error) over every bin. A sweep covering a third of the bins lifts it
// to about 0.3 (an estimate), and a silent mic's noise leaves it near 0 (±1/√bins).
constexpr double min_drift_confidence = 0.1;

// The SNR estimate is kept in this range so that the JSON never contains an infinity: −60 dB is far
// below any usable band, and 200 dB above what a 32-bit float recording can hold (about 150 dB).
constexpr double min_snr_db = -60.0;
constexpr double max_snr_db = 200.0;

// Third-octave bands (IEC 61260 base-2): centres 1 kHz·2^(k/3), edges at centre·2^(±1/6).
constexpr double band_reference_hz = 1000.0;
constexpr double bands_per_octave = 3.0;

double ms_of(double samples, double rate_hz) { return samples / rate_hz * 1000.0; }

/// Advances every channel of `signal` by `shift_samples` (a delay for a negative value) with the
/// ideal band-limited shift over a zero-padded FFT; the padding exceeds the largest shift, so
/// nothing wraps around into the kept frames.
MultichannelSignal advanced(const MultichannelSignal& signal, double shift_samples, std::size_t pad_frames) {
    MultichannelSignal result(signal.channel_count(), signal.frame_count(), signal.sample_rate_hz());
    const std::size_t size = analysis::next_fast_fft_size(signal.frame_count() + pad_frames);
    analysis::RealFft<double> fft(size);
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    std::vector<double> samples(size);
    for (std::size_t channel = 0; channel < signal.channel_count(); ++channel) {
        const auto input = signal.channel(channel);
        std::fill(samples.begin(), samples.end(), 0.0);
        std::copy(input.begin(), input.end(), samples.begin());
        fft.forward(samples, spectrum);
        for (std::size_t k = 0; k < spectrum.size(); ++k) {
            spectrum[k] *= std::polar(1.0, 2.0 * pi * static_cast<double>(k) * shift_samples / static_cast<double>(size));
        }
        if (size % 2 == 0) {
            // The Nyquist bin of a real signal is real; a rotated one would not be.
            spectrum.back() = spectrum.back().real();
        }
        fft.inverse(spectrum, samples);
        auto output = result.channel(channel);
        for (std::size_t n = 0; n < output.size(); ++n) {
            output[n] = static_cast<float>(samples[n]);
        }
    }
    return result;
}

double rms_of(std::span<const float> samples) {
    double sum = 0.0;
    for (const float sample : samples) {
        sum += static_cast<double>(sample) * sample;
    }
    return samples.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

/// Third-octave band centres whose bands lie inside [low, high].
std::vector<double> band_centres(double low_hz, double high_hz) {
    std::vector<double> centres;
    const double half_band = std::pow(2.0, 0.5 / bands_per_octave);
    const int first = static_cast<int>(std::ceil(bands_per_octave * std::log2(low_hz * half_band / band_reference_hz)));
    for (int k = first;; ++k) {
        const double centre = band_reference_hz * std::pow(2.0, k / bands_per_octave);
        if (centre * half_band > high_hz) {
            break;
        }
        centres.push_back(centre);
    }
    return centres;
}

/// SNR and coherence per band of one channel's aligned repeats (formulas in repeats.hpp).
void band_statistics(const std::vector<MultichannelSignal>& aligned, std::size_t channel,
                     const std::vector<double>& centres, RepeatMicSummary& mic) {
    const std::size_t count = aligned.size();
    const std::size_t frames = aligned.front().frame_count();
    const double rate_hz = aligned.front().sample_rate_hz();
    const std::size_t size = analysis::next_fast_fft_size(frames);
    analysis::RealFft<double> fft(size);
    std::vector<std::vector<std::complex<double>>> spectra(count, std::vector<std::complex<double>>(fft.bin_count()));
    std::vector<double> samples(size);
    for (std::size_t repeat = 0; repeat < count; ++repeat) {
        std::fill(samples.begin(), samples.end(), 0.0);
        const auto input = aligned[repeat].channel(channel);
        std::copy(input.begin(), input.end(), samples.begin());
        fft.forward(samples, spectra[repeat]);
    }
    const double half_band = std::pow(2.0, 0.5 / bands_per_octave);
    const double bin_hz = rate_hz / static_cast<double>(size);
    const double n = static_cast<double>(count);
    for (const double centre : centres) {
        const auto first = static_cast<std::size_t>(std::ceil(centre / half_band / bin_hz));
        const auto last = std::min(spectra.front().size() - 1, static_cast<std::size_t>(std::floor(centre * half_band / bin_hz)));
        double mean_power = 0.0;
        double spread_power = 0.0;
        double sum_power = 0.0;
        double total_power = 0.0;
        for (std::size_t k = first; k <= last; ++k) {
            std::complex<double> sum{0.0, 0.0};
            for (const auto& spectrum : spectra) {
                sum += spectrum[k];
                total_power += std::norm(spectrum[k]);
            }
            const std::complex<double> mean = sum / n;
            mean_power += std::norm(mean);
            sum_power += std::norm(sum);
            for (const auto& spectrum : spectra) {
                spread_power += std::norm(spectrum[k] - mean);
            }
        }
        const double noise_of_average = spread_power / (n - 1.0) / n;
        const double signal = mean_power - noise_of_average;
        double snr_db = max_snr_db;
        if (noise_of_average > 0.0) {
            snr_db = signal > 0.0 ? 10.0 * std::log10(signal / noise_of_average) : min_snr_db;
        }
        mic.snr_db.push_back(std::clamp(snr_db, min_snr_db, max_snr_db));
        mic.coherence.push_back(total_power > 0.0 ? sum_power / (n * total_power) : 0.0);
    }
}

}  // namespace

AveragedRepeats average_repeats(const std::vector<MultichannelSignal>& repeats,
                                const std::vector<std::string>& mic_names,
                                std::optional<std::size_t> loopback_channel, double band_low_hz,
                                double band_high_hz) {
    if (repeats.size() < 2) {
        throw Error("averaging repeats needs at least 2 repeats, got " + std::to_string(repeats.size()));
    }
    const MultichannelSignal& first = repeats.front();
    for (const MultichannelSignal& repeat : repeats) {
        if (repeat.channel_count() != first.channel_count() || repeat.frame_count() != first.frame_count() ||
            repeat.sample_rate_hz() != first.sample_rate_hz()) {
            throw Error("repeats of one pass differ in channels, length or rate; measure the zone again");
        }
    }
    if (mic_names.size() > first.channel_count() || (loopback_channel && *loopback_channel >= first.channel_count())) {
        throw Error("averaging repeats: " + std::to_string(mic_names.size()) + " mics and the loopback do not fit " +
                    std::to_string(first.channel_count()) + " channels");
    }
    const double rate_hz = first.sample_rate_hz();
    const auto max_lag = static_cast<std::size_t>(std::ceil(max_shift_s * rate_hz));

    AveragedRepeats result;
    RepeatSummary& summary = result.summary;
    summary.count = repeats.size();

    // The channel that times the repeats: the loopback, else the loudest mic of repeat 1.
    std::size_t timing_channel = 0;
    if (loopback_channel) {
        timing_channel = *loopback_channel;
        summary.aligned_by = "loopback";
    } else {
        double loudest = -1.0;
        for (std::size_t channel = 0; channel < mic_names.size(); ++channel) {
            const double rms = rms_of(first.channel(channel));
            if (rms > loudest) {
                loudest = rms;
                timing_channel = channel;
            }
        }
        summary.aligned_by = mic_names.empty() ? "channel 1" : "mic '" + mic_names[timing_channel] + "'";
    }

    std::vector<double> shifts_samples{0.0};
    for (std::size_t repeat = 1; repeat < repeats.size(); ++repeat) {
        shifts_samples.push_back(
            analysis::gcc_phat_delay(first.channel(timing_channel), repeats[repeat].channel(timing_channel), max_lag)
                .delay_samples);
    }
    for (const double shift : shifts_samples) {
        summary.alignment_ms.push_back(ms_of(shift, rate_hz));
    }

    for (std::size_t channel = 0; channel < mic_names.size(); ++channel) {
        RepeatMicSummary mic;
        mic.mic = mic_names[channel];
        mic.drift_ms.emplace_back(0.0);
        for (std::size_t repeat = 1; repeat < repeats.size(); ++repeat) {
            const analysis::TimeDelay delay =
                analysis::gcc_phat_delay(first.channel(channel), repeats[repeat].channel(channel), max_lag);
            if (delay.confidence < min_drift_confidence) {
                mic.drift_ms.emplace_back(std::nullopt);
                continue;
            }
            const double drift_ms = ms_of(delay.delay_samples - shifts_samples[repeat], rate_hz);
            mic.drift_ms.emplace_back(drift_ms);
            summary.max_drift_ms = std::max(summary.max_drift_ms.value_or(0.0), std::fabs(drift_ms));
        }
        summary.mics.push_back(std::move(mic));
    }

    std::vector<MultichannelSignal> aligned;
    aligned.reserve(repeats.size());
    aligned.push_back(first);
    for (std::size_t repeat = 1; repeat < repeats.size(); ++repeat) {
        aligned.push_back(advanced(repeats[repeat], shifts_samples[repeat], max_lag + 1));
    }

    result.average = MultichannelSignal(first.channel_count(), first.frame_count(), rate_hz);
    result.average.time_base = first.time_base;
    const float scale = 1.0f / static_cast<float>(aligned.size());
    for (std::size_t channel = 0; channel < first.channel_count(); ++channel) {
        auto output = result.average.channel(channel);
        for (const MultichannelSignal& repeat : aligned) {
            const auto input = repeat.channel(channel);
            for (std::size_t n = 0; n < output.size(); ++n) {
                output[n] += input[n] * scale;
            }
        }
    }

    summary.bands_hz = band_centres(band_low_hz, std::min(band_high_hz, rate_hz / 2.0));
    for (std::size_t channel = 0; channel < mic_names.size(); ++channel) {
        band_statistics(aligned, channel, summary.bands_hz, summary.mics[channel]);
    }
    return result;
}

}  // namespace linetune::capture
