// The plan of a case (what customers are told) and the send-time gate (what may go out now).
// Pure: facts in, decision out. Local times are Europe/Zagreb (CET, UTC+1 in November).
#include <catch2/catch.hpp>

#include "dunning/rules/plan.hpp"
#include "support/sequences.hpp"

using namespace dunning;
using namespace std::chrono_literals;
using dunning::testing::at;
using dunning::testing::sequences_from;
using Kind = rules::GateVerdict::Kind;

namespace {

const char* kSoft = R"(
sequences:
  - id: soft
    trigger: payment_failed
    steps:
      - {at: 1d,  email: payment-failed}
      - {at: 4d,  action: retry}
      - {at: 7d,  email: payment-failed-reminder, unless: [clicked]}
      - {at: 9d,  action: retry, prefer: payday}
      - {at: 14d, email: final-notice}
      - {at: 21d, action: cancel}
    stop_on: [card_updated]
    on_card_updated:
      - {at: 0h, action: retry}
      - {at: 0h, email: card-thanks}
defaults:
  send_window: {from: "09:00", to: "19:00", days: [mon, tue, wed, thu, fri]}
  max_messages_per_customer_per_day: 1
  paydays: [1, 15]
  payday_max_days: 5
)";

struct Fixture {
  config::Sequences seqs = sequences_from(kSoft);
  const config::Sequence& seq = seqs.sequences.at(0);
  const date::time_zone* zagreb = date::locate_zone("Europe/Zagreb");
  rules::Capabilities all{true, true, true};

  // Opened Monday 2026-11-02 10:00 UTC (11:00 in Zagreb).
  rules::PlanFacts facts(std::size_t next_step) const {
    rules::PlanFacts f;
    f.opened_at = at("2026-11-02T10:00:00Z");
    f.next_step = next_step;
    f.zone = zagreb;
    f.caps = all;
    return f;
  }
  rules::SendFacts send(const char* now) const {
    rules::SendFacts f;
    f.now = at(now);
    f.zone = zagreb;
    f.caps = all;
    return f;
  }
};

}  // namespace

TEST_CASE("the plan's next retry is where the scheduler will place it, payday included",
          "[rules][plan]") {
  Fixture fx;
  // Past step #2 (day 4): the next retry is day 9 = Wed 2026-11-11 11:00 local, which
  // `prefer: payday` moves to the 15th (within 5 days) at the same local time.
  auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, fx.facts(2));
  REQUIRE(plan.next_retry);
  CHECK(plan.next_retry->step_index == 3);
  CHECK(format_iso8601(plan.next_retry->at) == "2026-11-15T10:00:00Z");
  CHECK_THAT(plan.next_retry->why, Catch::Contains("payday"));
  // The scheduler's own placement of that step gives the same instant.
  auto placed = rules::place_step(fx.seq, fx.seq.steps[3], at("2026-11-11T10:00:00Z"),
                                  fx.seqs.defaults, fx.zagreb, {});
  CHECK(placed.at == plan.next_retry->at);
  // The next contact is day 7 (Mon 2026-11-09 11:00 local: inside the window).
  REQUIRE(plan.next_contact);
  CHECK(plan.next_contact->step_index == 2);
  CHECK(format_iso8601(plan.next_contact->at) == "2026-11-09T10:00:00Z");
  REQUIRE(plan.final_step);
  CHECK(format_iso8601(*plan.cancel_at) == "2026-11-23T10:00:00Z");
}

TEST_CASE("a contact step lands in the send window of the customer's zone", "[rules][plan]") {
  Fixture fx;
  auto f = fx.facts(0);
  f.opened_at = at("2026-11-05T20:00:00Z");  // Thu 21:00 local; day 1 is Fri 21:00 local
  auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, f);
  REQUIRE(plan.next_contact);
  CHECK(plan.next_contact->step_index == 0);
  CHECK(format_iso8601(plan.next_contact->at) == "2026-11-09T08:00:00Z");  // Mon 09:00 local
}

TEST_CASE("a queued step's own time is the plan, not its nominal offset", "[rules][plan]") {
  Fixture fx;
  auto f = fx.facts(2);
  f.pending = {{1, at("2026-11-06T12:00:00Z")}};  // the day-4 retry, still queued
  auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, f);
  REQUIRE(plan.next_retry);
  CHECK(plan.next_retry->step_index == 1);
  CHECK(format_iso8601(plan.next_retry->at) == "2026-11-06T12:00:00Z");
  CHECK_THAT(plan.next_retry->why, Catch::Contains("step #2 (action retry), queued"));
}

TEST_CASE("without billing nothing promises a retry or a cancellation", "[rules][plan]") {
  Fixture fx;
  auto f = fx.facts(0);
  f.caps.billing = false;
  auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, f);
  CHECK_FALSE(plan.next_retry);
  CHECK_FALSE(plan.cancel_at);
  REQUIRE(plan.final_step);  // the case still ends (written off) on day 21
  CHECK(rules::cannot_act(fx.seq.steps[1], f.caps).find("billing") != std::string::npos);
}

TEST_CASE("holdout, clicks and a card update take steps out of the plan", "[rules][plan]") {
  Fixture fx;
  SECTION("holdout: no contact at all, retries still planned") {
    auto f = fx.facts(0);
    f.holdout = true;
    auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, f);
    CHECK_FALSE(plan.next_contact);
    CHECK(plan.next_retry);
  }
  SECTION("unless clicked: the reminder is not the next contact once the customer clicked") {
    auto f = fx.facts(2);
    f.clicked = true;
    auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, f);
    REQUIRE(plan.next_contact);
    CHECK(plan.next_contact->step_index == 4);
  }
  SECTION("stop_on card_updated: reminders stop, the on_card_updated steps do not") {
    auto f = fx.facts(2);
    f.card_updated = true;
    f.pending = {{rules::kCardUpdatedSteps + 1, at("2026-11-06T12:00:00Z")}};
    auto plan = rules::plan_case(fx.seq, fx.seqs.defaults, f);
    REQUIRE(plan.next_contact);
    CHECK(plan.next_contact->step_index == rules::kCardUpdatedSteps + 1);
  }
}

