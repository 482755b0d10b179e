// The console's sign-in machinery without sockets: forms, cookies, credentials, sessions and
// their two lifetimes, CSRF tokens, the cookie's attributes and the failed sign-in limit.
#include <catch2/catch.hpp>
#include <set>

#include "dunning/http/console_auth.hpp"

using namespace dunning;
using namespace dunning::http::console;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {
const TimePoint kT0{Seconds(1795341600)};
}

TEST_CASE("a console form body decodes plus signs and percent escapes", "[http][console][auth]") {
  auto f = parse_form("user=admin&password=s%C3%A9cret+word&next=%2Fui%2Fcases%3Fstate%3Dopen");
  REQUIRE(f);
  CHECK(f->at("user") == "admin");
  CHECK(f->at("password") ==
        "s\xC3\xA9"
        "cret word");
  CHECK(f->at("next") == "/ui/cases?state=open");
  CHECK(parse_form("")->empty());
  CHECK(parse_form("a=")->at("a").empty());
}

TEST_CASE("a console form a browser never sends is refused whole", "[http][console][auth]") {
  CHECK_FALSE(parse_form("a=%4"));           // truncated escape
  CHECK_FALSE(parse_form("a=%zz"));          // not hex
  CHECK_FALSE(parse_form("a=%00"));          // NUL byte
  CHECK_FALSE(parse_form("novalue"));        // no '='
  CHECK_FALSE(parse_form("=x"));             // empty name
  CHECK_FALSE(parse_form("csrf=1&csrf=2"));  // a repeated field is ambiguous
  std::string many;
  for (int i = 0; i < 40; ++i) many += "f" + std::to_string(i) + "=1&";
  CHECK_FALSE(parse_form(many));
  CHECK(parse_form(many, 64));
}

TEST_CASE("the console finds a cookie by its exact name, and none for a name sent twice",
          "[http][console][auth]") {
  CHECK(cookie_value("a=1; dunningd_session=abc; b=2", "dunningd_session") == "abc");
  CHECK(cookie_value("dunningd_session=\"q\"", "dunningd_session") == "q");
  CHECK_FALSE(cookie_value("xdunningd_session=abc", "dunningd_session"));
  CHECK_FALSE(cookie_value("", "dunningd_session"));
  CHECK_FALSE(cookie_value("dunningd_session=a; dunningd_session=b", "dunningd_session"));
}

TEST_CASE("each console role signs in with its own password only", "[http][console][auth]") {
  CHECK(check_credentials("admin", "pa55", "pa55", "fin") == Role::kAdmin);
  CHECK(check_credentials("finance", "fin", "pa55", "fin") == Role::kFinance);
  CHECK_FALSE(check_credentials("finance", "pa55", "pa55", "fin"));
  CHECK_FALSE(check_credentials("admin", "pa5", "pa55", "fin"));
  CHECK_FALSE(check_credentials("admin", "pa55x", "pa55", "fin"));
  CHECK_FALSE(check_credentials("root", "pa55", "pa55", "fin"));
  // A role without a configured password cannot sign in, not even with an empty one.
  CHECK_FALSE(check_credentials("finance", "", "pa55", ""));
}

TEST_CASE("a console session lives until its idle timeout or its lifetime, whichever comes first",
          "[http][console][auth]") {
  Sessions sessions(Seconds(3600), Seconds(600));
  auto s = sessions.create(Role::kAdmin, kT0);
  CHECK(s.id.size() == 64);
  CHECK(s.csrf.size() == 64);
  CHECK(s.id != s.csrf);
  SECTION("used within the idle timeout, it stays") {
    auto t = kT0;
    for (int i = 0; i < 5; ++i) {
      t += minutes(9);
      auto found = sessions.find(s.id, t);
      REQUIRE(found);
      CHECK(found->role == Role::kAdmin);
      CHECK(found->csrf == s.csrf);
    }
  }
  SECTION("idle for too long, it is gone") {
    CHECK_FALSE(sessions.find(s.id, kT0 + minutes(10)));
    CHECK(sessions.size() == 0);
  }
  SECTION("however busy, it ends at its lifetime") {
    auto t = kT0;
    while (t + minutes(5) < kT0 + Seconds(3600)) {
      t += minutes(5);
      REQUIRE(sessions.find(s.id, t));
    }
    CHECK_FALSE(sessions.find(s.id, kT0 + Seconds(3600)));
  }
  SECTION("signed out, it is gone") {
    sessions.remove(s.id);
    CHECK_FALSE(sessions.find(s.id, kT0));
  }
  SECTION("an id that is not a session's finds nothing") {
    CHECK_FALSE(sessions.find("", kT0));
    CHECK_FALSE(sessions.find(s.csrf, kT0));
    CHECK_FALSE(sessions.find(s.id.substr(1), kT0));
  }
}

