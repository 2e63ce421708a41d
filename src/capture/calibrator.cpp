#include "linetune/capture/calibrator.hpp"
#include "linetune/capture/recording_file.hpp"

#include "linetune_version.hpp"

#include "linetune/analysis/fft.hpp"
#include "linetune/analysis/sweep_recording.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/units.hpp"
#include "linetune/io/json_file.hpp"
#include "linetune/io/text_file_writer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <ctime>
#include <numeric>

namespace linetune::capture {
namespace {

using nlohmann::json;

// Level reported for digital silence, as InputLevel::peak_dbfs does.
constexpr double silence_dbfs = -300.0;

// Calibrators are specified at 94 dB SPL (1 Pa): sensitivity_dbfs is the level at that pressure.
constexpr double reference_db_spl = 94.0;

// Half the width of the tone's band: a third octave centred on the tone spans 2^(±1/6), like the
// band filter of a sound level meter. A calibrator's frequency is within 1 % of its nominal value,
// far inside the band.
const double band_half_width_ratio = std::pow(2.0, 1.0 / 6.0);

// The median of |X[k]|² over bins of Gaussian noise is ln 2 times their mean, because each bin's
// power is exponentially distributed (chi-squared with two degrees of freedom).
const double median_to_mean_power = 1.0 / std::log(2.0);

double power_db(double ratio) { return ratio > 0.0 ? 10.0 * std::log10(ratio) : silence_dbfs; }

/// Power spectrum |X[k]|² of the Hann-windowed samples, and the factor that turns a sum of bins
/// into the mean square of the unwindowed signal in those bins.
struct WindowedSpectrum {
    std::vector<double> power;
    double bin_hz = 0.0;
    double bins_to_mean_square = 0.0;
};

/// Parseval for the windowed signal: Σ_n (w[n]·x[n])² = (2/M)·Σ_{one-sided k} |X[k]|², and for a
/// steady signal Σ_n (w[n]·x[n])² ≈ mean(x²)·Σ_n w[n]², so a band's mean square is
/// (2/M)·Σ_band |X[k]|² / Σ_n w[n]².
WindowedSpectrum hann_power_spectrum(std::span<const double> samples, double sample_rate_hz) {
    const std::size_t count = samples.size();
    const std::size_t size = analysis::next_fast_fft_size(count);
    std::vector<double> windowed(count);
    double window_energy = 0.0;
    for (std::size_t n = 0; n < count; ++n) {
        const double w = 0.5 - 0.5 * std::cos(2.0 * pi * static_cast<double>(n) / static_cast<double>(count));
        windowed[n] = w * samples[n];
        window_energy += w * w;
    }
    analysis::RealFft<double> fft(size);
    std::vector<std::complex<double>> bins(fft.bin_count());
    fft.forward(windowed, bins);
    WindowedSpectrum spectrum;
    spectrum.power.resize(bins.size());
    for (std::size_t k = 0; k < bins.size(); ++k) {
        spectrum.power[k] = std::norm(bins[k]);
    }
    spectrum.bin_hz = sample_rate_hz / static_cast<double>(size);
    spectrum.bins_to_mean_square = 2.0 / (static_cast<double>(size) * window_energy);
    return spectrum;
}

std::size_t bin_at(double freq_hz, const WindowedSpectrum& spectrum) {
    const auto bin = static_cast<std::size_t>(std::lround(freq_hz / spectrum.bin_hz));
    return std::min(bin, spectrum.power.size() - 1);
}

/// Finds the strongest bin between the lowest tone and 0.45·fs (below the converters' anti-alias
/// filter), refined by a parabola through the log powers of the bin and its neighbours. For a
/// Hann window this places the peak within a few hundredths of a bin.
double peak_frequency_hz(const WindowedSpectrum& spectrum, double sample_rate_hz, double min_frequency_hz) {
    const std::size_t first = std::max<std::size_t>(1, bin_at(min_frequency_hz, spectrum));
    const std::size_t last = std::max(first + 2, bin_at(0.45 * sample_rate_hz, spectrum));
    const auto begin = spectrum.power.begin();
    const auto peak = static_cast<std::size_t>(std::max_element(begin + static_cast<std::ptrdiff_t>(first),
                                                                 begin + static_cast<std::ptrdiff_t>(last)) -
                                                begin);
    const double below = std::log(std::max(spectrum.power[peak - 1], 1e-300));
    const double centre = std::log(std::max(spectrum.power[peak], 1e-300));
    const double above = std::log(std::max(spectrum.power[peak + 1], 1e-300));
    const double curvature = below - 2.0 * centre + above;
    const double offset = curvature < 0.0 ? std::clamp(0.5 * (below - above) / curvature, -0.5, 0.5) : 0.0;
    return (static_cast<double>(peak) + offset) * spectrum.bin_hz;
}

double sum_bins(const WindowedSpectrum& spectrum, std::size_t first, std::size_t last) {
    return std::accumulate(spectrum.power.begin() + static_cast<std::ptrdiff_t>(first),
                           spectrum.power.begin() + static_cast<std::ptrdiff_t>(last + 1), 0.0);
}

/// Estimates the mean noise power per bin near the tone from the median over the octave below the tone's band and
/// the 2/3 octave above it, which stops a sixth of an octave short of the 2nd harmonic. The median
/// ignores hum lines and the odd harmonic in that range.
double noise_power_per_bin(const WindowedSpectrum& spectrum, double frequency_hz, double sample_rate_hz) {
    std::vector<double> values;
    const std::size_t low_first = std::max<std::size_t>(1, bin_at(frequency_hz / 2.0, spectrum));
    const std::size_t low_last = bin_at(frequency_hz / band_half_width_ratio, spectrum);
    const std::size_t high_first = bin_at(frequency_hz * band_half_width_ratio, spectrum) + 1;
    const std::size_t high_last =
        bin_at(std::min(frequency_hz * std::pow(2.0, 5.0 / 6.0), 0.45 * sample_rate_hz), spectrum);
    for (std::size_t k = low_first; k < low_last; ++k) {
        values.push_back(spectrum.power[k]);
    }
    for (std::size_t k = high_first; k <= high_last; ++k) {
        values.push_back(spectrum.power[k]);
    }
    if (values.empty()) {
        return 0.0;
    }
    const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), middle, values.end());
    return *middle * median_to_mean_power;
}

