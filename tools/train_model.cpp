// Trains the learned EQ model (docs/learned-model.md) and writes its model file.
//
// Data: EQ problems from randomised rigs of the simulation library (training seed) and the named
// real training responses (learned_dataset.cpp), never the held-out rigs or the real evaluation
// responses. A second set of rigs from the next seed is the validation set that picks the best
// epoch. The loss is on the corrected response (band_model.cpp). Seeds are fixed, so a re-run
// on the same machine repeats the data and the initial weights. The model card states how far a
// re-run's held-out figures may move.

#include "learned_dataset.hpp"

#include "band_model.hpp"
#include "linetune_version.hpp"

#include "linetune/core/error.hpp"
#include "linetune/correction/learned_model.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

namespace {

namespace layout = linetune::correction::learned_layout;
using linetune::tools::NamedRequest;

struct TrainArguments {
    std::string out_path;
    std::string shared_data_dir;
    int rigs = 40;
    int validation_rigs = 6;
    int variants = 2;
    int real_variants = 20;
    int epochs = 50;
    double max_minutes = 30.0;
    int threads = 2;
    int batch_size = 64;
    double learning_rate = 1e-3;
};

struct TensorSet {
    torch::Tensor features;
    torch::Tensor limits;
};

TensorSet to_tensors(const std::vector<NamedRequest>& requests) {
    const auto n = static_cast<std::int64_t>(requests.size());
    auto features = torch::empty({n, static_cast<std::int64_t>(layout::feature_count)});
    auto limits = torch::empty({n, static_cast<std::int64_t>(layout::limit_count)});
    for (std::int64_t i = 0; i < n; ++i) {
        const auto input = linetune::correction::learned_model_input(requests[static_cast<std::size_t>(i)].request);
        features[i] = torch::tensor(input.features);
        limits[i] = torch::tensor(input.limits);
    }
    return {features, limits};
}

/// Mean loss and mean residual RMS (dB) of the network on a whole set, without gradients.
std::pair<double, double> evaluate(linetune::learned::BandNetwork& network, const TensorSet& set) {
    torch::NoGradGuard no_grad;
    network->eval();
    const auto bands = linetune::learned::decode_bands(network->forward(set.features), set.limits);
    const auto loss = linetune::learned::corrected_response_loss(bands, set.features, set.limits);
    network->train();
    return {loss.total.item<double>(), loss.residual_rms_db.mean().item<double>()};
}

/// Throws Error (configuration) when the model file cannot be written, before any training time is spent.
void check_output_path(const std::filesystem::path& path) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
        throw linetune::Error("--out '" + path.string() + "' is a folder; give a file name such as " +
                                  (path / "learned-eq-model.bin").string(),
                              linetune::ErrorKind::configuration);
    }
    const auto folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    if (!std::filesystem::is_directory(folder, error)) {
        throw linetune::Error("--out '" + path.string() + "': folder '" + folder.string() +
                                  "' not found; create it first",
                              linetune::ErrorKind::configuration);
    }
    if (access(folder.c_str(), W_OK) != 0) {
        throw linetune::Error("--out '" + path.string() + "': folder '" + folder.string() +
                                  "' is not writable; choose another folder",
                              linetune::ErrorKind::configuration);
    }
}

