#include "band_model.hpp"

#include "differentiable_filters.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace linetune::learned {
namespace layout = correction::learned_layout;

namespace {

constexpr const char* magic_line = "linetune-learned-eq-model";

// Weights of the loss terms besides the correctable error (see corrected_response_loss). The
// device limits get a weight 10 times the error's, so that the network learns to keep them
// rather than trade them for error. The refinement and the final check enforce them anyway, so
// a prediction that breaks them only starts the refinement far from its result.
constexpr double limit_penalty_weight = 10.0;
// Boosting into a deep narrow dip spends headroom on a cancellation that EQ cannot fill.
constexpr double dip_boost_weight = 0.1;
// A small pull of every slot's gain towards 0 dB, so that slots the response does not need fall
// below the 0.25 dB at which they are dropped instead of fine-tuning their neighbours.
constexpr double gain_sparsity_weight = 0.01;

// Outside the zone's band the EQ may boost by at most 0.1 dB and cut by at most 2 dB or down to
// the in-band level, the classic fitter's rules (eq_fitter.cpp).
constexpr double outside_band_boost_tolerance_db = 0.1;
constexpr double outside_band_cut_tolerance_db = 2.0;

// Returns where each slot's frequency starts before training, as a fraction of the log-frequency range
// between the lowest and highest band frequency: the low shelf near the bottom, the high shelf
// near the top, the peaking bands spread evenly. An untrained network then already covers the
// whole band instead of stacking every slot in the middle.
double initial_position(std::size_t slot) {
    if (layout::slot_types[slot] == analysis::FilterType::low_shelf) {
        return 0.1;
    }
    if (layout::slot_types[slot] == analysis::FilterType::high_shelf) {
        return 0.9;
    }
    std::size_t peaking_index = 0;
    std::size_t peaking_count = 0;
    for (std::size_t k = 0; k < layout::slot_count; ++k) {
        if (layout::slot_types[k] == analysis::FilterType::peaking) {
            if (k < slot) {
                ++peaking_index;
            }
            ++peaking_count;
        }
    }
    return (static_cast<double>(peaking_index) + 0.5) / static_cast<double>(peaking_count);
}

torch::Tensor slot_position_logits() {
    std::vector<float> logits;
    for (std::size_t k = 0; k < layout::slot_count; ++k) {
        const double p = initial_position(k);
        logits.push_back(static_cast<float>(std::log(p / (1.0 - p))));
    }
    return torch::tensor(logits);
}

torch::Tensor grid_tensor() {
    std::vector<float> freq_hz;
    for (std::size_t i = 0; i < layout::grid_points; ++i) {
        freq_hz.push_back(static_cast<float>(layout::grid_freq_hz(i)));
    }
    return torch::tensor(freq_hz);
}

torch::Tensor channel(const torch::Tensor& features, std::size_t index) {
    const auto start = static_cast<std::int64_t>(index * layout::grid_points);
    return features.narrow(1, start, static_cast<std::int64_t>(layout::grid_points));
}

torch::Tensor limit(const torch::Tensor& limits, std::size_t index) {
    return limits.select(1, static_cast<std::int64_t>(index)).unsqueeze(1);
}

std::string config_text(const NetworkConfig& config) {
    std::ostringstream text;
    text << "format " << layout::format_version << "; grid " << layout::grid_start_hz << " Hz, "
         << layout::grid_points_per_octave << "/oct, " << layout::grid_points << " points; channels "
         << layout::channel_count << " + " << layout::scalar_count << " scalars; limits " << layout::limit_count
         << "; slots";
    for (const auto type : layout::slot_types) {
        text << ' ' << static_cast<int>(type);  // the FilterType enumerator's value
    }
    text << "; shelf q <= " << layout::max_shelf_q << "; mlp " << config.hidden_layers << " x "
         << config.hidden_units << " relu";
    return text.str();
}

}  // namespace

std::string config_hash(const NetworkConfig& config) {
    return correction::detail::fnv1a_hex(config_text(config));
}

