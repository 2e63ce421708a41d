// The learned module's C entry point (learned_model.hpp, detail::LearnedModuleApi): loads model
// files and runs the network. No exception leaves this file, because C++ exceptions and types
// must not cross the dlopen boundary.

#include "band_model.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

namespace {

namespace layout = linetune::correction::learned_layout;

struct LoadedModel {
    linetune::learned::BandNetwork network{linetune::learned::NetworkConfig{}};
    std::string metadata_json;
};

void write_error(char* error, std::size_t error_size, const std::string& message) {
    if (error != nullptr && error_size > 0) {
        std::snprintf(error, error_size, "%s", message.c_str());
    }
}

void* open_model(const char* model_path, char* error, std::size_t error_size) {
    try {
        // One thread: a zone's inference is a few hundred thousand multiply-adds, less than a
        // thread pool's start-up, and a fixed thread count keeps the sums in a fixed order.
        torch::set_num_threads(1);
        auto model = std::make_unique<LoadedModel>();
        nlohmann::json metadata;
        model->network = linetune::learned::load_model(model_path, metadata);
        model->metadata_json = metadata.dump();
        return model.release();
    } catch (const std::exception& failure) {
        write_error(error, error_size, failure.what());
    } catch (...) {
        write_error(error, error_size, "unknown failure while loading the model");
    }
    return nullptr;
}

int predict(void* handle, const float* features, std::size_t feature_count, const float* limits,
            std::size_t limit_count, float* output, std::size_t output_count, char* error, std::size_t error_size) {
    if (handle == nullptr || feature_count != layout::feature_count || limit_count != layout::limit_count ||
        output_count != layout::output_count) {
        write_error(error, error_size, "learned module called with a null model or wrong input or output sizes");
        return 1;
    }
    try {
        auto& model = *static_cast<LoadedModel*>(handle);
        torch::NoGradGuard no_grad;
        const auto input = torch::from_blob(const_cast<float*>(features), {1, static_cast<std::int64_t>(feature_count)},
                                            torch::kFloat32);
        const auto limit_tensor =
            torch::from_blob(const_cast<float*>(limits), {1, static_cast<std::int64_t>(limit_count)}, torch::kFloat32);
        const auto bands = linetune::learned::decode_bands(model.network->forward(input), limit_tensor);
        const auto values = torch::stack({bands.freq_hz, bands.gain_db, bands.q}, 2).contiguous();
        std::copy_n(values.data_ptr<float>(), output_count, output);
        return 0;
    } catch (const std::exception& failure) {
        write_error(error, error_size, failure.what());
    } catch (...) {
        write_error(error, error_size, "unknown failure in the learned model's inference");
    }
    return 1;
}

const char* metadata_json(void* handle) {
    return handle == nullptr ? "{}" : static_cast<LoadedModel*>(handle)->metadata_json.c_str();
}

void close_model(void* handle) {
    delete static_cast<LoadedModel*>(handle);
}

constexpr linetune::correction::detail::LearnedModuleApi module_api{
    linetune::correction::detail::learned_module_abi_version, open_model, predict, metadata_json, close_model};

}  // namespace

extern "C" __attribute__((visibility("default"))) const linetune::correction::detail::LearnedModuleApi*
linetune_learned_module_api() {
    return &module_api;
}
