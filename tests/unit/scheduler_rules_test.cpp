// The scheduler feeding the rules engine, on real SQLite files with a fixed clock: caps across
// cases, the per-card retry cap, triggers (card expiring, card updated, subscription cancelled),
// stop conditions, unless, holdout, time zones and sequence versions.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "dunning/scheduler/scheduler.hpp"
#include "dunning/store/engine.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/builders.hpp"

using namespace dunning;

namespace {

namespace fs = std::filesystem;

using dunning::testing::at;

struct World {
  fs::path dir;
  std::unique_ptr<store::Engine> store;
  std::unique_ptr<store::sqlite::Db> raw;  // writes the polled tables like a billing system
  config::Config cfg;
  FixedClock clock{at("2026-11-24T10:00:00Z")};

  explicit World(const std::string& sequences_yaml) {
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("dunning-sched-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::remove_all(dir);
    fs::create_directories(dir);
    store = std::move(store::open_engine(dir / "d.db", store::OpenMode::kCreate)).value();
    raw = std::make_unique<store::sqlite::Db>((dir / "d.db").string(), false);
    load(sequences_yaml);
    cfg.daemon.default_time_zone = "UTC";
    // Retries and cancels reach a billing system (never called here: only the scheduler runs).
    cfg.daemon.billing.url = "http://127.0.0.1:9/billing";
    cfg.daemon.sms.url = "http://127.0.0.1:9/sms";
  }
  ~World() {
    raw.reset();
    store.reset();
    fs::remove_all(dir);
  }
  void load(const std::string& yaml) {
    std::ofstream(dir / "s.yaml") << yaml;
    auto loaded = config::load_sequences(dir / "s.yaml");
    std::string all;
    for (const auto& e : loaded.errors) all += e.to_string() + "\n";
    INFO(all);
    REQUIRE(loaded.ok());
    cfg.sequences = loaded.value;
  }
  void sql(const std::string& s) { raw->exec(s); }
  int count(const std::string& s) {
    store::sqlite::Stmt q(*raw, s);
    return q.step() ? static_cast<int>(q.int64(0)) : -1;
  }
  std::string text(const std::string& s) {
    store::sqlite::Stmt q(*raw, s);
    return q.step() ? q.text(0) : "";
  }
  scheduler::TickStats tick(const char* now) {
    clock.set(at(now));
    scheduler::Scheduler sched(store->db(), store->feed(), store->cases(), store->outbox(),
                               store->ledger(), store->contacts(), cfg, clock);
    return sched.tick();
  }
  void customer(const std::string& id, const std::string& tz = "UTC") {
    sql("INSERT INTO customers(id, email, locale, time_zone) VALUES ('" + id + "', '" + id +
        "@example.com', 'en', '" + tz + "')");
  }
  void failed(const std::string& id, const std::string& cus, const std::string& invoice,
              const std::string& when, const std::string& code = "insufficient_funds",
              const std::string& sub = "") {
    sql("INSERT INTO payments(id, customer_id, subscription_id, invoice_id, amount_minor, currency,"
        " status, decline_code, occurred_at) VALUES ('" +
        id + "', '" + cus + "', " + (sub.empty() ? "NULL" : "'" + sub + "'") + ", '" + invoice +
        "', 1250, 'EUR', 'failed', '" + code + "', '" + when + "')");
  }
  std::string events(int case_id) {
    std::string out;
    for (const auto& e : store->cases().events(case_id)) out += e.kind + ": " + e.detail + "\n";
    return out;
  }
};

}  // namespace

TEST_CASE("one customer's two cases share the daily message cap", "[scheduler][caps]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
defaults:
  max_messages_per_customer_per_day: 1
)");
  w.customer("cus_1");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T10:00:00Z", "insufficient_funds", "sub_a");
  w.failed("py_2", "cus_1", "in_2", "2026-11-24T10:05:00Z", "insufficient_funds", "sub_b");
  w.tick("2026-11-24T10:10:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM cases") == 2);
  CHECK(w.text("SELECT due_at FROM outbox WHERE case_id = 1") == "2026-11-24T10:00:00Z");
  CHECK(w.text("SELECT due_at FROM outbox WHERE case_id = 2") == "2026-11-25T00:00:00Z");
  INFO(w.events(2));
  CHECK(w.events(2).find("step_moved: deferred by max_messages_per_customer_per_day (1 already "
                         "on the customer's local day 2026-11-24)") != std::string::npos);
}

