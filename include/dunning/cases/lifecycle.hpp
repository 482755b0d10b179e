// The life cycle of a case: open → (steps…) → recovered | lost | cancelled, with paused reachable
// by an admin, and the money that moves after it opened (partial payments, payments after the
// case closed, refunds). Each transition does ALL of its writes — the case row, its pending
// outbox rows, its timeline and its ledger rows — in the caller's transaction, so no case is
// ever half closed and no path forgets one of the four.
//
// When a transition happens is not decided here: the scheduler (from payment facts and the
// rules' plan) and the read API (an admin's pause/resume/close) decide; this module only does it.
// Which ledger row a transition gets, and how a recovery is attributed, is ledger/attribution's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/ledger_book.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"

namespace dunning::cases {

// What a payment did to a case (for the caller's counts and log line).
enum class PaymentEffect {
  kRecovered,  // the case is closed as recovered (or recovered without contact)
  kPartial,    // part of the amount arrived; the case stays open for the rest
  kLate,       // the case had already ended as lost or cancelled: a `late` ledger row
  kNone,       // nothing to do (another currency, a duplicate, no case)
};

class Lifecycle {
 public:
  // Every method writes through these and REQUIRES the caller's Tx on their database.
  Lifecycle(store::Cases& cases, store::Outbox& outbox, store::LedgerBook& ledger);
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

  // Inserts `c` (id ignored, set on return) with its "opened" event (`why`: which sequence and
  // why) and, for holdout cases, the "holdout" event. Returns the new id.
  std::int64_t open(store::CaseRecord& c, const std::string& why, TimePoint now);

  // Payment `p` (succeeded) for case `c`, in state open or paused. The full outstanding amount
  // (or more) closes it as recovered; less keeps it open with a `partial` row. A payment in
  // another currency than the case's also closes it (the invoice is paid), recorded in the
  // currency that moved. Attribution: the last step delivered before `p`, or the clicked link;
  // a step whose sender stopped between sending and recording counts as (unconfirmed) contact.
  PaymentEffect pay(const store::CaseRecord& c, const store::Payment& p, TimePoint now);
  // Payment `p` for a case that already ended as lost or cancelled: a `late` row, timeline.
  PaymentEffect pay_late(const store::CaseRecord& c, const store::Payment& p, TimePoint now);
  // A refund (payments row `refunded`, amount > 0) of money the ledger recorded for case `c`:
  // a correction row that takes it off the recovered (or partial/late) row it refunds.
  // False when the case has no such row (the refund is not about money dunningd won back).
  bool refund(const store::CaseRecord& c, const store::Payment& refund, TimePoint now);

  // The sequence's final step (cancel / pause / mark_lost) is due: the case is written off
  // (`lost` row of the outstanding amount; none for card_expiring cases, where no money was at
  // stake), its pending steps cancelled, and the final action queued for the billing system.
  // `note` says what the action will do (or that nothing can be cancelled without billing).
  void write_off(const store::CaseRecord& c, int step_index, const config::Step& final_step,
                 const std::string& note, TimePoint now);
  // The subscription ended, or an admin closed the case: `cancelled` row of the outstanding
  // amount (payment_failed cases), pending steps cancelled.
  void cancel(const store::CaseRecord& c, const std::string& reason, TimePoint now);
  // card_expiring cases: the card was replaced (recovered) or the sequence ended without a new
  // card (lost). No ledger row: no invoice was at stake.
  void card_replaced(const store::CaseRecord& c, const std::string& detail, TimePoint now);
  void expire(const store::CaseRecord& c, TimePoint now);

  // An admin's pause / resume (`who` names them in the timeline). False, and nothing written,
  // when the case is not open (pause) or not paused (resume).
  bool pause(std::int64_t case_id, const std::string& who, TimePoint now);
  bool resume(std::int64_t case_id, const std::string& who, TimePoint now);

 private:
  store::Cases& cases_;
  store::Outbox& outbox_;
  store::LedgerBook& ledger_;
};

// An admin's pause, resume or close of a case, as the read API (POST /v1/cases/{id}/…) and the
// console both offer it: one function, so the two doors cannot drift apart.
enum class AdminAction { kPause, kResume, kClose };
std::string_view to_string(AdminAction a);  // "pause" | "resume" | "close"
std::optional<AdminAction> parse_admin_action(std::string_view text);

struct AdminOutcome {
  enum class Kind { kDone, kNoSuchCase, kRefused } kind = Kind::kNoSuchCase;
  std::optional<store::CaseRecord> before;  // the case as it was (absent: no such case)
  std::string message;                      // kRefused: "case 7 is lost: cannot pause"
};

// Applies `action` to case `id` through a Lifecycle: pause (open → paused), resume (paused →
// open) or close (open or paused → cancelled, with its ledger row). `who` names the admin and
// the door in the timeline ("an admin through the API"). REQUIRES: the caller's Tx; the caller
// commits only on kDone.
AdminOutcome apply_admin_action(store::Cases& cases, store::Outbox& outbox,
                                store::LedgerBook& ledger, std::int64_t id, AdminAction action,
                                const std::string& who, TimePoint now);

}  // namespace dunning::cases
