#include <iostream>

#include "app/commands.hpp"

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
          // Next retry / next contact: a queued row wins (its time already went through the
          // window, payday and caps); otherwise the next such step of the sequence, as planned.
          std::optional<std::string> next_retry;
          std::optional<std::string> next_contact;
          for (const auto& row : store->outbox().for_case(c->id)) {
            if (row.state != store::OutboxState::kPending) continue;
            std::string when = format_iso8601(row.due_at) + " (queued, step #" +
                               std::to_string(row.step_index + 1) + ")";
            if (row.action == "retry" && !next_retry) next_retry = when;
            if (row.channel != "action" && !next_contact)
              next_contact = when + " " + row.channel + " " + row.template_name;
          }
          const auto* seq = cfg->sequences.find(c->sequence_id);
          if (seq && c->state == store::CaseState::kOpen) {
            for (std::size_t i = static_cast<std::size_t>(c->next_step); i < seq->steps.size();
                 ++i) {
              const auto& step = seq->steps[i];
              std::string when = format_iso8601(c->opened_at + step.at) + " (planned, step #" +
                                 std::to_string(i + 1) + ", before window/caps)";
              if (step.action == config::Action::kRetry && !next_retry) next_retry = when;
              if (step.channel != config::Channel::kAction && !next_contact && !c->holdout)
                next_contact = when + " " + step.describe();
            }
          }
          std::cout << "next retry: " << next_retry.value_or("none") << '\n';
          std::cout << "next contact: " << next_contact.value_or("none") << '\n';
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
