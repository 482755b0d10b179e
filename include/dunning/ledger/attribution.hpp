// Ledger attribution: who won a recovered payment, how long it took, and how a case that ends
// some other way is written down. Pure functions over values; the caller stores the row.
#pragma once

#include <optional>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/ledger_book.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"

namespace dunning::ledger {

// Whole days from `opened` to `closed` (floor; 0 when paid the same day).
int days_between(TimePoint opened, TimePoint closed);

// Completes a recovered row: `kind` becomes recovered (a step was delivered or the link was
// clicked before the payment) or recovered_without_contact, `days_to_recover` is set, and the
// winner is the clicked link when there was a click (attribution "click", with the step whose
// message carried it), else the last step delivered before the payment (attribution "step").
// REQUIRES: e.opened_at, e.occurred_at and e.amount are set.
void attribute_recovery(store::LedgerEntry& e, const std::optional<store::OutboxRow>& last_step,
                        std::optional<TimePoint> last_click);

// The fields every row of a case carries: the case's ids, its open amount, sequence, decline
// code and opening time; `occurred_at` = at, `recorded_at` = now.
store::LedgerEntry case_entry(const store::CaseRecord& c, store::LedgerKind kind, TimePoint at,
                              TimePoint now);

// A recovered or recovered_without_contact row for payment `p` of case `c`: the amount actually
// paid, attributed by attribute_recovery.
store::LedgerEntry recovered_entry(const store::CaseRecord& c, const store::Payment& p,
                                   const std::optional<store::OutboxRow>& last_step,
                                   std::optional<TimePoint> last_click, TimePoint now);

// A `partial` row: payment `p` paid part of what case `c` still owes; the case stays open for
// the rest. Attributed like a recovery (the money was won back by the same contact).
store::LedgerEntry partial_entry(const store::CaseRecord& c, const store::Payment& p,
                                 const std::optional<store::OutboxRow>& last_step,
                                 std::optional<TimePoint> last_click, TimePoint now);

// A `late` row: payment `p` paid the invoice of case `c` after the case was closed as lost or
// cancelled. Not a recovery of the sequence (no attribution); finance sees it on its own line.
store::LedgerEntry late_entry(const store::CaseRecord& c, const store::Payment& p, TimePoint now);

// A `lost` row: the case's amount written off by its final action, step `step_index` (0-based).
store::LedgerEntry lost_entry(const store::CaseRecord& c, int step_index, Action action,
                              TimePoint at, TimePoint now);

// A `cancelled` row: the customer ended the subscription while the case was open. The amount is
// the case's open amount (not recovered, and not written off by dunningd).
store::LedgerEntry cancelled_entry(const store::CaseRecord& c, TimePoint at, TimePoint now,
                                   const std::string& reason);

// A correction row for `original`: `delta` (same currency) is added to it in every report.
// REQUIRES: delta.currency() == original.amount.currency().
store::LedgerEntry correction_entry(const store::LedgerEntry& original, const Money& delta,
                                    TimePoint now, const std::string& note);

}  // namespace dunning::ledger
