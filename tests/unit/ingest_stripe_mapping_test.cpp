// Stripe's payloads as Stripe sends them (ids, not expanded objects; both invoice shapes), its
// amounts (ISO 4217 exponents and Stripe's special cases) and the putting together of one
// attempt's events in any order, on a real SQLite database.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "dunning/ingest/event.hpp"
#include "dunning/ingest/stripe.hpp"
#include "dunning/store/engine.hpp"
#include "support/builders.hpp"

using namespace dunning;
using namespace dunning::ingest;

namespace {

using dunning::testing::a_case;
using dunning::testing::at;

struct Db {
  Db() {
    path =
        std::filesystem::temp_directory_path() /
        ("dunning-stripe-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".db");
    std::filesystem::remove(path);
    engine = std::move(store::open_engine(path, store::OpenMode::kCreate)).value();
  }
  ~Db() {
    engine.reset();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + ext);
  }
  // Maps and writes one event, as the HTTP door does.
  void send(const std::string& body) {
    auto parsed = map_stripe_event(body, at("2026-11-22T12:00:00Z"));
    if (const Error* err = parsed.ok() ? nullptr : &parsed.error())
      FAIL(err->field + " " + err->message);
    store::Tx tx(engine->db());
    apply_event(engine->facts(), parsed.value());
    tx.commit();
  }
  std::vector<store::Payment> payments() {
    auto batch = engine->feed().payments_after(0, 100);
    std::vector<store::Payment> out;
    for (auto& r : batch.rows) out.push_back(*r.payment);
    return out;
  }
  static inline int counter = 0;
  std::filesystem::path path;
  std::unique_ptr<store::Engine> engine;
};

// Event envelopes as Stripe sends them (api_version, created, data.object).
std::string event(const std::string& id, const std::string& type, long long created,
                  const std::string& object, const std::string& api = "2024-06-20",
                  const std::string& previous = "") {
  return R"({"id":")" + id + R"(","object":"event","api_version":")" + api + R"(","created":)" +
         std::to_string(created) + R"(,"livemode":false,"type":")" + type +
         R"(","data":{"object":)" + object +
         (previous.empty() ? "" : R"(,"previous_attributes":)" + previous) + "}}";
}

constexpr long long kT = 1795000000;  // 2026-11-17T...; only differences matter

// invoice.payment_failed as API versions before 2025-03-31.basil send it: ids as strings.
std::string old_invoice(const std::string& inv, const std::string& charge, const char* currency,
                        long long amount, const char* status = "open") {
  return R"({"id":")" + inv +
         R"(","object":"invoice","customer":"cus_1","subscription":"sub_1",)"
         R"("charge":")" +
         charge + R"(","payment_intent":"pi_)" + inv + R"(","currency":")" + currency +
         R"(","amount_due":)" + std::to_string(amount) +
         R"(,"amount_paid":0,"attempt_count":1,"status":")" + status +
         R"(","status_transitions":{"paid_at":null}})";
}

// invoice.payment_failed as 2025-03-31.basil and later send it: no charge, no payment_intent,
// the subscription under parent.subscription_details.
std::string basil_invoice(const std::string& inv, const char* currency, long long amount) {
  return R"({"id":")" + inv +
         R"(","object":"invoice","customer":"cus_2",)"
         R"("parent":{"type":"subscription_details","quote_details":null,)"
         R"("subscription_details":{"metadata":{},"subscription":"sub_2"}},)"
         R"("currency":")" +
         currency + R"(","amount_due":)" + std::to_string(amount) +
         R"(,"amount_paid":0,"attempt_count":1,"status":"open"})";
}

std::string intent_failed(const std::string& pi, const std::string& charge, const char* customer,
                          long long amount, const char* currency, const char* decline,
                          const std::string& invoice_field) {
  return R"({"id":")" + pi + R"(","object":"payment_intent","amount":)" + std::to_string(amount) +
         R"(,"currency":")" + currency + R"(","customer":")" + customer + R"(",)" + invoice_field +
         R"("latest_charge":")" + charge + R"(","last_payment_error":{"charge":")" + charge +
         R"(","code":"card_declined","decline_code":")" + decline +
         R"(","message":"Your card was declined.","type":"card_error"},)"
         R"("status":"requires_payment_method"})";
}

}  // namespace