TEST_CASE("a contact is queued at the next send window in the customer's time zone",
          "[scheduler][timing]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}, {at: 1d, action: retry}]
defaults:
  send_window: {from: "09:00", to: "19:00", days: [mon, tue, wed, thu, fri]}
)");
  w.customer("cus_in", "Asia/Kolkata");
  w.failed("py_1", "cus_in", "in_1", "2026-11-27T14:00:00Z");  // Friday 19:30 IST
  w.tick("2026-11-27T14:01:00Z");
  CHECK(w.text("SELECT due_at FROM outbox WHERE step_index = 0") == "2026-11-30T03:30:00Z");
  CHECK(
      w.events(1).find("moved by send window from 2026-11-27 19:30 IST to 2026-11-30 09:00 IST") !=
      std::string::npos);
  // Retries are not windowed: Saturday 19:30 IST stays.
  w.tick("2026-11-28T14:00:00Z");
  CHECK(w.text("SELECT due_at FROM outbox WHERE step_index = 1") == "2026-11-28T14:00:00Z");
  SECTION("a customer without a time zone uses the configured default") {
    w.cfg.daemon.default_time_zone = "Europe/Zagreb";
    w.sql("INSERT INTO customers(id, email) VALUES ('cus_x', 'x@example.com')");
    w.failed("py_2", "cus_x", "in_2", "2026-11-28T10:00:00Z");  // Saturday
    w.tick("2026-11-28T10:01:00Z");
    CHECK(w.text("SELECT due_at FROM outbox WHERE case_id = 2") == "2026-11-30T08:00:00Z");
    CHECK(w.events(2).find("no time zone on the customer; using Europe/Zagreb") !=
          std::string::npos);
  }
}

TEST_CASE("a retry that would break the per-card cap is skipped and logged, never queued",
          "[scheduler][caps]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 1d, action: retry}, {at: 2d, action: retry, prefer: payday}, {at: 3d, action: retry}]
defaults:
  max_retries_per_card_per_30_days: 2
)");
  w.customer("cus_1");
  w.sql(
      "INSERT INTO payment_methods(id, customer_id, exp_month, exp_year, is_default) "
      "VALUES ('pm_1', 'cus_1', 5, 2030, 1)");
  w.failed("py_1", "cus_1", "in_1", "2026-11-10T10:00:00Z");
  for (const char* day : {"2026-11-10T10:01:00Z", "2026-11-11T10:01:00Z", "2026-11-12T10:01:00Z",
                          "2026-11-13T10:01:00Z", "2026-11-14T10:01:00Z"}) {
    w.tick(day);
  }
  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE action = 'retry' AND card_id = 'pm_1'") == 2);
  // prefer payday moved the second retry from the 12th to the 15th.
  CHECK(w.text("SELECT due_at FROM outbox WHERE step_index = 1") == "2026-11-15T10:00:00Z");
  auto ev = w.events(1);
  INFO(ev);
  CHECK(ev.find("step_skipped: step #3 action retry: per-card retry cap: the card would get 3 "
                "retries") != std::string::npos);
  CHECK(ev.find("the retry is not sent") != std::string::npos);
  // Queued retries are not attempts yet: the dispatcher counts one when billing answers.
  CHECK(w.count("SELECT attempt_count FROM cases WHERE id = 1") == 1);
  SECTION("another case on the same card is bound by the same cap") {
    w.failed("py_2", "cus_1", "in_2", "2026-11-14T10:00:00Z");
    w.tick("2026-11-15T10:01:00Z");
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE case_id = 2") == 0);
    CHECK(w.events(2).find("per-card retry cap") != std::string::npos);
  }
}

