// The engines the store contract suite runs against, each on a fresh database: SQLite in a
// TempDir, and PostgreSQL in a new database of the test server (tests/support/pg_server.py,
// started once per ctest run by the `postgres` fixture, whose admin URI is in the file named by
// DUNNING_TEST_PG_URI_FILE). An engine joins the suite by adding a factory here; the suite only
// ever sees store::Engine and plain SQL that every engine accepts (the billing system's writes).
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "dunning/store/engine.hpp"
#include "store/postgres/pg.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace dunning::testing {

// An engine under test and a second connection standing in for the billing system. `cleanup`
// goes last (it is declared first): it drops what the factory created once both are closed.
struct EngineUnderTest {
  std::shared_ptr<void> cleanup;
  std::unique_ptr<store::Engine> engine;
  std::function<void(const std::string& sql)> billing_sql;
};

struct EngineFactory {
  std::string name;
  std::function<EngineUnderTest(const std::filesystem::path& dir)> make;
};

// The admin URI of the test PostgreSQL server; nullopt when the run has none (the suite then
// covers SQLite only and says so). A variable naming a missing file is an error: ctest set it.
inline std::optional<std::string> pg_admin_uri() {
  const char* file = std::getenv("DUNNING_TEST_PG_URI_FILE");
  if (file == nullptr || *file == '\0') return std::nullopt;
  std::ifstream in(file);
  std::string uri;
  std::getline(in, uri);
  INFO("DUNNING_TEST_PG_URI_FILE=" << file);
  REQUIRE_FALSE(uri.empty());
  return uri;
}

// `admin` (.../postgres) pointed at `database`.
inline std::string pg_uri_for(const std::string& admin, const std::string& database) {
  return admin.substr(0, admin.rfind('/') + 1) + database;
}

// A new, empty database on the test server, dropped when the returned handle goes.
struct PgTestDatabase {
  std::string admin;
  std::string name;
  std::string uri;
  ~PgTestDatabase() {
    try {
      store::postgres::Conn conn({admin, "", "dunningd-tests"});
      conn.exec("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
    } catch (...) {  // NOLINT(bugprone-empty-catch): the server stops with the run anyway
    }
  }
};

inline std::shared_ptr<PgTestDatabase> pg_test_database(const std::string& admin) {
  std::random_device rd;
  auto db = std::make_shared<PgTestDatabase>();
  db->admin = admin;
  db->name = "c_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000000U);
  db->uri = pg_uri_for(admin, db->name);
  store::postgres::Conn conn({admin, "", "dunningd-tests"});
  conn.exec("CREATE DATABASE \"" + db->name + "\"");
  return db;
}

inline std::vector<EngineFactory> store_engines() {
  std::vector<EngineFactory> out{
      {"sqlite",
       [](const std::filesystem::path& dir) {
         const auto file = dir / "dunningd.db";
         auto opened = store::open_engine(file, store::OpenMode::kCreate);
         INFO((opened.ok() ? std::string() : opened.error().message));
         REQUIRE(opened.ok());
         auto billing = std::make_shared<store::sqlite::Db>(file.string(), false);
         return EngineUnderTest{nullptr, std::move(opened).value(),
                                [billing](const std::string& sql) { billing->exec(sql); }};
       }},
  };
  if (auto admin = pg_admin_uri()) {
    out.push_back({"postgresql", [admin = *admin](const std::filesystem::path&) {
                     auto db = pg_test_database(admin);
                     auto opened = store::open_engine(db->uri, store::OpenMode::kCreate);
                     INFO((opened.ok() ? std::string() : opened.error().message));
                     REQUIRE(opened.ok());
                     auto billing = std::make_shared<store::postgres::Conn>(
                         store::postgres::ConnectSpec{db->uri, "", "billing"});
                     return EngineUnderTest{
                         db, std::move(opened).value(),
                         [billing](const std::string& sql) { billing->exec(sql); }};
                   }});
  } else {
    WARN("no PostgreSQL test server (DUNNING_TEST_PG_URI_FILE unset): SQLite only");
  }
  return out;
}

// Runs `body(engine, billing_sql)` once per engine, each in its own Catch section and database.
template <typename Body>
void on_every_engine(Body&& body) {
  for (const auto& factory : store_engines()) {
    DYNAMIC_SECTION("engine " << factory.name) {
      TempDir dir;
      auto e = factory.make(dir.path());
      body(*e.engine, e.billing_sql);
    }
  }
}

}  // namespace dunning::testing
