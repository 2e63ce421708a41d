#include "linetune/correction/tuning.hpp"

#include "linetune/analysis/channel_analysis.hpp"
#include "linetune/analysis/response.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/units.hpp"
#include "linetune/correction/alignment.hpp"
#include "linetune/correction/eq_fitter.hpp"
#include "linetune/correction/spatial_shrink.hpp"
#include "linetune/correction/weather.hpp"
#include "linetune/correction/zone_average.hpp"
#include "linetune/io/measurement_file.hpp"
#include "linetune/io/mic_calibration.hpp"

#include "system_tuning.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace linetune::correction {
namespace {

/// One microphone's analysed measurement of one zone.
struct MicMeasurement {
    MicResponse response;          ///< for the spatial average
    std::optional<double> arrival_ms;
    int polarity = 1;
    bool absolute_timing = false;  ///< the file carried a time base (REW start time, --t0-sample)
    std::string note;              ///< something the user should know about how the file was read
    std::optional<FrequencyResponse> windowed_response;  ///< subs and mains: for the crossover alignment
    double arrival_confidence = 0.0;  ///< analysis::Arrival::confidence, 0 without an arrival
};

std::string zone_mic_context(const Zone& zone, const Microphone& mic) {
    return "zone '" + zone.name + "', microphone '" + mic.name + "'";
}

/// Returns the median of the values in dB, or NaN for an empty list.
double median_db(std::vector<double> deviation_db) {
    if (deviation_db.empty()) {
        return std::numeric_limits<double>::quiet_NaN();
    }
    const auto middle = deviation_db.begin() + static_cast<std::ptrdiff_t>(deviation_db.size() / 2);
    std::nth_element(deviation_db.begin(), middle, deviation_db.end());
    return *middle;
}

/// Returns a zone's level at one mic: the median over the zone's band of response − target, in
/// dB, or NaN without points. The median is taken:
/// - Against the target, so that subs (30 to 120 Hz) and mains (60 Hz to 16 kHz) are compared on
///   the target curve, which a tilt raises at low frequencies, not as raw levels in different bands.
/// - The median, not a power mean, so that a sub's port resonance or a room mode does not set the
///   level. With a power mean the built-in rig's subs were lowered for their peaks, the EQ cut
///   those peaks again, and they ended about 25 dB quieter.
/// - Without the EQ, so that the gains do not depend on the EQ fit, which moves between two fits
///   of nearly the same data. With the EQ included, a re-tune from a measurement taken with the
///   corrections applied changed gains by 0.2 to 0.9 dB. The level the EQ adds is taken off the
///   gain afterwards (eq_level_db), so a zone whose EQ moves its whole band still ends on its level.
double target_level_db(const Venue& venue, const Zone& zone, const FrequencyResponse& response) {
    std::vector<double> deviation_db;
    for (std::size_t i = 0; i < response.size(); ++i) {
        const double f = response.freq_hz[i];
        if (f >= zone.fit_band_hz.low_hz && f <= zone.fit_band_hz.high_hz) {
            deviation_db.push_back(response.magnitude_db[i] - target_db(venue, f));
        }
    }
    return median_db(std::move(deviation_db));
}

/// Sum of the bands' magnitudes at freq_hz, in dB.
double bands_db(const std::vector<analysis::ParametricBand>& bands, double freq_hz, double sample_rate_hz) {
    double total = 0.0;
    for (const auto& band : bands) {
        total += analysis::band_magnitude_db(band, freq_hz, sample_rate_hz);
    }
    return total;
}

/// Adds gain_db and the bands' magnitudes (sign +1 or −1) to every point of the response.
FrequencyResponse with_setting(FrequencyResponse response, const ZoneSetting& setting, double sample_rate_hz, double sign) {
    for (std::size_t i = 0; i < response.size(); ++i) {
        response.magnitude_db[i] += sign * (setting.gain_db + bands_db(setting.bands, response.freq_hz[i], sample_rate_hz));
    }
    response.phase_deg.clear();
    return response;
}

/// Removes a setting from a measurement before it is analysed or smoothed. An impulse response
/// is filtered by the inverse of each band and by the inverse gain; RBJ peaking and shelving
/// filters are minimum phase, so their inverses are stable. A frequency-response export has the
/// setting's magnitude subtracted point by point. Filters are designed at the measurement's own
/// sample rate, so the removal matches a setting applied there exactly. At the device's rate it
/// differs only close to Nyquist.
void remove_setting(io::Measurement& measurement, const ZoneSetting& setting, double device_rate_hz) {
    if (setting.bands.empty() && setting.gain_db == 0.0) {
        return;
    }
    if (measurement.kind == io::MeasurementKind::frequency_response) {
        for (auto& trace : measurement.responses) {
            trace.response = with_setting(trace.response, setting, device_rate_hz, -1.0);
        }
        return;
    }
    const double fs = measurement.signal.sample_rate_hz();
    const double inverse_gain = amplitude_from_db(-setting.gain_db);
    for (std::size_t c = 0; c < measurement.signal.channel_count(); ++c) {
        auto samples = measurement.signal.channel(c);
        for (const auto& band : setting.bands) {
            if (band.freq_hz >= 0.5 * fs) {
                continue;  // beyond this file's Nyquist frequency: it cannot have shaped the recording
            }
            const analysis::BiquadCoefficients forward = analysis::design_biquad(band, fs);
            // Inverse: H⁻¹ = A(z)/B(z), normalised by b0 (non-zero for peaking and shelving filters).
            const double b0 = 1.0 / forward.b0;
            const double b1 = forward.a1 * b0;
            const double b2 = forward.a2 * b0;
            const double a1 = forward.b1 * b0;
            const double a2 = forward.b2 * b0;
            double x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0;
            for (float& sample : samples) {
                const double x0 = sample;
                const double y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
                x2 = x1;
                x1 = x0;
                y2 = y1;
                y1 = y0;
                sample = static_cast<float>(y0);
            }
        }
        for (float& sample : samples) {
            sample = static_cast<float>(sample * inverse_gain);
        }
    }
}

/// The response the crossover alignment reads: 1/6 octave with a frequency-dependent window of
/// crossover_window_cycles, phase referred to the arrival. The microphone calibration is not
/// removed, because below a few hundred hertz measurement microphones are flat to a fraction of a dB.
FrequencyResponse crossover_response(const std::vector<float>& impulse_response, const analysis::ChannelAnalysis& channel,
                                     const TuneOptions& options) {
    analysis::ResponseOptions response_options;
    response_options.start_freq_hz = 20.0;
    response_options.end_freq_hz = 1000.0;
    response_options.points_per_octave = options.points_per_octave;
    response_options.smoothing = options.smoothing;
    response_options.fdw_cycles = crossover_window_cycles;
    return analysis::compute_frequency_response(impulse_response, channel.sample_rate_hz,
                                                channel.arrival->arrival_sample, response_options);
}

/// Turns a measurement into the one the `weather` air would give: the air absorption over the
/// path the arrival time gives, and the arrival itself at the new speed of sound.
void apply_weather(const Venue& venue, const analysis::AtmosphericConditions& weather, MicMeasurement& measurement) {
    const analysis::AtmosphericConditions measured_air{venue.temperature_c, venue.humidity_percent.value_or(50.0)};
    const double distance_m = path_length_m(*measurement.arrival_ms, venue.temperature_c);
    measurement.response.response = response_in_weather(measurement.response.response, distance_m, measured_air, weather);
    measurement.arrival_ms = arrival_in_weather_ms(*measurement.arrival_ms, venue.temperature_c, weather.temperature_c);
}

MicMeasurement read_mic_measurement(const Venue& venue, const Zone& zone, const Microphone& mic, const TuneOptions& options,
                                    const ZoneSetting& applied, double device_rate_hz, double& common_rate_hz,
                                    std::string& common_rate_source) {
    const auto path = measurement_path(venue, zone.name, mic.name, options.measurements_dir);
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) {
        throw Error(zone_mic_context(zone, mic) + ": measurement '" + path.string() +
                        "' not found; give the folder of the measurements with --measurements DIR, measure the zone "
                        "there, or map the file in the venue's \"measurements\"",
                    ErrorKind::input);
    }

