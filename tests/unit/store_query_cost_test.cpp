// The per-case reads of a tick cost what the case has, not what the database holds: counted in
// SQLite virtual-machine instructions (a progress handler), never in time. A query that scans
// a table or an index of the whole history executes instructions for every row it passes.
#include <sqlite3.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/store/engine.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/sqlite.hpp"

using namespace dunning;

namespace {

struct TempDb {
  std::filesystem::path dir;
  std::filesystem::path path;
  TempDb() {
    char tmpl[] = "/tmp/dunning-cost-test-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir / "t.db";
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
};

// A database whose history holds `others` closed cases of other customers, each with two sent
// messages, beside one open case (invoice in-target) of customer cus-target with one of each.
std::unique_ptr<store::Engine> with_history(const TempDb& tmp, int others) {
  auto opened = store::open_engine(tmp.path.string(), store::OpenMode::kCreate);
  REQUIRE(opened);
  auto engine = std::move(*opened);
  auto& db = dynamic_cast<store::sqlite::SqliteEngine&>(*engine).sqlite().raw();
  db.exec("BEGIN");
  db.exec("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < " +
          std::to_string(others) +
          ") INSERT INTO cases(id, trigger, customer_id, invoice_id, amount_minor, currency, "
          "sequence_id, sequence_hash, state, opened_at) SELECT i + 1, 'payment_failed', "
          "CASE WHEN i = 0 THEN 'cus-target' ELSE 'cus-' || i END, "
          "CASE WHEN i = 0 THEN 'in-target' ELSE 'in-' || i END, 1250, 'EUR', 's', 'h', "
          "CASE WHEN i = 0 THEN 'open' ELSE 'lost' END, '2026-01-01T00:00:00Z' FROM n");
  db.exec(
      "INSERT INTO outbox(case_id, step_index, channel, template, message_key, state, attempts, "
      "due_at, next_attempt_at, created_at, sent_at) SELECT id, k.s, 'email', 'payment-failed', "
      "id || '-' || k.s, CASE WHEN id = 1 AND k.s = 1 THEN 'pending' ELSE 'sent' END, 1, "
      "'2026-06-01T09:00:00Z', '2026-06-01T09:00:00Z', '2026-06-01T09:00:00Z', "
      "CASE WHEN id = 1 AND k.s = 1 THEN NULL ELSE '2026-06-01T09:00:00Z' END "
      "FROM cases CROSS JOIN (SELECT 0 AS s UNION ALL SELECT 1) k");
  db.exec("COMMIT");
  return engine;
}

// SQLite instructions executed by `work` on `engine`'s connection.
template <typename Work>
long instructions(store::Engine& engine, Work&& work) {
  auto* handle = dynamic_cast<store::sqlite::SqliteEngine&>(engine).sqlite().raw().handle();
  long count = 0;
  sqlite3_progress_handler(
      handle, 1,
      [](void* n) {
        ++*static_cast<long*>(n);
        return 0;
      },
      &count);
  work();
  sqlite3_progress_handler(handle, 0, nullptr, nullptr);
  return count;
}

const TimePoint kSince = *parse_iso8601("2026-05-01T00:00:00Z");

}  // namespace

TEST_CASE("a customer's contact times cost the same beside a small or a large outbox history",
          "[store][scale]") {
  TempDb small_dir, large_dir;
  auto small = with_history(small_dir, 10);
  auto large = with_history(large_dir, 20000);  // 40,000 sent rows of other customers
  std::vector<TimePoint> a, b;
  const long on_small =
      instructions(*small, [&] { a = small->outbox().contact_times("cus-target", kSince); });
  const long on_large =
      instructions(*large, [&] { b = large->outbox().contact_times("cus-target", kSince); });
  CHECK(a.size() == 2);
  CHECK(b.size() == 2);
  INFO("instructions: " << on_small << " with 20 rows, " << on_large << " with 40,000");
  // An index search grows with log(rows) (a few more B-tree levels); a scan with the rows.
  CHECK(on_large < 2 * on_small + 200);
}

TEST_CASE("the latest case of an invoice is found without reading every case", "[store][scale]") {
  TempDb small_dir, large_dir;
  auto small = with_history(small_dir, 10);
  auto large = with_history(large_dir, 20000);
  std::optional<store::CaseRecord> a, b;
  const long on_small =
      instructions(*small, [&] { a = small->cases().latest_for_invoice("in-target"); });
  const long on_large =
      instructions(*large, [&] { b = large->cases().latest_for_invoice("in-target"); });
  REQUIRE(a);
  REQUIRE(b);
  CHECK(b->customer_id == "cus-target");
  INFO("instructions: " << on_small << " with 10 cases, " << on_large << " with 20,000");
  CHECK(on_large < 2 * on_small + 200);
}

TEST_CASE("a customer's sent contact times cost the same beside a large history",
          "[store][scale]") {
  TempDb small_dir, large_dir;
  auto small = with_history(small_dir, 10);
  auto large = with_history(large_dir, 20000);
  const long on_small =
      instructions(*small, [&] { small->outbox().sent_contact_times("cus-target", kSince); });
  const long on_large =
      instructions(*large, [&] { large->outbox().sent_contact_times("cus-target", kSince); });
  INFO("instructions: " << on_small << " with 20 rows, " << on_large << " with 40,000");
  CHECK(on_large < 2 * on_small + 200);
}

TEST_CASE("the decline codes learned after a cursor are read without reading every later event",
          "[store][scale]") {
  // The scheduler's declines cursor moves only when a decline_code event arrives; the events of
  // other kinds written after it must not be read at every tick.
  TempDb small_dir, large_dir;
  auto small = with_history(small_dir, 10);
  auto large = with_history(large_dir, 20000);
  auto& db = dynamic_cast<store::sqlite::SqliteEngine&>(*large).sqlite().raw();
  db.exec(
      "INSERT INTO case_events(case_id, at, kind, detail) SELECT id, '2026-06-01T09:00:00Z', "
      "'step_sent', 'sent' FROM cases");
  static const std::array<std::string, 1> kinds = {"decline_code"};
  std::vector<store::CaseEvent> a, b;
  const long on_small =
      instructions(*small, [&] { a = small->cases().events_after(0, kinds, 100); });
  const long on_large =
      instructions(*large, [&] { b = large->cases().events_after(0, kinds, 100); });
  CHECK(a.empty());
  CHECK(b.empty());
  INFO("instructions: " << on_small << " with no events, " << on_large << " with 20,001");
  CHECK(on_large < 2 * on_small + 200);
}

TEST_CASE("the finance report's case outcomes cost grows with the cases, not with their square",
          "[store][scale]") {
  // Each case's corrections were looked up by `corrects`, which no index serves: every case
  // read the whole ledger (a year of 20,000 cases took 38 s to report).
  auto cost = [](int cases) {
    TempDb dir;
    auto engine = with_history(dir, cases);
    auto& db = dynamic_cast<store::sqlite::SqliteEngine&>(*engine).sqlite().raw();
    db.exec(
        "INSERT INTO ledger(case_id, kind, customer_id, amount_minor, currency, opened_at, "
        "occurred_at, recorded_at) SELECT id, 'lost', customer_id, amount_minor, currency, "
        "opened_at, '2026-02-01T00:00:00Z', '2026-02-01T00:00:00Z' FROM cases WHERE id > 1");
    int outcomes = 0;
    const long n = instructions(*engine, [&] {
      engine->reports().for_each_case_outcome(std::nullopt, std::nullopt,
                                              [&](const store::CaseOutcome&) { ++outcomes; });
    });
    CHECK(outcomes == cases + 1);
    return n;
  };
  const long at_2k = cost(2000);
  const long at_8k = cost(8000);
  INFO("instructions: " << at_2k << " with 2,000 cases, " << at_8k << " with 8,000");
  // Linear is 4x (with a little for deeper B-trees); a scan per case is 16x.
  CHECK(at_8k < 6 * at_2k);
}