TEST_CASE("Stripe amounts become ISO 4217 minor units, with Stripe's special cases",
          "[ingest][stripe]") {
  auto minor = [](std::int64_t a, const char* c) {
    auto r = stripe_amount_to_minor(a, c);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(minor(1999, "EUR") == 1999);
  CHECK(minor(500, "JPY") == 500);      // zero-decimal in both
  CHECK(minor(12340, "KWD") == 12340);  // three decimals in both
  CHECK(minor(5000, "BHD") == 5000);
  CHECK(minor(50000, "ISK") == 500);      // Stripe: two decimals for backwards compatibility
  CHECK(minor(500, "MGA") == 50000);      // Stripe: zero-decimal; ISO 4217: two
  CHECK(minor(250000, "HUF") == 250000);  // zero-decimal only for payouts
  CHECK(minor(99900, "TWD") == 99900);
  CHECK(minor(37000, "UGX") == 37000);
  CHECK(stripe_decimals("ISK") == 2);
  CHECK(stripe_decimals("JPY") == 0);
  CHECK(stripe_decimals("OMR") == 3);
  CHECK_FALSE(stripe_amount_to_minor(12345, "ISK").ok());  // 123.45 krónur: not a whole króna
  CHECK_FALSE(stripe_amount_to_minor(100, "ZZZ").ok());
}

TEST_CASE("an invoice of either API version maps its ids, subscription and currency",
          "[ingest][stripe]") {
  auto signal = [](const std::string& body) {
    auto p = map_stripe_event(body, at("2026-11-22T12:00:00Z"));
    REQUIRE(p.ok());
    const auto& e = p.value();
    REQUIRE(e.facts.size() == 1);
    return std::get<StripeSignal>(e.facts[0]);
  };
  auto old_api = signal(
      event("evt_o", "invoice.payment_failed", kT, old_invoice("in_o", "ch_o", "eur", 2900)));
  CHECK(old_api.kind == StripeSignal::Kind::kInvoiceFailed);
  CHECK(old_api.invoice_id == std::optional<std::string>("in_o"));
  CHECK(old_api.charge_id == std::optional<std::string>("ch_o"));
  CHECK(old_api.payment_intent_id == std::optional<std::string>("pi_in_o"));
  CHECK(old_api.subscription_id == std::optional<std::string>("sub_1"));
  CHECK(old_api.currency == "EUR");
  CHECK(old_api.amount_minor == 2900);
  CHECK_FALSE(old_api.decline_code);  // an invoice never carries it

  auto basil = signal(event("evt_b", "invoice.payment_failed", kT,
                            basil_invoice("in_b", "isk", 990000), "2025-03-31.basil"));
  CHECK(basil.subscription_id == std::optional<std::string>("sub_2"));
  CHECK_FALSE(basil.charge_id);
  CHECK_FALSE(basil.payment_intent_id);
  CHECK(basil.currency == "ISK");
  CHECK(basil.amount_minor == 9900);  // ISK 9,900 sent as 990000

  auto pi = signal(event("evt_p", "payment_intent.payment_failed", kT,
                         intent_failed("pi_x", "ch_x", "cus_1", 2900, "eur", "expired_card", "")));
  CHECK(pi.kind == StripeSignal::Kind::kAttemptFailed);
  CHECK(pi.decline_code == std::optional<std::string>("expired_card"));  // not card_declined
  CHECK(pi.charge_id == std::optional<std::string>("ch_x"));

  auto charge = signal(event(
      "evt_c", "charge.failed", kT,
      R"({"id":"ch_y","object":"charge","amount":100,"currency":"jpy","customer":"cus_1",)"
      R"("payment_intent":"pi_y","failure_code":"card_declined","failure_message":"Declined",)"
      R"("outcome":{"network_status":"declined_by_network","reason":"insufficient_funds",)"
      R"("type":"issuer_declined"},"status":"failed"})"));
  CHECK(charge.decline_code == std::optional<std::string>("insufficient_funds"));
  CHECK(charge.payment_intent_id == std::optional<std::string>("pi_y"));
}

TEST_CASE("a Stripe event with a currency or amount dunningd cannot hold names the field",
          "[ingest][stripe]") {
  auto field = [](const std::string& body) {
    auto p = map_stripe_event(body, at("2026-11-22T12:00:00Z"));
    REQUIRE(!p.ok());
    return p.error().field;
  };
  CHECK(field(event("e1", "invoice.payment_failed", kT, old_invoice("in", "ch", "zzz", 100))) ==
        "data.object.currency");
  CHECK(field(event("e2", "invoice.payment_failed", kT, old_invoice("in", "ch", "isk", 12345))) ==
        "data.object.amount_due");
  CHECK(field(event("e3", "invoice.paid", kT, old_invoice("in", "ch", "eu", 100))) ==
        "data.object.currency");
  // The API door refuses what is not ISO 4217 too, and still normalises lower case.
}

TEST_CASE("a payment intent failure before its invoice failure gives the row its decline code",
          "[ingest][stripe]") {
  Db db;
  db.send(event("evt_1", "payment_intent.payment_failed", kT,
                intent_failed("pi_in_a", "ch_a", "cus_1", 2900, "eur", "expired_card",
                              R"("invoice":"in_a",)")));
  CHECK(db.payments().empty());  // no invoice failure yet: nothing to open a case from
  db.send(
      event("evt_2", "invoice.payment_failed", kT + 2, old_invoice("in_a", "ch_a", "eur", 2900)));
  auto rows = db.payments();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == "ch_a");
  CHECK(rows[0].decline_code == "expired_card");
  CHECK(rows[0].invoice_id == std::optional<std::string>("in_a"));
  CHECK(rows[0].subscription_id == std::optional<std::string>("sub_1"));
}