    io::Measurement measurement;
    analysis::FileAnalysis file;
    std::string channel_note;
    std::vector<float> impulse_response;  // subs and mains only, for the crossover alignment
    std::vector<analysis::ReverberantBand> reverberant_field;  // impulse responses: for the spatial shrink
    analysis::AnalysisOptions analysis_options;
    analysis_options.smoothing = options.smoothing;
    analysis_options.response_points_per_octave = options.points_per_octave;
    analysis_options.channel = measurement_channel(venue, zone.name, mic.name).value_or(1);
    if (mic.calibration) {
        io::MicCalibration calibration;
        calibration.deviation = *mic.calibration;
        analysis_options.mic_calibration = calibration;
    }
    try {
        measurement = io::read_measurement(path, {});
        const double rate_hz = measurement.kind == io::MeasurementKind::frequency_response ? 0.0 : measurement.signal.sample_rate_hz();
        if (rate_hz > 0.0 && common_rate_hz > 0.0 && std::fabs(rate_hz - common_rate_hz) > 1e-6) {
            throw Error("'" + path.string() + "' is at " + format_fixed(rate_hz, 0) + " Hz but '" + common_rate_source +
                        "' is at " + format_fixed(common_rate_hz, 0) + " Hz; measure every zone at one sample rate");
        }
        if (rate_hz > 0.0 && common_rate_hz == 0.0) {
            common_rate_hz = rate_hz;
            common_rate_source = path.string();
        }
        if (measurement.kind != io::MeasurementKind::frequency_response) {
            const std::size_t channels = measurement.signal.channel_count();
            const auto mapped = measurement_channel(venue, zone.name, mic.name);
            if (mapped && *mapped > channels) {
                throw Error("'" + path.string() + "#" + std::to_string(*mapped) + "': the file has " +
                            std::to_string(channels) + " channel(s); fix the channel in the venue's \"measurements\"");
            }
            if (!mapped && channels > 1) {
                channel_note = "'" + path.string() + "' has " + std::to_string(channels) +
                               " channels and the venue names none (\"file.wav#N\"): channel 1 was used";
            }
        }
        // What the zone sounds like without the setting that was applied while measuring.
        remove_setting(measurement, applied, device_rate_hz);
        if (measurement.kind != io::MeasurementKind::frequency_response && (zone.system == "subs" || zone.system == "mains")) {
            const auto samples = measurement.signal.channel(analysis_options.channel.value_or(1) - 1);
            impulse_response.assign(samples.begin(), samples.end());
        }
        if (measurement.kind != io::MeasurementKind::frequency_response) {
            reverberant_field = analysis::octave_band_reverberant_field(
                measurement.signal.channel(analysis_options.channel.value_or(1) - 1), measurement.signal.sample_rate_hz());
        }
        file = analysis::analyze_measurement(std::move(measurement), analysis_options, nullptr);
    } catch (const Error& failure) {
        throw failure.with_context(zone_mic_context(zone, mic));
    }

    const analysis::ChannelAnalysis& channel = file.channels.front();
    MicMeasurement result;
    result.note = channel_note;
    result.response.mic = mic.name;
    result.response.weight = mic.zone_weights.at(zone.name);
    result.response.flags = channel.flags;
    result.response.reverberant_field = std::move(reverberant_field);
    if (channel.response) {
        result.response.response = *channel.response;
    }
    if (channel.quality) {
        result.response.peak_to_noise_db = channel.quality->peak_to_noise_db;
    } else {
        // A frequency-response export carries no impulse response to judge; treat it as clean.
        result.response.peak_to_noise_db = 60.0;
    }
    if (channel.arrival) {
        // The delay the amplifier applied while measuring is part of the arrival; without it the
        // arrival is the zone's own, so the alignment returns the absolute delay, not an increment.
        result.arrival_ms =
            ms_from_samples(channel.arrival->arrival_sample - channel.time_zero_sample, channel.sample_rate_hz) -
            applied.delay_ms;
        result.polarity = channel.arrival->polarity;
        result.absolute_timing = file.time_base.is_absolute();
        result.arrival_confidence = channel.arrival->confidence;
        if (!impulse_response.empty() && result.absolute_timing) {
            result.windowed_response = crossover_response(impulse_response, channel, options);
        }
        if (options.weather && result.absolute_timing && !result.response.response.freq_hz.empty()) {
            apply_weather(venue, *options.weather, result);
        }
    }
    return result;
}

