// The store's contract: every interface exercised through its abstract type, on every engine of
// support/store_engines.hpp (real databases in a temp folder, never mocks). What a test asserts
// here is what the header promises, so a new engine passes this suite or does not ship.
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dunning/core/subscription_status.hpp"
#include "dunning/store/engine.hpp"
#include "support/builders.hpp"
#include "support/store_engines.hpp"

using namespace dunning;
using dunning::testing::on_every_engine;
using store::CaseState;
using store::OutboxState;

namespace {

using Billing = std::function<void(const std::string&)>;

using dunning::testing::a_case;
using dunning::testing::at;

store::OutboxRow a_step(std::int64_t case_id, int step, const std::string& channel,
                        const char* due = "2026-11-02T10:00:00Z") {
  store::OutboxRow r;
  r.case_id = case_id;
  r.step_index = step;
  r.channel = dunning::parse_channel(channel).value();
  if (r.channel == dunning::Channel::kAction) {
    r.action = dunning::Action::kRetry;
    r.card_id = "pm_1";
  } else {
    r.template_name = "payment-failed";
  }
  r.message_key = "case:" + std::to_string(case_id) + ":step:" + std::to_string(step);
  r.due_at = at(due);
  r.created_at = at("2026-11-02T09:00:00Z");
  return r;
}

using dunning::testing::a_payment;

std::vector<std::int64_t> ids(const std::vector<store::CaseRecord>& cases) {
  std::vector<std::int64_t> out;
  for (const auto& c : cases) out.push_back(c.id);
  return out;
}

}  // namespace

// ---- Database

TEST_CASE("a transaction keeps its writes only when committed", "[store][contract]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    CHECK(e.db().schema_version() == store::kSchemaVersion);
    CHECK_FALSE(e.db().in_transaction());
    {
      store::Tx tx(e.db());
      CHECK(e.db().in_transaction());
      e.feed().set_cursor("payments", 7);
    }  // rolled back
    CHECK_FALSE(e.db().in_transaction());
    CHECK(e.feed().cursor("payments") == 0);
    {
      store::Tx tx(e.db());
      e.feed().set_cursor("payments", 7);
      tx.commit();
    }
    CHECK(e.feed().cursor("payments") == 7);
  });
}

TEST_CASE("a savepoint undoes only its own writes, its transaction still commits",
          "[store][contract]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    CHECK(e.facts().record_event("e1", "api", "payment.failed", "{}", at("2026-11-02T10:00:00Z")));
    {
      store::Savepoint sp(e.db());
      CHECK(
          e.facts().record_event("e2", "api", "payment.failed", "{}", at("2026-11-02T10:00:00Z")));
      {
        store::Savepoint inner(e.db());
        CHECK(e.facts().record_event("e3", "api", "x", "{}", at("2026-11-02T10:00:00Z")));
        inner.release();
      }
    }  // e2 and e3 are undone
    {
      store::Savepoint sp(e.db());
      CHECK(e.facts().record_event("e4", "api", "x", "{}", at("2026-11-02T10:00:00Z")));
      sp.release();
    }
    tx.commit();
    store::Tx again(e.db());
    CHECK_FALSE(e.facts().record_event("e1", "api", "x", "{}", at("2026-11-02T10:00:00Z")));
    CHECK(e.facts().record_event("e2", "api", "x", "{}", at("2026-11-02T10:00:00Z")));
    CHECK(e.facts().record_event("e3", "api", "x", "{}", at("2026-11-02T10:00:00Z")));
    CHECK_FALSE(e.facts().record_event("e4", "api", "x", "{}", at("2026-11-02T10:00:00Z")));
  });
}

// ---- PaymentsFeed and FactsWriter

TEST_CASE("the payments feed hands out rows oldest first and a cursor that moves past them",
          "[store][contract][feed]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    CHECK(e.facts().append_payment(a_payment("p1", store::PaymentStatus::kFailed)));
    CHECK(e.facts().append_payment(
        a_payment("p2", store::PaymentStatus::kSucceeded, "2026-11-03T10:00:00Z")));
    CHECK(e.facts().append_payment(a_payment("p3", store::PaymentStatus::kFailed)));
    CHECK_FALSE(e.facts().append_payment(
        a_payment("p1", store::PaymentStatus::kSucceeded)));  // appended facts
    tx.commit();

    auto first = e.feed().payments_after(0, 2);
    REQUIRE(first.rows.size() == 2);
    REQUIRE(first.rows[0].payment.ok());
    const auto& p = first.rows[0].payment.value();
    CHECK(p.id == "p1");
    CHECK(p.customer_id == "cus_1");
    CHECK(p.invoice_id == "in_p1");
    CHECK(p.subscription_id == "sub_cus_1");
    CHECK(p.amount == Money(1250, "EUR"));
    CHECK(p.status == store::PaymentStatus::kFailed);
    CHECK(p.decline_code == "insufficient_funds");
    CHECK(p.occurred_at == at("2026-11-02T10:00:00Z"));
    CHECK(first.rows[1].id == "p2");
    CHECK(first.last_rowid == first.rows[1].rowid);

    auto rest = e.feed().payments_after(first.last_rowid, 10);
    REQUIRE(rest.rows.size() == 1);
    CHECK(rest.rows[0].id == "p3");
    auto none = e.feed().payments_after(rest.last_rowid, 10);
    CHECK(none.rows.empty());
    CHECK(none.last_rowid == rest.last_rowid);
  });
}

TEST_CASE("a payments row that cannot be decoded is an error value, and the cursor passes it",
          "[store][contract][feed]") {
  on_every_engine([](store::Engine& e, const Billing& billing) {
    billing(
        "INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status, "
        "occurred_at) VALUES "
        "('good1', 'cus_1', 'in_1', 1250, 'EUR', 'failed', '2026-11-02T10:00:00Z'), "
        "('lower', 'cus_1', 'in_2', 1250, 'eur', 'failed', '2026-11-02T10:01:00Z'), "
        "('when', 'cus_1', 'in_3', 1250, 'EUR', 'failed', 'yesterday at noon'), "
        "('unknown', 'cus_1', 'in_4', 1250, 'ZZQ', 'failed', '2026-11-02T10:03:00Z'), "
        "('good2', 'cus_1', 'in_5', 1250, 'EUR', 'failed', '2026-11-02T10:04:00Z')");
    auto batch = e.feed().payments_after(0, 10);
    REQUIRE(batch.rows.size() == 5);
    CHECK(batch.rows[0].payment.ok());
    REQUIRE_FALSE(batch.rows[1].payment.ok());
    CHECK(batch.rows[1].id == "lower");
    CHECK_THAT(batch.rows[1].payment.error().message, Catch::Contains("currency \"eur\""));
    REQUIRE_FALSE(batch.rows[2].payment.ok());
    CHECK_THAT(batch.rows[2].payment.error().message, Catch::Contains("occurred_at"));
    CHECK_FALSE(batch.rows[3].payment.ok());
    CHECK(batch.rows[4].payment.ok());
    CHECK(batch.last_rowid == batch.rows[4].rowid);

    // Reported once per row, counted for /metrics.
    store::Tx tx(e.db());
    const auto& bad = batch.rows[1];
    e.feed().record_rejected({"payments", bad.rowid, bad.id, bad.payment.error().message},
                             at("2026-11-02T11:00:00Z"));
    e.feed().record_rejected({"payments", bad.rowid, bad.id, "again"}, at("2026-11-02T11:01:00Z"));
    tx.commit();
    auto counts = e.reports().rejected_rows_by_table();
    REQUIRE(counts.size() == 1);
    CHECK(counts[0].a == "payments");
    CHECK(counts[0].n == 1);
  });
}

TEST_CASE("an event keeps the body it was first recorded with, byte for byte",
          "[store][contract][facts]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    CHECK_FALSE(e.facts().event_payload("e1"));
    const std::string body =
        "{\"a\":1,\"name\":\"Ana \\u00e9 \xc3\xa9\",\"note\":\"tab\\there\"}\n";
    CHECK(
        e.facts().record_event("e1", "api", "customer.updated", body, at("2026-11-02T10:00:00Z")));
    CHECK_FALSE(e.facts().record_event("e1", "api", "customer.updated", "{\"a\":2}",
                                       at("2026-11-02T10:01:00Z")));
    CHECK(e.facts().event_payload("e1") == body);  // a replay does not replace it
    CHECK_FALSE(e.facts().event_payload("e2"));
    tx.commit();
    CHECK(e.facts().event_payload("e1") == body);
  });
}

