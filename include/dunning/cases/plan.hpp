// The plan of one stored case, read from the store the same way for everyone who shows it: the
// messages ("we'll try again on …"), the read API, `dunningd cases --show` and the console. The
// decision itself is rules::plan_case; this gathers its facts.
#pragma once

#include "dunning/config/config.hpp"
#include "dunning/rules/plan.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"

namespace dunning::cases {

struct CasePlanView {
  rules::CasePlan plan;      // empty when the case is not open or its sequence is gone
  rules::CustomerZone zone;  // the zone every date of the plan is shown in
  const config::Sequence* sequence = nullptr;  // the case's sequence, if still configured
};

// The plan of `c` at its current step. Paused and closed cases have no next retry or contact.
CasePlanView plan_of(const store::CaseRecord& c, const config::Config& cfg,
                     store::PaymentsFeed& feed, store::Cases& cases, store::Outbox& outbox);
// The same, with c's customer already read (nullopt: there is none).
CasePlanView plan_of(const store::CaseRecord& c, const config::Config& cfg,
                     const std::optional<store::Customer>& customer, store::Cases& cases,
                     store::Outbox& outbox);

}  // namespace dunning::cases
