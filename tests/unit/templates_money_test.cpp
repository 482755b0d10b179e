// Amounts in messages: ISO 4217's decimals in every currency, formatted for the locale by ICU.
#include <catch2/catch.hpp>

#include "dunning/templates/renderer.hpp"

using dunning::Money;
using dunning::templates::format_money;

TEST_CASE("amounts are shown with ISO 4217's decimals, not the locale library's", "[templates]") {
  // ICU's display rules give RSD and IQD no decimals: 199900 minor units of RSD would read
  // "RSD 199,900" and 1999.50 would round to 2,000.
  CHECK(format_money(Money(199900, "RSD"), "en") == "RSD\u00a01,999.00");
  CHECK(format_money(Money(199950, "RSD"), "en") == "RSD\u00a01,999.50");
  CHECK(format_money(Money(25000, "IQD"), "en") == "IQD\u00a025.000");
  CHECK(format_money(Money(1250, "KWD"), "en") == "KWD\u00a01.250");
  CHECK(format_money(Money(1250, "JPY"), "en") == "¥1,250");
  CHECK(format_money(Money(1999, "ISK"), "en") == "ISK\u00a01,999");
  CHECK(format_money(Money(1250, "EUR"), "hr") == "12,50\u00a0€");
}

TEST_CASE("an amount in a code ICU cannot format falls back to the exact plain form",
          "[templates]") {
  CHECK(format_money(Money(1250, "ZZZ"), "en") == "12.50 ZZZ");
}
