#include <iostream>

#include "app/commands.hpp"
#include "dunning/cases/plan.hpp"

namespace dunning::app {

Command add_cases_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("cases", "list cases or show one case's timeline");
  add_config_option(sub, cli);
  struct Options {
    std::string state;
    std::int64_t show = 0;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--state", opt->state, "only cases in this state (open, recovered, lost, ...)");
  sub->add_option("--show", opt->show, "print the timeline of this case");
  return {
      sub, [&cli, opt]() -> int {
        auto cfg = load_or_report(cli.config_file);
        if (!cfg) return kExitConfig;
        auto store = open_store(*cfg, store::OpenMode::kExisting);
        if (!store) return kExitFailure;
        if (opt->show > 0) {
          auto c = store->cases().get(opt->show);
          if (!c) {
            std::cerr << "dunningd: no case " << opt->show << '\n';
            return kExitFailure;
          }
          std::cout << "case " << c->id << ": " << store::to_string(c->state) << ", customer "
                    << c->customer_id << ", invoice " << c->invoice_id.value_or("-") << ", "
                    << c->amount.to_string() << ", sequence " << c->sequence_id << " ("
                    << c->sequence_hash << ")\n";
          std::cout << "attempts: " << c->attempt_count
                    << (c->holdout ? ", holdout (control group: no contact)" : "") << '\n';
          if (c->next_due_at) {
            std::cout << "next step #" << c->next_step + 1 << " due "
                      << format_iso8601(*c->next_due_at) << '\n';
          }
          // The case's plan: the same one its emails state and the API shows.
          const auto view =
              cases::plan_of(*c, *cfg, store->feed(), store->cases(), store->outbox());
          auto line = [&](const std::optional<rules::PlannedStep>& s) -> std::string {
            if (!s) return "none";
            return format_iso8601(s->at) + " (" + rules::format_local(s->at, view.zone.zone) +
                   "): " + s->why;
          };
          std::cout << "next retry: " << line(view.plan.next_retry) << '\n';
          std::cout << "next contact: " << line(view.plan.next_contact) << '\n';
          if (view.plan.final_step) {
            std::cout << (view.plan.cancel_at ? "cancelled: " : "ends: ")
                      << line(view.plan.final_step) << '\n';
          }
          std::cout << "timeline:\n";
          for (const auto& e : store->cases().events(opt->show)) {
            std::cout << "  " << format_iso8601(e.at) << "  " << e.kind << ": " << e.detail << '\n';
          }
          return kExitOk;
        }
        std::cout << "id,state,customer_id,invoice_id,amount_minor,currency,sequence_id,next_step,"
                     "next_due_at\n";
        for (const auto& c : store->cases().find({opt->state, "", 1000000})) {
          std::cout << c.id << ',' << store::to_string(c.state) << ',' << c.customer_id << ','
                    << c.invoice_id.value_or("") << ',' << c.amount.minor() << ','
                    << c.amount.currency() << ',' << c.sequence_id << ',' << c.next_step + 1 << ','
                    << (c.next_due_at ? format_iso8601(*c.next_due_at) : "") << '\n';
        }
        return kExitOk;
      }};
}

}  // namespace dunning::app
