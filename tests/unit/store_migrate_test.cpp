#include <array>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string_view>

#include "dunning/store/engine.hpp"
#include "store/sqlite/migrate.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using dunning::store::sqlite::Db;
using dunning::store::sqlite::SqliteError;
using dunning::store::sqlite::Stmt;
namespace detail = dunning::store::detail;

namespace {

std::int64_t scalar(Db& db, const char* sql) {
  Stmt s(db, sql);
  REQUIRE(s.step());
  return s.int64(0);
}

constexpr std::array<std::string_view, 1> kV1 = {"CREATE TABLE t(x INTEGER)"};
constexpr std::array<std::string_view, 2> kV2 = {"CREATE TABLE t(x INTEGER)",
                                                 "ALTER TABLE t ADD COLUMN y TEXT"};
constexpr std::array<std::string_view, 3> kV3Broken = {
    "CREATE TABLE t(x INTEGER)", "ALTER TABLE t ADD COLUMN y TEXT", "ALTER TABLE nope ADD z"};

}  // namespace

TEST_CASE("an existing database is backed up before it is migrated to a newer schema",
          "[store][migrate]") {
  dunning::testing::TempDir dir;
  const fs::path file = dir.path() / "dunningd.db";
  Db db(file.string(), true);
  db.exec("PRAGMA journal_mode=WAL");

  SECTION("a new file gets its schema without a backup") {
    CHECK(detail::migrate(db, file, kV1) == 0);
    CHECK(detail::schema_version(db) == 1);
    CHECK_FALSE(fs::exists(detail::pre_migration_backup(file, 1)));
  }

  SECTION("the copy holds the old schema and every row, the live file the new schema") {
    detail::migrate(db, file, kV1);
    db.exec("INSERT INTO t(x) VALUES (1), (2), (3)");
    CHECK(detail::migrate(db, file, kV2) == 1);
    CHECK(detail::schema_version(db) == 2);

    const fs::path bak = dir.path() / "dunningd.db.pre-v2.bak";
    REQUIRE(detail::pre_migration_backup(file, 2) == bak);
    REQUIRE(fs::exists(bak));
    CHECK_FALSE(fs::exists(bak.string() + ".tmp"));
    Db copy(bak.string(), false);
    CHECK(detail::schema_version(copy) == 1);
    CHECK(scalar(copy, "SELECT COUNT(*) FROM t") == 3);
    CHECK_THROWS_AS(Stmt(copy, "SELECT y FROM t"), SqliteError);
    CHECK(scalar(copy, "SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode = 'delete'") ==
          1);
  }

  SECTION("an up-to-date database is neither migrated nor copied") {
    detail::migrate(db, file, kV2);
    CHECK(detail::migrate(db, file, kV2) == 2);
    CHECK_FALSE(fs::exists(detail::pre_migration_backup(file, 2)));
  }

  SECTION("a failing migration leaves the previous version and the backup") {
    detail::migrate(db, file, kV2);
    db.exec("INSERT INTO t(x, y) VALUES (7, 'seven')");
    CHECK_THROWS_AS(detail::migrate(db, file, kV3Broken), SqliteError);
    CHECK(detail::schema_version(db) == 2);
    CHECK(scalar(db, "SELECT COUNT(*) FROM t WHERE y = 'seven'") == 1);
    Db copy(detail::pre_migration_backup(file, 3).string(), false);
    CHECK(scalar(copy, "SELECT COUNT(*) FROM t WHERE y = 'seven'") == 1);
  }
}

TEST_CASE("opening the store migrates a new file without leaving a backup", "[store][migrate]") {
  dunning::testing::TempDir dir;
  const fs::path file = dir.path() / "dunningd.db";
  auto store = dunning::store::open_engine(file, dunning::store::OpenMode::kCreate);
  REQUIRE(store);
  CHECK((*store)->db().schema_version() == dunning::store::kSchemaVersion);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    CHECK(entry.path().string().find(".bak") == std::string::npos);
  }
}