AveragingMethod averaging_method_of(const Zone& zone) {
    switch (zone.averaging) {
    case SpatialAveraging::power: return AveragingMethod::power;
    case SpatialAveraging::decibel: return AveragingMethod::decibel;
    case SpatialAveraging::quality_weighted: return AveragingMethod::quality_weighted;
    }
    return default_averaging_method;
}

analysis::FilterType filter_type_of(FilterKind kind) {
    return *analysis::parse_filter_type(to_string(kind));
}

EqLimits eq_limits_of(const Amplifier& amplifier, const Zone& zone) {
    const EqCapabilities& eq = amplifier.limits.eq;
    EqLimits limits;
    limits.max_bands = eq.max_bands;
    limits.allowed_types.clear();
    for (const FilterKind kind : eq.filter_types) {
        limits.allowed_types.push_back(filter_type_of(kind));
    }
    limits.min_freq_hz = eq.freq_hz.min;
    limits.max_freq_hz = eq.freq_hz.max;
    limits.freq_step_hz = eq.freq_hz.step;
    limits.min_gain_db = eq.gain_db.min;
    limits.max_gain_db = std::min(eq.gain_db.max, zone.max_boost_db);
    limits.gain_step_db = eq.gain_db.step;
    limits.min_q = eq.q.min;
    limits.max_q = eq.q.max;
    limits.q_step = eq.q.step;
    limits.sample_rate_hz = amplifier.profile.sample_rate_hz;
    return limits;
}

/// RMS and maximum of |d − mean d|; NaN for no values.
std::pair<double, double> rms_and_max_about_mean(const std::vector<double>& deviation) {
    if (deviation.empty()) {
        return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
    }
    double mean = 0.0;
    for (const double d : deviation) {
        mean += d;
    }
    mean /= static_cast<double>(deviation.size());
    double square_sum = 0.0;
    double largest = 0.0;
    for (const double d : deviation) {
        square_sum += (d - mean) * (d - mean);
        largest = std::max(largest, std::fabs(d - mean));
    }
    return {std::sqrt(square_sum / static_cast<double>(deviation.size())), largest};
}

/// Level-removed deviation from the target over the band: RMS and maximum |d − mean d|.
std::pair<double, double> band_deviation(const FrequencyResponse& response, const Venue& venue, const Zone& zone) {
    std::vector<double> deviation;
    for (std::size_t i = 0; i < response.size(); ++i) {
        const double f = response.freq_hz[i];
        if (f >= zone.fit_band_hz.low_hz && f <= zone.fit_band_hz.high_hz) {
            deviation.push_back(response.magnitude_db[i] - target_db(venue, zone, f));
        }
    }
    return rms_and_max_about_mean(deviation);
}


/// RMS and maximum of |d − mean d| with d = response − target over the points where mask is set.
std::pair<double, double> masked_deviation(const FrequencyResponse& response, const FrequencyResponse& target,
                                           const std::vector<bool>& mask) {
    std::vector<double> deviation;
    for (std::size_t i = 0; i < response.size() && i < mask.size(); ++i) {
        if (mask[i]) {
            deviation.push_back(response.magnitude_db[i] - target.magnitude_db[i]);
        }
    }
    return rms_and_max_about_mean(deviation);
}

double round_to_step(double value, double step) { return step > 0.0 ? std::round(value / step) * step : value; }

/// Zone data gathered before the systems are aligned.
struct ZoneWork {
    const Zone* zone = nullptr;
    const Amplifier* amplifier = nullptr;
    std::vector<MicMeasurement> mics;
    ZoneOutcome outcome;
    EqFitResult fit;
    EqFitRequest request;  ///< the zone's own fit request (its grid, band and limits)
    bool bands_from_joint_fit = false;
    double level_rule_gain_db = 0.0;  ///< gain of the level rule (or level shading), EQ left out
};

/// Sets the zone's gain within its amplifier's range, rounded to its step, with a note when the
/// range cuts it and `note_clamp` is set.
void set_zone_gain(ZoneWork& work, double gain_db, bool note_clamp) {
    const ChannelLimits& limits = work.amplifier->limits;
    if (!note_clamp) {
        work.outcome.setting.gain_db = round_to_step(std::clamp(gain_db, limits.gain_db.min, limits.gain_db.max),
                                                     limits.gain_db.step);
        return;
    }
    if (gain_db > limits.gain_db.max || gain_db < limits.gain_db.min) {
        const double clamped = std::clamp(gain_db, limits.gain_db.min, limits.gain_db.max);
        work.outcome.notes.push_back("gain " + format_fixed(gain_db, 2) + " dB is outside amplifier '" +
                                     work.amplifier->name + "''s range " + format_fixed(limits.gain_db.min, 1) +
                                     " to " + format_fixed(limits.gain_db.max, 1) + " dB: set to " +
                                     format_fixed(clamped, 2) + " dB, so the zone misses its target level");
        gain_db = clamped;
    }
    work.outcome.setting.gain_db = round_to_step(gain_db, limits.gain_db.step);
}

