#include <iostream>

#include "app/commands.hpp"

namespace dunning::app {

Command add_check_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("check", "validate the config, sequences and templates");
  add_config_option(sub, cli);
  auto templates = std::make_shared<std::string>();
  sub->add_option("--templates", *templates, "check against this templates folder instead");
  return {sub, [&cli, templates]() -> int {
            auto cfg = load_or_report(cli.config_file, *templates);
            if (!cfg) return kExitConfig;
            std::cout << cli.config_file << ": OK (" << cfg->sequences.sequences.size()
                      << " sequences)\n";
            return kExitOk;
          }};
}

}  // namespace dunning::app
