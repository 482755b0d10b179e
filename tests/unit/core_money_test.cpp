// Money: parsing admin-written amounts, printing them, and refusing to mix currencies.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "dunning/core/money.hpp"

using dunning::Money;

namespace {

Money parsed(const char* text) {
  auto r = Money::parse(text);
  INFO("parsing \"" << text << "\"");
  REQUIRE(r.ok());
  return r.value();
}

}  // namespace

TEST_CASE("an amount with the code after the number parses to minor units", "[core][money]") {
  Money m = parsed("12.50 EUR");
  CHECK(m.minor() == 1250);
  CHECK(m.currency() == "EUR");
}

TEST_CASE("a currency without decimals keeps the number as minor units", "[core][money]") {
  Money m = parsed("1250 JPY");
  CHECK(m.minor() == 1250);
  CHECK(m.currency() == "JPY");
}

TEST_CASE("the code may come before the number", "[core][money]") {
  Money m = parsed("EUR 12.50");
  CHECK(m.minor() == 1250);
  CHECK(m.currency() == "EUR");
}

TEST_CASE("a whole number of major units is scaled by the currency's exponent", "[core][money]") {
  CHECK(parsed("5 EUR").minor() == 500);
  CHECK(parsed("5.5 EUR").minor() == 550);
  CHECK(parsed("1.234 KWD").minor() == 1234);
  CHECK(parsed("-0.05 EUR").minor() == -5);
}

TEST_CASE("an amount without a currency is refused with a hint", "[core][money]") {
  auto r = Money::parse("5.00");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("no currency"));
  CHECK(r.error().code == dunning::ErrorCode::kInvalid);
  CHECK_FALSE(r.error().transient());
}

TEST_CASE("more decimals than the currency allows are refused", "[core][money]") {
  auto r = Money::parse("5.001 EUR");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("more decimals"));
  auto jpy = Money::parse("5.5 JPY");
  REQUIRE_FALSE(jpy.ok());
  CHECK_THAT(jpy.error().message, Catch::Contains("more decimals"));
}

TEST_CASE("a number with stray letters is refused", "[core][money]") {
  auto r = Money::parse("12.5x EUR");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("not a decimal number"));
  CHECK_FALSE(Money::parse("12. EUR").ok());
  CHECK_FALSE(Money::parse("EUR").ok());
}

TEST_CASE("an unknown currency code is refused by name", "[core][money]") {
  auto r = Money::parse("12 ABC");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("unknown currency \"ABC\""));
  CHECK_FALSE(Money::parse("12 eur").ok());
}

TEST_CASE("the largest 64-bit amount parses exactly and larger whole numbers are refused",
          "[core][money]") {
  // INT64_MAX is 92233720368547758.07 EUR.
  auto max = Money::parse("92233720368547758.07 EUR");
  REQUIRE(max.ok());
  CHECK(max->minor() == std::numeric_limits<std::int64_t>::max());
  CHECK_FALSE(Money::parse("92233720368547759 EUR").ok());
  CHECK_FALSE(Money::parse("99999999999999999999 JPY").ok());
}

TEST_CASE("an amount whose decimals push it past 64 bits is refused", "[core][money]") {
  // Regression: the fraction was once added without an overflow check.
  auto over = Money::parse("92233720368547758.08 EUR");
  CHECK_FALSE(over.ok());
  auto more = Money::parse("92233720368547758.99 EUR");
  CHECK_FALSE(more.ok());
}

TEST_CASE("major_string prints the currency's own number of decimals", "[core][money]") {
  CHECK(Money(1250, "EUR").major_string() == "12.50");
  CHECK(Money(5, "EUR").major_string() == "0.05");
  CHECK(Money(0, "EUR").major_string() == "0.00");
  CHECK(Money(1250, "JPY").major_string() == "1250");
  CHECK(Money(1234, "KWD").major_string() == "1.234");
  CHECK(Money(7, "KWD").major_string() == "0.007");
}

TEST_CASE("negative amounts print with a leading minus", "[core][money]") {
  CHECK(Money(-5, "EUR").major_string() == "-0.05");
  CHECK(Money(-1250, "EUR").to_string() == "-12.50 EUR");
  CHECK(Money(-1, "KWD").to_string() == "-0.001 KWD");
  CHECK(Money(-300, "JPY").to_string() == "-300 JPY");
}

