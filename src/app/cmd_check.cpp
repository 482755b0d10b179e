#include <cstdlib>
#include <iostream>

#include "app/commands.hpp"
#include "dunning/config/secrets.hpp"
#include "dunning/rules/plan.hpp"
#include "dunning/rules/rules.hpp"
#include "dunning/templates/lint.hpp"

namespace dunning::app {

Command add_check_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("check", "validate the config, sequences and templates");
  add_config_option(sub, cli);
  auto templates = std::make_shared<std::string>();
  sub->add_option("--templates", *templates, "check against this templates folder instead");
  return {
      sub, [&cli, templates]() -> int {
        auto cfg = load_or_report(cli.config_file, *templates);
        if (!cfg) return kExitConfig;
        // What only the rules engine can tell: shadowed sequences, the per-card retry cap,
        // unknown locales.
        // Steps that cannot act here, and template sentences that can render empty.
        bool failed = false;
        auto findings = rules::check_sequences(cfg->sequences);
        for (auto more :
             {rules::check_capabilities(*cfg), templates::lint_templates(cfg->daemon.templates)}) {
          findings.insert(findings.end(), more.begin(), more.end());
        }
        for (const auto& e : findings) {
          std::cerr << e.to_string() << '\n';
          failed = failed || !e.warning;
        }
        // Secrets the config names for what it enables. Outside the service the
        // credential stores LoadCredential= reads are consulted as well.
        const bool in_service = std::getenv("CREDENTIALS_DIRECTORY") != nullptr;
        for (const auto& e : config::missing_secrets(
                 cfg->daemon, true,
                 in_service ? std::vector<std::filesystem::path>{} : config::credential_stores())) {
          std::cerr << e.to_string() << '\n';
          failed = failed || !e.warning;
        }
        if (failed) {
          std::cerr << "dunningd: " << cli.config_file << " is not valid (errors above)\n";
          return kExitConfig;
        }
        std::cout << cli.config_file << ": OK (" << cfg->sequences.sequences.size()
                  << " sequences)\n";
        return kExitOk;
      }};
}

}  // namespace dunning::app