TEST_CASE("facts are idempotent: a replay changes nothing, a real change is written",
          "[store][contract][facts]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    store::CustomerRow c{"cus_1",         "ana@example.com", "Ana",       "hr",
                         "Europe/Zagreb", "+38591000",       std::nullopt};
    CHECK(e.facts().upsert_customer(c));
    CHECK_FALSE(e.facts().upsert_customer(c));
    store::CustomerRow only_name{"cus_1",      std::nullopt, "Ana H.",    std::nullopt,
                                 std::nullopt, std::nullopt, std::nullopt};
    CHECK(e.facts().upsert_customer(only_name));
    auto customer = e.feed().customer("cus_1");
    REQUIRE(customer);
    CHECK(customer->email == "ana@example.com");  // missing fields keep their value
    CHECK(customer->name == "Ana H.");
    CHECK(customer->phone == "+38591000");
    CHECK_FALSE(e.feed().customer("cus_nobody"));

    store::SubscriptionRow s;
    s.id = "sub_1";
    s.customer_id = "cus_1";
    s.plan = "pro";
    s.status = "active";
    s.amount_minor = 2000;
    s.currency = "EUR";
    s.updated_at = at("2026-10-01T00:00:00Z");
    CHECK(e.facts().upsert_subscription(s));
    CHECK_FALSE(e.facts().upsert_subscription(s));
    CHECK(e.feed().subscription_plan("sub_1") == "pro");
    CHECK_FALSE(e.feed().subscription_plan("sub_none"));

    auto refused = a_payment("p9", store::PaymentStatus::kFailed);
    refused.currency = "EURO";  // the schema's CHECK
    CHECK_THROWS_AS(e.facts().append_payment(refused), store::StoreError);
  });
}

TEST_CASE("default cards: one per customer, changes are fed, expiring ones are found once",
          "[store][contract][feed]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    store::PaymentMethodRow m;
    m.id = "pm_1";
    m.customer_id = "cus_1";
    m.brand = "visa";
    m.last4 = "4242";
    m.exp_month = 12;
    m.exp_year = 2026;
    m.is_default = true;
    m.updated_at = at("2026-10-01T00:00:00Z");
    CHECK(e.facts().upsert_payment_method(m));
    CHECK(e.facts().set_default_card({"cus_1", "pm_2", at("2026-10-02T00:00:00Z")}));
    auto card = e.feed().default_card("cus_1");
    REQUIRE(card);
    CHECK(card->id == "pm_2");
    auto changes = e.feed().card_changes_after(0, 10);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].payment_method_id == "pm_1");
    CHECK(changes[1].payment_method_id == "pm_2");
    CHECK(changes[1].customer_id == "cus_1");
    CHECK(e.feed().card_changes_after(changes[1].seq, 10).empty());

    // pm_1 again: the default, expiring in December 2026.
    m.updated_at = at("2026-10-03T00:00:00Z");
    CHECK(e.facts().upsert_payment_method(m));
    const int dec2026 = 2026 * 12 + 11;
    auto expiring = e.feed().expiring_cards(dec2026 - 1, dec2026, 10);
    REQUIRE(expiring.size() == 1);
    CHECK(expiring[0].id == "pm_1");
    CHECK(expiring[0].exp_month == 12);
    CHECK(e.feed().expiring_cards(dec2026 + 1, dec2026 + 2, 10).empty());
    auto c = a_case("in_none");
    c.trigger = dunning::Trigger::kCardExpiring;
    c.invoice_id.reset();
    c.id = e.cases().insert(c);
    e.cases().record_expiry_case(expiring[0], c.id);
    CHECK(e.feed().expiring_cards(dec2026 - 1, dec2026, 10).empty());
  });
}

TEST_CASE("every subscription status change is fed and the caller says which ones end it",
          "[store][contract][feed]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    store::SubscriptionRow s;
    s.id = "sub_1";
    s.customer_id = "cus_1";
    s.plan = "pro";
    s.status = "active";
    s.amount_minor = 2000;
    s.currency = "EUR";
    s.updated_at = at("2026-10-01T00:00:00Z");
    CHECK(e.facts().upsert_subscription(s));
    auto current = e.feed().customer_subscription("cus_1", kEndedSubscriptionStatuses);
    REQUIRE(current);
    CHECK(current->id == "sub_1");
    CHECK(current->amount == Money(2000, "EUR"));
    for (const char* status : {"past_due", "incomplete_expired"}) {
      s.status = status;
      s.updated_at += std::chrono::hours(24);
      CHECK(e.facts().upsert_subscription(s));
    }
    auto changes = e.feed().subscription_changes_after(0, 10);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].status == "past_due");
    CHECK(changes[1].status == "incomplete_expired");
    CHECK_FALSE(subscription_ended(changes[0].status));
    CHECK(subscription_ended(changes[1].status));
    CHECK_FALSE(e.feed().customer_subscription("cus_1", kEndedSubscriptionStatuses));
    CHECK(e.feed().customer_subscription("cus_1", {}));
  });
}

TEST_CASE("paid_since finds the invoice's payment after a failure in whatever order it arrived",
          "[store][contract][feed]") {
  on_every_engine([](store::Engine& e, const Billing& billing) {
    auto pay = [&](const char* id, const char* invoice, const char* status, const char* when) {
      billing(std::string("INSERT INTO payments(id, customer_id, invoice_id, amount_minor, "
                          "currency, status, occurred_at) VALUES ('") +
              id + "', 'cus_1', '" + invoice + "', 1250, 'EUR', '" + status + "', '" + when + "')");
    };
    // The billing system wrote the successes first and the failure they settle last (a webhook
    // before the import of the failed charge): the feed's order is not the order of events.
    pay("py_paid_later", "in_1", "succeeded", "2026-11-06T09:00:00Z");
    pay("py_paid", "in_1", "succeeded", "2026-11-04T09:00:00Z");
    pay("py_paid_before", "in_1", "succeeded", "2026-10-04T09:00:00Z");
    pay("py_refund", "in_1", "refunded", "2026-11-03T09:00:00Z");
    pay("py_other_invoice", "in_2", "succeeded", "2026-11-03T09:00:00Z");
    pay("py_failed", "in_1", "failed", "2026-11-02T10:00:00Z");
    auto fed = e.feed().payments_after(0, 10);
    REQUIRE(fed.rows.size() == 6);
    REQUIRE(fed.rows[5].id == "py_failed");

    const TimePoint failed_at = at("2026-11-02T10:00:00Z");
    auto paid = e.feed().paid_since("in_1", failed_at);
    REQUIRE(paid);
    CHECK(paid->id == "py_paid");  // the first success at or after the failure
    CHECK(paid->invoice_id == "in_1");
    CHECK(paid->status == store::PaymentStatus::kSucceeded);
    CHECK(paid->amount == Money(1250, "EUR"));
    CHECK(paid->occurred_at == at("2026-11-04T09:00:00Z"));
    CHECK(paid->rowid == fed.rows[1].rowid);
    CHECK(paid->rowid < fed.rows[5].rowid);  // fed before the failure it settles

    CHECK(e.feed().paid_since("in_1", at("2026-11-04T09:00:00Z"))->id == "py_paid");  // at
    CHECK(e.feed().paid_since("in_1", at("2026-11-04T09:00:01Z"))->id == "py_paid_later");
    CHECK_FALSE(e.feed().paid_since("in_1", at("2026-11-06T09:00:01Z")));
    CHECK(e.feed().paid_since("in_2", failed_at)->id == "py_other_invoice");
    CHECK_FALSE(e.feed().paid_since("in_none", failed_at));
  });
}

// ---- Cases