BandNetworkImpl::BandNetworkImpl(const NetworkConfig& network_config) : config(network_config) {
    std::int64_t inputs = static_cast<std::int64_t>(layout::feature_count);
    for (int layer = 0; layer < config.hidden_layers; ++layer) {
        layers_->push_back(torch::nn::Linear(inputs, config.hidden_units));
        layers_->push_back(torch::nn::ReLU());
        inputs = config.hidden_units;
    }
    layers_->push_back(torch::nn::Linear(inputs, static_cast<std::int64_t>(layout::output_count)));
    register_module("layers", layers_);
}

torch::Tensor BandNetworkImpl::forward(const torch::Tensor& features) {
    return layers_->forward(features);
}

DecodedBands decode_bands(const torch::Tensor& raw, const torch::Tensor& limits) {
    const auto slots = raw.view({raw.size(0), static_cast<std::int64_t>(layout::slot_count),
                                 static_cast<std::int64_t>(layout::values_per_slot)});
    const auto position = torch::sigmoid(slots.select(2, 0) + slot_position_logits());
    const auto log_low = torch::log(limit(limits, layout::limit_lowest_band_hz));
    const auto log_high = torch::log(limit(limits, layout::limit_highest_band_hz));
    const auto freq_hz = torch::exp(log_low + position * (log_high - log_low));

    // tanh > 0 scales the boost cap, tanh < 0 the deepest cut, so 0 dB sits at raw 0.
    const auto t = torch::tanh(slots.select(2, 1));
    const auto gain_db = torch::where(t > 0, t * limit(limits, layout::limit_max_gain_db),
                                      -t * limit(limits, layout::limit_min_gain_db));

    std::vector<float> is_shelf;
    for (const auto type : layout::slot_types) {
        is_shelf.push_back(type == analysis::FilterType::peaking ? 0.0F : 1.0F);
    }
    const auto shelf = torch::tensor(is_shelf);
    const auto log_q_low = torch::log(limit(limits, layout::limit_min_q));
    const auto log_q_max = torch::log(limit(limits, layout::limit_max_q));
    const auto log_q_high = torch::where(shelf > 0.5, torch::minimum(log_q_max, torch::full_like(log_q_max, std::log(layout::max_shelf_q))),
                                         log_q_max);
    const auto q = torch::exp(log_q_low + torch::sigmoid(slots.select(2, 2)) * (log_q_high - log_q_low));
    return {freq_hz, gain_db, q};
}

torch::Tensor eq_on_grid_db(const DecodedBands& bands, double sample_rate_hz) {
    const auto grid = grid_tensor();
    torch::Tensor eq_db = torch::zeros({bands.freq_hz.size(0), static_cast<std::int64_t>(layout::grid_points)});
    for (std::size_t k = 0; k < layout::slot_count; ++k) {
        const auto index = static_cast<std::int64_t>(k);
        eq_db = eq_db + band_magnitude_db(layout::slot_types[k], bands.freq_hz.narrow(1, index, 1),
                                          bands.gain_db.narrow(1, index, 1), bands.q.narrow(1, index, 1), grid,
                                          sample_rate_hz);
    }
    return eq_db;
}

