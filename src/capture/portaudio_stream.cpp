#include "linetune/capture/portaudio_stream.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"

#include <fcntl.h>
#include <pa_jack.h>
#include <portaudio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace linetune::capture {
namespace {

// The name PortAudio's JACK host API gives its client, so that its ports read
// "linetune:out_0", "linetune:in_0" and a patchbay (or the virtual venue) can find them.
constexpr const char* jack_client_name = "linetune";

// Rates that `interfaces` probes: the usual rates of audio interfaces, 8 kHz to 192 kHz.
constexpr std::array<double, 11> standard_sample_rates_hz{8000.0,  11025.0, 16000.0,  22050.0,  32000.0, 44100.0,
                                                          48000.0, 88200.0, 96000.0, 176400.0, 192000.0};

// Any stop during a pass ramps the outputs linearly to silence over this time. 5 ms is short
// enough that the whole stop (fade plus at most one buffer already handed to the driver) stays
// within 10 ms at 256-frame buffers and 48 kHz, and long enough that the ramp's click stays
// below the sweep's own level: its spectrum falls 12 dB per octave above 1 / 5 ms = 200 Hz.
constexpr double fade_out_s = 0.005;

// An input sample at or above this magnitude stops the pass: the converter is at full scale
// (−0.01 dBFS), so the recording is clipped and the level behind it unknown. Any recorded input
// counts, the loopback included.
constexpr float clipping_level = 0.999f;

// The measuring thread polls the callback's progress this often while a pass plays; the poll
// only sets how late play_and_record returns after the pass ends.
constexpr auto poll_interval = std::chrono::milliseconds(5);

// A stream whose callback has not advanced for this long has stopped delivering audio (the
// audio server died, the device was unplugged). Two seconds exceed any buffer an interface uses.
constexpr double stalled_stream_s = 2.0;

/// Pa_Initialize for the lifetime of this object; PortAudio counts nested initialisations.
/// PortAudio session for the whole process. PortAudio's ALSA and JACK probes print to stderr about
/// every card and server they do not find, so that text is hidden unless LINETUNE_AUDIO_DEBUG is
/// set. Failures still come back as error codes.
class PortAudioSession {
public:
    PortAudioSession() {
        PaJack_SetClientName(jack_client_name);
        const bool quiet = std::getenv("LINETUNE_AUDIO_DEBUG") == nullptr;
        const int saved_stderr = quiet ? ::dup(STDERR_FILENO) : -1;
        if (saved_stderr >= 0) {
            const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (null_fd >= 0) {
                ::dup2(null_fd, STDERR_FILENO);
                ::close(null_fd);
            }
        }
        const PaError result = Pa_Initialize();
        if (saved_stderr >= 0) {
            ::dup2(saved_stderr, STDERR_FILENO);
            ::close(saved_stderr);
        }
        if (result != paNoError) {
            throw Error(std::string("PortAudio cannot start: ") + Pa_GetErrorText(result) +
                            "; check that the audio system is installed (set LINETUNE_AUDIO_DEBUG=1 to see its messages)",
                        ErrorKind::device);
        }
    }
    ~PortAudioSession() { Pa_Terminate(); }
    PortAudioSession(const PortAudioSession&) = delete;
    PortAudioSession& operator=(const PortAudioSession&) = delete;
};

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

bool contains_ignoring_case(const std::string& text, const std::string& part) {
    return lowercase(text).find(lowercase(part)) != std::string::npos;
}

std::string rate_text(double rate_hz) { return format_significant(rate_hz) + " Hz"; }

std::string describe_device(const AudioDeviceInfo& device) {
    return "PortAudio '" + device.name + "' (" + device.host_api + ")";
}

/// Stream parameters for every channel of one direction of a device.
PaStreamParameters stream_parameters(int device, std::size_t channels, double latency_s) {
    PaStreamParameters parameters{};
    parameters.device = device;
    parameters.channelCount = static_cast<int>(channels);
    parameters.sampleFormat = paFloat32;
    parameters.suggestedLatency = latency_s;
    parameters.hostApiSpecificStreamInfo = nullptr;
    return parameters;
}

bool accepts_rate(const PaDeviceInfo& info, int index, double rate_hz) {
    const PaStreamParameters input = stream_parameters(index, static_cast<std::size_t>(info.maxInputChannels),
                                                       info.defaultLowInputLatency);
    const PaStreamParameters output = stream_parameters(index, static_cast<std::size_t>(info.maxOutputChannels),
                                                        info.defaultLowOutputLatency);
    return Pa_IsFormatSupported(info.maxInputChannels > 0 ? &input : nullptr,
                                info.maxOutputChannels > 0 ? &output : nullptr, rate_hz) == paFormatIsSupported;
}

AudioDeviceInfo device_info(int index) {
    const PaDeviceInfo* info = Pa_GetDeviceInfo(index);
    AudioDeviceInfo device;
    device.index = index;
    device.name = info->name;
    device.host_api = Pa_GetHostApiInfo(info->hostApi)->name;
    device.input_channels = static_cast<std::size_t>(std::max(info->maxInputChannels, 0));
    device.output_channels = static_cast<std::size_t>(std::max(info->maxOutputChannels, 0));
    device.default_sample_rate_hz = info->defaultSampleRate;
    for (const double rate_hz : standard_sample_rates_hz) {
        if (accepts_rate(*info, index, rate_hz)) {
            device.supported_sample_rates_hz.push_back(rate_hz);
        }
    }
    return device;
}

std::string list_devices(const std::vector<AudioDeviceInfo>& devices) {
    std::string text;
    for (const auto& device : devices) {
        text += "\n  - '" + device.name + "' (" + device.host_api + ", " + std::to_string(device.input_channels) +
                " in, " + std::to_string(device.output_channels) + " out)";
    }
    return text.empty() ? " none" : text;
}

/// Finds the device with PortAudio initialised by the caller.
AudioDeviceInfo select_device(const PortAudioStreamOptions& options) {
    std::vector<AudioDeviceInfo> duplex;
    for (int index = 0; index < Pa_GetDeviceCount(); ++index) {
        const PaDeviceInfo* info = Pa_GetDeviceInfo(index);
        const std::string host_api = Pa_GetHostApiInfo(info->hostApi)->name;
        if (info->maxInputChannels > 0 && info->maxOutputChannels > 0 &&
            (options.host_api.empty() || contains_ignoring_case(host_api, options.host_api))) {
            duplex.push_back(device_info(index));
        }
    }

    std::vector<AudioDeviceInfo> matches;
    for (const auto& device : duplex) {
        const PaHostApiInfo* host_api = Pa_GetHostApiInfo(Pa_GetDeviceInfo(device.index)->hostApi);
        // Without a host API, "default" means PortAudio's default device over all host APIs.
        const int default_device = options.host_api.empty() ? Pa_GetDefaultInputDevice() : host_api->defaultInputDevice;
        const bool is_default = device.index == default_device;
        if (options.device.empty() ? is_default : contains_ignoring_case(device.name, options.device)) {
            matches.push_back(device);
        }
    }
    // An exact name wins over names that merely contain it ("UMC" against "UMC1820" and "UMC404").
    const auto exact = std::find_if(matches.begin(), matches.end(),
                                    [&](const auto& device) { return lowercase(device.name) == lowercase(options.device); });
    if (exact != matches.end()) {
        return *exact;
    }

    const std::string wanted = (options.device.empty() ? std::string("the default device")
                                                       : "a device named like '" + options.device + "'") +
                               (options.host_api.empty() ? "" : " on host API '" + options.host_api + "'");
    if (matches.empty()) {
        throw Error("no full-duplex audio interface matches " + wanted + "; devices with inputs and outputs:" +
                        list_devices(duplex) + "\nconnect it, or choose one with --device and --host-api (see "
                        "'linetune interfaces')",
                    ErrorKind::device);
    }
    if (matches.size() > 1) {
        throw Error("several audio interfaces match " + wanted + ":" + list_devices(matches) +
                        "\ngive more of the name with --device, or --host-api",
                    ErrorKind::configuration);
    }
    return matches.front();
}

}  // namespace

