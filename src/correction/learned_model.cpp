#include "linetune/correction/learned_model.hpp"

#include "linetune/core/error.hpp"
#include "linetune/core/format.hpp"
#include "linetune/core/frequency_response.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

#include <dlfcn.h>

namespace linetune::correction {
namespace layout = learned_layout;

namespace {

// Highest band frequency as a fraction of the sample rate, as in the classic fitter: near Nyquist
// the bilinear transform cramps every bell and shelf.
constexpr double max_freq_fraction_of_sample_rate = 0.45;

// Deep narrow dips, found as the classic fitter finds them (eq_fitter.cpp): a point more than
// 6 dB below the mean of the deviation over the 1/1 octave around it, with the neighbours more
// than 3 dB below theirs. The input marks them, and the loss leaves them out.
constexpr double dip_depth_db = 6.0;
constexpr double dip_flank_depth_db = 3.0;
constexpr std::size_t dip_half_window_points = 12;  // half an octave at 24 points per octave

// The deviation is clipped to ±30 dB and divided by 10, so the network's inputs are of order 1.
constexpr double deviation_clip_db = 30.0;
constexpr double deviation_scale_db = 10.0;

// Slots weaker than this are left out of the prediction, like the classic fitter's bands that
// only fine-tune their neighbours.
constexpr double min_useful_gain_db = 0.25;

std::vector<bool> deep_narrow_dips(const std::vector<double>& deviation_db) {
    const std::size_t n = deviation_db.size();
    std::vector<double> depth_db(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t first = i >= dip_half_window_points ? i - dip_half_window_points : 0;
        const std::size_t last = std::min(n - 1, i + dip_half_window_points);
        double sum = 0.0;
        for (std::size_t j = first; j <= last; ++j) {
            sum += deviation_db[j];
        }
        depth_db[i] = sum / static_cast<double>(last - first + 1) - deviation_db[i];
    }
    std::vector<bool> dip(n, false);
    for (std::size_t start = 0; start < n;) {
        if (depth_db[start] <= dip_flank_depth_db) {
            ++start;
            continue;
        }
        std::size_t end = start;
        bool deep = false;
        while (end < n && depth_db[end] > dip_flank_depth_db) {
            deep = deep || depth_db[end] > dip_depth_db;
            ++end;
        }
        std::fill(dip.begin() + static_cast<std::ptrdiff_t>(start), dip.begin() + static_cast<std::ptrdiff_t>(end), deep);
        start = end;
    }
    return dip;
}

double median(std::vector<double> values) {
    if (values.empty()) {
        return 0.0;
    }
    const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
    std::nth_element(values.begin(), middle, values.end());
    return *middle;
}

std::string environment_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

std::string read_file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Error learned_error(const std::string& message) {
    return Error(message + "; use --method classic, or see docs/learned-model.md", ErrorKind::configuration);
}

/// A model loaded in the module. The module stays loaded for the life of the process: unloading
/// libtorch while its threads and static objects live is unsafe.
class ModulePredictor final : public LearnedBandPredictor {
public:
    ModulePredictor(const detail::LearnedModuleApi* api, void* model, LearnedModelInfo info)
        : api_(api), model_(model), info_(std::move(info)) {}

    ~ModulePredictor() override { api_->close_model(model_); }

    ModulePredictor(const ModulePredictor&) = delete;
    ModulePredictor& operator=(const ModulePredictor&) = delete;

    std::vector<analysis::ParametricBand> predict(const EqFitRequest& request) const override {
        const auto input = learned_model_input(request);
        std::vector<float> output(layout::output_count, 0.0F);
        char error[512] = {};
        if (api_->predict(model_, input.features.data(), input.features.size(), input.limits.data(),
                          input.limits.size(), output.data(), output.size(), error, sizeof error) != 0) {
            throw learned_error("learned model '" + info_.model_path.string() + "': inference failed: " + error);
        }
        return bands_from_model_output(output, request.limits);
    }

