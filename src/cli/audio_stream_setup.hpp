#pragma once

#include "linetune/capture/measure.hpp"
#include "linetune/capture/portaudio_stream.hpp"
#include "linetune/core/venue.hpp"

#include <string>

namespace linetune::cli {

/// The PortAudio stream for a venue: the device and host API named on the command line (parts of
/// their names; empty for the defaults) at the venue's sample rate. The device is looked up and the
/// venue and measurement are checked against its channel counts before any audio, so that a wrong
/// set-up fails before a sweep plays.
capture::PortAudioStreamOptions checked_stream_options(const Venue& venue, const std::string& device,
                                                       const std::string& host_api,
                                                       const capture::MeasureOptions& measure_options);

/// While it lives, SIGINT and SIGTERM fade the stream out (the measurement then stops with an
/// error); afterwards the defaults are back, so that a second Ctrl-C ends the program at once.
class StopOnSignal {
public:
    explicit StopOnSignal(capture::PortAudioCaptureStream& stream);
    ~StopOnSignal();
    StopOnSignal(const StopOnSignal&) = delete;
    StopOnSignal& operator=(const StopOnSignal&) = delete;
};

}  // namespace linetune::cli