AudioInterfaceList list_audio_interfaces() {
    const PortAudioSession session;
    AudioInterfaceList list;
    for (PaHostApiIndex index = 0; index < Pa_GetHostApiCount(); ++index) {
        const PaHostApiInfo* info = Pa_GetHostApiInfo(index);
        list.host_apis.push_back({info->name, static_cast<std::size_t>(std::max(info->deviceCount, 0))});
    }
    for (int index = 0; index < Pa_GetDeviceCount(); ++index) {
        list.devices.push_back(device_info(index));
    }
    return list;
}

AudioDeviceInfo find_audio_device(const PortAudioStreamOptions& options) {
    const PortAudioSession session;
    return select_device(options);
}

// ---------------------------------------------------------------------------------------------
// The audio callback and the state it shares with the measuring thread.

/// Pass state, written by the measuring thread while `state` is idle and read by the callback
/// after it loads `state` as running (release/acquire), so the callback never sees a half-built pass.
struct PortAudioCaptureStream::Shared {
    enum State : int { idle, running, finished, stopped };

    std::size_t output_channels = 0;
    std::size_t input_channels = 0;
    std::size_t fade_frames = 1;

    // The pass's audio is copied here from the caller's request, so a pass abandoned by an
    // exception cannot leave the callback with a dangling pointer. The buffers live until the
    // stream is closed, and a stream whose pass was abandoned accepts no further pass.
    std::vector<std::vector<float>> playback_buffers;   ///< per requested output
    std::vector<std::vector<float>> recording_buffers;  ///< per recorded input
    std::vector<const float*> playback;        ///< per device output: the samples it plays, or nullptr (silence)
    std::size_t playback_frames = 0;
    std::vector<float*> recording;             ///< per recorded input: where its samples go
    std::vector<std::size_t> recorded_inputs;  ///< per recorded input: 0-based device input
    std::size_t record_frames = 0;

