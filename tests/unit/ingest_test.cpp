#include <catch2/catch.hpp>
#include <sstream>

#include "dunning/ingest/api_event.hpp"
#include "dunning/ingest/card_numbers.hpp"
#include "dunning/ingest/csv.hpp"
#include "dunning/ingest/stripe.hpp"
#include "support/builders.hpp"

using namespace dunning;
using namespace dunning::ingest;

namespace {
using dunning::testing::at;
}  // namespace

TEST_CASE("a Luhn-valid 13-19 digit number is seen as a card number, also in groups", "[ingest]") {
  CHECK(luhn_valid("4242424242424242"));
  CHECK_FALSE(luhn_valid("4242424242424241"));
  CHECK(contains_card_number("card 4242424242424242 please"));
  CHECK(contains_card_number("4242 4242 4242 4242"));
  CHECK(contains_card_number("4242-4242-4242-4242"));
  CHECK_FALSE(contains_card_number("invoice in_1234 amount 4999"));
  CHECK_FALSE(contains_card_number("4242424242424241"));
  CHECK_FALSE(contains_card_number("2026-11-22T10:00:00Z"));
  auto doc = nlohmann::json::parse(R"({"data":{"notes":["ok","pan 5555555555554444"]}})");
  CHECK(find_card_number(doc) == std::optional<std::string>("data.notes[1]"));
}

TEST_CASE("a payment.failed event becomes one failed payment row", "[ingest]") {
  auto p = parse_api_event(
      R"({"id":"evt_1","type":"payment.failed","occurred_at":"2026-11-22T10:00:00Z",
          "data":{"id":"pay_1","customer_id":"cus_1","invoice_id":"in_1","amount_minor":1999,
                  "currency":"eur","decline_code":"insufficient_funds"}})",
      at("2026-11-22T11:00:00Z"));
  REQUIRE(p.ok());
  const auto& e = p.value();
  REQUIRE(e.facts.size() == 1);
  const auto& row = std::get<store::PaymentRow>(e.facts[0]);
  CHECK(row.status == store::PaymentStatus::kFailed);
  CHECK(row.currency == "EUR");
  CHECK(row.amount_minor == 1999);
  CHECK(row.decline_code == std::optional<std::string>("insufficient_funds"));
  CHECK(row.occurred_at == at("2026-11-22T10:00:00Z"));
}

TEST_CASE("an invalid event names the offending field", "[ingest]") {
  auto now = at("2026-11-22T11:00:00Z");
  auto field = [&](const char* body) {
    auto p = parse_api_event(body, now);
    REQUIRE(!p.ok());
    return p.error().field;
  };
  CHECK(field("{not json") == "(body)");
  CHECK(field(R"({"type":"payment.failed","data":{}})") == "id");
  CHECK(field(R"({"id":"e","type":"payment.exploded","data":{}})") == "type");
  CHECK(field(R"({"id":"e","type":"payment.failed","data":{"id":"p","customer_id":"c",
                "amount_minor":"12","currency":"EUR"}})") == "data.amount_minor");
  // Not ISO 4217 (three letters are not enough), in every door.
  CHECK(field(R"({"id":"e","type":"payment.failed","data":{"id":"p","customer_id":"c",
                "amount_minor":12,"currency":"ZZZ"}})") == "data.currency");
  CHECK(field(R"({"id":"e","type":"subscription.cancelled","data":{"id":"s","customer_id":"c",
                "currency":"abc"}})") == "data.currency");
  CHECK(field(R"({"id":"e","type":"payment_method.updated","data":{"id":"pm","customer_id":"c",
                "last4":"42"}})") == "data.last4");
  CHECK(field(R"({"id":"e","type":"customer.upserted","data":{"id":"c",
                "name":"4111 1111 1111 1111"}})") == "data.name");
}

