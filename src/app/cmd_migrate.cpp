#include <iostream>

#include "app/commands.hpp"
#include "dunning/app/database.hpp"

namespace dunning::app {

Command add_migrate_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("migrate", "create or upgrade the database schema");
  add_config_option(sub, cli);
  struct Options {
    std::string from;
    bool force = false;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--from", opt->from,
                  "copy this SQLite database (sqlite:PATH) into the config's PostgreSQL "
                  "database: polled tables, cases, outbox, cursors and ledger");
  sub->add_flag("--force", opt->force,
                "with --from: replace what the PostgreSQL database already holds");
  return {sub, [&cli, opt]() -> int {
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            if (opt->from.empty()) {
              if (opt->force) {
                std::cerr << "dunningd: --force only makes sense with --from\n";
                return kExitConfig;
              }
              auto store = open_store(*cfg, store::OpenMode::kCreate);
              if (!store) return kExitFailure;
              std::cout << store->db().describe() << ": schema version "
                        << store->db().schema_version() << '\n';
              return kExitOk;
            }
            std::string from = opt->from;
            if (from.rfind("sqlite:", 0) != 0) {
              std::cerr << "dunningd: --from takes sqlite:PATH (the SQLite database to copy)\n";
              return kExitConfig;
            }
            from.erase(0, 7);
            const std::string to = cfg->daemon.database.string();
            if (!store::is_postgres(to)) {
              std::cerr << "dunningd: --from copies into PostgreSQL: the config's database (" << to
                        << ") must be a postgresql:// URI\n";
              return kExitConfig;
            }
            auto copied =
                store::copy_sqlite_to_postgres(from, to, engine_options(cfg->daemon), opt->force);
            if (!copied) {
              std::cerr << "dunningd: " << copied.error().message << '\n';
              return kExitFailure;
            }
            std::int64_t total = 0;
            for (const auto& t : *copied) {
              std::cout << t.table << ": " << t.target_rows << " rows\n";
              total += t.target_rows;
            }
            std::cout << "copied " << total << " rows from " << from << " (row counts match)\n";
            return kExitOk;
          }};
}

}  // namespace dunning::app
