// The payments feed: what dunningd reads of the billing system's tables (payments, payment
// methods, customers, subscriptions) and where each reader has got to. Cursors make a poll cost
// grow with new rows, never with the size of the tables.
//
// The polled tables are written by someone else, so every row they hand back is decoded into a
// Result: a row that cannot be read (a currency "eur", an unreadable time) is an Error value for
// the caller to report, never an exception, and the cursor moves past it.
// One instance per connection, not thread-safe. Throws StoreError only; the caller's Tx rolls back.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/names.hpp"
#include "dunning/core/result.hpp"

namespace dunning::store {

// A payment's status as the `payments` table's CHECK spells it; a row with any other status is
// reported as undecodable (parse_payment_status is nullopt), never read as one of these.
enum class PaymentStatus { kFailed, kSucceeded, kRefunded };
std::string_view to_string(PaymentStatus s);  // failed | succeeded | refunded
std::optional<PaymentStatus> parse_payment_status(std::string_view text);
DUNNING_JSON_AS_NAME(PaymentStatus)

// A decoded row of the polled `payments` table.
struct Payment {
  std::int64_t rowid = 0;
  std::string id;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  std::optional<std::string> invoice_id;
  Money amount;
  PaymentStatus status = PaymentStatus::kFailed;
  std::string decline_code;
  TimePoint occurred_at;
};

// One payments row as read: its position and id (always readable) and the decoded row or why it
// could not be decoded.
struct PaymentRead {
  std::int64_t rowid = 0;
  std::string id;
  Result<Payment> payment;
};

struct PaymentBatch {
  std::vector<PaymentRead> rows;  // oldest first
  std::int64_t last_rowid = 0;    // the cursor after this batch; == after_rowid: nothing new
};

// A row of a polled table that could not be decoded, as it is reported (see record_rejected).
struct RejectedRow {
  std::string table;  // "payments"
  std::int64_t rowid = 0;
  std::string id;
  std::string reason;
};

struct Customer {
  std::string id;
  std::string email;
  std::string name;
  std::string locale;
  std::string time_zone;
  std::string phone;
};

struct Card {
  std::string id;
  std::string brand;
  std::string last4;
  int exp_month = 0;
  int exp_year = 0;
};

struct CardChange {
  std::int64_t seq = 0;
  std::string payment_method_id;
  std::string customer_id;
};

struct SubscriptionChange {
  std::int64_t seq = 0;
  std::string subscription_id;
  std::string status;  // the new status, as the billing system spells it
};

struct ExpiringCard {
  std::string id;
  std::string customer_id;
  int exp_month = 0;
  int exp_year = 0;
};

struct SubscriptionInfo {
  std::string id;
  std::string plan;
  std::optional<Money> amount;  // absent when the row has no amount or no ISO 4217 currency
};

class PaymentsFeed {
 public:
  PaymentsFeed() = default;
  PaymentsFeed(const PaymentsFeed&) = delete;
  PaymentsFeed& operator=(const PaymentsFeed&) = delete;
  virtual ~PaymentsFeed() = default;

  // ---- cursors: named positions of the feed readers ("payments", "card_changes", ...)
  // The stored position of `name`; 0 when it never moved.
  virtual std::int64_t cursor(const std::string& name) = 0;
  // Joins the caller's Tx, so the position moves with the work it covers.
  virtual void set_cursor(const std::string& name, std::int64_t value) = 0;

  // ---- feeds, oldest first
  // Up to `limit` payments rows after `after_rowid`, each decoded or with the reason it cannot
  // be (currency not ISO 4217 upper case, unreadable occurred_at, non-integer amount).
  virtual PaymentBatch payments_after(std::int64_t after_rowid, int limit) = 0;
  // Reports a row that payments_after could not decode, once (a second report of the same table
  // and rowid changes nothing). Joins the caller's Tx, like the cursor that passes the row.
  virtual void record_rejected(const RejectedRow& row, TimePoint at) = 0;
  // Default cards added or changed (brand, last4, expiry, default flag) after `seq`.
  virtual std::vector<CardChange> card_changes_after(std::int64_t seq, int limit) = 0;
  // Subscription status changes after `seq` (every change: the caller decides which end one).
  virtual std::vector<SubscriptionChange> subscription_changes_after(std::int64_t seq,
                                                                     int limit) = 0;
  // Default cards expiring in months [from, to] (inclusive, year * 12 + month - 1) that have no
  // card_expiring case yet for that expiry (see Cases::record_expiry_case).
  virtual std::vector<ExpiringCard> expiring_cards(int from_month_index, int to_month_index,
                                                   int limit) = 0;

  // ---- lookups; nullopt when there is no such row
  virtual std::optional<Customer> customer(const std::string& id) = 0;
  // The customer's default card (the most recently updated one if several claim it).
  virtual std::optional<Card> default_card(const std::string& customer_id) = 0;
  // A succeeded payment for `invoice_id` that occurred at or after `at` (the invoice was paid
  // after that failure, whatever order the facts arrived in); nullopt when there is none.
  virtual std::optional<Payment> paid_since(const std::string& invoice_id, TimePoint at) = 0;
  // The plan of a subscription ("" when the row has none).
  virtual std::optional<std::string> subscription_plan(const std::string& subscription_id) = 0;
  // The customer's most recently updated subscription whose status is not in `ended_statuses`.
  virtual std::optional<SubscriptionInfo> customer_subscription(
      const std::string& customer_id, std::span<const std::string_view> ended_statuses) = 0;
};

}  // namespace dunning::store
