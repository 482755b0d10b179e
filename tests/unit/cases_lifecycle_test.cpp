// The life of a dunning case, end to end through the scheduler and the dispatcher, with a fixed
// clock, a recording transport and a real SQLite file.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/scheduler/scheduler.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "dunning/store/engine.hpp"
#include "dunning/templates/renderer.hpp"
#include "support/recording_transport.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using dunning::Seconds;
using dunning::TimePoint;
using dunning::sender::Delivery;
using dunning::store::CaseState;
using dunning::store::LedgerEntry;
using dunning::store::LedgerKind;
using dunning::store::OutboxState;

namespace {

constexpr Seconds kHour{3600};
constexpr Seconds kDay{86400};

TimePoint t0() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 2} + hours{8};
}

using dunning::testing::TempDir;

dunning::config::Step email_step(Seconds at, std::string name) {
  dunning::config::Step s;
  s.at = at;
  s.channel = dunning::config::Channel::kEmail;
  s.template_name = std::move(name);
  return s;
}

dunning::config::Step action_step(Seconds at, dunning::config::Action a) {
  dunning::config::Step s;
  s.at = at;
  s.channel = dunning::config::Channel::kAction;
  s.action = a;
  return s;
}

dunning::config::Config make_config() {
  dunning::config::Config cfg;
  cfg.daemon.templates = DUNNING_SOURCE_DIR "/templates";
  cfg.daemon.default_locale = "en";
  cfg.daemon.smtp.url = "smtp://127.0.0.1:2525/test.local";
  cfg.daemon.smtp.from = "Billing <billing@example.com>";
  cfg.daemon.outbox.retry_base = Seconds(60);
  dunning::config::Sequence s;
  s.id = "standard";
  s.trigger = dunning::config::Trigger::kPaymentFailed;
  s.hash = "0123456789abcdef";
  s.steps = {email_step(Seconds(0), "update-card"), email_step(3 * kDay, "update-card-reminder"),
             email_step(10 * kDay, "final-notice"),
             action_step(14 * kDay, dunning::config::Action::kCancel)};
  s.stop_on = {"recovered"};
  cfg.sequences.sequences = {s};
  return cfg;
}

