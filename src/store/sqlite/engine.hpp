// Internal: the SQLite engine. One class per interface, each in its own file of this folder, all
// sharing one SqliteDatabase (connection + statement cache). The SQL is the schema's own
// (migrations.hpp); statements that both SQLite and PostgreSQL accept are preferred
// (ON CONFLICT ... DO UPDATE / DO NOTHING, RETURNING, numbered parameters).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "dunning/store/engine.hpp"
#include "dunning/store/leadership.hpp"
#include "store/sqlite/database.hpp"

namespace dunning::store::sqlite {

class SqlitePaymentsFeed final : public PaymentsFeed {
 public:
  explicit SqlitePaymentsFeed(SqliteDatabase& db) : db_(db) {}
  std::int64_t cursor(const std::string& name) override;
  void set_cursor(const std::string& name, std::int64_t value) override;
  PaymentBatch payments_after(std::int64_t after_rowid, int limit) override;
  void record_rejected(const RejectedRow& row, TimePoint at) override;
  std::vector<CardChange> card_changes_after(std::int64_t seq, int limit) override;
  std::vector<SubscriptionChange> subscription_changes_after(std::int64_t seq, int limit) override;
  std::vector<ExpiringCard> expiring_cards(int from_month_index, int to_month_index,
                                           int limit) override;
  std::optional<Customer> customer(const std::string& id) override;
  std::optional<Card> default_card(const std::string& customer_id) override;
  std::optional<std::string> subscription_plan(const std::string& subscription_id) override;
  std::optional<Payment> paid_since(const std::string& invoice_id, TimePoint at) override;
  std::optional<SubscriptionInfo> customer_subscription(
      const std::string& customer_id, std::span<const std::string_view> ended_statuses) override;

 private:
  SqliteDatabase& db_;
};

class SqliteFactsWriter final : public FactsWriter {
 public:
  explicit SqliteFactsWriter(SqliteDatabase& db) : db_(db) {}
  bool record_event(const std::string& id, const std::string& source, const std::string& type,
                    const std::string& payload, TimePoint received_at) override;
  std::optional<std::string> event_payload(const std::string& id) override;
  bool upsert_customer(const CustomerRow& c) override;
  bool upsert_payment_method(const PaymentMethodRow& m) override;
  bool set_default_card(const DefaultCardRow& d) override;
  bool upsert_subscription(const SubscriptionRow& s) override;
  bool append_payment(const PaymentRow& p) override;
  std::vector<StripeAttempt> stripe_attempts(const std::optional<std::string>& invoice_id,
                                             const std::optional<std::string>& intent_id,
                                             const std::optional<std::string>& charge_id) override;
  std::vector<StripeAttempt> stripe_attempts_like(const std::string& customer_id,
                                                  const std::string& currency,
                                                  std::int64_t amount_minor, PaymentStatus status,
                                                  TimePoint from, TimePoint to) override;
  void save_stripe_attempt(const StripeAttempt& a) override;
  DeclineFill fill_decline(const std::string& payment_id, const std::string& code,
                           const std::optional<std::string>& message, TimePoint at,
                           const std::string& why) override;