    std::atomic<int> state{idle};
    std::atomic<bool> stop_requested{false};
    std::atomic<std::size_t> xrun_count{0};
    std::atomic<std::size_t> frames_processed{0};  ///< every frame the callback handled, for the stall check
    std::atomic<std::size_t> clipped_input{0};     ///< 1-based device input that reached full scale; 0: none
    std::atomic<std::size_t> clipped_frame{0};     ///< frame of the pass where it did

    // Owned by the callback alone.
    std::size_t position = 0;
    std::size_t fade_position = 0;  ///< frames into the fade-out; 0 while no stop was requested

    std::unique_ptr<LevelMeter> meter;  ///< peaks per device input and frames done, for a live display

    std::unique_ptr<PortAudioSession> session;
};

namespace {

/// The PortAudio callback: plays and records the pass that runs, silence otherwise.
int audio_callback(const void* input, void* output, unsigned long frame_count, const PaStreamCallbackTimeInfo*,
                   PaStreamCallbackFlags status, void* user_data) noexcept {
    auto& shared = *static_cast<PortAudioCaptureStream::Shared*>(user_data);
    using Shared = PortAudioCaptureStream::Shared;
    auto* out = static_cast<float*>(output);
    const auto* in = static_cast<const float*>(input);
    const std::size_t frames = frame_count;
    const std::size_t outputs = shared.output_channels;
    const std::size_t inputs = shared.input_channels;

    std::fill(out, out + frames * outputs, 0.0f);
    shared.frames_processed.fetch_add(frames, std::memory_order_relaxed);
    if (shared.state.load(std::memory_order_acquire) != Shared::running) {
        return paContinue;
    }
    constexpr PaStreamCallbackFlags xrun_flags = paInputUnderflow | paInputOverflow | paOutputUnderflow | paOutputOverflow;
    if ((status & xrun_flags) != 0) {
        shared.xrun_count.fetch_add(1, std::memory_order_relaxed);
    }

    bool stopping = shared.stop_requested.load(std::memory_order_relaxed) ||
                    shared.clipped_input.load(std::memory_order_relaxed) != 0;
    for (std::size_t frame = 0; frame < frames; ++frame) {
        // Linear fade to silence once a stop is requested: gain 1 - k / fade_frames at frame k.
        float gain = 1.0f;
        if (stopping) {
            if (shared.fade_position >= shared.fade_frames) {
                shared.state.store(Shared::stopped, std::memory_order_release);
                return paContinue;
            }
            gain = 1.0f - static_cast<float>(shared.fade_position) / static_cast<float>(shared.fade_frames);
            ++shared.fade_position;
        }
        const std::size_t position = shared.position;
        if (position < shared.playback_frames) {
            for (std::size_t channel = 0; channel < outputs; ++channel) {
                if (const float* samples = shared.playback[channel]) {
                    out[frame * outputs + channel] = gain * samples[position];
                }
            }
        }
        if (in != nullptr) {
            for (std::size_t index = 0; index < shared.recording.size(); ++index) {
                const float sample = in[frame * inputs + shared.recorded_inputs[index]];
                shared.recording[index][position] = sample;
                shared.meter->observe(shared.recorded_inputs[index], sample);
                // Clipping fades the pass out from the next frame on (see clipping_level).
                if (!stopping && std::fabs(sample) >= clipping_level) {
                    shared.clipped_frame.store(position, std::memory_order_relaxed);
                    shared.clipped_input.store(shared.recorded_inputs[index] + 1, std::memory_order_relaxed);
                    stopping = true;
                }
            }
        }
        if (++shared.position == shared.record_frames) {
            shared.meter->set_frames_done(shared.position);
            shared.state.store(Shared::finished, std::memory_order_release);
            return paContinue;
        }
    }
    shared.meter->set_frames_done(shared.position);
    return paContinue;
}

}  // namespace

