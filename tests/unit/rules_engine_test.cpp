// The rules engine's pure functions: matching, time zones and send windows (incl. DST), payday,
// caps, holdout and the sequence checks of `dunningd check`. No clock, no database.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "dunning/rules/rules.hpp"
#include "support/builders.hpp"

using namespace dunning;
using namespace std::chrono_literals;

namespace {

using dunning::testing::at;

config::Loaded<config::Sequences> load_yaml(const std::string& yaml) {
  static int n = 0;
  auto path = std::filesystem::temp_directory_path() /
              ("dunning-rules-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".yaml");
  std::ofstream(path) << yaml;
  auto loaded = config::load_sequences(path);
  std::filesystem::remove(path);
  return loaded;
}

config::Sequences sequences_from(const std::string& yaml) {
  auto loaded = load_yaml(yaml);
  std::string all;
  for (const auto& e : loaded.errors) all += e.to_string() + "\n";
  INFO(all);
  REQUIRE(loaded.ok());
  return loaded.value;
}

rules::Calendar calendar(const char* zone, int from_minute = 0, int to_minute = 24 * 60,
                         std::array<bool, 7> days = {true, true, true, true, true, true, true}) {
  rules::Calendar cal;
  cal.zone = date::locate_zone(zone);
  cal.window.from_minute = from_minute;
  cal.window.to_minute = to_minute;
  cal.window.days = days;
  return cal;
}

constexpr std::array<bool, 7> kWeekdays{false, true, true, true, true, true, false};

}  // namespace

TEST_CASE("the first sequence whose trigger and match accept the case wins", "[rules]") {
  auto seqs = sequences_from(R"(
sequences:
  - id: big-soft
    trigger: payment_failed
    match: {decline: soft, plans: [pro], currencies: [EUR], amount_at_least: "50.00 EUR", locales: [hr]}
    steps: [{at: 1d, action: retry}]
  - id: fraud
    trigger: payment_failed
    match: {decline: [stolen_card, lost_card]}
    steps: [{at: 0h, email: update-card}]
  - id: hard
    trigger: payment_failed
    match: {decline: hard, amount_below: "1000.00 EUR"}
    steps: [{at: 0h, email: update-card}]
  - id: any
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
  - id: expiring
    trigger: card_expiring
    days_before_expiry: 30
    steps: [{at: 0d, email: card-expiring}]
)");
  rules::CaseFacts f;
  f.decline_code = "insufficient_funds";
  f.decline_class = DeclineClass::kSoft;
  f.plan = "pro";
  f.amount = Money(6000, "EUR");
  f.locale = "hr-HR";
  std::vector<std::string> why;
  CHECK(rules::select_sequence(seqs, f, &why)->id == "big-soft");
  CHECK(why.empty());

  SECTION("a smaller amount falls through to the catch-all, with the reason recorded") {
    f.amount = Money(4999, "EUR");
    CHECK(rules::select_sequence(seqs, f, &why)->id == "any");
    REQUIRE(why.size() == 3);
    CHECK(why[0] == "big-soft: amount 49.99 EUR is below 50.00 EUR");
    CHECK(why[1].find("decline code 'insufficient_funds' is not in the list") != std::string::npos);
    CHECK(why[2].find("wants a hard decline") != std::string::npos);
  }
  SECTION("an amount in another currency cannot satisfy a bound") {
    f.amount = Money(600000, "JPY");
    f.decline_class = DeclineClass::kHard;
    f.decline_code = "expired_card";
    CHECK(rules::select_sequence(seqs, f)->id == "any");
  }
  SECTION("a list of decline codes matches exactly those codes") {
    f.decline_code = "stolen_card";
    f.decline_class = DeclineClass::kHard;
    CHECK(rules::select_sequence(seqs, f)->id == "fraud");
  }
  SECTION("a currency not in the list does not match") {
    f.amount = Money(6000, "USD");
    CHECK(rules::mismatch_reason(seqs.sequences[0], f) == "currency USD not listed");
  }
  SECTION("plan and locale conditions") {
    f.plan = "basic";
    CHECK(rules::mismatch_reason(seqs.sequences[0], f) == "plan 'basic' not listed");
    f.plan = "pro";
    f.locale = "de";
    CHECK(rules::mismatch_reason(seqs.sequences[0], f) == "locale 'de' not listed");
  }
  SECTION("a card_expiring case matches only once within days_before_expiry") {
    rules::CaseFacts e;
    e.trigger = config::Trigger::kCardExpiring;
    e.days_until_expiry = 31;
    CHECK(rules::select_sequence(seqs, e) == nullptr);
    e.days_until_expiry = 30;
    CHECK(rules::select_sequence(seqs, e)->id == "expiring");
  }
}

TEST_CASE("a contact outside the window moves to the next window in the customer's zone",
          "[rules][timing]") {
  // Asia/Kolkata is UTC+05:30 all year.
  auto cal = calendar("Asia/Kolkata", 9 * 60, 19 * 60, kWeekdays);
  SECTION("Friday 19:30 IST waits for Monday 09:00 IST") {
    auto slot = rules::next_window_slot(at("2026-11-27T14:00:00Z"), cal);
    REQUIRE(slot);
    CHECK(*slot == at("2026-11-30T03:30:00Z"));
    CHECK(rules::format_local(*slot, cal.zone) == "2026-11-30 09:00 IST");
  }
  SECTION("inside the window nothing moves") {
    CHECK(*rules::next_window_slot(at("2026-11-24T05:00:00Z"), cal) == at("2026-11-24T05:00:00Z"));
  }
  SECTION("early morning moves to 09:00 the same day") {
    CHECK(*rules::next_window_slot(at("2026-11-24T01:00:00Z"), cal) == at("2026-11-24T03:30:00Z"));
  }
  SECTION("a holiday is skipped like a weekend") {
    cal.holidays.push_back(
        std::chrono::sys_days(std::chrono::floor<std::chrono::days>(at("2026-11-30T00:00:00Z"))));
    CHECK(*rules::next_window_slot(at("2026-11-27T14:00:00Z"), cal) == at("2026-12-01T03:30:00Z"));
  }
}

TEST_CASE("a window starting inside the spring-forward gap opens when the clock resumes",
          "[rules][timing][dst]") {
  // Europe/Zagreb, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
  auto cal = calendar("Europe/Zagreb", 2 * 60 + 30, 12 * 60);
  auto slot = rules::next_window_slot(at("2026-03-28T23:30:00Z"), cal);  // 00:30 CET
  REQUIRE(slot);
  CHECK(*slot == at("2026-03-29T01:00:00Z"));
  CHECK(rules::format_local(*slot, cal.zone) == "2026-03-29 03:00 CEST");
  // The day before and after keep 02:30 local.
  CHECK(*rules::next_window_slot(at("2026-03-27T23:30:00Z"), cal) == at("2026-03-28T01:30:00Z"));
  CHECK(*rules::next_window_slot(at("2026-03-29T23:30:00Z"), cal) == at("2026-03-30T00:30:00Z"));
  // A payday move onto the gap day keeps the wall-clock time, resolved to an existing instant.
  config::Defaults d;
  d.paydays = {29};
  auto moved = rules::prefer_payday(at("2026-03-28T01:30:00Z"), cal.zone, d);  // Sat 02:30 CET
  CHECK(moved.at == at("2026-03-29T01:00:00Z"));
}

TEST_CASE("a repeated wall-clock time at fall-back is used once, at its first occurrence",
          "[rules][timing][dst]") {
  // Europe/Zagreb, Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice
  // (00:30 UTC and 01:30 UTC).
  auto cal = calendar("Europe/Zagreb", 2 * 60 + 30, 12 * 60);
  CHECK(rules::resolve_local(cal.zone, date::local_days(date::year{2026} / 10 / 25) + 150min) ==
        at("2026-10-25T00:30:00Z"));
  auto first = rules::next_window_slot(at("2026-10-24T22:00:00Z"), cal);
  REQUIRE(first);
  CHECK(*first == at("2026-10-25T00:30:00Z"));
  // With one message per local day, a second contact due at the second 02:30 goes to Monday.
  config::Defaults d;
  d.max_messages_per_customer_per_day = 1;
  auto second = rules::place_contact(at("2026-10-25T01:30:00Z"), cal, d, {*first});
  CHECK(second.at == at("2026-10-26T01:30:00Z"));  // Monday 02:30 CET
  REQUIRE(!second.why.empty());
  CHECK(second.why[0].find("max_messages_per_customer_per_day") != std::string::npos);
}

TEST_CASE("customer caps defer a contact to the next allowed slot, never drop it",
          "[rules][caps]") {
  auto cal = calendar("Europe/Zagreb", 9 * 60, 19 * 60, kWeekdays);
  config::Defaults d;
  d.max_messages_per_customer_per_day = 1;
  SECTION("a second message on the same local day moves to the next window") {
    // Tue 2026-11-24: one message at 10:00 CET already; another due 15:00 CET.
    auto p = rules::place_contact(at("2026-11-24T14:00:00Z"), cal, d, {at("2026-11-24T09:00:00Z")});
    CHECK(p.possible);
    CHECK(p.at == at("2026-11-25T08:00:00Z"));  // Wed 09:00 CET
    REQUIRE(p.why.size() == 2);
    CHECK(p.why[0].find("deferred by max_messages_per_customer_per_day") != std::string::npos);
    CHECK(p.why[1] == "moved by send window from 2026-11-25 00:00 CET to 2026-11-25 09:00 CET");
  }
  SECTION("the local day is the customer's, not UTC's") {
    // 23:30 UTC on the 24th is already the 25th in Zagreb: no conflict with the 24th.
    auto cal24 = calendar("Europe/Zagreb");
    auto p =
        rules::place_contact(at("2026-11-24T23:30:00Z"), cal24, d, {at("2026-11-24T09:00:00Z")});
    CHECK(p.at == at("2026-11-24T23:30:00Z"));
  }
  SECTION("min_hours_between_messages pushes a contact after the previous one") {
    d.max_messages_per_customer_per_day = 5;
    d.min_hours_between_messages = 4;
    auto p = rules::place_contact(at("2026-11-24T10:00:00Z"), cal, d, {at("2026-11-24T09:00:00Z")});
    CHECK(p.at == at("2026-11-24T13:00:00Z"));
    CHECK(p.why[0].find("min_hours_between_messages") != std::string::npos);
  }
  SECTION("a window that never opens makes the contact impossible, with the reason") {
    for (int i = 0; i < 400; ++i) {
      cal.holidays.push_back(std::chrono::floor<std::chrono::days>(at("2026-11-24T00:00:00Z")) +
                             std::chrono::days(i));
    }
    auto p = rules::place_contact(at("2026-11-24T10:00:00Z"), cal, d, {});
    CHECK_FALSE(p.possible);
    CHECK(p.why.back().find("no send-window slot") != std::string::npos);
  }
}

TEST_CASE("prefer payday moves a retry to the next payday within the bound", "[rules][payday]") {
  const auto* utc = date::locate_zone("UTC");
  config::Defaults d;  // paydays 1 and 15, at most 5 days
  auto moved = rules::prefer_payday(at("2026-11-12T10:00:00Z"), utc, d);
  CHECK(moved.at == at("2026-11-15T10:00:00Z"));
  CHECK(moved.why[0].find("to payday") != std::string::npos);
  auto kept = rules::prefer_payday(at("2026-11-03T10:00:00Z"), utc, d);
  CHECK(kept.at == at("2026-11-03T10:00:00Z"));
  CHECK(kept.why[0].find("no payday within 5 days") != std::string::npos);
  CHECK(rules::prefer_payday(at("2026-11-15T08:00:00Z"), utc, d).why.empty());
  SECTION("paydays are counted in the customer's zone") {
    // 2026-11-14T20:00Z is already the 15th in Kolkata: no move.
    auto p = rules::prefer_payday(at("2026-11-14T20:00:00Z"), date::locate_zone("Asia/Kolkata"), d);
    CHECK(p.at == at("2026-11-14T20:00:00Z"));
    CHECK(p.why.empty());
  }
  SECTION("configurable days") {
    d.paydays = {25};
    d.payday_max_days = 3;
    CHECK(rules::prefer_payday(at("2026-11-23T10:00:00Z"), utc, d).at ==
          at("2026-11-25T10:00:00Z"));
    CHECK(rules::prefer_payday(at("2026-11-20T10:00:00Z"), utc, d).at ==
          at("2026-11-20T10:00:00Z"));
  }
}

TEST_CASE("the per-card retry cap counts any 30 days around the new retry", "[rules][caps]") {
  std::vector<TimePoint> retries;
  for (int i = 0; i < 15; ++i)
    retries.push_back(at("2026-11-01T10:00:00Z") + std::chrono::hours(24 * i));
  auto why = rules::retry_cap_violation(at("2026-11-20T10:00:00Z"), retries, 15);
  REQUIRE(why);
  CHECK(why->find("16 retries") != std::string::npos);
  CHECK_FALSE(rules::retry_cap_violation(at("2026-12-01T10:00:00Z"), retries, 15));
  CHECK_FALSE(rules::retry_cap_violation(at("2026-11-20T10:00:00Z"), retries, 16));
  // A retry planned before the others also counts against them.
  CHECK(rules::retry_cap_violation(at("2026-10-20T10:00:00Z"), retries, 15));
}

TEST_CASE("holdout membership is stable and close to the configured share", "[rules][holdout]") {
  CHECK(rules::in_holdout("invoice:in_1", 30) == rules::in_holdout("invoice:in_1", 30));
  CHECK_FALSE(rules::in_holdout("invoice:in_1", 0));
  CHECK(rules::in_holdout("invoice:in_1", 100));
  int in = 0;
  for (int i = 0; i < 10000; ++i) in += rules::in_holdout("invoice:in_" + std::to_string(i), 20);
  CHECK(in > 1800);
  CHECK(in < 2200);
  // Raising the share only adds cases to the control group.
  for (int i = 0; i < 1000; ++i) {
    auto key = "invoice:in_" + std::to_string(i);
    if (rules::in_holdout(key, 10)) CHECK(rules::in_holdout(key, 20));
  }
}

TEST_CASE("check finds shadowed sequences, cap-breaking sequences and unknown locales",
          "[rules][check]") {
  auto seqs = sequences_from(R"(
sequences:
  - id: everything
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
  - id: shadowed
    trigger: payment_failed
    match: {decline: soft, locales: [xx]}
    steps: [{at: 0h, email: payment-failed}]
  - id: expiring
    trigger: card_expiring
    steps: [{at: 0d, email: card-expiring}]
  - id: greedy
    trigger: card_expiring
    days_before_expiry: 40
    steps: [{at: 0d, action: retry}, {at: 1d, action: retry}, {at: 2d, action: retry}]
defaults:
  max_retries_per_card_per_30_days: 2
)");
  auto findings = rules::check_sequences(seqs);
  std::string all;
  for (const auto& f : findings) all += f.to_string() + "\n";
  INFO(all);
  REQUIRE(findings.size() == 3);
  CHECK(findings[0].warning);
  CHECK(findings[0].message.find("'shadowed' can never match: the earlier sequence 'everything'") !=
        std::string::npos);
  CHECK(findings[1].warning);
  CHECK(findings[1].message.find("unknown locale 'xx'") != std::string::npos);
  CHECK_FALSE(findings[2].warning);
  CHECK(findings[2].message.find("'greedy' can place 3 retries") != std::string::npos);
  CHECK(findings[2].line == 13);
}

TEST_CASE("defaults accept holidays, paydays and a retry cap no higher than Visa's",
          "[rules][config]") {
  auto seqs = sequences_from(R"(
sequences:
  - id: a
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
defaults:
  holidays: [2026-12-25, 2027-01-01]
  paydays: [1, 25]
  payday_max_days: 3
  max_retries_per_card_per_30_days: 10
)");
  REQUIRE(seqs.defaults.holidays.size() == 2);
  CHECK(date::format("%F", seqs.defaults.holidays[0]) == "2026-12-25");
  CHECK(seqs.defaults.paydays == std::vector<int>{1, 25});
  CHECK(seqs.defaults.payday_max_days == 3);
  CHECK(seqs.defaults.max_retries_per_card_per_30_days == 10);

  auto bad = load_yaml(R"(
sequences:
  - id: a
    trigger: payment_failed
    steps: [{at: 0h, email: payment-failed}]
defaults:
  holidays: [christmas]
  max_retries_per_card_per_30_days: 21
)");
  std::string all;
  for (const auto& e : bad.errors) all += e.to_string() + "\n";
  CHECK(all.find(":7:14: error: holiday 'christmas' must be a date") != std::string::npos);
  CHECK(all.find(":8:37: error: 'max_retries_per_card_per_30_days' must be between 1 and 20") !=
        std::string::npos);
}
