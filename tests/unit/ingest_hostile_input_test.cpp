// Hostile input at the doors (issue 14): times, durations, card numbers, JSON depth and control
// characters. Each case here was accepted, crashed or misread before it was fixed.
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <sstream>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/ingest/api_event.hpp"
#include "dunning/ingest/card_numbers.hpp"
#include "dunning/ingest/csv.hpp"
#include "dunning/ingest/json_screen.hpp"
#include "dunning/ingest/stripe.hpp"
#include "support/builders.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;
using namespace dunning::ingest;

namespace {

using dunning::testing::at;

const TimePoint kNow =
    TimePoint(std::chrono::sys_days{std::chrono::year{2026} / std::chrono::November / 22}) +
    std::chrono::hours(10);

std::optional<Error> refusal(const std::string& body) {
  auto p = parse_api_event(body, kNow);
  if (const Error* e = p.ok() ? nullptr : &p.error()) return *e;
  return std::nullopt;
}

std::string payment_event(const std::string& occurred_at_json) {
  return R"({"id":"evt_1","type":"payment.failed","occurred_at":)" + occurred_at_json +
         R"(,"data":{"id":"pay_1","customer_id":"cus_1","amount_minor":100,"currency":"EUR"}})";
}

std::string customer_event(const std::string& field, const std::string& value_json) {
  return R"({"id":"evt_1","type":"customer.upserted","data":{"id":"cus_1",")" + field + R"(":)" +
         value_json + "}}";
}

}  // namespace

// ---- item 1 and 3: times -------------------------------------------------------------------

TEST_CASE("timestamps whose shape is wrong are refused before any date arithmetic",
          "[ingest][clock][hostile]") {
  for (const char* bad : {"2026-11-22T10:00:$00Z",
                          "2026-11-21T10:00:00-",
                          "2026-11-21T10:00:00+",
                          "2026-11-22T10:00:00+25:00",
                          "2026-11-22T10:00:00+99:99",
                          "2026-11-22T10:00:00+18:01",
                          "2026-11-22T10:00:00+05:60",
                          "0000-01-01T00:00:00Z",
                          "0000-01-01",
                          "10000-01-03T23:59:59Z",
                          "2026-11-22T10:00:00.Z",
                          "2026-11-22T10:00:00.1234567890Z",
                          "2026-11-22T10:00:60Z",
                          "2026-11-22T24:00:00Z",
                          "2026-11-22T10:00:00ZZ",
                          "2026-11-22T10:00:00+0",
                          "2026-11-22T10:00:00+01:0",
                          "+2026-11-22",
                          "2026-1-22",
                          "2026-11-22T1:00:00Z",
                          "2026-11-22t10:00:00z",
                          "9999-12-31T23:59:59-00:01",
                          "0001-01-01T00:00:00+00:01",
                          "",
                          "2026-11-22T10:00:00 Z",
                          " 2026-11-22"}) {
    INFO(bad);
    CHECK_FALSE(parse_iso8601(bad));
  }
}

TEST_CASE("offsets up to 18:00 and the ends of the four-digit years parse",
          "[ingest][clock][hostile]") {
  CHECK(parse_iso8601("2026-11-22T10:00:00+18:00") == at("2026-11-21T16:00:00Z"));
  CHECK(parse_iso8601("2026-11-22T10:00:00-18:00") == at("2026-11-23T04:00:00Z"));
  CHECK(parse_iso8601("2026-11-22T12:00:00+0200") == at("2026-11-22T10:00:00Z"));
  CHECK(parse_iso8601("2026-11-22T12:00:00+02") == at("2026-11-22T10:00:00Z"));
  CHECK(parse_iso8601("2026-11-22T10:00:00") == at("2026-11-22T10:00:00Z"));
  CHECK(parse_iso8601("9999-12-31T23:59:59Z") == kLastIsoTime);
  CHECK(parse_iso8601("0001-01-01T00:00:00Z") == kFirstIsoTime);
  CHECK(parse_iso8601("2024-02-29") == at("2024-02-29T00:00:00Z"));
  CHECK_FALSE(parse_iso8601("2025-02-29"));
}

