// What every accepted fact must satisfy, whichever door built it: check_fact finds nothing, and
// every time in it lies in the fact range (so every derived due time stays ISO-formattable).
#pragma once

#include "dunning/core/money.hpp"
#include "dunning/ingest/event.hpp"
#include "dunning/ingest/json_screen.hpp"
#include "fuzz_support.hpp"

namespace dunning::fuzz {

inline void check_accepted(const ingest::Fact& f) {
  FUZZ_CHECK(!ingest::check_fact(f, ""), "an accepted fact fails check_fact");
  std::visit(
      [](const auto& row) {
        using T = std::decay_t<decltype(row)>;
        auto in_range = [](TimePoint t) { return t >= kFirstFactTime && t <= kLastFactTime; };
        if constexpr (std::is_same_v<T, store::PaymentRow>) {
          FUZZ_CHECK(in_range(row.occurred_at), "occurred_at out of range");
          FUZZ_CHECK(row.currency.size() == 3, "currency");
        } else if constexpr (std::is_same_v<T, store::CustomerRow>) {
          if (row.created_at) FUZZ_CHECK(in_range(*row.created_at), "created_at out of range");
        } else if constexpr (std::is_same_v<T, ingest::StripeSignal>) {
          FUZZ_CHECK(in_range(row.occurred_at), "occurred_at out of range");
          if (row.charged_at) FUZZ_CHECK(in_range(*row.charged_at), "charged_at out of range");
          FUZZ_CHECK(currency_exponent(row.currency) >= 0, "currency not ISO 4217");
        } else {
          FUZZ_CHECK(in_range(row.updated_at), "updated_at out of range");
        }
      },
      f);
}

inline void check_accepted(const Result<ingest::Event>& p) {
  if (const auto* e = (p.ok() ? &p.value() : nullptr)) {
    FUZZ_CHECK(!ingest::has_control_characters(e->id, false), "event id with controls");
    for (const auto& f : e->facts) check_accepted(f);
  } else {
    FUZZ_CHECK(!p.error().field.empty(), "a refusal names no field");
  }
}

}  // namespace dunning::fuzz
