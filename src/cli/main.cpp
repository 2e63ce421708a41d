#include "commands.hpp"
#include "linetune_version.hpp"

#include "linetune/core/error.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    CLI::App app{"linetune: measure, analyse and tune live-sound PA systems.\n"
                 "Exit codes: 0 success, 1 some inputs failed (the others were done), 2 usage or "
                 "configuration error, 3 device or audio failure."};
    app.set_version_flag("--version", std::string("linetune ") + LINETUNE_VERSION);
    app.require_subcommand(1);

    const std::vector<linetune::cli::Command> commands{
        linetune::cli::add_analyze_command(app),
        linetune::cli::add_sweep_command(app),
    };

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        // CLI11 returns 0 for --help and --version; every real parse error is a usage error.
        return code == 0 ? 0 : 2;
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
    }
    return 2;
}