TEST_CASE("an expiring default card opens one case per card and expiry, never twice",
          "[scheduler][triggers]") {
  World w(R"(
sequences:
  - id: expiring
    trigger: card_expiring
    days_before_expiry: 30
    steps: [{at: 0d, email: card-expiring}, {at: 20d, email: card-expiring-last}]
    stop_on: [card_updated]
)");
  w.customer("cus_1");
  w.customer("cus_2");
  w.sql(
      "INSERT INTO payment_methods(id, customer_id, exp_month, exp_year, is_default) VALUES "
      "('pm_1', 'cus_1', 12, 2026, 1), ('pm_old', 'cus_2', 12, 2026, 0), "
      "('pm_2', 'cus_2', 6, 2027, 1)");
  // 2027-01-01 is 38 days away: not yet.
  w.tick("2026-11-24T10:00:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM cases") == 0);
  w.tick("2026-12-02T10:00:00Z");  // 30 days before
  CHECK(w.count("SELECT COUNT(*) FROM cases WHERE trigger = 'card_expiring'") == 1);
  CHECK(w.text("SELECT customer_id FROM cases") == "cus_1");
  // cus_1 has no priced subscription: the case has no amount (see CaseRecord::amount).
  CHECK(w.text("SELECT amount_minor || ' ' || currency FROM cases") == "0 XXX");
  CHECK(w.count("SELECT COUNT(*) FROM outbox") == 1);
  w.tick("2026-12-03T10:00:00Z");
  w.tick("2026-12-10T10:00:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM cases") == 1);
  SECTION("a new card closes the case and cancels what is pending") {
    REQUIRE(w.text("SELECT state FROM outbox WHERE step_index = 0") == "pending");
    w.sql("UPDATE payment_methods SET exp_year = 2030 WHERE id = 'pm_1'");
    w.tick("2026-12-10T11:00:00Z");
    CHECK(w.text("SELECT state FROM cases WHERE id = 1") == "recovered");
    CHECK(w.text("SELECT state FROM outbox WHERE step_index = 0") == "cancelled");
    CHECK(w.count("SELECT COUNT(*) FROM ledger") == 0);
    // The new expiry is years away and the old one is done: no new case, no more steps.
    w.tick("2026-12-23T10:00:00Z");
    CHECK(w.count("SELECT COUNT(*) FROM cases") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM outbox") == 1);
  }
  SECTION("without an update the case ends after its last step, still only once") {
    w.tick("2026-12-22T10:00:00Z");
    CHECK(w.text("SELECT state FROM cases WHERE id = 1") == "lost");
    w.tick("2026-12-28T10:00:00Z");
    CHECK(w.count("SELECT COUNT(*) FROM cases") == 1);
  }
}

