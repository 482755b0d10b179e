// Ingest: the facts that the three doors (HTTP events, Stripe webhooks, CSV import) turn into
// rows of the polled tables, and how one event is written: its id and its facts together, in the
// caller's transaction, or not at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/result.hpp"
#include "dunning/store/facts_writer.hpp"

namespace dunning::ingest {

// What one Stripe event says about a payment attempt. Stripe describes an attempt in several
// events that arrive in any order, so this is not a row yet: it is put together with what the
// attempt's other events said (store::StripeAttempt) when it is written (see apply_stripe).
struct StripeSignal {
  enum class Kind {
    kInvoiceFailed,   // invoice.payment_failed
    kInvoicePaid,     // invoice.paid, invoice.payment_succeeded
    kAttemptFailed,   // payment_intent.payment_failed, charge.failed: carry the decline code
    kInvoicePayment,  // invoice_payment.paid: links a payment intent or charge to its invoice
    kChargeRefunded,  // charge.refunded
  };
  Kind kind = Kind::kInvoiceFailed;
  std::optional<std::string> invoice_id, payment_intent_id, charge_id, subscription_id;
  std::string customer_id;
  std::string currency;           // ISO 4217, upper case
  std::int64_t amount_minor = 0;  // ISO 4217 minor units (Stripe's special cases converted)
  std::optional<std::int64_t> attempt_count;
  std::optional<std::string> decline_code, message;
  TimePoint occurred_at;
  std::optional<TimePoint> charged_at;     // charge.refunded: when the refunded charge was made
  std::int64_t refunded_minor = 0;         // charge.refunded: amount_refunded (cumulative)
  std::int64_t refunded_before_minor = 0;  // ... and its previous value (previous_attributes)
};

using Fact = std::variant<store::CustomerRow, store::PaymentMethodRow, store::DefaultCardRow,
                          store::SubscriptionRow, store::PaymentRow, StripeSignal>;

// An accepted, validated event, ready to be written.
struct Event {
  std::string id;      // the sender's event id: the idempotency key
  std::string source;  // api | stripe
  std::string type;
  std::string payload;  // the raw body, kept in `events`
  TimePoint received_at;
  std::vector<Fact> facts;  // empty: acknowledged and ignored (an unknown Stripe type)
};

// kDuplicate: the same event again (same id, same canonical body), nothing written.
// kConflict: the id was recorded with a different body; nothing written, the sender is told.
enum class Applied { kWritten, kDuplicate, kConflict };

// The SHA-256 of the body's canonical form (parsed and re-serialised: key order and white space
// do not matter). For Stripe the delivery counter `pending_webhooks` is left out: a re-delivery
// of the same event is the same event.
std::string canonical_hash(std::string_view source, std::string_view payload);

// Writes the event row and its facts. REQUIRES: the caller holds a store::Tx. Throws
// store::StoreError; the caller wraps each event in a store::Savepoint so that a failing event
// leaves nothing behind while the rest of its batch commits.
Applied apply_event(store::FactsWriter& facts, const Event& e);

// Writes one fact; true when a row changed.
bool apply_fact(store::FactsWriter& facts, const Fact& f);

}  // namespace dunning::ingest
