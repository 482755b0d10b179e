// Delivery settings (links, sms, webhooks, billing, smtp.connections) and secrets: validated at
// load time with file:line:column; secrets come from the environment or a systemd credential.
#include <catch2/catch.hpp>
#include <string>

#include "dunning/config/config.hpp"
#include "dunning/core/signed_link.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "support/temp_dir.hpp"

using dunning::testing::TempDir;

namespace {

constexpr const char* kSmtp =
    "smtp:\n"
    "  url: smtp://127.0.0.1:2525/test.local\n"
    "  from: Billing <billing@example.com>\n";

std::string dump(const std::vector<dunning::config::ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

}  // namespace

TEST_CASE("delivery sections load with their values and defaults", "[config][sender]") {
  TempDir dir;
  auto file =
      dir.write("dunningd.yaml", std::string(kSmtp) +
                                     "  connections: 4\n"
                                     "links: {base_url: 'https://pay.example.com/', "
                                     "ttl: 7d}\n"
                                     "sms: {url: 'https://sms.example.com/send', from: Acme}\n"
                                     "webhooks: {url: 'http://127.0.0.1:9/h', events: "
                                     "[case.opened, case.lost]}\n"
                                     "billing: {url: 'https://billing.example.com/api/'}\n");
  auto loaded = dunning::config::load_daemon_config(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  const auto& c = loaded.value;
  CHECK(c.smtp.connections == 4);
  CHECK(c.links.base_url == "https://pay.example.com");  // trailing slash dropped
  CHECK(c.links.ttl == dunning::Seconds(7 * 86400));
  CHECK(c.links.secret_env == "DUNNINGD_LINK_SECRET");
  CHECK(c.sms.url == "https://sms.example.com/send");
  CHECK(c.sms.from == "Acme");
  CHECK(c.webhooks.events == std::vector<std::string>{"case.opened", "case.lost"});
  CHECK(c.billing.url == "https://billing.example.com/api");
}

TEST_CASE("delivery mistakes are reported where they are", "[config][sender]") {
  TempDir dir;
  auto file =
      dir.write("dunningd.yaml", std::string(kSmtp) +
                                     "  connections: 0\n"
                                     "links: {base_url: 'ftp://x', secret: abc}\n"
                                     "webhooks: {url: 'http://h', events: [case.closed]}\n");
  auto loaded = dunning::config::load_daemon_config(file);
  const std::string errors = dump(loaded.errors);
  INFO(errors);
  CHECK_FALSE(loaded.ok());
  CHECK(errors.find("dunningd.yaml:4:16: error: 'smtp.connections' must be") != std::string::npos);
  CHECK(errors.find(":5:19: error: 'links.base_url' must start with http") != std::string::npos);
  CHECK(errors.find("unknown key 'secret'") != std::string::npos);  // secrets never in YAML
  CHECK(errors.find("unknown webhook event 'case.closed'") != std::string::npos);
}

TEST_CASE("the card-update link is a signed token under links.base_url when a secret is set",
          "[config][sender]") {
  dunning::config::Config cfg;
  cfg.daemon.company.update_url = "https://b.example.com/u?c={customer}&k={case}";
  const auto now = dunning::TimePoint(dunning::Seconds(1'800'000'000));
  CHECK(dunning::sender::update_url(cfg, "cus_1", 7, now, std::nullopt) ==
        "https://b.example.com/u?c=cus_1&k=7");
  // A customer id cannot add a query parameter or end the URL.
  CHECK(dunning::sender::update_url(cfg, "a&admin=1 x/é", 7, now, std::nullopt) ==
        "https://b.example.com/u?c=a%26admin%3D1%20x%2F%C3%A9&k=7");
  cfg.daemon.links.base_url = "https://pay.example.com";
  cfg.daemon.links.ttl = dunning::Seconds(3600);
  const std::string url = dunning::sender::update_url(cfg, "cus_1", 7, now, "s3cret");
  const std::string prefix = "https://pay.example.com/r/";
  REQUIRE(url.rfind(prefix, 0) == 0);
  auto claims = dunning::verify_link_token(url.substr(prefix.size()), "s3cret", now);
  REQUIRE(claims.has_value());
  CHECK(claims->customer_id == "cus_1");
  CHECK(claims->case_id == 7);
  CHECK(claims->expires == now + dunning::Seconds(3600));
  CHECK_FALSE(dunning::verify_link_token(url.substr(prefix.size()), "other", now).has_value());
}

TEST_CASE("smtp.ca_file is resolved next to the config and must hold a PEM certificate",
          "[config][sender]") {
  TempDir dir;
  dir.write("relay-ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  dir.write("not-pem.txt", "hello\n");
  auto file = dir.write("dunningd.yaml", std::string(kSmtp) + "  ca_file: relay-ca.pem\n");
  auto loaded = dunning::config::load_daemon_config(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  CHECK(loaded.value.smtp.ca_file == file.parent_path() / "relay-ca.pem");

  auto none = dunning::config::load_daemon_config(
      dir.write("none.yaml", std::string(kSmtp) + "  require_tls: true\n"));
  REQUIRE(none.ok());
  CHECK(none.value.smtp.ca_file.empty());  // the system store

  auto missing = dunning::config::load_daemon_config(
      dir.write("missing.yaml", std::string(kSmtp) + "  ca_file: nowhere/ca.pem\n"));
  std::string errors = dump(missing.errors);
  INFO(errors);
  CHECK_FALSE(missing.ok());
  CHECK(errors.find("missing.yaml:4:12: error: 'smtp.ca_file': no such file") != std::string::npos);

  auto wrong = dunning::config::load_daemon_config(
      dir.write("wrong.yaml", std::string(kSmtp) + "  ca_file: not-pem.txt\n"));
  errors = dump(wrong.errors);
  CHECK_FALSE(wrong.ok());
  CHECK(errors.find("wrong.yaml:4:12: error: 'smtp.ca_file':") != std::string::npos);
  CHECK(errors.find("holds no PEM certificate") != std::string::npos);
}

TEST_CASE("smtp.list_unsubscribe takes mailto: and https:// URIs with placeholders",
          "[config][sender]") {
  TempDir dir;
  auto file = dir.write("dunningd.yaml",
                        std::string(kSmtp) +
                            "  list_unsubscribe:\n"
                            "    - mailto:billing@example.com?subject=unsubscribe-{customer}\n"
                            "    - https://example.com/unsub?c={customer}&case={case}\n"
                            "  list_unsubscribe_post: true\n");
  auto loaded = dunning::config::load_daemon_config(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  CHECK(loaded.value.smtp.list_unsubscribe ==
        std::vector<std::string>{"mailto:billing@example.com?subject=unsubscribe-{customer}",
                                 "https://example.com/unsub?c={customer}&case={case}"});
  CHECK(loaded.value.smtp.list_unsubscribe_post);

  auto single = dunning::config::load_daemon_config(
      dir.write("single.yaml", std::string(kSmtp) + "  list_unsubscribe: mailto:u@example.com\n"));
  REQUIRE(single.ok());
  CHECK(single.value.smtp.list_unsubscribe == std::vector<std::string>{"mailto:u@example.com"});
  CHECK_FALSE(single.value.smtp.list_unsubscribe_post);
}

TEST_CASE("a List-Unsubscribe entry that is not a safe mailto: or https:// URI is an error",
          "[config][sender]") {
  TempDir dir;
  auto file = dir.write("dunningd.yaml",
                        std::string(kSmtp) +
                            "  list_unsubscribe:\n"
                            "    - http://example.com/unsub\n"                 // line 5
                            "    - <mailto:u@example.com>\n"                   // line 6
                            "    - 'https://example.com/u?c={customer}, x'\n"  // line 7
                            "    - https://example.com/u?c={email}\n"          // line 8
                            "    - mailto:?subject=unsubscribe\n"              // line 9
                            "  list_unsubscribe_post: true\n");                // line 10
  auto loaded = dunning::config::load_daemon_config(file);
  const std::string errors = dump(loaded.errors);
  INFO(errors);
  CHECK_FALSE(loaded.ok());
  CHECK(errors.find(":5:7: error: 'smtp.list_unsubscribe' entry 'http://example.com/unsub' must "
                    "be a mailto: or https:// URI") != std::string::npos);
  CHECK(errors.find(":6:7: error:") != std::string::npos);
  CHECK(errors.find(":7:7: error:") != std::string::npos);
  CHECK(errors.find("commas") != std::string::npos);
  CHECK(errors.find(":8:7: error:") != std::string::npos);
  CHECK(errors.find("unknown placeholder") != std::string::npos);
  CHECK(errors.find(":9:7: error:") != std::string::npos);
  CHECK(errors.find("needs an address after mailto:") != std::string::npos);
  // None of them was usable, so one-click has no https URI to POST to.
  CHECK(errors.find(":10:26: error: 'smtp.list_unsubscribe_post' needs an https:// URI") !=
        std::string::npos);
}
