// The rows the finance report and `ledger verify` are computed from, as the store's report
// queries stream them (store/report_queries.hpp): plain values over core types. They live in the
// store, below the ledger that reads them, so that dependencies point one way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/store/ledger_book.hpp"

namespace dunning::store {

// Money of a case that is not its close row: a partial payment, a payment after the case ended
// (late), or a correction (a refund is a negative correction of a row that brought money in).
struct MoneyMove {
  LedgerKind kind = LedgerKind::kPartial;  // partial | late | correction
  Money amount;                            // the row's own currency; corrections are signed
  std::optional<LedgerKind> corrected;     // corrections: the kind of the row they correct
  TimePoint occurred_at;
};

// One case of a report's population with its outcome (the close row, if any, plus the sum of
// the corrections of that row) and its other money rows.
struct CaseOutcome {
  std::int64_t case_id = 0;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  Money amount;  // the failed amount the case was opened for
  std::string decline_code;
  std::string sequence_id;
  TimePoint opened_at;
  bool holdout = false;
  std::optional<LedgerKind> kind;  // close row kind; empty while the case is open
  Money closed_amount;             // close row amount + corrections (valid when kind is set)
  std::optional<int> step_index;
  std::string channel;
  Attribution attribution = Attribution::kNone;
  std::optional<TimePoint> closed_at;  // the close row's occurred_at
  std::optional<int> days_to_recover;
  std::vector<MoneyMove> moves;  // partial, late and correction rows, oldest first
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

// `ledger verify`: money ledger rows against the payments they name, per kind and currency.
// kind: recovered (recovered and recovered_without_contact rows: succeeded payments), partial,
// late (succeeded payments), refund (refund correction rows, as positive amounts: refunded
// payments).
struct VerifyCurrency {
  std::string kind = "recovered";
  std::string currency;
  std::int64_t ledger_minor = 0;
  std::int64_t payments_minor = 0;
  std::int64_t rows = 0;
};
// A refunded payment the ledger has no correction for: its amount counts on the payments side
// of the currency's refund line (made if missing), so the line shows the difference.
inline void add_missing_refund(std::vector<VerifyCurrency>& lines, const std::string& currency,
                               std::int64_t amount_minor) {
  for (auto& v : lines) {
    if (v.kind == "refund" && v.currency == currency) {
      v.payments_minor += amount_minor;
      return;
    }
  }
  VerifyCurrency v;
  v.kind = "refund";
  v.currency = currency;
  v.payments_minor = amount_minor;
  lines.push_back(v);
}

struct VerifyMismatch {
  std::int64_t ledger_id = 0;
  std::string payment_id;
  std::string problem;
};

}  // namespace dunning::store
