#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace linetune::capture {

/// How far the pass that plays has come, in frames; total_frames is 0 while no pass plays.
struct PassProgress {
    std::size_t frames_done = 0;
    std::size_t total_frames = 0;
};

/// Live peak level per input and progress of the pass, shared between an audio callback (the only
/// writer of peaks and frames done) and one reader thread (a terminal display). Every value is a
/// lock-free atomic allocated at construction, so the callback's side never allocates, locks,
/// logs or throws.
class LevelMeter {
public:
    /// A meter for inputs 0 to input_count − 1 (0-based device inputs).
    explicit LevelMeter(std::size_t input_count);

    [[nodiscard]] std::size_t input_count() const noexcept { return input_count_; }

    // Measuring thread, around each pass.
    /// Clears the peaks and frames done and announces a pass of total_frames.
    void start_pass(std::size_t total_frames) noexcept;
    /// Marks that no pass plays (progress().total_frames becomes 0).
    void end_pass() noexcept;

    // Audio callback.
    /// Raises the held peak of a 0-based input to |sample| when larger; an input beyond
    /// input_count is ignored. A relaxed load and store, no compare-and-swap: the callback is the
    /// only writer, and a reset by take_peak that races with it loses at most one block's peak.
    void observe(std::size_t input, float sample) noexcept;
    /// Frames of the pass recorded so far.
    void set_frames_done(std::size_t frames) noexcept { frames_done_.store(frames, std::memory_order_relaxed); }

    // Reader thread.
    /// The pass's progress; total_frames is 0 while no pass plays.
    [[nodiscard]] PassProgress progress() const noexcept;
    /// The largest |sample| of a 0-based input since the previous call (or the pass's start), and
    /// resets it, so that a display a few times per second shows each interval's peak.
    float take_peak(std::size_t input) noexcept;

    /// A peak magnitude (1.0 = full scale) in dBFS: 20·log10(peak), floored at −120 dBFS for silence.
    [[nodiscard]] static double peak_dbfs(float peak) noexcept;

private:
    std::size_t input_count_;
    std::unique_ptr<std::atomic<float>[]> peaks_;
    std::atomic<std::size_t> frames_done_{0};
    std::atomic<std::size_t> total_frames_{0};
};

}  // namespace linetune::capture
