#include <iostream>

#include "app/commands.hpp"

namespace dunning::app {

Command add_migrate_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("migrate", "create or upgrade the database schema");
  add_config_option(sub, cli);
  return {sub, [&cli]() -> int {
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            auto store = open_store(*cfg, store::OpenMode::kCreate);
            if (!store) return kExitFailure;
            std::cout << cfg->daemon.database.string() << ": schema version "
                      << store->db().schema_version() << '\n';
            return kExitOk;
          }};
}

}  // namespace dunning::app
