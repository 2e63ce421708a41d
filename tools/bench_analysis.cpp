// Benchmarks of the analysis layer. Prints one `name: value unit` line per figure and exits 1
// when a figure misses its target. Argument: the folder of measured impulse responses (WAV).
//
// Each section is one function taking the BenchContext; main() runs them in order.

#include "linetune/analysis/channel_analysis.hpp"
#include "linetune/analysis/deconvolution.hpp"
#include "linetune/analysis/fft.hpp"
#include "linetune/core/sweep.hpp"
#include "linetune/io/measurement_file.hpp"
#include "linetune/io/wav_writer.hpp"
#include "linetune_version.hpp"

#include <fftw3.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <random>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

/// Shared state of one benchmark run.
struct BenchContext {
    std::filesystem::path ir_folder;       ///< measured impulse responses (argv[1]); may be empty
    bool all_targets_met = true;
};

/// Worker threads of the throughput figure: the 2 cores of the reference CI machine.
constexpr unsigned throughput_threads = 2;

/// Peak-memory benchmark file: 8 channels of 2^20 frames, like a long multi-mic capture.
constexpr std::size_t rss_channels = 8;
constexpr std::size_t rss_frames = std::size_t{1} << 20;
/// Target: analysing that file may raise peak RSS by at most this multiple of its decoded
/// float32 audio (32 MiB).
constexpr double max_rss_ratio = 4.0;

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

/// Lists every WAV below the folder, sorted so runs are comparable.
std::vector<std::filesystem::path> wav_files_below(const std::filesystem::path& folder) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
        auto extension = entry.path().extension().string();
        std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
        if (entry.is_regular_file() && extension == ".wav") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// Reads and analyses every file with `threads` workers pulling from one queue; returns the
/// wall time in seconds and counts the channels analysed.
double analyse_files(const std::vector<std::filesystem::path>& files, unsigned threads, std::size_t& channels) {
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> channel_count{0};
    const auto work = [&] {
        for (std::size_t i = next++; i < files.size(); i = next++) {
            auto measurement = linetune::io::read_measurement(files[i], {});
            const auto result = linetune::analysis::analyze_measurement(std::move(measurement), {}, nullptr);
            channel_count += result.channels.size();
        }
    };
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back(work);
    }
    for (auto& worker : workers) {
        worker.join();
    }
    channels = channel_count;
    return seconds_since(start);
}

/// Whole-file analysis (read, quality, arrival, metrics, response) of the measured impulse
/// responses, on one thread and on throughput_threads threads.
void section_impulse_response_throughput(BenchContext& context) {
    if (context.ir_folder.empty() || !std::filesystem::is_directory(context.ir_folder)) {
        std::printf("impulse-response throughput: skipped, folder '%s' not found\n", context.ir_folder.c_str());
        return;
    }
    const auto files = wav_files_below(context.ir_folder);
    std::size_t channels = 0;
    analyse_files(files, 1, channels);  // warm-up: FFT plans and file cache
    const double one_thread_s = analyse_files(files, 1, channels);
    const double parallel_s = analyse_files(files, throughput_threads, channels);

    std::printf("impulse responses analysed: %zu files, %zu channels\n", files.size(), channels);
    std::printf("analysis time per impulse response (1 thread): %.2f ms per file, %.2f ms per channel\n",
                1000.0 * one_thread_s / static_cast<double>(files.size()),
                1000.0 * one_thread_s / static_cast<double>(channels));
    std::printf("impulse responses per second (%u threads): %.1f files/s, %.1f channels/s (1 thread: %.1f files/s)\n",
                throughput_threads, static_cast<double>(files.size()) / parallel_s,
                static_cast<double>(channels) / parallel_s, static_cast<double>(files.size()) / one_thread_s);
}

/// Reads a line of /proc/self/status ("VmHWM", "VmRSS") in KiB, or -1 when unavailable.
long proc_status_kib(const std::string& key) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(key + ":", 0) == 0) {
            return std::stol(line.substr(key.size() + 1));
        }
    }
    return -1;
}

/// Peak RSS that reading and analysing an 8-channel 2^20-frame file of decaying noise adds to
/// this process, against a multiple of the decoded float32 audio. The peak is reset first by
/// writing 5 to /proc/self/clear_refs (Linux 4.0 and later), so earlier sections do not count;
/// the baseline is this process's RSS at that moment, which plays the role of an idle
/// `linetune --version` (same libraries loaded, no audio).
void section_peak_rss(BenchContext& context) {
    const auto folder = std::filesystem::temp_directory_path() / ("linetune-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(folder);
    const auto path = folder / "eight_channels.wav";
    {
        linetune::MultichannelSignal signal(rss_channels, rss_frames, 48000.0);
        std::mt19937 generator(7);
        std::normal_distribution<float> normal(0.0F, 1.0F);
        for (std::size_t c = 0; c < rss_channels; ++c) {
            auto samples = signal.channel(c);
            // A 1.2 s reverberation tail after a direct sound at 10 ms + 1 ms per channel.
            const std::size_t onset = 480 + 48 * c;
            for (std::size_t n = onset; n < rss_frames; ++n) {
                const double t_s = static_cast<double>(n - onset) / 48000.0;
                samples[n] = static_cast<float>(0.2 * std::exp(-6.9 * t_s / 1.2)) * normal(generator) +
                             1e-5F * normal(generator);
            }
            samples[onset] = 0.9F;
        }
        linetune::io::write_wav(path, signal, linetune::io::WavEncoding::float32);
    }
    malloc_trim(0);

    std::ofstream("/proc/self/clear_refs") << "5";
    const long baseline_kib = proc_status_kib("VmRSS");
    auto measurement = linetune::io::read_measurement(path, {});
    const auto result = linetune::analysis::analyze_measurement(std::move(measurement), {}, nullptr);
    const long peak_kib = proc_status_kib("VmHWM");
    std::filesystem::remove_all(folder);
    if (baseline_kib < 0 || peak_kib < 0 || result.channels.size() != rss_channels) {
        std::printf("peak rss: /proc/self/status unreadable or analysis incomplete FAIL\n");
        context.all_targets_met = false;
        return;
    }

    const double audio_mib = static_cast<double>(rss_channels * rss_frames * sizeof(float)) / (1024.0 * 1024.0);
    const double above_mib = static_cast<double>(peak_kib - baseline_kib) / 1024.0;
    const double ratio = above_mib / audio_mib;
    const bool met = ratio <= max_rss_ratio;
    context.all_targets_met = context.all_targets_met && met;
    std::printf("rss before analysis (libraries loaded, no audio): %.1f MiB\n", static_cast<double>(baseline_kib) / 1024.0);
    std::printf("peak rss analysing 8 ch x 2^20 frames float32 (%.0f MiB decoded): %.1f MiB (+%.1f MiB)\n", audio_mib,
                static_cast<double>(peak_kib) / 1024.0, above_mib);
    std::printf("peak rss added / decoded audio: %.2f (target <= %.1f) %s\n", ratio, max_rss_ratio,
                met ? "PASS" : "FAIL");
}

}  // namespace

int main(int argc, char** argv) {
    BenchContext context;
    if (argc > 1) {
        context.ir_folder = argv[1];
    }

    std::printf("linetune version: %s\n", LINETUNE_VERSION);

    section_deconvolution_cost(context);
    section_peak_rss(context);
    section_impulse_response_throughput(context);
    section_fft_planning_time(context);

    return context.all_targets_met ? 0 : 1;
}
