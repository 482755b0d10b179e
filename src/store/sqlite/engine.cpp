#include "store/sqlite/engine.hpp"

#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

SqliteEngine::SqliteEngine(std::unique_ptr<SqliteDatabase> db)
    : db_(std::move(db)),
      feed_(*db_),
      facts_(*db_),
      cases_(*db_),
      outbox_(*db_),
      contacts_(*db_),
      ledger_(*db_),
      reports_(*db_),
      simulation_(*db_) {}

Result<std::unique_ptr<SqliteEngine>> open_sqlite(const std::filesystem::path& path,
                                                  OpenMode mode) {
  auto db = SqliteDatabase::open(path, mode);
  if (!db) return db.error();
  return std::make_unique<SqliteEngine>(std::move(db).value());
}

Status snapshot_sqlite(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!std::filesystem::exists(from)) {
    return Error::not_found("database " + from.string() + " does not exist");
  }
  if (std::filesystem::exists(to)) {
    return Error::conflict(to.string() + " already exists; simulate writes a fresh copy");
  }
  try {
    Db db(from.string(), false);
    Stmt s(db, "VACUUM INTO ?");
    s.bind(1, to.string()).run();
    return Status::success();
  } catch (const SqliteError& e) {
    return Error::unavailable(e.what());
  }
}

}  // namespace dunning::store::sqlite
