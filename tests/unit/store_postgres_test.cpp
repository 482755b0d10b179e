// What only the PostgreSQL engine promises beyond the store's contract: statements prepared once
// per connection, feeds that never pass a position an open transaction still holds, claims of
// several instances that never share a row, write transactions serialized like SQLite's, the
// poller election and its failover, reconnection, migrations run once by concurrent openers, and
// an upgrade of a database that has lived under an older schema.
// Each test runs on a new database of the test server (see support/store_engines.hpp).
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "dunning/store/engine.hpp"
#include "dunning/store/leadership.hpp"
#include "store/postgres/engine.hpp"
#include "store/postgres/migrations.hpp"
#include "support/builders.hpp"
#include "support/store_engines.hpp"

using namespace dunning;
using dunning::testing::pg_admin_uri;
using dunning::testing::pg_test_database;
namespace pg = dunning::store::postgres;

namespace {

using dunning::testing::at;

std::unique_ptr<pg::PgEngine> open(const std::string& uri,
                                   store::OpenMode mode = store::OpenMode::kCreate) {
  auto opened = pg::open_postgres({uri, "", "dunningd-tests"}, mode);
  INFO((opened.ok() ? std::string() : opened.error().message));
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

using dunning::testing::a_case;
using dunning::testing::a_payment;

store::OutboxRow a_step(std::int64_t case_id, int step) {
  store::OutboxRow r;
  r.case_id = case_id;
  r.step_index = step;
  r.channel = dunning::Channel::kEmail;
  r.template_name = "payment-failed";
  r.message_key = "case:" + std::to_string(case_id) + ":step:" + std::to_string(step);
  r.due_at = at("2026-11-02T10:00:00Z");
  r.created_at = r.due_at;
  return r;
}

#define REQUIRE_PG_SERVER(admin)                                                      \
  auto admin = pg_admin_uri();                                                        \
  if (!admin) {                                                                       \
    WARN("no PostgreSQL test server (DUNNING_TEST_PG_URI_FILE unset): test not run"); \
    return;                                                                           \
  }

}  // namespace

TEST_CASE("postgres: a statement is prepared once per connection, not once per call",
          "[store][postgres]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  auto e = open(db->uri);
  CHECK(e->feed().cursor("x") == 0);
  CHECK(e->cases().find({"", "", 10}).empty());
  const auto warm = e->postgres().statements_prepared();
  for (int i = 0; i < 20; ++i) {
    CHECK(e->feed().cursor("x") == 0);
    CHECK(e->cases().find({"", "", 10}).empty());
  }
  CHECK(e->postgres().statements_prepared() == warm);
}

TEST_CASE("postgres: the payments feed never passes a position an open transaction holds",
          "[store][postgres][feed]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  auto e = open(db->uri);
  pg::Conn billing({db->uri, "", "billing"});
  const char* insert =
      "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status, "
      "occurred_at) VALUES ('%s', 'cus_1', 'in_%s', 1250, 'EUR', 'failed', "
      "'2026-11-02T10:00:00Z')";
  auto sql = [&](const char* id) {
    char buf[512];
    std::snprintf(buf, sizeof buf, insert, id, id);
    return std::string(buf);
  };
  billing.exec(sql("p1"));
  auto batch = e->feed().payments_after(0, 10);
  REQUIRE(batch.rows.size() == 1);
  CHECK(batch.rows[0].id == "p1");
  // The billing system opens a transaction, takes position 2 and keeps it open; another writer
  // takes position 3 and commits.
  billing.exec("BEGIN");
  billing.exec(sql("p2"));
  {
    store::Tx tx(e->db());
    CHECK(e->facts().append_payment(a_payment("p3")));
    tx.commit();
  }
  // p3 is committed but waits behind the open position 2: a cursor moved to 3 now would never
  // see 2.
  auto held = e->feed().payments_after(batch.last_rowid, 10);
  CHECK(held.rows.empty());
  CHECK(held.last_rowid == batch.last_rowid);
  {
    store::Tx tx(e->db());  // also inside a reader's transaction
    CHECK(e->feed().payments_after(batch.last_rowid, 10).rows.empty());
  }
  billing.exec("COMMIT");
  auto rest = e->feed().payments_after(batch.last_rowid, 10);
  REQUIRE(rest.rows.size() == 2);
  CHECK(rest.rows[0].id == "p2");
  CHECK(rest.rows[1].id == "p3");
}

TEST_CASE("postgres: two instances claiming at once never lease the same row",
          "[store][postgres][outbox]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  auto a = open(db->uri);
  auto b = open(db->uri);
  {
    store::Tx tx(a->db());
    const auto case_id = a->cases().insert(a_case("in_1"));
    for (int i = 0; i < 10; ++i) CHECK(a->outbox().enqueue(a_step(case_id, i)));
    tx.commit();
  }
  const TimePoint now = at("2026-11-02T10:00:00Z");
  std::vector<store::OutboxRow> first;
  std::vector<store::OutboxRow> second;
  {
    store::Tx ta(a->db());
    first = a->outbox().claim(now, Seconds(300), 4);  // locked until `ta` commits
    {
      // b does not wait for a's locks: it leases the rows a does not hold.
      store::Tx tb(b->db());
      second = b->outbox().claim(now, Seconds(300), 10);
      tb.commit();
    }
    ta.commit();
  }
  REQUIRE(first.size() == 4);
  REQUIRE(second.size() == 6);
  for (const auto& x : first)
    for (const auto& y : second) CHECK(x.id != y.id);
  CHECK(b->outbox().claim(now, Seconds(300), 10).empty());                      // all leased now
  CHECK(a->outbox().claim(now + Seconds(300), Seconds(300), 10).size() == 10);  // lease over
}

TEST_CASE("postgres: write transactions of several connections run one after the other",
          "[store][postgres]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  auto a = open(db->uri);
  auto b = open(db->uri);
  std::promise<void> b_started;
  std::future<std::int64_t> b_saw;
  {
    store::Tx ta(a->db());
    a->feed().set_cursor("n", 1);
    b_saw = std::async(std::launch::async, [&] {
      b_started.set_value();
      store::Tx tb(b->db());  // waits for the writer lock at its first statement
      const auto seen = b->feed().cursor("n");
      b->feed().set_cursor("n", seen + 1);
      tb.commit();
      return seen;
    });
    b_started.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // b is blocked, not done
    CHECK(b_saw.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
    a->feed().set_cursor("n", 10);
    ta.commit();
  }
  CHECK(b_saw.get() == 10);  // b read after a committed, as after SQLite's BEGIN IMMEDIATE
  CHECK(a->feed().cursor("n") == 11);
}

TEST_CASE("postgres: one poller at a time, and another takes over when its session ends",
          "[store][postgres][leadership]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  open(db->uri);
  auto one = store::open_leadership(db->uri, {}, "host-a:1", Seconds(1));
  auto two = store::open_leadership(db->uri, {}, "host-b:2", Seconds(1));
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK_FALSE((*one)->leading());
  CHECK((*one)->try_lead());
  CHECK((*one)->try_lead());  // still
  CHECK_FALSE((*two)->try_lead());
  CHECK((*two)->holder() == "host-a:1");
  CHECK((*one)->holder() == "host-a:1");
  one.value().reset();  // the poller dies: its session ends and the lock with it
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(*two)->try_lead() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK((*two)->leading());
  CHECK((*two)->holder() == "host-b:2");

  // A poller whose session the server ended learns it at its next try and steps down.
  pg::Conn admin_conn({*admin, "", "dunningd-tests"});
  admin_conn.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'dunningd host-b:2'");
  auto three = store::open_leadership(db->uri, {}, "host-c:3", Seconds(1));
  REQUIRE(three.ok());
  bool three_leads = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!three_leads && std::chrono::steady_clock::now() < until) {
    three_leads = (*three)->try_lead();
    if (!three_leads) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(three_leads);
  CHECK_FALSE((*two)->try_lead());  // reconnects, finds host-c holding it
  CHECK((*two)->holder() == "host-c:3");
}

TEST_CASE("postgres: a connection the server dropped is opened again between transactions",
          "[store][postgres]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  auto e = open(db->uri);
  CHECK(e->feed().cursor("x") == 0);
  pg::Conn admin_conn({*admin, "", "dunningd-tests"});
  admin_conn.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                  db->name + "' AND pid <> pg_backend_pid()");
  // The first statement after the cut fails (its transaction, if any, is lost)...
  try {
    (void)e->feed().cursor("x");
  } catch (const store::StoreError&) {
  }
  // ...and the next one connects again.
  {
    store::Tx tx(e->db());
    e->feed().set_cursor("x", 5);
    tx.commit();
  }
  CHECK(e->feed().cursor("x") == 5);
}

TEST_CASE("postgres: engines opening a new database at once migrate it once",
          "[store][postgres][migrate]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  std::vector<std::future<std::string>> openers;
  for (int i = 0; i < 3; ++i) {
    openers.push_back(std::async(std::launch::async, [&] {
      auto opened = store::open_engine(db->uri, store::OpenMode::kCreate);
      if (!opened) return opened.error().message;
      return std::to_string((*opened)->db().schema_version());
    }));
  }
  for (auto& f : openers) CHECK(f.get() == std::to_string(store::kSchemaVersion));
  pg::Conn conn({db->uri, "", "dunningd-tests"});
  CHECK(conn.query("SELECT COUNT(*) FROM schema_version").int64(0, 0) == store::kSchemaVersion);
}

TEST_CASE("postgres: an empty database is refused unless created, and errors name no password",
          "[store][postgres][migrate]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  auto existing = store::open_engine(db->uri, store::OpenMode::kExisting);
  REQUIRE_FALSE(existing.ok());
  CHECK_THAT(existing.error().message, Catch::Contains("dunningd migrate"));

  pg::Conn conn({*admin, "", "dunningd-tests"});
  conn.exec(
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dunningd_pw') THEN "
      "CREATE ROLE dunningd_pw LOGIN PASSWORD 's3cret-pw'; END IF; END $$");
  conn.exec("GRANT ALL ON DATABASE \"" + db->name + "\" TO dunningd_pw");
  const std::string host = admin->substr(admin->find('@') + 1);
  const std::string uri =
      "postgresql://dunningd_pw@" + host.substr(0, host.rfind('/') + 1) + db->name;
  store::EngineOptions wrong;
  wrong.password = "not-it";
  auto refused = store::open_engine(uri, store::OpenMode::kCreate, wrong);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("password authentication failed"));
  CHECK_THAT(refused.error().message, !Catch::Contains("not-it"));
  store::EngineOptions right;
  right.password = "s3cret-pw";
  auto ok = store::open_engine(uri, store::OpenMode::kExisting, right);
  // The role may connect, but the database was never migrated: kExisting refuses.
  REQUIRE_FALSE(ok.ok());
  CHECK_THAT(ok.error().message, Catch::Contains("no dunningd schema"));
  CHECK_THAT(pg::redact_uri("postgresql://u:pw@h:5432/d?sslmode=require"),
             Catch::Equals("postgresql://u@h:5432/d?sslmode=require"));
}