TEST_CASE(
    "format_iso8601 is total: far instants are written as the ends of the range and parse back",
    "[ingest][clock][hostile]") {
  using std::chrono::seconds;
  for (long long s : {185542587187199LL, std::numeric_limits<long long>::max(),
                      std::numeric_limits<long long>::min(), 253402300800LL, -62135596801LL}) {
    INFO(s);
    const std::string text = format_iso8601(TimePoint(seconds(s)));
    CHECK(text.size() == 20);
    CHECK(parse_iso8601(text));
  }
  CHECK(format_iso8601(TimePoint(seconds(253402300800LL))) == "9999-12-31T23:59:59Z");
}

TEST_CASE("a poison occurred_at is refused at the events door with the field named",
          "[ingest][hostile]") {
  for (const char* v :
       {R"("9999-12-31T23:59:59Z")", R"("9000-01-01T00:00:00Z")", "253402300799",
        "18446744073709551615", "9223372036854775807", "185542587187199", "-1",
        R"("0000-01-01T00:00:00Z")", R"("2026-11-22T10:00:00+25:00")", R"("1969-12-31T23:59:59Z")",
        R"("2026-11-22T10:00:$00Z")", "1.5e9", "true"}) {
    INFO(v);
    auto e = refusal(payment_event(v));
    REQUIRE(e);
    CHECK(e->field == "occurred_at");
  }
  // Still fine: ordinary times, strings or unix seconds, up to the end of 8999.
  CHECK_FALSE(refusal(payment_event(R"("2026-11-22T10:00:00Z")")));
  CHECK_FALSE(refusal(payment_event("1796113631")));
  CHECK_FALSE(refusal(payment_event(R"("8999-12-31T23:59:59Z")")));
}

TEST_CASE("the fact times of the other event types are bounded too", "[ingest][hostile]") {
  auto e = refusal(
      R"({"id":"e","type":"payment_method.updated","data":{"id":"pm","customer_id":"c",
          "updated_at":18446744073709551615}})");
  REQUIRE(e);
  CHECK(e->field == "data.updated_at");
  e = refusal(customer_event("created_at", R"("9999-01-01")"));
  REQUIRE(e);
  CHECK(e->field == "data.created_at");
}

TEST_CASE("CSV times and the ledger's from/to go through the same strict parser",
          "[ingest][hostile]") {
  std::map<std::string, std::size_t> header{{"id", 0},           {"customer_id", 1},
                                            {"amount_minor", 2}, {"currency", 3},
                                            {"status", 4},       {"occurred_at", 5}};
  for (const char* t : {"2026-11-22T10:00:$00Z", "9999-12-31T23:59:59Z", "2026-11-21T10:00:00-"}) {
    INFO(t);
    auto f = csv_fact(CsvKind::kPayments, header, {"p", "c", "100", "EUR", "failed", t}, kNow);
    REQUIRE(!f.ok());
    CHECK(f.error().field == "occurred_at");
  }
}

// ---- item 4: durations and the Stripe timestamp --------------------------------------------

TEST_CASE("durations that would overflow or exceed 100 years are refused",
          "[ingest][clock][hostile]") {
  CHECK_FALSE(parse_duration("9999999999999999d"));
  CHECK_FALSE(parse_duration("9223372036854775807s"));
  CHECK_FALSE(parse_duration("9223372036854775807w"));
  CHECK_FALSE(parse_duration("99999999999999999999d"));
  CHECK_FALSE(parse_duration("36501d"));
  CHECK(parse_duration("36500d") == kMaxDuration);
  CHECK(parse_duration("3650d") == kMaxStepOffset);
}

TEST_CASE("a Stripe-Signature timestamp at the ends of long long is refused, not overflowed",
          "[ingest][stripe][hostile]") {
  const std::vector<std::string> secrets{"whsec_test"};
  for (const char* t : {"-9223372036854775808", "9223372036854775807", "-1", "253402300800"}) {
    INFO(t);
    auto st = verify_stripe_signature(std::string("t=") + t + ",v1=00", "{}", secrets, kNow,
                                      Seconds(300));
    REQUIRE_FALSE(st);
    CHECK(st.error().message.find("timestamp") != std::string::npos);
  }
}