// Everything one case needs: a real database file, a second raw connection standing in for the
// billing system, and the scheduler and dispatcher driven by a fixed clock.
class World {
 public:
  World()
      : saved_level_(quiet_logs()),
        db_path_(dir_.path() / "dunningd.db"),
        clock_(t0()),
        cfg_(make_config()),
        store_(open_store(db_path_)),
        renderer_(cfg_.daemon.templates, cfg_.daemon.default_locale, cfg_.daemon.company),
        scheduler_(store_->db(), store_->feed(), store_->cases(), store_->outbox(),
                   store_->ledger(), store_->contacts(), cfg_, clock_),
        dispatcher_(store_->db(), store_->outbox(), store_->cases(), store_->contacts(),
                    store_->feed(), store_->facts(), cfg_, renderer_, channels_.view(), clock_) {
    REQUIRE(sqlite3_open_v2(db_path_.c_str(), &raw_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(raw_, 5000);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World() {
    sqlite3_close(raw_);
    spdlog::set_level(saved_level_);
  }

  // Runs raw SQL on the billing-side connection; returns the SQLite result code.
  int exec(const std::string& sql, std::string* error = nullptr) {
    char* msg = nullptr;
    int rc = sqlite3_exec(raw_, sql.c_str(), nullptr, nullptr, &msg);
    if (error) *error = msg ? msg : "";
    sqlite3_free(msg);
    return rc;
  }
  void must_exec(const std::string& sql) {
    std::string error;
    INFO(sql);
    INFO(error);
    REQUIRE(exec(sql, &error) == SQLITE_OK);
  }
  std::int64_t count(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  }

  void add_customer(const std::string& id, const std::string& email, const std::string& name) {
    must_exec("INSERT INTO customers(id, email, name, locale, time_zone) VALUES ('" + id + "', '" +
              email + "', '" + name + "', 'en', 'Europe/Zagreb')");
  }
  void add_payment(const std::string& id, const std::string& status, const std::string& invoice,
                   std::int64_t minor, const std::string& occurred_at,
                   const std::string& decline_code = "insufficient_funds",
                   const std::string& customer = "cus_1") {
    must_exec(
        "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status, "
        "decline_code, occurred_at) VALUES ('" +
        id + "', '" + customer + "', '" + invoice + "', " + std::to_string(minor) + ", 'EUR', '" +
        status + "', '" + decline_code + "', '" + occurred_at + "')");
  }
  void add_payment_now(const std::string& id, const std::string& status,
                       const std::string& invoice = "in_1", std::int64_t minor = 1250) {
    add_payment(id, status, invoice, minor, dunning::format_iso8601(clock_.now()));
  }

  struct Round {
    dunning::scheduler::TickStats tick;
    dunning::sender::DispatchStats dispatch;
  };
  Round run() {
    Round r;
    r.tick = scheduler_.tick();
    r.dispatch = dispatcher_.dispatch_due();
    return r;
  }

  std::vector<dunning::store::CaseRecord> cases() { return store_->cases().find({"", "", 100}); }
  std::vector<LedgerEntry> ledger() {
    std::vector<LedgerEntry> out;
    store_->ledger().for_each(std::nullopt, std::nullopt,
                              [&](const LedgerEntry& e) { out.push_back(e); });
    return out;
  }

  dunning::FixedClock& clock() { return clock_; }
  // The scheduler and the dispatcher read this config at every call.
  dunning::config::Config& config() { return cfg_; }
  dunning::store::Engine& store() { return *store_; }
  // Pending outbox rows of every case (what the daemon's /metrics calls the outbox depth).
  std::int64_t outbox_depth() {
    std::int64_t n = 0;
    for (const auto& c : store_->reports().outbox_by_channel_state())
      if (c.b == "pending") n += c.n;
    return n;
  }
  dunning::testing::RecordingTransport& transport() { return channels_.email; }
  dunning::scheduler::Scheduler& scheduler() { return scheduler_; }
  dunning::sender::Dispatcher& dispatcher() { return dispatcher_; }

 private:
  static std::unique_ptr<dunning::store::Engine> open_store(const fs::path& path) {
    auto opened = dunning::store::open_engine(path, dunning::store::OpenMode::kCreate);
    INFO((opened.ok() ? std::string() : opened.error().message));
    REQUIRE(opened.ok());
    return std::move(opened).value();
  }

  // The daemon logs every step; a test run only needs the failures.
  static spdlog::level::level_enum quiet_logs() {
    auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::off);
    return level;
  }

  spdlog::level::level_enum saved_level_;
  TempDir dir_;
  fs::path db_path_;
  dunning::FixedClock clock_;
  dunning::config::Config cfg_;
  std::unique_ptr<dunning::store::Engine> store_;
  dunning::templates::Renderer renderer_;
  dunning::testing::RecordingChannels channels_;
  dunning::scheduler::Scheduler scheduler_;
  dunning::sender::Dispatcher dispatcher_;
  sqlite3* raw_ = nullptr;
};

bool has_header(const std::string& mime, const std::string& line) {
  return mime.find("\r\n" + line + "\r\n") != std::string::npos ||
         mime.rfind(line + "\r\n", 0) == 0;
}

}  // namespace

TEST_CASE("a failed payment opens one case and its first step is sent once", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");

  auto first = w.run();
  CHECK(first.tick.payments_read == 1);
  CHECK(first.tick.cases_opened == 1);
  CHECK(first.tick.steps_queued == 1);
  CHECK(first.dispatch.sent == 1);
  CHECK(first.dispatch.failed == 0);

  auto cases = w.cases();
  REQUIRE(cases.size() == 1);
  const auto& c = cases[0];
  CHECK(c.state == CaseState::kOpen);
  CHECK(c.sequence_id == "standard");
  CHECK(c.invoice_id == "in_1");
  CHECK(c.amount == dunning::Money(1250, "EUR"));
  CHECK(c.opened_at == t0());
  CHECK(c.next_step == 1);
  CHECK(c.next_due_at == t0() + 3 * kDay);

  REQUIRE(w.transport().attempts().size() == 1);
  const auto& sent = w.transport().attempts()[0];
  CHECK(sent.envelope_from == "billing@example.com");
  CHECK(sent.envelope_to == "ana@example.com");
  CHECK(has_header(sent.mime,
                   "Message-ID: <dunningd.case-" + std::to_string(c.id) + ".step-0@example.com>"));
  CHECK(has_header(sent.mime, "To: \"Ana Horvat\" <ana@example.com>"));

  auto outbox = w.store().outbox().for_case(c.id);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].step_index == 0);
  CHECK(outbox[0].state == OutboxState::kSent);
  CHECK(outbox[0].attempts == 1);
  CHECK(outbox[0].sent_at == t0());

  SECTION("a second failed payment for the same invoice opens no second case") {
    w.clock().advance(kHour);
    w.add_payment_now("py_2", "failed");
    auto again = w.run();
    CHECK(again.tick.payments_read == 1);
    CHECK(again.tick.cases_opened == 0);
    CHECK(again.dispatch.sent == 0);
    CHECK(w.cases().size() == 1);
    CHECK(w.count("SELECT COUNT(*) FROM cases") == 1);
    CHECK(w.transport().attempts().size() == 1);
    auto events = w.store().cases().events(c.id);
    CHECK(std::any_of(events.begin(), events.end(), [](const auto& e) {
      return e.kind == "payment_failed" && e.detail.find("py_2") != std::string::npos;
    }));
  }

  SECTION("ticking again without time passing sends nothing") {
    auto again = w.run();
    CHECK(again.tick.payments_read == 0);
    CHECK(again.tick.steps_queued == 0);
    CHECK(again.dispatch.sent == 0);
    CHECK(w.transport().attempts().size() == 1);
  }

  SECTION("the next step is sent once the clock passes its due time") {
    w.clock().advance(3 * kDay - Seconds(1));
    auto early = w.run();
    CHECK(early.tick.steps_queued == 0);
    CHECK(early.dispatch.sent == 0);

    w.clock().advance(Seconds(1));
    auto due = w.run();
    CHECK(due.tick.steps_queued == 1);
    CHECK(due.dispatch.sent == 1);
    REQUIRE(w.transport().attempts().size() == 2);
    CHECK(
        has_header(w.transport().attempts()[1].mime,
                   "Message-ID: <dunningd.case-" + std::to_string(c.id) + ".step-1@example.com>"));
    auto updated = w.store().cases().get(c.id);
    REQUIRE(updated);
    CHECK(updated->next_step == 2);
    CHECK(updated->next_due_at == t0() + 10 * kDay);

    auto later = w.run();
    CHECK(later.dispatch.sent == 0);
    CHECK(w.transport().attempts().size() == 2);
  }
}

