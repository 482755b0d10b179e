// The poll loop's unit of work: read new payment facts through a cursor, open and close cases,
// ask the rules what is due and write it to the outbox. It never sends anything itself.
#pragma once

#include <atomic>

#include "dunning/cases/lifecycle.hpp"
#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/decline.hpp"
#include "dunning/rules/plan.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/contact_book.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/ledger_book.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"

namespace dunning::scheduler {

struct TickStats {
  int payments_read = 0;
  int cases_opened = 0;
  int cases_recovered = 0;
  int partial_payments = 0;
  int late_payments = 0;  // money for a case already closed as lost or cancelled
  int refunds = 0;        // refunds of recovered money (correction rows)
  int cases_lost = 0;
  int steps_queued = 0;
  int steps_skipped = 0;
  int steps_deferred = 0;  // moved by a send window, payday or a cap
  int cases_cancelled = 0;
  int card_updates = 0;
  int rows_rejected = 0;  // polled rows that could not be decoded (skipped, in rejected_rows)
  // True when the tick stopped at its batch limit (or a stop request) with work left: the caller
  // dispatches what is due, then ticks again at once.
  bool more = false;

  TickStats& operator+=(const TickStats& o);
  bool any() const;  // anything happened at all (for the summary line)
};

// Bounds of one tick: at most `max_batches` transactions (each of at most Scheduler::kBatch
// facts or cases), and none once `*stop` is true. A tick never holds the database longer than
// one batch and never starves dispatch behind a large backlog.
struct TickLimits {
  int max_batches = 8;
  const std::atomic<bool>* stop = nullptr;
};

class Scheduler {
 public:
  // Transactions are taken on `db`, which every interface shares (one connection).
  Scheduler(store::Database& db, store::PaymentsFeed& feed, store::Cases& cases,
            store::Outbox& outbox, store::LedgerBook& ledger, store::ContactBook& contacts,
            const config::Config& cfg, const Clock& clock);

  // One poll: new card changes, payments and subscription changes (in batches, one transaction
  // each, cursor included), expiring cards, then cases whose next step is due — within `limits`.
  // The time is read once, at the start. Throws store::StoreError; the failed batch is rolled
  // back whole and read again on the next tick, and the returned counts (of committed batches
  // only) are lost with the exception. A payments row that cannot be decoded is skipped, logged
  // and recorded (rejected_rows), and the cursor moves past it.
  TickStats tick(const TickLimits& limits = {});

  static constexpr const char* kPaymentsCursor = "payments";
  static constexpr const char* kCardChangesCursor = "card_changes";
  static constexpr const char* kSubscriptionChangesCursor = "subscription_changes";
  static constexpr int kBatch = 500;

 private:
  // One transaction: `work` reads and writes a batch into `batch`; its counts join `total`
  // only once it committed. False when `work` found nothing to do.
  template <typename Work>
  bool batch(TickStats& total, Work&& work);
  void reject(const store::PaymentRead& row, TickStats& stats);
  // The facts the rules decide a step of `c` with, now; `zone_note` says why the customer's own
  // time zone was not used, if it was not.
  rules::SendFacts facts_of(const store::CaseRecord& c, std::string* zone_note = nullptr);
  void on_payment(const store::Payment& p, TickStats& stats);
  void on_failed(const store::Payment& p, TickStats& stats);
  void on_succeeded(const store::Payment& p, TickStats& stats);
  void on_refund(const store::Payment& p, TickStats& stats);
  void open_case(const store::Payment& p, TickStats& stats);
  void advance_case(const store::CaseRecord& c, TickStats& stats);
  void on_card_change(const store::CardChange& change, TickStats& stats);
  void on_subscription_change(const store::SubscriptionChange& change, TickStats& stats);
  void open_expiring_cases(TickStats& stats);
  // Decides one step of a case: skipped with the reason, or queued at its placed time.
  void queue_step(const store::CaseRecord& c, const config::Sequence& seq, const config::Step& step,
                  int step_index, TimePoint nominal, TickStats& stats);
  void write_off(const store::CaseRecord& c, const config::Step& step, int step_index,
                 TickStats& stats);

  store::Database& db_;
  store::PaymentsFeed& feed_;
  store::Cases& cases_;
  store::Outbox& outbox_;
  store::ContactBook& contacts_;
  cases::Lifecycle lifecycle_;
  const config::Config& cfg_;
  const Clock& clock_;
  DeclineTable declines_;
  rules::Capabilities caps_;
  TimePoint now_;  // the tick's time, read once
};

}  // namespace dunning::scheduler