/// Returns the largest minus the smallest RMS level of consecutive blocks, in dB.
double block_level_spread_db(std::span<const double> samples, std::size_t block) {
    double lowest = 1e300;
    double highest = -1e300;
    for (std::size_t start = 0; start + block <= samples.size(); start += block) {
        double sum = 0.0;
        for (std::size_t n = start; n < start + block; ++n) {
            sum += samples[n] * samples[n];
        }
        const double level_db = power_db(sum / static_cast<double>(block));
        lowest = std::min(lowest, level_db);
        highest = std::max(highest, level_db);
    }
    return highest - lowest;
}

const char* const refit_advice = "fit the calibrator snugly on the capsule, switch it on and hold it still";

}  // namespace

CalibratorReading read_calibrator_tone(std::span<const float> samples, double sample_rate_hz,
                                       const CalibratorCheckOptions& options) {
    const auto block = static_cast<std::size_t>(std::lround(options.block_s * sample_rate_hz));
    if (block == 0 || samples.size() < 4 * block) {
        throw Error("a calibrator recording of " + std::to_string(samples.size()) + " samples is too short; record at least " +
                    format_significant(4.0 * options.block_s) + " s (four level blocks)");
    }
    const analysis::InputLevel level = analysis::measure_input_level(samples, sample_rate_hz);
    CalibratorReading reading;
    reading.peak_dbfs = level.peak_dbfs;
    reading.clipped = level.clipped;

    // An interface's DC offset is no sound pressure: the levels are those of x − mean(x).
    const double mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
    std::vector<double> centred(samples.size());
    double sum_squares = 0.0;
    for (std::size_t n = 0; n < samples.size(); ++n) {
        centred[n] = static_cast<double>(samples[n]) - mean;
        sum_squares += centred[n] * centred[n];
    }
    const double total_power = sum_squares / static_cast<double>(samples.size());
    reading.total_rms_dbfs = power_db(total_power);

    const WindowedSpectrum spectrum = hann_power_spectrum(centred, sample_rate_hz);
    reading.frequency_hz = peak_frequency_hz(spectrum, sample_rate_hz, options.min_frequency_hz);
    const std::size_t band_first = bin_at(reading.frequency_hz / band_half_width_ratio, spectrum);
    const std::size_t band_last = bin_at(reading.frequency_hz * band_half_width_ratio, spectrum);
    const double band_sum = sum_bins(spectrum, band_first, band_last);
    const double tone_power = band_sum * spectrum.bins_to_mean_square;
    reading.tone_rms_dbfs = power_db(tone_power);

    const double noise_in_band =
        noise_power_per_bin(spectrum, reading.frequency_hz, sample_rate_hz) * static_cast<double>(band_last - band_first + 1);
    reading.tone_to_noise_db = noise_in_band > 0.0 ? power_db(band_sum / noise_in_band) : -silence_dbfs;
    // The windowed estimate of the band can exceed the time-domain total by a rounding error.
    const double residual_power = std::max(total_power - tone_power, 1e-30 * total_power);
    reading.tone_to_residual_db = tone_power > 0.0 ? power_db(tone_power / residual_power) : silence_dbfs;
    reading.level_spread_db = block_level_spread_db(centred, block);
    return reading;
}

