// The store owns the schema, its migrations and every SQL statement. SQLite (WAL) is the
// embedded default. Business rules live elsewhere: the store only reads and writes rows.
//
// Errors: opening returns a Result. Once open, a failing statement throws StoreError; callers
// treat a whole tick (one transaction) as the unit that fails and is retried later, so nothing
// is half-written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/result.hpp"

namespace dunning::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kSchemaVersion = 5;

// A row of the polled `payments` table.
struct Payment {
  std::int64_t rowid = 0;
  std::string id;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  std::optional<std::string> invoice_id;
  Money amount;
  std::string status;  // failed | succeeded | refunded
  std::string decline_code;
  TimePoint occurred_at;
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

// ---- rows written by the ingest doors (HTTP events, Stripe webhooks, CSV import).
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

enum class CaseState { kOpen, kPaused, kRecovered, kLost, kCancelled };
std::string_view to_string(CaseState s);

struct CaseRecord {
  std::int64_t id = 0;
  std::string trigger;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  std::optional<std::string> invoice_id;
  std::optional<std::string> payment_id;
  Money amount;
  std::string decline_code;
  std::string sequence_id;
  std::string sequence_hash;
  CaseState state = CaseState::kOpen;
  TimePoint opened_at;
  std::optional<TimePoint> closed_at;
  int next_step = 0;
  std::optional<TimePoint> next_due_at;
  int attempt_count = 0;
  bool holdout = false;
};

enum class OutboxState { kPending, kSent, kFailed, kCancelled, kSkipped };
std::string_view to_string(OutboxState s);

struct OutboxRow {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  int step_index = 0;
  std::string channel;  // email | sms | action
  std::string template_name;
  std::string action;       // retry | webhook | cancel | pause | mark_lost (channel == action)
  std::string message_key;  // stable across re-sends: Message-ID / idempotency key
  OutboxState state = OutboxState::kPending;
  int attempts = 0;
  TimePoint due_at;
  TimePoint created_at;
  std::optional<TimePoint> sent_at;
  std::string last_error;
  std::optional<std::string> card_id;  // retries: the card charged (per-card cap)
};

// An address or number a provider refused permanently (see Store::mark_unreachable).
struct ContactStatus {
  std::string customer_id;
  std::string channel;  // email | sms
  std::string address;
  std::string state;  // unreachable
  std::string reason;
  TimePoint at;
};

// A channel stopped for everyone (see Store::pause_channel).
struct ChannelPause {
  std::string channel;
  std::string reason;
  TimePoint since;
  TimePoint retry_at;
};

struct LedgerEntry {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  // recovered | recovered_without_contact | lost | cancelled | correction. A correction carries
  // a signed amount in the corrected row's currency and `corrects` = that row's id.
  std::string kind;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  std::optional<std::string> invoice_id;
  std::optional<std::string> payment_id;
  Money amount;
  std::optional<int> step_index;  // the step that won it (recovered) or closed it (lost)
  std::string channel;
  std::string template_name;
  std::string sequence_id;
  std::string decline_code;
  TimePoint opened_at;
  TimePoint occurred_at;  // when the money arrived / was written off
  TimePoint recorded_at;
  std::optional<int> days_to_recover;    // whole days from opened_at to occurred_at (recovered*)
  std::string attribution;               // "step" | "click" | "" (recovered rows only)
  std::optional<TimePoint> clicked_at;   // the click that won it, when attribution == "click"
  std::optional<std::int64_t> corrects;  // correction rows: the ledger row they correct
  std::string note;
};

// One case of a report's population with its outcome (the close row, if any, plus the sum of
// its corrections).
struct CaseOutcome {
  std::int64_t case_id = 0;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  Money amount;  // the failed amount the case was opened for
  std::string decline_code;
  std::string sequence_id;
  TimePoint opened_at;
  bool holdout = false;
  std::string kind;     // close row kind; "" while the case is open
  Money closed_amount;  // close row amount + corrections (valid when kind != "")
  std::optional<int> step_index;
  std::string channel;
  std::string attribution;
  std::optional<TimePoint> closed_at;  // the close row's occurred_at
  std::optional<int> days_to_recover;
};

// Sent (delivered or executed) outbox steps of the cases opened in a period, counted per
// sequence and step.
struct StepReach {
  std::string sequence_id;
  int step_index = 0;
  std::string channel;
  std::string template_name;  // template, or the action's name
  std::int64_t cases = 0;
};

// A recovery in the report's population with the customer's own succeeded payments for the same
// subscription (and currency) up to and including the recovering payment.
struct RecoveryHistory {
  std::int64_t case_id = 0;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  std::string currency;
  TimePoint recovered_at;
  std::int64_t paid_sum_minor = 0;
  std::int64_t paid_count = 0;
  std::optional<TimePoint> first_paid_at;
};

// A recovered subscription observed for retention: when it was recovered and when (if ever) it
// ended afterwards — a later lost/cancelled ledger row, or the subscription's ended status.
struct RetentionObservation {
  TimePoint recovered_at;
  std::optional<TimePoint> ended_at;
};

// `ledger verify`: recovered ledger rows against the payments they name.
struct VerifyCurrency {
  std::string currency;
  std::int64_t ledger_minor = 0;
  std::int64_t payments_minor = 0;
  std::int64_t rows = 0;
};
struct VerifyMismatch {
  std::int64_t ledger_id = 0;
  std::string payment_id;
  std::string problem;
};

class Store {
 public:
  enum class Mode { kCreate, kExisting };

