// dunningd: the command line. Each subcommand lives in its own cmd_<name>.cpp; expected failures
// print one line and exit non-zero, and no exception escapes main(). Exit codes (the man page's
// EXIT STATUS, kept by tests): 0 success, 1 failure, 2 configuration or command-line error.
#include <spdlog/spdlog.h>

#include <iostream>
#include <optional>
#include <string_view>
#include <vector>

#include "app/commands.hpp"
#include "dunning/app/logging.hpp"
#include "dunning/sender/transport.hpp"

namespace {

// The first word of the command line that is not an option or an option's value, when it names
// no subcommand: CLI11 alone would answer "A subcommand is required".
std::optional<std::string> unknown_subcommand(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--") return std::nullopt;
    if (arg == "-c" || arg == "--config") {
      ++i;  // its value
      continue;
    }
    if (!arg.empty() && arg.front() == '-') continue;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      if (sub->get_name() == arg) return std::nullopt;
    }
    return std::string(arg);
  }
  return std::nullopt;
}

std::string subcommand_names(CLI::App& app) {
  std::string names;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dunning::app;
  dunning::sender::global_init();
  CLI::App app{"dunningd — self-hosted dunning and failed-payment recovery"};
  app.set_version_flag("--version", std::string("dunningd ") + DUNNINGD_VERSION);
  app.require_subcommand(1);
  Cli cli;
  add_config_option(&app, cli);  // `dunningd --config F check` as well as `dunningd check -c F`
  const std::vector<Command> commands = {
      add_run_command(app, cli),    add_check_command(app, cli),    add_migrate_command(app, cli),
      add_report_command(app, cli), add_cases_command(app, cli),    add_ledger_command(app, cli),
      add_import_command(app, cli), add_simulate_command(app, cli), add_preview_command(app, cli),
  };
  if (auto unknown = unknown_subcommand(app, argc, argv)) {
    std::cerr << "dunningd: unknown subcommand '" << *unknown
              << "'; the subcommands are: " << subcommand_names(app)
              << "\nRun with --help for more information.\n";
    return kExitConfig;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    if (app.get_subcommands().empty() && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      std::cerr << "dunningd: a subcommand is required: " << subcommand_names(app)
                << "\nRun with --help for more information.\n";
      return kExitConfig;
    }
    (void)app.exit(e);   // prints the message and "Run with --help..."
    return kExitConfig;  // the documented code for every command-line error, not CLI11's 1xx
  }

  setup_logging({});  // console or journal, masked; `run` re-applies the config's choices

  try {
    for (const auto& command : commands) {
      if (command.sub->parsed()) return command.run();
    }
  } catch (const CLI::Error& e) {
    std::cerr << "dunningd: " << e.what() << '\n';
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "dunningd: " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitFailure;
}
