// Internal to the PostgreSQL engine: what every interface's implementation shares — the guard
// that turns driver errors into StoreError, and the shared readers (store/decode.hpp) over one row
// of a result.
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
#include "store/decode.hpp"
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

inline std::optional<std::string> opt_iso(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return iso(*t);
}

// One row of a result, for the shared readers (store/decode.hpp).
struct RowAt {
  const Rows& rows;
  int row;
  std::string text(int col) const { return rows.text(row, col); }
  std::optional<std::string> opt_text(int col) const { return rows.opt_text(row, col); }
  std::int64_t int64(int col) const { return rows.int64(row, col); }
  bool is_integer(int col) const { return rows.is_integer(row, col); }
  std::optional<std::int64_t> opt_int64(int col) const { return rows.opt_int64(row, col); }
};
inline CaseRecord read_case(const Rows& r, int row) { return decode_case(RowAt{r, row}); }
inline OutboxRow read_outbox(const Rows& r, int row) { return decode_outbox(RowAt{r, row}); }

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
