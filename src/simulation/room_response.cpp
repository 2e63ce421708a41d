#include "room_response.hpp"

#include "linetune/analysis/arrival.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"
#include "linetune/io/audio_file.hpp"

#include <cmath>
#include <complex>
#include <cstdint>
#include <numeric>

namespace linetune::simulation::detail {
namespace {

// Limits of the direct sound and of the reflections in a measured response. The direct
// sound is taken as ±0.5 ms around its envelope peak: in the warehouse responses the measuring
// loudspeaker's impulse falls by 20 dB within 0.5 ms of its peak. Reflections are kept from
// 1.5 ms on, faded in over 1 ms (raised cosine), so what remains of the measuring loudspeaker's
// own ringing is negligible and the modelled direct sound stays the first and strongest arrival.
constexpr double direct_sound_half_width_ms = 0.5;
constexpr double reflections_start_ms = 1.5;
constexpr double reflections_fade_in_ms = 1.0;

// The resampler keeps the spectrum up to the lower Nyquist frequency and tapers its top 10 %
// with a raised cosine, so that the cut does not ring (Gibbs) through the whole response.
constexpr double resample_taper_fraction = 0.1;
constexpr std::size_t resample_padding_samples = 1024;      // zeros after the input, against wrap-around
constexpr std::size_t max_resample_fft_size = std::size_t{1} << 25;  // about 11 minutes at 48 kHz

double raised_cosine(double fraction) { return 0.5 - 0.5 * std::cos(pi * fraction); }

}  // namespace

std::vector<double> resample(std::span<const float> input, double input_rate_hz, double output_rate_hz,
                             double advance_output_samples) {
    const auto input_hz = static_cast<std::int64_t>(std::llround(input_rate_hz));
    const auto output_hz = static_cast<std::int64_t>(std::llround(output_rate_hz));
    if (input_hz <= 0 || output_hz <= 0 || std::fabs(input_rate_hz - static_cast<double>(input_hz)) > 1e-9 ||
        std::fabs(output_rate_hz - static_cast<double>(output_hz)) > 1e-9) {
        throw Error("resampling from " + format_significant(input_rate_hz) + " Hz to " +
                        format_significant(output_rate_hz) + " Hz: only whole positive rates in Hz can be resampled",
                    ErrorKind::configuration);
    }

    // Transform lengths in the ratio of the rates: N1 = q·m at the input rate, N2 = p·m at the output.
    const std::int64_t divisor = std::gcd(input_hz, output_hz);
    const auto q = static_cast<std::size_t>(input_hz / divisor);
    const auto p = static_cast<std::size_t>(output_hz / divisor);
    const double advance_input_samples = std::fabs(advance_output_samples) * static_cast<double>(q) / static_cast<double>(p);
    const std::size_t minimum_input = input.size() + static_cast<std::size_t>(std::ceil(advance_input_samples)) +
                                      resample_padding_samples;
    const std::size_t m = analysis::next_fast_fft_size((minimum_input + q - 1) / q);
    const std::size_t n1 = q * m;
    const std::size_t n2 = p * m;
    if (n1 > max_resample_fft_size || n2 > max_resample_fft_size) {
        throw Error("resampling " + std::to_string(input.size()) + " samples from " + std::to_string(input_hz) +
                        " Hz to " + std::to_string(output_hz) + " Hz needs a transform of " +
                        std::to_string(std::max(n1, n2)) + " points, more than " +
                        std::to_string(max_resample_fft_size) + "; use a shorter response or simpler rates",
                    ErrorKind::configuration);
    }

    analysis::RealFft<double> forward(n1);
    std::vector<double> padded(input.begin(), input.end());
    std::vector<std::complex<double>> input_bins(forward.bin_count());
    forward.forward(padded, input_bins);

    analysis::RealFft<double> inverse(n2);
    std::vector<std::complex<double>> output_bins(inverse.bin_count(), {0.0, 0.0});
    const std::size_t kept_bins = std::min(n1, n2) / 2;  // up to the lower Nyquist bin, excluded
    const double taper_start = (1.0 - resample_taper_fraction) * static_cast<double>(kept_bins);
    const double scale = static_cast<double>(n2) / static_cast<double>(n1);  // keeps amplitudes
    for (std::size_t k = 0; k < kept_bins; ++k) {
        const double position = static_cast<double>(k);
        const double taper =
            position <= taper_start ? 1.0 : raised_cosine((static_cast<double>(kept_bins) - position) /
                                                          (static_cast<double>(kept_bins) - taper_start));
        const double phase_rad = 2.0 * pi * position * advance_output_samples / static_cast<double>(n2);
        output_bins[k] = input_bins[k] * (scale * taper) * std::polar(1.0, phase_rad);
    }
    std::vector<double> output(n2);
    inverse.inverse(output_bins, output);
    return output;
}

RoomReflections load_room_reflections(const RoomResponseSource& source, const std::filesystem::path& data_dir,
                                      double sample_rate_hz, const RoomModel& room) {
    const auto path = data_dir / source.file;
    RoomReflections reflections;
    reflections.name = source.file.generic_string() + "#" + std::to_string(source.channel);
    const std::string where = "simulation room response '" + path.string() + "'";
    if (!std::filesystem::is_regular_file(path)) {
        throw Error(where + " not found; set LINETUNE_SIMULATION_DATA_DIR to the folder that contains '" +
                        source.file.generic_string() + "' (the data folder now is '" + data_dir.string() + "')",
                    ErrorKind::configuration);
    }

    io::AudioFile file;
    try {
        file = io::read_audio_file(path);
    } catch (const Error& error) {
        throw Error(where + ": " + error.what(), ErrorKind::configuration);
    }
    if (source.channel == 0 || source.channel > file.signal.channel_count()) {
        throw Error(where + ": channel " + std::to_string(source.channel) + " does not exist; the file has " +
                        std::to_string(file.signal.channel_count()) + " channel(s)",
                    ErrorKind::configuration);
    }
    const auto measured = file.signal.channel(source.channel - 1);
    const double input_rate_hz = file.signal.sample_rate_hz();

    // Resample with the direct sound's arrival moved to index 0.
    const double arrival_input_samples = analysis::estimate_arrival(measured, input_rate_hz).arrival_sample;
    const double ratio = sample_rate_hz / input_rate_hz;
    std::vector<double> aligned;
    try {
        aligned = resample(measured, input_rate_hz, sample_rate_hz, arrival_input_samples * ratio);
    } catch (const Error& error) {
        throw error.with_context(where);
    }

    // Energy of the direct sound, ±half width around index 0 (the part before 0 wrapped to the end).
    const auto half_width = static_cast<std::ptrdiff_t>(std::llround(samples_from_ms(direct_sound_half_width_ms, sample_rate_hz)));
    const auto size = static_cast<std::ptrdiff_t>(aligned.size());
    double direct_energy = 0.0;
    for (std::ptrdiff_t n = -half_width; n <= half_width; ++n) {
        const double value = aligned[static_cast<std::size_t>((n + size) % size)];
        direct_energy += value * value;
    }
    if (!(direct_energy > 0.0)) {
        throw Error(where + ": the direct sound is silent; use a measured impulse response", ErrorKind::configuration);
    }

    // Reflections after the direct sound, up to the end of the measurement.
    const double start = samples_from_ms(reflections_start_ms, sample_rate_hz);
    const double fade_in = samples_from_ms(reflections_fade_in_ms, sample_rate_hz);
    const auto measured_end = static_cast<std::size_t>(
        std::max(0.0, (static_cast<double>(measured.size()) - arrival_input_samples) * ratio));
    std::vector<double> after_direct(std::min(measured_end, aligned.size()), 0.0);
    double reverberant_energy = 0.0;
    for (std::size_t n = 0; n < after_direct.size(); ++n) {
        const double t = static_cast<double>(n);
        const double weight = t < start ? 0.0 : (t < start + fade_in ? raised_cosine((t - start) / fade_in) : 1.0);
        after_direct[n] = weight * aligned[n];
        reverberant_energy += after_direct[n] * after_direct[n];
    }

    // Keep the tail, fade its end, and scale so that the measured direct sound has unit energy.
    const auto tail = static_cast<std::size_t>(std::llround(room.tail_s * sample_rate_hz));
    const auto fade_out = static_cast<std::size_t>(std::llround(room.fade_out_s * sample_rate_hz));
    after_direct.resize(tail, 0.0);
    const double scale = 1.0 / std::sqrt(direct_energy);
    for (std::size_t n = 0; n < tail; ++n) {
        const std::size_t from_end = tail - n;
        const double weight = from_end >= fade_out ? 1.0 : raised_cosine(static_cast<double>(from_end) / static_cast<double>(fade_out));
        after_direct[n] *= weight * scale;
    }
    reflections.samples = std::move(after_direct);
    reflections.reverberant_to_direct_energy = reverberant_energy / direct_energy;
    return reflections;
}

}  // namespace linetune::simulation::detail
