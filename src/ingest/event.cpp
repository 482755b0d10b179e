#include "dunning/ingest/event.hpp"

namespace dunning::ingest {

bool apply_fact(store::Store& store, const Fact& f) {
  return std::visit(
      [&](const auto& row) -> bool {
        using T = std::decay_t<decltype(row)>;
        if constexpr (std::is_same_v<T, store::CustomerRow>) {
          return store.upsert_customer(row);
        } else if constexpr (std::is_same_v<T, store::PaymentMethodRow>) {
          return store.upsert_payment_method(row);
        } else if constexpr (std::is_same_v<T, store::DefaultCardRow>) {
          return store.set_default_card(row);
        } else if constexpr (std::is_same_v<T, store::SubscriptionRow>) {
          return store.upsert_subscription(row);
        } else {
          return store.insert_payment(row);
        }
      },
      f);
}

Applied apply_event(store::Store& store, const Event& e) {
  if (!store.insert_event(e.id, e.source, e.type, e.payload, e.received_at)) {
    return Applied::kDuplicate;
  }
  for (const auto& f : e.facts) apply_fact(store, f);
  return Applied::kWritten;
}

}  // namespace dunning::ingest