// ---- item 2: depth -------------------------------------------------------------------------

TEST_CASE("a deeply nested body is refused before it is parsed, in linear time",
          "[ingest][hostile]") {
  for (const char* open : {"[", "{\"a\":"}) {
    std::string body = "{\"id\":\"e\",\"x\":";
    for (int i = 0; i < 20000; ++i) body += open;
    INFO(open);
    auto e = refusal(body);
    REQUIRE(e);
    CHECK(e->field == "(body)");
    CHECK(e->message.find("deeper than 64") != std::string::npos);
    auto s = map_stripe_event(body, kNow);
    REQUIRE(!s.ok());
    CHECK(s.error().message.find("deeper than 64") != std::string::npos);
  }
  std::string ok = "{\"id\":\"e\",\"x\":";
  for (int i = 0; i < 60; ++i) ok += "[";
  for (int i = 0; i < 60; ++i) ok += "]";
  ok += "}";
  CHECK_FALSE(screen_json(ok));
}

TEST_CASE("find_card_number walks any depth without recursion", "[ingest][hostile]") {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "[";
  text += "\"4242424242424242\"";
  for (int i = 0; i < 100000; ++i) text += "]";
  auto doc = nlohmann::json::parse(text);
  auto hit = find_card_number(doc);
  REQUIRE(hit);
  CHECK(hit->size() == 300000);  // "[0]" per level, built once for the hit
}

// ---- item 10: card numbers -----------------------------------------------------------------

TEST_CASE("the networks' public test card numbers are all recognised", "[ingest][cards]") {
  const std::vector<std::pair<const char*, const char*>> pans{
      {"4242424242424242", "visa"},       {"4111111111111111", "visa"},
      {"4000056655665556", "visa"},       {"4222222222222", "visa"},
      {"5555555555554444", "mastercard"}, {"2223003122003222", "mastercard"},
      {"5200828282828210", "mastercard"}, {"378282246310005", "amex"},
      {"371449635398431", "amex"},        {"6011111111111117", "discover"},
      {"6011000990139424", "discover"},   {"3566002020360505", "jcb"},
      {"6200000000000005", "unionpay"},   {"3056930009020004", "diners"},
      {"36227206271667", "diners"},       {"6759649826438453", "maestro"},
      {"6304000000000000", "maestro"},    {"2200000000000004", "mir"}};
  for (const auto& [pan, network] : pans) {
    INFO(pan);
    CHECK(luhn_valid(pan));
    CHECK(card_network(pan) == std::optional<std::string_view>(network));
    CHECK(contains_card_number(pan));
  }
}

TEST_CASE("card numbers are found however they are written", "[ingest][cards]") {
  for (const char* text :
       {"4242 4242 4242 4242", "4242-4242-4242-4242", "4242.4242.4242.4242", "4242/4242/4242/4242",
        "4242\t4242\t4242\t4242",
        "4242\xC2\xA0"
        "4242\xC2\xA0"
        "4242\xC2\xA0"
        "4242",
        "4242  4242  4242  4242", "4242 - 4242 - 4242 - 4242", "3782 822463 10005",
        "\xEF\xBC\x94\xEF\xBC\x92\xEF\xBC\x94\xEF\xBC\x92\xEF\xBC\x94\xEF\xBC\x92\xEF\xBC\x94"
        "\xEF\xBC\x92\xEF\xBC\x94\xEF\xBC\x92\xEF\xBC\x94\xEF\xBC\x92\xEF\xBC\x94\xEF\xBC\x92"
        "\xEF\xBC\x94\xEF\xBC\x92",  // full-width
        "card 4242 4242 4242 4242 12/27", "4111 1111 1111 1111 12/27 123",
        "5555555555554444 exp 12/27", "4242424242424242.0", "4.242424242424242e15",
        "pan:4242\xE2\x80\x89"
        "4242\xE2\x80\x89"
        "4242\xE2\x80\x89"
        "4242"}) {
    INFO(text);
    CHECK(contains_card_number(text));
  }
}

