#include "store/sqlite/database.hpp"

#include "store/sqlite/migrate.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

static_assert(detail::kMigrations.size() == kSchemaVersion, "one migration per schema version");

SqliteDatabase::SqliteDatabase(std::filesystem::path path, bool create)
    : path_(std::move(path)), db_(path_.string(), create), cache_(db_) {}

SqliteDatabase::~SqliteDatabase() {
  if (in_tx_) rollback();
  cache_.clear();
}

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const std::filesystem::path& path,
                                                             OpenMode mode) {
  if (mode == OpenMode::kExisting && !std::filesystem::exists(path)) {
    return Error::not_found("database " + path.string() + " does not exist");
  }
  try {
    std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(path, mode == OpenMode::kCreate));
    Db& raw = db->db_;
    raw.exec("PRAGMA journal_mode=WAL");
    raw.exec("PRAGMA synchronous=FULL");
    raw.exec("PRAGMA foreign_keys=ON");
    const int version = detail::schema_version(raw);
    if (version > kSchemaVersion) {
      return Error::conflict("database " + path.string() + " has schema version " +
                             std::to_string(version) + ", newer than this dunningd (" +
                             std::to_string(kSchemaVersion) + ")");
    }
    // Backs an existing database up to <file>.pre-v<N>.bak first (SQLite online backup).
    detail::migrate(raw, path, detail::kMigrations);
    return db;
  } catch (const SqliteError& e) {
    return Error::unavailable(e.what());
  }
}

int SqliteDatabase::schema_version() {
  return guard("schema_version", [&] { return detail::schema_version(db_); });
}

void SqliteDatabase::begin() {
  guard("begin", [&] { db_.exec("BEGIN IMMEDIATE"); });
  in_tx_ = true;
  savepoints_ = 0;
}

void SqliteDatabase::commit() {
  guard("commit", [&] { db_.exec("COMMIT"); });
  in_tx_ = false;
}

void SqliteDatabase::rollback() noexcept {
  in_tx_ = false;
  try {
    db_.exec("ROLLBACK");
  } catch (
      ...) {  // NOLINT(bugprone-empty-catch): SQLite may have rolled back already (an I/O error)
  }
}

int SqliteDatabase::savepoint() {
  const int depth = savepoints_ + 1;
  guard("savepoint", [&] { db_.exec("SAVEPOINT sp" + std::to_string(depth)); });
  savepoints_ = depth;
  return depth;
}

void SqliteDatabase::release(int depth) {
  guard("release", [&] { db_.exec("RELEASE sp" + std::to_string(depth)); });
  savepoints_ = depth - 1;
}

void SqliteDatabase::rollback_to(int depth) noexcept {
  savepoints_ = depth - 1;
  try {
    const std::string name = "sp" + std::to_string(depth);
    db_.exec("ROLLBACK TO " + name);
    db_.exec("RELEASE " + name);
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more can be done in a destructor
  }
}

}  // namespace dunning::store::sqlite
