#include "audio_stream_setup.hpp"

#include "linetune/core/capture_stream.hpp"

#include <atomic>
#include <csignal>

namespace linetune::cli {
namespace {

/// The stream that SIGINT and SIGTERM fade out; set only while a StopOnSignal lives.
std::atomic<capture::PortAudioCaptureStream*> stream_to_stop{nullptr};

extern "C" void stop_on_signal(int) {
    if (auto* stream = stream_to_stop.load()) {
        stream->request_stop();
    }
}

}  // namespace

capture::PortAudioStreamOptions checked_stream_options(const Venue& venue, const std::string& device,
                                                       const std::string& host_api,
                                                       const capture::MeasureOptions& measure_options) {
    capture::PortAudioStreamOptions options;
    options.device = device;
    options.host_api = host_api;
    options.sample_rate_hz = venue.audio_interface.sample_rate_hz;

    // The venue's own problems (a missing audio_interface, two mics on one input) are listed
    // before the interface is looked for, so that a missing interface does not hide them. Only
    // the channel counts need the interface, so this first check lets every channel exist.
    constexpr std::size_t any_channel_count = 4096;
    capture::check_measurement_setup(venue, StreamFormat{options.sample_rate_hz, any_channel_count, any_channel_count},
                                     measure_options);
    const capture::AudioDeviceInfo found = capture::find_audio_device(options);
    StreamFormat expected;
    expected.sample_rate_hz = options.sample_rate_hz;
    expected.input_channels = found.input_channels;
    expected.output_channels = found.output_channels;
    capture::check_measurement_setup(venue, expected, measure_options);
    return options;
}

StopOnSignal::StopOnSignal(capture::PortAudioCaptureStream& stream) {
    stream_to_stop.store(&stream);
    std::signal(SIGINT, stop_on_signal);
    std::signal(SIGTERM, stop_on_signal);
}

StopOnSignal::~StopOnSignal() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    stream_to_stop.store(nullptr);
}

}  // namespace linetune::cli
