#include <iostream>

#include "app/commands.hpp"
#include "dunning/ledger/report.hpp"

namespace dunning::app {

Command add_report_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("report", "print the recovery ledger");
  add_config_option(sub, cli);
  struct Options {
    std::string format = "csv";
    std::string from;
    std::string to;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--format", opt->format, "csv or json")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  sub->add_option("--from", opt->from, "first day (inclusive, ISO 8601)");
  sub->add_option("--to", opt->to, "end (exclusive, ISO 8601)");
  return {sub, [&cli, opt]() -> int {
            auto from = parse_time_option(opt->from, "--from");
            auto to = parse_time_option(opt->to, "--to");
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            auto store = open_store(*cfg, store::Store::Mode::kExisting);
            if (!store) return kExitFailure;
            if (opt->format == "json") {
              (void)ledger::write_json(*store, from, to, std::cout);
            } else {
              (void)ledger::write_csv(*store, from, to, std::cout);
            }
            return kExitOk;
          }};
}

}  // namespace dunning::app