    const LearnedModelInfo& info() const override { return info_; }

private:
    const detail::LearnedModuleApi* api_;
    void* model_;
    LearnedModelInfo info_;
};

LearnedModelInfo read_info(const LearnedModelPaths& paths, const char* metadata_text) {
    LearnedModelInfo info;
    info.model_path = paths.model_path;
    info.file_hash = detail::fnv1a_hex(read_file_bytes(paths.model_path));
    const auto metadata = nlohmann::json::parse(metadata_text, nullptr, false);
    if (metadata.is_object()) {
        info.format_version = metadata.value("format_version", 0);
        info.code_version = metadata.value("code_version", std::string("unknown"));
        info.config_hash = metadata.value("config_hash", std::string("unknown"));
    }
    return info;
}

}  // namespace

LearnedModelInput learned_model_input(const EqFitRequest& request) {
    const auto& limits = request.limits;
    const double top_hz = std::min(request.band_end_hz, max_freq_fraction_of_sample_rate * limits.sample_rate_hz);

    std::vector<double> deviation_db(layout::grid_points);
    std::vector<bool> in_band(layout::grid_points);
    std::vector<double> in_band_deviation_db;
    for (std::size_t i = 0; i < layout::grid_points; ++i) {
        const double f = layout::grid_freq_hz(i);
        deviation_db[i] = interpolate_magnitude_db(request.measured, f) - interpolate_magnitude_db(request.target, f);
        in_band[i] = f >= request.band_start_hz && f <= top_hz;
        if (in_band[i]) {
            in_band_deviation_db.push_back(deviation_db[i]);
        }
    }
    const double level_db = median(in_band_deviation_db);
    for (auto& value : deviation_db) {
        value = std::clamp(value - level_db, -deviation_clip_db, deviation_clip_db);
    }
    const auto dips = deep_narrow_dips(deviation_db);

    LearnedModelInput input;
    input.features.assign(layout::feature_count, 0.0F);
    const std::size_t n = layout::grid_points;
    for (std::size_t i = 0; i < n; ++i) {
        input.features[layout::deviation_channel * n + i] = static_cast<float>(deviation_db[i] / deviation_scale_db);
        input.features[layout::in_band_channel * n + i] = in_band[i] ? 1.0F : 0.0F;
        input.features[layout::correctable_channel * n + i] = in_band[i] && !dips[i] ? 1.0F : 0.0F;
    }
    // Scalars, each scaled to order 1. The band edges are in octaves from 1 kHz over 5 and the
    // gain range over the usual +6 / −15 dB. Then come the Q range's logarithms, the band count
    // over 10 and the sample rate in octaves from 48 kHz.
    const std::array<double, layout::scalar_count> scalars{
        std::log2(request.band_start_hz / 1000.0) / 5.0,
        std::log2(request.band_end_hz / 1000.0) / 5.0,
        limits.max_gain_db / 6.0,
        limits.min_gain_db / 15.0,
        std::log(limits.min_q),
        std::log(limits.max_q),
        static_cast<double>(limits.max_bands) / 10.0,
        std::log2(limits.sample_rate_hz / 48000.0),
    };
    for (std::size_t k = 0; k < scalars.size(); ++k) {
        input.features[layout::channel_count * n + k] = static_cast<float>(scalars[k]);
    }

    const double lowest_hz = std::max(limits.min_freq_hz, request.band_start_hz);
    const double highest_hz = std::max(lowest_hz, std::min({limits.max_freq_hz, request.band_end_hz,
                                                            max_freq_fraction_of_sample_rate * limits.sample_rate_hz}));
    input.limits.assign(layout::limit_count, 0.0F);
    input.limits[layout::limit_lowest_band_hz] = static_cast<float>(lowest_hz);
    input.limits[layout::limit_highest_band_hz] = static_cast<float>(highest_hz);
    input.limits[layout::limit_min_gain_db] = static_cast<float>(limits.min_gain_db);
    input.limits[layout::limit_max_gain_db] = static_cast<float>(limits.max_gain_db);
    input.limits[layout::limit_min_q] = static_cast<float>(limits.min_q);
    input.limits[layout::limit_max_q] = static_cast<float>(limits.max_q);
    input.limits[layout::limit_sample_rate_hz] = static_cast<float>(limits.sample_rate_hz);
    return input;
}

std::vector<analysis::ParametricBand> bands_from_model_output(const std::vector<float>& output,
                                                              const EqLimits& limits) {
    std::vector<analysis::ParametricBand> bands;
    for (std::size_t k = 0; k < layout::slot_count && (k + 1) * layout::values_per_slot <= output.size(); ++k) {
        const auto type = layout::slot_types[k];
        const bool allowed =
            std::find(limits.allowed_types.begin(), limits.allowed_types.end(), type) != limits.allowed_types.end();
        const double gain_db = output[k * layout::values_per_slot + 1];
        if (!allowed || !(std::fabs(gain_db) >= min_useful_gain_db)) {
            continue;
        }
        bands.push_back({type, output[k * layout::values_per_slot], gain_db, output[k * layout::values_per_slot + 2]});
    }
    std::stable_sort(bands.begin(), bands.end(), [](const auto& a, const auto& b) {
        return std::fabs(a.gain_db) > std::fabs(b.gain_db);
    });
    if (bands.size() > limits.max_bands) {
        bands.resize(limits.max_bands);
    }
    return bands;
}

LearnedModelPaths default_learned_model_paths() {
    return {environment_or("LINETUNE_LEARNED_MODULE", LINETUNE_LEARNED_MODULE_PATH),
            environment_or("LINETUNE_LEARNED_MODEL", LINETUNE_LEARNED_MODEL_PATH)};
}

bool learned_module_built() {
    return LINETUNE_LEARNED_MODULE_BUILT != 0;
}

std::shared_ptr<const LearnedBandPredictor> load_learned_model(const LearnedModelPaths& paths) {
    if (!learned_module_built() && std::getenv("LINETUNE_LEARNED_MODULE") == nullptr) {
        throw learned_error("this linetune was built without the learned model (meson option learned disabled or "
                            "libtorch not found); install libtorch-dev and reconfigure with -Dlearned=enabled");
    }
    std::error_code ignored;
    if (!std::filesystem::is_regular_file(paths.module_path, ignored)) {
        throw learned_error("learned module '" + paths.module_path.string() +
                            "' not found; build it (ninja builds src/learned/liblinetune_learned.so) or set "
                            "LINETUNE_LEARNED_MODULE to its path");
    }
    if (!std::filesystem::is_regular_file(paths.model_path, ignored)) {
        const bool exists = std::filesystem::exists(paths.model_path, ignored);
        throw learned_error("learned model file '" + paths.model_path.string() + "'" +
                            (exists ? " is not a regular file" : " not found") +
                            (std::getenv("LINETUNE_LEARNED_MODEL") != nullptr ? " (the path comes from LINETUNE_LEARNED_MODEL)"
                                                                             : "") +
                            "; pass --model with the path of a model that tools/train_model wrote");
    }

    // Loading the module loads libtorch: about a second the first time.
    void* module = dlopen(paths.module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) {
        const char* reason = dlerror();
        throw learned_error("cannot load the learned module '" + paths.module_path.string() +
                            "': " + (reason != nullptr ? reason : "unknown dlopen failure"));
    }
    using EntryPoint = const detail::LearnedModuleApi* (*)();
    const auto entry = reinterpret_cast<EntryPoint>(dlsym(module, detail::learned_module_entry_point));
    const detail::LearnedModuleApi* api = entry != nullptr ? entry() : nullptr;
    if (api == nullptr || api->abi_version != detail::learned_module_abi_version) {
        throw learned_error("learned module '" + paths.module_path.string() + "' lacks the entry point '" +
                            detail::learned_module_entry_point + "' of interface version " +
                            std::to_string(detail::learned_module_abi_version) + "; rebuild it with this linetune");
    }

    char error[1024] = {};
    void* model = api->open_model(paths.model_path.c_str(), error, sizeof error);
    if (model == nullptr) {
        throw learned_error(std::string("cannot load the learned model: ") + error);
    }
    auto info = read_info(paths, api->metadata_json(model));
    return std::make_shared<ModulePredictor>(api, model, std::move(info));
}

LearnedEqFitter::LearnedEqFitter(std::shared_ptr<const LearnedBandPredictor> predictor, bool refine)
    : predictor_(std::move(predictor)), refine_(refine) {}

EqFitResult LearnedEqFitter::fit(const EqFitRequest& request) const {
    // The model's input interpolates the responses, so a malformed one goes to the classic
    // fitter's validation, which rejects it with its usual message.
    const bool malformed = request.measured.freq_hz.empty() || request.target.freq_hz.empty() ||
                           request.measured.magnitude_db.size() != request.measured.freq_hz.size() ||
                           request.target.magnitude_db.size() != request.target.freq_hz.size();
    if (malformed) {
        return ClassicEqFitter().fit_from(request, {}, refine_);
    }
    return ClassicEqFitter().fit_from(request, predictor_->predict(request), refine_);
}

}  // namespace linetune::correction
