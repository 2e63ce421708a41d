#include "linetune/core/signal.hpp"

#include <cassert>

namespace linetune {

std::string_view to_string(TimeBaseSource source) {
    switch (source) {
    case TimeBaseSource::file_start: return "file_start";
    case TimeBaseSource::t0_sample_option: return "t0_sample_option";
    case TimeBaseSource::rew_start_time: return "rew_start_time";
    case TimeBaseSource::loopback: return "loopback";
    }
    return "file_start";
}

MultichannelSignal::MultichannelSignal(std::size_t channel_count, std::size_t frame_count,
                                       double sample_rate_hz)
    : channel_count_(channel_count),
      frame_count_(frame_count),
      sample_rate_hz_(sample_rate_hz),
      samples_(channel_count * frame_count, 0.0F) {}

std::span<float> MultichannelSignal::channel(std::size_t index) {
    assert(index < channel_count_);
    return {samples_.data() + index * frame_count_, frame_count_};
}

std::span<const float> MultichannelSignal::channel(std::size_t index) const {
    assert(index < channel_count_);
    return {samples_.data() + index * frame_count_, frame_count_};
}

}  // namespace linetune
