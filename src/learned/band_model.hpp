#pragma once

#include "linetune/correction/learned_model.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace linetune::learned {

/// Sizes of the band network: a multilayer perceptron with ReLU between its layers.
struct NetworkConfig {
    int hidden_units = 256;
    int hidden_layers = 2;
};

/// Hash of the input layout, the output mapping and the network's sizes: a model file carries it,
/// and a file trained with another configuration is rejected.
std::string config_hash(const NetworkConfig& config);

/// The network: model input (learned_layout::feature_count) to raw slot values (output_count).
class BandNetworkImpl : public torch::nn::Module {
public:
    explicit BandNetworkImpl(const NetworkConfig& config);

    /// Raw outputs [B, output_count] of features [B, feature_count]; decode_bands maps them.
    torch::Tensor forward(const torch::Tensor& features);

    NetworkConfig config;

private:
    torch::nn::Sequential layers_;
};
TORCH_MODULE(BandNetwork);

/// Band parameters of every slot, each [B, slot_count].
struct DecodedBands {
    torch::Tensor freq_hz;
    torch::Tensor gain_db;
    torch::Tensor q;
};

/// Maps raw outputs into the limits [B, limit_count]: frequency log-uniform between the lowest
/// and highest band frequency, gain between min_gain_db and max_gain_db, Q log-uniform in the Q
/// range (shelves up to max_shelf_q). Every value is inside its limit by construction.
DecodedBands decode_bands(const torch::Tensor& raw, const torch::Tensor& limits);

/// Summed EQ magnitude [B, grid_points] of the decoded bands on the model's grid.
torch::Tensor eq_on_grid_db(const DecodedBands& bands, double sample_rate_hz);

/// Loss on the corrected response and its main figure.
struct LossTerms {
    torch::Tensor total;            ///< scalar to minimise
    torch::Tensor residual_rms_db;  ///< [B]: RMS of deviation + EQ − level over the correctable points
};

/// Loss of decoded bands on inputs [B, feature_count] (see band_model.cpp for its terms).
LossTerms corrected_response_loss(const DecodedBands& bands, const torch::Tensor& features,
                                  const torch::Tensor& limits);

/// Writes a model file: a magic line, one line of JSON metadata (format_version, config_hash,
/// network sizes, parameter shapes, a hash of the weights, and `extra`), then the weights as
/// little-endian float32.
void save_model(const std::filesystem::path& path, BandNetwork& network, const nlohmann::json& extra);

/// Reads a model file written by save_model. Throws std::runtime_error naming the path and the
/// fault for a missing, truncated or corrupt file, or one of another format or configuration.
BandNetwork load_model(const std::filesystem::path& path, nlohmann::json& metadata);

}  // namespace linetune::learned