TEST_CASE("a decline after its invoice failure fills the unread row, or the case it opened",
          "[ingest][stripe]") {
  Db db;
  db.send(event("evt_1", "invoice.payment_failed", kT, old_invoice("in_b", "ch_b", "eur", 2900)));
  db.send(event("evt_2", "charge.failed", kT + 1,
                R"({"id":"ch_b","object":"charge","amount":2900,"currency":"eur",)"
                R"("customer":"cus_1","invoice":"in_b","payment_intent":"pi_in_b",)"
                R"("failure_code":"card_declined","outcome":{"reason":"insufficient_funds"}})"));
  auto rows = db.payments();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].decline_code == "insufficient_funds");

  // Read already (the scheduler's cursor is past it) and a case is open: the case learns it.
  db.send(event("evt_3", "invoice.payment_failed", kT + 7200,
                old_invoice("in_c", "ch_c", "eur", 1000)));
  auto c_row = db.payments().back();
  {
    store::Tx tx(db.engine->db());
    db.engine->feed().set_cursor("payments", c_row.rowid);
    auto c = a_case("in_c", {.amount = Money(1000, "EUR"), .opened = c_row.occurred_at});
    c.payment_id = "ch_c";
    c.decline_code.clear();  // nothing learned yet: the intent below brings the code
    db.engine->cases().insert(c);
    tx.commit();
  }
  db.send(event("evt_4", "payment_intent.payment_failed", kT + 7201,
                intent_failed("pi_in_c", "ch_c", "cus_1", 1000, "eur", "stolen_card",
                              R"("invoice":"in_c",)")));
  CHECK(db.payments().back().decline_code.empty());  // a read fact is not changed
  auto open = db.engine->cases().open_for_invoice("in_c");
  REQUIRE(open);
  CHECK(open->decline_code == "stolen_card");
  CHECK(db.engine->cases().count_events(open->id, "decline_code") == 1);
}

