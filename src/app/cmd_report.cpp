#include <iostream>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "dunning/ledger/summary.hpp"

namespace dunning::app {

Command add_report_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand(
      "report",
      "recovery report for finance: recovered / lost / open per currency, funnel, "
      "uplift against the holdout group, lifetime value preserved");
  add_config_option(sub, cli);
  struct Options {
    std::string format = "table";
    std::string from;
    std::string to;
    std::string as_of;
    std::string by;
    int horizon = 36;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--format", opt->format, "table, csv, json or html")
      ->check(CLI::IsMember({"table", "csv", "json", "html"}))
      ->capture_default_str();
  sub->add_option("--from", opt->from, "cases opened at or after (ISO 8601)");
  sub->add_option("--to", opt->to, "cases opened before (ISO 8601, exclusive)");
  std::vector<std::string> groupings;
  std::string by_help;
  for (const auto& row : ledger::kGroupByNames.rows) {
    groupings.emplace_back(row.second);
    by_help += (by_help.empty() ? "group by " : "|") + groupings.back();
  }
  sub->add_option("--by", opt->by, by_help)->check(CLI::IsMember(groupings));
  sub->add_option("--as-of", opt->as_of,
                  "outcomes as recorded up to this time (default: the earlier of --to and now)");
  sub->add_option("--ltv-horizon-months", opt->horizon,
                  "cap on a recovered subscription's expected remaining lifetime")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return {sub, [&cli, opt]() -> int {
            ledger::ReportOptions ro;
            ro.from = parse_time_option(opt->from, "--from");
            ro.to = parse_time_option(opt->to, "--to");
            check_period(ro.from, ro.to);
            auto as_of = parse_time_option(opt->as_of, "--as-of");
            // Outcomes are known up to now: a period that ends later is reported as of now,
            // never as of a future date.
            const TimePoint now = SystemClock().now();
            ro.as_of = as_of ? *as_of : ro.to ? std::min(*ro.to, now) : now;
            ro.by = ledger::parse_group_by(opt->by);  // "": not grouped; IsMember refused the rest
            ro.ltv_horizon_months = opt->horizon;
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            auto store = open_store(*cfg, store::OpenMode::kExisting);
            if (!store) return kExitFailure;
            const auto report = ledger::build_report(store->reports(), ro);
            if (opt->format == "json") {
              ledger::write_report_json(report, std::cout);
            } else if (opt->format == "csv") {
              ledger::write_report_csv(report, std::cout);
            } else if (opt->format == "html") {
              ledger::write_report_html(report, std::cout);
            } else {
              ledger::write_report_table(report, std::cout);
            }
            return kExitOk;
          }};
}

}  // namespace dunning::app
