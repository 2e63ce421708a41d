#pragma once

// A capture stream for tests. Every input hears one output through a known fractional delay and
// gain, plus seeded Gaussian noise, all behind one interface latency that the software is not given.

#include "linetune/analysis/fft.hpp"
#include "linetune/core/capture_stream.hpp"
#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstddef>
#include <deque>
#include <map>
#include <random>
#include <vector>

namespace linetune::test {

/// What one input of the fake interface hears: a 1-based output, delayed and scaled.
struct FakeInputPath {
    std::size_t output = 0;      ///< 0: the input hears only noise
    double delay_samples = 0.0;  ///< on top of the interface latency; fractional delays are band-limited
    double gain = 1.0;
    double noise_rms = 1e-5;     ///< -100 dBFS
};

/// Delays x by a fractional number of samples: Y[k] = X[k]·e^(−j2πk·d/N) over a zero-padded FFT,
/// which is the band-limited (ideal) delay. The Nyquist bin keeps its real part.
inline std::vector<double> delay_band_limited(std::span<const float> input, double delay_samples,
                                              std::size_t output_frames) {
    const std::size_t size = analysis::next_fast_fft_size(2 * (std::max(input.size(), output_frames) +
                                                                static_cast<std::size_t>(std::ceil(delay_samples))));
    analysis::RealFft<double> fft(size);
    std::vector<double> samples(input.begin(), input.end());
    std::vector<std::complex<double>> spectrum(fft.bin_count());
    fft.forward(samples, spectrum);
    for (std::size_t k = 0; k < spectrum.size(); ++k) {
        spectrum[k] *= std::polar(1.0, -2.0 * pi * static_cast<double>(k) * delay_samples / static_cast<double>(size));
    }
    if (size % 2 == 0) {
        spectrum.back() = spectrum.back().real();
    }
    std::vector<double> output(output_frames);
    fft.inverse(spectrum, output);
    return output;
}

class FakeCaptureStream : public CaptureStream {
public:
    FakeCaptureStream(StreamFormat format, double latency_samples) : format_(format), latency_samples_(latency_samples) {}

    /// Sets what a 1-based input hears.
    void connect(std::size_t input, FakeInputPath path) { paths_[input] = path; }

    /// Xrun counts reported by the next passes, in order; later passes report none.
    std::deque<std::size_t> xruns_per_pass;

    /// Seed of the first pass's noise; pass k uses seed + k − 1.
    unsigned seed = 1001;

    /// Every request played so far.
    std::vector<CaptureRequest> requests;

    [[nodiscard]] StreamFormat format() const override { return format_; }
    [[nodiscard]] std::string description() const override { return "fake interface 'test'"; }

    CaptureResult play_and_record(const CaptureRequest& request) override {
        requests.push_back(request);
        CaptureResult result;
        result.recording = MultichannelSignal(request.input_channels.size(), request.record_frames, format_.sample_rate_hz);
        std::mt19937 generator(static_cast<unsigned>(seed - 1 + requests.size()));
        for (std::size_t index = 0; index < request.input_channels.size(); ++index) {
            record_input(request, request.input_channels[index], result.recording.channel(index), generator);
        }
        if (!xruns_per_pass.empty()) {
            result.xrun_count = xruns_per_pass.front();
            xruns_per_pass.pop_front();
        }
        return result;
    }

private:
    void record_input(const CaptureRequest& request, std::size_t input, std::span<float> recorded,
                      std::mt19937& generator) const {
        const auto found = paths_.find(input);
        const FakeInputPath path = found == paths_.end() ? FakeInputPath{} : found->second;
        std::vector<double> arriving(recorded.size(), 0.0);
        const auto played = std::find(request.output_channels.begin(), request.output_channels.end(), path.output);
        if (path.output != 0 && played != request.output_channels.end()) {
            const auto index = static_cast<std::size_t>(played - request.output_channels.begin());
            arriving = delay_band_limited(request.playback.channel(index), latency_samples_ + path.delay_samples,
                                       recorded.size());
        }
        std::normal_distribution<double> noise(0.0, path.noise_rms);
        for (std::size_t n = 0; n < recorded.size(); ++n) {
            // An input converter saturates at full scale.
            recorded[n] = static_cast<float>(std::clamp(path.gain * arriving[n] + noise(generator), -1.0, 1.0));
        }
    }

    StreamFormat format_;
    double latency_samples_ = 0.0;
    std::map<std::size_t, FakeInputPath> paths_;
};

}  // namespace linetune::test