TEST_CASE("a payment closes the case as recovered, credited to the last delivered step",
          "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  REQUIRE(w.run().dispatch.sent == 1);
  const auto case_id = w.cases().at(0).id;

  SECTION("after the second email was delivered") {
    w.clock().advance(3 * kDay + kHour);
    REQUIRE(w.run().dispatch.sent == 1);
    w.clock().advance(kHour);
    const TimePoint paid_at = w.clock().now();
    w.add_payment_now("py_2", "succeeded", "in_1", 1250);
    auto r = w.run();
    CHECK(r.tick.cases_recovered == 1);

    auto c = w.store().cases().get(case_id);
    REQUIRE(c);
    CHECK(c->state == CaseState::kRecovered);
    CHECK(c->closed_at == paid_at);
    CHECK_FALSE(c->next_due_at);

    auto ledger = w.ledger();
    REQUIRE(ledger.size() == 1);
    CHECK(ledger[0].kind == LedgerKind::kRecovered);
    CHECK(ledger[0].case_id == case_id);
    CHECK(ledger[0].amount == dunning::Money(1250, "EUR"));
    CHECK(ledger[0].step_index == 1);
    CHECK(ledger[0].channel == "email");
    CHECK(ledger[0].template_name == "update-card-reminder");
    CHECK(ledger[0].payment_id == "py_2");
    CHECK(ledger[0].occurred_at == paid_at);
    CHECK(ledger[0].sequence_id == "standard");
  }

  SECTION("while the next step is queued but not yet sent, which is then cancelled") {
    w.clock().advance(3 * kDay + kHour);
    REQUIRE(w.scheduler().tick().steps_queued == 1);  // queued, not dispatched
    w.add_payment_now("py_2", "succeeded", "in_1", 1250);
    auto r = w.run();
    CHECK(r.tick.cases_recovered == 1);
    CHECK(r.dispatch.sent == 0);

    auto ledger = w.ledger();
    REQUIRE(ledger.size() == 1);
    CHECK(ledger[0].kind == LedgerKind::kRecovered);
    CHECK(ledger[0].step_index == 0);
    CHECK(ledger[0].template_name == "update-card");

    auto outbox = w.store().outbox().for_case(case_id);
    REQUIRE(outbox.size() == 2);
    CHECK(outbox[0].state == OutboxState::kSent);
    CHECK(outbox[1].state == OutboxState::kCancelled);
    CHECK(w.outbox_depth() == 0);
  }

  // Whatever happened above, the closed case never sends again.
  for (int day = 0; day < 20; ++day) {
    w.clock().advance(kDay);
    auto r = w.run();
    CHECK(r.tick.steps_queued == 0);
    CHECK(r.dispatch.sent == 0);
  }
  CHECK(w.ledger().size() == 1);
  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE state = 'pending'") == 0);
}

