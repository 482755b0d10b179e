#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "dunning/cases/plan.hpp"
#include "dunning/ledger/export.hpp"

namespace dunning::app {

namespace {

// The list of cases in one of three presentations. Columns: what support asks first.
void print_cases(store::Cases& cases, const store::CaseFilter& filter, const std::string& format) {
  auto due = [](const store::CaseRecord& c) {
    return c.next_due_at ? format_iso8601(*c.next_due_at) : std::string();
  };
  if (format == "csv") {
    std::cout << "id,state,customer_id,invoice_id,amount_minor,currency,sequence_id,next_step,"
                 "next_due_at\n";
    store::for_each_case(cases, filter, [&](const store::CaseRecord& c) {
      std::cout << c.id << ',' << store::to_string(c.state) << ','
                << ledger::csv_field(c.customer_id) << ','
                << ledger::csv_field(c.invoice_id.value_or("")) << ',' << c.amount.minor() << ','
                << c.amount.currency() << ',' << ledger::csv_field(c.sequence_id) << ','
                << c.next_step + 1 << ',' << due(c) << '\n';
    });
    return;
  }
  if (format == "json") {
    ledger::JsonRowsWriter doc(std::cout, "cases");
    store::for_each_case(cases, filter, [&](const store::CaseRecord& c) {
      doc.row({{"id", c.id},
               {"state", std::string(store::to_string(c.state))},
               {"customer_id", c.customer_id},
               {"invoice_id", c.invoice_id ? nlohmann::json(*c.invoice_id) : nullptr},
               {"amount_minor", c.amount.minor()},
               {"currency", c.amount.currency()},
               {"amount", c.amount.major_string()},
               {"sequence_id", c.sequence_id},
               {"next_step", c.next_step + 1},
               {"next_due_at", c.next_due_at ? nlohmann::json(due(c)) : nullptr},
               {"opened_at", format_iso8601(c.opened_at)}});
    });
    doc.finish();
    return;
  }
  // A table for people: columns as wide as their widest cell, amounts right-aligned. Two passes
  // over the cases, the first for the widths, so no row is held.
  const std::vector<std::string> head = {"ID",     "STATE",    "CUSTOMER",  "INVOICE",
                                         "AMOUNT", "SEQUENCE", "NEXT STEP", "DUE"};
  auto cells = [&](const store::CaseRecord& c) -> std::vector<std::string> {
    const bool open = c.state == store::CaseState::kOpen || c.state == store::CaseState::kPaused;
    return {std::to_string(c.id),
            std::string(store::to_string(c.state)),
            c.customer_id,
            c.invoice_id.value_or("-"),
            c.amount.major_string() + " " + c.amount.currency(),
            c.sequence_id,
            open ? "#" + std::to_string(c.next_step + 1) : "-",
            open && c.next_due_at ? due(c) : "-"};
  };
  std::vector<std::size_t> width(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  std::size_t count = 0;
  store::for_each_case(cases, filter, [&](const store::CaseRecord& c) {
    auto r = cells(c);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    ++count;
  });
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t i = 0; i < r.size(); ++i) {
      // (a cell the second pass reads wider than the first did is shown unpadded)
      const std::string pad(width[i] > r[i].size() ? width[i] - r[i].size() : 0, ' ');
      const bool right = i == 0 || i == 4;
      out += right ? pad + r[i] : r[i] + (i + 1 < r.size() ? pad : "");
      if (i + 1 < r.size()) out += "  ";
    }
    std::cout << out << '\n';
  };
  line(head);
  // The second pass stops at the first pass's count: a case opened in between is not half shown.
  std::size_t printed = 0;
  store::for_each_case(cases, filter, [&](const store::CaseRecord& c) {
    if (printed++ < count) line(cells(c));
  });
  std::cout << '(' << count << (count == 1 ? " case" : " cases") << ")\n";
}

}  // namespace

Command add_cases_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("cases", "list cases or show one case's timeline");
  add_config_option(sub, cli);
  struct Options {
    std::string state;
    std::string customer;
    std::string format = "table";
    std::int64_t show = 0;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--state", opt->state, "only cases in this state")
      ->check(CLI::IsMember({"open", "paused", "recovered", "lost", "cancelled"}));
  sub->add_option("--customer", opt->customer, "only the cases of this customer id");
  sub->add_option("--format", opt->format, "table (for people), csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  sub->add_option("--show", opt->show, "print the timeline of this case");
  return {sub, [&cli, opt]() -> int {
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
                std::cout << "  " << format_iso8601(e.at) << "  " << e.kind << ": " << e.detail
                          << '\n';
              }
              return kExitOk;
            }
            print_cases(store->cases(), {opt->state, opt->customer, 0}, opt->format);
            return kExitOk;
          }};
}

}  // namespace dunning::app
