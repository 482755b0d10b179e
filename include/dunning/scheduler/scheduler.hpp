// The poll loop's unit of work: read new payment facts through a cursor, open and close cases,
// ask the rules what is due and write it to the outbox. It never sends anything itself.
#pragma once

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/decline.hpp"
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
  int cases_lost = 0;
  int steps_queued = 0;
  int steps_skipped = 0;
  int steps_deferred = 0;  // moved by a send window, payday or a cap
  int cases_cancelled = 0;
  int card_updates = 0;
  int rows_rejected = 0;  // polled rows that could not be decoded (skipped, in rejected_rows)
};

class Scheduler {
 public:
  // Transactions are taken on `db`, which every interface shares (one connection).
  Scheduler(store::Database& db, store::PaymentsFeed& feed, store::Cases& cases,
            store::Outbox& outbox, store::LedgerBook& ledger, store::ContactBook& contacts,
            const config::Config& cfg, const Clock& clock);

  // One full poll: all new payments (in batches, one transaction each, cursor included), then
  // every case whose next step is due. Throws store::StoreError; a failed batch is rolled back
  // whole and read again on the next tick. A payments row that cannot be decoded is skipped,
  // logged and recorded (rejected_rows), and the cursor moves past it.
  TickStats tick();

  static constexpr const char* kPaymentsCursor = "payments";
  static constexpr const char* kCardChangesCursor = "card_changes";
  static constexpr const char* kSubscriptionChangesCursor = "subscription_changes";
  // Step indices of `on_card_updated` steps in the outbox: kCardUpdatedSteps + 16 * (number of
  // earlier card updates of the case) + the step's position.
  static constexpr int kCardUpdatedSteps = 1000;
  static constexpr int kBatch = 500;

 private:
  void reject(const store::PaymentRead& row, TickStats& stats);
  // True when the address a step on `channel` would use was refused permanently.
  bool unreachable(const std::string& customer_id, const std::string& channel);
  void on_payment(const store::Payment& p, TickStats& stats);
  void open_case(const store::Payment& p, TickStats& stats);
  void recover(store::CaseRecord c, const store::Payment& p, TickStats& stats);
  void advance_case(const store::CaseRecord& c, TickStats& stats);
  void on_card_change(const store::CardChange& change, TickStats& stats);
  void on_subscription_change(const store::SubscriptionChange& change, TickStats& stats);
  void open_expiring_cases(TickStats& stats);
  // Decides one step of a case (skip with a reason, or queue it at its placed time).
  void queue_step(const store::CaseRecord& c, const config::Sequence& seq, const config::Step& step,
                  int step_index, TimePoint nominal, TickStats& stats);
  void close_lost(const store::CaseRecord& c, const config::Step& step, int step_index,
                  TickStats& stats);

  store::Database& db_;
  store::PaymentsFeed& feed_;
  store::Cases& cases_;
  store::Outbox& outbox_;
  store::LedgerBook& ledger_;
  store::ContactBook& contacts_;
  const config::Config& cfg_;
  const Clock& clock_;
  DeclineTable declines_;
};

}  // namespace dunning::scheduler