/// Says how much the weather changed the zone at its farthest microphone, at 8 kHz.
std::string weather_note(const Venue& venue, const analysis::AtmosphericConditions& weather,
                         const std::vector<MicMeasurement>& mics) {
    double farthest_m = 0.0;
    for (const auto& mic : mics) {
        if (mic.arrival_ms && mic.absolute_timing) {
            farthest_m = std::max(farthest_m, path_length_m(*mic.arrival_ms, weather.temperature_c));
        }
    }
    const std::string air = format_fixed(weather.temperature_c, 1) + " °C, " + format_fixed(weather.humidity_percent, 0) + " %";
    if (farthest_m == 0.0) {
        return "weather " + air + " not applied: no microphone has an arrival time on an absolute time base";
    }
    const analysis::AtmosphericConditions measured_air{venue.temperature_c, venue.humidity_percent.value_or(50.0)};
    const std::vector<double> freq_hz{8000.0};
    const double change_db = analysis::air_absorption_change_curve_db(freq_hz, farthest_m, measured_air, weather)[0];
    return "weather " + air + " instead of the measured " + format_fixed(measured_air.temperature_c, 1) + " °C, " +
           format_fixed(measured_air.humidity_percent, 0) + " %: air absorption and arrivals recomputed, 8 kHz changes " +
           format_fixed(change_db, 2) + " dB at the farthest microphone (" + format_fixed(farthest_m, 1) + " m)";
}

ZoneWork fit_zone(const Venue& venue, const Zone& zone, const TuneOptions& options, double& common_rate_hz,
                  std::string& common_rate_source) {
    ZoneWork work;
    work.zone = &zone;
    work.amplifier = &amplifier_of(venue, zone);
    const double dsp_rate_hz = work.amplifier->profile.sample_rate_hz;
    const auto applied = options.applied.find(zone.name);
    const ZoneSetting no_setting;
    const ZoneSetting& applied_setting = applied == options.applied.end() ? no_setting : applied->second;

    // A mic listed with weight 0 does not judge the zone's sound but is still read: its arrival
    // times place the zone against other systems (a mic beside a fill hears the mains too).
    std::vector<MicResponse> responses;
    std::vector<std::pair<std::string, std::string>> unusable;
    for (const Microphone& mic : venue.microphones) {
        if (mic.zone_weights.find(zone.name) == mic.zone_weights.end()) {
            continue;
        }
        MicMeasurement measurement = read_mic_measurement(venue, zone, mic, options, applied_setting, dsp_rate_hz,
                                                          common_rate_hz, common_rate_source);
        if (measurement.response.response.freq_hz.empty()) {
            const std::string reason = measurement.response.flags.empty()
                                           ? std::string("no usable response")
                                           : "flagged " + measurement.response.flags.front() + " by the analysis";
            unusable.emplace_back(mic.name, reason);
        } else if (measurement.response.weight > 0.0) {
            responses.push_back(measurement.response);
        }
        work.mics.push_back(std::move(measurement));
    }

    ZoneAverage average;
    try {
        if (responses.empty()) {
            std::string reasons;
            for (const auto& [mic, reason] : unusable) {
                reasons += (reasons.empty() ? "" : "; ") + ("mic '" + mic + "': " + reason);
            }
            throw Error("no microphone with weight above 0 gave a usable response" +
                        (reasons.empty() ? std::string() : " (" + reasons + ")") +
                        "; check the microphones and measure the zone again");
        }
        average = average_zone(responses, averaging_method_of(zone), zone.fit_band_hz.low_hz, zone.fit_band_hz.high_hz);
        average.rejected.insert(average.rejected.end(), unusable.begin(), unusable.end());
    } catch (const Error& failure) {
        throw failure.with_context("zone '" + zone.name + "'");
    }

    EqFitRequest request;
    request.measured = average.average;
    request.target.freq_hz = average.average.freq_hz;
    for (const double f : request.target.freq_hz) {
        request.target.magnitude_db.push_back(target_db(venue, zone, f));
    }
    request.band_start_hz = zone.fit_band_hz.low_hz;
    request.band_end_hz = zone.fit_band_hz.high_hz;
    request.limits = eq_limits_of(*work.amplifier, zone);
    // With several positions, the fitter fits the average with its deviation held back where the
    // positions disagree (spatial_shrink.cpp), because a correction that only some seats need makes
    // the other seats worse. One position leaves the average as it is.
    std::vector<MicResponse> used;
    for (const MicResponse& response : responses) {
        if (std::find(average.used_mics.begin(), average.used_mics.end(), response.mic) != average.used_mics.end()) {
            used.push_back(response);
        }
    }
    try {
        if (used.size() >= 2) {
            request.measured = shrink_to_spatial_agreement(average.average, used, request.target, request.band_start_hz,
                                                           request.band_end_hz).response;
        }
        work.fit = options.fitter != nullptr ? options.fitter->fit(request) : ClassicEqFitter().fit(request);
        work.request = request;
    } catch (const Error& failure) {
        throw failure.with_context("zone '" + zone.name + "'");
    }
    // The prediction is the real average plus the bands, not the held-back curve the fitter saw.
    for (std::size_t i = 0; i < work.fit.predicted.size(); ++i) {
        work.fit.predicted.magnitude_db[i] += average.average.magnitude_db[i] - request.measured.magnitude_db[i];
    }

    ZoneOutcome& outcome = work.outcome;
    outcome.zone = zone.name;
    outcome.amplifier = work.amplifier->name;
    outcome.channel = zone.channel;
    outcome.setting.bands = work.fit.bands;
    outcome.before = average.average;
    outcome.target = request.target;
    for (double& value : outcome.target.magnitude_db) {
        value += work.fit.level_offset_db;
    }
    // Residuals over the fitter's correctable points, each with its own mean level removed, so
    // that before and after are judged alike (the fitter's own "before" uses the fitted offset).
    const auto [rms_before, max_before] = masked_deviation(average.average, request.target, work.fit.correctable);
    const auto [rms_after, max_after] = masked_deviation(work.fit.predicted, request.target, work.fit.correctable);
    outcome.residual = {rms_before, rms_after, max_before, max_after};
    outcome.rejected_mics = average.rejected;
    for (const auto& mic : work.mics) {
        if (!mic.note.empty()) {
            outcome.notes.push_back(mic.note);
        }
    }
    outcome.notes = average.notes;
    outcome.notes.insert(outcome.notes.end(), work.fit.notes.begin(), work.fit.notes.end());
    if (!applied_setting.bands.empty() || applied_setting.gain_db != 0.0 || applied_setting.delay_ms != 0.0) {
        outcome.notes.emplace_back("the setting applied while measuring was removed first: the result replaces it");
    }
    if (options.weather) {
        outcome.notes.push_back(weather_note(venue, *options.weather, work.mics));
    }
    return work;
}