TEST_CASE("cases: one open case per invoice, looked up by invoice, customer and subscription",
          "[store][contract][cases]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto c1 = a_case("in_1");
    c1.id = e.cases().insert(c1);
    auto got = e.cases().get(c1.id);
    REQUIRE(got);
    CHECK(got->invoice_id == "in_1");
    CHECK(got->amount == Money(1250, "EUR"));
    CHECK(got->state == CaseState::kOpen);
    CHECK(got->opened_at == c1.opened_at);
    CHECK(got->next_due_at == c1.next_due_at);
    CHECK(got->attempt_count == 1);
    CHECK_FALSE(e.cases().get(c1.id + 100));
    {
      store::Savepoint sp(e.db());
      CHECK_THROWS_AS(e.cases().insert(a_case("in_1")), store::StoreError);
    }
    auto c2 = a_case("in_2");
    c2.id = e.cases().insert(c2);
    auto other = a_case("in_3", {.customer = "cus_2"});
    other.id = e.cases().insert(other);

    CHECK(e.cases().open_for_invoice("in_2")->id == c2.id);
    CHECK_FALSE(e.cases().open_for_invoice("in_none"));
    CHECK(ids(e.cases().open_for_customer("cus_1")) == std::vector<std::int64_t>{c1.id, c2.id});
    CHECK(ids(e.cases().open_for_subscription("sub_cus_2")) == std::vector<std::int64_t>{other.id});

    e.cases().close(c1.id, CaseState::kRecovered, at("2026-11-04T00:00:00Z"), "paid");
    CHECK_FALSE(e.cases().open_for_invoice("in_1"));
    CHECK(e.cases().get(c1.id)->closed_at == at("2026-11-04T00:00:00Z"));
    CHECK_FALSE(e.cases().get(c1.id)->next_due_at);
    auto again = a_case("in_1");  // the invoice fails again after its case closed
    CHECK(e.cases().insert(again) > 0);

    CHECK(ids(e.cases().find({"recovered", "", 10})) == std::vector<std::int64_t>{c1.id});
    CHECK(ids(e.cases().find({"", "cus_2", 10})) == std::vector<std::int64_t>{other.id});
    CHECK(e.cases().find({"", "", 2}).size() == 2);
    CHECK(e.cases().find({"no-such-state", "", 10}).empty());
  });
}

TEST_CASE(
    "cases: a listing filters by sequence, decline code, currency and customer email, "
    "and pages by id",
    "[store][contract][cases][console]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    store::CustomerRow ana{"cus_1",         "Ana@Example.com", "Ana",       "hr",
                           "Europe/Zagreb", std::nullopt,      std::nullopt};
    REQUIRE(e.facts().upsert_customer(ana));
    auto a = a_case("in_1");
    a.id = e.cases().insert(a);
    auto b = a_case("in_2");
    b.sequence_id = "hard";
    b.decline_code = "stolen_card";
    b.amount = Money(5000, "USD");
    b.id = e.cases().insert(b);
    auto c = a_case("in_3", {.customer = "cus_2"});
    c.id = e.cases().insert(c);
    auto filter = [] { return store::CaseFilter("", "", 10); };
    auto f = filter();
    f.sequence_id = "hard";
    CHECK(ids(e.cases().find(f)) == std::vector<std::int64_t>{b.id});
    f = filter();
    f.decline_code = "insufficient_funds";
    CHECK(ids(e.cases().find(f)) == std::vector<std::int64_t>{a.id, c.id});
    f = filter();
    f.currency = "USD";
    CHECK(ids(e.cases().find(f)) == std::vector<std::int64_t>{b.id});
    f = filter();
    f.customer_email = "ana@example.COM";  // compared without case
    CHECK(ids(e.cases().find(f)) == std::vector<std::int64_t>{a.id, b.id});
    f.customer_email = "nobody@example.com";
    CHECK(e.cases().find(f).empty());
    f = filter();
    f.limit = 2;
    CHECK(ids(e.cases().find(f)) == std::vector<std::int64_t>{a.id, b.id});
    f.after_id = b.id;
    CHECK(ids(e.cases().find(f)) == std::vector<std::int64_t>{c.id});
    f.after_id = c.id;
    CHECK(e.cases().find(f).empty());
  });
}

TEST_CASE("cases: due work in due order, progress, admin state changes and attempts",
          "[store][contract][cases]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto late = a_case("in_1");
    late.next_due_at = at("2026-11-05T00:00:00Z");
    late.id = e.cases().insert(late);
    auto early = a_case("in_2");
    early.next_due_at = at("2026-11-04T00:00:00Z");
    early.id = e.cases().insert(early);
    auto waiting = a_case("in_3");
    waiting.next_due_at.reset();
    waiting.id = e.cases().insert(waiting);

    CHECK(ids(e.cases().due(at("2026-11-05T00:00:00Z"), 10)) ==
          std::vector<std::int64_t>{early.id, late.id});
    CHECK(ids(e.cases().due(at("2026-11-04T12:00:00Z"), 10)) ==
          std::vector<std::int64_t>{early.id});
    CHECK(e.cases().due(at("2026-11-05T00:00:00Z"), 1).size() == 1);

    e.cases().set_progress(early.id, 2, at("2026-11-09T00:00:00Z"));
    CHECK(e.cases().get(early.id)->next_step == 2);
    CHECK(ids(e.cases().due(at("2026-11-05T00:00:00Z"), 10)) == std::vector<std::int64_t>{late.id});

    CHECK(e.cases().change_state(late.id, CaseState::kOpen, CaseState::kPaused));
    CHECK_FALSE(e.cases().change_state(late.id, CaseState::kOpen, CaseState::kPaused));
    CHECK(e.cases().get(late.id)->state == CaseState::kPaused);
    CHECK(e.cases().due(at("2026-11-05T00:00:00Z"), 10).empty());  // paused: nothing is due
    CHECK(e.cases().open_for_invoice("in_1"));                     // but still open
    CHECK(e.cases().change_state(late.id, CaseState::kPaused, CaseState::kOpen));

    e.cases().increment_attempt_count(late.id);
    CHECK(e.cases().get(late.id)->attempt_count == 2);
  });
}

TEST_CASE("a case's timeline keeps the caller's words in order and clicks are remembered",
          "[store][contract][cases]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto c = a_case("in_1");
    c.id = e.cases().insert(c);
    auto d = a_case("in_2");
    d.id = e.cases().insert(d);
    e.cases().add_event(c.id, at("2026-11-02T10:00:00Z"), "opened", "sequence soft");
    e.cases().add_event(d.id, at("2026-11-02T10:00:00Z"), "opened", "sequence soft");
    e.cases().add_event(c.id, at("2026-11-02T10:01:00Z"), "step_queued", "step #1");
    e.cases().add_event(c.id, at("2026-11-02T10:02:00Z"), "step_queued", "step #2");

    auto events = e.cases().events(c.id);
    REQUIRE(events.size() == 3);
    CHECK(events[0].kind == "opened");
    CHECK(events[0].detail == "sequence soft");
    CHECK(events[0].case_id == c.id);
    CHECK(events[2].at == at("2026-11-02T10:02:00Z"));
    CHECK(e.cases().count_events(c.id, "step_queued") == 2);
    CHECK(e.cases().count_events(d.id, "step_queued") == 0);

    const std::vector<std::string> opened{"opened"};
    auto feed = e.cases().events_after(0, opened, 10);
    REQUIRE(feed.size() == 2);
    CHECK(feed[1].case_id == d.id);
    CHECK(e.cases().events_after(feed[1].id, opened, 10).empty());
    CHECK(e.cases().events_after(0, {}, 10).empty());

    CHECK_FALSE(e.cases().clicked(c.id));
    CHECK(e.cases().record_click(c.id, c.customer_id, at("2026-11-03T08:00:00Z"), Seconds(3600)));
    // A repeat within the window and a case that does not exist record nothing.
    CHECK_FALSE(
        e.cases().record_click(c.id, c.customer_id, at("2026-11-03T08:30:00Z"), Seconds(3600)));
    CHECK_FALSE(
        e.cases().record_click(999999, c.customer_id, at("2026-11-03T08:00:00Z"), Seconds(3600)));
    CHECK(e.cases().clicked(c.id));
    CHECK_FALSE(e.cases().clicked(d.id));
    CHECK(e.ledger().last_click(c.id, at("2026-11-04T00:00:00Z")) == at("2026-11-03T08:00:00Z"));
    CHECK_FALSE(e.ledger().last_click(c.id, at("2026-11-03T07:59:59Z")));
  });
}