TEST_CASE("postgres: version 7 upgrades a version-6 database in place, its rows kept",
          "[store][postgres][migrate]") {
  REQUIRE_PG_SERVER(admin);
  auto db = pg_test_database(*admin);
  {
    // What dunningd of schema version 6 left behind: a closed case with its ledger row, and an
    // open one whose customer changed their card twice.
    pg::Conn conn({db->uri, "", "dunningd-tests"});
    conn.exec("CREATE TABLE schema_version(version INTEGER NOT NULL)");
    for (int v = 0; v < 6; ++v) {
      conn.exec("BEGIN");
      conn.exec(pg::kMigrations[static_cast<std::size_t>(v)]);
      conn.exec("INSERT INTO schema_version(version) VALUES (" + std::to_string(v + 1) + ")");
      conn.exec("COMMIT");
    }
    conn.exec(
        "INSERT INTO cases(id, trigger, customer_id, invoice_id, amount_minor, currency, "
        "sequence_id, sequence_hash, state, opened_at) VALUES "
        "(1, 'payment_failed', 'cus_1', 'in_1', 1250, 'EUR', 'soft', 'h', 'recovered', "
        "'2026-11-02T10:00:00Z'), "
        "(2, 'payment_failed', 'cus_1', 'in_2', 900, 'EUR', 'soft', 'h', 'open', "
        "'2026-11-02T10:00:00Z')");
    conn.exec(
        "INSERT INTO case_events(case_id, at, kind, detail) VALUES "
        "(2, '2026-11-04T08:00:00Z', 'card_updated', 'pm_3'), "
        "(2, '2026-11-03T08:00:00Z', 'card_updated', 'pm_2'), "
        "(1, '2026-11-03T09:00:00Z', 'opened', '')");
    conn.exec(
        "INSERT INTO ledger(case_id, kind, customer_id, payment_id, amount_minor, currency, "
        "opened_at, occurred_at, recorded_at) VALUES (1, 'recovered', 'cus_1', 'py_1', 1250, "
        "'EUR', '2026-11-02T10:00:00Z', '2026-11-05T09:00:00Z', '2026-11-05T09:00:00Z')");
  }
  auto e = open(db->uri, store::OpenMode::kExisting);
  CHECK(e->db().schema_version() == store::kSchemaVersion);
  auto kept = e->ledger().for_case(1);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].kind == store::LedgerKind::kRecovered);
  CHECK(kept[0].amount == Money(1250, "EUR"));
  auto open_case = e->cases().get(2);
  REQUIRE(open_case);
  CHECK(open_case->paid_minor == 0);
  CHECK(open_case->card_updated_at == at("2026-11-03T08:00:00Z"));  // the first change
  CHECK_FALSE(e->cases().get(1)->card_updated_at);

  store::Tx tx(e->db());
  store::LedgerEntry part;
  part.case_id = 2;
  part.kind = store::LedgerKind::kPartial;
  part.customer_id = "cus_1";
  part.payment_id = "py_2a";
  part.amount = Money(400, "EUR");
  part.opened_at = at("2026-11-02T10:00:00Z");
  part.occurred_at = at("2026-11-06T09:00:00Z");
  part.recorded_at = part.occurred_at;
  e->ledger().append(part);
  e->cases().add_paid(2, 400);
  auto close = part;
  close.kind = store::LedgerKind::kRecovered;
  close.payment_id = "py_2b";
  close.amount = Money(500, "EUR");
  e->ledger().append(close);  // the partial row is not the case's close row
  CHECK(e->cases().get(2)->outstanding() == Money(500, "EUR"));
  {
    store::Savepoint sp(e->db());  // still append-only after the new CHECK
    CHECK_THROWS_WITH(e->postgres().query("UPDATE ledger SET amount_minor = 0 WHERE case_id = 1"),
                      Catch::Contains("append-only"));
  }
  tx.commit();
  CHECK(e->ledger().for_case(2).size() == 2);
}