std::optional<std::string> calibrator_problem(const CalibratorReading& reading, const CalibratorCheckOptions& options) {
    if (reading.clipped) {
        return "the input clipped (peak " + format_fixed(reading.peak_dbfs, 1) +
               " dBFS); lower the input gain and calibrate again at the gain you will measure with";
    }
    if (reading.tone_to_noise_db < options.min_tone_to_noise_db) {
        return "the recording holds no tone: its strongest peak, at " + format_fixed(reading.frequency_hz, 1) +
               " Hz, is " + format_fixed(reading.tone_to_noise_db, 1) + " dB above the noise of its third octave (at least " +
               format_fixed(options.min_tone_to_noise_db, 0) + " dB needed); " + refit_advice +
               ", and check the mic's cable, phantom power and input";
    }
    if (reading.tone_to_noise_db < options.accurate_tone_to_noise_db) {
        return "the tone at " + format_fixed(reading.frequency_hz, 1) + " Hz (" + format_fixed(reading.tone_rms_dbfs, 1) +
               " dBFS RMS) is too quiet: only " + format_fixed(reading.tone_to_noise_db, 1) +
               " dB above the noise of its third octave, and at least " +
               format_fixed(options.accurate_tone_to_noise_db, 0) +
               " dB are needed for a reading within 0.05 dB; raise the input gain, use a 114 dB calibrator or make the "
               "room quieter";
    }
    if (reading.tone_to_residual_db < options.min_tone_to_residual_db) {
        return "the recording is not one clean tone: everything outside the third octave around " +
               format_fixed(reading.frequency_hz, 1) + " Hz is only " + format_fixed(reading.tone_to_residual_db, 1) +
               " dB under the tone (at least " + format_fixed(options.min_tone_to_residual_db, 0) +
               " dB needed), so a second tone, speech or loud noise reached the mic; " + refit_advice +
               " in a quieter moment";
    }
    if (reading.level_spread_db > options.max_level_spread_db) {
        return "the tone's level was not steady: its " + format_significant(options.block_s) +
               " s blocks differ by " + format_fixed(reading.level_spread_db, 2) + " dB (at most " +
               format_fixed(options.max_level_spread_db, 2) + " dB allowed); " + refit_advice +
               " for the whole recording";
    }
    if (reading.frequency_hz < options.min_frequency_hz) {
        return "the tone at " + format_fixed(reading.frequency_hz, 1) + " Hz is below " +
               format_significant(options.min_frequency_hz) + " Hz; use a calibrator at 250 Hz or 1 kHz";
    }
    return std::nullopt;
}

double sensitivity_from_calibrator(double tone_rms_dbfs, double calibrator_db_spl) {
    return tone_rms_dbfs - (calibrator_db_spl - reference_db_spl);
}

