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

#include "dunning/core/clock.hpp"

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
  std::string status;  // failed | succeeded | refunded
  std::optional<std::string> decline_code, message;
  TimePoint occurred_at;
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
};

}  // namespace dunning::store
