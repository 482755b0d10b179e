#include "store/sqlite/migrate.hpp"

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <system_error>

namespace dunning::store::detail {

int schema_version(sqlite::Db& db) {
  sqlite::Stmt table(
      db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!table.step()) return 0;
  sqlite::Stmt s(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  return s.step() ? static_cast<int>(s.int64(0)) : 0;
}

void backup_database(sqlite::Db& db, const std::filesystem::path& dest) {
  const std::filesystem::path tmp = dest.string() + ".tmp";
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  {
    sqlite::Db out(tmp.string(), /*create=*/true);
    struct Finish {
      void operator()(sqlite3_backup* b) const { sqlite3_backup_finish(b); }
    };
    std::unique_ptr<sqlite3_backup, Finish> backup(
        sqlite3_backup_init(out.handle(), "main", db.handle(), "main"));
    if (!backup) out.fail("backup to " + tmp.string(), sqlite3_errcode(out.handle()));
    int rc = SQLITE_OK;
    // All pages in one step; the busy timeout retries when a writer holds the lock.
    while ((rc = sqlite3_backup_step(backup.get(), -1)) == SQLITE_OK || rc == SQLITE_BUSY ||
           rc == SQLITE_LOCKED) {
      if (rc != SQLITE_OK) sqlite3_sleep(50);
    }
    rc = sqlite3_backup_finish(backup.release());
    if (rc != SQLITE_OK) out.fail("backup to " + tmp.string(), rc);
    // The copy is a plain rollback-journal file, readable without its -wal.
    out.exec("PRAGMA journal_mode=DELETE");
  }
  std::filesystem::rename(tmp, dest, ec);
  if (ec) {
    throw sqlite::SqliteError(
        "cannot rename " + tmp.string() + " to " + dest.string() + ": " + ec.message(),
        SQLITE_CANTOPEN);
  }
}

std::filesystem::path pre_migration_backup(const std::filesystem::path& db_file, int version) {
  return db_file.string() + ".pre-v" + std::to_string(version) + ".bak";
}

int migrate(sqlite::Db& db, const std::filesystem::path& db_file,
            std::span<const std::string_view> migrations) {
  const int from = schema_version(db);
  const int target = static_cast<int>(migrations.size());
  if (from > 0 && from < target) {
    const auto backup = pre_migration_backup(db_file, target);
    backup_database(db, backup);
    spdlog::info("database {} (schema version {}) backed up to {} before migrating to {}",
                 db_file.string(), from, backup.string(), target);
  }
  for (int v = from; v < target; ++v) {
    sqlite::Transaction tx(db);
    db.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
    db.exec(migrations[static_cast<std::size_t>(v)]);
    sqlite::Stmt ins(db, "INSERT INTO schema_version(version) VALUES (?)");
    ins.bind(1, v + 1).run();
    tx.commit();
    spdlog::info("database {} migrated to schema version {}", db_file.string(), v + 1);
  }
  return from;
}

}  // namespace dunning::store::detail