MicCalibration calibrate_microphone(const Venue& venue, const std::string& mic, CaptureStream& stream,
                                    const CalibrationOptions& options) {
    const auto found = std::find_if(venue.microphones.begin(), venue.microphones.end(),
                                    [&](const Microphone& candidate) { return candidate.name == mic; });
    if (found == venue.microphones.end()) {
        std::string names;
        for (const Microphone& candidate : venue.microphones) {
            names += (names.empty() ? "'" : ", '") + candidate.name + "'";
        }
        throw Error("mic '" + mic + "' is not in venue '" + venue.name + "'; choose one of its mics: " + names,
                    ErrorKind::configuration);
    }
    const std::string label = "mic '" + mic + "' (input " + std::to_string(found->input) + ")";
    const StreamFormat format = stream.format();
    if (found->input == 0 || found->input > format.input_channels) {
        throw Error(label + ": the input is outside 1 to " + std::to_string(format.input_channels) + " of " +
                        stream.description() + "; fix the mic's input in the venue file",
                    ErrorKind::configuration);
    }
    if (!(options.calibrator_db_spl >= 80.0 && options.calibrator_db_spl <= 140.0)) {
        throw Error("calibrator level " + format_significant(options.calibrator_db_spl) +
                        " dB SPL is outside 80 to 140 dB SPL; give the level printed on the calibrator (94 or 114)",
                    ErrorKind::configuration);
    }

    CaptureRequest request;
    request.input_channels = {found->input};
    request.record_frames = static_cast<std::size_t>(std::lround(options.record_s * format.sample_rate_hz));
    request.playback = MultichannelSignal(0, request.record_frames, format.sample_rate_hz);
    CaptureResult result;
    try {
        result = stream.play_and_record(request);
    } catch (const Error& failure) {
        throw failure.with_context(label + ", calibration");
    }
    if (result.recording.channel_count() != 1 || result.recording.frame_count() != request.record_frames) {
        throw Error(label + ": " + stream.description() + " returned " + std::to_string(result.recording.channel_count()) +
                        " channels of " + std::to_string(result.recording.frame_count()) + " frames instead of 1 of " +
                        std::to_string(request.record_frames) + "; report this to the backend's maintainers",
                    ErrorKind::device);
    }

    MicCalibration calibration;
    calibration.mic = mic;
    calibration.input = found->input;
    calibration.calibrator_db_spl = options.calibrator_db_spl;
    try {
        calibration.reading = read_calibrator_tone(result.recording.channel(0), format.sample_rate_hz, options.check);
    } catch (const Error& failure) {
        throw failure.with_context(label);
    }
    if (result.xrun_count > 0) {
        throw Error(label + ": " + stream.description() + " reported " + std::to_string(result.xrun_count) +
                        " xrun(s) during the calibration, so samples are missing; calibrate again",
                    ErrorKind::device);
    }
    if (const auto problem = calibrator_problem(calibration.reading, options.check)) {
        throw Error(label + ": " + *problem + ". Nothing was stored", ErrorKind::input);
    }
    calibration.sensitivity_dbfs = sensitivity_from_calibrator(calibration.reading.tone_rms_dbfs, options.calibrator_db_spl);
    calibration.recorded_utc = utc_timestamp();
    calibration.software = std::string("linetune ") + LINETUNE_VERSION;
    return calibration;
}

std::filesystem::path calibration_file_path(const std::filesystem::path& session_dir) {
    return session_dir / "calibration.json";
}

namespace {

json calibration_json(const MicCalibration& calibration) {
    const CalibratorReading& reading = calibration.reading;
    return {{"mic", calibration.mic},
            {"input", calibration.input},
            {"sensitivity_dbfs", calibration.sensitivity_dbfs},
            {"calibrator_db_spl", calibration.calibrator_db_spl},
            {"frequency_hz", reading.frequency_hz},
            {"tone_rms_dbfs", reading.tone_rms_dbfs},
            {"total_rms_dbfs", reading.total_rms_dbfs},
            {"peak_dbfs", reading.peak_dbfs},
            {"tone_to_noise_db", reading.tone_to_noise_db},
            {"tone_to_residual_db", reading.tone_to_residual_db},
            {"level_spread_db", reading.level_spread_db},
            {"recorded_utc", calibration.recorded_utc},
            {"software", calibration.software}};
}

template <typename T>
T field(const json& object, const std::string& key) {
    const auto found = object.find(key);
    if (found == object.end()) {
        throw Error("missing key '" + key + "'");
    }
    try {
        return found->get<T>();
    } catch (const json::exception&) {
        throw Error("'" + key + "' has the wrong type: " + found->dump());
    }
}

MicCalibration calibration_from_json(const json& item) {
    if (!item.is_object()) {
        throw Error("a 'mics' entry is not an object: " + item.dump());
    }
    MicCalibration calibration;
    calibration.mic = field<std::string>(item, "mic");
    try {
        calibration.input = field<std::size_t>(item, "input");
        calibration.sensitivity_dbfs = field<double>(item, "sensitivity_dbfs");
        calibration.calibrator_db_spl = field<double>(item, "calibrator_db_spl");
        calibration.reading.frequency_hz = field<double>(item, "frequency_hz");
        calibration.reading.tone_rms_dbfs = field<double>(item, "tone_rms_dbfs");
        calibration.reading.total_rms_dbfs = field<double>(item, "total_rms_dbfs");
        calibration.reading.peak_dbfs = field<double>(item, "peak_dbfs");
        calibration.reading.tone_to_noise_db = field<double>(item, "tone_to_noise_db");
        calibration.reading.tone_to_residual_db = field<double>(item, "tone_to_residual_db");
        calibration.reading.level_spread_db = field<double>(item, "level_spread_db");
        calibration.recorded_utc = field<std::string>(item, "recorded_utc");
        calibration.software = field<std::string>(item, "software");
        // The venue file accepts the same range for sensitivity_dbfs.
        if (!(calibration.sensitivity_dbfs >= -120.0 && calibration.sensitivity_dbfs <= 0.0)) {
            throw Error("sensitivity_dbfs " + format_significant(calibration.sensitivity_dbfs) +
                        " is outside -120 to 0 dBFS");
        }
    } catch (const Error& failure) {
        throw failure.with_context("mic '" + calibration.mic + "'");
    }
    return calibration;
}

}  // namespace

