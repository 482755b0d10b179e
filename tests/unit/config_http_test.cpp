#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "dunning/config/config.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;

namespace {
config::Loaded<config::DaemonConfig> load(const std::string& http_section) {
  // A directory of its own: CTest runs this file's test cases in parallel processes.
  dunning::testing::TempDir dir;
  return config::load_daemon_config(
      dir.write("dunningd.yaml",
                "smtp: {url: \"smtp://127.0.0.1:25/x\", from: a@example.com}\n" + http_section));
}
}  // namespace

TEST_CASE("the http section is parsed and validated with positions", "[config][http]") {
  auto none = load("");
  REQUIRE(none.ok());
  CHECK_FALSE(none.value.http.enabled);

  auto ok = load(
      "http: {listen: \"127.0.0.1:9099\", max_body: 512KiB, max_connections: 8, timeout: 5s}\n");
  REQUIRE(ok.ok());
  CHECK(ok.value.http.enabled);
  CHECK(ok.value.http.host == "127.0.0.1");
  CHECK(ok.value.http.port == 9099);
  CHECK(ok.value.http.max_body == 512 * 1024);
  CHECK(ok.value.http.max_connections == 8);
  CHECK(ok.value.http.timeout == Seconds(5));

  auto bad = load("http:\n  listen: nowhere\n  max_body: 1TB\n  bogus: 1\n");
  CHECK_FALSE(bad.ok());
  std::string all;
  for (const auto& e : bad.errors) all += e.to_string() + "\n";
  CHECK(all.find(":3:") != std::string::npos);  // listen
  CHECK(all.find("http.listen") != std::string::npos);
  CHECK(all.find("http.max_body") != std::string::npos);
  CHECK(all.find("bogus") != std::string::npos);
}

TEST_CASE("the console settings are parsed, defaulted and validated with positions",
          "[config][http][console]") {
  auto plain = load("http: {listen: \"127.0.0.1:9099\"}\n");
  REQUIRE(plain.ok());
  const auto& d = plain.value.http.console;
  CHECK(d.enabled);
  CHECK(d.admin_password_env == "DUNNINGD_CONSOLE_ADMIN_PASSWORD");
  CHECK(d.finance_password_env == "DUNNINGD_CONSOLE_FINANCE_PASSWORD");
  CHECK(d.session_ttl == Seconds(8 * 3600));
  CHECK(d.idle_timeout == Seconds(30 * 60));
  CHECK(d.secure_cookie == config::SecureCookie::kAuto);

  auto ok = load(
      "http:\n  listen: \"127.0.0.1:9099\"\n  console:\n    admin_password_env: ADM\n"
      "    finance_password_env: FIN\n    session_ttl: 2h\n    idle_timeout: 10m\n"
      "    secure_cookie: true\n    login_attempts: 3\n    login_window: 1h\n    page_size: 20\n");
  REQUIRE(ok.ok());
  const auto& c = ok.value.http.console;
  CHECK(c.admin_password_env == "ADM");
  CHECK(c.finance_password_env == "FIN");
  CHECK(c.session_ttl == Seconds(7200));
  CHECK(c.idle_timeout == Seconds(600));
  CHECK(c.secure_cookie == config::SecureCookie::kAlways);
  CHECK(c.login_attempts == 3);
  CHECK(c.login_window == Seconds(3600));
  CHECK(c.page_size == 20);

  auto bad = load(
      "http:\n  console:\n    secure_cookie: maybe\n    session_ttl: 30s\n"
      "    admin_password_env: /etc/passwd\n    page_size: 0\n    colour: blue\n");
  CHECK_FALSE(bad.ok());
  std::string all;
  for (const auto& e : bad.errors) all += e.to_string() + "\n";
  INFO(all);
  CHECK(all.find(":4:20: error: 'http.console.secure_cookie' must be auto, true or false") !=
        std::string::npos);
  CHECK(all.find(":5:") != std::string::npos);  // session_ttl below 1m
  CHECK(all.find("http.console.session_ttl") != std::string::npos);
  CHECK(all.find(":6:") != std::string::npos);  // a path, not a name
  CHECK(all.find("http.console.page_size") != std::string::npos);
  CHECK(all.find("colour") != std::string::npos);

  auto idle = load("http:\n  console: {session_ttl: 1h, idle_timeout: 2h}\n");
  CHECK_FALSE(idle.ok());
}
