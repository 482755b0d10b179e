// The rules engine: which sequence a case gets, and which of its steps are due when.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "dunning/rules/rules.hpp"

using dunning::DeclineClass;
using dunning::Money;
using dunning::Seconds;
using dunning::TimePoint;
using dunning::config::Action;
using dunning::config::Channel;
using dunning::config::Sequence;
using dunning::config::Sequences;
using dunning::config::Step;
using dunning::config::Trigger;
using dunning::rules::CaseFacts;

namespace {

constexpr Seconds kHour{3600};
constexpr Seconds kDay{86400};

Step email(Seconds at, std::string name) {
  Step s;
  s.at = at;
  s.channel = Channel::kEmail;
  s.template_name = std::move(name);
  return s;
}

Step sms(Seconds at, std::string name) {
  Step s = email(at, std::move(name));
  s.channel = Channel::kSms;
  return s;
}

Step action(Seconds at, Action a) {
  Step s;
  s.at = at;
  s.channel = Channel::kAction;
  s.action = a;
  return s;
}

Sequence sequence(std::string id, Trigger trigger = Trigger::kPaymentFailed) {
  Sequence s;
  s.id = std::move(id);
  s.trigger = trigger;
  s.steps = {email(Seconds(0), "update-card")};
  return s;
}

CaseFacts facts(std::string code = "insufficient_funds", DeclineClass cls = DeclineClass::kSoft,
                Money amount = Money(1250, "EUR")) {
  CaseFacts f;
  f.trigger = Trigger::kPaymentFailed;
  f.decline_code = std::move(code);
  f.decline_class = cls;
  f.plan = "pro";
  f.amount = std::move(amount);
  f.locale = "en";
  return f;
}

std::string selected_id(const Sequences& seqs, const CaseFacts& f) {
  const Sequence* s = dunning::rules::select_sequence(seqs, f);
  return s ? s->id : "<none>";
}

TimePoint opened() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 2} + hours{8};
}

// The shipped hard-decline shape: emails at 0h, 3d, sms at 7d, email at 10d, cancel at 14d.
Sequence hard_decline() {
  Sequence s = sequence("hard-decline");
  s.steps = {email(Seconds(0), "update-card"), email(3 * kDay, "update-card-reminder"),
             sms(7 * kDay, "update-card"), email(10 * kDay, "final-notice"),
             action(14 * kDay, Action::kCancel)};
  return s;
}

std::vector<std::size_t> indices(std::initializer_list<std::size_t> l) { return l; }

}  // namespace

// ---------------------------------------------------------------- select_sequence

TEST_CASE("the first matching sequence wins, top to bottom", "[rules]") {
  Sequences seqs;
  seqs.sequences = {sequence("first"), sequence("second")};
  CHECK(selected_id(seqs, facts()) == "first");
}

TEST_CASE("no sequence is selected when none matches", "[rules]") {
  Sequences seqs;
  Sequence hard = sequence("hard");
  hard.match.decline = "hard";
  seqs.sequences = {hard};
  CHECK(dunning::rules::select_sequence(seqs, facts()) == nullptr);
  Sequences empty;
  CHECK(dunning::rules::select_sequence(empty, facts()) == nullptr);
}

TEST_CASE("a hard decline skips the soft-decline sequence and vice versa", "[rules]") {
  Sequences seqs;
  Sequence soft = sequence("soft");
  soft.match.decline = "soft";
  Sequence hard = sequence("hard");
  hard.match.decline = "hard";
  seqs.sequences = {soft, hard};
  CHECK(selected_id(seqs, facts("stolen_card", DeclineClass::kHard)) == "hard");
  CHECK(selected_id(seqs, facts("insufficient_funds", DeclineClass::kSoft)) == "soft");

  SECTION("'any' accepts both classes") {
    Sequences any;
    any.sequences = {sequence("any")};
    REQUIRE(any.sequences[0].match.decline == "any");
    CHECK(selected_id(any, facts("stolen_card", DeclineClass::kHard)) == "any");
    CHECK(selected_id(any, facts("insufficient_funds", DeclineClass::kSoft)) == "any");
  }
}

