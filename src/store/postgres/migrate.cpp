#include "store/postgres/migrate.hpp"

#include <spdlog/spdlog.h>

#include "dunning/store/database.hpp"
#include "store/postgres/migrations.hpp"

namespace dunning::store::postgres::detail {

int schema_version(Conn& conn) {
  auto table = conn.query("SELECT to_regclass('schema_version') IS NOT NULL");
  if (table.text(0, 0) != "t") return 0;
  auto v = conn.query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  return static_cast<int>(v.int64(0, 0));
}

int migrate(Conn& conn, const std::string& where, std::int32_t lock_key) {
  if (schema_version(conn) >= kSchemaVersion) return kSchemaVersion;
  // Another instance may be migrating right now: wait for it (a session lock, taken outside
  // any transaction, so that the transactions after it see what that instance committed), then
  // look again.
  conn.query("SELECT pg_advisory_lock(?1::int, 3)", Params().add(lock_key));
  struct Unlock {
    Conn& conn;
    std::int32_t key;
    ~Unlock() {
      try {
        conn.query("SELECT pg_advisory_unlock(?1::int, 3)", Params().add(key));
      } catch (...) {  // NOLINT(bugprone-empty-catch): a lost session has dropped the lock
      }
    }
  } unlock{conn, lock_key};
  const int from = schema_version(conn);
  for (int v = from; v < kSchemaVersion; ++v) {
    conn.exec("BEGIN");
    try {
      conn.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
      conn.exec(kMigrations[static_cast<std::size_t>(v)]);
      conn.query("INSERT INTO schema_version(version) VALUES (?1)", Params().add(v + 1));
      conn.exec("COMMIT");
    } catch (...) {
      try {
        conn.exec("ROLLBACK");
      } catch (...) {  // NOLINT(bugprone-empty-catch): the connection may be gone
      }
      throw;
    }
    spdlog::info("{} migrated to schema version {}", where, v + 1);
  }
  return from;
}

std::vector<std::string> missing_on_billing_tables(Conn& conn) {
  auto r = conn.query(
      "SELECT 'payments.rowid' WHERE NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
      "to_regclass('payments') AND attname = 'rowid' AND NOT attisdropped) "
      "UNION ALL SELECT 'trigger ' || t.name || ' on ' || t.tbl FROM (VALUES "
      "('payment_methods_default_added', 'payment_methods'), "
      "('payment_methods_default_changed', 'payment_methods'), "
      "('subscriptions_status_changed', 'subscriptions')) AS t(name, tbl) "
      "WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = to_regclass(t.tbl) "
      "AND g.tgname = t.name)");
  std::vector<std::string> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r.text(i, 0));
  return out;
}

}  // namespace dunning::store::postgres::detail
