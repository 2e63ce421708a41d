#pragma once

#include <complex>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace linetune::analysis {

/// Smallest size >= minimum_size whose prime factors are 2, 3, 5 and 7 (FFTW is fast on those).
std::size_t next_fast_fft_size(std::size_t minimum_size);

/// Real-input FFT of one size in precision T (float or double). Plans come from a process-wide
/// cache (FFTW_ESTIMATE, planned once per size and shared); each object owns its aligned buffers,
/// so one object per thread is safe.
template <typename T>
class RealFft {
public:
    explicit RealFft(std::size_t size);
    ~RealFft();
    RealFft(RealFft&&) noexcept;
    RealFft& operator=(RealFft&&) noexcept;
    RealFft(const RealFft&) = delete;
    RealFft& operator=(const RealFft&) = delete;

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t bin_count() const { return size() / 2 + 1; }

    /// Unnormalised forward transform X[k] = Σ x[n]·e^(−2πikn/N) of input zero-padded to size().
    /// input.size() must be <= size(); output.size() must equal bin_count().
    void forward(std::span<const T> input, std::span<std::complex<T>> output);

    /// Inverse transform normalised by 1/N, so inverse(forward(x)) == x.
    /// input.size() must equal bin_count(); output.size() must be <= size() (the rest is dropped).
    void inverse(std::span<const std::complex<T>> input, std::span<T> output);

    /// The object's aligned buffers, for callers that fill and read them in place to avoid copies:
    /// execute_forward() transforms time_buffer() into bin_buffer(), execute_inverse() the reverse
    /// (unnormalised).
    [[nodiscard]] std::span<T> time_buffer();
    [[nodiscard]] std::span<std::complex<T>> bin_buffer();
    void execute_forward();
    void execute_inverse();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

extern template class RealFft<float>;
extern template class RealFft<double>;

/// Analytic signal x + j·H{x} by zeroing negative frequencies (FFT size: next fast size >= 2·N
/// to keep circular wrap-around away from the ends). Its magnitude is the Hilbert envelope.
std::vector<std::complex<double>> analytic_signal(std::span<const float> signal);

/// Seconds spent creating FFTW plans in this process so far (for benchmarks).
double fft_planning_time_s();

}  // namespace linetune::analysis