int train(const TrainArguments& args) {
    check_output_path(args.out_path);
    const auto start = std::chrono::steady_clock::now();
    torch::set_num_threads(args.threads);
    torch::manual_seed(linetune::tools::training_seed);

    linetune::tools::DatasetOptions training_options;
    training_options.seed = linetune::tools::training_seed;
    training_options.rigs = args.rigs;
    training_options.variants_per_response = args.variants;
    training_options.variants_per_real = args.real_variants;
    training_options.shared_data_dir = args.shared_data_dir;
    training_options.real_files = linetune::tools::real_training_files();
    const auto training = linetune::tools::generate_requests(training_options);

    auto validation_options = training_options;
    validation_options.seed = linetune::tools::training_seed + 1;
    validation_options.rigs = args.validation_rigs;
    validation_options.variants_per_real = 3;
    const auto validation = linetune::tools::generate_requests(validation_options);
    const double data_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("data: %zu training and %zu validation problems in %.1f s\n", training.size(), validation.size(), data_s);
    if (training.empty()) {
        throw linetune::Error("no training problems: give --rigs and --variants, or --real-variants, above 0",
                              linetune::ErrorKind::configuration);
    }

    const auto train_set = to_tensors(training);
    const auto validation_set = to_tensors(validation);

    linetune::learned::BandNetwork network(linetune::learned::NetworkConfig{});
    torch::optim::Adam optimiser(network->parameters(), torch::optim::AdamOptions(args.learning_rate));
    const auto untrained = evaluate(network, validation_set);
    std::printf("untrained: validation loss %.3f, residual %.3f dB\n", untrained.first, untrained.second);

    std::mt19937 shuffle_rng(linetune::tools::training_seed);
    std::vector<std::int64_t> order(training.size());
    std::iota(order.begin(), order.end(), 0);
    double best_residual_db = untrained.second;
    double best_loss = untrained.first;
    int best_epoch = 0;
    std::vector<torch::Tensor> best_weights;
    for (const auto& p : network->parameters()) {
        best_weights.push_back(p.detach().clone());
    }

    int epoch = 0;
    bool stopped_by_time_limit = false;
    for (epoch = 1; epoch <= args.epochs; ++epoch) {
        // The learning rate halves at half and again at three quarters of the epochs. It follows
        // the epoch count only, never the clock, so a re-run makes the same steps on any machine.
        const double progress = static_cast<double>(epoch - 1) / args.epochs;
        const double rate = args.learning_rate * (progress >= 0.5 ? 0.5 : 1.0) * (progress >= 0.75 ? 0.5 : 1.0);
        for (auto& group : optimiser.param_groups()) {
            static_cast<torch::optim::AdamOptions&>(group.options()).lr(rate);
        }
        std::shuffle(order.begin(), order.end(), shuffle_rng);
        for (std::size_t first = 0; first < order.size(); first += static_cast<std::size_t>(args.batch_size)) {
            const std::size_t last = std::min(order.size(), first + static_cast<std::size_t>(args.batch_size));
            const auto index = torch::tensor(std::vector<std::int64_t>(order.begin() + static_cast<std::ptrdiff_t>(first),
                                                                       order.begin() + static_cast<std::ptrdiff_t>(last)));
            const auto features = train_set.features.index_select(0, index);
            const auto limits = train_set.limits.index_select(0, index);
            optimiser.zero_grad();
            const auto bands = linetune::learned::decode_bands(network->forward(features), limits);
            const auto loss = linetune::learned::corrected_response_loss(bands, features, limits);
            loss.total.backward();
            optimiser.step();
        }
        const auto [loss, residual_db] = evaluate(network, validation_set);
        if (loss < best_loss) {
            best_loss = loss;
            best_residual_db = residual_db;
            best_epoch = epoch;
            const auto parameters = network->parameters();
            for (std::size_t i = 0; i < parameters.size(); ++i) {
                best_weights[i] = parameters[i].detach().clone();
            }
        }
        const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60.0;
        if (epoch % 10 == 0 || epoch == 1 || epoch == args.epochs) {
            std::printf("epoch %d: validation loss %.3f, residual %.3f dB (%.1f min)\n", epoch, loss, residual_db, minutes);
            std::fflush(stdout);
        }
        if (minutes > args.max_minutes && epoch < args.epochs) {
            std::printf("warning: stopped after epoch %d of %d because the time limit of %.3g min is reached; "
                        "this model is not reproducible, run again on a less loaded machine or raise --max-minutes\n",
                        epoch, args.epochs, args.max_minutes);
            stopped_by_time_limit = true;
            break;
        }
    }

    {
        torch::NoGradGuard no_grad;
        const auto parameters = network->parameters();
        for (std::size_t i = 0; i < parameters.size(); ++i) {
            parameters[i].copy_(best_weights[i]);
        }
    }
    if (best_epoch == 0) {
        std::printf("warning: no epoch scored a validation loss below the untrained network's %.3f, so the file holds "
                    "the untrained weights; do not ship it. Train longer (--epochs) or on more data (--rigs, "
                    "--variants)\n",
                    untrained.first);
    }
    const double training_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json metadata;
    metadata["code_version"] = LINETUNE_VERSION;
    metadata["training"] = {
        {"seed", linetune::tools::training_seed},
        {"rigs", args.rigs},
        {"validation_rigs", args.validation_rigs},
        {"variants_per_response", args.variants},
        {"variants_per_real_response", args.real_variants},
        {"training_problems", training.size()},
        {"validation_problems", validation.size()},
        {"real_training_files", linetune::tools::real_training_files()},
        {"epochs", args.epochs},
        {"epochs_run", std::min(epoch, args.epochs)},
        {"stopped_by_time_limit", stopped_by_time_limit},
        {"best_epoch", best_epoch},
        {"batch_size", args.batch_size},
        {"learning_rate", args.learning_rate},
        {"threads", args.threads},
        {"training_time_s", training_s},
        {"untrained_validation_residual_db", untrained.second},
        {"validation_residual_db", best_residual_db},
    };
    linetune::learned::save_model(args.out_path, network, metadata);
    std::printf("best epoch %d: validation residual %.3f dB (untrained %.3f dB); %.1f min in all; wrote %s\n",
                best_epoch, best_residual_db, untrained.second, training_s / 60.0, args.out_path.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("Trains the learned EQ model on simulated and named real responses and writes its model file");
    TrainArguments args;
    app.add_option("--out", args.out_path, "Model file to write (calibration/learned-eq-model.bin)")->required();
    app.add_option("--shared-data", args.shared_data_dir, "Folder holding ir/ and responses/ (the real training responses)")
        ->required();
    app.add_option("--rigs", args.rigs, "Randomised training rigs (6 zones × 6 microphones each)")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--variants", args.variants, "Random problems per simulated response")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    app.add_option("--real-variants", args.real_variants, "Random problems per real response")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("--epochs", args.epochs, "Passes over the training problems")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("--max-minutes", args.max_minutes,
                   "Guard: stop after the epoch that passes this wall time (the model is then not reproducible)")
        ->check(CLI::Range(0.01, 100000.0))
        ->capture_default_str();
    app.add_option("--threads", args.threads, "CPU threads for libtorch")->check(CLI::Range(1, 256))->capture_default_str();
    app.add_option("--batch-size", args.batch_size, "Problems per optimiser step")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& failure) {
        // Usage errors exit with 2, as linetune's own commands do.
        const int code = app.exit(failure);
        return code == 0 ? 0 : 2;
    }
    try {
        return train(args);
    } catch (const linetune::Error& failure) {
        std::fprintf(stderr, "error: %s\n", failure.what());
        return linetune::exit_code_for(failure.kind());
    } catch (const std::exception& failure) {
        std::fprintf(stderr, "error: %s\n", failure.what());
        return 2;
    }
}
