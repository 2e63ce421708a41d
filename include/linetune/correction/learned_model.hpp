#pragma once

#include "linetune/analysis/biquad.hpp"
#include "linetune/correction/eq_fitter.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// The learned EQ model: a network that reads one zone's EQ problem and predicts initial bands,
// which the classic fitter then refines. The network runs in a shared module that links libtorch
// (src/learned/), opened with dlopen only by the commands that use it, so the linetune program
// itself never links libtorch. This header is the boundary: the input layout both sides share,
// the module's C interface, and the predictor and fitter the rest of the program uses.

namespace linetune::correction {

/// Layout of the model's input and output, shared by the feature code here and the network.
namespace learned_layout {

/// Input grid: f_i = grid_start_hz · 2^(i / grid_points_per_octave), i = 0 … grid_points − 1
/// (20 Hz to 19.4 kHz). 24 points per octave put 3.5 points inside the half-gain width of a
/// Q 10 band, so a loss on this grid cannot hide a narrow band between its points.
inline constexpr double grid_start_hz = 20.0;
inline constexpr double grid_points_per_octave = 24.0;
inline constexpr std::size_t grid_points = 240;

/// Channels of the input, each grid_points long: the deviation from the target (dB, its in-band
/// median removed), 1 inside the zone's band, 1 where a point is correctable (in band and not a
/// deep narrow dip). Then scalar_count scalars describing the band and the limits.
inline constexpr std::size_t deviation_channel = 0;
inline constexpr std::size_t in_band_channel = 1;
inline constexpr std::size_t correctable_channel = 2;
inline constexpr std::size_t channel_count = 3;
inline constexpr std::size_t scalar_count = 8;
inline constexpr std::size_t feature_count = channel_count * grid_points + scalar_count;

/// Limits the network's output is mapped into, in this order.
inline constexpr std::size_t limit_lowest_band_hz = 0;
inline constexpr std::size_t limit_highest_band_hz = 1;
inline constexpr std::size_t limit_min_gain_db = 2;
inline constexpr std::size_t limit_max_gain_db = 3;
inline constexpr std::size_t limit_min_q = 4;
inline constexpr std::size_t limit_max_q = 5;
inline constexpr std::size_t limit_sample_rate_hz = 6;
inline constexpr std::size_t limit_count = 7;

/// Output slots, each (freq_hz, gain_db, q): a low shelf, a high shelf, then peaking bands.
inline constexpr std::size_t slot_count = 10;
inline constexpr std::size_t values_per_slot = 3;
inline constexpr std::size_t output_count = slot_count * values_per_slot;
inline constexpr std::array<analysis::FilterType, slot_count> slot_types{
    analysis::FilterType::low_shelf, analysis::FilterType::high_shelf, analysis::FilterType::peaking,
    analysis::FilterType::peaking,   analysis::FilterType::peaking,    analysis::FilterType::peaking,
    analysis::FilterType::peaking,   analysis::FilterType::peaking,    analysis::FilterType::peaking,
    analysis::FilterType::peaking};

/// Highest Q of a shelf slot: above about 1 an RBJ shelf overshoots into a bell at its corner.
inline constexpr double max_shelf_q = 1.0;

/// Version of this layout and of the network built on it; a model file of another version is
/// rejected. Raise it whenever the layout, the network or the output mapping changes.
inline constexpr int format_version = 1;

/// Frequency of grid point i in Hz.
inline double grid_freq_hz(std::size_t i) {
    return grid_start_hz * std::exp2(static_cast<double>(i) / grid_points_per_octave);
}

}  // namespace learned_layout

/// One EQ problem in the model's layout: the input features and the output limits.
struct LearnedModelInput {
    std::vector<float> features;  ///< learned_layout::feature_count values
    std::vector<float> limits;    ///< learned_layout::limit_count values
};

/// Converts a fit request into the model's input: the deviation from the target on the model's
/// grid with its in-band median removed, the band and correctable masks, and the limits.
LearnedModelInput learned_model_input(const EqFitRequest& request);

/// Bands from the network's output (slot_count × (freq_hz, gain_db, q)): slots of types the
/// device does not allow and slots weaker than 0.25 dB are dropped, the rest sorted strongest
/// first and cut to the device's max_bands.
std::vector<analysis::ParametricBand> bands_from_model_output(const std::vector<float>& output,
                                                              const EqLimits& limits);

/// Identity of a loaded model, as `tune` prints it.
struct LearnedModelInfo {
    std::filesystem::path model_path;
    std::string file_hash;  ///< FNV-1a 64 of the model file's bytes, 16 hex digits
    int format_version = 0;
    std::string code_version;  ///< linetune version that trained the model
    std::string config_hash;   ///< hash of the layout and network configuration it was trained with
};

/// Predicts initial EQ bands for one zone.
class LearnedBandPredictor {
public:
    virtual ~LearnedBandPredictor() = default;