ZoneArrivals arrivals_of(const Venue& venue, const ZoneWork& work) {
    const Zone& zone = *work.zone;
    ZoneArrivals arrivals;
    arrivals.zone = zone.name;
    arrivals.hang = zone.hang;
    arrivals.system = zone.system;
    arrivals.level_offset_db = zone.level_offset_db;
    arrivals.precedence_ms = zone.precedence_ms;
    arrivals.polarity_reference = zone.polarity_reference;
    // Stored measurements went through the amplifier, so its latency is already in the arrivals.
    arrivals.device_latency_ms = 0.0;
    arrivals.absolute_timing = !work.mics.empty();
    bool any_arrival = false;
    for (const auto& mic : work.mics) {
        // Timing comes from every mic with an arrival, even one left out of the average for its
        // level or shape (a mic near a fill is far louder there than at FOH) or weighted 0.
        if (mic.arrival_ms) {
            arrivals.arrival_ms[mic.response.mic] = *mic.arrival_ms;
            arrivals.polarity[mic.response.mic] = mic.polarity;
            arrivals.absolute_timing = arrivals.absolute_timing && mic.absolute_timing;
            any_arrival = true;
        }
        const bool rejected = std::any_of(work.outcome.rejected_mics.begin(), work.outcome.rejected_mics.end(),
                                          [&](const auto& entry) { return entry.first == mic.response.mic; });
        if (!rejected && mic.response.weight > 0.0 && !mic.response.response.freq_hz.empty()) {
            arrivals.level_db[mic.response.mic] = target_level_db(venue, zone, mic.response.response);
        }
    }
    arrivals.absolute_timing = arrivals.absolute_timing && any_arrival;
    return arrivals;
}

/// Collects what the system steps (system_tuning.hpp) need of every zone's measurements.
std::vector<detail::SystemZoneData> system_data_of(const Venue& venue, const std::vector<ZoneWork>& works) {
    std::vector<detail::SystemZoneData> zones;
    for (const ZoneWork& work : works) {
        const ZoneArrivals arrivals = arrivals_of(venue, work);
        detail::SystemZoneData zone;
        zone.zone = work.zone;
        for (const auto& mic : work.mics) {
            detail::SystemMicData data;
            data.mic = mic.response.mic;
            data.weight = mic.response.weight;
            if (mic.arrival_ms && mic.absolute_timing) {
                data.arrival_ms = mic.arrival_ms;
            }
            data.response = mic.response.response;
            data.windowed = mic.windowed_response;
            data.arrival_confidence = mic.arrival_confidence;
            const auto level = arrivals.level_db.find(data.mic);
            if (level != arrivals.level_db.end()) {
                data.level_db = level->second;
            }
            zone.mics.push_back(std::move(data));
        }
        zones.push_back(std::move(zone));
    }
    return zones;
}

AlignmentOptions alignment_options_of(const Venue& venue, const std::vector<ZoneWork>& works) {
    AlignmentOptions options;
    const bool has_mains = std::any_of(works.begin(), works.end(), [](const ZoneWork& w) { return w.zone->system == "mains"; });
    options.reference_system = has_mains ? "mains" : works.front().zone->system;
    // The options hold the widest limits; each zone is then held to its own amplifier's limits.
    options.max_delay_ms = 0.0;
    options.max_gain_db = -std::numeric_limits<double>::infinity();
    options.min_gain_db = std::numeric_limits<double>::infinity();
    for (const ZoneWork& work : works) {
        options.max_delay_ms = std::max(options.max_delay_ms, max_zone_delay_ms(venue, *work.zone));
        options.max_gain_db = std::max(options.max_gain_db, work.amplifier->limits.gain_db.max);
        options.min_gain_db = std::min(options.min_gain_db, work.amplifier->limits.gain_db.min);
    }
    return options;
}

/// Delays and gains of every zone. When the measurements cannot place the systems in time
/// (no arrival times, or no common time base), delays stay 0 with the reason in the notes and
/// only the levels are aligned.
/// NOTE: one zone without an absolute time base (a missing impulse-response sidecar) leaves the
/// delays of every zone at 0 ms, including zones whose timing is known.
std::vector<ZoneAlignment> align(const Venue& venue, const std::vector<ZoneWork>& works, std::vector<std::string>& notes) {
    std::vector<ZoneArrivals> arrivals;
    for (const ZoneWork& work : works) {
        arrivals.push_back(arrivals_of(venue, work));
    }
    const AlignmentOptions options = alignment_options_of(venue, works);
    try {
        return align_zones(arrivals, options);
    } catch (const Error& failure) {
        const bool timing_missing = std::any_of(arrivals.begin(), arrivals.end(),
                                                [](const ZoneArrivals& a) { return !a.absolute_timing; });
        if (!timing_missing) {
            throw;
        }
        std::string zones_without_timing;
        for (const ZoneArrivals& zone : arrivals) {
            if (!zone.absolute_timing) {
                zones_without_timing += (zones_without_timing.empty() ? "'" : ", '") + zone.zone + "'";
            }
        }
        notes.push_back("delays between systems not set (left at 0 ms): the measurements of zone(s) " + zones_without_timing +
                        " carry no absolute timing (frequency-response exports have no arrival time, and impulse "
                        "responses need a loopback time base such as a REW text export or --t0-sample)");
    }

    // Levels only, by the same rule as align_zones: gain = (reference level + level offset) −
    // zone level, the reference level chosen so the reference system's gains average 0 dB.
    std::vector<ZoneAlignment> alignments;
    double reference_sum = 0.0;
    std::size_t reference_count = 0;
    std::vector<double> zone_levels;
    for (const ZoneArrivals& zone : arrivals) {
        double sum = 0.0;
        for (const auto& [mic, level] : zone.level_db) {
            sum += level;
        }
        const double level = zone.level_db.empty() ? 0.0 : sum / static_cast<double>(zone.level_db.size());
        zone_levels.push_back(level);
        if (zone.system == options.reference_system) {
            reference_sum += level - zone.level_offset_db;
            ++reference_count;
        }
    }
    const double reference_level = reference_count == 0 ? 0.0 : reference_sum / static_cast<double>(reference_count);
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
        ZoneAlignment alignment;
        alignment.zone = arrivals[i].zone;
        alignment.gain_db = reference_level + arrivals[i].level_offset_db - zone_levels[i];
        alignments.push_back(alignment);
    }
    return alignments;
}

