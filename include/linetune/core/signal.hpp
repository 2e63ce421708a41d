#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace linetune {

/// Where a time base comes from; only a file-start time base is relative.
enum class TimeBaseSource {
    file_start,        ///< nothing says where t = 0 is: times count from the first sample
    t0_sample_option,  ///< the user placed t = 0 with --t0-sample (REW's "t=0 at sample" convention)
    rew_start_time,    ///< a REW text export's "Start time (seconds)" header
    loopback,          ///< the arrival of the played sweep recorded through a loopback cable
};

/// Name of a time-base source as written in JSON and tables.
std::string_view to_string(TimeBaseSource source);

/// Position of t = 0 in a signal, as a fractional sample index counted from the first sample.
struct TimeBase {
    double time_zero_sample = 0.0;
    TimeBaseSource source = TimeBaseSource::file_start;

    [[nodiscard]] bool is_absolute() const { return source != TimeBaseSource::file_start; }
};

/// Multichannel audio at one sample rate, stored planar (each channel contiguous) in float32
/// with full scale at ±1.0.
class MultichannelSignal {
public:
    MultichannelSignal() = default;
    MultichannelSignal(std::size_t channel_count, std::size_t frame_count, double sample_rate_hz);

    [[nodiscard]] std::size_t channel_count() const { return channel_count_; }
    [[nodiscard]] std::size_t frame_count() const { return frame_count_; }
    [[nodiscard]] double sample_rate_hz() const { return sample_rate_hz_; }

    /// Samples of one channel (0-based index).
    [[nodiscard]] std::span<float> channel(std::size_t index);
    [[nodiscard]] std::span<const float> channel(std::size_t index) const;

    TimeBase time_base;

private:
    std::size_t channel_count_ = 0;
    std::size_t frame_count_ = 0;
    double sample_rate_hz_ = 0.0;
    std::vector<float> samples_;
};

}  // namespace linetune