PortAudioCaptureStream::PortAudioCaptureStream(const PortAudioStreamOptions& options)
    : shared_(std::make_unique<Shared>()) {
    shared_->session = std::make_unique<PortAudioSession>();
    device_ = select_device(options);
    const std::string name = describe_device(device_);

    const PaDeviceInfo* info = Pa_GetDeviceInfo(device_.index);
    const PaStreamParameters input = stream_parameters(device_.index, device_.input_channels, info->defaultLowInputLatency);
    const PaStreamParameters output =
        stream_parameters(device_.index, device_.output_channels, info->defaultLowOutputLatency);
    if (Pa_IsFormatSupported(&input, &output, options.sample_rate_hz) != paFormatIsSupported) {
        std::string rates;
        for (const double rate_hz : device_.supported_sample_rates_hz) {
            rates += (rates.empty() ? "" : ", ") + rate_text(rate_hz);
        }
        throw Error(name + " does not run at " + rate_text(options.sample_rate_hz) + " (the venue's audio_interface." +
                        "sample_rate_hz); it accepts " + (rates.empty() ? std::string("no standard rate") : rates) +
                        ". Set the interface (or the JACK server) to " + rate_text(options.sample_rate_hz) +
                        ", or measure at its rate by changing the venue file",
                    ErrorKind::configuration);
    }

    format_.sample_rate_hz = options.sample_rate_hz;
    format_.input_channels = device_.input_channels;
    format_.output_channels = device_.output_channels;
    shared_->input_channels = device_.input_channels;
    shared_->output_channels = device_.output_channels;
    shared_->playback.assign(device_.output_channels, nullptr);
    shared_->meter = std::make_unique<LevelMeter>(device_.input_channels);
    shared_->fade_frames = std::max<std::size_t>(1, static_cast<std::size_t>(std::round(fade_out_s * options.sample_rate_hz)));

    PaStream* stream = nullptr;
    const unsigned long frames_per_buffer =
        options.frames_per_buffer == 0 ? paFramesPerBufferUnspecified : static_cast<unsigned long>(options.frames_per_buffer);
    PaError result = Pa_OpenStream(&stream, &input, &output, options.sample_rate_hz, frames_per_buffer, paClipOff,
                                   audio_callback, shared_.get());
    if (result != paNoError) {
        throw Error(name + ": the stream cannot open (" + Pa_GetErrorText(result) +
                        "); close other programs that use the interface and check its settings",
                    ErrorKind::device);
    }
    stream_ = stream;
    result = Pa_StartStream(stream);
    if (result != paNoError) {
        Pa_CloseStream(stream);
        stream_ = nullptr;
        throw Error(name + ": the stream cannot start (" + Pa_GetErrorText(result) + "); check the interface",
                    ErrorKind::device);
    }

    // Let the stream run in silence before the first pass (see PortAudioStreamOptions::settle_s).
    const auto settle_frames = static_cast<std::size_t>(options.settle_s * options.sample_rate_hz);
    const auto start = std::chrono::steady_clock::now();
    while (shared_->frames_processed.load(std::memory_order_relaxed) < settle_frames) {
        if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(options.settle_s + stalled_stream_s)) {
            throw Error(name + ": the stream started but delivers no audio; check the interface or audio server",
                        ErrorKind::device);
        }
        std::this_thread::sleep_for(poll_interval);
    }
}

