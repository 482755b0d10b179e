// Internal: the PostgreSQL engine. One class per interface, each in its own file of this folder,
// all sharing one PgDatabase (connection + prepared statements). The SQL is the SQLite engine's
// wherever the dialects agree (numbered parameters are translated to $N by the connection);
// what differs is said where it differs.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "dunning/store/engine.hpp"
#include "dunning/store/leadership.hpp"
#include "store/postgres/database.hpp"

namespace dunning::store::postgres {

class PgPaymentsFeed final : public PaymentsFeed {
 public:
  explicit PgPaymentsFeed(PgDatabase& db) : db_(db) {}
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
  PgDatabase& db_;
};

class PgFactsWriter final : public FactsWriter {
 public:
  explicit PgFactsWriter(PgDatabase& db) : db_(db) {}
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
  PgDatabase& db_;
};

class PgCases final : public Cases {
 public:
  explicit PgCases(PgDatabase& db) : db_(db) {}
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
  PgDatabase& db_;
  std::set<std::string> reported_;  // undecodable rows already logged (see read_or_skip)
};

class PgOutbox final : public Outbox {
 public:
  explicit PgOutbox(PgDatabase& db) : db_(db) {}
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
  PgDatabase& db_;
  std::set<std::string> reported_;  // undecodable rows already logged (see read_or_skip)
};

class PgContactBook final : public ContactBook {
 public:
  explicit PgContactBook(PgDatabase& db) : db_(db) {}
  void mark_unreachable(const std::string& customer_id, Channel channel, const std::string& address,
                        const std::string& reason, TimePoint at) override;
  std::optional<ContactStatus> contact_status(const std::string& customer_id, Channel channel,
                                              const std::string& address) override;
  void pause_channel(Channel channel, const std::string& reason, TimePoint since,
                     TimePoint retry_at) override;
  void resume_channel(Channel channel) override;
  std::vector<ChannelPause> channel_pauses() override;

 private:
  PgDatabase& db_;
};

class PgLedgerBook final : public LedgerBook {
 public:
  explicit PgLedgerBook(PgDatabase& db) : db_(db) {}
  std::int64_t append(const LedgerEntry& e) override;
  std::vector<LedgerEntry> page(const LedgerPage& page) override;
  void for_each(std::optional<TimePoint> from, std::optional<TimePoint> to,
                const std::function<void(const LedgerEntry&)>& fn) override;
  std::optional<TimePoint> last_click(std::int64_t case_id, TimePoint at) override;
  std::vector<LedgerEntry> for_case(std::int64_t case_id) override;

 private:
  PgDatabase& db_;
};

class PgReportQueries final : public ReportQueries {
 public:
  explicit PgReportQueries(PgDatabase& db) : db_(db) {}
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
  PgDatabase& db_;
};

class PgSimulation final : public Simulation {
 public:
  explicit PgSimulation(PgDatabase& db) : db_(db) {}
  void prepare() override;
  int release_payments(TimePoint until) override;

 private:
  PgDatabase& db_;
};

class PgEngine final : public Engine {
 public:
  explicit PgEngine(std::unique_ptr<PgDatabase> db);
  PgDatabase& postgres() { return *db_; }

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
  std::unique_ptr<PgDatabase> db_;  // first: the interfaces below refer to it
  PgPaymentsFeed feed_;
  PgFactsWriter facts_;
  PgCases cases_;
  PgOutbox outbox_;
  PgContactBook contacts_;
  PgLedgerBook ledger_;
  PgReportQueries reports_;
  PgSimulation simulation_;
};

// True for the database values this engine opens: postgresql://... and postgres://...
bool is_postgres_uri(std::string_view database);
// Opens `spec` as an engine (see store::open_engine).
Result<std::unique_ptr<PgEngine>> open_postgres(const ConnectSpec& spec, OpenMode mode);
// The poller election on its own session connection (see leadership.hpp).
Result<std::unique_ptr<Leadership>> open_pg_leadership(const ConnectSpec& spec,
                                                       const std::string& instance_id,
                                                       Seconds poll_interval);

}  // namespace dunning::store::postgres