TEST_CASE("JSON numbers written as floats or exponents are read exactly", "[ingest][cards]") {
  for (const char* number :
       {"4242424242424242", "4242424242424242.0", "4.242424242424242e15", "4.242424242424242E+15",
        "42424242424242.42e2", "6011111111111117.00", "4242424242424242424242e-6"}) {
    INFO(number);
    auto e = screen_json(std::string("{\"data\":{\"note\":") + number + "}}");
    REQUIRE(e);
    CHECK(e->field == "data.note");
  }
  CHECK_FALSE(screen_json(R"({"amount":1999.0,"rate":4.5e-3,"big":1e300})"));
}

TEST_CASE("a number split over two adjacent values is refused", "[ingest][cards]") {
  auto e = screen_json(R"({"data":{"a":"4242 4242","b":"4242 4242"}})");
  REQUIRE(e);
  CHECK(e->field == "data.b");
  e = screen_json(R"({"parts":["4111 1111","1111 1111"]})");
  REQUIRE(e);
  CHECK(e->field == "parts[1]");
  CHECK_FALSE(screen_json(R"({"a":"1796 1136","b":"3100 8123"})"));
  CHECK(split_card_number("4242 4242", "4242 4242"));
  CHECK_FALSE(split_card_number("invoice 4242 4242", "4242 4242"));
}

TEST_CASE("harmless ids with millisecond timestamps are accepted", "[ingest][cards]") {
  CHECK_FALSE(contains_card_number("evt_1796113631008"));
  CHECK_FALSE(refusal(R"({"id":"evt_1796113631008","type":"payment.failed",
      "data":{"id":"pay_1796113631008","customer_id":"cus_1","amount_minor":100,"currency":"EUR"}})"));
  // Millisecond timestamps (13 digits) start with 1, 2 or 3 until 2096: no 13-digit network
  // prefix. Micro- and nanosecond ones (16 and 19 digits) are safe until 2039, when they reach
  // Mir's 2200 and then Mastercard's 2221 prefixes.
  std::mt19937_64 rng(14);
  std::uniform_int_distribution<long long> ms(1'600'000'000'000LL, 4'000'000'000'000LL);
  std::uniform_int_distribution<long long> ms_to_2039(1'600'000'000'000LL, 2'190'000'000'000LL);
  std::uniform_int_distribution<int> sub(0, 999);
  int luhn_valid_ids = 0;
  for (int i = 0; i < 20000; ++i) {
    const long long t = ms(rng);
    const long long u = ms_to_2039(rng);
    char micro[8], nano[8];
    std::snprintf(micro, sizeof micro, "%03d", sub(rng));
    std::snprintf(nano, sizeof nano, "%03d%03d", sub(rng), sub(rng));
    for (const std::string& id :
         {std::to_string(t), std::to_string(u) + micro, std::to_string(u) + nano}) {
      if (luhn_valid(id)) ++luhn_valid_ids;
      INFO(id);
      REQUIRE_FALSE(contains_card_number("evt_" + id));
    }
  }
  CHECK(luhn_valid_ids > 4000);  // the old filter refused every one of these
}

// ---- item 11: control characters -----------------------------------------------------------

TEST_CASE("control characters are refused at the events door naming the field",
          "[ingest][hostile]") {
  for (const char* v : {R"("Ann\u0000")", R"("Ann\u000b")", R"("Ann\u000c")", R"("\u001b[31mAnn")",
                        R"("Ann\u007f")", R"("Ann\u0085")", R"("Ann\u009b")", R"("Ann\nBob")",
                        R"("Ann\rBcc: x")"}) {
    INFO(v);
    auto e = refusal(customer_event("name", v));
    REQUIRE(e);
    CHECK(e->field == "data.name");
  }
  auto e = refusal(R"({"id":"evt\u0000","type":"customer.upserted","data":{"id":"c"}})");
  REQUIRE(e);
  CHECK(e->field == "id");
  // A decline message is free text: tabs and line breaks stay.
  CHECK_FALSE(refusal(R"({"id":"e","type":"payment.failed","data":{"id":"p","customer_id":"c",
      "amount_minor":1,"currency":"EUR","message":"Declined.\n\tCall your bank."}})"));
  CHECK_FALSE(refusal(customer_event("name", R"("Zoë Ångström 名前")")));
}

