#include "tuning_output.hpp"

#include "linetune/core/error.hpp"
#include "linetune/correction/corrections_file.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"
#include "linetune/report/terminal_plot.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace linetune::cli {

correction::TuningResult tune_from_files(const std::string& venue_path, const std::string& measurements_dir,
                                         const std::string& applied_path, Venue& venue,
                                         const correction::EqFitter* fitter,
                                         std::optional<analysis::AtmosphericConditions> weather,
                                         const std::function<std::map<std::string, correction::ZoneSetting>(const Venue&)>&
                                             read_applied) {
    venue = io::read_venue_file(venue_path, io::default_hardware_dir());
    correction::TuneOptions options;
    options.fitter = fitter;
    options.weather = weather;
    options.measurements_dir = measurements_dir.empty()
                                   ? std::filesystem::path(venue_path).parent_path() / "measurements"
                                   : std::filesystem::path(measurements_dir);
    if (!applied_path.empty()) {
        options.applied = correction::read_zone_settings(applied_path, venue.name);
    }
    if (read_applied) {
        options.applied = read_applied(venue);
    }
    return correction::tune_venue(venue, options);
}

std::string fixed(double value, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, std::isfinite(value) ? value + 0.0 : 0.0);
    return std::isfinite(value) ? text : "-";
}

void print_tuning_result(std::ostream& out, const correction::TuningResult& result, const Venue* venue) {
    out << "venue '" << result.venue_name << "'\n";
    for (const auto& zone : result.zones) {
        out << "\nzone '" << zone.zone << "' on " << zone.amplifier << " channel " << zone.channel << ": delay "
            << fixed(zone.setting.delay_ms, 3) << " ms, gain " << fixed(zone.setting.gain_db, 2) << " dB, "
            << zone.setting.bands.size() << " band(s)" << (zone.polarity_fault ? ", POLARITY FAULT" : "") << '\n';
        for (std::size_t i = 0; i < zone.setting.bands.size(); ++i) {
            const auto& band = zone.setting.bands[i];
            char line[160];
            std::snprintf(line, sizeof line, "  band %2zu  %-10s %9.1f Hz %+7.2f dB  Q %.3f\n", i + 1,
                          std::string(analysis::to_string(band.type)).c_str(), band.freq_hz, band.gain_db + 0.0, band.q);
            out << line;
        }
        out << "  residual in band (dB)         RMS before  RMS after  max before  max after\n";
        char line[200];
        std::snprintf(line, sizeof line, "  %-28s %10s %10s %11s %10s\n", "zone average (correctable)",
                      fixed(zone.residual.rms_before_db, 2).c_str(), fixed(zone.residual.rms_after_db, 2).c_str(),
                      fixed(zone.residual.max_before_db, 2).c_str(), fixed(zone.residual.max_after_db, 2).c_str());
        out << line;
        for (const auto& mic : zone.mics) {
            std::snprintf(line, sizeof line, "  %-28s %10s %10s %11s %10s\n", ("mic " + mic.mic).c_str(),
                          fixed(mic.residual.rms_before_db, 2).c_str(), fixed(mic.residual.rms_after_db, 2).c_str(),
                          fixed(mic.residual.max_before_db, 2).c_str(), fixed(mic.residual.max_after_db, 2).c_str());
            out << line;
        }
        for (const auto& [mic, reason] : zone.rejected_mics) {
            out << "  mic " << mic << " left out: " << reason << '\n';
        }
        for (const auto& note : zone.notes) {
            out << "  note: " << note << '\n';
        }
        if (zone.before.size() > 1) {
            out << '\n';
            print_zone_plot(out, "  zone '" + zone.zone + "': spatial average, 1/6 octave, dB", zone.before,
                            "measured before", zone.after, "predicted after", zone.target,
                            venue != nullptr ? find_zone(*venue, zone.zone).fit_band_hz : FrequencyBand{});
        }
    }
    print_system_outcome(out, result.system);
    for (const auto& note : result.notes) {
        out << "note: " << note << '\n';
    }
}

void print_system_outcome(std::ostream& out, const correction::SystemOutcome& system) {
    if (system.crossover) {
        const auto& crossover = *system.crossover;
        out << "\nsubs to mains at " << fixed(crossover.crossover_hz, 1) << " Hz: offset " << fixed(crossover.offset_ms, 3)
            << " ms" << (crossover.polarity_fault ? ", polarity fault suspected (see the notes)" : "") << '\n';
        for (const auto& mic : crossover.mics) {
            char line[160];
            std::snprintf(line, sizeof line, "  mic %-24s phase %+7.1f deg  %5.2f dB under the coherent sum  %s\n",
                          mic.mic.c_str(), mic.phase_difference_deg + 0.0, mic.below_coherent_sum_db + 0.0,
                          mic.in_phase ? "in phase" : "out of phase");
            out << line;
        }
    }
    if (!system.joint_fit.empty()) {
        out << "\nsummed response (dB RMS)       uncorrected  independent  joint  gain\n";
        for (const auto& mic : system.joint_fit) {
            char line[160];
            std::snprintf(line, sizeof line, "  %-28s %11s %12s %6s %5s\n", ("mic " + mic.mic).c_str(),
                          fixed(mic.rms_uncorrected_db, 2).c_str(), fixed(mic.rms_independent_db, 2).c_str(),
                          fixed(mic.rms_joint_db, 2).c_str(), fixed(mic.gain_db, 2).c_str());
            out << line;
        }
    }
    if (!system.levels.empty()) {
        out << "\nlevel against the shading target (dB)  distance  deviation\n";
        for (const auto& mic : system.levels) {
            char line[160];
            std::snprintf(line, sizeof line, "  %-36s %6.1f m %+9.2f\n", ("zone " + mic.zone + ", mic " + mic.mic).c_str(),
                          mic.distance_m, mic.deviation_db + 0.0);
            out << line;
        }
    }
    for (const auto& note : system.notes) {
        out << "note: " << note << '\n';
    }
}

bool stdout_wants_colour() {
    return report::colour_wanted(isatty(STDOUT_FILENO) != 0, std::getenv("NO_COLOR"), std::getenv("TERM"));
}

void print_zone_plot(std::ostream& out, const std::string& title, const FrequencyResponse& before,
                     const std::string& before_name, const FrequencyResponse& after, const std::string& after_name,
                     const FrequencyResponse& target, const FrequencyBand& fit_band_hz) {
    // Red before, blue after, as in the HTML report. The target is drawn first, so the
    // measured curves stay visible where they meet it.
    const std::vector<report::TerminalCurve> curves{
        {"target", '-', 0, target},
        {before_name, 'o', 31, before},
        {after_name, '*', 34, after},
    };
    report::TerminalPlotOptions options;
    options.colour = stdout_wants_colour();
    out << report::render_terminal_plot(title, curves, fit_band_hz, options);
}

std::string json_text(const nlohmann::json& document) {
    return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void check_output_path(const std::string& option, const std::string& path) {
    if (path.empty()) {
        return;
    }
    const std::filesystem::path file(path);
    const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error)) {
        throw Error(option + " '" + path + "': the folder '" + folder.string() + "' does not exist; create it first",
                    ErrorKind::configuration);
    }
    if (std::filesystem::is_directory(file, error)) {
        throw Error(option + " '" + path + "' is a folder; give a file name", ErrorKind::configuration);
    }
}

}  // namespace linetune::cli
