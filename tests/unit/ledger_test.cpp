#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "dunning/cases/lifecycle.hpp"
#include "dunning/ledger/attribution.hpp"
#include "dunning/ledger/summary.hpp"
#include "dunning/store/engine.hpp"
#include "store/sqlite/sqlite.hpp"

using namespace dunning;

namespace {

TimePoint at(const char* iso) { return *parse_iso8601(iso); }

// A fresh SQLite file in a temp folder, removed at the end of the test.
struct TempDb {
  std::filesystem::path dir;
  std::filesystem::path path;
  TempDb() {
    char tmpl[] = "/tmp/dunning-ledger-test-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir / "t.db";
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
};

store::CaseRecord a_case() {
  store::CaseRecord c;
  c.trigger = "payment_failed";
  c.customer_id = "cus_1";
  c.subscription_id = "sub_1";
  c.invoice_id = "in_1";
  c.payment_id = "py_1";
  c.amount = Money(1250, "EUR");
  c.decline_code = "insufficient_funds";
  c.sequence_id = "soft";
  c.sequence_hash = "h";
  c.opened_at = at("2026-11-02T10:00:00Z");
  return c;
}

store::LedgerEntry recovered_row(const store::CaseRecord& c) {
  store::LedgerEntry e;
  e.case_id = c.id;
  e.kind = "recovered";
  e.customer_id = c.customer_id;
  e.amount = c.amount;
  e.opened_at = c.opened_at;
  e.occurred_at = at("2026-11-05T09:00:00Z");
  e.recorded_at = e.occurred_at;
  return e;
}

}  // namespace

TEST_CASE("ledger rows can be neither updated nor deleted; corrections are new rows",
          "[ledger][store]") {
  TempDb tmp;
  auto opened = store::open_engine(tmp.path, store::OpenMode::kCreate);
  REQUIRE(opened);
  auto& st = *opened.value();
  auto c = a_case();
  c.id = st.cases().insert(c);
  auto row = recovered_row(c);
  row.id = st.ledger().append(row);

  store::sqlite::Db raw(tmp.path.string(), false);
  CHECK_THROWS_WITH(raw.exec("UPDATE ledger SET amount_minor = 1 WHERE id = 1"),
                    Catch::Contains("append-only"));
  CHECK_THROWS_WITH(raw.exec("DELETE FROM ledger"), Catch::Contains("append-only"));

  // A second close row for the same case is refused; a correction is accepted and counted.
  CHECK_THROWS_AS(st.ledger().append(row), store::StoreError);
  st.ledger().append(ledger::correction_entry(row, Money(-250, "EUR"), at("2026-11-06T00:00:00Z"),
                                              "partial refund"));
  CHECK_THROWS_AS(ledger::correction_entry(row, Money(1, "USD"), row.occurred_at, ""),
                  std::logic_error);
  int rows = 0;
  std::int64_t sum = 0;
  st.ledger().for_each(std::nullopt, std::nullopt, [&](const store::LedgerEntry& e) {
    ++rows;
    sum += e.amount.minor();
    if (e.kind == "correction") CHECK(e.corrects == row.id);
  });
  CHECK(rows == 2);
  CHECK(sum == 1000);
  int outcomes = 0;
  st.reports().for_each_case_outcome(std::nullopt, std::nullopt, [&](const store::CaseOutcome& o) {
    ++outcomes;
    CHECK(o.kind == "recovered");
    CHECK(o.closed_amount == Money(1000, "EUR"));
  });
  CHECK(outcomes == 1);
}

TEST_CASE("a recovery is attributed to the click when there was one, else to the last step",
          "[ledger]") {
  store::OutboxRow step;
  step.step_index = 1;
  step.channel = "email";
  step.template_name = "payment-failed-reminder";
  auto base = recovered_row(a_case());

  SECTION("last delivered step") {
    auto e = base;
    ledger::attribute_recovery(e, step, std::nullopt);
    CHECK(e.kind == "recovered");
    CHECK(e.attribution == "step");
    CHECK(e.step_index == 1);
    CHECK(e.channel == "email");
    CHECK(e.days_to_recover == 2);  // 2026-11-02T10:00 → 2026-11-05T09:00: 2 whole days
    CHECK_FALSE(e.clicked_at);
  }
  SECTION("the clicked link wins") {
    auto e = base;
    ledger::attribute_recovery(e, step, at("2026-11-04T20:00:00Z"));
    CHECK(e.kind == "recovered");
    CHECK(e.attribution == "click");
    CHECK(e.clicked_at == at("2026-11-04T20:00:00Z"));
    CHECK(e.step_index == 1);
  }
  SECTION("paid before any message") {
    auto e = base;
    ledger::attribute_recovery(e, std::nullopt, std::nullopt);
    CHECK(e.kind == "recovered_without_contact");
    CHECK(e.attribution.empty());
    CHECK_FALSE(e.step_index);
  }
}

TEST_CASE("the last click before a payment is read from the clicks table", "[ledger][store]") {
  TempDb tmp;
  auto opened = store::open_engine(tmp.path, store::OpenMode::kCreate);
  REQUIRE(opened);
  auto& st = *opened.value();
  CHECK_FALSE(st.ledger().last_click(1, at("2026-11-05T00:00:00Z")));
  store::sqlite::Db raw(tmp.path.string(), false);
  raw.exec(
      "INSERT INTO clicks(case_id, customer_id, at) VALUES (1, 'cus_1', '2026-11-03T08:00:00Z'),"
      "(1, 'cus_1', '2026-11-04T08:00:00Z'), (1, 'cus_1', '2026-11-06T08:00:00Z'),"
      "(2, 'cus_2', '2026-11-04T09:00:00Z')");
  CHECK(st.ledger().last_click(1, at("2026-11-05T00:00:00Z")) == at("2026-11-04T08:00:00Z"));
  CHECK_FALSE(st.ledger().last_click(1, at("2026-11-02T00:00:00Z")));
}

TEST_CASE("a cancelled case writes a cancelled row with the open amount and closes the case",
          "[ledger][store]") {
  TempDb tmp;
  auto opened = store::open_engine(tmp.path, store::OpenMode::kCreate);
  REQUIRE(opened);
  auto& st = *opened.value();
  auto c = a_case();
  c.id = st.cases().insert(c);
  cases::Lifecycle(st.cases(), st.outbox(), st.ledger())
      .cancel(c, "subscription sub_1 ended by the customer", at("2026-11-04T00:01:00Z"));
  CHECK(st.cases().get(c.id)->state == store::CaseState::kCancelled);
  int rows = 0;
  st.ledger().for_each(std::nullopt, std::nullopt, [&](const store::LedgerEntry& e) {
    ++rows;
    CHECK(e.kind == "cancelled");
    CHECK(e.amount == Money(1250, "EUR"));
  });
  CHECK(rows == 1);
}

TEST_CASE("rows built from a case carry its ids; recovered rows carry what was actually paid",
          "[ledger]") {
  auto c = a_case();
  c.id = 7;
  store::Payment p;
  p.id = "py_2";
  p.amount = Money(1000, "EUR");  // a partial payment
  p.occurred_at = at("2026-11-04T12:00:00Z");
  store::OutboxRow step;
  step.step_index = 1;
  step.channel = "email";
  step.template_name = "payment-failed-reminder";
  auto now = at("2026-11-04T12:01:00Z");

  auto won = ledger::recovered_entry(c, p, step, std::nullopt, now);
  CHECK(won.kind == "recovered");
  CHECK(won.case_id == 7);
  CHECK(won.payment_id == "py_2");
  CHECK(won.amount == Money(1000, "EUR"));
  CHECK(won.invoice_id == "in_1");
  CHECK(won.step_index == 1);
  CHECK(won.days_to_recover == 2);
  CHECK(won.occurred_at == p.occurred_at);
  CHECK(won.recorded_at == now);

  auto silent = ledger::recovered_entry(c, p, std::nullopt, std::nullopt, now);
  CHECK(silent.kind == "recovered_without_contact");
  CHECK_FALSE(silent.step_index);

  auto lost = ledger::lost_entry(c, 3, "cancel", now, now);
  CHECK(lost.kind == "lost");
  CHECK(lost.payment_id == "py_1");
  CHECK(lost.amount == Money(1250, "EUR"));
  CHECK(lost.step_index == 3);
  CHECK(lost.channel == "action");
  CHECK(lost.template_name == "cancel");
  CHECK(lost.decline_code == "insufficient_funds");
  CHECK(lost.sequence_id == "soft");
}

TEST_CASE("LTV preserved counts a subscription recovered twice in the period once",
          "[ledger][store]") {
  TempDb tmp;
  auto opened = store::open_engine(tmp.path, store::OpenMode::kCreate);
  REQUIRE(opened);
  auto& st = *opened.value();
  auto pay = [&](const char* id, const char* invoice, const char* when, const char* status) {
    store::Payment p;
    p.id = id;
    p.customer_id = "cus_1";
    p.subscription_id = "sub_1";
    p.invoice_id = invoice;
    p.amount = Money(1000, "EUR");
    p.status = status;
    p.occurred_at = at(when);
    store::PaymentRow row;
    row.id = p.id;
    row.customer_id = p.customer_id;
    row.subscription_id = p.subscription_id;
    row.invoice_id = p.invoice_id;
    row.amount_minor = p.amount.minor();
    row.currency = p.amount.currency();
    row.status = p.status;
    row.occurred_at = p.occurred_at;
    st.facts().append_payment(row);
    return p;
  };
  pay("py_h1", "in_h1", "2026-08-01T00:00:00Z", "succeeded");
  pay("py_h2", "in_h2", "2026-09-01T00:00:00Z", "succeeded");
  auto recover = [&](const char* invoice, const char* failed_at, const char* paid_id,
                     const char* paid_at) {
    auto c = a_case();
    c.invoice_id = invoice;
    c.amount = Money(1000, "EUR");
    c.opened_at = at(failed_at);
    c.id = st.cases().insert(c);
    auto p = pay(paid_id, invoice, paid_at, "succeeded");
    st.ledger().append(ledger::recovered_entry(c, p, std::nullopt, std::nullopt, p.occurred_at));
  };
  recover("in_10", "2026-10-01T00:00:00Z", "py_10", "2026-10-03T00:00:00Z");
  recover("in_11", "2026-11-01T00:00:00Z", "py_11", "2026-11-02T00:00:00Z");

  ledger::ReportOptions opt;
  opt.from = at("2026-10-01T00:00:00Z");
  opt.to = at("2026-12-01T00:00:00Z");
  opt.as_of = at("2026-12-01T00:00:00Z");
  auto report = ledger::build_report(st.reports(), opt);
  std::ostringstream json;
  ledger::write_report_json(report, json);
  INFO(json.str());
  REQUIRE(report.ltv_preserved.currencies.count("EUR") == 1);
  const auto& eur = report.ltv_preserved.currencies.at("EUR");
  // Only the latest recovery counts: 4 payments of 10.00 over 4 months (1 Aug .. 2 Nov) is
  // 10.00 a month, times the 36-month horizon (nothing has churned). Counting both recoveries
  // would give 720.00 for 2 subscriptions.
  CHECK(eur.subscriptions == 1);
  CHECK(eur.preserved == Money(36000, "EUR"));
  CHECK(report.totals.recovered_count == 2);
}

TEST_CASE("Newcombe's hybrid score interval matches the published example", "[ledger]") {
  // Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80,
  // method 10 gives 0.0524 to 0.3339.
  auto ci = ledger::newcombe_difference(56, 70, 48, 80);
  CHECK(ci.low == Approx(0.0524).margin(0.00005));
  CHECK(ci.high == Approx(0.3339).margin(0.00005));
  auto w = ledger::wilson_interval(0, 10);
  CHECK(w.low == Approx(0.0).margin(1e-12));
  CHECK(w.high == Approx(0.2775).margin(0.00005));
}