std::vector<MicCalibration> read_calibration_file(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
        return {};
    }
    const std::string label = "calibration file '" + path.string() + "'";
    const json document = io::parse_json_file(path, label, ErrorKind::input);
    std::vector<MicCalibration> calibrations;
    try {
        if (!document.is_object() || field<std::string>(document, "format") != calibration_format) {
            throw Error("'format' is not \"" + std::string(calibration_format) + "\"");
        }
        if (const int version = field<int>(document, "version"); version != 1) {
            throw Error("version " + std::to_string(version) + " is not supported (this linetune reads version 1)");
        }
        const json mics = field<json>(document, "mics");
        if (!mics.is_array()) {
            throw Error("'mics' must be an array, not " + mics.dump());
        }
        for (const json& item : mics) {
            calibrations.push_back(calibration_from_json(item));
        }
    } catch (const Error& failure) {
        throw Error(label + ": " + failure.what() + "; calibrate the mics again (linetune measure --calibrate MIC)",
                    ErrorKind::input);
    }
    return calibrations;
}

void store_calibration(const std::filesystem::path& path, const MicCalibration& calibration) {
    std::vector<MicCalibration> calibrations = read_calibration_file(path);
    const auto found = std::find_if(calibrations.begin(), calibrations.end(),
                                    [&](const MicCalibration& entry) { return entry.mic == calibration.mic; });
    if (found == calibrations.end()) {
        calibrations.push_back(calibration);
    } else {
        *found = calibration;
    }
    json document = {{"format", calibration_format}, {"version", 1}, {"mics", json::array()}};
    for (const MicCalibration& entry : calibrations) {
        document["mics"].push_back(calibration_json(entry));
    }
    io::write_text_file(path, document.dump(2) + "\n");
}

std::vector<SensitivitySource> apply_calibrations(Venue& venue, const std::vector<MicCalibration>& calibrations) {
    std::vector<SensitivitySource> sources;
    for (Microphone& mic : venue.microphones) {
        SensitivitySource source;
        source.mic = mic.name;
        source.venue_sensitivity_dbfs = mic.sensitivity_dbfs;
        const auto found = std::find_if(calibrations.begin(), calibrations.end(),
                                        [&](const MicCalibration& entry) { return entry.mic == mic.name; });
        if (found != calibrations.end() && found->input == mic.input) {
            mic.sensitivity_dbfs = found->sensitivity_dbfs;
            source.calibration = *found;
        } else if (found != calibrations.end()) {
            source.note = "its calibration was recorded on input " + std::to_string(found->input) +
                          ", but the mic is on input " + std::to_string(mic.input) +
                          " now, whose gain may differ, so it is not used; calibrate the mic again";
        }
        source.sensitivity_dbfs = mic.sensitivity_dbfs;
        if (source.calibration) {
            source.source = "calibration file";
        } else if (mic.sensitivity_dbfs) {
            source.source = "venue file";
        } else {
            source.source = "none";
        }
        sources.push_back(std::move(source));
    }
    return sources;
}

}  // namespace linetune::capture
