#include <iostream>

#include "app/commands.hpp"
#include "dunning/ledger/export.hpp"

namespace dunning::app {

Command add_ledger_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("ledger", "export or verify the recovery ledger");
  add_config_option(sub, cli);
  sub->require_subcommand(1);
  struct Options {
    std::string format = "csv";
    std::string from;
    std::string to;
  };
  auto opt = std::make_shared<Options>();
  auto* exp = sub->add_subcommand(
      "export", "one row per ledger entry (ISO 8601 UTC, minor and major units, billing ids)");
  exp->fallthrough();
  add_config_option(exp, cli);  // listed by `ledger export --help`, accepted at either level
  exp->add_option("--format", opt->format, "csv or json")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  exp->add_option("--from", opt->from, "entries that occurred at or after (ISO 8601)");
  exp->add_option("--to", opt->to, "entries that occurred before (ISO 8601, exclusive)");
  auto* ver = sub->add_subcommand(
      "verify",
      "check that recovered, partial and late rows equal the succeeded payments they name and "
      "refund rows the refunded payments, per currency");
  ver->fallthrough();
  add_config_option(ver, cli);
  return {
      sub, [&cli, opt, exp]() -> int {
        const bool exporting = exp->parsed();
        auto from = parse_time_option(opt->from, "--from");
        auto to = parse_time_option(opt->to, "--to");
        check_period(from, to);
        auto cfg = load_or_report(cli.config_file);
        if (!cfg) return kExitConfig;
        auto store = open_store(*cfg, store::OpenMode::kExisting);
        if (!store) return kExitFailure;
        if (exporting) {
          if (opt->format == "json") {
            (void)ledger::write_json(store->ledger(), from, to, std::cout);
          } else {
            (void)ledger::write_csv(store->ledger(), from, to, std::cout);
          }
          return kExitOk;
        }
        std::vector<store::VerifyMismatch> mismatches;
        const auto sums = store->reports().verify_recovered(&mismatches, 100);
        bool ok = true;
        for (const auto& s : sums) {
          const bool same = s.ledger_minor == s.payments_minor;
          ok = ok && same;
          const bool refund = s.kind == "refund";
          std::cout
              << s.currency << ": " << s.rows << " " << s.kind << " rows, ledger "
              << Money(s.ledger_minor, s.currency).major_string()
              << (refund ? ", refunded payments " : ", payments ")
              << Money(s.payments_minor, s.currency).major_string()
              << (same ? " — ok"
                       : " — DIFFERENCE " +
                             Money(s.ledger_minor - s.payments_minor, s.currency).major_string())
              << '\n';
        }
        for (const auto& m : mismatches) {
          ok = false;
          if (m.ledger_id == 0) {
            std::cout << "payment " << m.payment_id << ": " << m.problem << '\n';
            continue;
          }
          std::cout << "ledger row " << m.ledger_id << " (payment "
                    << (m.payment_id.empty() ? "none" : m.payment_id) << "): " << m.problem << '\n';
        }
        if (!ok) {
          std::cerr << "dunningd: the ledger does not match the payments (differences above)\n";
          return kExitFailure;
        }
        std::cout << "ledger verified: recovered, partial and late rows equal their succeeded "
                     "payments, refund rows their refunded payments\n";
        return kExitOk;
      }};
}

}  // namespace dunning::app
