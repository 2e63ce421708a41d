#include "commands.hpp"

#include "linetune/control/driver_factory.hpp"
#include "linetune/control/push_plan.hpp"
#include "linetune/control/push_report.hpp"
#include "linetune/control/push_transaction.hpp"
#include "linetune/core/error.hpp"
#include "linetune/io/device_profile_file.hpp"
#include "linetune/io/venue_file.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

namespace linetune::cli {
namespace {

struct PushArguments {
    std::string corrections_path;
    std::string venue_path;
    std::string journal_path;
    bool dry_run = false;
    bool yes = false;
    bool allow_polarity_change = false;
    bool recover = false;
};

// Set by SIGINT and SIGTERM during the writes: the push sends nothing more and restores the
// snapshot. A lock-free atomic store is safe in a signal handler.
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void request_stop(int) { stop_requested.store(true); }

/// Routes SIGINT and SIGTERM to request_stop while it exists, then restores the old handlers.
class StopOnSignal {
public:
    StopOnSignal() {
        struct sigaction action {};
        action.sa_handler = request_stop;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &old_interrupt_);
        ::sigaction(SIGTERM, &action, &old_terminate_);
    }
    ~StopOnSignal() {
        ::sigaction(SIGINT, &old_interrupt_, nullptr);
        ::sigaction(SIGTERM, &old_terminate_, nullptr);
    }
    StopOnSignal(const StopOnSignal&) = delete;
    StopOnSignal& operator=(const StopOnSignal&) = delete;

private:
    struct sigaction old_interrupt_ {};
    struct sigaction old_terminate_ {};
};

/// --journal, else push-journal.json beside the corrections file, else in the current folder.
std::filesystem::path journal_path(const PushArguments& args) {
    if (!args.journal_path.empty()) {
        return args.journal_path;
    }
    if (!args.corrections_path.empty()) {
        return std::filesystem::path(args.corrections_path).parent_path() / "push-journal.json";
    }
    return "push-journal.json";
}

control::DriverFactory real_drivers() {
    return [](const Amplifier& amplifier) { return control::make_device_driver(amplifier); };
}

// A push reaches only the amplifiers, so the venue's measurement files need not exist: a venue
// can be pushed from a copy without its recordings.
constexpr bool measurement_files_needed = false;

bool confirmed(const std::string& question) {
    std::cout << question << " [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    return answer == "y" || answer == "Y" || answer == "yes";
}

/// Rejects a --journal that names a folder: a journal is a file, and a folder at that path would
/// otherwise read as an interrupted push.
void require_journal_not_folder(const std::filesystem::path& journal) {
    std::error_code error;
    if (std::filesystem::is_directory(journal, error)) {
        throw Error("push journal '" + journal.string() + "' is a folder; give a file path with --journal, such as '" +
                        (journal / "push-journal.json").string() + "'",
                    ErrorKind::configuration);
    }
}

/// Refuses to go on when confirmation is needed but cannot be asked for.
/// noun names the command in the message ("push", "recovery"), verb what --yes does ("push", "restore").
void require_terminal_unless_yes(const PushArguments& args, const std::string& noun, const std::string& verb) {
    if (!args.dry_run && !args.yes && ::isatty(STDIN_FILENO) == 0) {
        throw Error("standard input is not a terminal, so the " + noun + " cannot ask for confirmation; give --yes to " +
                        verb + " without asking, or --dry-run to only show the changes. Nothing was sent",
                    ErrorKind::configuration);
    }
}

int run_recover(const PushArguments& args) {
    const auto journal = journal_path(args);
    require_journal_not_folder(journal);
    std::error_code error;
    if (!std::filesystem::exists(journal, error)) {
        throw Error("push journal '" + journal.string() +
                        "': not found; give the journal of the interrupted push with --journal",
                    ErrorKind::configuration);
    }
    require_terminal_unless_yes(args, "recovery", "restore");

    const Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir(), measurement_files_needed);
    control::PushOptions options;
    auto recovery = control::prepare_recovery(venue, journal, real_drivers(), options);
    std::cout << "recovery from push journal '" << journal.string()
              << "': each channel goes from what it holds now to the state saved before the push\n"
              << control::format_push_plan(recovery.restore);
    if (args.dry_run) {
        std::cout << '\n' << control::format_write_order(recovery.restore)
                  << "\ndry run: nothing was sent to any amplifier, and the journal was kept\n";
        return 0;
    }
    if (!args.yes && !confirmed("\nrestore " + std::to_string(recovery.restore.plan.devices.size()) +
                                " amplifier(s) to the saved state?")) {
        std::cout << "recovery cancelled: nothing was sent, and the journal was kept\n";
        return 0;
    }

