// Internal to the PostgreSQL engine: the connection (READ COMMITTED, the server's default), its
// transactions and savepoints, the writer lock that makes a Tx behave like SQLite's BEGIN
// IMMEDIATE, the commit-order horizon of the fed tables, and opening = migrating to
// kSchemaVersion (migrations.hpp).
//
// Write transactions. dunningd's callers were written against SQLite, where a Tx holds the one
// write lock from its first statement to its end: what a tick reads cannot change under it. A Tx
// here takes a transaction-scoped advisory lock (the writer lock, one per database and schema)
// before its first statement, so write transactions of every instance run one after the other
// exactly as they did on SQLite, and no two of them can dead-lock. Outbox::claim is the one
// statement that does not take it: claims of several instances run side by side, each leasing
// rows with SELECT ... FOR UPDATE SKIP LOCKED, while a tick or a batch of outcomes is written.
//
// Fed tables (payments, card_changes, subscription_changes, case_events). Their positions come
// from a sequence, and a sequence hands out numbers in the order transactions *ask*, not the
// order they commit: a reader that moved its cursor past 11 while the transaction holding 10 was
// still open would never see 10. So every position is drawn by dunning_next_seq(), which first
// takes a shared advisory lock of that sequence for the rest of its transaction, and horizon()
// reads the sequence's last value only when it can take that lock exclusively, without waiting:
// at that moment no transaction holding a position is open, so every position up to that value
// is final. When the lock is busy the previous horizon stands (the feed waits for the next call);
// inserters never wait for a reader for longer than one read of the sequence.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "dunning/core/result.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/engine.hpp"
#include "store/postgres/pg.hpp"

namespace dunning::store::postgres {

class PgDatabase final : public Database {
 public:
  // Connects and migrates to kSchemaVersion (kExisting: refuses a database without dunningd's
  // schema instead of creating it).
  static Result<std::unique_ptr<PgDatabase>> open(const ConnectSpec& spec, OpenMode mode);
  ~PgDatabase() override;

  int schema_version() override;
  bool in_transaction() const override { return in_tx_; }
  std::string describe() const override { return redact_uri(conn_.spec().uri); }

  // Runs the cached statement for `sql`; inside a Tx it first takes the writer lock.
  Rows query(std::string_view sql, const Params& params = {});
  // The same without the writer lock: for statements that are safe beside concurrent writers
  // on their own (Outbox::claim).
  Rows query_unserialized(std::string_view sql, const Params& params = {});
  // Streams the rows of `sql` (see Conn::stream); inside a Tx it first takes the writer lock.
  template <typename Fn>
  void stream(std::string_view sql, const Params& params, Fn&& fn) {
    before_statement(true);
    conn_.stream(sql, params, std::forward<Fn>(fn));
  }

  // The position up to which rows of the table fed by `sequence` are final: every row with a
  // position <= horizon that will ever be visible is visible now. See the file comment.
  std::int64_t horizon(const std::string& sequence);

  Conn& conn() { return conn_; }
  const ConnectSpec& spec() const { return conn_.spec(); }
  // The key of this database's advisory locks (one per database and schema): the writer lock
  // is (key, 1), the poller's (key, 2), the migration's (key, 3).
  std::int32_t lock_key() const { return lock_key_; }
  std::int64_t statements_prepared() const { return conn_.prepared(); }

 protected:
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  int savepoint() override;
  void release(int depth) override;
  void rollback_to(int depth) noexcept override;

 private:
  explicit PgDatabase(const ConnectSpec& spec);
  void before_statement(bool serialized);
  void set_up_session();

  Conn conn_;
  std::int32_t lock_key_ = 0;
  bool in_tx_ = false;
  bool writer_locked_ = false;
  int savepoints_ = 0;
  std::map<std::string, std::int64_t> horizons_;  // per sequence, the last final position seen
};

}  // namespace dunning::store::postgres
