#pragma once

#include "linetune/correction/tuning.hpp"

#include <nlohmann/json.hpp>

namespace linetune::correction {

/// The "system" object of the corrections file: the subs' crossover alignment with the phase per
/// mic, the joint fit's residual per mic against independent fitting, the level deviation per
/// mic from the shading target, and notes.
nlohmann::json system_outcome_json(const SystemOutcome& system);

}  // namespace linetune::correction
