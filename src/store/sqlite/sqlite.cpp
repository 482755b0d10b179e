#include "store/sqlite/sqlite.hpp"

#include <unistd.h>

namespace dunning::store::sqlite {

namespace {

// How long a statement waits for a lock another connection holds before it fails "database is
// locked" (the poll then retries at the next interval and /healthz reports it).
constexpr int kBusyDeadlineMs = 15000;

// Waits in steps of 0.5-1.5 ms. SQLite's own busy timeout backs off to 100 ms sleeps; next to a
// billing system that commits back to back, its lock is free only for a few microseconds
// between two of those transactions, and a waiter that sleeps 100 ms almost never lands in that
// gap: the poller starves. Short sleeps with jitter catch the gap within milliseconds.
int busy_handler(void* /*unused*/, int attempt) {
  // ~1 ms per attempt on average: attempts bound the wait without reading a clock.
  if (attempt >= kBusyDeadlineMs) return 0;
  const unsigned jitter = static_cast<unsigned>(attempt * 2654435761u) % 1000u;
  ::usleep(500 + jitter);
  return 1;
}

}  // namespace

Db::Db(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    throw SqliteError("cannot open database " + path + ": " + msg, rc);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_handler(raw, busy_handler, nullptr);
}

void Db::fail(const std::string& what, int code) const {
  throw SqliteError(what + ": " + sqlite3_errmsg(db_.get()), code);
}

void Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw SqliteError("SQL failed: " + msg, rc);
  }
}

Stmt::Stmt(Db& db, std::string_view sql) : db_(&db) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) db.fail("prepare \"" + std::string(sql.substr(0, 60)) + "...\"", rc);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  int rc = sqlite3_bind_int64(stmt_.get(), i, v);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  int rc =
      sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

Stmt& Stmt::bind(int i, std::nullopt_t) {
  int rc = sqlite3_bind_null(stmt_.get(), i);
  if (rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail("step", rc);
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }

bool Stmt::is_integer(int col) const {
  return sqlite3_column_type(stmt_.get(), col) == SQLITE_INTEGER;
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)));
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

std::optional<std::int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more can be done in a destructor
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

StatementCache::Lease::~Lease() {
  if (stmt_ == nullptr) return;
  stmt_->reset();
  if (busy_ != nullptr) *busy_ = false;
}

StatementCache::Lease StatementCache::get(std::string_view sql) {
  auto it = entries_.find(sql);
  if (it == entries_.end()) {
    ++prepared_;
    it = entries_.emplace(std::string(sql), std::make_unique<Entry>(Stmt(*db_, sql))).first;
  } else if (it->second->busy) {
    ++prepared_;
    auto own = std::make_unique<Stmt>(*db_, sql);
    Stmt* raw = own.get();
    return Lease(raw, nullptr, std::move(own));
  }
  Entry& e = *it->second;
  e.busy = true;
  return Lease(&e.stmt, &e.busy, nullptr);
}

}  // namespace dunning::store::sqlite