TEST_CASE("a customer locale must be a language tag", "[ingest][hostile]") {
  for (const char* v :
       {R"("../evil")", R"("en\u0000")", R"("en/../../etc")", R"("e")",
        R"("english-language-tag-too-long-xxxxxxxxx")", R"("en--US")", R"("-en")"}) {
    INFO(v);
    auto e = refusal(customer_event("locale", v));
    REQUIRE(e);
    CHECK(e->field == "data.locale");
  }
  for (const char* v : {"en", "pt-BR", "pt_BR", "zh-Hant-TW", "es-419", "nb"}) {
    INFO(v);
    CHECK(valid_locale_tag(v));
  }
}

TEST_CASE("the Stripe mapping refuses control characters in the fields it keeps",
          "[ingest][stripe][hostile]") {
  auto e = map_stripe_event(
      R"({"id":"evt_1","type":"customer.updated","created":1796113631,
          "data":{"object":{"id":"cus_1","name":"Ann\u001b[2J","email":"a@example.com"}}})",
      kNow);
  REQUIRE(!e.ok());
  CHECK(e.error().field == "data.object.name");
  e = map_stripe_event(
      R"({"id":"evt_1","type":"invoice.payment_failed","created":1796113631,
          "data":{"object":{"id":"in_1","customer":"cus\n1","amount_due":100,"currency":"eur"}}})",
      kNow);
  REQUIRE(!e.ok());
  CHECK(e.error().field == "data.object.customer");  // the invoice's own field
}

TEST_CASE("a CSV row with a control character or a bad locale is rejected naming the column",
          "[ingest][hostile]") {
  std::map<std::string, std::size_t> header{{"id", 0}, {"name", 1}, {"locale", 2}};
  auto field = [&](std::vector<std::string> row) {
    auto f = csv_fact(CsvKind::kCustomers, header, row, kNow);
    return !f.ok() ? f.error().field : "";
  };
  CHECK(field({"c1", std::string("Ann\0", 4), "en"}) == "name");
  CHECK(field({"c1", "Ann\x1b[1m", "en"}) == "name");
  CHECK(field({"c1", "Ann\nBob", "en"}) == "name");
  CHECK(field({"c1", "Ann \xff", "en"}) == "name");  // not UTF-8
  CHECK(field({"c1", "Ann", "../evil"}) == "locale");
  CHECK(field({"c1", "Zoë", "pt-BR"}).empty());
}

// ---- item 4: rule timing is bounded where admins write it

TEST_CASE("a step offset that would overflow is a config error at its line and column",
          "[ingest][config][hostile]") {
  dunning::testing::TempDir dir;
  for (const char* at : {"9223372036854775807s", "9999999999999999d", "3651d", "522w"}) {
    INFO(at);
    auto file =
        dir.write("sequences.yaml", std::string("sequences:\n  - id: s\n    trigger: "
                                                "payment_failed\n    steps:\n      - {at: ") +
                                        at + ", email: payment-failed}\n");
    auto loaded = config::load_sequences(file);
    REQUIRE_FALSE(loaded.ok());
    const auto& e = loaded.errors.front();
    CHECK(e.line == 5);
    CHECK(e.column == 14);
    CHECK(e.message == "'at' is too long: at most 3650d");
  }
  auto file = dir.write("sequences.yaml",
                        "sequences:\n  - id: s\n    trigger: payment_failed\n    steps:\n"
                        "      - {at: 3650d, email: payment-failed}\n");
  CHECK(config::load_sequences(file).ok());
}
