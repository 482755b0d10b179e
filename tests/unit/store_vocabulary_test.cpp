// The store's vocabularies (case state, outbox state, ledger kind, attribution, payment status,
// and the steps' trigger / channel / action it shares with the config) have one name table each.
// Checked against the schema, which lists the same names in its CHECK constraints and was written
// apart from the tables: a name added to one and not the other fails here. Text that names nothing
// is an error, never a default — also when it is already in the database.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "dunning/store/engine.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/sqlite_engine.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;

namespace {

// The names a table's `column TEXT NOT NULL CHECK (column IN ('a', 'b'))` allows, from the
// migrated schema's own text.
std::set<std::string> schema_names(store::sqlite::SqliteEngine& engine, const std::string& table,
                                   const std::string& column) {
  auto s =
      engine.sqlite().prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?");
  s.bind(1, table);
  REQUIRE(s.step());
  const std::string sql = s.text(0);
  const std::regex check(column + R"( TEXT NOT NULL CHECK \()" + column + R"( IN \(([^)]*)\))");
  std::smatch m;
  REQUIRE(std::regex_search(sql, m, check));
  std::set<std::string> names;
  const std::string list = m[1];
  const std::regex quoted("'([a-z_]+)'");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), quoted);
       it != std::sregex_iterator(); ++it)
    names.insert((*it)[1]);
  return names;
}

// `read` throws a StoreError naming the column and the stored text it could not name.
template <typename Read>
void refused(Read read, const std::string& column, const std::string& text) {
  try {
    read();
    FAIL("a row with " + column + " '" + text + "' was read");
  } catch (const store::StoreError& e) {
    CHECK_THAT(e.what(), Catch::Contains(column) && Catch::Contains("\"" + text + "\""));
  }
}

template <typename E, typename Parse>
std::set<std::string> round_trip(std::initializer_list<E> all, Parse parse) {
  std::set<std::string> names;
  for (E e : all) {
    const std::string name(store::to_string(e));
    CHECK(parse(name) == e);
    names.insert(name);
  }
  CHECK(names.size() == all.size());  // no two enumerators share a name
  CHECK_FALSE(parse("bogus"));
  CHECK_FALSE(parse(""));
  return names;
}

}  // namespace

TEST_CASE("each store vocabulary is the schema's list of names, both ways", "[store][vocabulary]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  using store::CaseState;
  using store::LedgerKind;
  using store::OutboxState;

  CHECK(round_trip({CaseState::kOpen, CaseState::kPaused, CaseState::kRecovered, CaseState::kLost,
                    CaseState::kCancelled},
                   store::parse_case_state) == schema_names(*engine, "cases", "state"));
  CHECK(round_trip({OutboxState::kPending, OutboxState::kSent, OutboxState::kFailed,
                    OutboxState::kCancelled, OutboxState::kSkipped},
                   store::parse_outbox_state) == schema_names(*engine, "outbox", "state"));
  CHECK(round_trip({LedgerKind::kRecovered, LedgerKind::kRecoveredWithoutContact, LedgerKind::kLost,
                    LedgerKind::kCancelled, LedgerKind::kPartial, LedgerKind::kLate,
                    LedgerKind::kCorrection},
                   store::parse_ledger_kind) == schema_names(*engine, "ledger", "kind"));
  using store::PaymentStatus;
  CHECK(round_trip({PaymentStatus::kFailed, PaymentStatus::kSucceeded, PaymentStatus::kRefunded},
                   store::parse_payment_status) == schema_names(*engine, "payments", "status"));

  CHECK(store::parse_attribution("step") == store::Attribution::kStep);
  CHECK(store::parse_attribution("click") == store::Attribution::kClick);
  CHECK(store::parse_attribution("") == store::Attribution::kNone);  // NULL column
  CHECK_FALSE(store::parse_attribution("email"));
}

TEST_CASE("a ledger row whose kind names nothing is reported, not read as a default",
          "[store][vocabulary]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  auto& db = engine->sqlite();
  // What an older or hand-edited database could hold: the CHECK is bypassed on purpose.
  db.raw().exec("PRAGMA ignore_check_constraints = ON");
  db.raw().exec("PRAGMA foreign_keys = OFF");
  db.raw().exec(
      "INSERT INTO ledger(case_id, kind, customer_id, amount_minor, currency, opened_at, "
      "occurred_at, recorded_at) VALUES (1, 'refund', 'cus_1', 500, 'EUR', "
      "'2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z')");
  db.raw().exec("PRAGMA ignore_check_constraints = OFF");
  refused([&] { (void)engine->ledger().for_case(1); }, "ledger.kind", "refund");
}