TEST_CASE("a list of decline codes matches only the listed codes", "[rules]") {
  Sequences seqs;
  Sequence expired = sequence("expired");
  expired.match.decline = "codes";
  expired.match.decline_codes = {"expired_card", "incorrect_number"};
  seqs.sequences = {expired, sequence("fallback")};
  CHECK(selected_id(seqs, facts("expired_card", DeclineClass::kHard)) == "expired");
  CHECK(selected_id(seqs, facts("incorrect_number", DeclineClass::kHard)) == "expired");
  CHECK(selected_id(seqs, facts("stolen_card", DeclineClass::kHard)) == "fallback");
}

TEST_CASE("plans restrict a sequence to the listed plans", "[rules]") {
  Sequences seqs;
  Sequence enterprise = sequence("enterprise");
  enterprise.match.plans = {"enterprise", "business"};
  seqs.sequences = {enterprise, sequence("fallback")};
  CaseFacts f = facts();
  f.plan = "business";
  CHECK(selected_id(seqs, f) == "enterprise");
  f.plan = "pro";
  CHECK(selected_id(seqs, f) == "fallback");
  f.plan = "";
  CHECK(selected_id(seqs, f) == "fallback");
}

TEST_CASE("currencies restrict a sequence to the listed currencies", "[rules]") {
  Sequences seqs;
  Sequence eur = sequence("eur-only");
  eur.match.currencies = {"EUR"};
  seqs.sequences = {eur, sequence("fallback")};
  CHECK(selected_id(seqs, facts("x", DeclineClass::kSoft, Money(100, "EUR"))) == "eur-only");
  CHECK(selected_id(seqs, facts("x", DeclineClass::kSoft, Money(100, "USD"))) == "fallback");
}

TEST_CASE("amount_at_least includes its bound and amount_below excludes its bound", "[rules]") {
  Sequences seqs;
  Sequence big = sequence("big");
  big.match.amount_at_least = Money(10000, "EUR");
  Sequence small = sequence("small");
  small.match.amount_below = Money(500, "EUR");
  seqs.sequences = {big, small, sequence("fallback")};
  auto with = [](std::int64_t minor) {
    return facts("x", DeclineClass::kSoft, Money(minor, "EUR"));
  };
  CHECK(selected_id(seqs, with(10000)) == "big");
  CHECK(selected_id(seqs, with(25000)) == "big");
  CHECK(selected_id(seqs, with(9999)) == "fallback");
  CHECK(selected_id(seqs, with(499)) == "small");
  CHECK(selected_id(seqs, with(500)) == "fallback");
}

TEST_CASE("an amount bound in another currency never matches", "[rules]") {
  Sequences seqs;
  Sequence big = sequence("big-usd");
  big.match.amount_at_least = Money(100, "USD");
  Sequence small = sequence("small-usd");
  small.match.amount_below = Money(1000000, "USD");
  seqs.sequences = {big, small, sequence("fallback")};
  CaseFacts f = facts("x", DeclineClass::kSoft, Money(50000, "EUR"));
  CHECK(selected_id(seqs, f) == "fallback");
  CHECK_THAT(dunning::rules::mismatch_reason(seqs.sequences[0], f), Catch::Contains("below"));
  CHECK_FALSE(dunning::rules::mismatch_reason(seqs.sequences[1], f).empty());
}

TEST_CASE("a case with no amount matches no currency or amount condition, and says so", "[rules]") {
  Sequences seqs;
  Sequence eur = sequence("eur", Trigger::kCardExpiring);
  eur.match.currencies = {"EUR"};
  Sequence big = sequence("big", Trigger::kCardExpiring);
  big.match.amount_at_least = Money(100, "EUR");
  Sequence small = sequence("small", Trigger::kCardExpiring);
  small.match.amount_below = Money(1000000, "EUR");
  seqs.sequences = {eur, big, small, sequence("any-card", Trigger::kCardExpiring)};
  CaseFacts f = facts();
  f.trigger = Trigger::kCardExpiring;
  f.amount.reset();  // a customer without a priced subscription
  std::vector<std::string> why_not;
  const Sequence* s = dunning::rules::select_sequence(seqs, f, &why_not);
  REQUIRE(s != nullptr);
  CHECK(s->id == "any-card");
  REQUIRE(why_not.size() == 3);
  CHECK(why_not[0] == "eur: no amount, so no listed currency");
  CHECK(why_not[1] == "big: no amount to compare with 1.00 EUR");
  CHECK(why_not[2] == "small: no amount to compare with 10000.00 EUR");
}