  // Opens the SQLite file (WAL, synchronous=FULL) and migrates the schema to kSchemaVersion.
  // kExisting fails when the file does not exist, instead of creating an empty database.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path, Mode mode);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  // A write transaction (BEGIN IMMEDIATE); rolls back unless committed.
  class Tx {
   public:
    explicit Tx(Store& s);
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    ~Tx();
    void commit();

   private:
    struct State;
    std::unique_ptr<State> state_;
  };

  int schema_version();

  // A nested transaction point inside a Tx: rolled back (only its own writes) unless released.
  class Savepoint {
   public:
    explicit Savepoint(Store& s);
    Savepoint(const Savepoint&) = delete;
    Savepoint& operator=(const Savepoint&) = delete;
    ~Savepoint();
    void release();

   private:
    Store& store_;
    bool done_ = false;
  };

  // ---- ingest (callers hold a Tx). Each returns true when a row changed.
  // false when an event with this id was already recorded (an idempotent replay).
  bool insert_event(const std::string& id, const std::string& source, const std::string& type,
                    const std::string& payload, TimePoint received_at);
  bool upsert_customer(const CustomerRow& c);
  bool upsert_payment_method(const PaymentMethodRow& m);
  bool set_default_card(const DefaultCardRow& d);
  bool upsert_subscription(const SubscriptionRow& s);
  // Payments are appended facts: a second row with the same id is ignored.
  bool insert_payment(const PaymentRow& p);
  void record_click(std::int64_t case_id, const std::string& customer_id, TimePoint at);
  // Admin actions of the read API; false when the case is not in a state that allows it.
  bool pause_case(std::int64_t id, TimePoint at);
  bool resume_case(std::int64_t id, TimePoint at);
  // Rows of `SELECT <label>, <value>` for metrics and health; the SQL is the store's own.
  struct Count {
    std::string a, b;
    std::int64_t n = 0;
  };
  std::vector<Count> cases_by_state();
  std::vector<Count> outbox_by_channel_state();
  std::vector<Count> recovered_by_currency();
  std::vector<CaseRecord> find_cases(const std::string& state, const std::string& customer,
                                     int limit);

  // ---- polled payments data
  // Up to `limit` payments rows with rowid > after_rowid, oldest first. Rows whose occurred_at
  // cannot be read are logged and left out of `rows`, but `last_rowid` still moves past them so
  // the cursor never sticks on a bad row. last_rowid == after_rowid: nothing new.
  struct PaymentBatch {
    std::vector<Payment> rows;
    std::int64_t last_rowid = 0;
  };
  PaymentBatch payments_after(std::int64_t after_rowid, int limit);
  std::int64_t cursor(const std::string& name);
  void set_cursor(const std::string& name, std::int64_t value);
  std::optional<Customer> customer(const std::string& id);
  std::optional<std::string> subscription_plan(const std::string& subscription_id);
  std::optional<Card> default_card(const std::string& customer_id);