void predict(const Venue& venue, ZoneWork& work) {
    ZoneOutcome& outcome = work.outcome;
    const double dsp_rate_hz = work.amplifier->profile.sample_rate_hz;
    ZoneSetting eq_only{0.0, 0.0, outcome.setting.bands};
    outcome.after = with_setting(outcome.before, eq_only, dsp_rate_hz, +1.0);
    if (work.bands_from_joint_fit) {
        // Judged like the zone's own fit: over its correctable points, level removed.
        const auto [rms_after, max_after] = masked_deviation(outcome.after, outcome.target, work.fit.correctable);
        outcome.residual.rms_after_db = rms_after;
        outcome.residual.max_after_db = max_after;
    }
    for (double& value : outcome.after.magnitude_db) {
        value += outcome.setting.gain_db;
    }
    for (const auto& mic : work.mics) {
        if (mic.response.response.freq_hz.empty()) {
            continue;
        }
        const auto [rms_before, max_before] = band_deviation(mic.response.response, venue, *work.zone);
        const auto [rms_after, max_after] =
            band_deviation(with_setting(mic.response.response, eq_only, dsp_rate_hz, +1.0), venue, *work.zone);
        outcome.mics.push_back({mic.response.mic, mic.response.weight, {rms_before, rms_after, max_before, max_after}});
    }
}

/// Tells whether a zone's EQ below the venue's coupling frequency is shared with the rest of its hang.
bool coupled_to_hang(const Venue& venue, const Zone& zone) {
    return !zone.hang.empty() && venue.system.coupling_below_hz > zone.fit_band_hz.low_hz;
}

// Share of a zone's bands that its hang's shared bands below the coupling frequency may use: one
// third leaves the band above it, where the zones differ, most of the device's bands.
constexpr double shared_band_fraction = 1.0 / 3.0;

/// The bands that every zone of `hang` gets below the coupling frequency: one fit, on the mean in
/// dB of the zones' responses, centred at or below that frequency. Below it the zones of a hang
/// act as one source, and EQ that differs between them would bend the array's directivity.
/// NOTE: the bands respect the EQ limits of the hang's first zone only. In a hang whose zones sit
/// on amplifiers with different EQ limits, they may fall outside another zone's limits.
std::vector<analysis::ParametricBand> shared_hang_bands(const Venue& venue, const std::vector<const ZoneWork*>& hang) {
    EqFitRequest request = hang.front()->request;
    for (const ZoneWork* work : hang) {
        if (work->request.measured.size() != request.measured.size()) {
            throw Error("zone '" + work->zone->name + "': its responses are on another frequency grid than zone '" +
                        hang.front()->zone->name + "' of the same hang; measure the hang's zones with one analysis setting");
        }
    }
    for (std::size_t i = 0; i < request.measured.size(); ++i) {
        double sum_db = 0.0;
        for (const ZoneWork* work : hang) {
            sum_db += work->request.measured.magnitude_db[i];
        }
        request.measured.magnitude_db[i] = sum_db / static_cast<double>(hang.size());
    }
    // The band stays the whole zone band, so that the fitter's level (the median deviation) is
    // that of the whole band. Only the bands' centres stay at or below the coupling frequency. Fitted over the band below it alone, a hang whose low
    // frequencies stand 10 dB above the rest would take that as its level and get no cut there.
    request.limits.max_freq_hz = std::min(request.limits.max_freq_hz, venue.system.coupling_below_hz);
    request.limits.max_bands =
        std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(request.limits.max_bands) * shared_band_fraction));
    request.weights.clear();
    return ClassicEqFitter().fit(request).bands;
}

/// The request of a hang zone's own bands above the coupling frequency, on top of the hang's shared bands.
EqFitRequest request_above_coupling(const Venue& venue, const ZoneWork& work,
                                    const std::vector<analysis::ParametricBand>& shared) {
    EqFitRequest request = work.request;
    const double rate_hz = request.limits.sample_rate_hz;
    for (std::size_t i = 0; i < request.measured.size(); ++i) {
        request.measured.magnitude_db[i] += bands_db(shared, request.measured.freq_hz[i], rate_hz);
    }
    request.band_start_hz = std::max(request.band_start_hz, venue.system.coupling_below_hz);
    request.limits.min_freq_hz = std::max(request.limits.min_freq_hz, venue.system.coupling_below_hz);
    request.limits.max_bands -= std::min(request.limits.max_bands - 1, shared.size());
    return request;
}

// The joint fit trades each zone's own response for the summed one. Its bands are pushed only
// while the zone alone stays within this much (dB RMS over its correctable points) of the
// residual of its own fit, so that a listener who hears that zone alone still gets its target.
// On the built-in rig the hang's shared bands below 200 Hz left its zones 1 to 2.3 dB further
// from their targets than their own fits, so the hang keeps those. Subs, fill and tower stayed
// within 0.5 dB.
constexpr double max_zone_residual_increase_db = 0.5;