    /// Predicted bands within the request's limits, strongest first; throws Error on failure.
    [[nodiscard]] virtual std::vector<analysis::ParametricBand> predict(const EqFitRequest& request) const = 0;

    /// The loaded model's identity.
    [[nodiscard]] virtual const LearnedModelInfo& info() const = 0;
};

/// Where the learned module and the model file are.
struct LearnedModelPaths {
    std::filesystem::path module_path;  ///< the shared module that links libtorch
    std::filesystem::path model_path;   ///< the trained model (calibration/learned-eq-model.bin)
};

/// Paths the build configured: $LINETUNE_LEARNED_MODULE and $LINETUNE_LEARNED_MODEL when set and
/// not empty, else the module in the build folder and the model in the source's calibration/.
LearnedModelPaths default_learned_model_paths();

/// True when this build includes the learned module (meson option learned, libtorch found).
bool learned_module_built();

/// Opens the module with dlopen and loads the model. Throws a configuration Error that names the
/// path and what to do when the build has no module, the module is missing or cannot be loaded,
/// or the model file is missing, corrupt or of another format or configuration.
std::shared_ptr<const LearnedBandPredictor> load_learned_model(const LearnedModelPaths& paths);

/// Learned initial bands, refined by the classic fitter (ClassicEqFitter::fit_from) under the
/// device's limits, then rounded and checked as the classic fit is.
class LearnedEqFitter final : public EqFitter {
public:
    /// refine = false keeps the prediction (rounded and checked only), for benchmarks.
    explicit LearnedEqFitter(std::shared_ptr<const LearnedBandPredictor> predictor, bool refine = true);

    EqFitResult fit(const EqFitRequest& request) const override;

private:
    std::shared_ptr<const LearnedBandPredictor> predictor_;
    bool refine_;
};

namespace detail {

/// Version of the C interface below; the loader rejects a module of another version.
inline constexpr std::uint32_t learned_module_abi_version = 1;

/// The module's C interface. A C interface keeps exceptions and C++ types from crossing the
/// dlopen boundary: every function reports failure through its return value and `error`.
struct LearnedModuleApi {
    std::uint32_t abi_version;
    /// Loads a model file; returns null and writes a message into error on failure.
    void* (*open_model)(const char* model_path, char* error, std::size_t error_size);
    /// Runs the network on one input; returns 0 on success.
    int (*predict)(void* model, const float* features, std::size_t feature_count, const float* limits,
                   std::size_t limit_count, float* output, std::size_t output_count, char* error,
                   std::size_t error_size);
    /// The model file's metadata as JSON text, valid until close_model.
    const char* (*metadata_json)(void* model);
    void (*close_model)(void* model);
};

/// Name of the module's entry point: extern "C" const LearnedModuleApi* linetune_learned_module_api().
inline constexpr const char* learned_module_entry_point = "linetune_learned_module_api";

/// FNV-1a 64-bit hash of bytes as 16 hex digits (inline, because the module shares it).
inline std::string fnv1a_hex(std::string_view bytes) {
    std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64 offset basis
    for (const char byte : bytes) {
        hash ^= static_cast<unsigned char>(byte);
        hash *= 1099511628211ULL;  // FNV-1a 64 prime
    }
    constexpr const char* digits = "0123456789abcdef";
    std::string text(16, '0');
    for (int i = 15; i >= 0; --i) {
        text[static_cast<std::size_t>(i)] = digits[hash & 0xF];
        hash >>= 4;
    }
    return text;
}

}  // namespace detail

}  // namespace linetune::correction