TEST_CASE(
    "cases: the invoice's latest case in any state, partial payments add up, the first "
    "card change is kept",
    "[store][contract][cases]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    CHECK_FALSE(e.cases().latest_for_invoice("in_1"));
    auto first = a_case("in_1");
    first.id = e.cases().insert(first);
    CHECK(e.cases().latest_for_invoice("in_1")->id == first.id);
    e.cases().close(first.id, CaseState::kLost, at("2026-11-20T00:00:00Z"), "written off");
    CHECK_FALSE(e.cases().open_for_invoice("in_1"));
    auto closed = e.cases().latest_for_invoice("in_1");  // late money still finds its case
    REQUIRE(closed);
    CHECK(closed->id == first.id);
    CHECK(closed->state == CaseState::kLost);
    auto second = a_case("in_1");
    second.opened_at = at("2026-12-02T10:00:00Z");
    second.id = e.cases().insert(second);
    e.cases().close(second.id, CaseState::kCancelled, at("2026-12-03T00:00:00Z"), "cancelled");
    CHECK(e.cases().latest_for_invoice("in_1")->id == second.id);  // the newest, open or not
    CHECK_FALSE(e.cases().latest_for_invoice("in_other"));

    auto c = a_case("in_2");
    c.id = e.cases().insert(c);
    CHECK(e.cases().get(c.id)->paid_minor == 0);
    CHECK(e.cases().get(c.id)->outstanding() == Money(1250, "EUR"));
    e.cases().add_paid(c.id, 500);
    e.cases().add_paid(c.id, 250);
    auto part = e.cases().get(c.id);
    CHECK(part->paid_minor == 750);
    CHECK(part->outstanding() == Money(500, "EUR"));
    CHECK(part->state == CaseState::kOpen);  // part paid: still open for the rest
    CHECK(e.cases().open_for_invoice("in_2")->paid_minor == 750);
    CHECK(e.cases().get(second.id)->paid_minor == 0);

    CHECK_FALSE(e.cases().get(c.id)->card_updated_at);
    e.cases().set_card_updated(c.id, at("2026-11-03T08:00:00Z"));
    e.cases().set_card_updated(c.id, at("2026-11-04T08:00:00Z"));
    CHECK(e.cases().get(c.id)->card_updated_at == at("2026-11-03T08:00:00Z"));
    CHECK(e.cases().open_for_customer("cus_1").at(0).card_updated_at == at("2026-11-03T08:00:00Z"));
    CHECK_FALSE(e.cases().get(second.id)->card_updated_at);
    tx.commit();
    CHECK(e.cases().get(c.id)->paid_minor == 750);  // committed, read outside the transaction
  });
}

TEST_CASE("clicks on a case's link: one per window, none for a case that does not exist",
          "[store][contract][cases]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    const auto id = e.cases().insert(a_case("in_1"));
    const auto other = e.cases().insert(a_case("in_2"));
    const TimePoint t = at("2026-11-22T10:00:00Z");
    const Seconds hour(3600);
    CHECK(e.cases().record_click(id, "cus_1", t, hour));
    for (int i = 1; i < 5; ++i)
      CHECK_FALSE(e.cases().record_click(id, "cus_1", t + Seconds(i * 900 - 1), hour));
    CHECK(e.cases().record_click(other, "cus_1", t + Seconds(1), hour));  // windows are per case
    CHECK(e.cases().record_click(id, "cus_1", t + hour, hour));  // the window is (at - 1h, at]
    CHECK_FALSE(e.cases().record_click(id + other + 1000, "cus_1", t, hour));
    CHECK(e.ledger().last_click(id, t + 2 * hour) == t + hour);
    CHECK(e.ledger().last_click(id, t + hour - Seconds(1)) == t);
    CHECK_FALSE(e.cases().clicked(id + other + 1000));
  });
}

TEST_CASE("a case or outbox row that cannot be decoded is skipped by the poll, the rest goes on",
          "[store][contract][cases][outbox]") {
  on_every_engine([](store::Engine& e, const Billing& billing) {
    std::int64_t good = 0, bad = 0;
    {
      store::Tx tx(e.db());
      good = e.cases().insert(a_case("in_good"));
      bad = e.cases().insert(a_case("in_bad"));
      CHECK(e.outbox().enqueue(a_step(good, 0, "email")));
      CHECK(e.outbox().enqueue(a_step(good, 1, "email")));
      tx.commit();
    }
    // What an earlier version or a hand edit left behind: a five-digit year, a time that is not
    // one.
    billing("UPDATE cases SET next_due_at = '10000-01-03T23:59:59Z' WHERE id = " +
            std::to_string(bad));
    billing("UPDATE outbox SET created_at = 'last tuesday' WHERE case_id = " +
            std::to_string(good) + " AND step_index = 1");
    store::Tx tx(e.db());
    std::vector<store::CaseRecord> due;
    REQUIRE_NOTHROW(due = e.cases().due(at("2026-11-22T10:00:00Z"), 10));
    CHECK(ids(due) == std::vector<std::int64_t>{good});
    std::vector<store::OutboxRow> claimed;
    REQUIRE_NOTHROW(claimed = e.outbox().claim(at("2026-11-02T10:00:00Z"), Seconds(300), 10));
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].step_index == 0);
    CHECK(e.cases().due(at("2026-11-22T10:00:00Z"), 10).size() == 1);  // again: still skipped
  });
}

// ---- Outbox

TEST_CASE("the outbox queues a step once and leases each due row to one claimer",
          "[store][contract][outbox]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    const TimePoint now = at("2026-11-02T10:00:00Z");
    std::int64_t case_id = 0;
    {
      store::Tx tx(e.db());
      case_id = e.cases().insert(a_case("in_1"));
      CHECK(e.outbox().enqueue(a_step(case_id, 0, "email")));
      CHECK_FALSE(e.outbox().enqueue(a_step(case_id, 0, "email")));
      CHECK(e.outbox().enqueue(a_step(case_id, 1, "sms")));
      CHECK(e.outbox().enqueue(a_step(case_id, 2, "action")));
      CHECK(e.outbox().enqueue(a_step(case_id, 3, "email", "2026-11-09T10:00:00Z")));
      tx.commit();
    }
    CHECK(e.outbox().pending_due(dunning::Channel::kEmail, now) == 1);

    store::Tx tx(e.db());
    const std::vector<dunning::Channel> skip{dunning::Channel::kSms};
    auto claimed = e.outbox().claim(now, Seconds(300), 10, skip);
    REQUIRE(claimed.size() == 2);  // email #0 and the action; sms skipped, #3 not due
    CHECK(claimed[0].step_index == 0);
    CHECK(claimed[0].attempts == 1);
    CHECK(claimed[0].message_key == "case:" + std::to_string(case_id) + ":step:0");
    CHECK(claimed[1].action == dunning::Action::kRetry);
    CHECK(claimed[1].card_id == "pm_1");
    CHECK(e.outbox().claim(now, Seconds(300), 10, skip).empty());  // leased
    auto sms = e.outbox().claim(now, Seconds(300), 10);
    REQUIRE(sms.size() == 1);
    CHECK(sms[0].channel == dunning::Channel::kSms);
    // A claimer that died: its lease expires and the row is claimed again.
    auto after_lease = e.outbox().claim(now + Seconds(300), Seconds(300), 10, skip);
    CHECK(after_lease.size() == 2);
    CHECK(after_lease[0].attempts == 2);

    CHECK(after_lease[0].leased_until == now + Seconds(600));
    // The first claimer, late: what it gives back must not free the second claim's lease.
    e.outbox().release(claimed[0].id, claimed[0].leased_until);
    e.outbox().defer(claimed[1].id, claimed[1].leased_until, now, "stale claim");
    CHECK(e.outbox().claim(now + Seconds(301), Seconds(300), 10, skip).empty());
    CHECK(e.outbox().for_case(case_id).at(2).last_error.empty());  // the action: not deferred

    e.outbox().release(after_lease[0].id, after_lease[0].leased_until);
    auto back = e.outbox().claim(now + Seconds(300), Seconds(300), 10, skip);
    REQUIRE(back.size() == 1);
    CHECK(back[0].attempts == 2);  // the release undid the claim's attempt
  });
}

