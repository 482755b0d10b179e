#include "dunning/ingest/event.hpp"

#include <nlohmann/json.hpp>

#include "dunning/core/crypto.hpp"

namespace dunning::ingest {

bool apply_fact(store::FactsWriter& facts, const Fact& f) {
  return std::visit(
      [&](const auto& row) -> bool {
        using T = std::decay_t<decltype(row)>;
        if constexpr (std::is_same_v<T, store::CustomerRow>) {
          return facts.upsert_customer(row);
        } else if constexpr (std::is_same_v<T, store::PaymentMethodRow>) {
          return facts.upsert_payment_method(row);
        } else if constexpr (std::is_same_v<T, store::DefaultCardRow>) {
          return facts.set_default_card(row);
        } else if constexpr (std::is_same_v<T, store::SubscriptionRow>) {
          return facts.upsert_subscription(row);
        } else {
          return facts.append_payment(row);
        }
      },
      f);
}

std::string canonical_hash(std::string_view source, std::string_view payload) {
  auto doc = nlohmann::json::parse(payload, nullptr, false);
  if (doc.is_discarded()) return sha256_hex(payload);  // not JSON: the bytes themselves
  if (source == "stripe" && doc.is_object()) doc.erase("pending_webhooks");
  return sha256_hex(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Applied apply_event(store::FactsWriter& facts, const Event& e) {
  if (!facts.record_event(e.id, e.source, e.type, e.payload, e.received_at)) {
    auto stored = facts.event_payload(e.id);
    if (stored && canonical_hash(e.source, *stored) != canonical_hash(e.source, e.payload)) {
      return Applied::kConflict;
    }
    return Applied::kDuplicate;
  }
  for (const auto& f : e.facts) apply_fact(facts, f);
  return Applied::kWritten;
}

}  // namespace dunning::ingest