  // ---- cases
  std::optional<CaseRecord> open_case_for_invoice(const std::string& invoice_id);
  std::vector<CaseRecord> open_cases_for_customer(const std::string& customer_id);
  std::optional<CaseRecord> get_case(std::int64_t id);
  // Inserts and returns the new id. REQUIRES: no open case for the same invoice.
  std::int64_t insert_case(const CaseRecord& c);
  // Open cases whose next step is due at or before `now`, oldest first.
  std::vector<CaseRecord> due_cases(TimePoint now, int limit);
  void set_case_progress(std::int64_t id, int next_step, std::optional<TimePoint> next_due_at);
  void close_case(std::int64_t id, CaseState state, TimePoint at, const std::string& reason);
  // The explanation timeline of a case ("opened", "step_queued", "step_skipped", ...).
  void add_case_event(std::int64_t case_id, TimePoint at, const std::string& kind,
                      const std::string& detail);
  struct CaseEvent {
    TimePoint at;
    std::string kind;
    std::string detail;
  };
  std::vector<CaseEvent> case_events(std::int64_t case_id);
  std::vector<CaseRecord> list_cases(const std::string& state_filter, int limit);

  // ---- outbox
  // Inserts a pending row; false (and no change) when the case's step is already in the outbox.
  bool insert_outbox(const OutboxRow& row);
  // Claims up to `limit` pending rows due at `now` whose lease is free, leasing them until
  // now + lease. A row whose lease expired (its sender died) is claimed again.
  std::vector<OutboxRow> claim_outbox(TimePoint now, Seconds lease, int limit);
  // Gives a claimed row back unattempted: frees its lease and undoes the claim's attempt count.
  void release_outbox(std::int64_t id);
  void mark_outbox_sent(std::int64_t id, TimePoint at);
  void mark_outbox_retry(std::int64_t id, TimePoint next_attempt_at, const std::string& error);
  void mark_outbox_final(std::int64_t id, OutboxState state, TimePoint at,
                         const std::string& error);
  // Cancels the case's rows that were not sent yet (the case closed).
  int cancel_pending_outbox(std::int64_t case_id, TimePoint at, const std::string& reason);
  // The last row of the case delivered at or before `at`.
  std::optional<OutboxRow> last_delivered(std::int64_t case_id, TimePoint at);
  std::vector<OutboxRow> outbox_for_case(std::int64_t case_id);
  std::int64_t outbox_depth();
  // Like claim_outbox, but leaves rows of the channels in `skip_channels` untouched.
  std::vector<OutboxRow> claim_outbox(TimePoint now, Seconds lease, int limit,
                                      const std::vector<std::string>& skip_channels);
  // Pending rows of `channel` that are due at `now` (what a channel pause is holding back).
  std::int64_t pending_due(const std::string& channel, TimePoint now);

  // ---- contact status: addresses a provider refused permanently
  void mark_unreachable(const std::string& customer_id, const std::string& channel,
                        const std::string& address, const std::string& reason, TimePoint at);
  // The status of this exact address, when it was marked unreachable.
  std::optional<ContactStatus> contact_status(const std::string& customer_id,
                                              const std::string& channel,
                                              const std::string& address);
  // Hook for the scheduler: true when the customer's *current* address on `channel` (email or
  // sms: the customer's phone) was refused permanently.
  bool channel_unreachable(const std::string& customer_id, const std::string& channel);

  // ---- channel pauses: a refusal not about the recipient stops a channel for everyone
  // Inserts or replaces the pause of `channel`.
  void pause_channel(const std::string& channel, const std::string& reason, TimePoint since,
                     TimePoint retry_at);
  void resume_channel(const std::string& channel);
  // Every paused channel (for /healthz and /metrics: a non-empty list is unhealthy).
  std::vector<ChannelPause> channel_pauses();

  // One more charge attempt was made for the case (a retry the billing system declined).
  void increment_attempt_count(std::int64_t case_id);
  // Case events with id > after_id whose kind is in `kinds`, oldest first (outbound webhooks
  // follow this with a cursor).
  struct CaseEventRow {
    std::int64_t id = 0;
    std::int64_t case_id = 0;
    TimePoint at;
    std::string kind;
    std::string detail;
  };
  std::vector<CaseEventRow> case_events_after(std::int64_t after_id,
                                              const std::vector<std::string>& kinds, int limit);

  // ---- payments written by dunningd itself (the answer of a retry through the billing API)
  // Inserts a payments row; false when a row with this id exists already.
  bool insert_payment(const Payment& p);

