#include "linetune/capture/room_t60.hpp"

#include "linetune/analysis/room_metrics.hpp"
#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/format.hpp"

namespace linetune::capture {

RoomT60Estimate estimate_room_t60(const MultichannelSignal& recording, std::span<const float> played_sweep,
                                  const std::vector<std::string>& mic_names,
                                  std::optional<std::size_t> loopback_channel, const RoomT60Options& options) {
    analysis::SweepRecordingLayout layout;
    layout.loopback_channel = loopback_channel;
    for (const std::string& mic : mic_names) {
        layout.channel_names.push_back("mic '" + mic + "'");
    }
    const analysis::SweepRecordingImpulseResponses responses =
        analysis::impulse_responses_from_sweep_recording(recording, played_sweep, layout);

    RoomT60Estimate estimate;
    const double rate_hz = recording.sample_rate_hz();
    for (std::size_t index = 0; index < mic_names.size() && index < responses.channels.size(); ++index) {
        const analysis::RecordedChannel& channel = responses.channels[index];
        const std::string label = "mic '" + mic_names[index] + "'";
        if (channel.dead || !channel.arrival) {
            estimate.notes.push_back(label + " heard no sweep, so it gives no decay time");
            continue;
        }
        // ISO 3382-1 starts the decay where the response first comes within 20 dB of its peak.
        const analysis::RoomMetrics metrics = analysis::compute_room_metrics(
            responses.impulse_responses.channel(index), rate_hz, channel.arrival->start_sample);
        for (const analysis::BandMetrics& band : metrics.octave_bands) {
            if (band.center_hz < options.low_band_hz || band.center_hz > options.high_band_hz) {
                continue;
            }
            const std::optional<double>& decay_s = band.t30_s ? band.t30_s : band.t20_s;
            if (!decay_s) {
                continue;
            }
            const std::string metric = band.t30_s ? "T30" : "T20";
            if (*decay_s < options.min_t60_s || *decay_s > options.max_t60_s) {
                estimate.notes.push_back(label + ", " + format_significant(band.center_hz) + " Hz octave: " + metric +
                                         " " + format_fixed(*decay_s, 2) + " s is outside " +
                                         format_significant(options.min_t60_s) + " to " +
                                         format_significant(options.max_t60_s) + " s and is ignored");
                continue;
            }
            ++estimate.values;
            if (!estimate.t60_s || *decay_s > *estimate.t60_s) {
                estimate.t60_s = *decay_s;
                estimate.mic = mic_names[index];
                estimate.band_hz = band.center_hz;
                estimate.metric = metric;
            }
        }
    }
    if (!estimate.t60_s) {
        estimate.notes.push_back("no octave band from " + format_significant(options.low_band_hz) + " Hz to " +
                                 format_significant(options.high_band_hz) +
                                 " Hz decayed far enough within the tail for a T20 (35 dB of decay above the noise)");
    }
    return estimate;
}

}  // namespace linetune::capture
