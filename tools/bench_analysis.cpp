// Benchmarks of the analysis layer. Prints one `name: value unit` line per figure and exits 1
// when a figure misses its target. Argument: the folder of measured impulse responses (WAV).
//
// Each section is one function taking the BenchContext; main() runs them in order.

#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune_version.hpp"

#include <fftw3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

/// Shared state of one benchmark run.
struct BenchContext {
    std::filesystem::path ir_folder;  ///< measured impulse responses (argv[1]); may be empty
    bool all_targets_met = true;
};

/// Transform size of the deconvolution benchmark: 2^20 samples, 21.8 s at 48 kHz.
constexpr std::size_t deconvolution_size = std::size_t{1} << 20;

/// Timed repeats per measurement; the median is reported, which ignores a few slow outliers
/// (page faults, another process on the core).
constexpr int repeat_count = 21;

/// Target: our deconvolution may cost at most this multiple of bare FFTW doing the same
/// r2c + complex multiply + c2r. The difference pays for copying the recording in and the
/// impulse response out.
constexpr double max_deconvolution_cost_ratio = 1.25;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

std::vector<float> white_noise(std::size_t size) {
    std::mt19937 generator(1);
    std::normal_distribution<float> normal(0.0F, 0.1F);
    std::vector<float> samples(size);
    for (auto& sample : samples) {
        sample = normal(generator);
    }
    return samples;
}

/// Bare FFTW in float at one size: r2c, multiply by a fixed spectrum, c2r, with FFTW_ESTIMATE
/// plans on fftwf_malloc buffers made before any timing.
class BareFftwConvolution {
public:
    explicit BareFftwConvolution(const std::vector<float>& input)
        : size_(input.size()),
          time_(static_cast<float*>(fftwf_malloc(sizeof(float) * size_))),
          bins_(static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * (size_ / 2 + 1)))),
          spectrum_(static_cast<fftwf_complex*>(fftwf_malloc(sizeof(fftwf_complex) * (size_ / 2 + 1)))),
          output_(static_cast<float*>(fftwf_malloc(sizeof(float) * size_))) {
        const int n = static_cast<int>(size_);
        forward_ = fftwf_plan_dft_r2c_1d(n, time_, bins_, FFTW_ESTIMATE);
        inverse_ = fftwf_plan_dft_c2r_1d(n, bins_, output_, FFTW_ESTIMATE);
        std::copy(input.begin(), input.end(), time_);
        for (std::size_t k = 0; k < size_ / 2 + 1; ++k) {
            spectrum_[k][0] = 1.0F / static_cast<float>(k + 1);
            spectrum_[k][1] = 0.5F / static_cast<float>(k + 1);
        }
    }
    ~BareFftwConvolution() {
        fftwf_destroy_plan(forward_);
        fftwf_destroy_plan(inverse_);
        for (void* buffer : {static_cast<void*>(time_), static_cast<void*>(bins_), static_cast<void*>(spectrum_),
                             static_cast<void*>(output_)}) {
            fftwf_free(buffer);
        }
    }
    BareFftwConvolution(const BareFftwConvolution&) = delete;
    BareFftwConvolution& operator=(const BareFftwConvolution&) = delete;

    void run() {
        fftwf_execute(forward_);
        for (std::size_t k = 0; k < size_ / 2 + 1; ++k) {
            const float re = bins_[k][0] * spectrum_[k][0] - bins_[k][1] * spectrum_[k][1];
            const float im = bins_[k][0] * spectrum_[k][1] + bins_[k][1] * spectrum_[k][0];
            bins_[k][0] = re;
            bins_[k][1] = im;
        }
        fftwf_execute(inverse_);
    }

    [[nodiscard]] float first_output() const { return output_[0]; }

private:
    std::size_t size_;
    float* time_;
    fftwf_complex* bins_;
    fftwf_complex* spectrum_;
    float* output_;
    fftwf_plan forward_{};
    fftwf_plan inverse_{};
};

/// Bare FFTW against SweepDeconvolver::deconvolve on a 2^20-sample recording, both in float,
/// timed alternately so that drifting clock speeds hit both alike.
void section_deconvolution_cost(BenchContext& context) {
    linetune::SweepParameters parameters;
    parameters.duration_s = 15.0;
    const auto sweep = linetune::generate_exponential_sweep(parameters);
    const auto recording = white_noise(deconvolution_size);

    BareFftwConvolution bare(recording);
    linetune::analysis::SweepDeconvolver deconvolver(sweep, parameters.sample_rate_hz);
    bare.run();  // first touches of the buffers are not timed
    float checksum = deconvolver.deconvolve(recording)[0];

    std::vector<double> bare_seconds;
    std::vector<double> deconvolution_seconds;
    for (int repeat = 0; repeat < repeat_count; ++repeat) {
        auto start = Clock::now();
        bare.run();
        bare_seconds.push_back(seconds_since(start));
        checksum += bare.first_output();

        start = Clock::now();
        const auto response = deconvolver.deconvolve(recording);
        deconvolution_seconds.push_back(seconds_since(start));
        checksum += response[0];
    }

    const double bare_ms = 1000.0 * median(bare_seconds);
    const double deconvolution_ms = 1000.0 * median(deconvolution_seconds);
    const double ratio = deconvolution_ms / bare_ms;
    const bool met = ratio <= max_deconvolution_cost_ratio;
    context.all_targets_met = context.all_targets_met && met;

    std::printf("bare fftw r2c + multiply + c2r (2^20 float, median of %d): %.3f ms\n", repeat_count, bare_ms);
    std::printf("sweep deconvolution (2^20 float, median of %d): %.3f ms\n", repeat_count, deconvolution_ms);
    std::printf("deconvolution / bare fftw ratio: %.3f (target <= %.2f) %s\n", ratio, max_deconvolution_cost_ratio,
                met ? "PASS" : "FAIL");
    std::printf("deconvolution inverse spectra computed: %zu\n", deconvolver.inverse_spectra_computed());
    if (!std::isfinite(checksum)) {
        std::printf("deconvolution output: not finite FAIL\n");
        context.all_targets_met = false;
    }
}

/// Time spent planning FFTs through linetune's plan cache so far in this run.
void section_fft_planning_time(BenchContext&) {
    std::printf("fft planning time: %.3f ms\n", 1000.0 * linetune::analysis::fft_planning_time_s());
}

}  // namespace

int main(int argc, char** argv) {
    BenchContext context;
    if (argc > 1) {
        context.ir_folder = argv[1];
    }
    std::printf("linetune version: %s\n", LINETUNE_VERSION);

    section_deconvolution_cost(context);
    section_fft_planning_time(context);
    // Sections still to add, each a function taking the context: impulse responses analysed per
    // second over context.ir_folder on 2 cores, and peak RSS.

    return context.all_targets_met ? 0 : 1;
}