TEST_CASE("every console session gets fresh random tokens, and a full table drops the least recent",
          "[http][console][auth]") {
  Sessions sessions(Seconds(3600), Seconds(600), 3);
  std::set<std::string> seen;
  auto a = sessions.create(Role::kFinance, kT0);
  auto b = sessions.create(Role::kFinance, kT0 + seconds(1));
  auto c = sessions.create(Role::kFinance, kT0 + seconds(2));
  for (const auto& s : {a, b, c}) {
    CHECK(seen.insert(s.id).second);
    CHECK(seen.insert(s.csrf).second);
  }
  REQUIRE(sessions.find(a.id, kT0 + seconds(3)));  // a is now the most recent
  auto d = sessions.create(Role::kAdmin, kT0 + seconds(4));
  CHECK(sessions.size() == 3);
  CHECK(sessions.find(a.id, kT0 + seconds(5)));
  CHECK_FALSE(sessions.find(b.id, kT0 + seconds(5)));
  CHECK(sessions.find(d.id, kT0 + seconds(5)));
}

TEST_CASE("a console CSRF token must be the session's own", "[http][console][auth]") {
  Sessions sessions(Seconds(3600), Seconds(600));
  auto s = sessions.create(Role::kAdmin, kT0);
  auto other = sessions.create(Role::kAdmin, kT0);
  CHECK(csrf_matches(s, s.csrf));
  CHECK_FALSE(csrf_matches(s, other.csrf));
  CHECK_FALSE(csrf_matches(s, ""));
  CHECK_FALSE(csrf_matches(s, s.csrf.substr(0, 63)));
  CHECK_FALSE(csrf_matches(s, s.id));
}

TEST_CASE(
    "the console session cookie is HttpOnly, SameSite=Strict, scoped to /ui, Secure on demand",
    "[http][console][auth]") {
  const auto plain = session_cookie("abc", Seconds(28800), false);
  CHECK(plain == "dunningd_session=abc; Path=/ui; Max-Age=28800; HttpOnly; SameSite=Strict");
  CHECK(session_cookie("abc", Seconds(60), true).ends_with("; Secure"));
  CHECK(clearing_cookie(false).find("Max-Age=0") != std::string::npos);
  CHECK(clearing_cookie(true).ends_with("; Secure"));
}

TEST_CASE("failed console sign-ins from one address are limited, others and successes are not",
          "[http][console][auth]") {
  LoginThrottle throttle(3, Seconds(900));
  const std::string peer = "192.0.2.7";
  for (int i = 0; i < 3; ++i) {
    CHECK(throttle.blocked_for(peer, kT0 + seconds(i)) == Seconds(0));
    throttle.failed(peer, kT0 + seconds(i));
  }
  // The oldest of the three counting failures leaves the window at kT0 + 900 s.
  CHECK(throttle.blocked_for(peer, kT0 + seconds(10)) == Seconds(890));
  CHECK(throttle.blocked_for("192.0.2.8", kT0 + seconds(10)) == Seconds(0));
  CHECK(throttle.blocked_for(peer, kT0 + seconds(900)) == Seconds(0));
  throttle.failed(peer, kT0 + seconds(901));
  CHECK(throttle.blocked_for(peer, kT0 + seconds(902)) == Seconds(0));  // fewer than 3 now

  LoginThrottle reset(2, Seconds(900));
  reset.failed(peer, kT0);
  reset.succeeded(peer);
  reset.failed(peer, kT0 + seconds(1));
  CHECK(reset.blocked_for(peer, kT0 + seconds(2)) == Seconds(0));
}

TEST_CASE(
    "past its address limit, the console sign-in throttle shares one counter instead of growing",
    "[http][console][auth]") {
  LoginThrottle throttle(2, Seconds(900), 2);
  throttle.failed("a", kT0);
  throttle.failed("b", kT0);
  throttle.failed("c", kT0);  // table full: c counts in the shared bucket
  throttle.failed("d", kT0);  // so does d
  CHECK(throttle.blocked_for("e", kT0 + seconds(1)) > Seconds(0));
  CHECK(throttle.blocked_for("a", kT0 + seconds(1)) == Seconds(0));
  // Once the old failures have left the window the table makes room again.
  CHECK(throttle.blocked_for("e", kT0 + seconds(901)) == Seconds(0));
}
