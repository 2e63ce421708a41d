#include "linetune/analysis/fft.hpp"

#include <fftw3.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>

namespace linetune::analysis {
namespace {

// FFTW's planner is not thread-safe, but executing an existing plan on new arrays is. All plan
// creation goes through this mutex; plans live until the process ends.
std::mutex planner_mutex;
double planning_seconds = 0.0;

template <typename T>
struct Fftw;

template <>
struct Fftw<float> {
    using Plan = fftwf_plan;
    using Complex = fftwf_complex;
    static void* allocate(std::size_t bytes) { return fftwf_malloc(bytes); }
    static void release(void* pointer) { fftwf_free(pointer); }
    static Plan plan_forward(int n, float* in, Complex* out) {
        return fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    }
    static Plan plan_inverse(int n, Complex* in, float* out) {
        return fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    }
    static void forward(Plan plan, float* in, Complex* out) { fftwf_execute_dft_r2c(plan, in, out); }
    static void inverse(Plan plan, Complex* in, float* out) { fftwf_execute_dft_c2r(plan, in, out); }
};

template <>
struct Fftw<double> {
    using Plan = fftw_plan;
    using Complex = fftw_complex;
    static void* allocate(std::size_t bytes) { return fftw_malloc(bytes); }
    static void release(void* pointer) { fftw_free(pointer); }
    static Plan plan_forward(int n, double* in, Complex* out) {
        return fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    }
    static Plan plan_inverse(int n, Complex* in, double* out) {
        return fftw_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
    }
    static void forward(Plan plan, double* in, Complex* out) { fftw_execute_dft_r2c(plan, in, out); }
    static void inverse(Plan plan, Complex* in, double* out) { fftw_execute_dft_c2r(plan, in, out); }
};

template <typename T>
struct PlanPair {
    typename Fftw<T>::Plan forward;
    typename Fftw<T>::Plan inverse;
};

/// Plans for one size, created on first use. FFTW plans made with FFTW_ESTIMATE on aligned
/// scratch arrays apply to any other arrays with the same (SIMD) alignment, which fftw_malloc
/// guarantees for every buffer used here.
template <typename T>
PlanPair<T> plans_for_size(std::size_t size) {
    static std::map<std::size_t, PlanPair<T>> cache;
    const std::lock_guard lock(planner_mutex);
    if (const auto found = cache.find(size); found != cache.end()) {
        return found->second;
    }

    const auto start = std::chrono::steady_clock::now();
    auto* time = static_cast<T*>(Fftw<T>::allocate(sizeof(T) * size));
    auto* bins = static_cast<typename Fftw<T>::Complex*>(
        Fftw<T>::allocate(sizeof(typename Fftw<T>::Complex) * (size / 2 + 1)));
    const int n = static_cast<int>(size);
    const PlanPair<T> pair{Fftw<T>::plan_forward(n, time, bins), Fftw<T>::plan_inverse(n, bins, time)};
    Fftw<T>::release(time);
    Fftw<T>::release(bins);
    if (pair.forward == nullptr || pair.inverse == nullptr) {
        throw std::bad_alloc();
    }
    planning_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cache.emplace(size, pair);
    return pair;
}

/// In-place complex inverse plan of one size, created once like the real plans.
fftw_plan complex_inverse_plan(std::size_t size) {
    static std::map<std::size_t, fftw_plan> cache;
    const std::lock_guard lock(planner_mutex);
    if (const auto found = cache.find(size); found != cache.end()) {
        return found->second;
    }
    const auto start = std::chrono::steady_clock::now();
    auto* data = static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * size));
    const fftw_plan plan = fftw_plan_dft_1d(static_cast<int>(size), data, data, FFTW_BACKWARD, FFTW_ESTIMATE);
    fftw_free(data);
    if (plan == nullptr) {
        throw std::bad_alloc();
    }
    planning_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cache.emplace(size, plan);
    return plan;
}

}  // namespace

std::size_t next_fast_fft_size(std::size_t minimum_size) {
    std::size_t candidate = std::max<std::size_t>(minimum_size, 1);
    for (;; ++candidate) {
        std::size_t rest = candidate;
        for (const std::size_t factor : {2U, 3U, 5U, 7U}) {
            while (rest % factor == 0) {
                rest /= factor;
            }
        }
        if (rest == 1) {
            return candidate;
        }
    }
}

template <typename T>
struct RealFft<T>::Impl {
    std::size_t size = 0;
    PlanPair<T> plans{};
    T* time = nullptr;
    std::complex<T>* bins = nullptr;

