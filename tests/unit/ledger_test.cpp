#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "dunning/cases/lifecycle.hpp"
#include "dunning/ledger/attribution.hpp"
#include "dunning/ledger/summary.hpp"
#include "dunning/store/engine.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/builders.hpp"

using namespace dunning;

namespace {

using dunning::testing::a_case;
using dunning::testing::at;

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

store::LedgerEntry recovered_row(const store::CaseRecord& c) {
  store::LedgerEntry e;
  e.case_id = c.id;
  e.kind = store::LedgerKind::kRecovered;
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
    if (e.kind == store::LedgerKind::kCorrection) CHECK(e.corrects == row.id);
  });
  CHECK(rows == 2);
  CHECK(sum == 1000);
  int outcomes = 0;
  st.reports().for_each_case_outcome(std::nullopt, std::nullopt, [&](const store::CaseOutcome& o) {
    ++outcomes;
    CHECK(o.kind == store::LedgerKind::kRecovered);
    CHECK(o.closed_amount == Money(1000, "EUR"));
  });
  CHECK(outcomes == 1);
}

TEST_CASE("a recovery is attributed to the click when there was one, else to the last step",
          "[ledger]") {
  store::OutboxRow step;
  step.step_index = 1;
  step.channel = dunning::Channel::kEmail;
  step.template_name = "payment-failed-reminder";
  auto base = recovered_row(a_case());

  SECTION("last delivered step") {
    auto e = base;
    ledger::attribute_recovery(e, step, std::nullopt);
    CHECK(e.kind == store::LedgerKind::kRecovered);
    CHECK(e.attribution == store::Attribution::kStep);
    CHECK(e.step_index == 1);
    CHECK(e.channel == "email");
    CHECK(e.days_to_recover == 2);  // 2026-11-02T10:00 → 2026-11-05T09:00: 2 whole days
    CHECK_FALSE(e.clicked_at);
  }
  SECTION("the clicked link wins") {
    auto e = base;
    ledger::attribute_recovery(e, step, at("2026-11-04T20:00:00Z"));
    CHECK(e.kind == store::LedgerKind::kRecovered);
    CHECK(e.attribution == store::Attribution::kClick);
    CHECK(e.clicked_at == at("2026-11-04T20:00:00Z"));
    CHECK(e.step_index == 1);
  }
  SECTION("paid before any message") {
    auto e = base;
    ledger::attribute_recovery(e, std::nullopt, std::nullopt);
    CHECK(e.kind == store::LedgerKind::kRecoveredWithoutContact);
    CHECK(e.attribution == store::Attribution::kNone);
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
      .cancel(c, "subscription sub_cus_1 ended by the customer", at("2026-11-04T00:01:00Z"));
  CHECK(st.cases().get(c.id)->state == store::CaseState::kCancelled);
  int rows = 0;
  st.ledger().for_each(std::nullopt, std::nullopt, [&](const store::LedgerEntry& e) {
    ++rows;
    CHECK(e.kind == store::LedgerKind::kCancelled);
    CHECK(e.amount == Money(1250, "EUR"));
  });
  CHECK(rows == 1);
}

TEST_CASE("rows built from a case carry its ids; recovered rows carry what was actually paid",
          "[ledger]") {
  auto c = a_case();
  c.id = 7;
  c.payment_id = "py_1";
  store::Payment p;
  p.id = "py_2";
  p.amount = Money(1000, "EUR");  // a partial payment
  p.occurred_at = at("2026-11-04T12:00:00Z");
  store::OutboxRow step;
  step.step_index = 1;
  step.channel = dunning::Channel::kEmail;
  step.template_name = "payment-failed-reminder";
  auto now = at("2026-11-04T12:01:00Z");

  auto won = ledger::recovered_entry(c, p, step, std::nullopt, now);
  CHECK(won.kind == store::LedgerKind::kRecovered);
  CHECK(won.case_id == 7);
  CHECK(won.payment_id == "py_2");
  CHECK(won.amount == Money(1000, "EUR"));
  CHECK(won.invoice_id == "in_1");
  CHECK(won.step_index == 1);
  CHECK(won.days_to_recover == 2);
  CHECK(won.occurred_at == p.occurred_at);
  CHECK(won.recorded_at == now);

  auto silent = ledger::recovered_entry(c, p, std::nullopt, std::nullopt, now);
  CHECK(silent.kind == store::LedgerKind::kRecoveredWithoutContact);
  CHECK_FALSE(silent.step_index);

  auto lost = ledger::lost_entry(c, 3, dunning::Action::kCancel, now, now);
  CHECK(lost.kind == store::LedgerKind::kLost);
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
  auto pay = [&](const char* id, const char* invoice, const char* when) {  // a succeeded payment
    store::Payment p;
    p.id = id;
    p.customer_id = "cus_1";
    p.subscription_id = "sub_cus_1";  // a_case's
    p.invoice_id = invoice;
    p.amount = Money(1000, "EUR");
    p.status = store::PaymentStatus::kSucceeded;
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
  pay("py_h1", "in_h1", "2026-08-01T00:00:00Z");
  pay("py_h2", "in_h2", "2026-09-01T00:00:00Z");
  auto recover = [&](const char* invoice, const char* failed_at, const char* paid_id,
                     const char* paid_at) {
    auto c = a_case(invoice, {.amount = Money(1000, "EUR"), .opened = at(failed_at)});
    c.id = st.cases().insert(c);
    auto p = pay(paid_id, invoice, paid_at);
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

TEST_CASE("the report's typed figures keep every currency's money apart", "[ledger][store]") {
  TempDb tmp;
  auto opened = store::open_engine(tmp.path, store::OpenMode::kCreate);
  REQUIRE(opened);
  auto& st = *opened.value();
  const TimePoint now = at("2026-12-01T00:00:00Z");
  auto open_case = [&](const char* invoice, Money amount, const char* when, bool holdout) {
    auto c = a_case(invoice, {.amount = std::move(amount), .opened = at(when)});
    c.holdout = holdout;
    c.id = st.cases().insert(c);
    return c;
  };
  auto payment = [](const char* id, Money amount, const char* when) {
    store::Payment p;
    p.id = id;
    p.customer_id = "cus_1";
    p.amount = std::move(amount);
    p.status = store::PaymentStatus::kSucceeded;
    p.occurred_at = at(when);
    return p;
  };
  // Recovered after 2 days (contacted) and after 4 days (holdout): the EUR median is 3.0.
  const auto a = open_case("in_a", Money(1250, "EUR"), "2026-11-02T10:00:00Z", false);
  st.ledger().append(recovered_row(a));
  const auto d = open_case("in_d", Money(700, "EUR"), "2026-11-06T10:00:00Z", true);
  auto d_row = recovered_row(d);
  d_row.occurred_at = d_row.recorded_at = at("2026-11-10T11:00:00Z");
  st.ledger().append(d_row);
  // A USD invoice written off, then paid late in EUR: a USD case, EUR money.
  auto b = open_case("in_b", Money(5000, "USD"), "2026-11-03T10:00:00Z", false);
  st.ledger().append(
      ledger::lost_entry(b, 2, dunning::Action::kCancel, at("2026-11-12T00:00:00Z"), now));
  b.state = store::CaseState::kLost;
  st.ledger().append(
      ledger::late_entry(b, payment("py_late", Money(1000, "EUR"), "2026-11-20T00:00:00Z"), now));
  // Open, 5.00 of its 20.00 paid.
  const auto c = open_case("in_c", Money(2000, "EUR"), "2026-11-04T10:00:00Z", false);
  st.ledger().append(
      ledger::partial_entry(c, payment("py_part", Money(500, "EUR"), "2026-11-08T00:00:00Z"),
                            std::nullopt, std::nullopt, now));

  ledger::ReportOptions opt;
  opt.from = at("2026-11-01T00:00:00Z");
  opt.to = now;
  opt.as_of = now;
  const ledger::Report report = ledger::build_report(st.reports(), opt);
  std::ostringstream json;
  ledger::write_report_json(report, json);
  INFO(json.str());

  CHECK(report.group_by == "all");
  CHECK(report.totals.cases == 4);
  CHECK(report.totals.recovered_count == 2);
  CHECK(report.totals.recovery_rate == Approx(0.5));
  REQUIRE(report.totals.currencies.size() == 2);
  const auto& eur = report.totals.currencies.at("EUR");
  CHECK(eur.cases == 3);
  CHECK(eur.failed == Money(3950, "EUR"));
  CHECK(eur.recovered_total.count == 2);
  CHECK(eur.recovered_total.money == Money(1950, "EUR"));
  CHECK(eur.partial.money == Money(500, "EUR"));
  CHECK(eur.late.count == 1);
  CHECK(eur.late.money == Money(1000, "EUR"));
  CHECK(eur.net_recovered == Money(3450, "EUR"));
  CHECK(eur.open.money == Money(1500, "EUR"));
  CHECK(eur.lost.count == 0);
  REQUIRE(eur.median_days_to_recover);
  CHECK_FALSE(eur.median_days_to_recover->whole());
  CHECK(eur.median_days_to_recover->days() == 3.0);
  const auto& usd = report.totals.currencies.at("USD");
  CHECK(usd.cases == 1);
  CHECK(usd.lost.money == Money(5000, "USD"));
  CHECK(usd.late.count == 0);
  CHECK(usd.recovery_rate == Approx(0.0));
  CHECK_FALSE(usd.median_days_to_recover);
  // Not grouped: the one group "all" is the totals.
  REQUIRE(report.groups.count("all") == 1);
  CHECK(report.groups.at("all").currencies.at("EUR").net_recovered == eur.net_recovered);

  // Recoveries per week of the payment (its Monday).
  const auto& weeks = report.weekly_recovered.at("EUR");
  CHECK(weeks.at("2026-11-02") == Money(1250, "EUR"));
  CHECK(weeks.at("2026-11-09") == Money(700, "EUR"));
  CHECK(report.weekly_recovered.count("USD") == 0);

  const auto& up = report.uplift;
  CHECK(up.contacted.cases == 3);
  CHECK(up.contacted.recovered == 1);
  CHECK(up.holdout.cases == 1);
  REQUIRE(up.difference);
  CHECK(up.difference->difference == Approx(1.0 / 3 - 1.0));
  CHECK_FALSE(up.difference->significant);
  const auto& eur_attr = up.attributable.at("EUR");
  REQUIRE(eur_attr.estimate);
  // round(7.00 * 32.50 / 7.00) = 32.50 expected; 12.50 recovered.
  CHECK(eur_attr.estimate->expected_without_dunning == Money(3250, "EUR"));
  CHECK(eur_attr.estimate->attributable == Money(-2000, "EUR"));
  const auto& usd_attr = up.attributable.at("USD");
  CHECK_FALSE(usd_attr.estimate);
  CHECK(usd_attr.note == "no holdout cases in USD");
  CHECK(report.funnel.at("soft").cases == 4);

  // The json writes a median between two days as a decimal; EUR net recovered 12.50 + 7.00 +
  // 5.00 + 10.00.
  CHECK_THAT(json.str(), Catch::Contains("\"median_days_to_recover\": 3.0"));
  CHECK_THAT(json.str(), Catch::Contains("\"amount\": \"34.50\""));

  // Grouped by the invoice's currency: one group per currency, named as the table spells it.
  opt.by = ledger::GroupBy::kCurrency;
  const ledger::Report by_currency = ledger::build_report(st.reports(), opt);
  CHECK(by_currency.group_by == "currency");
  REQUIRE(by_currency.groups.size() == 2);
  CHECK(by_currency.groups.at("EUR").cases == 3);
  CHECK(by_currency.groups.at("USD").cases == 1);
}

TEST_CASE("a report's grouping is named one way: each name parses back, other text is none",
          "[ledger]") {
  for (const auto& [by, name] : ledger::kGroupByNames.rows) {
    CHECK(ledger::to_string(by) == name);
    CHECK(ledger::parse_group_by(name) == by);
  }
  CHECK(ledger::to_string(ledger::GroupBy::kDeclineCode) == "decline_code");
  CHECK_FALSE(ledger::parse_group_by(""));
  CHECK_FALSE(ledger::parse_group_by("all"));
  CHECK_FALSE(ledger::parse_group_by("Month"));
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
