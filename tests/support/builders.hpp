// Test data built one way. `at` reads the fixed instants the unit tests date their rows by (they
// run against a fake clock or compare rows with each other, never with the real now), and
// `a_payment` is one customer's EUR 12.50 renewal payment; a test changes the field it is about.
#pragma once

#include <string>

#include "dunning/core/clock.hpp"
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

}  // namespace dunning::testing
