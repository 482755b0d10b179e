// What only the SQLite engine promises beyond the store's contract: statements compiled once
// per connection, nesting the same statement safely, and SQLite's own loose typing of the
// polled tables.
#include <catch2/catch.hpp>

#include "dunning/store/engine.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/sqlite_engine.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;

TEST_CASE("a statement is compiled once per connection, not once per call", "[store][sqlite]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  auto& db = engine->sqlite();
  {
    store::Tx tx(db);
    store::CustomerRow c{"cus_1", "a@example.com", "Ana", "en", "UTC", std::nullopt, {}};
    CHECK(engine->facts().upsert_customer(c));
    tx.commit();
  }
  (void)engine->feed().customer("cus_1");
  (void)engine->cases().get(1);
  const auto warm = db.statements_prepared();
  for (int i = 0; i < 100; ++i) {
    REQUIRE(engine->feed().customer("cus_1"));
    CHECK_FALSE(engine->cases().get(1));
  }
  CHECK(db.statements_prepared() == warm);
}

TEST_CASE("the same statement used while it is being stepped gets one of its own",
          "[store][sqlite]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  {
    store::Tx tx(engine->db());
    for (const char* id : {"c1", "c2", "c3"}) {
      store::CustomerRow c{id, std::string(id) + "@example.com", "", "", "", std::nullopt, {}};
      CHECK(engine->facts().upsert_customer(c));
    }
    tx.commit();
  }
  auto& cache_owner = engine->sqlite();
  auto outer = cache_owner.prepare("SELECT id FROM customers ORDER BY id");
  std::vector<std::string> seen;
  while (outer.step()) {
    // A nested use of the same text must not reset the outer statement.
    auto inner = cache_owner.prepare("SELECT id FROM customers ORDER BY id");
    REQUIRE(inner.step());
    CHECK(inner.text(0) == "c1");
    seen.push_back(outer.text(0));
  }
  CHECK(seen == std::vector<std::string>{"c1", "c2", "c3"});
}

TEST_CASE("a payments amount that SQLite stored as text is an error value, not a zero",
          "[store][sqlite][feed]") {
  testing::TempDir dir;
  const auto file = dir.path() / "d.db";
  auto engine = testing::open_sqlite_file(file);
  store::sqlite::Db billing(file.string(), false);
  billing.exec(
      "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status, "
      "occurred_at) VALUES ('p1', 'cus_1', 'in_1', 'twelve', 'EUR', 'failed', "
      "'2026-11-02T10:00:00Z')");
  auto batch = engine->feed().payments_after(0, 10);
  REQUIRE(batch.rows.size() == 1);
  REQUIRE_FALSE(batch.rows[0].payment.ok());
  CHECK_THAT(batch.rows[0].payment.error().message, Catch::Contains("amount_minor"));
  CHECK(batch.last_rowid == batch.rows[0].rowid);
}
