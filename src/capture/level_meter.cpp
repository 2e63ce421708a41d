#include "linetune/capture/level_meter.hpp"

#include <algorithm>
#include <cmath>

namespace linetune::capture {
namespace {

// Floor of peak_dbfs: 24-bit converters reach about −144 dBFS, but below −120 dBFS a meter only
// shows that the input is silent, and log10(0) has no value.
constexpr double silence_dbfs = -120.0;

}  // namespace

LevelMeter::LevelMeter(std::size_t input_count)
    : input_count_(input_count), peaks_(std::make_unique<std::atomic<float>[]>(input_count)) {
    static_assert(std::atomic<float>::is_always_lock_free && std::atomic<std::size_t>::is_always_lock_free,
                  "the audio callback must never wait on a lock");
    for (std::size_t input = 0; input < input_count_; ++input) {
        peaks_[input].store(0.0f, std::memory_order_relaxed);
    }
}

void LevelMeter::start_pass(std::size_t total_frames) noexcept {
    for (std::size_t input = 0; input < input_count_; ++input) {
        peaks_[input].store(0.0f, std::memory_order_relaxed);
    }
    frames_done_.store(0, std::memory_order_relaxed);
    total_frames_.store(total_frames, std::memory_order_relaxed);
}

void LevelMeter::end_pass() noexcept { total_frames_.store(0, std::memory_order_relaxed); }

void LevelMeter::observe(std::size_t input, float sample) noexcept {
    if (input >= input_count_) {
        return;
    }
    const float magnitude = std::fabs(sample);
    if (magnitude > peaks_[input].load(std::memory_order_relaxed)) {
        peaks_[input].store(magnitude, std::memory_order_relaxed);
    }
}

PassProgress LevelMeter::progress() const noexcept {
    return {frames_done_.load(std::memory_order_relaxed), total_frames_.load(std::memory_order_relaxed)};
}

float LevelMeter::take_peak(std::size_t input) noexcept {
    return input < input_count_ ? peaks_[input].exchange(0.0f, std::memory_order_relaxed) : 0.0f;
}

double LevelMeter::peak_dbfs(float peak) noexcept {
    return peak > 0.0f ? std::max(silence_dbfs, 20.0 * std::log10(static_cast<double>(peak))) : silence_dbfs;
}

}  // namespace linetune::capture