TEST_CASE("outbox outcomes: sent, retried later, final, cancelled, and the rules' facts",
          "[store][contract][outbox]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    const TimePoint now = at("2026-11-02T10:00:00Z");
    store::Tx tx(e.db());
    const auto case_id = e.cases().insert(a_case("in_1"));
    const auto other = e.cases().insert(a_case("in_2"));
    for (int i = 0; i < 4; ++i) CHECK(e.outbox().enqueue(a_step(case_id, i, "email")));
    CHECK(e.outbox().enqueue(a_step(other, 0, "email", "2026-11-02T12:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(other, 1, "action", "2026-11-03T10:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(other, 2, "sms", "2026-11-04T10:00:00Z")));
    const Seconds day(86400);  // leased all day: the rows below only come back by their outcome
    auto rows = e.outbox().claim(now, day, 4);
    REQUIRE(rows.size() == 4);

    e.outbox().mark_sent(rows[0].id, now + Seconds(10));
    e.outbox().mark_retry(rows[1].id, now + Seconds(3600), "421 try later");
    e.outbox().mark_final(rows[2].id, OutboxState::kFailed, now, "550 no such user");
    auto mine = e.outbox().for_case(case_id);
    REQUIRE(mine.size() == 4);
    CHECK(mine[0].state == OutboxState::kSent);
    CHECK(mine[0].sent_at == now + Seconds(10));
    CHECK(mine[1].state == OutboxState::kPending);
    CHECK(mine[1].last_error == "421 try later");
    CHECK(mine[2].state == OutboxState::kFailed);
    CHECK(mine[2].last_error == "550 no such user");
    CHECK(e.outbox().claim(now + Seconds(3599), day, 10).empty());  // the retry waits its time
    auto retried = e.outbox().claim(now + Seconds(3600), day, 10);
    REQUIRE(retried.size() == 1);
    CHECK(retried[0].id == rows[1].id);

    CHECK(e.outbox().last_delivered(case_id, now + Seconds(10))->step_index == 0);
    CHECK_FALSE(e.outbox().last_delivered(case_id, now));

    // Facts for the daily cap and the per-card retry cap.
    auto contacts = e.outbox().contact_times("cus_1", now);
    CHECK(contacts.size() == 5);  // sent #0, pending #1 and #3, other's email and sms
    CHECK(e.outbox().retry_times("pm_1", now, at("2026-11-04T00:00:00Z")) ==
          std::vector<TimePoint>{at("2026-11-03T10:00:00Z")});

    CHECK(e.outbox().cancel_pending_contacts(other, now, "card updated") == 2);
    CHECK(e.outbox().for_case(other)[1].state == OutboxState::kPending);  // the action stays
    CHECK(e.outbox().cancel_pending(case_id, now, "case recovered") == 2);
    CHECK(e.outbox().for_case(case_id)[3].state == OutboxState::kCancelled);
    CHECK(e.outbox().for_case(case_id)[0].state == OutboxState::kSent);
  });
}

TEST_CASE(
    "outbox: a deferred row waits unattempted until its new time; a send whose outcome "
    "was never recorded is found",
    "[store][contract][outbox]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    const TimePoint now = at("2026-11-02T10:00:00Z");
    const Seconds day(86400);
    store::Tx tx(e.db());
    const auto case_id = e.cases().insert(a_case("in_1"));
    CHECK(e.outbox().enqueue(a_step(case_id, 0, "email")));
    CHECK(e.outbox().enqueue(a_step(case_id, 1, "action")));
    auto rows = e.outbox().claim(now, day, 10);
    REQUIRE(rows.size() == 2);
    REQUIRE(rows[0].channel == dunning::Channel::kEmail);
    CHECK(rows[0].attempts == 1);

    const TimePoint until = at("2026-11-03T08:00:00Z");
    e.outbox().defer(rows[0].id, rows[0].leased_until, until, "outside the send window");
    auto deferred = e.outbox().for_case(case_id).at(0);
    CHECK(deferred.state == OutboxState::kPending);
    CHECK(deferred.due_at == until);
    CHECK(deferred.attempts == 0);  // not an attempt
    CHECK(deferred.last_error == "outside the send window");
    CHECK(e.outbox().claim(until - Seconds(1), day, 10).empty());  // lease freed, not yet due
    auto again = e.outbox().claim(until, day, 10);
    REQUIRE(again.size() == 1);
    CHECK(again[0].id == rows[0].id);
    CHECK(again[0].attempts == 1);
    e.outbox().mark_sent(again[0].id, until);
    e.outbox().defer(again[0].id, again[0].leased_until, until + Seconds(3600),
                     "too late");  // only pending rows move
    CHECK(e.outbox().for_case(case_id).at(0).state == OutboxState::kSent);
    CHECK(e.outbox().for_case(case_id).at(0).due_at == until);

    // A sender claimed a contact and stopped before recording its outcome.
    const auto other = e.cases().insert(a_case("in_2"));
    CHECK(e.outbox().enqueue(a_step(other, 0, "email")));
    CHECK(e.outbox().enqueue(a_step(other, 1, "action")));
    CHECK(e.outbox().enqueue(a_step(other, 2, "sms", "2026-11-02T11:00:00Z")));
    CHECK_FALSE(e.outbox().unconfirmed_contact(other, now));  // nothing claimed yet
    auto claimed = e.outbox().claim(now, day, 10);
    REQUIRE(claimed.size() == 2);  // its email and action (the sms is not due)
    auto unconfirmed = e.outbox().unconfirmed_contact(other, now);
    REQUIRE(unconfirmed);
    CHECK(unconfirmed->step_index == 0);  // the action is not a contact
    CHECK_FALSE(e.outbox().unconfirmed_contact(case_id, now));
    e.outbox().mark_sent(claimed[0].id, now);
    CHECK_FALSE(e.outbox().unconfirmed_contact(other, now));  // its outcome is known
    auto sms = e.outbox().claim(at("2026-11-02T11:00:00Z"), day, 10);
    REQUIRE(sms.size() == 1);
    e.outbox().release(sms[0].id, sms[0].leased_until);  // given back unattempted: nothing went out
    CHECK_FALSE(e.outbox().unconfirmed_contact(other, at("2026-11-02T11:00:00Z")));
    sms = e.outbox().claim(at("2026-11-02T11:00:00Z"), day, 10);
    REQUIRE(sms.size() == 1);
    CHECK(e.outbox().unconfirmed_contact(other, at("2026-11-02T11:00:00Z"))->step_index == 2);
  });
}

