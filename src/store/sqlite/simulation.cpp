#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

void SqliteSimulation::prepare() {
  guard("prepare_simulation", [&] {
    Db& db = db_.raw();
    // A simulation copy is disposable and this connection is its only user: no fsync, the
    // rollback journal in memory instead of a WAL file, no file locks taken per statement
    // (exclusive locking), and a page cache that holds the year's working set instead of
    // re-reading pages from the OS at every query.
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
-- In time order, so that each day's release reads and deletes neighbouring pages.
CREATE TABLE simulation_payments AS SELECT * FROM payments ORDER BY occurred_at, rowid;
CREATE INDEX simulation_payments_at ON simulation_payments(occurred_at);
DELETE FROM payments;
)sql");
    tx.commit();
    // Only now: the copy above (sorted), its index and the emptied tables change every page of
    // the payments; their undo journal and sort go to files, not the heap (they grow with the
    // year). A day's transaction later changes a few pages: its journal in memory is small.
    // The bigger page cache too comes only now: the sort of the copy would fill it as well.
    db.exec("PRAGMA journal_mode=MEMORY");
    db.exec("PRAGMA temp_store=MEMORY");
    db.exec("PRAGMA cache_size=-32768");
  });
}

int SqliteSimulation::release_payments(TimePoint until) {
  return guard("release_payments", [&] {
    auto ins = db_.prepare(
        "INSERT INTO payments SELECT * FROM simulation_payments WHERE occurred_at <= ? "
        "ORDER BY occurred_at, rowid");
    ins.bind(1, iso(until)).run();
    const int n = db_.raw().changes();
    auto del = db_.prepare("DELETE FROM simulation_payments WHERE occurred_at <= ?");
    del.bind(1, iso(until)).run();
    return n;
  });
}

}  // namespace dunning::store::sqlite