TEST_CASE("an outbox row whose channel names nothing is reported, not sent as an email",
          "[store][vocabulary]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  auto& db = engine->sqlite();
  db.raw().exec("PRAGMA foreign_keys = OFF");
  db.raw().exec(
      "INSERT INTO outbox(case_id, step_index, channel, template, action, message_key, state, "
      "due_at, next_attempt_at, created_at) VALUES (1, 0, 'fax', 'payment-failed', '', "
      "'case:1:step:0', 'pending', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', "
      "'2026-01-01T00:00:00Z')");
  refused([&] { (void)engine->outbox().for_case(1); }, "outbox.channel", "fax");
}

TEST_CASE("a channel pause whose channel names nothing is reported, not lifted as email",
          "[store][vocabulary]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  engine->sqlite().raw().exec(
      "INSERT INTO channel_pauses(channel, reason, since, retry_at) VALUES ('Email', '535', "
      "'2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z')");
  refused([&] { (void)engine->contacts().channel_pauses(); }, "channel_pauses.channel", "Email");
  engine->contacts().pause_channel(Channel::kSms, "401", {}, {});
  auto s = engine->sqlite().prepare("SELECT channel FROM channel_pauses WHERE reason = '401'");
  REQUIRE(s.step());
  CHECK(s.text(0) == "sms");
}

TEST_CASE("a polled payment whose status names nothing is a reported bad row, and the feed goes on",
          "[store][vocabulary]") {
  testing::TempDir dir;
  auto engine = testing::open_sqlite_file(dir.path() / "d.db");
  auto& db = engine->sqlite();
  // A billing system's own payments table need not carry dunningd's CHECK.
  db.raw().exec("PRAGMA ignore_check_constraints = ON");
  db.raw().exec(
      "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status, "
      "occurred_at) VALUES "
      "('p1', 'cus_1', 'in_1', 1250, 'EUR', 'pending', '2026-11-02T10:00:00Z'), "
      "('p2', 'cus_1', 'in_2', 1250, 'EUR', 'Failed', '2026-11-02T10:01:00Z'), "
      "('p3', 'cus_1', 'in_3', 1250, 'EUR', 'refunded', '2026-11-02T10:02:00Z')");
  db.raw().exec("PRAGMA ignore_check_constraints = OFF");
  const auto batch = engine->feed().payments_after(0, 10);
  REQUIRE(batch.rows.size() == 3);
  REQUIRE_FALSE(batch.rows[0].payment.ok());
  CHECK_THAT(batch.rows[0].payment.error().message, Catch::Contains("status \"pending\""));
  REQUIRE_FALSE(batch.rows[1].payment.ok());  // not read as a failure: names are exact
  CHECK_THAT(batch.rows[1].payment.error().message, Catch::Contains("status \"Failed\""));
  REQUIRE(batch.rows[2].payment.ok());
  CHECK(batch.rows[2].payment.value().status == store::PaymentStatus::kRefunded);
  CHECK(batch.last_rowid == batch.rows[2].rowid);
}

TEST_CASE("JSON carries a vocabulary's name, never the enumerator's number",
          "[store][vocabulary]") {
  const nlohmann::json j{{"trigger", Trigger::kCardExpiring},
                         {"channel", Channel::kSms},
                         {"action", Action::kMarkLost},
                         {"none", Action::kNone},
                         {"state", store::CaseState::kPaused},
                         {"outbox", store::OutboxState::kSkipped},
                         {"kind", store::LedgerKind::kRecoveredWithoutContact},
                         {"by", store::Attribution::kClick},
                         {"paid", store::PaymentStatus::kSucceeded}};
  CHECK(
      j.dump() ==
      R"({"action":"mark_lost","by":"click","channel":"sms","kind":"recovered_without_contact",)"
      R"("none":"","outbox":"skipped","paid":"succeeded","state":"paused","trigger":"card_expiring"})");
}