 private:
  SqliteDatabase& db_;
};

class SqliteCases final : public Cases {
 public:
  explicit SqliteCases(SqliteDatabase& db) : db_(db) {}
  std::int64_t insert(const CaseRecord& c) override;
  void record_expiry_case(const ExpiringCard& card, std::int64_t case_id) override;
  std::optional<CaseRecord> get(std::int64_t id) override;
  std::optional<CaseRecord> open_for_invoice(const std::string& invoice_id) override;
  std::optional<CaseRecord> latest_for_invoice(const std::string& invoice_id) override;
  std::vector<CaseRecord> open_for_customer(const std::string& customer_id) override;
  std::vector<CaseRecord> open_for_subscription(const std::string& subscription_id) override;
  std::vector<CaseRecord> due(TimePoint now, int limit) override;
  std::vector<CaseRecord> find(const CaseFilter& filter) override;
  void set_progress(std::int64_t id, int next_step, std::optional<TimePoint> next_due_at) override;
  void set_sequence(std::int64_t id, const std::string& sequence_id,
                    const std::string& sequence_hash) override;
  bool change_state(std::int64_t id, CaseState from, CaseState to) override;
  void close(std::int64_t id, CaseState state, TimePoint at, const std::string& reason) override;
  void increment_attempt_count(std::int64_t id) override;
  void add_paid(std::int64_t id, std::int64_t minor) override;
  void set_card_updated(std::int64_t id, TimePoint at) override;
  void add_event(std::int64_t case_id, TimePoint at, const std::string& kind,
                 const std::string& detail) override;
  std::vector<CaseEvent> events(std::int64_t case_id) override;
  int count_events(std::int64_t case_id, const std::string& kind) override;
  std::vector<CaseEvent> events_after(std::int64_t after_id, std::span<const std::string> kinds,
                                      int limit) override;
  bool record_click(std::int64_t case_id, const std::string& customer_id, TimePoint at,
                    Seconds window) override;
  bool clicked(std::int64_t case_id) override;

 private:
  SqliteDatabase& db_;
  std::set<std::string> reported_;  // undecodable rows already logged (see read_or_skip)
};

class SqliteOutbox final : public Outbox {
 public:
  explicit SqliteOutbox(SqliteDatabase& db) : db_(db) {}
  bool enqueue(const OutboxRow& row) override;
  int cancel_pending(std::int64_t case_id, TimePoint at, const std::string& reason) override;
  int cancel_pending_contacts(std::int64_t case_id, TimePoint at,
                              const std::string& reason) override;
  std::vector<OutboxRow> claim(TimePoint now, Seconds lease, int limit,
                               std::span<const Channel> skip_channels) override;
  void release(std::int64_t id, TimePoint leased_until) override;
  void mark_sent(std::int64_t id, TimePoint at) override;
  void defer(std::int64_t id, TimePoint leased_until, TimePoint until,
             const std::string& reason) override;
  void mark_retry(std::int64_t id, TimePoint next_attempt_at, const std::string& error) override;
  void mark_final(std::int64_t id, OutboxState state, TimePoint at,
                  const std::string& error) override;
  std::vector<OutboxRow> for_case(std::int64_t case_id) override;
  std::optional<OutboxRow> last_delivered(std::int64_t case_id, TimePoint at) override;
  std::int64_t pending_due(Channel channel, TimePoint now) override;
  std::vector<TimePoint> contact_times(const std::string& customer_id, TimePoint since) override;
  std::optional<OutboxRow> unconfirmed_contact(std::int64_t case_id, TimePoint at) override;
  std::vector<TimePoint> sent_contact_times(const std::string& customer_id,
                                            TimePoint since) override;
  std::vector<TimePoint> retries_made(const std::string& card_id, TimePoint since) override;
  std::vector<TimePoint> retry_times(const std::string& card_id, TimePoint from,
                                     TimePoint to) override;

 private:
  SqliteDatabase& db_;
  std::set<std::string> reported_;  // undecodable rows already logged (see read_or_skip)
};

class SqliteContactBook final : public ContactBook {
 public:
  explicit SqliteContactBook(SqliteDatabase& db) : db_(db) {}
  void mark_unreachable(const std::string& customer_id, Channel channel, const std::string& address,
                        const std::string& reason, TimePoint at) override;
  std::optional<ContactStatus> contact_status(const std::string& customer_id, Channel channel,
                                              const std::string& address) override;
  void pause_channel(Channel channel, const std::string& reason, TimePoint since,
                     TimePoint retry_at) override;
  void resume_channel(Channel channel) override;
  std::vector<ChannelPause> channel_pauses() override;