TEST_CASE("a payment before any message is a recovery without contact", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  REQUIRE(w.scheduler().tick().cases_opened == 1);  // step 0 queued, nothing sent yet
  w.clock().advance(Seconds(600));
  w.add_payment_now("py_2", "succeeded");
  auto r = w.run();
  CHECK(r.tick.cases_recovered == 1);
  CHECK(r.dispatch.sent == 0);
  CHECK(w.transport().attempts().empty());

  auto ledger = w.ledger();
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].kind == LedgerKind::kRecoveredWithoutContact);
  CHECK_FALSE(ledger[0].step_index);
  CHECK(ledger[0].amount == dunning::Money(1250, "EUR"));
  REQUIRE(w.cases().size() == 1);
  CHECK(w.cases()[0].state == CaseState::kRecovered);
  auto outbox = w.store().outbox().for_case(w.cases()[0].id);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].state == OutboxState::kCancelled);
}

TEST_CASE("a case never paid is lost at its final cancel", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  REQUIRE(w.run().dispatch.sent == 1);
  const auto case_id = w.cases().at(0).id;

  w.clock().set(t0() + 3 * kDay);
  CHECK(w.run().dispatch.sent == 1);
  w.clock().set(t0() + 10 * kDay);
  CHECK(w.run().dispatch.sent == 1);
  w.clock().set(t0() + 14 * kDay - Seconds(1));
  CHECK(w.run().tick.cases_lost == 0);
  w.clock().set(t0() + 14 * kDay);
  auto r = w.run();
  CHECK(r.tick.cases_lost == 1);
  CHECK(r.dispatch.sent == 0);
  CHECK(r.dispatch.skipped == 1);  // the cancel action has no transport yet; recorded why

  auto c = w.store().cases().get(case_id);
  REQUIRE(c);
  CHECK(c->state == CaseState::kLost);
  CHECK(c->closed_at == t0() + 14 * kDay);

  auto ledger = w.ledger();
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].kind == LedgerKind::kLost);
  CHECK(ledger[0].amount == dunning::Money(1250, "EUR"));
  CHECK(ledger[0].step_index == 3);
  CHECK(ledger[0].occurred_at == t0() + 14 * kDay);

  CHECK(w.transport().attempts().size() == 3);
  auto outbox = w.store().outbox().for_case(case_id);
  REQUIRE(outbox.size() == 4);
  CHECK(outbox[3].channel == dunning::Channel::kAction);
  CHECK(outbox[3].action == dunning::Action::kCancel);

  w.clock().advance(30 * kDay);
  auto after = w.run();
  CHECK(after.tick.steps_queued == 0);
  CHECK(after.dispatch.sent == 0);
  CHECK(w.ledger().size() == 1);
}

