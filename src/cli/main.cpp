#include "linetune_version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"linetune: measure, analyse and tune live-sound PA systems"};
    app.set_version_flag("--version", std::string("linetune ") + LINETUNE_VERSION);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    }
    return 0;
}
