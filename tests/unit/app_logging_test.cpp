#include <spdlog/details/log_msg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dunning/app/logging.hpp"
#include "dunning/config/config.hpp"
#include "dunning/config/secrets.hpp"
#include "support/temp_dir.hpp"

using dunning::app::JsonLineFormatter;
using dunning::app::mask_emails;

namespace {

std::string format_json(const spdlog::details::log_msg& msg) {
  JsonLineFormatter f;
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  return std::string(buf.data(), buf.size());
}

}  // namespace

TEST_CASE("customer e-mail addresses are masked to their first letter and domain",
          "[app][logging]") {
  CHECK(mask_emails("sent to ana.horvat@example.com") == "sent to a***@example.com");
  CHECK(mask_emails("<bob+tag@mail.example.co.uk>: 550 no such user") ==
        "<b***@mail.example.co.uk>: 550 no such user");
  CHECK(mask_emails("a@b.com and c.d@e.org.") == "a***@b.com and c***@e.org.");
  CHECK(mask_emails("customer cus_1 (zoë@exämple.hr)") == "customer cus_1 (z***@exämple.hr)");
}

TEST_CASE("masking leaves text without addresses alone and is idempotent", "[app][logging]") {
  CHECK(mask_emails("") == "");
  CHECK(mask_emails("no address here") == "no address here");
  CHECK(mask_emails("@handle and x@localhost and @ alone") ==
        "@handle and x@localhost and @ alone");
  const auto once = mask_emails("ana@example.com");
  CHECK(mask_emails(once) == once);
}

TEST_CASE("a JSON log line is one object with time, level, logger and message", "[app][logging]") {
  using namespace std::chrono;
  const auto t = sys_days{2026y / 11 / 24} + 13h + 5min + 7s + 42ms;
  spdlog::details::log_msg msg(time_point_cast<system_clock::duration>(t), spdlog::source_loc{},
                               "dunningd", spdlog::level::warn,
                               "case 7: \"quoted\"\\ and\nnew line\x01 €");
  const std::string line = format_json(msg);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // exactly one line
  auto j = nlohmann::json::parse(line);
  CHECK(j["ts"] == "2026-11-24T13:05:07.042Z");
  CHECK(j["level"] == "warning");
  CHECK(j["logger"] == "dunningd");
  CHECK(j["msg"] == "case 7: \"quoted\"\\ and\nnew line\x01 €");
  CHECK(j.size() == 4);
}

TEST_CASE("log_format and log_customer_emails are read and validated", "[app][logging][config]") {
  dunning::testing::TempDir dir;
  auto write = [&](const std::string& extra) {
    return dunning::config::load_daemon_config(
        dir.write("dunningd.yaml",
                  "smtp:\n  url: smtp://127.0.0.1:25/x\n  from: billing@example.com\n" + extra));
  };
  auto defaults = write("");
  REQUIRE(defaults.ok());
  CHECK(defaults.value.log_format == "text");
  CHECK_FALSE(defaults.value.log_customer_emails);

  auto json = write("log_format: json\nlog_customer_emails: true\n");
  REQUIRE(json.ok());
  CHECK(json.value.log_format == "json");
  CHECK(json.value.log_customer_emails);

  auto bad = write("log_format: xml\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.errors.front().to_string().find("dunningd.yaml:4:13") != std::string::npos);
}

TEST_CASE("a secret comes from the environment first, then from the systemd credential",
          "[app][config][secrets]") {
  dunning::testing::TempDir dir;
  dir.write("DUNNINGD_TEST_SECRET", "from-credential\n");
  ::setenv("CREDENTIALS_DIRECTORY", dir.path().c_str(), 1);
  ::unsetenv("DUNNINGD_TEST_SECRET");
  CHECK(dunning::config::read_secret("DUNNINGD_TEST_SECRET") == "from-credential");
  ::setenv("DUNNINGD_TEST_SECRET", "from-env", 1);
  CHECK(dunning::config::read_secret("DUNNINGD_TEST_SECRET") == "from-env");
  ::unsetenv("DUNNINGD_TEST_SECRET");
  CHECK_FALSE(dunning::config::read_secret("DUNNINGD_MISSING_SECRET").has_value());
  CHECK_FALSE(dunning::config::read_secret("../etc/passwd").has_value());
  ::unsetenv("CREDENTIALS_DIRECTORY");
  CHECK_FALSE(dunning::config::read_secret("DUNNINGD_TEST_SECRET").has_value());
}

TEST_CASE("stderr counts as the journal only when JOURNAL_STREAM names it", "[app][logging]") {
  struct stat st {};
  REQUIRE(fstat(2, &st) == 0);
  const std::string mine = std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" +
                           std::to_string(static_cast<unsigned long long>(st.st_ino));
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  CHECK(dunning::app::stderr_is_journal());
  // Inherited by a child whose stderr was redirected: not the journal any more.
  ::setenv("JOURNAL_STREAM", "1:2", 1);
  CHECK_FALSE(dunning::app::stderr_is_journal());
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  CHECK_FALSE(dunning::app::stderr_is_journal());
  ::unsetenv("JOURNAL_STREAM");
  CHECK_FALSE(dunning::app::stderr_is_journal());
}