PortAudioCaptureStream::~PortAudioCaptureStream() {
    auto* stream = static_cast<PaStream*>(stream_);
    if (stream == nullptr) {
        return;
    }
    // Fade out a pass that still plays (a failure thrown while it ran), then stop.
    request_stop();
    const auto start = std::chrono::steady_clock::now();
    while (shared_->state.load(std::memory_order_acquire) == Shared::running &&
           std::chrono::steady_clock::now() - start < std::chrono::milliseconds(200)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Pa_StopStream(stream);
    Pa_CloseStream(stream);
}

StreamFormat PortAudioCaptureStream::format() const { return format_; }

std::string PortAudioCaptureStream::description() const { return describe_device(device_); }

LevelMeter& PortAudioCaptureStream::meter() noexcept { return *shared_->meter; }

void PortAudioCaptureStream::request_stop() noexcept { shared_->stop_requested.store(true, std::memory_order_relaxed); }

CaptureResult PortAudioCaptureStream::play_and_record(const CaptureRequest& request) {
    const std::string name = description();
    const std::size_t outputs = request.output_channels.size();
    if (request.playback.channel_count() != outputs ||
        std::fabs(request.playback.sample_rate_hz() - format_.sample_rate_hz) > 1e-6 || request.record_frames == 0) {
        throw Error(name + ": a pass needs one playback channel per output at " + rate_text(format_.sample_rate_hz) +
                        " and at least one frame to record; got " + std::to_string(request.playback.channel_count()) +
                        " channels for " + std::to_string(outputs) + " outputs at " +
                        rate_text(request.playback.sample_rate_hz()),
                    ErrorKind::configuration);
    }
    if (abandoned_) {
        throw Error(name + ": an earlier pass was abandoned while it played; open the stream again", ErrorKind::device);
    }
    Shared& shared = *shared_;
    std::fill(shared.playback.begin(), shared.playback.end(), nullptr);
    for (std::size_t index = 0; index < outputs; ++index) {
        const std::size_t channel = request.output_channels[index];
        if (channel == 0 || channel > format_.output_channels || shared.playback[channel - 1] != nullptr) {
            throw Error(name + ": output " + std::to_string(channel) + " is outside 1 to " +
                            std::to_string(format_.output_channels) + " or requested twice; fix the venue's outputs",
                        ErrorKind::configuration);
        }
        shared.playback[channel - 1] = request.playback.channel(index).data();  // marks it taken; replaced below
    }

    shared.playback_buffers.resize(outputs);
    for (std::size_t index = 0; index < outputs; ++index) {
        const auto samples = request.playback.channel(index);
        shared.playback_buffers[index].assign(samples.begin(), samples.end());
        shared.playback[request.output_channels[index] - 1] = shared.playback_buffers[index].data();
    }

    shared.recording.clear();
    shared.recorded_inputs.clear();
    shared.recording_buffers.resize(request.input_channels.size());
    for (std::size_t index = 0; index < request.input_channels.size(); ++index) {
        const std::size_t channel = request.input_channels[index];
        if (channel == 0 || channel > format_.input_channels) {
            throw Error(name + ": input " + std::to_string(channel) + " is outside 1 to " +
                            std::to_string(format_.input_channels) + "; fix the venue's inputs",
                        ErrorKind::configuration);
        }
        shared.recording_buffers[index].assign(request.record_frames, 0.0f);
        shared.recording.push_back(shared.recording_buffers[index].data());
        shared.recorded_inputs.push_back(channel - 1);
    }
    shared.playback_frames = std::min(request.playback.frame_count(), request.record_frames);
    shared.record_frames = request.record_frames;
    shared.position = 0;
    shared.fade_position = 0;
    shared.xrun_count.store(0, std::memory_order_relaxed);
    shared.clipped_input.store(0, std::memory_order_relaxed);
    if (shared.stop_requested.load(std::memory_order_relaxed)) {
        throw Error(name + ": stopped on request before the pass started", ErrorKind::device);
    }
    abandoned_ = true;  // until the callback reports the pass finished
    shared.meter->start_pass(request.record_frames);
    shared.state.store(Shared::running, std::memory_order_release);
    try {
        wait_for_pass(name);
    } catch (...) {
        shared.meter->end_pass();
        throw;
    }
    shared.meter->end_pass();
    abandoned_ = false;
    shared.state.store(Shared::idle, std::memory_order_release);

    CaptureResult result;
    result.recording = MultichannelSignal(request.input_channels.size(), request.record_frames, format_.sample_rate_hz);
    for (std::size_t index = 0; index < request.input_channels.size(); ++index) {
        std::copy(shared.recording_buffers[index].begin(), shared.recording_buffers[index].end(),
                  result.recording.channel(index).begin());
    }
    result.xrun_count = shared.xrun_count.load(std::memory_order_relaxed);
    return result;
}

void PortAudioCaptureStream::wait_for_pass(const std::string& name) {
    const Shared& shared = *shared_;
    std::size_t last_frames = shared.frames_processed.load(std::memory_order_relaxed);
    auto last_progress = std::chrono::steady_clock::now();
    for (;;) {
        const int state = shared.state.load(std::memory_order_acquire);
        if (state == Shared::finished) {
            return;
        }
        if (state == Shared::stopped) {
            if (const std::size_t input = shared.clipped_input.load(std::memory_order_relaxed); input != 0) {
                const double at_s = static_cast<double>(shared.clipped_frame.load(std::memory_order_relaxed)) /
                                    format_.sample_rate_hz;
                throw Error(name + ": input " + std::to_string(input) + " reached full scale (clipping) " +
                                format_fixed(at_s, 2) + " s into the pass, so the sweep was stopped with a " +
                                format_fixed(1000.0 * fade_out_s, 0) + " ms fade-out and nothing of the pass was "
                                "kept; lower the sweep level (--level-dbfs) or that input's gain, then measure again",
                            ErrorKind::device);
            }
            throw Error(name + ": the pass was stopped on request and faded out; nothing of it was kept",
                        ErrorKind::device);
        }
        std::this_thread::sleep_for(poll_interval);
        const std::size_t frames = shared.frames_processed.load(std::memory_order_relaxed);
        const auto now = std::chrono::steady_clock::now();
        if (frames != last_frames) {
            last_frames = frames;
            last_progress = now;
        } else if (now - last_progress > std::chrono::duration<double>(stalled_stream_s)) {
            throw Error(name + ": the stream stopped delivering audio for " + format_significant(stalled_stream_s) +
                            " s during a pass; check the interface's connection or the audio server, then measure "
                            "the remaining zones with --resume",
                        ErrorKind::device);
        }
    }
}

}  // namespace linetune::capture
