#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

void SqliteSimulation::prepare() {
  guard("prepare_simulation", [&] {
    Db& db = db_.raw();
    // A simulation copy is disposable and this connection is its only user: no fsync, a
    // rollback journal instead of a WAL file, and no file locks taken per statement (exclusive
    // locking).
    db.exec("PRAGMA synchronous=OFF");
    db.exec("PRAGMA locking_mode=EXCLUSIVE");
    sqlite::Transaction tx(db);
    db.exec(R"sql(
DROP TRIGGER IF EXISTS ledger_is_append_only_update;
DROP TRIGGER IF EXISTS ledger_is_append_only_delete;
DELETE FROM ledger; DELETE FROM outbox; DELETE FROM case_events; DELETE FROM card_expiry_cases;
DELETE FROM clicks; DELETE FROM cases; DELETE FROM cursors; DELETE FROM card_changes;
DELETE FROM subscription_changes; DELETE FROM rejected_rows;
DROP TABLE IF EXISTS simulation_payments;
-- In time order, so that each day's release reads neighbouring pages.
CREATE TABLE simulation_payments AS SELECT * FROM payments ORDER BY occurred_at, rowid;
CREATE INDEX simulation_payments_at ON simulation_payments(occurred_at);
DELETE FROM payments;
)sql");
    // The copy's payments lose the one index that another one covers (customer_id is the
    // first column of payments_customer_status): every released row is one B-tree insert
    // fewer, and every query keeps an index to search.
    bool covered = false;
    {
      sqlite::Stmt q(db,
                     "SELECT 1 FROM sqlite_master WHERE type = 'index' AND "
                     "name = 'payments_customer_status'");
      covered = q.step();
    }  // finalized: DROP INDEX needs no statement open on the schema
    if (covered) db.exec("DROP INDEX IF EXISTS payments_customer");
    tx.commit();
    // Memory stays flat in the size of the year: the undo journal is a file (kept between
    // transactions, PERSIST), never the heap — a virtual day's release alone changes a page of
    // every payments index per row, and with journal_mode=MEMORY the journal of 100,000
    // subscriptions' days took 110 MiB of heap. The page cache is 16 MiB: at 100,000
    // subscriptions 32 MiB was no faster (pages evicted are in the OS's cache, a read away).
    // It is set only now: the sort of the copy above would fill it as well.
    db.exec("PRAGMA journal_mode=PERSIST");
    db.exec("PRAGMA cache_size=-16384");
  });
}

int SqliteSimulation::release_payments(TimePoint until) {
  return guard("release_payments", [&] {
    // The staged rows stay where they are: each call reads the index range since the last
    // call's `until` (deleting what was released rewrote the staging table and its index every
    // virtual day, a fifth of a simulated year's time).
    auto ins = released_until_
                   ? db_.prepare(
                         "INSERT INTO payments SELECT * FROM simulation_payments "
                         "WHERE occurred_at > ?2 AND occurred_at <= ?1 ORDER BY occurred_at, rowid")
                   : db_.prepare(
                         "INSERT INTO payments SELECT * FROM simulation_payments "
                         "WHERE occurred_at <= ?1 ORDER BY occurred_at, rowid");
    ins.bind(1, iso(until));
    if (released_until_) ins.bind(2, iso(*released_until_));
    ins.run();
    if (!released_until_ || until > *released_until_) released_until_ = until;
    return db_.raw().changes();
  });
}

}  // namespace dunning::store::sqlite
