#pragma once

#include "linetune/correction/eq_fitter.hpp"
#include "linetune/correction/learned_model.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <ostream>
#include <string>

namespace linetune::cli {

/// The EQ fitter a --method chooses, and the model it loaded (null for the classic fitter).
struct EqMethod {
    std::unique_ptr<correction::EqFitter> fitter;
    std::shared_ptr<const correction::LearnedBandPredictor> model;
    std::string fallback_reason;  ///< why `auto` fell back to the classic fitter; empty otherwise
};

/// Adds --method (auto, learned or classic; default auto) and --model, as `tune` and `run` take them.
void add_eq_method_options(CLI::App* command, std::string& method, std::string& model_path);

/// Loads the fitter of --method. `classic` never loads libtorch, and `learned` throws when the model
/// cannot be loaded. `auto` then writes a warning to `warnings` and falls back to the classic
/// fitter. model_path, when not empty, replaces the default model file.
EqMethod choose_eq_method(const std::string& method, const std::string& model_path, std::ostream& warnings);

/// The method and, for the learned one, the model's file, hash, format and code version and
/// configuration hash: the `eq_method` object of a corrections file.
nlohmann::json eq_method_json(const EqMethod& chosen);

/// One line naming the method and the model, as `tune` and `run` print it.
void print_eq_method(std::ostream& out, const EqMethod& chosen);

}  // namespace linetune::cli
