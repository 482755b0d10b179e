#include "dunning/cases/plan.hpp"

namespace dunning::cases {

CasePlanView plan_of(const store::CaseRecord& c, const config::Config& cfg,
                     store::PaymentsFeed& feed, store::Cases& cases, store::Outbox& outbox) {
  return plan_of(c, cfg, feed.customer(c.customer_id), cases, outbox);
}

CasePlanView plan_of(const store::CaseRecord& c, const config::Config& cfg,
                     const std::optional<store::Customer>& customer, store::Cases& cases,
                     store::Outbox& outbox) {
  CasePlanView view;
  view.zone =
      rules::customer_zone(customer ? customer->time_zone : "", cfg.daemon.default_time_zone);
  view.sequence = cfg.sequences.find(c.sequence_id);
  if (!view.sequence || c.state != store::CaseState::kOpen) return view;
  rules::PlanFacts f;
  f.opened_at = c.opened_at;
  f.next_step = static_cast<std::size_t>(std::max(c.next_step, 0));
  f.zone = view.zone.zone;
  f.holdout = c.holdout;
  f.clicked = cases.clicked(c.id);
  f.card_updated = c.card_updated_at.has_value();
  f.caps = rules::capabilities_of(cfg.daemon);
  for (const auto& row : outbox.for_case(c.id)) {
    if (row.state == store::OutboxState::kPending)
      f.pending.push_back({row.step_index, row.due_at});
  }
  view.plan = rules::plan_case(*view.sequence, cfg.sequences.defaults, f);
  return view;
}

}  // namespace dunning::cases