TEST_CASE("find_step names steps and on_card_updated steps by outbox index", "[rules][plan]") {
  Fixture fx;
  CHECK(rules::find_step(fx.seq, 0) == &fx.seq.steps[0]);
  CHECK(rules::find_step(fx.seq, 6) == nullptr);
  CHECK(rules::find_step(fx.seq, rules::kCardUpdatedSteps + 16 + 1) == &fx.seq.on_card_updated[1]);
  CHECK(rules::find_step(fx.seq, rules::kCardUpdatedSteps + 5) == nullptr);
}

TEST_CASE("the gate defers a contact outside the window to the next slot", "[rules][gate]") {
  Fixture fx;
  const auto& email = fx.seq.steps[0];
  SECTION("03:00 local on a Tuesday: 09:00 the same day") {
    auto v = rules::send_gate(fx.seq, email, 0, fx.seqs.defaults, fx.send("2026-11-10T02:00:00Z"));
    REQUIRE(v.kind == Kind::kDefer);
    CHECK(format_iso8601(v.until) == "2026-11-10T08:00:00Z");
    CHECK_THAT(v.why, Catch::Contains("send window"));
  }
  SECTION("Friday 22:30 local: Monday 09:00") {
    auto v = rules::send_gate(fx.seq, email, 0, fx.seqs.defaults, fx.send("2026-11-13T21:30:00Z"));
    REQUIRE(v.kind == Kind::kDefer);
    CHECK(format_iso8601(v.until) == "2026-11-16T08:00:00Z");
  }
  SECTION("inside the window: it goes") {
    auto v = rules::send_gate(fx.seq, email, 0, fx.seqs.defaults, fx.send("2026-11-10T09:00:00Z"));
    CHECK(v.kind == Kind::kSend);
  }
}

TEST_CASE("the gate counts what was sent today, across the customer's cases", "[rules][gate]") {
  Fixture fx;
  auto f = fx.send("2026-11-10T09:00:00Z");        // Tue 10:00 local
  f.contacts_sent = {at("2026-11-10T08:30:00Z")};  // another case's reminder at 09:30 local
  auto v = rules::send_gate(fx.seq, fx.seq.steps[2], 2, fx.seqs.defaults, f);
  REQUIRE(v.kind == Kind::kDefer);
  CHECK(format_iso8601(v.until) == "2026-11-11T08:00:00Z");  // Wed 09:00 local
  CHECK_THAT(v.why, Catch::Contains("max_messages_per_customer_per_day"));
  // A message sent yesterday does not count against today.
  f.contacts_sent = {at("2026-11-09T17:00:00Z")};
  CHECK(rules::send_gate(fx.seq, fx.seq.steps[2], 2, fx.seqs.defaults, f).kind == Kind::kSend);
}

TEST_CASE("the gate skips with the reason what must never go", "[rules][gate]") {
  Fixture fx;
  auto f = fx.send("2026-11-10T09:00:00Z");
  SECTION("holdout") {
    f.holdout = true;
    auto v = rules::send_gate(fx.seq, fx.seq.steps[0], 0, fx.seqs.defaults, f);
    CHECK(v.kind == Kind::kSkip);
    CHECK_THAT(v.why, Catch::Contains("holdout"));
    // Retries are not contact: they still run.
    CHECK(rules::send_gate(fx.seq, fx.seq.steps[1], 1, fx.seqs.defaults, f).kind == Kind::kSend);
  }
  SECTION("unless clicked") {
    f.clicked = true;
    CHECK(rules::send_gate(fx.seq, fx.seq.steps[2], 2, fx.seqs.defaults, f).kind == Kind::kSkip);
  }
  SECTION("stop_on card_updated stops reminders, not the on_card_updated thank-you") {
    f.card_updated = true;
    CHECK(rules::send_gate(fx.seq, fx.seq.steps[2], 2, fx.seqs.defaults, f).kind == Kind::kSkip);
    CHECK(rules::send_gate(fx.seq, fx.seq.on_card_updated[1], rules::kCardUpdatedSteps + 1,
                           fx.seqs.defaults, f)
              .kind == Kind::kSend);
  }
  SECTION("an unreachable address") {
    f.email_unreachable = true;
    CHECK(rules::send_gate(fx.seq, fx.seq.steps[0], 0, fx.seqs.defaults, f).kind == Kind::kSkip);
  }
  SECTION("a retry without billing") {
    f.caps.billing = false;
    auto v = rules::send_gate(fx.seq, fx.seq.steps[1], 1, fx.seqs.defaults, f);
    CHECK(v.kind == Kind::kSkip);
    CHECK_THAT(v.why, Catch::Contains("billing"));
  }
  SECTION("a retry past the card networks' cap") {
    for (int i = 0; i < fx.seqs.defaults.max_retries_per_card_per_30_days; ++i) {
      f.card_retries.push_back(f.now - std::chrono::hours(24 * i + 1));
    }
    auto v = rules::send_gate(fx.seq, fx.seq.steps[1], 1, fx.seqs.defaults, f);
    CHECK(v.kind == Kind::kSkip);
    CHECK_THAT(v.why, Catch::Contains("per-card retry cap"));
  }
}
