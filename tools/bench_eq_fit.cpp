// Times ClassicEqFitter on one zone: a flat response with ten peaking and shelving faults on a
// 1/24-octave grid from 20 Hz to 20 kHz, up to 10 bands. Prints the median and worst time of the
// fits and the error figures; the goal is a median of at most 10 ms per zone.

#include "linetune/analysis/biquad.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/correction/eq_fitter.hpp"
#include "linetune/correction/tuning.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace {

using linetune::analysis::FilterType;
using linetune::analysis::ParametricBand;

constexpr int repetitions = 20;
constexpr int venue_repetitions = 5;

linetune::correction::EqFitRequest make_request() {
    const std::vector<ParametricBand> faults{
        {FilterType::low_shelf, 90.0, 3.0, 0.7071},  {FilterType::peaking, 55.0, 6.0, 3.0},
        {FilterType::peaking, 140.0, -4.0, 2.0},     {FilterType::peaking, 320.0, 5.0, 1.5},
        {FilterType::peaking, 700.0, -3.0, 4.0},     {FilterType::peaking, 1300.0, 4.0, 2.5},
        {FilterType::peaking, 2500.0, 8.0, 1.0},     {FilterType::peaking, 4800.0, -4.0, 3.0},
        {FilterType::peaking, 9000.0, 3.0, 2.0},     {FilterType::high_shelf, 12000.0, -3.0, 0.7071},
    };
    linetune::correction::EqFitRequest request;
    request.measured.freq_hz = linetune::log_frequency_grid(20.0, 20000.0, 24.0);
    request.measured.magnitude_db.assign(request.measured.freq_hz.size(), 0.0);
    for (const auto& fault : faults) {
        for (std::size_t i = 0; i < request.measured.size(); ++i) {
            request.measured.magnitude_db[i] +=
                linetune::analysis::band_magnitude_db(fault, request.measured.freq_hz[i], request.limits.sample_rate_hz);
        }
    }
    request.target = {{20.0, 20000.0}, {0.0, 0.0}, {}};
    return request;
}

}  // namespace

/// Reads and tunes a whole venue (analysis of every measurement included) several times and
/// prints the median wall time; the goal is well under a second for the example venue.
bool time_whole_venue(const char* venue_path) {
    const auto venue = linetune::io::read_venue_file(venue_path, linetune::io::default_hardware_dir());
    linetune::correction::TuneOptions options;
    options.measurements_dir = std::filesystem::path(venue_path).parent_path();
    std::vector<double> times_ms;
    for (int i = 0; i < venue_repetitions; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const auto result = linetune::correction::tune_venue(venue, options);
        const auto stop = std::chrono::steady_clock::now();
        times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    std::sort(times_ms.begin(), times_ms.end());
    const double median_ms = times_ms[times_ms.size() / 2];
    std::printf("whole venue '%s' (%zu zone(s), %zu microphone(s)), read + analyse + tune: median %.1f ms over %d runs "
                "(goal: < 1000 ms) %s\n",
                venue.name.c_str(), venue.zones.size(), venue.microphones.size(), median_ms, venue_repetitions,
                median_ms < 1000.0 ? "PASS" : "FAIL");
    return median_ms < 1000.0;
}

int main(int argc, char** argv) {
    const auto request = make_request();
    const linetune::correction::ClassicEqFitter fitter;

    std::vector<double> times_ms;
    linetune::correction::EqFitResult result;
    for (int i = 0; i < repetitions; ++i) {
        const auto start = std::chrono::steady_clock::now();
        result = fitter.fit(request);
        const auto stop = std::chrono::steady_clock::now();
        times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    std::sort(times_ms.begin(), times_ms.end());

    std::printf("eq fit, one zone, %zu points (1/24 octave), up to %zu bands\n", request.measured.size(),
                request.limits.max_bands);
    std::printf("  time: median %.2f ms, worst %.2f ms over %d fits (goal: median <= 10 ms)\n",
                times_ms[times_ms.size() / 2], times_ms.back(), repetitions);
    std::printf("  bands: %zu, RMS error %.3f -> %.3f dB, max %.3f -> %.3f dB\n", result.bands.size(),
                result.rms_before_db, result.rms_after_db, result.max_before_db, result.max_after_db);
    const bool fit_met = times_ms[times_ms.size() / 2] <= 10.0;
    const bool venue_met = argc < 2 || time_whole_venue(argv[1]);
    return fit_met && venue_met ? 0 : 1;
}
