#include "learned_dataset.hpp"

#include "linetune/analysis/biquad.hpp"
#include "linetune/analysis/response.hpp"
#include "linetune/analysis/smoothing.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/io/audio_file.hpp"
#include "linetune/io/response_text.hpp"
#include "linetune/simulation/builtin_rig.hpp"
#include "linetune/simulation/transfer_functions.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace linetune::tools {
namespace {

using analysis::FilterType;
using analysis::ParametricBand;

// Every response is taken as `tune` takes a measurement: 1/6-octave power smoothing on a
// 24-points-per-octave grid from 20 Hz to 20 kHz.
constexpr double grid_start_hz = 20.0;
constexpr double grid_end_hz = 20000.0;
constexpr double grid_points_per_octave = 24.0;
constexpr double smoothing_fraction = 6.0;
constexpr double sample_rate_hz = 48000.0;

/// The kind of zone a response stands for: its band and boost cap.
struct ZoneKind {
    double band_start_hz;
    double band_end_hz;
    double max_boost_db;
};

// Bands of the built-in arena's zones, of the guitar-speaker impulse responses (their drivers
// play about 90 Hz to 6 kHz) and of a headphone. Subs get +3 dB of boost, the venue file's
// default for subs.
constexpr ZoneKind full_range{60.0, 16000.0, 6.0};
constexpr ZoneKind front_fill{100.0, 16000.0, 6.0};
constexpr ZoneKind subwoofer{30.0, 120.0, 3.0};
constexpr ZoneKind guitar_speaker{90.0, 6000.0, 6.0};
constexpr ZoneKind headphone{30.0, 16000.0, 6.0};

ZoneKind zone_kind_of(const std::string& zone) {
    if (zone == "subs") {
        return subwoofer;
    }
    if (zone == "front-fill") {
        return front_fill;
    }
    return full_range;
}

ZoneKind real_kind_of(const std::string& file) {
    if (file.find("adventurekid") != std::string::npos) {
        return guitar_speaker;
    }
    if (file.find("autoeq") != std::string::npos) {
        return headphone;
    }
    return full_range;
}

double uniform(std::mt19937& rng, double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}

double log_uniform(std::mt19937& rng, double lo, double hi) {
    return std::exp(uniform(rng, std::log(lo), std::log(hi)));
}

bool chance(std::mt19937& rng, double probability) {
    return uniform(rng, 0.0, 1.0) < probability;
}

std::vector<double> grid() {
    return log_frequency_grid(grid_start_hz, grid_end_hz, grid_points_per_octave);
}

analysis::ResponseOptions response_options() {
    analysis::ResponseOptions options;
    options.start_freq_hz = grid_start_hz;
    options.end_freq_hz = grid_end_hz;
    options.points_per_octave = grid_points_per_octave;
    options.smoothing = {analysis::SmoothingKind::fractional_octave, smoothing_fraction};
    return options;
}

/// Wraps one measured response into a random EQ problem: a jittered band of its zone kind, extra
/// faults, a target curve (tilt and sometimes a low-frequency lift), a level and device limits.
correction::EqFitRequest make_request(const FrequencyResponse& response, const ZoneKind& kind, std::mt19937& rng,
                                      bool add_faults) {
    correction::EqFitRequest request;
    request.band_start_hz = kind.band_start_hz * std::exp2(uniform(rng, -0.3, 0.3));
    request.band_end_hz = kind.band_end_hz * std::exp2(uniform(rng, -0.3, 0.3));
    if (request.band_end_hz > 19000.0) {
        request.band_end_hz = 19000.0;
    }

    auto& limits = request.limits;
    limits.max_gain_db = kind.max_boost_db == 6.0 && chance(rng, 0.2) ? 3.0 : kind.max_boost_db;
    limits.min_gain_db = chance(rng, 0.2) ? -12.0 : -15.0;
    const double band_count_draw = uniform(rng, 0.0, 1.0);
    limits.max_bands = 6;
    if (band_count_draw < 0.6) {
        limits.max_bands = 10;
    } else if (band_count_draw < 0.8) {
        limits.max_bands = 8;
    }
    if (chance(rng, 0.3)) {
        limits.gain_step_db = 0.1;
        limits.q_step = 0.01;
    }

    std::vector<ParametricBand> faults;
    if (add_faults) {
        const int count = std::uniform_int_distribution<int>(0, 3)(rng);
        for (int i = 0; i < count; ++i) {
            faults.push_back({FilterType::peaking, log_uniform(rng, request.band_start_hz, request.band_end_hz),
                              uniform(rng, -8.0, 6.0), log_uniform(rng, 0.7, 6.0)});
        }
        if (chance(rng, 0.3)) {
            const bool low = chance(rng, 0.5);
            faults.push_back({low ? FilterType::low_shelf : FilterType::high_shelf,
                              low ? request.band_start_hz * log_uniform(rng, 1.5, 6.0)
                                  : request.band_end_hz / log_uniform(rng, 1.5, 6.0),
                              uniform(rng, -5.0, 5.0), 0.7071});
        }
    }

    const double level_db = uniform(rng, -10.0, 10.0);
    request.measured.freq_hz = grid();
    for (const double f : request.measured.freq_hz) {
        double value_db = interpolate_magnitude_db(response, f) + level_db;
        for (const auto& fault : faults) {
            value_db += analysis::band_magnitude_db(fault, f, sample_rate_hz);
        }
        request.measured.magnitude_db.push_back(value_db);
    }

    // Target: a tilt of 0 to −1 dB per octave about 1 kHz, and in a third of the problems a
    // lift of up to 6 dB below about 100 Hz.
    const double tilt_db_per_octave = uniform(rng, -1.0, 0.0);
    const double lift_db = chance(rng, 0.3) ? uniform(rng, 0.0, 6.0) : 0.0;
    request.target.freq_hz = grid();
    for (const double f : request.target.freq_hz) {
        request.target.magnitude_db.push_back(tilt_db_per_octave * std::log2(f / 1000.0) +
                                              lift_db / (1.0 + (f / 100.0) * (f / 100.0)));
    }
    return request;
}

/// Draws the built-in arena's boxes, aims, microphones and room at random.
simulation::RigModel random_rig(std::mt19937& rng, int index) {
    auto rig = simulation::builtin_rig();
    rig.name = "random-rig-" + std::to_string(index);
    rig.temperature_c = uniform(rng, 10.0, 30.0);
    rig.humidity_percent = uniform(rng, 30.0, 80.0);
    rig.room.volume_m3 = log_uniform(rng, 8000.0, 40000.0);
    rig.room.reverberation_time_s = uniform(rng, 1.2, 3.0);

    for (auto& source : rig.sources) {
        source.position_m[0] += uniform(rng, -1.5, 1.5);
        source.position_m[1] += uniform(rng, -1.0, 1.0);
        source.aim_m[0] += uniform(rng, -4.0, 4.0);
        source.aim_m[1] += uniform(rng, -4.0, 4.0);
        auto& speaker = source.loudspeaker;
        speaker.beamwidth_1khz_deg *= std::exp2(uniform(rng, -0.3, 0.3));
        for (auto& filter : speaker.filters) {
            if (filter.type == FilterType::high_pass || filter.type == FilterType::low_pass) {
                continue;
            }
            filter.freq_hz *= std::exp2(uniform(rng, -0.7, 0.7));
            filter.gain_db = uniform(rng, -6.0, 6.0);
            filter.q *= std::exp2(uniform(rng, -0.5, 0.5));
            if (filter.type != FilterType::peaking) {
                filter.q = std::min(filter.q, 1.0);
            }
        }
        const int extra = std::uniform_int_distribution<int>(0, 2)(rng);
        for (int i = 0; i < extra; ++i) {
            const auto kind = zone_kind_of(source.zone);
            speaker.filters.push_back({FilterType::peaking, log_uniform(rng, kind.band_start_hz, kind.band_end_hz),
                                       uniform(rng, -6.0, 6.0), log_uniform(rng, 1.0, 6.0)});
        }
    }

    rig.probes.clear();
    for (std::size_t m = 0; m < rig.microphones.size(); ++m) {
        auto& mic = rig.microphones[m];
        mic.position_m = {uniform(rng, -14.0, 2.0), uniform(rng, 3.0, 37.0), uniform(rng, 1.1, 1.7)};
    }
    return rig;
}

void add_simulated(const DatasetOptions& options, std::mt19937& rng, std::vector<NamedRequest>& requests) {
    for (int r = 0; r < options.rigs; ++r) {
        const simulation::RigTransferFunctions transfer(random_rig(rng, r));
        const auto response_settings = response_options();
        for (const auto& source : transfer.rig().sources) {
            for (const auto& mic : transfer.rig().microphones) {
                // Measurement noise: white noise 40 to 60 dB below the transfer function's peak.
                const auto clean = transfer.transfer_function(source.zone, mic.name);
                std::vector<float> noisy(clean.begin(), clean.end());
                float peak = 0.0F;
                for (const float v : noisy) {
                    peak = std::max(peak, std::fabs(v));
                }
                std::normal_distribution<float> noise(
                    0.0F, static_cast<float>(peak * std::pow(10.0, -uniform(rng, 40.0, 60.0) / 20.0)));
                for (auto& v : noisy) {
                    v += noise(rng);
                }
                const double reference_sample = transfer.arrival_s(source.zone, mic.name) * transfer.sample_rate_hz();
                const auto response =
                    analysis::compute_frequency_response(noisy, transfer.sample_rate_hz(), reference_sample, response_settings);
                for (int v = 0; v < options.variants_per_response; ++v) {
                    requests.push_back({"sim rig " + std::to_string(r) + " " + source.zone + " at " + mic.name +
                                            ", variant " + std::to_string(v),
                                        make_request(response, zone_kind_of(source.zone), rng, v > 0 || chance(rng, 0.5))});
                }
            }
        }
    }
}

std::vector<FrequencyResponse> real_responses(const std::filesystem::path& path) {
    std::vector<FrequencyResponse> responses;
    if (path.extension() == ".csv") {
        for (const auto& measured : io::read_response_text(path)) {
            responses.push_back(analysis::smooth_response(
                measured.response, {analysis::SmoothingKind::fractional_octave, smoothing_fraction}));
        }
        return responses;
    }
    const auto audio = io::read_audio_file(path);
    // At most two channels per file: further ones are other capsules at the same place.
    for (std::size_t c = 0; c < std::min<std::size_t>(audio.signal.channel_count(), 2); ++c) {
        const auto samples = audio.signal.channel(c);
        const auto peak = std::max_element(samples.begin(), samples.end(),
                                           [](float a, float b) { return std::fabs(a) < std::fabs(b); });
        const auto reference_sample = static_cast<double>(peak - samples.begin());
        responses.push_back(
            analysis::compute_frequency_response(samples, audio.info.sample_rate_hz, reference_sample, response_options()));
    }
    return responses;
}

void add_real(const DatasetOptions& options, std::mt19937& rng, std::vector<NamedRequest>& requests) {
    for (const auto& file : options.real_files) {
        const auto responses = real_responses(options.shared_data_dir / file);
        for (std::size_t c = 0; c < responses.size(); ++c) {
            for (int v = 0; v < options.variants_per_real; ++v) {
                requests.push_back({"real " + file + " channel " + std::to_string(c + 1) + ", variant " + std::to_string(v),
                                    make_request(responses[c], real_kind_of(file), rng, v > 0)});
            }
        }
    }
}

}  // namespace

