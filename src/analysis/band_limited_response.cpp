#include "band_limited_response.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>

namespace linetune::analysis::detail {
namespace {

// A band-limited response (a subwoofer's 30 to 100 Hz) spreads its energy over a pulse tens of
// milliseconds wide, while the measurement's noise fills the whole spectrum. Judged over the whole
// band, a subwoofer 25 dB quieter than the mains sinks into noise that lies outside its band, so
// its direct sound is also judged in the band where the response lies. That band is found on a
// 1/3-octave grid from 10 Hz: the contiguous bands around the strongest one whose mean power
// density lies within band_range_db of it.
constexpr double band_grid_octaves = 1.0 / 3.0;
constexpr double band_grid_lowest_hz = 10.0;
// 20 dB keeps a loudspeaker's band with its roll-off slopes while leaving out the white noise
// floor of a response that is 30 dB or more above it in its band.
constexpr double band_range_db = 20.0;
// The band-pass falls to zero over half an octave beyond each edge as a raised cosine, so it
// rings for a few periods of the edge frequency only.
constexpr double band_taper_octaves = 0.5;

/// Gain of the band-pass at freq_hz: 1 inside [low_hz, high_hz], a raised cosine over
/// band_taper_octaves beyond each edge, 0 further out.
double band_pass_gain(double freq_hz, double low_hz, double high_hz) {
    const auto taper = [](double octaves_outside) {
        return octaves_outside >= band_taper_octaves ? 0.0 : 0.5 * (1.0 + std::cos(pi * octaves_outside / band_taper_octaves));
    };
    if (freq_hz <= 0.0) {
        return 0.0;
    }
    if (freq_hz < low_hz) {
        return taper(std::log2(low_hz / freq_hz));
    }
    if (freq_hz > high_hz) {
        return taper(std::log2(freq_hz / high_hz));
    }
    return 1.0;
}

}  // namespace

std::optional<BandLimitedResponse> band_limited_response(std::span<const float> ir, double sample_rate_hz) {
    // Twice the length keeps the band-pass's ringing from wrapping around onto the start.
    RealFft<double> fft(next_fast_fft_size(2 * ir.size()));
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    fft.forward(std::vector<double>(ir.begin(), ir.end()), spectrum);
    const double bin_hz = sample_rate_hz / static_cast<double>(fft.size());

    // Mean power density of each 1/3-octave band that contains at least one bin.
    struct GridBand {
        double low_hz;
        double high_hz;
        double density;
    };
    std::vector<GridBand> grid;
    const double half_width = std::pow(2.0, band_grid_octaves / 2.0);
    for (double centre_hz = band_grid_lowest_hz; centre_hz / half_width < sample_rate_hz / 2.0;
         centre_hz *= std::pow(2.0, band_grid_octaves)) {
        const double low_hz = centre_hz / half_width;
        const double high_hz = std::min(centre_hz * half_width, sample_rate_hz / 2.0);
        const auto first = static_cast<std::size_t>(std::ceil(low_hz / bin_hz));
        const auto last = std::min(spectrum.size() - 1, static_cast<std::size_t>(std::floor(high_hz / bin_hz)));
        if (first > last) {
            continue;
        }
        double power = 0.0;
        for (std::size_t k = first; k <= last; ++k) {
            power += std::norm(spectrum[k]);
        }
        grid.push_back({low_hz, high_hz, power / static_cast<double>(last - first + 1)});
    }
    if (grid.empty()) {
        return std::nullopt;
    }

    const auto strongest = static_cast<std::size_t>(
        std::max_element(grid.begin(), grid.end(), [](const GridBand& a, const GridBand& b) { return a.density < b.density; }) -
        grid.begin());
    const double floor_density = grid[strongest].density * power_from_db(-band_range_db);
    std::size_t lowest = strongest;
    while (lowest > 0 && grid[lowest - 1].density >= floor_density) {
        --lowest;
    }
    std::size_t highest = strongest;
    while (highest + 1 < grid.size() && grid[highest + 1].density >= floor_density) {
        ++highest;
    }
    if (lowest == 0 && highest + 1 == grid.size()) {
        return std::nullopt;
    }

    BandLimitedResponse band;
    band.low_hz = lowest == 0 ? 0.0 : grid[lowest].low_hz;
    band.high_hz = highest + 1 == grid.size() ? sample_rate_hz / 2.0 : grid[highest].high_hz;
    for (std::size_t k = 0; k < spectrum.size(); ++k) {
        const double freq_hz = static_cast<double>(k) * bin_hz;
        spectrum[k] *= band.low_hz == 0.0 && k == 0 ? 1.0 : band_pass_gain(freq_hz, band.low_hz, band.high_hz);
    }
    std::vector<double> filtered(fft.size());
    fft.inverse(spectrum, filtered);
    band.samples.assign(filtered.begin(), filtered.begin() + static_cast<std::ptrdiff_t>(ir.size()));
    return band;
}

}  // namespace linetune::analysis::detail
