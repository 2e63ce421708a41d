#include "linetune/correction/system_report.hpp"

namespace linetune::correction {
namespace {

using nlohmann::json;

json crossover_json(const CrossoverAlignment& crossover) {
    json mics = json::array();
    for (const auto& mic : crossover.mics) {
        mics.push_back({{"mic", mic.mic},
                        {"phase_difference_deg", mic.phase_difference_deg},
                        {"below_coherent_sum_db", mic.below_coherent_sum_db},
                        {"in_phase", mic.in_phase}});
    }
    return {{"crossover_hz", crossover.crossover_hz},
            {"offset_ms", crossover.offset_ms},
            {"polarity_fault", crossover.polarity_fault},
            {"below_coherent_sum_db", crossover.below_coherent_sum_db},
            {"mics", mics},
            {"notes", crossover.notes}};
}

}  // namespace

json system_outcome_json(const SystemOutcome& system) {
    json document = json::object();
    document["crossover"] = system.crossover ? crossover_json(*system.crossover) : json(nullptr);

    json joint = json::array();
    for (const auto& mic : system.joint_fit) {
        joint.push_back({{"mic", mic.mic},
                         {"weight", mic.weight},
                         {"rms_uncorrected_db", mic.rms_uncorrected_db},
                         {"rms_independent_db", mic.rms_independent_db},
                         {"rms_joint_db", mic.rms_joint_db},
                         {"gain_db", mic.gain_db}});
    }
    document["joint_fit"] = {{"mics", joint},
                             {"mean_rms_independent_db", system.mean_rms_independent_db},
                             {"mean_rms_joint_db", system.mean_rms_joint_db}};

    json levels = json::array();
    for (const auto& mic : system.levels) {
        levels.push_back({{"zone", mic.zone},
                          {"mic", mic.mic},
                          {"distance_m", mic.distance_m},
                          {"level_db", mic.level_db},
                          {"target_db", mic.target_db},
                          {"deviation_db", mic.deviation_db}});
    }
    document["levels"] = levels;
    document["notes"] = system.notes;
    return document;
}

}  // namespace linetune::correction
