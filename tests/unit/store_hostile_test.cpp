// The store side of issue 14: a re-sent event id with another body is a conflict, a repeated
// link click records once, and a row the poll cannot decode is skipped instead of failing it.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include "dunning/ingest/event.hpp"
#include "dunning/store/engine.hpp"
#include "support/builders.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;

namespace {

using dunning::testing::a_case;
using dunning::testing::at;

struct Db {
  testing::TempDir dir;
  std::filesystem::path path = dir.path() / "d.db";
  std::unique_ptr<store::Engine> store =
      std::move(store::open_engine(path, store::OpenMode::kCreate)).value();

  void sql(const std::string& statement) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(raw, statement.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(raw);
    REQUIRE(rc == SQLITE_OK);
  }
};

ingest::Event event(std::string id, std::string source, std::string payload) {
  ingest::Event e;
  e.id = std::move(id);
  e.source = std::move(source);
  e.type = "customer.updated";
  e.payload = std::move(payload);
  e.received_at = at("2026-11-22T10:00:00Z");
  return e;
}

}  // namespace

TEST_CASE("an event id re-sent with another body is a conflict; the same body a duplicate",
          "[store][ingest][hostile]") {
  Db db;
  store::Tx tx(db.store->db());
  CHECK(ingest::apply_event(db.store->facts(), event("e1", "api", R"({"a":1,"b":[1,2]})")) ==
        ingest::Applied::kWritten);
  CHECK(ingest::apply_event(db.store->facts(), event("e1", "api", "{ \"b\": [1, 2], \"a\": 1 }")) ==
        ingest::Applied::kDuplicate);
  CHECK(ingest::apply_event(db.store->facts(), event("e1", "api", R"({"a":2,"b":[1,2]})")) ==
        ingest::Applied::kConflict);
  CHECK(db.store->facts().event_payload("e1") ==
        std::optional<std::string>(R"({"a":1,"b":[1,2]})"));
  // Stripe's delivery counter is not part of the event.
  CHECK(ingest::apply_event(db.store->facts(),
                            event("evt", "stripe", R"({"id":"evt","pending_webhooks":3})")) ==
        ingest::Applied::kWritten);
  CHECK(ingest::apply_event(db.store->facts(),
                            event("evt", "stripe", R"({"id":"evt","pending_webhooks":1})")) ==
        ingest::Applied::kDuplicate);
  CHECK(ingest::apply_event(db.store->facts(), event("evt", "stripe", R"({"id":"evt","x":1})")) ==
        ingest::Applied::kConflict);
  tx.commit();
}

TEST_CASE("repeated clicks on a case's link record one click per hour, unknown cases none",
          "[store][hostile]") {
  Db db;
  store::Tx tx(db.store->db());
  const auto id = db.store->cases().insert(
      a_case("in1", {.customer = "c1", .due = at("2026-11-25T10:00:00Z")}));
  const auto t = at("2026-11-22T10:00:00Z");
  const Seconds hour(3600);
  CHECK(db.store->cases().record_click(id, "c1", t, hour));
  for (int i = 1; i < 30; ++i)
    CHECK_FALSE(db.store->cases().record_click(id, "c1", t + Seconds(i), hour));
  CHECK(db.store->cases().record_click(id, "c1", t + hour + Seconds(1), hour));
  CHECK_FALSE(db.store->cases().record_click(id + 1000, "c1", t, hour));
  tx.commit();
  CHECK(db.store->ledger().last_click(id, t + 2 * hour) == t + hour + Seconds(1));
}

TEST_CASE("a case whose due time cannot be read is skipped by the poll, the others still due",
          "[store][hostile]") {
  Db db;
  const auto good =
      db.store->cases().insert(a_case("in-good", {.due = at("2026-11-20T10:00:00Z")}));
  const auto bad = db.store->cases().insert(a_case("in-bad", {.due = at("2026-11-20T10:00:00Z")}));
  db.sql("UPDATE cases SET next_due_at = '10000-01-03T23:59:59Z' WHERE id = " +
         std::to_string(bad));
  std::vector<store::CaseRecord> due;
  REQUIRE_NOTHROW(due = db.store->cases().due(at("2026-11-22T10:00:00Z"), 10));
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == good);
}
