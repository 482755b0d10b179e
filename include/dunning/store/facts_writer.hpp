// The facts writer: what the ingest doors (HTTP events, Stripe webhooks, CSV import) and the
// billing API's answers write into the polled tables, and the idempotency record of events.
// Every write is idempotent: writing the same fact twice changes nothing the second time, so a
// replayed event or a re-imported file is harmless.
// One instance per connection, not thread-safe. Throws StoreError only (a CHECK violation
// included). Writes join the caller's Tx: the doors write one event per Savepoint, so a refused
// event leaves nothing behind while its batch commits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/store/payments_feed.hpp"

namespace dunning::store {

// Optional fields left empty keep what the row already holds.
struct CustomerRow {
  std::string id;
  std::optional<std::string> email, name, locale, time_zone, phone;
  std::optional<TimePoint> created_at;
};

struct PaymentMethodRow {
  std::string id;
  std::string customer_id;
  std::optional<std::string> brand, last4;
  std::optional<int> exp_month, exp_year;
  std::optional<bool> is_default;  // true also clears the customer's other defaults
  TimePoint updated_at;
};

// Makes `payment_method_id` the customer's only default card (inserting a bare row if unknown).
struct DefaultCardRow {
  std::string customer_id;
  std::string payment_method_id;
  TimePoint updated_at;
};

struct SubscriptionRow {
  std::string id;
  std::string customer_id;
  std::optional<std::string> plan, status, currency, interval;
  std::optional<std::int64_t> amount_minor;
  TimePoint updated_at;
};

// A payment as a door received it: the currency is not validated here (the polled table accepts
// what a billing system may write; the feed decodes it).
struct PaymentRow {
  std::string id;
  std::string customer_id;
  std::optional<std::string> subscription_id, invoice_id;
  std::int64_t amount_minor = 0;
  std::string currency;
  PaymentStatus status = PaymentStatus::kFailed;
  std::optional<std::string> decline_code, message;
  TimePoint occurred_at;
};

// One payment attempt as Stripe's webhook events describe it. Stripe sends an attempt's facts in
// several events (invoice.payment_failed without the decline code, payment_intent.payment_failed
// and charge.failed with it), in any order; this row puts together what they said.
struct StripeAttempt {
  std::string key;  // the charge id, else the payment intent id, else "<invoice>:<status>:<n>"
  PaymentStatus status = PaymentStatus::kFailed;  // kFailed | kSucceeded
  std::optional<std::string> invoice_id, payment_intent_id, charge_id;
  std::string customer_id;
  std::string currency;                      // ISO 4217, upper case
  std::optional<std::int64_t> amount_minor;  // ISO 4217 minor units
  std::optional<std::string> decline_code, message;
  TimePoint occurred_at;
  std::optional<std::string> payment_id;  // the payments row written for it, once written
};

// What fill_decline did.
enum class DeclineFill {
  kNothing,     // no such row, or it already has a decline code
  kPaymentRow,  // the failed payments row had not been read yet: its decline code is filled in
  kOpenCase,    // the row had been read: the open case it opened takes the decline code
};

class FactsWriter {
 public:
  FactsWriter() = default;
  FactsWriter(const FactsWriter&) = delete;
  FactsWriter& operator=(const FactsWriter&) = delete;
  virtual ~FactsWriter() = default;

  // Records an ingested event by its sender's id; false when that id was already recorded (an
  // idempotent replay: the caller writes none of its facts).
  [[nodiscard]] virtual bool record_event(const std::string& id, const std::string& source,
                                          const std::string& type, const std::string& payload,
                                          TimePoint received_at) = 0;
  // The body recorded with event `id`; nullopt when there is none.
  virtual std::optional<std::string> event_payload(const std::string& id) = 0;
  // Each upsert returns true when a row changed (a replay or a re-import changes nothing).
  virtual bool upsert_customer(const CustomerRow& c) = 0;
  virtual bool upsert_payment_method(const PaymentMethodRow& m) = 0;
  virtual bool set_default_card(const DefaultCardRow& d) = 0;
  virtual bool upsert_subscription(const SubscriptionRow& s) = 0;
  // Payments are appended facts: false (nothing written) when a row with this id exists.
  virtual bool append_payment(const PaymentRow& p) = 0;

  // ---- Stripe's attempts (the correlation of one attempt's events)
  // Attempts naming any of these ids (an empty optional matches nothing), newest first.
  virtual std::vector<StripeAttempt> stripe_attempts(
      const std::optional<std::string>& invoice_id, const std::optional<std::string>& intent_id,
      const std::optional<std::string>& charge_id) = 0;
  // Attempts of `status` for this customer, currency and amount in [from, to], newest first (API
  // versions that name no invoice on the payment intent and no payment intent on the invoice).
  virtual std::vector<StripeAttempt> stripe_attempts_like(const std::string& customer_id,
                                                          const std::string& currency,
                                                          std::int64_t amount_minor,
                                                          PaymentStatus status, TimePoint from,
                                                          TimePoint to) = 0;
  // Inserts or merges by key: a field already known keeps its value, except a generic decline
  // code ("card_declined", "generic_decline") which a specific one replaces.
  virtual void save_stripe_attempt(const StripeAttempt& a) = 0;
  // A decline code learned after the failed payments row `payment_id` was written without one.
  // When the row was already read, the open case it opened takes the code and a case event
  // `decline_code` at `at` with the caller's `why`.
  virtual DeclineFill fill_decline(const std::string& payment_id, const std::string& code,
                                   const std::optional<std::string>& message, TimePoint at,
                                   const std::string& why) = 0;
};

}  // namespace dunning::store