TEST_CASE("on 2025-03-31.basil an invoice and its payment intent meet by customer and amount",
          "[ingest][stripe]") {
  Db db;
  // The intent names no invoice and the invoice no intent: same customer, currency and amount,
  // seconds apart.
  db.send(event("evt_1", "payment_intent.payment_failed", kT,
                intent_failed("pi_d", "ch_d", "cus_2", 12340, "kwd", "do_not_honor", ""),
                "2025-03-31.basil"));
  db.send(event("evt_2", "invoice.payment_failed", kT + 3, basil_invoice("in_d", "kwd", 12340),
                "2025-03-31.basil"));
  // Another customer's invoice of the same amount is not matched.
  db.send(event("evt_3", "invoice.payment_failed", kT + 4,
                R"({"id":"in_e","object":"invoice","customer":"cus_3","currency":"kwd",)"
                R"("amount_due":12340,"attempt_count":1})",
                "2025-03-31.basil"));
  auto rows = db.payments();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == "ch_d");
  CHECK(rows[0].decline_code == "do_not_honor");
  CHECK(rows[0].subscription_id == std::optional<std::string>("sub_2"));
  CHECK(rows[0].amount == Money(12340, "KWD"));
  CHECK(rows[1].id == "in_e:failed:1");
  CHECK(rows[1].decline_code.empty());
}

TEST_CASE("charge.refunded after invoice.paid is a refunded row of the amount it refunded",
          "[ingest][stripe]") {
  Db db;
  db.send(event("evt_1", "invoice.paid", kT,
                R"({"id":"in_f","object":"invoice","customer":"cus_1","subscription":"sub_1",)"
                R"("charge":"ch_f","payment_intent":"pi_f","currency":"jpy","amount_due":4500,)"
                R"("amount_paid":4500,"attempt_count":2,"status":"paid",)"
                R"("status_transitions":{"paid_at":1795000000}})"));
  auto refund = [&](const char* id, long long total, long long before) {
    db.send(event(id, "charge.refunded", kT + 86400,
                  R"({"id":"ch_f","object":"charge","amount":4500,"amount_refunded":)" +
                      std::to_string(total) +
                      R"(,"currency":"jpy","customer":"cus_1","payment_intent":"pi_f",)"
                      R"("refunded":false,"created":1795000000})",
                  "2024-06-20", R"({"amount_refunded":)" + std::to_string(before) + "}"));
  };
  refund("evt_2", 1500, 0);
  refund("evt_3", 4500, 1500);  // the rest, later
  auto rows = db.payments();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].status == store::PaymentStatus::kSucceeded);
  CHECK(rows[1].status == store::PaymentStatus::kRefunded);
  CHECK(rows[1].amount == Money(1500, "JPY"));
  CHECK(rows[1].invoice_id == std::optional<std::string>("in_f"));
  CHECK(rows[2].amount == Money(3000, "JPY"));

  // basil: the charge names no invoice; invoice_payment.paid said which invoice it paid.
  db.send(event("evt_4", "invoice_payment.paid", kT,
                R"({"id":"inpay_g","object":"invoice_payment","invoice":"in_g","currency":"eur",)"
                R"("amount_paid":990,"payment":{"type":"payment_intent",)"
                R"("payment_intent":"pi_g"},"status":"paid"})",
                "2025-03-31.basil"));
  db.send(event("evt_5", "charge.refunded", kT + 10,
                R"({"id":"ch_g","object":"charge","amount":990,"amount_refunded":990,)"
                R"("currency":"eur","customer":"cus_1","payment_intent":"pi_g"})",
                "2025-03-31.basil", R"({"amount_refunded":0})"));
  rows = db.payments();
  REQUIRE(rows.size() == 4);
  CHECK(rows[3].invoice_id == std::optional<std::string>("in_g"));
  CHECK(rows[3].amount == Money(990, "EUR"));
  // A refund of a charge no invoice is known for is not dunningd's money: nothing written.
  db.send(event("evt_6", "charge.refunded", kT + 20,
                R"({"id":"ch_h","object":"charge","amount":500,"amount_refunded":500,)"
                R"("currency":"eur","customer":"cus_9"})"));
  CHECK(db.payments().size() == 4);
}