TEST_CASE(
    "outbox: when a customer was actually contacted, across cases, in a window; when a "
    "card's retries were made",
    "[store][contract][outbox]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    const Seconds day(86400);
    store::Tx tx(e.db());
    const auto a = e.cases().insert(a_case("in_a", {.customer = "cus_1"}));
    const auto b = e.cases().insert(a_case("in_b", {.customer = "cus_1"}));
    const auto c = e.cases().insert(a_case("in_c", {.customer = "cus_2"}));
    CHECK(e.outbox().enqueue(a_step(a, 0, "email", "2026-11-02T10:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(a, 1, "sms", "2026-11-02T12:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(a, 2, "action", "2026-11-02T13:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(a, 3, "email", "2026-11-02T14:00:00Z")));  // stays pending
    CHECK(e.outbox().enqueue(a_step(b, 0, "email", "2026-11-01T09:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(b, 1, "email", "2026-11-02T11:00:00Z")));
    CHECK(e.outbox().enqueue(a_step(c, 0, "email", "2026-11-02T10:30:00Z")));
    // Each row goes out when it is due, except a's email #0 which is sent five minutes late.
    auto send_due = [&](const char* when, const char* sent) {
      for (const auto& r : e.outbox().claim(at(when), day, 10)) {
        if (r.case_id == a && r.step_index == 3) continue;
        e.outbox().mark_sent(r.id, at(sent));
      }
    };
    send_due("2026-11-01T09:00:00Z", "2026-11-01T09:00:00Z");
    send_due("2026-11-02T10:00:00Z", "2026-11-02T10:05:00Z");
    send_due("2026-11-02T10:30:00Z", "2026-11-02T10:30:00Z");
    send_due("2026-11-02T11:00:00Z", "2026-11-02T11:00:00Z");
    send_due("2026-11-02T12:00:00Z", "2026-11-02T12:00:00Z");
    send_due("2026-11-02T13:00:00Z", "2026-11-02T13:00:00Z");
    REQUIRE(e.outbox().for_case(a).at(3).state == OutboxState::kPending);

    const TimePoint since = at("2026-11-02T00:00:00Z");
    CHECK(e.outbox().sent_contact_times("cus_1", since) ==
          std::vector<TimePoint>{at("2026-11-02T10:05:00Z"), at("2026-11-02T11:00:00Z"),
                                 at("2026-11-02T12:00:00Z")});  // sent times, not due times
    CHECK(e.outbox().sent_contact_times("cus_1", at("2026-11-02T11:00:00Z")) ==
          std::vector<TimePoint>{at("2026-11-02T11:00:00Z"), at("2026-11-02T12:00:00Z")});
    CHECK(e.outbox().sent_contact_times("cus_1", at("2026-11-01T00:00:00Z")).size() == 4);
    CHECK(e.outbox().sent_contact_times("cus_2", since) ==
          std::vector<TimePoint>{at("2026-11-02T10:30:00Z")});
    CHECK(e.outbox().sent_contact_times("cus_nobody", since).empty());

    CHECK(e.outbox().retries_made("pm_1", since) ==
          std::vector<TimePoint>{at("2026-11-02T13:00:00Z")});
    CHECK(e.outbox().retries_made("pm_1", at("2026-11-02T13:00:01Z")).empty());
    CHECK(e.outbox().retries_made("pm_other", since).empty());
  });
}

// ---- ContactBook

TEST_CASE("the contact book remembers exact refused addresses and channel pauses",
          "[store][contract][contacts]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto& book = e.contacts();
    book.mark_unreachable("cus_1", dunning::Channel::kEmail, "ana@example.com", "550 no such user",
                          at("2026-11-02T10:00:00Z"));
    auto st = book.contact_status("cus_1", dunning::Channel::kEmail, "ana@example.com");
    REQUIRE(st);
    CHECK(st->state == "unreachable");
    CHECK(st->reason == "550 no such user");
    CHECK_FALSE(book.contact_status("cus_1", dunning::Channel::kEmail, "ana@new.example.com"));
    CHECK_FALSE(book.contact_status("cus_1", dunning::Channel::kSms, "ana@example.com"));
    book.mark_unreachable("cus_1", dunning::Channel::kEmail, "ana@example.com", "551 gone",
                          at("2026-11-03T10:00:00Z"));
    CHECK(book.contact_status("cus_1", dunning::Channel::kEmail, "ana@example.com")->reason ==
          "551 gone");

    CHECK(book.channel_pauses().empty());
    book.pause_channel(dunning::Channel::kEmail, "535 auth failed", at("2026-11-02T10:00:00Z"),
                       at("2026-11-02T11:00:00Z"));
    book.pause_channel(dunning::Channel::kEmail, "535 still failing", at("2026-11-02T11:00:00Z"),
                       at("2026-11-02T12:00:00Z"));
    book.pause_channel(dunning::Channel::kSms, "401", at("2026-11-02T10:00:00Z"),
                       at("2026-11-02T11:00:00Z"));
    auto pauses = book.channel_pauses();
    REQUIRE(pauses.size() == 2);
    CHECK(pauses[0].channel == dunning::Channel::kEmail);
    CHECK(pauses[0].since == at("2026-11-02T10:00:00Z"));  // an ongoing pause keeps its start
    CHECK(pauses[0].reason == "535 still failing");
    CHECK(pauses[0].retry_at == at("2026-11-02T12:00:00Z"));
    book.resume_channel(dunning::Channel::kEmail);
    book.resume_channel(dunning::Channel::kEmail);
    REQUIRE(book.channel_pauses().size() == 1);
    CHECK(book.channel_pauses()[0].channel == dunning::Channel::kSms);
  });
}

// ---- LedgerBook and ReportQueries

TEST_CASE("the ledger appends one close row per case, corrections beside it, read in order",
          "[store][contract][ledger]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto c = a_case("in_1");
    c.id = e.cases().insert(c);
    store::LedgerEntry row;
    row.case_id = c.id;
    row.kind = store::LedgerKind::kRecovered;
    row.customer_id = c.customer_id;
    row.payment_id = "py_paid";
    row.amount = Money(1250, "EUR");
    row.opened_at = c.opened_at;
    row.occurred_at = at("2026-11-05T09:00:00Z");
    row.recorded_at = row.occurred_at;
    row.attribution = store::Attribution::kStep;
    row.step_index = 1;
    row.id = e.ledger().append(row);
    CHECK(row.id > 0);
    {
      store::Savepoint sp(e.db());
      CHECK_THROWS_AS(e.ledger().append(row), store::StoreError);
    }
    auto fix = row;
    fix.kind = store::LedgerKind::kCorrection;
    fix.amount = Money(-250, "EUR");
    fix.corrects = row.id;
    fix.occurred_at = at("2026-11-06T00:00:00Z");
    fix.note = "partial refund";
    e.ledger().append(fix);

    std::vector<store::LedgerEntry> all;
    e.ledger().for_each(std::nullopt, std::nullopt,
                        [&](const store::LedgerEntry& x) { all.push_back(x); });
    REQUIRE(all.size() == 2);
    CHECK(all[0].kind == store::LedgerKind::kRecovered);
    CHECK(all[0].attribution == store::Attribution::kStep);
    CHECK(all[0].step_index == 1);
    CHECK(all[1].corrects == row.id);
    CHECK(all[1].note == "partial refund");
    int in_range = 0;
    e.ledger().for_each(at("2026-11-06T00:00:00Z"), std::nullopt,
                        [&](const store::LedgerEntry&) { ++in_range; });
    CHECK(in_range == 1);

    int outcomes = 0;
    e.reports().for_each_case_outcome(std::nullopt, std::nullopt, [&](const store::CaseOutcome& o) {
      ++outcomes;
      CHECK(o.kind == store::LedgerKind::kRecovered);
      CHECK(o.closed_amount == Money(1000, "EUR"));
    });
    CHECK(outcomes == 1);
    auto recovered = e.reports().recovered_by_currency();
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].a == "EUR");
    CHECK(recovered[0].n == 1250);
    std::vector<store::VerifyMismatch> mismatches;
    auto sums = e.reports().verify_recovered(&mismatches, 10);
    REQUIRE(sums.size() == 1);
    CHECK(sums[0].payments_minor == 0);
    REQUIRE(mismatches.size() == 1);
    CHECK(mismatches[0].problem == "payment not found");
  });
}

