// Test data built one way. `at` reads the fixed instants the unit tests date their rows by (they
// run against a fake clock or compare rows with each other, never with the real now),
// `a_payment` is one customer's EUR 12.50 renewal payment and `a_case` the open case its failure
// opens; a test changes the field it is about.
#pragma once

#include <optional>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/facts_writer.hpp"

namespace dunning::testing {

inline TimePoint at(const char* iso) { return *parse_iso8601(iso); }

inline store::PaymentRow a_payment(const std::string& id,
                                   store::PaymentStatus status = store::PaymentStatus::kFailed,
                                   const char* when = "2026-11-02T10:00:00Z") {
  store::PaymentRow p;
  p.id = id;
  p.customer_id = "cus_1";
  p.subscription_id = "sub_cus_1";
  p.invoice_id = "in_" + id;
  p.amount_minor = 1250;
  p.currency = "EUR";
  p.status = status;
  p.decline_code = "insufficient_funds";
  p.occurred_at = at(when);
  return p;
}

// The fields of `a_case` that tests vary most, named at the call:
// `a_case("in_2", {.customer = "cus_2", .due = std::nullopt})`.
struct CaseOverrides {
  std::string customer = "cus_1";
  Money amount = Money(1250, "EUR");
  TimePoint opened = at("2026-11-02T10:00:00Z");
  std::optional<TimePoint> due = at("2026-11-03T10:00:00Z");  // nullopt: no step is due
};

// An open soft-sequence case for `invoice`, after its first failed attempt: the customer's
// subscription is "sub_<customer>", its payment "py_<invoice>", declined for insufficient funds.
inline store::CaseRecord a_case(const std::string& invoice = "in_1", const CaseOverrides& o = {}) {
  store::CaseRecord c;
  c.trigger = Trigger::kPaymentFailed;
  c.customer_id = o.customer;
  c.subscription_id = "sub_" + o.customer;
  c.invoice_id = invoice;
  c.payment_id = "py_" + invoice;
  c.amount = o.amount;
  c.decline_code = "insufficient_funds";
  c.sequence_id = "soft";
  c.sequence_hash = "h1";
  c.opened_at = o.opened;
  c.next_due_at = o.due;
  c.attempt_count = 1;
  return c;
}

}  // namespace dunning::testing