  // ---- facts the rules engine needs (issue 3)
  // Send (or planned) times of the customer's email/sms rows across all their cases, pending or
  // sent, at or after `since`.
  std::vector<TimePoint> contact_times(const std::string& customer_id, TimePoint since);
  // Times of the card's retries (any state but cancelled) in [from, to).
  std::vector<TimePoint> retry_times(const std::string& card_id, TimePoint from, TimePoint to);
  int count_case_events(std::int64_t case_id, const std::string& kind);
  bool case_clicked(std::int64_t case_id);
  // Cancels the case's pending email/sms rows (a stop condition for contact only).
  int cancel_pending_contacts(std::int64_t case_id, TimePoint at, const std::string& reason);

  struct CardChange {
    std::int64_t seq = 0;
    std::string payment_method_id;
    std::string customer_id;
  };
  std::vector<CardChange> card_changes_after(std::int64_t seq, int limit);
  struct SubscriptionChange {
    std::int64_t seq = 0;
    std::string subscription_id;
    std::string status;
  };
  std::vector<SubscriptionChange> subscription_changes_after(std::int64_t seq, int limit);
  std::vector<CaseRecord> open_cases_for_subscription(const std::string& subscription_id);

  struct ExpiringCard {
    std::string id;
    std::string customer_id;
    int exp_month = 0;
    int exp_year = 0;
  };
  // Default cards expiring in months [from, to] (inclusive, year*12 + month - 1) that have no
  // card_expiring case yet for that expiry.
  std::vector<ExpiringCard> expiring_cards(int from_month_index, int to_month_index, int limit);
  void record_expiry_case(const ExpiringCard& card, std::int64_t case_id);
  struct SubscriptionInfo {
    std::string id;
    std::string plan;
    std::optional<Money> amount;
  };
  // The customer's most recently updated subscription that is not cancelled.
  std::optional<SubscriptionInfo> customer_subscription(const std::string& customer_id);

  // ---- simulation (only ever on a copy of the database)
  // Writes a consistent copy of the database at `from` to the new file `to` (VACUUM INTO),
  // without migrating or otherwise writing `from`.
  static Status snapshot(const std::filesystem::path& from, const std::filesystem::path& to);
  // Empties dunningd's own tables and the change feeds, and moves every payment into a staging
  // table so that `release_payments` can replay them in occurred_at order. Runs its own
  // transaction and turns off fsync for this connection. REQUIRES: a copy (see snapshot).
  void prepare_simulation();
  // Appends staged payments with occurred_at <= `until` to `payments`; returns how many.
  int release_payments(TimePoint until);

  // ---- ledger (append-only: the schema refuses UPDATE and DELETE)
  std::int64_t insert_ledger(const LedgerEntry& e);
  void for_each_ledger(std::optional<TimePoint> from, std::optional<TimePoint> to,
                       const std::function<void(const LedgerEntry&)>& fn);
  // The latest click on the case's card-update link at or before `at`.
  std::optional<TimePoint> last_click(std::int64_t case_id, TimePoint at);

  // ---- reports (streamed: memory does not grow with the number of cases)
  // Cases opened in [from, to) with their outcome, in the order they were opened.
  void for_each_case_outcome(std::optional<TimePoint> from, std::optional<TimePoint> to,
                             const std::function<void(const CaseOutcome&)>& fn);
  // Per sequence and step: how many cases opened in [from, to) had that step sent.
  std::vector<StepReach> step_reach(std::optional<TimePoint> from, std::optional<TimePoint> to);
  // Recoveries (at or before `as_of`) of cases opened in [from, to), with the customer's payment
  // history: one per recovered subscription and currency, its latest recovery in the period
  // (cases without a subscription id each stand for themselves).
  void for_each_recovery_history(std::optional<TimePoint> from, std::optional<TimePoint> to,
                                 TimePoint as_of,
                                 const std::function<void(const RecoveryHistory&)>& fn);
  // Every recovered subscription recovered at or before `as_of` (all time), for retention.
  void for_each_retention(TimePoint as_of,
                          const std::function<void(const RetentionObservation&)>& fn);
  // Recovered ledger rows summed per currency next to the succeeded payments they name, and the
  // rows whose payment is missing, not succeeded, or of another amount or currency.
  std::vector<VerifyCurrency> verify_recovered(std::vector<VerifyMismatch>* mismatches,
                                               int max_mismatches);

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dunning::store