// Loss per example, averaged over the batch. With d the deviation (its in-band median removed),
// E the summed EQ, c the correctable mask and o the mask outside the band:
//
//   residual = d + E − ℓ,  ℓ = Σ c·(d + E) / Σ c         (the level the zone gain takes over)
//   error    = Σ c·residual² / Σ c
//   limits   = mean((E − max_gain)₊²) + mean(o·(E − 0.1)₊²) + mean(o·(−E − max(2, d))₊²)
//   dips     = mean(in band, not correctable · E₊²)
//   total    = error + 10·limits + 0.1·dips + 0.01·mean|gain|
//
// The loss is on the corrected response, so two band sets that correct alike score alike.
LossTerms corrected_response_loss(const DecodedBands& bands, const torch::Tensor& features,
                                  const torch::Tensor& limits) {
    // Every example of a batch shares one sample rate (the training data uses 48 kHz).
    const double sample_rate_hz = limits[0][static_cast<std::int64_t>(layout::limit_sample_rate_hz)].item<double>();
    const auto eq_db = eq_on_grid_db(bands, sample_rate_hz);
    const auto deviation_db = channel(features, layout::deviation_channel) * 10.0;
    const auto in_band = channel(features, layout::in_band_channel);
    const auto correctable = channel(features, layout::correctable_channel);
    const auto outside = 1.0 - in_band;
    const auto dip = in_band - correctable;

    const auto corrected_db = deviation_db + eq_db;
    const auto count = correctable.sum(1, true).clamp_min(1.0);
    const auto level_db = (correctable * corrected_db).sum(1, true) / count;
    const auto residual_db = (corrected_db - level_db) * correctable;
    const auto mean_square = (residual_db * residual_db).sum(1) / count.squeeze(1);

    const auto boost_excess = torch::relu(eq_db - limit(limits, layout::limit_max_gain_db));
    const auto outside_boost = torch::relu(eq_db - outside_band_boost_tolerance_db) * outside;
    const auto cut_room_db = torch::clamp_min(deviation_db, outside_band_cut_tolerance_db);
    const auto outside_cut = torch::relu(-eq_db - cut_room_db) * outside;
    const auto limit_terms = (boost_excess * boost_excess + outside_boost * outside_boost + outside_cut * outside_cut).mean(1);
    const auto dip_boost = torch::relu(eq_db) * dip;
    const auto dip_terms = (dip_boost * dip_boost).mean(1);

    const auto per_example = mean_square + limit_penalty_weight * limit_terms + dip_boost_weight * dip_terms +
                             gain_sparsity_weight * bands.gain_db.abs().mean(1);
    return {per_example.mean(), torch::sqrt(mean_square.detach())};
}

// ---------------------------------------------------------------------------------------------
// Model file

void save_model(const std::filesystem::path& path, BandNetwork& network, const nlohmann::json& extra) {
    std::string weights;
    nlohmann::json parameters = nlohmann::json::array();
    for (const auto& item : network->named_parameters()) {
        const auto values = item.value().detach().contiguous().to(torch::kFloat32);
        parameters.push_back({{"name", item.key()}, {"shape", values.sizes().vec()}});
        weights.append(reinterpret_cast<const char*>(values.data_ptr<float>()),
                       static_cast<std::size_t>(values.numel()) * sizeof(float));
    }
    nlohmann::json metadata = extra;
    metadata["format_version"] = layout::format_version;
    metadata["config_hash"] = config_hash(network->config);
    metadata["network"] = {{"hidden_units", network->config.hidden_units},
                           {"hidden_layers", network->config.hidden_layers}};
    metadata["parameters"] = parameters;
    metadata["weights_bytes"] = weights.size();
    metadata["weights_fnv1a"] = correction::detail::fnv1a_hex(weights);

    // Written beside the target and renamed over it, so a failed write never leaves half a model.
    auto partial = path;
    partial += ".partial";
    {
        std::ofstream out(partial, std::ios::binary | std::ios::trunc);
        out << magic_line << '\n' << metadata.dump() << '\n';
        out.write(weights.data(), static_cast<std::streamsize>(weights.size()));
        out.flush();
        if (!out) {
            const int error = errno;
            std::error_code ignored;
            std::filesystem::remove(partial, ignored);
            throw std::runtime_error("cannot write the model file '" + partial.string() + "' (" + std::strerror(error) +
                                     "); check that its folder exists and is writable");
        }
    }
    std::error_code error;
    std::filesystem::rename(partial, path, error);
    if (error) {
        std::filesystem::remove(partial, error);
        throw std::runtime_error("cannot replace the model file '" + path.string() + "' (" + error.message() +
                                 "); check that it is not a folder and that its folder is writable");
    }
}