TEST_CASE("a card update stops reminders and runs the on_card_updated retry",
          "[scheduler][triggers]") {
  World w(R"(
sequences:
  - id: hard
    trigger: payment_failed
    steps:
      - {at: 0h, email: update-card}
      - {at: 2h, sms: update-card}
      - {at: 3d, email: update-card-reminder}
      - {at: 5d, action: retry, unless: [card_updated]}
      - {at: 14d, action: cancel}
    stop_on: [card_updated]
    on_card_updated:
      - {at: 0h, action: retry}
)");
  w.customer("cus_1");
  w.sql(
      "INSERT INTO payment_methods(id, customer_id, exp_month, exp_year, is_default) "
      "VALUES ('pm_1', 'cus_1', 1, 2026, 1)");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T10:00:00Z", "expired_card");
  w.tick("2026-11-24T10:01:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE channel = 'email'") == 1);
  // The sms at +2h is queued for later (min gap / window are not in play here).
  w.tick("2026-11-24T12:00:00Z");
  REQUIRE(w.text("SELECT state FROM outbox WHERE channel = 'sms'") == "pending");

  w.sql("UPDATE payment_methods SET is_default = 0 WHERE id = 'pm_1'");
  w.sql(
      "INSERT INTO payment_methods(id, customer_id, exp_month, exp_year, is_default) "
      "VALUES ('pm_2', 'cus_1', 1, 2030, 1)");
  auto stats = w.tick("2026-11-24T12:00:30Z");
  CHECK(stats.card_updates == 1);
  CHECK(w.text("SELECT state FROM outbox WHERE channel = 'sms'") == "cancelled");
  CHECK(w.text("SELECT card_id FROM outbox WHERE step_index = 1000") == "pm_2");
  CHECK(w.text("SELECT due_at FROM outbox WHERE step_index = 1000") == "2026-11-24T12:00:30Z");
  w.tick("2026-11-27T10:01:00Z");
  w.tick("2026-11-29T10:01:00Z");
  auto ev = w.events(1);
  INFO(ev);
  CHECK(ev.find("step #3 email update-card-reminder: stop_on card_updated") != std::string::npos);
  CHECK(ev.find("step #4 action retry: unless card_updated") != std::string::npos);
  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE action = 'retry'") == 1);
  // A second update runs on_card_updated again, under a new step index.
  w.sql("UPDATE payment_methods SET exp_month = 2 WHERE id = 'pm_2'");
  w.tick("2026-11-29T11:00:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE step_index = 1016") == 1);
}

TEST_CASE("a cancelled subscription closes its case as cancelled in the ledger",
          "[scheduler][triggers]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}, {at: 3d, email: payment-failed-reminder}]
    stop_on: [recovered, subscription_cancelled]
  - id: other
    trigger: card_expiring
    steps: [{at: 0h, email: card-expiring}]
)");
  w.customer("cus_1");
  w.sql(
      "INSERT INTO subscriptions(id, customer_id, plan, status) VALUES "
      "('sub_1', 'cus_1', 'pro', 'active')");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T10:00:00Z", "insufficient_funds", "sub_1");
  w.tick("2026-11-24T10:01:00Z");
  w.sql("UPDATE subscriptions SET status = 'canceled' WHERE id = 'sub_1'");
  auto stats = w.tick("2026-11-25T10:00:00Z");
  CHECK(stats.cases_cancelled == 1);
  CHECK(w.text("SELECT state FROM cases") == "cancelled");
  CHECK(w.text("SELECT kind FROM ledger") == "cancelled");
  CHECK(w.count("SELECT amount_minor FROM ledger") == 1250);
  w.tick("2026-11-28T10:00:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM outbox") == 1);
}

TEST_CASE("a refused address stops email, clicked skips, holdout gets no contact",
          "[scheduler][stop]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 0h, email: payment-failed}
      - {at: 1d, action: retry}
      - {at: 2d, email: payment-failed-reminder, unless: [clicked]}
      - {at: 3d, email: final-notice}
)");
  w.customer("cus_1");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T10:00:00Z");
  w.tick("2026-11-24T10:01:00Z");

  SECTION("unreachable") {
    // What the dispatcher records when the server answers 550 to RCPT.
    w.store->contacts().mark_unreachable("cus_1", dunning::Channel::kEmail, "cus_1@example.com",
                                         "recipient refused: 550 no such user",
                                         at("2026-11-24T10:02:00Z"));
    w.tick("2026-11-27T10:01:00Z");
    auto ev = w.events(1);
    INFO(ev);
    CHECK(ev.find("step #4 email final-notice: unreachable") != std::string::npos);
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE channel = 'email'") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE action = 'retry'") == 1);
  }
  SECTION("clicked") {
    w.sql(
        "INSERT INTO clicks(case_id, customer_id, at) VALUES (1, 'cus_1', '2026-11-24T11:00:00Z')");
    w.tick("2026-11-26T10:01:00Z");
    CHECK(w.events(1).find("step #3 email payment-failed-reminder: unless clicked") !=
          std::string::npos);
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE step_index = 2") == 0);
  }
  SECTION("holdout") {
    w.cfg.sequences.defaults.holdout_percent = 100;
    w.failed("py_2", "cus_1", "in_2", "2026-11-24T12:00:00Z");
    w.tick("2026-11-25T12:01:00Z");
    CHECK(w.count("SELECT holdout FROM cases WHERE id = 2") == 1);
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE case_id = 2 AND channel = 'email'") == 0);
    CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE case_id = 2 AND action = 'retry'") == 1);
    CHECK(w.events(2).find("holdout: the case is in the control group") != std::string::npos);
  }
}

