#include "impulse_response_view.hpp"

#include "linetune/analysis/channel_analysis.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/response.hpp"
#include "linetune/core/units.hpp"
#include "linetune/io/impulse_response_file.hpp"
#include "linetune/io/measurement_file.hpp"

#include <algorithm>
#include <cmath>

namespace linetune::report {
namespace {

// The impulse-response plot spans 5 ms before the direct sound to 60 ms after it: the direct
// sound, the first reflections and the early part a system tech reads for alignment.
constexpr double impulse_before_arrival_ms = 5.0;
constexpr double impulse_after_arrival_ms = 60.0;

// Points kept of the energy-time curve: about two per pixel of a 640 px plot.
constexpr std::size_t energy_time_buckets = 640;

/// Signal-to-noise ratio per frequency: the spectrum of the first quarter of the response from
/// its ISO 3382-1 start against the spectrum of its last quarter, both 1/3-octave smoothed and of
/// equal length, so their levels compare directly. The last quarter still contains reverberation
/// when the response is shorter than the room's decay, so the ratio is then a lower bound.
FrequencyResponse signal_to_noise(std::span<const float> ir, double sample_rate_hz, std::size_t start_sample) {
    const std::size_t length = ir.size() / 4;
    // Below 1024 samples (21 ms at 48 kHz) the segments are too short to resolve the low octaves.
    if (length < 1024 || start_sample + length > ir.size() - length) {
        return {};
    }
    analysis::ResponseOptions options;
    options.start_freq_hz = 20.0;
    options.end_freq_hz = std::min(20000.0, 0.45 * sample_rate_hz);
    options.points_per_octave = 12.0;
    options.smoothing = {analysis::SmoothingKind::fractional_octave, 3.0};
    const FrequencyResponse signal =
        analysis::compute_frequency_response(ir.subspan(start_sample, length), sample_rate_hz, 0.0, options);
    const FrequencyResponse noise =
        analysis::compute_frequency_response(ir.subspan(ir.size() - length, length), sample_rate_hz, 0.0, options);
    FrequencyResponse ratio;
    ratio.freq_hz = signal.freq_hz;
    for (std::size_t i = 0; i < signal.size() && i < noise.size(); ++i) {
        ratio.magnitude_db.push_back(signal.magnitude_db[i] - noise.magnitude_db[i]);
    }
    ratio.freq_hz.resize(ratio.magnitude_db.size());
    return ratio;
}

void fill_time_curves(ImpulseResponseView& view, std::span<const float> ir, double time_zero_sample,
                      double arrival_sample) {
    const double fs = view.sample_rate_hz;
    double peak = 0.0;
    for (const float sample : ir) {
        peak = std::max(peak, static_cast<double>(std::fabs(sample)));
    }
    if (peak <= 0.0) {
        return;
    }

    const auto first = static_cast<std::ptrdiff_t>(
        std::max(0.0, std::floor(arrival_sample - samples_from_ms(impulse_before_arrival_ms, fs))));
    const auto last = static_cast<std::ptrdiff_t>(std::min(
        static_cast<double>(ir.size()), std::ceil(arrival_sample + samples_from_ms(impulse_after_arrival_ms, fs))));
    for (std::ptrdiff_t i = first; i < last; ++i) {
        view.impulse_time_ms.push_back(ms_from_samples(static_cast<double>(i) - time_zero_sample, fs));
        view.impulse_samples.push_back(ir[static_cast<std::size_t>(i)] / peak);
    }

    // Energy-time curve: the squared Hilbert envelope |x + jH{x}|² in dB re its maximum. The
    // maximum of each bucket keeps every reflection's peak at a plotting resolution.
    const std::vector<std::complex<double>> analytic = analysis::analytic_signal(ir);
    const std::size_t count = std::min(ir.size(), analytic.size());
    double energy_peak = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
        energy_peak = std::max(energy_peak, std::norm(analytic[i]));
    }
    const std::size_t bucket_size = std::max<std::size_t>(1, count / energy_time_buckets);
    for (std::size_t bucket_start = 0; bucket_start < count; bucket_start += bucket_size) {
        std::size_t loudest = bucket_start;
        for (std::size_t i = bucket_start; i < std::min(count, bucket_start + bucket_size); ++i) {
            loudest = std::norm(analytic[i]) > std::norm(analytic[loudest]) ? i : loudest;
        }
        view.energy_time_ms.push_back(ms_from_samples(static_cast<double>(loudest) - time_zero_sample, fs));
        view.energy_time_db.push_back(db_from_power(std::norm(analytic[loudest]) / energy_peak));
    }
}

}  // namespace

ImpulseResponseView read_impulse_response_view(const std::filesystem::path& path, std::optional<std::size_t> channel) {
    io::Measurement measurement = io::read_measurement(path, {});
    const io::Measurement samples = measurement;

    analysis::AnalysisOptions options;
    options.channel = channel.value_or(1);
    const analysis::FileAnalysis file = analysis::analyze_measurement(std::move(measurement), options, nullptr);
    const analysis::ChannelAnalysis& result = file.channels.front();

    ImpulseResponseView view;
    view.file = path;
    view.sample_rate_hz = result.sample_rate_hz;
    view.time_base = std::string(to_string(file.time_base.source));
    view.flags = result.flags;
    view.notes = result.notes;
    if (result.response) {
        view.response = *result.response;
    }
    if (result.quality) {
        view.peak_dbfs = result.quality->peak_dbfs;
        view.noise_floor_dbfs = result.quality->noise_floor_dbfs;
        view.peak_to_noise_db = result.quality->peak_to_noise_db;
    }
    view.metrics = result.metrics;

    // The sidecar's flags (clipped or silent recording) come from the raw recording, which the
    // impulse response alone cannot show.
    const std::filesystem::path sidecar_path = io::impulse_response_sidecar_path(path);
    std::error_code error;
    const auto sidecar = std::filesystem::is_regular_file(sidecar_path, error)
                             ? io::read_impulse_response_sidecar(sidecar_path)
                             : std::nullopt;
    if (sidecar) {
        for (const auto& flag : sidecar->origin.flags) {
            if (std::find(view.flags.begin(), view.flags.end(), flag) == view.flags.end()) {
                view.flags.push_back(flag);
            }
        }
    }

    if (samples.kind == io::MeasurementKind::frequency_response || !result.arrival) {
        return view;
    }
    const std::span<const float> ir = samples.signal.channel(result.channel - 1);
    const double time_zero_sample = file.time_base.time_zero_sample;
    view.arrival_ms = ms_from_samples(result.arrival->arrival_sample - time_zero_sample, view.sample_rate_hz);
    fill_time_curves(view, ir, time_zero_sample, result.arrival->arrival_sample);
    view.signal_to_noise = signal_to_noise(ir, view.sample_rate_hz, result.arrival->start_sample);
    return view;
}

}  // namespace linetune::report
