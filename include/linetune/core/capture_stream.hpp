#pragma once

#include "linetune/core/signal.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace linetune {

/// Sample rate and channel counts of an opened full-duplex stream.
struct StreamFormat {
    double sample_rate_hz = 0.0;
    std::size_t output_channels = 0;  ///< outputs of the interface (1-based channels 1..output_channels)
    std::size_t input_channels = 0;   ///< inputs of the interface
};

/// One full-duplex pass: play these signals on these outputs and record those inputs, all
/// sample-locked to one clock.
struct CaptureRequest {
    MultichannelSignal playback;                ///< one channel per entry of output_channels, at the stream rate
    std::vector<std::size_t> output_channels;   ///< 1-based outputs; the other outputs play silence
    std::vector<std::size_t> input_channels;    ///< 1-based inputs to record, in this order
    std::size_t record_frames = 0;              ///< frames recorded from the start of playback (sweep + tail)
};

/// The recording of one pass and its xrun count.
struct CaptureResult {
    MultichannelSignal recording;  ///< one channel per entry of CaptureRequest::input_channels
    std::size_t xrun_count = 0;    ///< buffer under- or overruns during the pass; timing is unreliable when > 0
};

/// A full-duplex audio stream: the in-process simulation backend and the PortAudio backend
/// implement it. Implementations throw Error (ErrorKind::device) naming the interface when the
/// stream cannot run, and ErrorKind::configuration for a request the interface cannot serve
/// (a channel beyond its count, a signal at another sample rate).
class CaptureStream {
public:
    virtual ~CaptureStream() = default;

    /// Sample rate and channel counts of the open stream.
    [[nodiscard]] virtual StreamFormat format() const = 0;

    /// The interface's name for messages ("simulated rig 'arena'", "PortAudio 'UMC1820'").
    [[nodiscard]] virtual std::string description() const = 0;

    /// Plays and records one pass; returns when record_frames have been recorded.
    virtual CaptureResult play_and_record(const CaptureRequest& request) = 0;
};

}  // namespace linetune