 private:
  SqliteDatabase& db_;
};

class SqliteLedgerBook final : public LedgerBook {
 public:
  explicit SqliteLedgerBook(SqliteDatabase& db) : db_(db) {}
  std::int64_t append(const LedgerEntry& e) override;
  std::vector<LedgerEntry> page(const LedgerPage& page) override;
  void for_each(std::optional<TimePoint> from, std::optional<TimePoint> to,
                const std::function<void(const LedgerEntry&)>& fn) override;
  std::optional<TimePoint> last_click(std::int64_t case_id, TimePoint at) override;
  std::vector<LedgerEntry> for_case(std::int64_t case_id) override;

 private:
  SqliteDatabase& db_;
};

class SqliteReportQueries final : public ReportQueries {
 public:
  explicit SqliteReportQueries(SqliteDatabase& db) : db_(db) {}
  void for_each_case_outcome(std::optional<TimePoint> from, std::optional<TimePoint> to,
                             const std::function<void(const store::CaseOutcome&)>& fn) override;
  std::vector<store::StepReach> step_reach(std::optional<TimePoint> from,
                                           std::optional<TimePoint> to) override;
  void for_each_recovery_history(
      std::optional<TimePoint> from, std::optional<TimePoint> to, TimePoint as_of,
      const std::function<void(const store::RecoveryHistory&)>& fn) override;
  void for_each_retention(
      TimePoint as_of, std::span<const std::string_view> ended_statuses,
      const std::function<void(const store::RetentionObservation&)>& fn) override;
  std::vector<store::VerifyCurrency> verify_recovered(
      std::vector<store::VerifyMismatch>* mismatches, int max_mismatches) override;
  std::vector<Count> cases_by_state() override;
  std::vector<Count> outbox_by_channel_state() override;
  std::vector<Count> recovered_by_currency() override;
  std::vector<Count> rejected_rows_by_table() override;

 private:
  SqliteDatabase& db_;
};

class SqliteSimulation final : public Simulation {
 public:
  explicit SqliteSimulation(SqliteDatabase& db) : db_(db) {}
  void prepare() override;
  int release_payments(TimePoint until) override;

 private:
  SqliteDatabase& db_;
  std::optional<TimePoint> released_until_;  // what earlier calls released: occurred_at <= it
};

class SqliteEngine final : public Engine {
 public:
  explicit SqliteEngine(std::unique_ptr<SqliteDatabase> db);
  SqliteDatabase& sqlite() { return *db_; }

  Database& db() override { return *db_; }
  PaymentsFeed& feed() override { return feed_; }
  FactsWriter& facts() override { return facts_; }
  Cases& cases() override { return cases_; }
  Outbox& outbox() override { return outbox_; }
  ContactBook& contacts() override { return contacts_; }
  LedgerBook& ledger() override { return ledger_; }
  ReportQueries& reports() override { return reports_; }
  Simulation& simulation() override { return simulation_; }

 private:
  std::unique_ptr<SqliteDatabase> db_;  // first: the interfaces below refer to it
  SqlitePaymentsFeed feed_;
  SqliteFactsWriter facts_;
  SqliteCases cases_;
  SqliteOutbox outbox_;
  SqliteContactBook contacts_;
  SqliteLedgerBook ledger_;
  SqliteReportQueries reports_;
  SqliteSimulation simulation_;
};

// Opens the SQLite file `path` as an engine (see store::open_engine).
Result<std::unique_ptr<SqliteEngine>> open_sqlite(const std::filesystem::path& path, OpenMode mode);
// The run lock of `path` (see store::open_leadership): always the leader once it is held.
Result<std::unique_ptr<Leadership>> open_sqlite_leadership(const std::filesystem::path& path,
                                                           const std::string& instance_id);
// VACUUM INTO: a consistent copy of `from` at `to`.
Status snapshot_sqlite(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace dunning::store::sqlite
