#include "commands.hpp"
#include "linetune_version.hpp"

#include "linetune/core/error.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace linetune::cli {

CLI::Validator number_in_range(double min, double max, const std::string& unit) {
    const auto describe = [](double value) {
        std::ostringstream text;
        text << value;
        return text.str();
    };
    const std::string range = describe(min) + " to " + describe(max) + (unit.empty() ? "" : " " + unit);
    return CLI::Validator(
        [=](std::string& input) -> std::string {
            double value = 0.0;
            try {
                std::size_t used = 0;
                value = std::stod(input, &used);
                if (used != input.size()) {
                    return "'" + input + "' is not a number";
                }
            } catch (const std::exception&) {
                return "'" + input + "' is not a number";
            }
            if (!std::isfinite(value) || value < min || value > max) {
                return input + " is outside " + range;
            }
            return {};
        },
        range);
}

CLI::Validator existing_file(const std::string& expected) {
    return CLI::Validator(
        [=](std::string& input) -> std::string {
            std::error_code error;
            const std::filesystem::file_status status = std::filesystem::status(input, error);
            if (status.type() == std::filesystem::file_type::not_found) {
                return "'" + input + "' not found; check the path of the " + expected;
            }
            if (status.type() == std::filesystem::file_type::directory) {
                return "'" + input + "' is a folder, not a file; give the path of the " + expected;
            }
            if (error) {
                return "'" + input + "' cannot be read (" + error.message() + "); check the path of the " + expected;
            }
            return {};
        },
        "FILE");
}

CLI::Validator existing_folder(const std::string& expected) {
    return CLI::Validator(
        [=](std::string& input) -> std::string {
            std::error_code error;
            const std::filesystem::file_status status = std::filesystem::status(input, error);
            if (status.type() == std::filesystem::file_type::not_found) {
                return "'" + input + "' not found; give the " + expected;
            }
            if (status.type() != std::filesystem::file_type::directory) {
                return "'" + input + "' is a file, not a folder; give the " + expected;
            }
            return {};
        },
        "DIR");
}

}  // namespace linetune::cli

int main(int argc, char** argv) {
    CLI::App app{"linetune: measure, analyse and tune live-sound PA systems.\n"
                 "Exit codes: 0 success, 1 some inputs failed (the others were done), 2 usage or "
                 "configuration error, 3 device or audio failure."};
    app.set_version_flag("--version", std::string("linetune ") + LINETUNE_VERSION);
    app.require_subcommand(1);

    const std::vector<linetune::cli::Command> commands{
        linetune::cli::add_analyze_command(app),
        linetune::cli::add_batch_command(app),
        linetune::cli::add_sweep_command(app),
        linetune::cli::add_tune_command(app),
        linetune::cli::add_push_command(app),
        linetune::cli::add_devices_command(app),
        linetune::cli::add_run_command(app),
        linetune::cli::add_interfaces_command(app),
        linetune::cli::add_measure_command(app),
        linetune::cli::add_report_command(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& request) {
        return app.exit(request);
    } catch (const CLI::CallForAllHelp& request) {
        return app.exit(request);
    } catch (const CLI::CallForVersion& request) {
        return app.exit(request);
    } catch (const CLI::ParseError& error) {
        // Every real parse error is a usage error (exit code 2). The hint names the command's own
        // help when a command was recognised, and a first word that is no command is named as such.
        const linetune::cli::Command* parsed_command = nullptr;
        for (const auto& command : commands) {
            if (command.subcommand->parsed()) {
                parsed_command = &command;
            }
        }
        if (parsed_command != nullptr) {
            std::cerr << "linetune: " << error.what() << "; run 'linetune " << parsed_command->subcommand->get_name()
                      << " --help'\n";
            return 2;
        }
        if (argc > 1 && argv[1][0] != '-') {
            std::string names;
            for (const auto& command : commands) {
                names += (names.empty() ? "" : ", ") + command.subcommand->get_name();
            }
            std::cerr << "linetune: unknown command '" << argv[1] << "'; the commands are " << names
                      << "; run 'linetune --help'\n";
            return 2;
        }
        std::cerr << "linetune: " << error.what() << "; run 'linetune --help' or 'linetune COMMAND --help'\n";
        return 2;
    }

    try {
        for (const auto& command : commands) {
            if (command.subcommand->parsed()) {
                return command.run();
            }
        }
    } catch (const linetune::Error& error) {
        std::cerr << "linetune: " << error.what() << '\n';
        return linetune::exit_code_for(error.kind());
    } catch (const std::exception& error) {
        // A bug in linetune: every expected failure is a linetune::Error. Exit code 2 keeps
        // scripts from reading the run as a success.
        std::cerr << "linetune: internal error: " << error.what() << "; please report it\n";
        return 2;
    }
    return 2;
}
