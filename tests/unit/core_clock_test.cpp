// Time: ISO 8601 timestamps and the durations admins write in sequences.
#include <catch2/catch.hpp>
#include <chrono>

#include "dunning/core/clock.hpp"

using dunning::format_duration;
using dunning::format_iso8601;
using dunning::parse_duration;
using dunning::parse_iso8601;
using dunning::Seconds;
using dunning::TimePoint;

namespace {

// 2026-11-22T10:00:00Z
TimePoint reference() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 22} + hours{10};
}

}  // namespace

TEST_CASE("a UTC timestamp with Z parses to that instant", "[core][clock]") {
  auto t = parse_iso8601("2026-11-22T10:00:00Z");
  REQUIRE(t);
  CHECK(*t == reference());
}

TEST_CASE("a +00:00 offset is the same instant as Z", "[core][clock]") {
  auto t = parse_iso8601("2026-11-22T10:00:00+00:00");
  REQUIRE(t);
  CHECK(*t == reference());
}

TEST_CASE("a non-zero offset is converted to UTC", "[core][clock]") {
  auto t = parse_iso8601("2026-11-22T12:00:00+02:00");
  REQUIRE(t);
  CHECK(*t == reference());
}

TEST_CASE("fractional seconds are dropped", "[core][clock]") {
  auto t = parse_iso8601("2026-11-22T10:00:00.987654Z");
  REQUIRE(t);
  CHECK(*t == reference());
}

TEST_CASE("a space may separate date and time", "[core][clock]") {
  auto t = parse_iso8601("2026-11-22 10:00:00Z");
  REQUIRE(t);
  CHECK(*t == reference());
}

TEST_CASE("a bare date is midnight UTC", "[core][clock]") {
  auto t = parse_iso8601("2026-11-22");
  REQUIRE(t);
  CHECK(*t == reference() - std::chrono::hours(10));
}

TEST_CASE("garbage is not a timestamp", "[core][clock]") {
  CHECK_FALSE(parse_iso8601(""));
  CHECK_FALSE(parse_iso8601("yesterday"));
  CHECK_FALSE(parse_iso8601("2026-11-22T10:00:00Zjunk"));
  CHECK_FALSE(parse_iso8601("2026-13-45T10:00:00Z"));
  CHECK_FALSE(parse_iso8601("22/11/2026"));
  CHECK_FALSE(parse_iso8601("not-a-date"));
  CHECK_FALSE(parse_iso8601("2026-02-30"));
  CHECK_FALSE(parse_iso8601("2026-11-22T25:00:00Z"));
}

TEST_CASE("format_iso8601 writes UTC with a Z and parses back to the same instant",
          "[core][clock]") {
  CHECK(format_iso8601(reference()) == "2026-11-22T10:00:00Z");
  for (auto t : {reference(), reference() + Seconds(59), TimePoint{Seconds(0)},
                 reference() + std::chrono::days(400)}) {
    auto back = parse_iso8601(format_iso8601(t));
    REQUIRE(back);
    CHECK(*back == t);
  }
}

TEST_CASE("durations use s, m, h, d and w units", "[core][clock]") {
  CHECK(parse_duration("45s") == Seconds(45));
  CHECK(parse_duration("30m") == Seconds(30 * 60));
  CHECK(parse_duration("12h") == Seconds(12 * 3600));
  CHECK(parse_duration("3d") == Seconds(3 * 86400));
  CHECK(parse_duration("2w") == Seconds(14 * 86400));
  CHECK(parse_duration("0h") == Seconds(0));
}

TEST_CASE("durations without a unit, without a number, negative or with a bad unit are refused",
          "[core][clock]") {
  CHECK_FALSE(parse_duration("3"));
  CHECK_FALSE(parse_duration("d"));
  CHECK_FALSE(parse_duration("-1d"));
  CHECK_FALSE(parse_duration("3x"));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("1.5d"));
  CHECK_FALSE(parse_duration(" 3d"));
}

TEST_CASE("format_duration picks the largest whole unit", "[core][clock]") {
  CHECK(format_duration(Seconds(14 * 86400)) == "2w");
  CHECK(format_duration(Seconds(3 * 86400)) == "3d");
  CHECK(format_duration(Seconds(12 * 3600)) == "12h");
  CHECK(format_duration(Seconds(30 * 60)) == "30m");
  CHECK(format_duration(Seconds(45)) == "45s");
  CHECK(format_duration(Seconds(0)) == "0s");
  CHECK(format_duration(Seconds(90)) == "90s");
}

TEST_CASE("formatted durations parse back to the same length", "[core][clock]") {
  for (long long s : {0LL, 45LL, 60LL, 5400LL, 86400LL, 10LL * 86400, 21LL * 86400}) {
    auto back = parse_duration(format_duration(Seconds(s)));
    REQUIRE(back);
    CHECK(back->count() == s);
  }
}

TEST_CASE("a fixed clock moves only when told", "[core][clock]") {
  dunning::FixedClock clock(reference());
  CHECK(clock.now() == reference());
  clock.advance(Seconds(90));
  CHECK(clock.now() == reference() + Seconds(90));
  clock.set(reference());
  CHECK(clock.now() == reference());
}