/// Returns the residual of the zone alone with the given bands, as its own fit is judged.
double zone_residual_with_bands_db(const ZoneWork& work, const std::vector<analysis::ParametricBand>& bands) {
    const ZoneSetting eq_only{0.0, 0.0, bands};
    const FrequencyResponse after = with_setting(work.outcome.before, eq_only, work.amplifier->profile.sample_rate_hz, +1.0);
    return masked_deviation(after, work.outcome.target, work.fit.correctable).first;
}

/// Moves every zone whose joint bands leave it too far from its own target back to its own
/// bands, together with the rest of its hang where the hang shares bands below the coupling frequency.
void keep_zones_near_own_fit(const Venue& venue, const std::vector<ZoneWork>& works, detail::JointPush& push) {
    std::map<std::string, std::string> failed_hangs;
    std::map<std::string, std::string> failed_zones;
    for (const ZoneWork& work : works) {
        const auto bands = push.bands.find(work.zone->name);
        if (bands == push.bands.end()) {
            continue;
        }
        const double own_db = work.outcome.residual.rms_after_db;
        const double joint_db = zone_residual_with_bands_db(work, bands->second);
        if (joint_db <= own_db + max_zone_residual_increase_db) {
            continue;
        }
        const std::string reason = "with the joint fit's bands the zone alone would be " + format_fixed(joint_db, 2) +
                                   " dB RMS from its target, against " + format_fixed(own_db, 2) +
                                   " dB with its own fit (more than " + format_fixed(max_zone_residual_increase_db, 1) +
                                   " dB worse)";
        failed_zones[work.zone->name] = reason;
        if (coupled_to_hang(venue, *work.zone)) {
            failed_hangs.emplace(work.zone->hang, "zone '" + work.zone->name + "' of its hang: " + reason);
        }
    }
    for (const ZoneWork& work : works) {
        auto reason = failed_zones.find(work.zone->name);
        const auto hang = failed_hangs.find(work.zone->hang);
        if (reason == failed_zones.end() && coupled_to_hang(venue, *work.zone) && hang != failed_hangs.end()) {
            reason = failed_zones.emplace(work.zone->name, hang->second).first;
        }
        if (reason != failed_zones.end() && push.bands.erase(work.zone->name) > 0) {
            push.kept_own_bands[work.zone->name] = reason->second;
        }
    }
}

/// Replaces each zone's bands by those of the joint fit where it applies, and notes in the zone
/// why its own bands are kept where it does not.
void push_joint_fit(const Venue& venue, const std::vector<detail::SystemZoneData>& system_data,
                    std::vector<ZoneWork>& works, SystemOutcome& system) {
    std::vector<detail::JointPushZone> push_zones;
    std::map<std::string, std::vector<analysis::ParametricBand>> own_full_band;
    std::map<std::string, std::vector<const ZoneWork*>> hangs;
    for (std::size_t z = 0; z < works.size(); ++z) {
        const auto& mics = system_data[z].mics;
        if (coupled_to_hang(venue, *works[z].zone) && std::any_of(mics.begin(), mics.end(), detail::joint_fit_usable)) {
            hangs[works[z].zone->hang].push_back(&works[z]);
        }
    }
    std::map<std::string, std::vector<analysis::ParametricBand>> shared;
    for (const auto& [hang, members] : hangs) {
        try {
            shared[hang] = shared_hang_bands(venue, members);
        } catch (const Error& failure) {
            throw failure.with_context("hang '" + hang + "', shared bands below " +
                                       format_fixed(venue.system.coupling_below_hz, 0) + " Hz");
        }
    }
    for (std::size_t z = 0; z < works.size(); ++z) {
        const ZoneWork& work = works[z];
        own_full_band[work.zone->name] = work.fit.bands;
        detail::JointPushZone push_zone;
        push_zone.zone = work.zone->name;
        push_zone.delay_ms = work.outcome.setting.delay_ms;
        push_zone.gain_db = work.outcome.setting.gain_db;
        push_zone.bands = work.fit.bands;
        push_zone.request = work.request;
        const auto hang_bands = shared.find(work.zone->hang);
        if (coupled_to_hang(venue, *work.zone) && hang_bands != shared.end()) {
            push_zone.fixed_bands = hang_bands->second;
            push_zone.request = request_above_coupling(venue, work, hang_bands->second);
            try {
                const EqFitResult above = ClassicEqFitter().fit(push_zone.request);
                push_zone.bands = hang_bands->second;
                push_zone.bands.insert(push_zone.bands.end(), above.bands.begin(), above.bands.end());
            } catch (const Error& failure) {
                throw failure.with_context("zone '" + work.zone->name + "', bands above the coupling frequency");
            }
        }
        push_zones.push_back(std::move(push_zone));
    }
    const detail::JointPush push = detail::fit_jointly_for_push(
        venue, system_data, push_zones, own_full_band,
        [&](detail::JointPush& joint) { keep_zones_near_own_fit(venue, works, joint); }, system);
    for (ZoneWork& work : works) {
        const auto bands = push.bands.find(work.zone->name);
        if (bands != push.bands.end()) {
            work.outcome.setting.bands = bands->second;
            work.bands_from_joint_fit = true;
            work.outcome.notes.emplace_back("EQ from the joint fit of every zone on the summed response");
            continue;
        }
        const auto reason = push.kept_own_bands.find(work.zone->name);
        if (reason != push.kept_own_bands.end()) {
            work.outcome.notes.push_back("EQ from the zone's own fit, not the joint fit: " + reason->second);
        }
    }
}

