// The database connection underneath every store interface: transactions, savepoints and the
// schema version. An engine (SQLite today) implements it together with the aggregate interfaces
// that share its connection (see engine.hpp); callers only ever see this abstract type.
//
// Errors: once open, a failing statement throws StoreError, and nothing else leaves the store.
// The caller's Tx is the unit that fails: it rolls back whole and the work is retried later.
// Thread safety: one Database per connection, used by one thread at a time.
#pragma once

#include <stdexcept>
#include <string>

namespace dunning::store {

// The only exception a store method throws: a statement failed, the database is unreachable or a
// row of dunningd's own tables is corrupt. The caller's Tx rolls back.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The schema version this dunningd writes and reads. Every engine migrates to it on open with the
// same numbered migrations (one per version).
inline constexpr int kSchemaVersion = 9;

class Database {
 public:
  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  virtual ~Database() = default;

  // The schema version recorded in the database (kSchemaVersion once the engine is open).
  virtual int schema_version() = 0;
  // True while a Tx is open on this connection (for REQUIRES checks and tests).
  virtual bool in_transaction() const = 0;
  // The engine and location for logs, e.g. "sqlite:/var/lib/dunningd/dunningd.db".
  virtual std::string describe() const = 0;

 protected:
  friend class Tx;
  friend class Savepoint;
  // A write transaction: a SQLite BEGIN IMMEDIATE, so that two writers never dead-lock mid-way.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // Opens a nested point inside the open transaction and returns its depth (1, 2, ...), which
  // names it for release/rollback_to. Points are released or rolled back innermost first.
  virtual int savepoint() = 0;
  virtual void release(int depth) = 0;
  virtual void rollback_to(int depth) noexcept = 0;
};

// A write transaction; rolls back unless committed. Throws StoreError when it cannot begin.
// REQUIRES: no other Tx is open on `db` (transactions do not nest: use a Savepoint).
class Tx {
 public:
  explicit Tx(Database& db);
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;
  ~Tx();
  // Makes every write since the constructor durable. Throws StoreError (and stays rolled back).
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

// A nested point inside a Tx: rolled back (only its own writes) unless released. The ingest API
// wraps each event in one so that a refused event leaves nothing behind while its batch commits.
// REQUIRES: a Tx is open on `db`.
class Savepoint {
 public:
  explicit Savepoint(Database& db);
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  ~Savepoint();
  void release();

 private:
  Database& db_;
  int depth_;
  bool done_ = false;
};

}  // namespace dunning::store