TEST_CASE("Stripe signatures are checked against every secret and the tolerance", "[ingest]") {
  std::string body = R"({"id":"evt_1"})";
  auto t = at("2026-11-22T10:00:00Z");
  auto header = stripe_signature_header(body, "whsec_old", t);
  std::vector<std::string> secrets = {"whsec_new", "whsec_old"};
  CHECK(verify_stripe_signature(header, body, secrets, t + Seconds(10), Seconds(300)).ok());
  CHECK_FALSE(verify_stripe_signature(header, body + " ", secrets, t, Seconds(300)).ok());
  CHECK_FALSE(verify_stripe_signature(header, body, {"whsec_new"}, t, Seconds(300)).ok());
  CHECK_FALSE(verify_stripe_signature(header, body, secrets, t + Seconds(301), Seconds(300)).ok());
  CHECK_FALSE(verify_stripe_signature("v1=abc", body, secrets, t, Seconds(300)).ok());
  // Several v1 values: one matching is enough.
  auto two = "t=" + std::to_string(t.time_since_epoch().count()) + ",v1=00," +
             header.substr(header.find("v1="));
  CHECK(verify_stripe_signature(two, body, secrets, t, Seconds(300)).ok());
}

TEST_CASE("a Stripe invoice.payment_failed reads the decline code of the payment intent",
          "[ingest]") {
  auto p = map_stripe_event(
      R"({"id":"evt_1","type":"invoice.payment_failed","created":1795000000,
          "data":{"object":{"id":"in_1","customer":"cus_1","subscription":"sub_1",
          "amount_due":2500,"currency":"usd","attempt_count":1,"charge":"ch_1",
          "payment_intent":{"id":"pi_1","last_payment_error":{"code":"card_declined",
          "decline_code":"insufficient_funds"}}}}})",
      at("2026-11-22T11:00:00Z"));
  REQUIRE(p.ok());
  // Expanded objects (an API fetch, never a webhook) still give their decline code.
  const auto& row = std::get<StripeSignal>(p.value().facts.at(0));
  CHECK(row.charge_id == std::optional<std::string>("ch_1"));
  CHECK(row.payment_intent_id == std::optional<std::string>("pi_1"));
  CHECK(row.currency == "USD");
  CHECK(row.decline_code == std::optional<std::string>("insufficient_funds"));
  CHECK(row.invoice_id == std::optional<std::string>("in_1"));
}

TEST_CASE("an unknown Stripe event type maps to no facts", "[ingest]") {
  auto p = map_stripe_event(R"({"id":"evt_2","type":"payout.paid","data":{"object":{}}})",
                            at("2026-11-22T11:00:00Z"));
  REQUIRE(p.ok());
  CHECK(p.value().facts.empty());
}

TEST_CASE("the CSV reader handles quotes, doubled quotes, CRLF and reports record lines",
          "[ingest]") {
  std::istringstream in("id,name\r\n1,\"Doe, \"\"J\"\"\"\r\n\r\n2,\"two\nlines\"\n3,x");
  CsvReader r(in);
  auto h = r.next();
  REQUIRE(h);
  CHECK(*h == std::vector<std::string>{"id", "name"});
  auto a = r.next();
  REQUIRE(a);
  CHECK((*a)[1] == "Doe, \"J\"");
  CHECK(r.line() == 2);
  auto b = r.next();
  REQUIRE(b);
  CHECK((*b)[1] == "two\nlines");
  CHECK(r.line() == 4);
  auto c = r.next();
  REQUIRE(c);
  CHECK(r.line() == 6);
  CHECK_FALSE(r.next());
}

TEST_CASE(
    "a CSV payment in a currency outside ISO 4217 is rejected naming the column, lower "
    "case is normalised",
    "[ingest]") {
  std::map<std::string, std::size_t> header{{"id", 0},           {"customer_id", 1},
                                            {"amount_minor", 2}, {"currency", 3},
                                            {"status", 4},       {"occurred_at", 5}};
  auto row = [&](const char* currency) {
    return csv_fact(CsvKind::kPayments, header,
                    {"p1", "c1", "1999", currency, "failed", "2026-11-22T10:00:00Z"},
                    at("2026-11-22T11:00:00Z"));
  };
  auto bad = row("ZZZ");
  REQUIRE(!bad.ok());
  CHECK(bad.error().field == "currency");
  CHECK_THAT(bad.error().message, Catch::Contains("ISO 4217"));
  auto lower = row("kwd");
  REQUIRE(lower.ok());
  CHECK(std::get<store::PaymentRow>(lower.value()).currency == "KWD");
}