TEST_CASE("a transient failure is retried after the backoff and delivered exactly once",
          "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  w.transport().fail_next(1, Delivery::Outcome::kTransient, "421 4.7.0 try again later");

  auto first = w.run();
  CHECK(first.dispatch.sent == 0);
  CHECK(first.dispatch.retried == 1);
  const auto case_id = w.cases().at(0).id;
  auto outbox = w.store().outbox().for_case(case_id);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].state == OutboxState::kPending);
  CHECK(outbox[0].attempts == 1);
  CHECK_THAT(outbox[0].last_error, Catch::Contains("421 4.7.0"));

  // retry_base is 60s with at most 20% jitter: nothing before 48s, surely due after 72s.
  CHECK(w.run().dispatch.sent == 0);
  w.clock().advance(Seconds(47));
  CHECK(w.run().dispatch.sent == 0);
  CHECK(w.transport().attempts().size() == 1);
  w.clock().advance(Seconds(26));
  auto retry = w.run();
  CHECK(retry.dispatch.sent == 1);
  CHECK(retry.dispatch.retried == 0);

  for (int i = 0; i < 5; ++i) {
    w.clock().advance(kHour);
    CHECK(w.run().dispatch.sent == 0);
  }
  CHECK(w.transport().attempts().size() == 2);
  CHECK(w.transport().delivered().size() == 1);
  outbox = w.store().outbox().for_case(case_id);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].state == OutboxState::kSent);
  CHECK(outbox[0].attempts == 2);
  // Both attempts carried the same Message-ID.
  CHECK(
      has_header(w.transport().attempts()[0].mime,
                 "Message-ID: <dunningd.case-" + std::to_string(case_id) + ".step-0@example.com>"));
  CHECK(
      has_header(w.transport().attempts()[1].mime,
                 "Message-ID: <dunningd.case-" + std::to_string(case_id) + ".step-0@example.com>"));
}

TEST_CASE("consecutive transient failures back off exponentially", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  w.transport().fail_next(2, Delivery::Outcome::kTransient, "451 4.3.0 busy");

  CHECK(w.run().dispatch.retried == 1);  // attempt 1 at t0; next after 48..72s
  w.clock().advance(Seconds(73));
  CHECK(w.run().dispatch.retried == 1);  // attempt 2; next after 96..144s
  REQUIRE(w.transport().attempts().size() == 2);
  w.clock().advance(Seconds(95));
  CHECK(w.run().dispatch.sent == 0);
  CHECK(w.transport().attempts().size() == 2);
  w.clock().advance(Seconds(50));
  CHECK(w.run().dispatch.sent == 1);
  CHECK(w.transport().attempts().size() == 3);
  CHECK(w.transport().delivered().size() == 1);
}

TEST_CASE("transient failures turn permanent after give_up_after", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  w.transport().fail_next(100000, Delivery::Outcome::kTransient, "421 4.7.0 try again later");
  w.run();
  const auto case_id = w.cases().at(0).id;
  // Ticking every 2h is always past the capped delay (retry_max 1h, +20% jitter at most).
  for (int i = 0; i < 2 * 24; ++i) {
    w.clock().advance(2 * kHour);
    w.run();
  }
  auto outbox = w.store().outbox().for_case(case_id);
  REQUIRE_FALSE(outbox.empty());
  CHECK(outbox[0].state == OutboxState::kFailed);
  CHECK_THAT(outbox[0].last_error, Catch::Contains("gave up after 3d"));
  CHECK_THAT(outbox[0].last_error, Catch::Contains("421 4.7.0"));
  // One attempt at t0, one per tick up to t0+72h, and the one at t0+74h that gives up.
  CHECK(outbox[0].attempts == 38);
  const int attempts = outbox[0].attempts;
  w.clock().advance(kDay);
  w.run();
  CHECK(w.store().outbox().for_case(case_id).at(0).attempts == attempts);
  CHECK(w.transport().delivered().empty());
}

TEST_CASE("a failed payment without an invoice opens no case", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.must_exec(
      "INSERT INTO payments(id, customer_id, amount_minor, currency, status, decline_code, "
      "occurred_at) VALUES ('py_1', 'cus_1', 1250, 'EUR', 'failed', 'expired_card', '" +
      dunning::format_iso8601(t0()) + "')");
  auto r = w.run();
  CHECK(r.tick.payments_read == 1);
  CHECK(r.tick.cases_opened == 0);
  CHECK(w.cases().empty());
  CHECK(w.transport().attempts().empty());
}