TEST_CASE("to_string is major units then the code", "[core][money]") {
  CHECK(Money(1250, "EUR").to_string() == "12.50 EUR");
  CHECK(Money(1250, "JPY").to_string() == "1250 JPY");
  CHECK(Money(12345, "KWD").to_string() == "12.345 KWD");
}

TEST_CASE("to_string output parses back to the same money", "[core][money]") {
  for (const Money& m : {Money(1250, "EUR"), Money(-5, "EUR"), Money(1250, "JPY"),
                         Money(12345, "KWD"), Money(0, "USD")}) {
    auto back = Money::parse(m.to_string());
    REQUIRE(back.ok());
    CHECK(back.value() == m);
  }
}

TEST_CASE("arithmetic within one currency is exact", "[core][money]") {
  Money a(1250, "EUR");
  Money b(75, "EUR");
  CHECK((a + b) == Money(1325, "EUR"));
  CHECK((a - b) == Money(1175, "EUR"));
  CHECK(b.less_than(a));
  CHECK_FALSE(a.less_than(b));
  CHECK_FALSE(a.less_than(a));
}

TEST_CASE("arithmetic across currencies is a programmer error", "[core][money]") {
  Money eur(100, "EUR");
  Money usd(100, "USD");
  CHECK_THROWS_AS(eur + usd, std::logic_error);
  CHECK_THROWS_AS(eur - usd, std::logic_error);
  CHECK_THROWS_AS(eur.less_than(usd), std::logic_error);
}

TEST_CASE("an invalid currency code in the constructor is a programmer error", "[core][money]") {
  CHECK_THROWS_AS(Money(1, "eur"), std::logic_error);
  CHECK_THROWS_AS(Money(1, "EURO"), std::logic_error);
}

TEST_CASE("currency_exponent follows ISO 4217", "[core][money]") {
  CHECK(dunning::currency_exponent("EUR") == 2);
  CHECK(dunning::currency_exponent("USD") == 2);
  CHECK(dunning::currency_exponent("JPY") == 0);
  CHECK(dunning::currency_exponent("KWD") == 3);
  // ISO 4217's exponents, not ICU's display digits (which are 0 for RSD and IQD).
  CHECK(dunning::currency_exponent("RSD") == 2);
  CHECK(dunning::currency_exponent("IQD") == 3);
  CHECK(dunning::currency_exponent("ISK") == 0);
  CHECK(dunning::currency_exponent("CLF") == 4);
  CHECK(dunning::currency_exponent("XAU") == -1);  // no minor unit: not money we collect
  CHECK(dunning::currency_exponent("XXX") == -1);
  CHECK(dunning::currency_exponent("ZZZ") == -1);
  CHECK(dunning::currency_exponent("ABC") == -1);
  CHECK(dunning::currency_exponent("eur") == -1);
  CHECK(dunning::currency_exponent("") == -1);
}

TEST_CASE("the ISO 4217 table is sorted and every code is three upper-case letters",
          "[core][money]") {
  const auto table = dunning::iso4217_table();
  REQUIRE(table.size() > 150);
  for (std::size_t i = 0; i < table.size(); ++i) {
    INFO(table[i].first);
    CHECK(table[i].first.size() == 3);
    CHECK(dunning::currency_exponent(table[i].first) == table[i].second);
    if (i > 0) CHECK(table[i - 1].first < table[i].first);
  }
}

TEST_CASE("Money::make refuses codes that are not ISO 4217 currencies", "[core][money]") {
  CHECK(Money::make(199900, "RSD").ok());
  CHECK(Money::make(199900, "RSD")->to_string() == "1999.00 RSD");
  CHECK(Money::make(25000, "IQD")->to_string() == "25.000 IQD");
  for (const char* bad : {"ZZZ", "ABC", "eur", "EURO", "", "XAU", "XXX"}) {
    INFO(bad);
    auto m = Money::make(100, bad);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().message.find("ISO 4217") != std::string::npos);
  }
}