    ~Impl() {
        Fftw<T>::release(time);
        Fftw<T>::release(bins);
    }
    auto* fftw_bins() { return reinterpret_cast<typename Fftw<T>::Complex*>(bins); }
};

template <typename T>
RealFft<T>::RealFft(std::size_t size) : impl_(std::make_unique<Impl>()) {
    assert(size >= 2);
    impl_->size = size;
    impl_->plans = plans_for_size<T>(size);
    impl_->time = static_cast<T*>(Fftw<T>::allocate(sizeof(T) * size));
    impl_->bins = static_cast<std::complex<T>*>(
        Fftw<T>::allocate(sizeof(std::complex<T>) * (size / 2 + 1)));
    if (impl_->time == nullptr || impl_->bins == nullptr) {
        throw std::bad_alloc();
    }
}

template <typename T>
RealFft<T>::~RealFft() = default;
template <typename T>
RealFft<T>::RealFft(RealFft&&) noexcept = default;
template <typename T>
RealFft<T>& RealFft<T>::operator=(RealFft&&) noexcept = default;

template <typename T>
std::size_t RealFft<T>::size() const {
    return impl_->size;
}

template <typename T>
std::span<T> RealFft<T>::time_buffer() {
    return {impl_->time, impl_->size};
}

template <typename T>
std::span<std::complex<T>> RealFft<T>::bin_buffer() {
    return {impl_->bins, bin_count()};
}

template <typename T>
void RealFft<T>::execute_forward() {
    Fftw<T>::forward(impl_->plans.forward, impl_->time, impl_->fftw_bins());
}

template <typename T>
void RealFft<T>::execute_inverse() {
    Fftw<T>::inverse(impl_->plans.inverse, impl_->fftw_bins(), impl_->time);
}

template <typename T>
void RealFft<T>::forward(std::span<const T> input, std::span<std::complex<T>> output) {
    assert(input.size() <= size() && output.size() == bin_count());
    std::copy(input.begin(), input.end(), impl_->time);
    std::fill(impl_->time + input.size(), impl_->time + size(), T{0});
    execute_forward();
    std::copy(impl_->bins, impl_->bins + bin_count(), output.begin());
}

template <typename T>
void RealFft<T>::inverse(std::span<const std::complex<T>> input, std::span<T> output) {
    assert(input.size() == bin_count() && output.size() <= size());
    std::copy(input.begin(), input.end(), impl_->bins);
    execute_inverse();
    const T scale = T{1} / static_cast<T>(size());
    std::transform(impl_->time, impl_->time + output.size(), output.begin(),
                   [scale](T value) { return value * scale; });
}

template class RealFft<float>;
template class RealFft<double>;

std::vector<std::complex<double>> analytic_signal(std::span<const float> signal) {
    const std::size_t n = signal.size();
    if (n == 0) {
        return {};
    }
    const std::size_t fft_size = next_fast_fft_size(2 * n);

    // Forward real FFT, then a full complex inverse of the one-sided spectrum doubled: the
    // analytic signal's spectrum is X[0], 2·X[1..N/2−1], X[N/2] (even N), 0 for negative bins.
    RealFft<double> fft(fft_size);
    auto time = fft.time_buffer();
    std::copy(signal.begin(), signal.end(), time.begin());
    std::fill(time.begin() + static_cast<std::ptrdiff_t>(n), time.end(), 0.0);
    fft.execute_forward();
    const auto bins = fft.bin_buffer();

    // The inverse runs in an fftw_malloc'd buffer with a cached plan: plans may assume the SIMD
    // alignment of the array they were made on, which std::vector does not promise.
    const fftw_plan plan = complex_inverse_plan(fft_size);
    auto* spectrum = static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * fft_size));
    if (spectrum == nullptr) {
        throw std::bad_alloc();
    }
    auto* values = reinterpret_cast<std::complex<double>*>(spectrum);
    values[0] = bins[0];
    for (std::size_t k = 1; k < bins.size(); ++k) {
        values[k] = 2.0 * bins[k];
    }
    if (fft_size % 2 == 0) {
        values[fft_size / 2] = bins[fft_size / 2];
    }
    std::fill(values + bins.size(), values + fft_size, std::complex<double>{0.0, 0.0});
    fftw_execute_dft(plan, spectrum, spectrum);

    const double scale = 1.0 / static_cast<double>(fft_size);
    std::vector<std::complex<double>> analytic(n);
    for (std::size_t i = 0; i < n; ++i) {
        analytic[i] = values[i] * scale;
    }
    fftw_free(spectrum);
    return analytic;
}

double fft_planning_time_s() {
    const std::lock_guard lock(planner_mutex);
    return planning_seconds;
}

}  // namespace linetune::analysis