TEST_CASE("a locale list matches a regional locale by its language", "[rules]") {
  Sequences seqs;
  Sequence pt = sequence("portuguese");
  pt.match.locales = {"pt"};
  Sequence br = sequence("brazil-only");
  br.match.locales = {"pt-BR"};
  seqs.sequences = {pt, sequence("fallback")};
  CaseFacts f = facts();
  f.locale = "pt-BR";
  CHECK(selected_id(seqs, f) == "portuguese");
  f.locale = "pt_PT";
  CHECK(selected_id(seqs, f) == "portuguese");
  f.locale = "es";
  CHECK(selected_id(seqs, f) == "fallback");

  SECTION("a regional entry does not match the bare language") {
    Sequences only_br;
    only_br.sequences = {br, sequence("fallback")};
    CaseFacts g = facts();
    g.locale = "pt";
    CHECK(selected_id(only_br, g) == "fallback");
    g.locale = "pt-BR";
    CHECK(selected_id(only_br, g) == "brazil-only");
  }
}

TEST_CASE("a sequence for another trigger is passed over", "[rules]") {
  Sequences seqs;
  seqs.sequences = {sequence("expiring", Trigger::kCardExpiring), sequence("failed")};
  CHECK(selected_id(seqs, facts()) == "failed");
  CaseFacts expiring = facts();
  expiring.trigger = Trigger::kCardExpiring;
  CHECK(selected_id(seqs, expiring) == "expiring");
}

TEST_CASE("why_not gets one line per sequence passed over, naming it and the reason", "[rules]") {
  Sequences seqs;
  Sequence expiring = sequence("expiring", Trigger::kCardExpiring);
  Sequence hard = sequence("hard");
  hard.match.decline = "hard";
  Sequence usd = sequence("usd");
  usd.match.currencies = {"USD"};
  seqs.sequences = {expiring, hard, usd, sequence("fallback"), sequence("never-reached")};
  std::vector<std::string> why_not;
  const Sequence* s = dunning::rules::select_sequence(seqs, facts(), &why_not);
  REQUIRE(s != nullptr);
  CHECK(s->id == "fallback");
  REQUIRE(why_not.size() == 3);
  CHECK(why_not[0] == "expiring: trigger is card_expiring, case is payment_failed");
  CHECK(why_not[1] == "hard: wants a hard decline, 'insufficient_funds' is soft");
  CHECK(why_not[2] == "usd: currency EUR not listed");
}

TEST_CASE("mismatch_reason is empty for a matching sequence", "[rules]") {
  CHECK(dunning::rules::mismatch_reason(sequence("any"), facts()).empty());
}

// ---------------------------------------------------------------- advance

TEST_CASE("nothing is due before the first step", "[rules]") {
  Sequence s = hard_decline();
  s.steps[0].at = 2 * kHour;
  auto p = dunning::rules::advance(s, opened(), 0, opened() + kHour);
  CHECK(p.run_now.empty());
  CHECK(p.skipped.empty());
  CHECK(p.next_step == 0);
  REQUIRE(p.next_due_at);
  CHECK(*p.next_due_at == opened() + 2 * kHour);
  CHECK_FALSE(p.closes_case);
}

TEST_CASE("a step is due exactly at its offset", "[rules]") {
  Sequence s = hard_decline();
  auto p = dunning::rules::advance(s, opened(), 1, opened() + 3 * kDay - Seconds(1));
  CHECK(p.run_now.empty());
  p = dunning::rules::advance(s, opened(), 1, opened() + 3 * kDay);
  CHECK(p.run_now == indices({1}));
  CHECK(p.next_step == 2);
}

TEST_CASE("the due steps run in order and the next one is scheduled", "[rules]") {
  Sequence s = hard_decline();
  auto p = dunning::rules::advance(s, opened(), 0, opened());
  CHECK(p.run_now == indices({0}));
  CHECK(p.skipped.empty());
  CHECK(p.next_step == 1);
  REQUIRE(p.next_due_at);
  CHECK(*p.next_due_at == opened() + 3 * kDay);
  CHECK_FALSE(p.closes_case);
  CHECK(dunning::rules::step_due_at(s, 3, opened()) == opened() + 10 * kDay);
}