std::vector<std::string> real_training_files() {
    return {
        "ir/webaudio-house/dining-room.wav",
        "ir/webaudio-house/kitchen.wav",
        "ir/webaudio-house/living-bedroom.wav",
        "ir/openair-toobamp/Genesis_6_Studio_Live_Room.wav",
        "ir/adventurekid-speaker-irs/Speaker_001.wav",
        "ir/adventurekid-speaker-irs/Vintage_UK_001.wav",
        "ir/adventurekid-speaker-irs/Radio_001.wav",
    };
}

std::vector<std::string> real_evaluation_files() {
    return {
        "ir/webaudio-house/cinema-room.wav",
        "ir/webaudio-house/dining-far-kitchen.wav",
        "ir/webaudio-house/dining-mid-kitchen.wav",
        "ir/openair-python-acoustics/living_room_1.wav",
        "ir/openair-python-acoustics/ir_sportscentre_omni.wav",
        "ir/openair-toobamp/Arthur_Sykes_Rymer_Auditorium.wav",
        "ir/adventurekid-speaker-irs/Speaker_002.wav",
        "ir/adventurekid-speaker-irs/Modern_US_001.wav",
        "responses/autoeq/oratory1990_AKG_K701.csv",
    };
}

std::vector<NamedRequest> generate_requests(const DatasetOptions& options) {
    std::mt19937 rng(options.seed);
    std::vector<NamedRequest> requests;
    add_simulated(options, rng, requests);
    if (!options.shared_data_dir.empty()) {
        add_real(options, rng, requests);
    }
    return requests;
}

}  // namespace linetune::tools
