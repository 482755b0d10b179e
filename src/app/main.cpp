// dunningd: the command line. Each subcommand lives in its own cmd_<name>.cpp; expected failures
// print one line and exit non-zero, and no exception escapes main().
#include <spdlog/spdlog.h>

#include <iostream>
#include <vector>

#include "app/commands.hpp"
#include "dunning/app/logging.hpp"
#include "dunning/sender/transport.hpp"

int main(int argc, char** argv) {
  using namespace dunning::app;
  dunning::sender::global_init();
  CLI::App app{"dunningd — self-hosted dunning and failed-payment recovery"};
  app.set_version_flag("--version", std::string("dunningd ") + DUNNINGD_VERSION);
  app.require_subcommand(1);
  Cli cli;
  const std::vector<Command> commands = {
      add_run_command(app, cli),     add_check_command(app, cli),    add_migrate_command(app, cli),
      add_report_command(app, cli),  add_cases_command(app, cli),    add_ledger_command(app, cli),
      add_import_command(app, cli),  add_simulate_command(app, cli), add_preview_command(app, cli),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
