#pragma once

#include "linetune/capture/level_meter.hpp"
#include "linetune/core/capture_stream.hpp"

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace linetune::capture {

/// One PortAudio host API (ALSA, JACK, ...) and how many devices it offers.
struct AudioHostApiInfo {
    std::string name;
    std::size_t device_count = 0;
};

/// One PortAudio device: its host API, channel counts and the standard rates it accepts.
struct AudioDeviceInfo {
    int index = -1;  ///< PortAudio's device index, valid while PortAudio stays initialised
    std::string name;
    std::string host_api;
    std::size_t input_channels = 0;
    std::size_t output_channels = 0;
    double default_sample_rate_hz = 0.0;
    /// Standard rates that PortAudio accepts for a full-duplex stream with every channel (or
    /// input-only or output-only for a device with one direction).
    std::vector<double> supported_sample_rates_hz;
};

/// Host APIs and devices that PortAudio finds on this machine.
struct AudioInterfaceList {
    std::vector<AudioHostApiInfo> host_apis;
    std::vector<AudioDeviceInfo> devices;
};

/// Lists PortAudio's host APIs and devices with the standard rates each accepts. Throws a device
/// Error when PortAudio cannot start.
AudioInterfaceList list_audio_interfaces();

/// Device choice and stream settings of a PortAudio capture stream.
struct PortAudioStreamOptions {
    std::string device;    ///< part of the device name (case-insensitive); empty: the default device (of the host API when given)
    std::string host_api;  ///< part of the host API name (case-insensitive, "JACK"); empty: any
    double sample_rate_hz = 48000.0;  ///< the venue's rate; a device that rejects it is a configuration error
    /// Frames per callback; 0 lets PortAudio choose (with JACK, the server's period).
    std::size_t frames_per_buffer = 0;
    /// Silence played after the stream starts and before the first pass, so that the driver has
    /// settled and an audio server has finished connecting ports.
    double settle_s = 0.5;
};

/// The device that PortAudioStreamOptions select and its channel counts, found without opening
/// a stream. Throws a configuration Error listing the devices when none or several match.
AudioDeviceInfo find_audio_device(const PortAudioStreamOptions& options);

/// A CaptureStream over one full-duplex PortAudio stream, open and running from construction
/// to destruction. Between passes it plays silence. The audio callback is noexcept and never
/// allocates, locks or logs: each pass's buffers are allocated before the callback sees them,
/// and the callback and the measuring thread share only atomics.
class PortAudioCaptureStream final : public CaptureStream {
public:
    /// Opens and starts the stream with every input and output of the device. Throws a
    /// configuration Error when no device matches or the device rejects the sample rate, and a
    /// device Error naming the interface when the stream cannot open or start.
    explicit PortAudioCaptureStream(const PortAudioStreamOptions& options);

    /// Fades out what plays (within 10 ms), then stops and closes the stream.
    ~PortAudioCaptureStream() override;

    PortAudioCaptureStream(const PortAudioCaptureStream&) = delete;
    PortAudioCaptureStream& operator=(const PortAudioCaptureStream&) = delete;

    [[nodiscard]] StreamFormat format() const override;
    [[nodiscard]] std::string description() const override;

    /// Plays and records one pass. Throws a configuration Error for a request the interface
    /// cannot serve and a device Error when the stream stops delivering audio or the pass is
    /// stopped by request_stop (after the fade-out).
    CaptureResult play_and_record(const CaptureRequest& request) override;

    /// Asks the callback to fade out the pass that plays and stop it. Safe to call from a
    /// signal handler: it only stores an atomic flag.
    void request_stop() noexcept;

    /// Live peak per device input (0-based) and progress of the pass that plays. The audio
    /// callback writes it, and a display thread reads it while play_and_record waits.
    LevelMeter& meter() noexcept;

    /// The callback's shared state; public only so that the C callback can reach it.
    struct Shared;

private:
    /// Waits until the callback finishes the pass; throws when it was stopped or the stream stalls.
    void wait_for_pass(const std::string& name);

    std::unique_ptr<Shared> shared_;
    bool abandoned_ = false;  ///< a pass was left running by an exception; the callback may still use its buffers
    void* stream_ = nullptr;  ///< PaStream*
    AudioDeviceInfo device_;
    StreamFormat format_;
};

}  // namespace linetune::capture