TEST_CASE("the ledger reads in pages after a keyset row, ties in time ordered by id",
          "[store][contract][ledger]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    // Six close rows, four of them at one second: a page edge inside the tie must not repeat
    // or skip a row.
    const char* times[] = {"2026-11-03T09:00:00Z", "2026-11-05T09:00:00Z", "2026-11-05T09:00:00Z",
                           "2026-11-05T09:00:00Z", "2026-11-05T09:00:00Z", "2026-11-07T09:00:00Z"};
    for (int i = 0; i < 6; ++i) {
      auto c = a_case("in_p" + std::to_string(i));
      c.id = e.cases().insert(c);
      store::LedgerEntry row;
      row.case_id = c.id;
      row.kind = store::LedgerKind::kLost;
      row.customer_id = c.customer_id;
      row.amount = Money(100 + i, "EUR");
      row.opened_at = c.opened_at;
      row.occurred_at = at(times[5 - i]);  // appended newest first: id order is not time order
      row.recorded_at = row.occurred_at;
      e.ledger().append(row);
    }
    std::vector<std::int64_t> whole;
    e.ledger().for_each(std::nullopt, std::nullopt,
                        [&](const store::LedgerEntry& x) { whole.push_back(x.id); });
    REQUIRE(whole.size() == 6);

    auto walk = [&](store::LedgerPage page) {
      std::vector<std::int64_t> seen;
      std::vector<std::size_t> sizes;
      for (;;) {
        auto rows = e.ledger().page(page);
        sizes.push_back(rows.size());
        if (rows.empty()) break;
        for (const auto& r : rows) seen.push_back(r.id);
        page.after_at = rows.back().occurred_at;
        page.after_id = rows.back().id;
      }
      return std::pair{seen, sizes};
    };
    store::LedgerPage by_two;
    by_two.limit = 2;
    auto [seen, sizes] = walk(by_two);
    CHECK(seen == whole);
    CHECK(sizes == std::vector<std::size_t>{2, 2, 2, 0});

    store::LedgerPage period;  // the range holds on every page
    period.from = at("2026-11-05T09:00:00Z");
    period.to = at("2026-11-07T00:00:00Z");
    period.limit = 3;
    auto [in_period, period_sizes] = walk(period);
    CHECK(in_period == std::vector<std::int64_t>(whole.begin() + 1, whole.begin() + 5));
    CHECK(period_sizes == std::vector<std::size_t>{3, 1, 0});
  });
}

TEST_CASE(
    "the ledger keeps partial and late payments beside a case's one close row, read per "
    "case",
    "[store][contract][ledger]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto c = a_case("in_1");
    c.id = e.cases().insert(c);
    const auto other = e.cases().insert(a_case("in_2"));
    auto entry = [&](std::int64_t case_id, const char* kind, std::int64_t minor,
                     std::optional<std::string> payment, const char* when) {
      store::LedgerEntry row;
      row.case_id = case_id;
      row.kind = store::parse_ledger_kind(kind).value();
      row.customer_id = c.customer_id;
      row.invoice_id = c.invoice_id;
      row.payment_id = std::move(payment);
      row.amount = Money(minor, "EUR");
      row.opened_at = c.opened_at;
      row.occurred_at = at(when);
      row.recorded_at = row.occurred_at;
      return row;
    };
    const auto partial =
        e.ledger().append(entry(c.id, "partial", 500, "py_part", "2026-11-03T09:00:00Z"));
    {
      store::Savepoint sp(e.db());  // one row per payment and kind
      CHECK_THROWS_AS(
          e.ledger().append(entry(c.id, "partial", 500, "py_part", "2026-11-03T09:00:00Z")),
          store::StoreError);
    }
    e.ledger().append(entry(c.id, "lost", 750, std::nullopt, "2026-11-20T00:00:00Z"));
    e.ledger().append(entry(c.id, "late", 750, "py_late", "2026-11-25T09:00:00Z"));
    {
      store::Savepoint sp(e.db());  // still one close row per case
      CHECK_THROWS_AS(
          e.ledger().append(entry(c.id, "recovered", 750, "py_late", "2026-11-25T09:00:00Z")),
          store::StoreError);
    }
    // A kind outside the vocabulary cannot be built any more (store::LedgerKind); that the name
    // table and the schema's CHECK agree is store_vocabulary_test's.
    auto fix = entry(c.id, "correction", -500, "py_part", "2026-11-26T00:00:00Z");
    fix.corrects = partial;
    fix.note = "partial payment refunded";
    e.ledger().append(fix);
    e.ledger().append(entry(other, "recovered", 1250, "py_2", "2026-11-04T00:00:00Z"));

    auto rows = e.ledger().for_case(c.id);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].kind == store::LedgerKind::kPartial);
    CHECK(rows[0].id == partial);
    CHECK(rows[0].amount == Money(500, "EUR"));
    CHECK(rows[0].payment_id == "py_part");
    CHECK(rows[0].invoice_id == "in_1");
    CHECK(rows[1].kind == store::LedgerKind::kLost);
    CHECK_FALSE(rows[1].payment_id);
    CHECK(rows[2].kind == store::LedgerKind::kLate);
    CHECK(rows[2].occurred_at == at("2026-11-25T09:00:00Z"));
    CHECK(rows[3].kind == store::LedgerKind::kCorrection);
    CHECK(rows[3].corrects == partial);
    CHECK(rows[3].note == "partial payment refunded");
    CHECK(rows[0].id < rows[1].id);
    CHECK(rows[1].id < rows[2].id);
    CHECK(rows[2].id < rows[3].id);
    REQUIRE(e.ledger().for_case(other).size() == 1);
    CHECK(e.ledger().for_case(other)[0].kind == store::LedgerKind::kRecovered);
    CHECK(e.ledger().for_case(other + 100).empty());
  });
}

TEST_CASE("report queries: retention ends by the caller's list, gauges count by label",
          "[store][contract][reports]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    auto c = a_case("in_1");
    c.id = e.cases().insert(c);
    store::LedgerEntry row;
    row.case_id = c.id;
    row.kind = store::LedgerKind::kRecoveredWithoutContact;
    row.customer_id = c.customer_id;
    row.subscription_id = c.subscription_id;
    row.amount = c.amount;
    row.opened_at = c.opened_at;
    row.occurred_at = at("2026-11-05T09:00:00Z");
    row.recorded_at = row.occurred_at;
    e.ledger().append(row);
    store::SubscriptionRow s;
    s.id = *c.subscription_id;
    s.customer_id = c.customer_id;
    s.status = "ended";
    s.updated_at = at("2026-12-01T00:00:00Z");
    CHECK(e.facts().upsert_subscription(s));
    CHECK(e.outbox().enqueue(a_step(c.id, 0, "email")));
    tx.commit();

    std::vector<store::RetentionObservation> seen;
    auto keep = [&](const store::RetentionObservation& r) { seen.push_back(r); };
    e.reports().for_each_retention(at("2027-01-01T00:00:00Z"), kEndedSubscriptionStatuses, keep);
    const std::vector<std::string_view> stripe_only{"canceled"};
    e.reports().for_each_retention(at("2027-01-01T00:00:00Z"), stripe_only, keep);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].recovered_at == at("2026-11-05T09:00:00Z"));
    CHECK(seen[0].ended_at == at("2026-12-01T00:00:00Z"));
    CHECK_FALSE(seen[1].ended_at);

    auto by_state = e.reports().cases_by_state();
    REQUIRE(by_state.size() == 1);
    CHECK(by_state[0].a == "open");
    CHECK(by_state[0].n == 1);
    auto steps = e.reports().outbox_by_channel_state();
    REQUIRE(steps.size() == 1);
    CHECK(steps[0].a == "email");
    CHECK(steps[0].b == "pending");
    CHECK(e.reports().rejected_rows_by_table().empty());
  });
}

