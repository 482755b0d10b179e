// Internal to the PostgreSQL engine: what every interface's implementation shares — the guard
// that turns driver errors into StoreError, time and money decoding of dunningd's own tables,
// and the column lists and readers of cases and outbox rows (the same lists as SQLite's).
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/report_queries.hpp"
#include "store/postgres/pg.hpp"

namespace dunning::store::postgres {

// Runs `f`, turning a driver error into StoreError with the operation named. Every public method
// of the engine runs its SQL through here, so nothing but StoreError leaves the store.
template <typename F>
auto guard(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const PgError& e) {
    throw StoreError(std::string(what) + ": " + e.what());
  }
}

inline std::string iso(TimePoint t) { return format_iso8601(t); }
inline std::optional<std::string> opt_iso(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return iso(*t);
}

// Times of dunningd's own tables: written by dunningd, so an unreadable one is a corrupt row.
TimePoint parse_time(const std::string& s, const char* what);
std::optional<TimePoint> parse_opt_time(const std::optional<std::string>& s, const char* what);
// Three upper-case letters: what Money requires of a currency code.
bool currency_code(std::string_view c);
// Money of dunningd's own tables (throws StoreError instead of Money's logic_error).
Money money(std::int64_t minor, const std::string& currency, const char* what);
// "?4, ?5, ?6": `n` numbered parameters starting at `first` (an IN list).
std::string placeholders(int first, std::size_t n);

inline constexpr std::string_view kCaseColumns =
    "id, trigger, customer_id, subscription_id, invoice_id, payment_id, amount_minor, currency, "
    "decline_code, sequence_id, sequence_hash, state, opened_at, closed_at, next_step, "
    "next_due_at, attempt_count, holdout, paid_minor, card_updated_at";
CaseRecord read_case(const Rows& r, int row);

inline constexpr std::string_view kOutboxColumns =
    "id, case_id, step_index, channel, template, action, message_key, state, attempts, due_at, "
    "created_at, sent_at, last_error, card_id";
OutboxRow read_outbox(const Rows& r, int row);

// Appends read(r, row) to `out`, or skips a row that cannot be decoded (a time an earlier version
// wrote with a five-digit year, a corrupt currency) and logs it the first time `reported` sees
// it: one bad row of the poll's queries must not fail every poll. The row's id is column 0.
// (The SQLite engine's read_or_skip, over a result's row.)
template <typename T, typename Read>
void read_or_skip(std::set<std::string>& reported, const Rows& r, int row, const char* table,
                  Read read, std::vector<T>& out) {
  try {
    out.push_back(read(r, row));
  } catch (const StoreError& e) {
    if (reported.insert(std::string(table) + ":" + r.text(row, 0)).second) {
      spdlog::error("{} row {} cannot be read ({}); skipped until it is repaired", table,
                    r.text(row, 0), e.what());
    }
  }
}

// `SELECT <label>, <label>, <count>` rows.
std::vector<Count> read_counts(const Rows& r);

}  // namespace dunning::store::postgres
