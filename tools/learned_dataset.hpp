#pragma once

// EQ problems for training and judging the learned EQ model: zone responses of randomised rigs
// from the simulation library, and real measured responses from the shared data folder, each
// with a zone band, a target curve and device limits.

#include "linetune/correction/eq_fitter.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace linetune::tools {

/// One EQ problem and where it came from.
struct NamedRequest {
    std::string name;  ///< e.g. "sim rig 3 L-mid at mic-2, variant 1" or "real webaudio-house/kitchen.wav"
    correction::EqFitRequest request;
};

/// Sizes of a generated set.
struct DatasetOptions {
    std::uint32_t seed = 1;
    int rigs = 10;                ///< randomised rigs
    int variants_per_response = 1;  ///< random extra faults, targets and limits per simulated response
    int variants_per_real = 1;      ///< the same for each real response
    std::filesystem::path shared_data_dir;  ///< folder holding ir/ and responses/; empty: no real responses
    std::vector<std::string> real_files;    ///< paths relative to shared_data_dir
};

/// The real responses the model trains on and those it is judged on; never shared.
std::vector<std::string> real_training_files();
std::vector<std::string> real_evaluation_files();

/// Seeds of the training and the held-out sets; the rigs of one never appear in the other.
inline constexpr std::uint32_t training_seed = 20261205;
inline constexpr std::uint32_t held_out_seed = 77001;

/// Generates the problems; throws Error when a room response or real file cannot be read.
std::vector<NamedRequest> generate_requests(const DatasetOptions& options);

}  // namespace linetune::tools
