// Internal to the SQLite engine: the connection (WAL, synchronous=FULL, foreign keys), its
// transactions and savepoints, the prepared-statement cache every interface of the engine
// shares, and opening = migrating to kSchemaVersion (migrate.hpp, migrations.hpp).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "dunning/core/result.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/engine.hpp"
#include "store/sqlite/sqlite.hpp"

namespace dunning::store::sqlite {

class SqliteDatabase final : public Database {
 public:
  // Opens `path` and migrates it to kSchemaVersion (backing an older schema up first).
  static Result<std::unique_ptr<SqliteDatabase>> open(const std::filesystem::path& path,
                                                      OpenMode mode);
  ~SqliteDatabase() override;

  int schema_version() override;
  bool in_transaction() const override { return in_tx_; }
  std::string describe() const override { return "sqlite:" + path_.string(); }

  // The cached statement for `sql` (compiled on its first use on this connection).
  StatementCache::Lease prepare(std::string_view sql) { return cache_.get(sql); }
  Db& raw() { return db_; }
  const std::filesystem::path& path() const { return path_; }
  // Statements compiled on this connection so far (tests: a warm cache compiles none).
  std::int64_t statements_prepared() const { return cache_.prepared(); }

 protected:
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  int savepoint() override;
  void release(int depth) override;
  void rollback_to(int depth) noexcept override;

 private:
  SqliteDatabase(std::filesystem::path path, bool create);

  std::filesystem::path path_;
  Db db_;
  StatementCache cache_;  // after db_: its statements are finalized before the connection closes
  bool in_tx_ = false;
  int savepoints_ = 0;
};

}  // namespace dunning::store::sqlite