TEST_CASE("an open case follows the new version of its sequence and says so once",
          "[scheduler][versions]") {
  const std::string v1 = R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}, {at: 3d, email: payment-failed-reminder}]
)";
  World w(v1);
  w.customer("cus_1");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T10:00:00Z");
  w.tick("2026-11-24T10:01:00Z");
  const std::string old_hash = w.text("SELECT sequence_hash FROM cases");
  w.load(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}, {at: 2d, email: final-notice}]
)");
  // The due time computed under the old version (+3d) is kept; from there the new offsets apply.
  w.tick("2026-11-26T10:01:00Z");
  CHECK(w.count("SELECT COUNT(*) FROM outbox") == 1);
  w.tick("2026-11-27T10:01:00Z");
  w.tick("2026-11-27T10:02:00Z");
  CHECK(w.text("SELECT sequence_hash FROM cases") == old_hash);
  CHECK(w.text("SELECT template FROM outbox WHERE step_index = 1") == "final-notice");
  CHECK(w.count("SELECT COUNT(*) FROM case_events WHERE kind LIKE 'sequence_changed:%'") == 1);
  CHECK(w.events(1).find("changed from version " + old_hash) != std::string::npos);
}

TEST_CASE("payments rows that cannot be decoded are skipped, reported once, and passed by",
          "[scheduler][feed]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
)");
  w.customer("cus_1");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T09:00:00Z");
  w.sql(
      "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status, "
      "decline_code, occurred_at) VALUES "
      "('py_lower', 'cus_1', 'in_2', 1250, 'eur', 'failed', 'insufficient_funds', "
      "'2026-11-24T09:01:00Z'), "
      "('py_when', 'cus_1', 'in_3', 1250, 'EUR', 'failed', 'insufficient_funds', 'soon')");
  w.failed("py_4", "cus_1", "in_4", "2026-11-24T09:03:00Z");

  auto stats = w.tick("2026-11-24T10:00:00Z");
  CHECK(stats.payments_read == 2);
  CHECK(stats.rows_rejected == 2);
  CHECK(stats.cases_opened == 2);
  CHECK(w.count("SELECT COUNT(*) FROM cases WHERE invoice_id IN ('in_1', 'in_4')") == 2);
  CHECK(w.count("SELECT COUNT(*) FROM cases WHERE invoice_id IN ('in_2', 'in_3')") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM rejected_rows WHERE source_table = 'payments'") == 2);
  CHECK(w.text("SELECT reason FROM rejected_rows WHERE row_id = 'py_lower'")
            .find("currency \"eur\"") != std::string::npos);
  CHECK(w.text("SELECT reason FROM rejected_rows WHERE row_id = 'py_when'").find("occurred_at") !=
        std::string::npos);
  CHECK(w.count("SELECT value FROM cursors WHERE name = 'payments'") ==
        w.count("SELECT MAX(rowid) FROM payments"));

  // The next poll reads nothing again: no second report, no crash loop.
  auto again = w.tick("2026-11-24T10:05:00Z");
  CHECK(again.rows_rejected == 0);
  CHECK(again.payments_read == 0);
  CHECK(w.count("SELECT COUNT(*) FROM rejected_rows") == 2);
}

