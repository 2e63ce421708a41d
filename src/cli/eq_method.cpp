#include "eq_method.hpp"

#include "linetune/core/error.hpp"

namespace linetune::cli {

void add_eq_method_options(CLI::App* command, std::string& method, std::string& model_path) {
    command->add_option("--method", method,
                        "EQ fitter: 'classic' (the classic optimiser alone), 'learned' (the learned model's bands "
                        "refined by the classic optimiser; fails if the model cannot be loaded) or 'auto' (learned, "
                        "falling back to classic with a warning). Learned takes about a sixth of the CPU time and leaves about "
                        "as much residual (docs/learned-model.md)")
        ->check(CLI::IsMember({"auto", "learned", "classic"}))
        ->capture_default_str();
    command->add_option("--model", model_path,
                        "Learned model file for --method learned or auto; default: $LINETUNE_LEARNED_MODEL, else "
                        "calibration/learned-eq-model.bin of the source tree");
}

EqMethod choose_eq_method(const std::string& method, const std::string& model_path, std::ostream& warnings) {
    EqMethod chosen;
    if (method == "classic") {
        chosen.fitter = std::make_unique<correction::ClassicEqFitter>();
        return chosen;
    }
    auto paths = correction::default_learned_model_paths();
    if (!model_path.empty()) {
        paths.model_path = model_path;
    }
    try {
        chosen.model = correction::load_learned_model(paths);
        chosen.fitter = std::make_unique<correction::LearnedEqFitter>(chosen.model);
    } catch (const Error& failure) {
        if (method == "learned") {
            throw failure.with_context("--method learned");
        }
        warnings << "warning: --method auto: " << failure.what() << "; falling back to the classic fitter\n";
        chosen.fallback_reason = failure.what();
        chosen.fitter = std::make_unique<correction::ClassicEqFitter>();
    }
    return chosen;
}

nlohmann::json eq_method_json(const EqMethod& chosen) {
    if (!chosen.model) {
        nlohmann::json method = {{"method", "classic"}};
        if (!chosen.fallback_reason.empty()) {
            method["fallback_reason"] = chosen.fallback_reason;
        }
        return method;
    }
    const auto& info = chosen.model->info();
    return {{"method", "learned + refinement"},
            {"model_file", info.model_path.string()},
            {"model_hash", info.file_hash},
            {"model_format_version", info.format_version},
            {"model_code_version", info.code_version},
            {"model_config_hash", info.config_hash}};
}

void print_eq_method(std::ostream& out, const EqMethod& chosen) {
    if (!chosen.model) {
        out << "EQ method: classic\n";
        return;
    }
    const auto& info = chosen.model->info();
    out << "EQ method: learned + refinement; model '" << info.model_path.string() << "', hash " << info.file_hash
        << ", format version " << info.format_version << ", trained by linetune " << info.code_version
        << ", configuration " << info.config_hash << '\n';
}

}  // namespace linetune::cli
