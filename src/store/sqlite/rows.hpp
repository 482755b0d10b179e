// Internal to the SQLite engine: what every interface's implementation shares — the guard that
// turns driver errors into StoreError, binding, and the shared readers (store/decode.hpp) over a
// statement.
#pragma once

#include <spdlog/spdlog.h>

#include <optional>
#include <set>
#include <span>
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
#include "store/sqlite/sqlite.hpp"

namespace dunning::store::sqlite {

// Runs `f`, turning a driver error into StoreError with the operation named. Every public method
// of the engine runs its SQL through here, so nothing but StoreError leaves the store.
template <typename F>
auto guard(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SqliteError& e) {
    throw StoreError(std::string(what) + ": " + e.what());
  }
}

// Binds an optional time as ISO 8601 text or NULL.
void bind_time(StatementCache::Lease& s, int i, const std::optional<TimePoint>& t);
// The shared readers (store/decode.hpp) over a statement's current row.
inline CaseRecord read_case(const Stmt& s) { return decode_case(s); }
inline OutboxRow read_outbox(const Stmt& s) { return decode_outbox(s); }

// Appends read(s) to `out`, or skips a row that cannot be decoded (a time an earlier version
// wrote with a five-digit year, a corrupt currency) and logs it the first time `reported` sees
// it: one bad row of the poll's queries must not fail every poll. The row's id is column 0.
template <typename T, typename Read>
void read_or_skip(std::set<std::string>& reported, const Stmt& s, const char* table, Read read,
                  std::vector<T>& out) {
  try {
    out.push_back(read(s));
  } catch (const StoreError& e) {
    if (reported.insert(std::string(table) + ":" + std::to_string(s.int64(0))).second) {
      spdlog::error("{} row {} cannot be read ({}); skipped until it is repaired", table,
                    s.int64(0), e.what());
    }
  }
}

// `SELECT <label>, <label>, <count>` rows.
std::vector<Count> read_counts(StatementCache::Lease& s);

}  // namespace dunning::store::sqlite