TEST_CASE("report queries: a case's money moves in order, and verify per kind and currency",
          "[store][contract][reports]") {
  on_every_engine([](store::Engine& e, const Billing& billing) {
    auto pay = [&](const char* id, const char* invoice, const char* status, std::int64_t minor,
                   const char* currency) {
      billing(std::string("INSERT INTO payments(id, customer_id, invoice_id, amount_minor, "
                          "currency, status, occurred_at) VALUES ('") +
              id + "', 'cus_1', '" + invoice + "', " + std::to_string(minor) + ", '" + currency +
              "', '" + status + "', '2026-11-03T09:00:00Z')");
    };
    pay("py_part", "in_1", "succeeded", 500, "EUR");
    pay("py_rest", "in_1", "succeeded", 750, "EUR");
    pay("py_refund", "in_1", "refunded", 750, "EUR");
    pay("py_jpy", "in_2", "succeeded", 1300, "JPY");
    pay("py_jpy_refund", "in_2", "refunded", 1300, "JPY");  // read, but not in the ledger
    {
      auto fed = e.feed().payments_after(0, 10);
      REQUIRE(fed.rows.size() == 5);
      store::Tx tx(e.db());
      e.feed().set_cursor("payments", fed.rows.back().rowid);
      tx.commit();
    }
    store::Tx tx(e.db());
    auto c = a_case("in_1");
    c.id = e.cases().insert(c);
    auto y = a_case("in_2");
    y.amount = Money(1300, "JPY");
    y.opened_at = at("2026-11-02T11:00:00Z");
    y.id = e.cases().insert(y);
    const auto quiet = e.cases().insert(a_case("in_3"));  // no money at all
    auto entry = [&](std::int64_t case_id, const char* kind, const Money& amount,
                     std::optional<std::string> payment) {
      store::LedgerEntry row;
      row.case_id = case_id;
      row.kind = store::parse_ledger_kind(kind).value();
      row.customer_id = "cus_1";
      row.invoice_id = case_id == c.id ? "in_1" : "in_2";
      row.payment_id = std::move(payment);
      row.amount = amount;
      row.opened_at = c.opened_at;
      row.occurred_at = at("2026-11-04T09:00:00Z");
      row.recorded_at = row.occurred_at;
      return row;
    };
    e.ledger().append(entry(c.id, "partial", Money(500, "EUR"), "py_part"));
    const auto closed = e.ledger().append(entry(c.id, "recovered", Money(750, "EUR"), "py_rest"));
    auto refund = entry(c.id, "correction", Money(-750, "EUR"), "py_refund");
    refund.corrects = closed;
    e.ledger().append(refund);
    e.ledger().append(entry(y.id, "recovered", Money(1300, "JPY"), "py_jpy"));
    tx.commit();

    std::vector<store::CaseOutcome> seen;
    e.reports().for_each_case_outcome(std::nullopt, std::nullopt,
                                      [&](const store::CaseOutcome& o) { seen.push_back(o); });
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].case_id == c.id);
    CHECK(seen[0].kind == store::LedgerKind::kRecovered);
    CHECK(seen[0].closed_amount == Money(0, "EUR"));  // the close row and its correction
    REQUIRE(seen[0].moves.size() == 2);
    CHECK(seen[0].moves[0].kind == store::LedgerKind::kPartial);
    CHECK(seen[0].moves[0].amount == Money(500, "EUR"));
    CHECK(seen[0].moves[1].kind == store::LedgerKind::kCorrection);
    CHECK(seen[0].moves[1].amount == Money(-750, "EUR"));
    CHECK(seen[0].moves[1].corrected == store::LedgerKind::kRecovered);
    CHECK(seen[1].case_id == quiet);  // opened 10:00, before the JPY case (11:00); id order
    CHECK_FALSE(seen[1].kind);
    CHECK(seen[1].moves.empty());
    CHECK(seen[2].case_id == y.id);
    CHECK(seen[2].closed_amount == Money(1300, "JPY"));
    CHECK(seen[2].moves.empty());

    std::vector<store::VerifyMismatch> wrong;
    auto lines = e.reports().verify_recovered(&wrong, 10);
    auto line = [&](const char* kind, const char* currency) {
      for (const auto& v : lines)
        if (v.kind == kind && v.currency == currency) return v;
      FAIL("no " << kind << " line in " << currency);
      return store::VerifyCurrency{};
    };
    CHECK(lines.size() == 5);
    CHECK(line("recovered", "EUR").ledger_minor == 750);
    CHECK(line("recovered", "EUR").payments_minor == 750);
    CHECK(line("partial", "EUR").ledger_minor == 500);
    CHECK(line("refund", "EUR").ledger_minor == 750);
    CHECK(line("refund", "EUR").payments_minor == 750);
    CHECK(line("recovered", "JPY").ledger_minor == 1300);
    CHECK(line("refund", "JPY").ledger_minor == 0);  // the refund the ledger lacks
    CHECK(line("refund", "JPY").payments_minor == 1300);
    REQUIRE(wrong.size() == 1);
    CHECK(wrong[0].payment_id == "py_jpy_refund");
    CHECK(wrong[0].problem.find("has no correction row") != std::string::npos);
  });
}

TEST_CASE("Stripe's attempts merge by key, are found by any id, and late decline codes land",
          "[store][contract][facts]") {
  on_every_engine([](store::Engine& e, const Billing&) {
    store::Tx tx(e.db());
    store::StripeAttempt a;
    a.key = "ch_1";
    a.status = store::PaymentStatus::kFailed;
    a.invoice_id = "in_1";
    a.customer_id = "cus_1";
    a.currency = "EUR";
    a.amount_minor = 1250;
    a.decline_code = "card_declined";  // generic: a specific code replaces it
    a.occurred_at = at("2026-11-02T10:00:00Z");
    e.facts().save_stripe_attempt(a);
    store::StripeAttempt more;
    more.key = "ch_1";
    more.status = store::PaymentStatus::kFailed;
    more.payment_intent_id = "pi_1";
    more.charge_id = "ch_1";
    more.invoice_id = "in_other";  // a known field keeps its value
    more.customer_id = "cus_1";
    more.currency = "EUR";
    more.decline_code = "insufficient_funds";
    more.message = "Your card has insufficient funds.";
    more.occurred_at = at("2026-11-02T10:00:01Z");
    e.facts().save_stripe_attempt(more);
    store::StripeAttempt later = a;
    later.key = "ch_2";
    later.decline_code.reset();
    later.occurred_at = at("2026-11-05T10:00:00Z");
    e.facts().save_stripe_attempt(later);

    auto by_invoice = e.facts().stripe_attempts("in_1", std::nullopt, std::nullopt);
    REQUIRE(by_invoice.size() == 2);
    CHECK(by_invoice[0].key == "ch_2");  // newest first
    const auto& one = by_invoice[1];
    CHECK(one.invoice_id == "in_1");
    CHECK(one.payment_intent_id == "pi_1");
    CHECK(one.charge_id == "ch_1");
    CHECK(one.amount_minor == 1250);
    CHECK(one.decline_code == "insufficient_funds");
    CHECK(one.message == "Your card has insufficient funds.");
    CHECK(one.occurred_at == at("2026-11-02T10:00:00Z"));
    CHECK(e.facts().stripe_attempts(std::nullopt, "pi_1", std::nullopt).size() == 1);
    CHECK(e.facts().stripe_attempts(std::nullopt, std::nullopt, "ch_1").size() == 1);
    CHECK(e.facts().stripe_attempts(std::nullopt, std::nullopt, std::nullopt).empty());
    auto like =
        e.facts().stripe_attempts_like("cus_1", "EUR", 1250, store::PaymentStatus::kFailed,
                                       at("2026-11-01T00:00:00Z"), at("2026-11-03T00:00:00Z"));
    REQUIRE(like.size() == 1);
    CHECK(like[0].key == "ch_1");
    CHECK(e.facts()
              .stripe_attempts_like("cus_1", "EUR", 1250, store::PaymentStatus::kSucceeded,
                                    at("2026-11-01T00:00:00Z"), at("2026-11-30T00:00:00Z"))
              .empty());

    // A failed payment not read yet takes the code itself; once read, its open case does.
    auto p = a_payment("py_1", store::PaymentStatus::kFailed);
    p.decline_code.reset();
    CHECK(e.facts().append_payment(p));
    CHECK(e.facts().fill_decline("py_1", "stolen_card", std::nullopt, at("2026-11-02T10:05:00Z"),
                                 "learned late") == store::DeclineFill::kPaymentRow);
    CHECK(e.feed().payments_after(0, 10).rows.at(0).payment.value().decline_code == "stolen_card");
    auto q = a_payment("py_2", store::PaymentStatus::kFailed);
    q.decline_code = "generic_decline";
    CHECK(e.facts().append_payment(q));
    e.feed().set_cursor("payments", e.feed().payments_after(0, 10).rows.back().rowid);
    auto c = a_case("in_py_2");
    c.payment_id = "py_2";
    c.decline_code = "generic_decline";
    c.id = e.cases().insert(c);
    CHECK(e.facts().fill_decline("py_2", "lost_card", std::nullopt, at("2026-11-02T10:06:00Z"),
                                 "learned late") == store::DeclineFill::kOpenCase);
    CHECK(e.cases().get(c.id)->decline_code == "lost_card");
    auto events = e.cases().events(c.id);
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().kind == "decline_code");
    CHECK(events.back().detail == "learned late");
    CHECK(e.facts().fill_decline("py_2", "lost_card", std::nullopt, at("2026-11-02T10:07:00Z"),
                                 "again") == store::DeclineFill::kNothing);
    tx.commit();
  });
}