TEST_CASE("a subscription ends by the one list of ended statuses; other changes leave cases open",
          "[scheduler][triggers]") {
  World w(R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}, {at: 3d, email: payment-failed-reminder}]
    stop_on: [recovered, subscription_cancelled]
)");
  w.customer("cus_1");
  w.sql(
      "INSERT INTO subscriptions(id, customer_id, plan, status) VALUES "
      "('sub_1', 'cus_1', 'pro', 'active')");
  w.failed("py_1", "cus_1", "in_1", "2026-11-24T10:00:00Z", "insufficient_funds", "sub_1");
  w.tick("2026-11-24T10:01:00Z");
  w.sql("UPDATE subscriptions SET status = 'past_due' WHERE id = 'sub_1'");
  CHECK(w.tick("2026-11-24T11:00:00Z").cases_cancelled == 0);
  CHECK(w.text("SELECT state FROM cases") == "open");
  w.sql("UPDATE subscriptions SET status = 'incomplete_expired' WHERE id = 'sub_1'");
  CHECK(w.tick("2026-11-24T12:00:00Z").cases_cancelled == 1);
  CHECK(w.text("SELECT state FROM cases") == "cancelled");
  CHECK(w.text("SELECT kind FROM ledger") == "cancelled");
}

TEST_CASE(
    "a decline code that comes after its case opened selects its sequence, while nothing of "
    "the first one was queued",
    "[scheduler][stripe]") {
  const char* yaml = R"(
sequences:
  - id: hard
    trigger: payment_failed
    match: {decline: hard}
    steps: [{at: 1d, email: update-card}, {at: 30d, action: mark_lost}]
  - id: soft
    trigger: payment_failed
    steps: [{at: %s, email: payment-failed}, {at: 30d, action: mark_lost}]
)";
  auto late_decline = [](World& w, const char* payment) {
    store::Tx tx(w.store->db());
    CHECK(w.store->facts().fill_decline(payment, "stolen_card", std::nullopt,
                                        at("2026-11-24T10:30:00Z"),
                                        "learned late") == store::DeclineFill::kOpenCase);
    tx.commit();
  };
  auto with_first_step = [&](const char* offset) {
    std::string y = yaml;
    return y.replace(y.find("%s"), 2, offset);
  };
  SECTION("nothing queued yet: the hard sequence, from the case's opening") {
    World w(with_first_step("3d"));
    w.customer("c1");
    w.failed("p1", "c1", "in_1", "2026-11-24T09:00:00Z", "");
    w.tick("2026-11-24T10:00:00Z");
    REQUIRE(w.text("SELECT sequence_id FROM cases") == "soft");
    late_decline(w, "p1");
    w.tick("2026-11-24T11:00:00Z");
    CHECK(w.text("SELECT sequence_id FROM cases") == "hard");
    CHECK(w.text("SELECT decline_code FROM cases") == "stolen_card");
    CHECK(w.text("SELECT next_due_at FROM cases") == "2026-11-25T09:00:00Z");
    CHECK(w.count("SELECT COUNT(*) FROM case_events WHERE kind = 'sequence_selected'") == 1);
    w.tick("2026-11-24T12:00:00Z");  // read once
    CHECK(w.count("SELECT COUNT(*) FROM case_events WHERE kind = 'sequence_selected'") == 1);
  }
  SECTION("a step already queued: the case keeps its sequence and says why") {
    World w(with_first_step("0h"));
    w.customer("c1");
    w.failed("p1", "c1", "in_1", "2026-11-24T09:00:00Z", "");
    w.tick("2026-11-24T10:00:00Z");
    late_decline(w, "p1");
    w.tick("2026-11-24T11:00:00Z");
    CHECK(w.text("SELECT sequence_id FROM cases") == "soft");
    CHECK(w.count("SELECT COUNT(*) FROM case_events WHERE kind = 'sequence_kept'") == 1);
  }
}
