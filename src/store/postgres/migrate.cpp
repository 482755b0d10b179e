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
  const int from = schema_version(conn);
  for (int v = from; v < kSchemaVersion; ++v) {
    conn.exec("BEGIN");
    try {
      // Another instance may be migrating right now: wait for it, then look again.
      conn.query("SELECT pg_advisory_xact_lock(?1::int, 3)", Params().add(lock_key));
      if (schema_version(conn) > v) {
        conn.exec("COMMIT");
        continue;
      }
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

}  // namespace dunning::store::postgres::detail
