// The ledger book: the append-only record finance signs. Rows are never updated or deleted (the
// schema refuses both); a mistake is corrected by a new correction row. Which rows a case gets
// and how a recovery is attributed is decided in ledger/ (attribution.hpp), not here.
// One instance per connection, not thread-safe. Throws StoreError only (a second close row for a
// case included). Appends join the caller's Tx, so a close row commits with its case.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/names.hpp"

namespace dunning::store {

// What a ledger row records. The close row of a case is one of the first four (at most one per
// case); partial and late payments and corrections come beside it. Spelled in SQL, CSV, JSON and
// the reports by to_string(); text that is none of these is an error (parse_ledger_kind).
enum class LedgerKind {
  kRecovered,                // the customer paid after a step reached them
  kRecoveredWithoutContact,  // paid before any step was sent (or a holdout case)
  kLost,
  kCancelled,
  kPartial,     // part of the failed amount arrived; the case stays open
  kLate,        // money after the case was written off or cancelled
  kCorrection,  // a signed amount correcting row `corrects` (a refund, an adjustment)
};
std::string_view to_string(LedgerKind k);
std::optional<LedgerKind> parse_ledger_kind(std::string_view text);
DUNNING_JSON_AS_NAME(LedgerKind)
// Rows whose amount is money the business received: the recoveries, partial and late payments.
bool brings_money_in(LedgerKind k);
bool is_recovery(LedgerKind k);  // recovered | recovered_without_contact

// How a recovery was credited: to the last step sent before the money, or to a click on the
// card-update link. kNone on every row that is not a recovery.
enum class Attribution { kNone, kStep, kClick };
std::string_view to_string(Attribution a);  // "" | "step" | "click"
std::optional<Attribution> parse_attribution(std::string_view text);
DUNNING_JSON_AS_NAME(Attribution)

struct LedgerEntry {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  // A correction carries a signed amount in the corrected row's currency and `corrects` = that
  // row's id.
  LedgerKind kind = LedgerKind::kCorrection;
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
  std::optional<int> days_to_recover;  // whole days from opened_at to occurred_at (recovered*)
  Attribution attribution = Attribution::kNone;  // recovered rows only
  std::optional<TimePoint> clicked_at;   // the click that won it, when attribution is kClick
  std::optional<std::int64_t> corrects;  // correction rows: the ledger row they correct
  std::string note;
};

// One page of the ledger in occurred_at order, for listings that must not hold the whole ledger:
// rows in [from, to) after the row (after_at, after_id) — the last row of the previous page.
struct LedgerPage {
  std::optional<TimePoint> from;
  std::optional<TimePoint> to;
  std::optional<TimePoint> after_at;  // with after_id: start after this row (keyset, not offset)
  std::int64_t after_id = 0;
  int limit = 1000;
};

class LedgerBook {
 public:
  LedgerBook() = default;
  LedgerBook(const LedgerBook&) = delete;
  LedgerBook& operator=(const LedgerBook&) = delete;
  virtual ~LedgerBook() = default;

  // Appends `e` (its id is ignored) and returns the new row's id. Throws StoreError for a second
  // row other than a correction for the same case.
  virtual std::int64_t append(const LedgerEntry& e) = 0;
  // Streams the rows with occurred_at in [from, to) (open ends when absent), in occurred_at
  // order: memory does not grow with the ledger. `fn` must not call back into this connection.
  virtual void for_each(std::optional<TimePoint> from, std::optional<TimePoint> to,
                        const std::function<void(const LedgerEntry&)>& fn) = 0;
  // At most page.limit rows of page's range after its keyset, in for_each's order.
  virtual std::vector<LedgerEntry> page(const LedgerPage& page) = 0;
  // Every row of the case (its close row, partial and late payments, corrections), by id.
  virtual std::vector<LedgerEntry> for_case(std::int64_t case_id) = 0;
  // The latest click on the case's card-update link at or before `at` (click attribution).
  virtual std::optional<TimePoint> last_click(std::int64_t case_id, TimePoint at) = 0;
};

}  // namespace dunning::store
