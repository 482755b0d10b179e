// parse_integer: the one reader of integers in text (paths, queries, CSV cells, headers, config).
#include <catch2/catch.hpp>

#include "dunning/core/integers.hpp"

using dunning::parse_integer;

TEST_CASE("an integer is the whole text, digits only, in range", "[core][integers]") {
  CHECK(parse_integer("5") == 5);
  CHECK(parse_integer("0042", 1) == 42);
  CHECK(parse_integer("-17") == -17);
  CHECK(parse_integer("9223372036854775807") == INT64_MAX);
  CHECK(parse_integer("-9223372036854775808") == INT64_MIN);
  for (const char* bad : {"", " 5", "5 ", "+5", "5x", "0x10", "1e3", "1.0", "\xef\xbc\x95",
                          "9223372036854775808", "-9223372036854775809", "--5", "-"}) {
    INFO(bad);
    CHECK_FALSE(parse_integer(bad));
  }
}

TEST_CASE("a range from 0 or 1 up takes no sign at all", "[core][integers]") {
  CHECK_FALSE(parse_integer("0", 1));
  CHECK(parse_integer("0", 0) == 0);
  CHECK_FALSE(parse_integer("-0", 0));
  CHECK_FALSE(parse_integer("-1", 0));
  CHECK(parse_integer("65535", 0, 65535) == 65535);
  CHECK_FALSE(parse_integer("65536", 0, 65535));
}