BandNetwork load_model(const std::filesystem::path& path, nlohmann::json& metadata) {
    const std::string where = "model file '" + path.string() + "'";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(where + " not found or not readable");
    }
    std::string line;
    if (!std::getline(in, line) || line != magic_line) {
        throw std::runtime_error(where + " is not a linetune learned EQ model (its first line is not '" +
                                 std::string(magic_line) + "')");
    }
    if (!std::getline(in, line)) {
        throw std::runtime_error(where + " is truncated: its metadata line is missing");
    }
    metadata = nlohmann::json::parse(line, nullptr, false);
    if (metadata.is_discarded() || !metadata.is_object()) {
        throw std::runtime_error(where + " is corrupt: its metadata line is not a JSON object");
    }
    const std::string weights((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

    try {
        const int version = metadata.at("format_version").get<int>();
        if (version != layout::format_version) {
            throw std::runtime_error(where + " has format version " + std::to_string(version) + ", this build reads " +
                                     std::to_string(layout::format_version) + "; retrain it with tools/train_model");
        }
        NetworkConfig config;
        config.hidden_units = metadata.at("network").at("hidden_units").get<int>();
        config.hidden_layers = metadata.at("network").at("hidden_layers").get<int>();
        if (config.hidden_units < 1 || config.hidden_units > 4096 || config.hidden_layers < 0 || config.hidden_layers > 16) {
            throw std::runtime_error(where + " is corrupt: network sizes out of range");
        }
        const auto stored_hash = metadata.at("config_hash").get<std::string>();
        if (stored_hash != config_hash(config)) {
            throw std::runtime_error(where + " was trained with configuration " + stored_hash + ", this build has " +
                                     config_hash(config) + "; retrain it with tools/train_model");
        }
        if (weights.size() != metadata.at("weights_bytes").get<std::size_t>() ||
            correction::detail::fnv1a_hex(weights) != metadata.at("weights_fnv1a").get<std::string>()) {
            throw std::runtime_error(where + " is corrupt: its weights do not match the size and hash in its metadata");
        }

        BandNetwork network(config);
        torch::NoGradGuard no_grad;
        const auto& declared = metadata.at("parameters");
        if (!declared.is_array() || declared.size() != network->named_parameters().size()) {
            throw std::runtime_error(where + " is corrupt: it declares " + std::to_string(declared.size()) +
                                     " parameters, the network has " + std::to_string(network->named_parameters().size()));
        }
        std::size_t offset = 0;
        std::size_t index = 0;
        for (auto& item : network->named_parameters()) {
            auto& value = item.value();
            const auto& entry = declared.at(index++);
            if (entry.at("name").get<std::string>() != item.key() ||
                entry.at("shape").get<std::vector<std::int64_t>>() != value.sizes().vec()) {
                throw std::runtime_error(where + " is corrupt: parameter '" + item.key() +
                                         "' does not match the name and shape its metadata declares");
            }
            const auto bytes = static_cast<std::size_t>(value.numel()) * sizeof(float);
            if (offset + bytes > weights.size()) {
                throw std::runtime_error(where + " is corrupt: parameter '" + item.key() + "' runs past the end");
            }
            auto loaded = torch::empty_like(value);
            std::memcpy(loaded.data_ptr<float>(), weights.data() + offset, bytes);
            // The hash only proves the weights are the ones written; a training run that diverged
            // writes NaN or infinite weights, which would predict nothing useful.
            if (!torch::isfinite(loaded).all().item<bool>()) {
                throw std::runtime_error(where + " is unusable: parameter '" + item.key() +
                                         "' holds non-finite weights (NaN or infinite); retrain it with tools/train_model");
            }
            value.copy_(loaded);
            offset += bytes;
        }
        if (offset != weights.size()) {
            throw std::runtime_error(where + " is corrupt: " + std::to_string(weights.size() - offset) +
                                     " bytes of weights left over");
        }
        network->eval();
        return network;
    } catch (const nlohmann::json::exception& error) {
        throw std::runtime_error(where + " is corrupt: its metadata lacks a field or has the wrong type (" +
                                 std::string(error.what()) + ")");
    }
}

}  // namespace linetune::learned