TEST_CASE("a payment without an invoice recovers the customer's case in the same currency",
          "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  REQUIRE(w.run().dispatch.sent == 1);
  w.clock().advance(kHour);
  auto pay = [&](const std::string& id, const std::string& currency) {
    w.must_exec(
        "INSERT INTO payments(id, customer_id, amount_minor, currency, status, "
        "occurred_at) VALUES ('" +
        id + "', 'cus_1', 1250, '" + currency + "', 'succeeded', '" +
        dunning::format_iso8601(w.clock().now()) + "')");
  };
  pay("py_usd", "USD");
  CHECK(w.run().tick.cases_recovered == 0);
  CHECK(w.cases().at(0).state == CaseState::kOpen);
  pay("py_eur", "EUR");
  CHECK(w.run().tick.cases_recovered == 1);
  CHECK(w.cases().at(0).state == CaseState::kRecovered);
  auto ledger = w.ledger();
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].payment_id == "py_eur");
  CHECK(ledger[0].kind == LedgerKind::kRecovered);
}

TEST_CASE("a row claimed by a sender that died is sent after its lease, once",
          "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  REQUIRE(w.scheduler().tick().steps_queued == 1);
  {
    // A sender claims the row and dies before sending.
    dunning::store::Tx tx(w.store().db());
    REQUIRE(w.store().outbox().claim(w.clock().now(), Seconds(300), 10).size() == 1);
    tx.commit();
  }
  CHECK(w.dispatcher().dispatch_due().sent == 0);
  w.clock().advance(Seconds(299));
  CHECK(w.dispatcher().dispatch_due().sent == 0);
  w.clock().advance(Seconds(1));
  CHECK(w.dispatcher().dispatch_due().sent == 1);
  w.clock().advance(kHour);
  CHECK(w.dispatcher().dispatch_due().sent == 0);
  CHECK(w.transport().attempts().size() == 1);
  auto outbox = w.store().outbox().for_case(w.cases().at(0).id);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].state == OutboxState::kSent);
  CHECK(outbox[0].attempts == 2);
}

TEST_CASE("a batch starts mail only in the first half of its lease and hands the rest back",
          "[cases][lifecycle]") {
  // The transport's bounds, without a dispatcher: a start_by already past starts nothing.
  dunning::testing::RecordingTransport bare;
  const std::vector<dunning::sender::OutgoingEmail> two(2, {"a@example.com", "b@example.com", "x"});
  auto late = bare.send_all(two, {nullptr, std::chrono::steady_clock::now()});
  REQUIRE(late.size() == 2);
  CHECK(bare.attempts().empty());
  CHECK((!late[0].attempted && late[0].out_of_time && !late[1].attempted && late[1].out_of_time));
  std::atomic<bool> stop{true};
  auto stopped = bare.send_all(two, {&stop});
  CHECK((!stopped[0].attempted && !stopped[0].out_of_time));
  CHECK(bare.attempts().empty());

  // A relay that takes 300 ms a message and a lease of 1 s: a batch of six cannot start them
  // all within 0.5 s. What did not start goes back unsent, uncounted, and is sent once later.
  World w;
  for (int i = 0; i < 6; ++i) {
    const auto n = std::to_string(i);
    w.add_customer("cus_" + n, "c" + n + "@example.com", "Customer " + n);
    w.add_payment("py_" + n, "failed", "in_" + n, 1250, dunning::format_iso8601(w.clock().now()),
                  "insufficient_funds", "cus_" + n);
  }
  REQUIRE(w.scheduler().tick().steps_queued == 6);
  auto& cfg = w.config();
  cfg.daemon.outbox.lease = Seconds(1);
  cfg.daemon.outbox.batch_size = 6;
  w.transport().take_per_send(std::chrono::milliseconds(300));
  int sent = 0;
  for (int round = 0; round < 20 && sent < 6; ++round) sent += w.dispatcher().dispatch_due().sent;
  CHECK(sent == 6);
  CHECK(w.transport().attempts().size() == 6);  // nothing started twice
  CHECK(w.count("SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND attempts = 1") == 6);
}