TEST_CASE("steps of different channels due together all run in order", "[rules]") {
  Sequence s = hard_decline();
  // At 8d the 3d email and the 7d sms are both due; they are of different channels.
  auto p = dunning::rules::advance(s, opened(), 1, opened() + 8 * kDay);
  CHECK(p.run_now == indices({1, 2}));
  CHECK(p.skipped.empty());
  CHECK(p.next_step == 3);
  REQUIRE(p.next_due_at);
  CHECK(*p.next_due_at == opened() + 10 * kDay);
}

TEST_CASE("of two overdue email steps only the later runs; the earlier is superseded", "[rules]") {
  Sequence s = hard_decline();
  // The daemon was down: at 5d both the 0h and the 3d emails are due.
  auto p = dunning::rules::advance(s, opened(), 0, opened() + 5 * kDay);
  CHECK(p.run_now == indices({1}));
  REQUIRE(p.skipped.size() == 1);
  CHECK(p.skipped[0].index == 0);
  CHECK_THAT(p.skipped[0].reason, Catch::Contains("superseded"));
  CHECK_THAT(p.skipped[0].reason, Catch::Contains("#2"));
  CHECK(p.next_step == 2);
  REQUIRE(p.next_due_at);
  CHECK(*p.next_due_at == opened() + 7 * kDay);
}

TEST_CASE("an action and an email due together both run", "[rules]") {
  Sequence s = sequence("soft");
  s.steps = {action(kDay, Action::kRetry), email(kDay, "payment-failed"),
             action(5 * kDay, Action::kRetry), email(7 * kDay, "payment-failed-reminder")};
  auto p = dunning::rules::advance(s, opened(), 0, opened() + kDay);
  CHECK(p.run_now == indices({0, 1}));
  CHECK(p.skipped.empty());
  CHECK(p.next_step == 2);
  REQUIRE(p.next_due_at);
  CHECK(*p.next_due_at == opened() + 5 * kDay);
}

TEST_CASE("a final action closes the case and nothing after it runs", "[rules]") {
  Sequence s = sequence("odd");
  // Not loadable from YAML (the loader refuses steps after a final action), but the rules
  // must still stop at the cancel.
  s.steps = {email(Seconds(0), "update-card"), action(2 * kDay, Action::kCancel),
             email(3 * kDay, "final-notice")};
  auto p = dunning::rules::advance(s, opened(), 1, opened() + 10 * kDay);
  CHECK(p.run_now == indices({1}));
  CHECK(p.skipped.empty());
  CHECK(p.closes_case);
  CHECK(p.next_step == 2);
  CHECK_FALSE(p.next_due_at);
}

TEST_CASE("an overdue final action runs together with the latest email", "[rules]") {
  Sequence s = hard_decline();
  auto p = dunning::rules::advance(s, opened(), 3, opened() + 20 * kDay);
  CHECK(p.run_now == indices({3, 4}));
  CHECK(p.closes_case);
  CHECK_FALSE(p.next_due_at);
  CHECK(p.next_step == 5);
}

TEST_CASE("past the last step there is nothing more to schedule", "[rules]") {
  Sequence s = sequence("short");
  s.steps = {email(Seconds(0), "update-card"), email(3 * kDay, "update-card-reminder")};
  auto p = dunning::rules::advance(s, opened(), 1, opened() + 3 * kDay);
  CHECK(p.run_now == indices({1}));
  CHECK(p.next_step == 2);
  CHECK_FALSE(p.next_due_at);
  CHECK_FALSE(p.closes_case);

  auto done = dunning::rules::advance(s, opened(), 2, opened() + 30 * kDay);
  CHECK(done.run_now.empty());
  CHECK(done.skipped.empty());
  CHECK(done.next_step == 2);
  CHECK_FALSE(done.next_due_at);
}

TEST_CASE("advancing from next_step never re-runs earlier steps", "[rules]") {
  Sequence s = hard_decline();
  auto first = dunning::rules::advance(s, opened(), 0, opened());
  REQUIRE(first.run_now == indices({0}));
  auto again = dunning::rules::advance(s, opened(), first.next_step, opened() + kHour);
  CHECK(again.run_now.empty());
  CHECK(again.next_step == first.next_step);
  CHECK(again.next_due_at == first.next_due_at);
}