    const auto report = control::execute_recovery(recovery, journal, options);
    std::cout << '\n' << control::format_push_report(report);
    for (const auto& device : report.devices) {
        if (device.outcome != control::DeviceOutcome::restored && device.outcome != control::DeviceOutcome::unchanged) {
            return exit_code_for(ErrorKind::device);
        }
    }
    return 0;
}

int run_push(const PushArguments& args) {
    if (args.corrections_path.empty()) {
        throw Error("push needs the corrections file (CORRECTIONS.json from 'linetune tune --out'), or --recover",
                    ErrorKind::configuration);
    }
    const auto journal = journal_path(args);
    require_journal_not_folder(journal);
    std::error_code error;
    if (!args.dry_run && std::filesystem::exists(journal, error)) {
        throw Error("push journal '" + journal.string() +
                        "' exists: an earlier push was interrupted and its amplifiers may hold a mix of old and new "
                        "values. Run 'linetune push --recover --venue " + args.venue_path + " --journal " +
                        journal.string() + "' first; nothing was sent",
                    ErrorKind::configuration);
    }
    require_terminal_unless_yes(args, "push", "push");

    const Venue venue = io::read_venue_file(args.venue_path, io::default_hardware_dir(), measurement_files_needed);
    const auto targets = control::read_push_targets(args.corrections_path, venue);
    control::PushOptions options;
    options.allow_polarity_change = args.allow_polarity_change;
    options.stop_request = &stop_requested;

    auto push = control::prepare_push(venue, targets, real_drivers(), options);
    std::cout << control::format_push_plan(push);
    if (args.dry_run) {
        std::cout << '\n' << control::format_write_order(push) << "\ndry run: nothing was sent to any amplifier\n";
        return 0;
    }
    if (push.writes.empty()) {
        std::cout << "\nevery amplifier already holds these settings: nothing was sent\n";
        return 0;
    }
    if (!args.yes && !confirmed("\nsend " + std::to_string(push.writes.size()) + " write(s) to " +
                                std::to_string(push.plan.devices.size()) + " amplifier(s)?")) {
        std::cout << "push cancelled: nothing was sent\n";
        return 0;
    }

    control::PushReport report;
    {
        const StopOnSignal stop_on_signal;
        report = control::execute_push(push, journal, options);
    }
    std::cout << '\n' << control::format_push_report(report);
    return report.succeeded() ? 0 : exit_code_for(ErrorKind::device);
}

}  // namespace

Command add_push_command(CLI::App& app) {
    auto args = std::make_shared<PushArguments>();
    auto* command = app.add_subcommand(
        "push",
        "Send a corrections file's delay, gain and EQ to the amplifiers of a venue, safely: every value is checked "
        "against the venue's safety limits before anything is sent, the current values are saved to a journal, "
        "cuts go before boosts, every write is read back, and any failure restores the saved values. Prints the "
        "change per zone and asks for confirmation unless --yes.");
    command->add_option("corrections", args->corrections_path, "Corrections file (JSON) from 'linetune tune --out', or a session's corrections.json");
    command->add_option("--venue", args->venue_path, "Venue file (JSON) with the amplifiers' host and port")->required();
    command->add_flag("--dry-run", args->dry_run,
                      "Read the amplifiers and show the changes and the order of the writes, but send nothing "
                      "(also with --recover)");
    command->add_flag("--yes,-y", args->yes, "Push without asking for confirmation (the safety limits still apply)");
    command->add_flag("--allow-polarity-change", args->allow_polarity_change,
                      "Allow the corrections file to change a channel's polarity (\"polarity_inverted\")");
    command->add_option("--journal", args->journal_path,
                        "Journal of the push (default: push-journal.json beside the corrections file, or in the "
                        "current folder with --recover)");
    auto* recover = command->add_flag("--recover", args->recover,
                                      "Restore every amplifier to the values saved in the journal of an interrupted "
                                      "push, then remove the journal. Shows the change from the current values and "
                                      "asks for confirmation unless --yes; with --dry-run it only shows it. The saved "
                                      "values must lie inside the amplifier's ranges and the venue's band and summed "
                                      "boost limits");
    recover->excludes(command->get_option("--allow-polarity-change"));
    return {command, [args] { return args->recover ? run_recover(*args) : run_push(*args); }};
}

}  // namespace linetune::cli