TEST_CASE("a message sent in an earlier batch of the round counts once against the daily cap",
          "[cases][lifecycle]") {
  World w;
  w.config().sequences.defaults.max_messages_per_customer_per_day = 2;
  w.config().sequences.defaults.min_hours_between_messages = 0;
  w.config().daemon.outbox.batch_size = 1;  // each case's first step in a batch of its own
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed", "in_1");
  w.add_payment_now("py_2", "failed", "in_2");
  w.add_payment_now("py_3", "failed", "in_3");
  REQUIRE(w.scheduler().tick().steps_queued == 3);
  CHECK(w.dispatcher().dispatch_due().sent == 2);  // the cap is 2, not 1 (counted twice) or 3
  CHECK(w.transport().attempts().size() == 2);
}

TEST_CASE("a rejected recipient fails the step with the reason and is never retried",
          "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "gone@example.com", "Gone");
  w.add_payment_now("py_1", "failed");
  w.transport().fail_next(1, Delivery::Outcome::kRecipientRejected, "550 5.1.1 no such user");

  auto first = w.run();
  CHECK(first.dispatch.failed == 1);
  CHECK(first.dispatch.sent == 0);
  CHECK(first.dispatch.retried == 0);
  const auto case_id = w.cases().at(0).id;
  auto outbox = w.store().outbox().for_case(case_id);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].state == OutboxState::kFailed);
  CHECK_THAT(outbox[0].last_error, Catch::Contains("550 5.1.1 no such user"));

  for (int i = 0; i < 10; ++i) {
    w.clock().advance(kHour);
    w.run();
  }
  CHECK(w.transport().attempts().size() == 1);
  outbox = w.store().outbox().for_case(case_id);
  CHECK(outbox.at(0).state == OutboxState::kFailed);
  CHECK(outbox.at(0).attempts == 1);
}

TEST_CASE("a payment with an unreadable occurred_at is skipped without a crash",
          "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment("py_bad", "failed", "in_bad", 1250, "last tuesday");

  dunning::scheduler::TickStats stats;
  REQUIRE_NOTHROW(stats = w.scheduler().tick());
  CHECK(stats.payments_read == 0);
  CHECK(stats.cases_opened == 0);
  CHECK(w.cases().empty());

  // Later payments are still read.
  w.add_payment_now("py_good", "failed", "in_good");
  auto r = w.run();
  CHECK(r.tick.cases_opened == 1);
  CHECK(r.dispatch.sent == 1);
  REQUIRE(w.cases().size() == 1);
  CHECK(w.cases()[0].invoice_id == "in_good");
}

TEST_CASE("a full batch of unreadable payments does not block the payments after it",
          "[cases][lifecycle]") {
  // Regression: a batch made only of unreadable rows once stopped the cursor for good.
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.must_exec("BEGIN");
  for (int i = 0; i < dunning::scheduler::Scheduler::kBatch; ++i) {
    w.add_payment("py_bad_" + std::to_string(i), "failed", "in_bad_" + std::to_string(i), 100,
                  "not a time");
  }
  w.must_exec("COMMIT");
  w.add_payment_now("py_good", "failed", "in_good");
  CHECK_NOTHROW(w.run());
  CHECK(w.cases().size() == 1);
  CHECK(w.transport().delivered().size() == 1);
}

TEST_CASE("ledger rows cannot be updated or deleted", "[cases][lifecycle]") {
  World w;
  w.add_customer("cus_1", "ana@example.com", "Ana Horvat");
  w.add_payment_now("py_1", "failed");
  w.run();
  w.clock().advance(kHour);
  w.add_payment_now("py_2", "succeeded");
  REQUIRE(w.run().tick.cases_recovered == 1);
  REQUIRE(w.count("SELECT COUNT(*) FROM ledger") == 1);

  std::string error;
  CHECK(w.exec("UPDATE ledger SET amount_minor = 0", &error) == SQLITE_CONSTRAINT);
  CHECK_THAT(error, Catch::Contains("append-only"));
  CHECK(w.exec("DELETE FROM ledger", &error) == SQLITE_CONSTRAINT);
  CHECK_THAT(error, Catch::Contains("append-only"));

  CHECK(w.count("SELECT COUNT(*) FROM ledger") == 1);
  CHECK(w.count("SELECT amount_minor FROM ledger") == 1250);
  auto ledger = w.ledger();
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].kind == LedgerKind::kRecovered);
  CHECK(ledger[0].step_index == 0);
}