/// Returns what the gain must take off for the zone to sit at the level rule's level with the
/// given bands. That is the median over its band of its spatial average + EQ − target, less the
/// zone level the rule read (the mean over its mics of target_level_db, without the EQ). It
/// follows the EQ's broadband level, which a fit sets within its boost cap: the built-in rig's
/// hang cuts its whole band by 8 to 14 dB so that its treble can reach the target. It also takes
/// in the difference between the average's level and the mics' mean level.
double eq_level_db(const Venue& venue, const ZoneWork& work, const std::vector<analysis::ParametricBand>& bands) {
    const ZoneArrivals arrivals = arrivals_of(venue, work);
    if (arrivals.level_db.empty()) {
        return 0.0;
    }
    double rule_level_db = 0.0;
    for (const auto& [mic, level_db] : arrivals.level_db) {
        rule_level_db += level_db;
    }
    rule_level_db /= static_cast<double>(arrivals.level_db.size());

    const FrequencyResponse& average = work.outcome.before;
    const double rate_hz = work.amplifier->profile.sample_rate_hz;
    std::vector<double> with_eq_db;
    for (std::size_t i = 0; i < average.size(); ++i) {
        const double f = average.freq_hz[i];
        if (f >= work.zone->fit_band_hz.low_hz && f <= work.zone->fit_band_hz.high_hz) {
            with_eq_db.push_back(average.magnitude_db[i] - target_db(venue, f) + bands_db(bands, f, rate_hz));
        }
    }
    if (with_eq_db.empty()) {
        return 0.0;
    }
    return median_db(std::move(with_eq_db)) - rule_level_db;
}

/// Sets every zone's gain to its level-rule gain less its eq_level_db, plus the mean eq_level_db
/// of the reference system's zones. The reference gains then still average as the level rule set
/// them, and every zone's spatial average ends at its level offset from theirs. When a gain would
/// then lie above 0 dB, every gain is lowered by the largest such excess. So linetune shades zones
/// only by cutting, and the zones keep their levels relative to each other. No amplifier channel
/// loses headroom, and no push must raise a channel past the push's step limit. Returns that
/// common reduction in dB (0 when none). `note_clamp`: note when a gain is clamped to its
/// amplifier's range.
double set_gains_after_eq(const Venue& venue, std::vector<ZoneWork>& works, const std::string& reference_system,
                          bool note_clamp) {
    std::vector<double> eq_levels_db;
    double reference_sum_db = 0.0;
    std::size_t reference_count = 0;
    for (const ZoneWork& work : works) {
        eq_levels_db.push_back(eq_level_db(venue, work, work.outcome.setting.bands));
        if (work.zone->system == reference_system) {
            reference_sum_db += eq_levels_db.back();
            ++reference_count;
        }
    }
    const double reference_db = reference_count > 0 ? reference_sum_db / static_cast<double>(reference_count) : 0.0;
    std::vector<double> gains_db;
    double reduction_db = 0.0;
    for (std::size_t z = 0; z < works.size(); ++z) {
        gains_db.push_back(works[z].level_rule_gain_db - eq_levels_db[z] + reference_db);
        reduction_db = std::max(reduction_db, gains_db.back());
    }
    for (std::size_t z = 0; z < works.size(); ++z) {
        set_zone_gain(works[z], gains_db[z] - reduction_db, note_clamp);
    }
    return reduction_db;
}

}  // namespace

TuningResult tune_venue(const Venue& venue, const TuneOptions& options) {
    TuningResult result;
    result.venue_name = venue.name;
    if (venue.zones.empty()) {
        throw Error("venue '" + venue.name + "' has no zones to tune", ErrorKind::configuration);
    }

    if (options.weather && !venue.humidity_percent) {
        throw Error("venue '" + venue.name + "' gives no humidity_percent, so the air the measurements were taken in "
                    "is unknown and --weather cannot compare it; add the temperature_c and humidity_percent of the "
                    "measurement to the venue file",
                    ErrorKind::configuration);
    }

    double common_rate_hz = 0.0;
    std::string common_rate_source;
    std::vector<ZoneWork> works;
    for (const Zone& zone : venue.zones) {
        works.push_back(fit_zone(venue, zone, options, common_rate_hz, common_rate_source));
    }

    std::vector<ZoneAlignment> alignments = align(venue, works, result.notes);
    const std::vector<detail::SystemZoneData> system_data = system_data_of(venue, works);
    detail::align_subs_by_phase(venue, system_data, alignments, result.system);
    detail::shade_zone_levels(venue, options.weather ? options.weather->temperature_c : venue.temperature_c, system_data,
                              alignments, result.system);
    for (ZoneWork& work : works) {
        const auto found = std::find_if(alignments.begin(), alignments.end(),
                                        [&](const ZoneAlignment& a) { return a.zone == work.zone->name; });
        const ChannelLimits& limits = work.amplifier->limits;
        const double zone_max_delay_ms = max_zone_delay_ms(venue, *work.zone);
        if (found->delay_ms > zone_max_delay_ms + 1e-9) {
            throw Error("zone '" + work.zone->name + "' needs " + format_fixed(found->delay_ms, 3) +
                            " ms of delay, above its limit " + format_fixed(zone_max_delay_ms, 3) +
                            " ms (the smaller of max_distance_m's travel time plus latency and amplifier '" +
                            work.amplifier->name + "''s delay_ms.max); check the measurements or raise that limit",
                        ErrorKind::configuration);
        }
        work.outcome.setting.delay_ms = round_to_step(found->delay_ms, limits.delay_ms.step);
        work.level_rule_gain_db = found->gain_db;
        work.outcome.polarity_fault = found->polarity_fault;
        work.outcome.notes.insert(work.outcome.notes.end(), found->notes.begin(), found->notes.end());
    }
    // The joint fit sums the zones at the gains that go with their own bands. The final gains
    // follow the bands it pushes.
    const std::string reference_system = alignment_options_of(venue, works).reference_system;
    set_gains_after_eq(venue, works, reference_system, false);
    push_joint_fit(venue, system_data, works, result.system);
    const double reduction_db = set_gains_after_eq(venue, works, reference_system, true);
    if (reduction_db >= 0.05) {
        result.notes.push_back("every zone's gain is " + format_fixed(reduction_db, 1) +
                               " dB lower than its level alone asks, so that no gain lies above 0 dB; the zones keep "
                               "their levels relative to each other: raise the system's master level by up to " +
                               format_fixed(reduction_db, 1) + " dB if the show needs it");
    }
    for (ZoneWork& work : works) {
        predict(venue, work);
        result.zones.push_back(std::move(work.outcome));
    }
    return result;
}

}  // namespace linetune::correction
