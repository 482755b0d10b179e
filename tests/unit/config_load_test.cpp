// Config loading: every mistake an admin can make is reported at its file:line:column.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"
#include "support/temp_dir.hpp"

namespace fs = std::filesystem;
using dunning::config::ConfigError;

namespace {

using dunning::testing::TempDir;

constexpr const char* kSmtp =
    "smtp:\n"
    "  url: smtp://127.0.0.1:2525/test.local\n"
    "  from: Billing <billing@example.com>\n";

std::string dump(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

// The single error whose message contains `needle` (fails the test if there is not exactly one).
ConfigError error_with(const std::vector<ConfigError>& errors, const std::string& needle) {
  std::vector<ConfigError> hits;
  for (const auto& e : errors)
    if (e.message.find(needle) != std::string::npos) hits.push_back(e);
  INFO("errors:\n" << dump(errors));
  INFO("looking for: " << needle);
  REQUIRE(hits.size() == 1);
  return hits.front();
}

// A sequences file with one payment_failed sequence whose steps start on line 5, column 9.
std::string one_sequence(const std::string& step_lines) {
  return "sequences:\n"
         "  - id: basic\n"
         "    trigger: payment_failed\n"
         "    steps:\n" +
         step_lines;
}

}  // namespace

TEST_CASE("a minimal daemon config loads with defaults", "[config]") {
  TempDir dir;
  auto file = dir.write("dunningd.yaml", kSmtp);
  auto loaded = dunning::config::load_daemon_config(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  CHECK(loaded.errors.empty());
  CHECK(loaded.value.smtp.url == "smtp://127.0.0.1:2525/test.local");
  CHECK(loaded.value.smtp.from == "Billing <billing@example.com>");
  CHECK(loaded.value.poll_interval == dunning::Seconds(10));
  CHECK(loaded.value.default_locale == "en");
  CHECK(loaded.value.sequences == dir.path() / "sequences.yaml");
}

TEST_CASE("an unknown top-level key is reported at the key", "[config]") {
  TempDir dir;
  auto file = dir.write("dunningd.yaml", std::string(kSmtp) + "emial: billing@example.com\n");
  auto loaded = dunning::config::load_daemon_config(file);
  CHECK_FALSE(loaded.ok());
  auto e = error_with(loaded.errors, "unknown key 'emial'");
  CHECK(e.file == file.string());
  CHECK(e.line == 4);
  CHECK(e.column == 1);
  CHECK_FALSE(e.warning);
  CHECK(e.to_string() == file.string() + ":4:1: error: " + e.message);
}

// Each mistake an admin can make in one file, and where it must be reported: the file is loaded
// on its own (sequences or daemon config) and must give exactly this one error.
struct Mistake {
  const char* what;
  bool sequences;  // sequences.yaml, else dunningd.yaml
  std::string text;
  const char* needle;  // part of the message
  int line;
  int column;
};

TEST_CASE("each mistake is reported once, at its file:line:column", "[config]") {
  const std::vector<Mistake> mistakes = {
      {"an unknown key inside a step is reported at the key", true,
       one_sequence("      - at: 0h\n"
                    "        email: update-card\n"
                    "      - at: 3d\n"
                    "        email: final-notice\n"
                    "        emial: update-card-reminder\n"),
       "unknown key 'emial'", 9, 9},
      {"a poll_interval that is not a duration is reported at the value", false,
       "poll_interval: banana\n" + std::string(kSmtp), "'poll_interval' must be a duration", 1, 16},
      {"a zero poll_interval is refused at the value", false,
       "poll_interval: 0s\n" + std::string(kSmtp), "at least 1s", 1, 16},
      {"a daemon config without an smtp section is refused", false, "poll_interval: 30s\n",
       "needs an 'smtp' section", 1, 1},
      {"an amount bound without a currency is reported at the amount", true,
       "sequences:\n"
       "  - id: big\n"
       "    trigger: payment_failed\n"
       "    match:\n"
       "      amount_at_least: \"5.00\"\n"
       "    steps:\n"
       "      - {at: 0h, email: update-card}\n",
       "'match.amount_at_least': amount \"5.00\" has no currency", 5, 24},
      {"steps out of time order are reported at the later step", true,
       one_sequence("      - {at: 3d, email: update-card}\n"
                    "      - {at: 1d, email: final-notice}\n"),
       "steps must be in time order", 6, 9},
      {"two email steps at the same time are reported as an overlap", true,
       one_sequence("      - {at: 1d, email: update-card}\n"
                    "      - {at: 1d, email: final-notice}\n"),
       "two email steps at 1d", 6, 9},
      // Regression: overlaps were once checked only against the step right before.
      {"two email steps at the same time are an overlap even with an action between them", true,
       one_sequence("      - {at: 1d, email: update-card}\n"
                    "      - {at: 1d, action: retry}\n"
                    "      - {at: 1d, email: final-notice}\n"),
       "overlaps", 7, 9},
      {"a step after a final cancel is reported as unreachable", true,
       one_sequence("      - {at: 0h, email: update-card}\n"
                    "      - {at: 14d, action: cancel}\n"
                    "      - {at: 15d, email: final-notice}\n"),
       "can never run", 7, 9},
      {"a send window that ends before it starts has no hours", true,
       "sequences:\n"
       "  - id: basic\n"
       "    trigger: payment_failed\n"
       "    send_window:\n"
       "      from: \"19:00\"\n"
       "      to: \"09:00\"\n"
       "    steps:\n"
       "      - {at: 0h, email: update-card}\n",
       "has no hours", 5, 7},
      {"a send window that ends when it starts has no hours", true,
       "sequences:\n"
       "  - id: basic\n"
       "    trigger: payment_failed\n"
       "    send_window:\n"
       "      from: \"09:00\"\n"
       "      to: \"09:00\"\n"
       "    steps:\n"
       "      - {at: 0h, email: update-card}\n",
       "has no hours", 5, 7},
      {"an unknown trigger is reported at its value", true,
       "sequences:\n"
       "  - id: basic\n"
       "    trigger: payment_faild\n"
       "    steps:\n"
       "      - {at: 0h, email: update-card}\n",
       "unknown trigger 'payment_faild'", 3, 14},
      {"a duplicate sequence id is reported at the second id", true,
       "sequences:\n"
       "  - id: dup\n"
       "    trigger: payment_failed\n"
       "    steps:\n"
       "      - {at: 0h, email: update-card}\n"
       "  - id: dup\n"
       "    trigger: payment_failed\n"
       "    steps:\n"
       "      - {at: 0h, email: update-card}\n",
       "duplicate sequence id 'dup'", 6, 9},
  };
  for (const auto& m : mistakes) {
    DYNAMIC_SECTION(m.what) {
      TempDir dir;
      auto file = dir.write(m.sequences ? "sequences.yaml" : "dunningd.yaml", m.text);
      auto errors = m.sequences ? dunning::config::load_sequences(file).errors
                                : dunning::config::load_daemon_config(file).errors;
      INFO(dump(errors));
      REQUIRE(errors.size() == 1);
      auto e = error_with(errors, m.needle);
      CHECK(e.file == file.string());
      CHECK(e.line == m.line);
      CHECK(e.column == m.column);
      CHECK_FALSE(e.warning);
    }
  }
}

TEST_CASE("decline overrides are loaded and bad classes reported", "[config]") {
  TempDir dir;
  auto file = dir.write("dunningd.yaml", std::string(kSmtp) +
                                             "declines:\n"
                                             "  do_not_honor: hard\n"
                                             "  stolen_card: maybe\n");
  auto loaded = dunning::config::load_daemon_config(file);
  CHECK_FALSE(loaded.ok());
  REQUIRE(loaded.errors.size() == 1);
  auto e = error_with(loaded.errors, "'stolen_card' must be hard or soft");
  CHECK(e.line == 6);
  CHECK(e.column == 16);
  REQUIRE(loaded.value.declines.count("do_not_honor") == 1);
  CHECK(loaded.value.declines.at("do_not_honor") == dunning::DeclineClass::kHard);
}

TEST_CASE("a message limit that is not an integer is reported at the value", "[config]") {
  TempDir dir;
  auto file = dir.write("sequences.yaml",
                        "defaults:\n"
                        "  max_messages_per_customer_per_day: lots\n"
                        "sequences:\n"
                        "  - id: basic\n"
                        "    trigger: payment_failed\n"
                        "    steps:\n"
                        "      - {at: 0h, email: update-card}\n");
  auto loaded = dunning::config::load_sequences(file);
  CHECK_FALSE(loaded.ok());
  REQUIRE(loaded.errors.size() == 1);
  auto e = error_with(loaded.errors, "'max_messages_per_customer_per_day' must be an integer");
  CHECK(e.line == 2);
  CHECK(e.column == 38);
  CHECK(loaded.value.defaults.max_messages_per_customer_per_day == 1);
}

TEST_CASE("an amount bound with a currency is loaded as money", "[config]") {
  TempDir dir;
  auto file = dir.write("sequences.yaml",
                        "sequences:\n"
                        "  - id: big\n"
                        "    trigger: payment_failed\n"
                        "    match: {amount_at_least: \"5.00 EUR\", amount_below: EUR 100}\n"
                        "    steps:\n"
                        "      - {at: 0h, email: update-card}\n");
  auto loaded = dunning::config::load_sequences(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  REQUIRE(loaded.value.sequences.size() == 1);
  const auto& m = loaded.value.sequences[0].match;
  REQUIRE(m.amount_at_least);
  CHECK(*m.amount_at_least == dunning::Money(500, "EUR"));
  REQUIRE(m.amount_below);
  CHECK(*m.amount_below == dunning::Money(10000, "EUR"));
}

TEST_CASE("an action and an email at the same time are not an overlap", "[config]") {
  TempDir dir;
  auto file =
      dir.write("sequences.yaml", one_sequence("      - {at: 1d, action: retry}\n"
                                               "      - {at: 1d, email: payment-failed}\n"));
  auto loaded = dunning::config::load_sequences(file);
  INFO(dump(loaded.errors));
  CHECK(loaded.ok());
  CHECK(loaded.errors.empty());
  REQUIRE(loaded.value.sequences.size() == 1);
  CHECK(loaded.value.sequences[0].steps.size() == 2);
}

TEST_CASE("a valid send window is kept in minutes after midnight", "[config]") {
  TempDir dir;
  auto file = dir.write("sequences.yaml",
                        "sequences:\n"
                        "  - id: basic\n"
                        "    trigger: payment_failed\n"
                        "    send_window: {from: \"09:30\", to: \"19:00\", days: [mon, fri]}\n"
                        "    steps:\n"
                        "      - {at: 0h, email: update-card}\n");
  auto loaded = dunning::config::load_sequences(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  const auto& w = loaded.value.sequences.at(0).send_window;
  REQUIRE(w);
  CHECK(w->from_minute == 9 * 60 + 30);
  CHECK(w->to_minute == 19 * 60);
  CHECK(w->days == std::array<bool, 7>{false, true, false, false, false, true, false});
}

TEST_CASE("a YAML syntax error is reported at its line", "[config]") {
  TempDir dir;
  auto file = dir.write("dunningd.yaml",
                        "poll_interval: 30s\n"
                        "log_level: info: debug\n" +
                            std::string(kSmtp));
  auto loaded = dunning::config::load_daemon_config(file);
  CHECK_FALSE(loaded.ok());
  INFO(dump(loaded.errors));
  REQUIRE(loaded.errors.size() == 1);
  CHECK(loaded.errors[0].file == file.string());
  CHECK(loaded.errors[0].line == 2);
  CHECK(loaded.errors[0].column > 0);
}

TEST_CASE("a file that cannot be read is reported without a position", "[config]") {
  TempDir dir;
  auto loaded = dunning::config::load_daemon_config(dir.path() / "missing.yaml");
  CHECK_FALSE(loaded.ok());
  REQUIRE(loaded.errors.size() == 1);
  CHECK(loaded.errors[0].line == 0);
  CHECK(loaded.errors[0].column == 0);
  CHECK_THAT(loaded.errors[0].message, Catch::Contains("cannot read"));
}

TEST_CASE("a step naming a template missing from the default locale is reported at the step",
          "[config]") {
  TempDir dir;
  auto config_file = dir.write("dunningd.yaml",
                               "sequences: seqs.yaml\n"
                               "templates: tpl\n" +
                                   std::string(kSmtp));
  auto seqs = dir.write("seqs.yaml", one_sequence("      - {at: 0h, email: nudge}\n"
                                                  "      - {at: 3d, action: cancel}\n"));
  fs::create_directories(dir.path() / "tpl" / "en");

  auto loaded = dunning::config::load_config(config_file);
  CHECK_FALSE(loaded.ok());
  REQUIRE(loaded.errors.size() == 1);
  auto e = error_with(loaded.errors, "unknown template 'nudge'");
  CHECK(e.file == seqs.string());
  CHECK(e.line == 5);
  CHECK(e.column == 9);

  SECTION("the same config loads once the template exists") {
    dir.write("tpl/en/nudge.yaml", "subject: hi\ntext: hello\n");
    auto again = dunning::config::load_config(config_file);
    INFO(dump(again.errors));
    CHECK(again.ok());
    CHECK(again.errors.empty());
    CHECK(again.value.sequences.sequences.size() == 1);
    CHECK(again.value.daemon.templates == dir.path() / "tpl");
  }
  SECTION("a templates override is checked instead of the configured folder") {
    dir.write("other/en/nudge.yaml", "subject: hi\ntext: hello\n");
    auto with_override = dunning::config::load_config(config_file, dir.path() / "other");
    INFO(dump(with_override.errors));
    CHECK(with_override.ok());
    CHECK(with_override.value.daemon.templates == dir.path() / "other");
  }
  SECTION("a template only in another locale does not count") {
    dir.write("tpl/hr/nudge.yaml", "subject: hi\ntext: hello\n");
    auto again = dunning::config::load_config(config_file);
    CHECK_FALSE(again.ok());
  }
}

TEST_CASE("the shipped config and templates load without errors", "[config]") {
  auto loaded = dunning::config::load_config(DUNNING_SOURCE_DIR "/config/dunningd.yaml",
                                             fs::path(DUNNING_SOURCE_DIR "/templates"));
  INFO(dump(loaded.errors));
  CHECK(loaded.ok());
  CHECK(loaded.errors.empty());
  const auto& seqs = loaded.value.sequences.sequences;
  REQUIRE(seqs.size() == 3);
  CHECK(seqs[0].id == "expiring-card");
  CHECK(seqs[1].id == "hard-decline");
  CHECK(seqs[2].id == "soft-decline");
  CHECK(loaded.value.daemon.poll_interval == dunning::Seconds(30));
}

TEST_CASE("a sequence's hash depends only on its definition", "[config]") {
  const std::string original = one_sequence(
      "      - {at: 0h, email: update-card}\n"
      "      - {at: 3d, email: final-notice}\n");
  const std::string changed = one_sequence(
      "      - {at: 0h, email: update-card}\n"
      "      - {at: 4d, email: final-notice}\n");
  TempDir dir;
  auto a = dunning::config::load_sequences(dir.write("a.yaml", original));
  auto b = dunning::config::load_sequences(dir.write("b.yaml", original));
  auto c = dunning::config::load_sequences(dir.write("c.yaml", changed));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  const std::string& ha = a.value.sequences.at(0).hash;
  CHECK(ha.size() == 16);
  CHECK(ha.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(ha == b.value.sequences.at(0).hash);
  CHECK(ha != c.value.sequences.at(0).hash);

  SECTION("another sequence in the file does not change it") {
    auto d = dunning::config::load_sequences(
        dir.write("d.yaml", original + "  - id: other\n"
                                       "    trigger: payment_failed\n"
                                       "    steps:\n"
                                       "      - {at: 0h, email: update-card}\n"));
    REQUIRE(d.ok());
    REQUIRE(d.value.sequences.size() == 2);
    CHECK(d.value.sequences[0].hash == ha);
    CHECK(d.value.sequences[1].hash != ha);
  }
}

TEST_CASE("a relative database path is resolved against the config file's folder", "[config]") {
  TempDir dir;
  auto file = dir.write("etc/dunningd.yaml", "database: data/dunningd.db\n" + std::string(kSmtp));
  auto loaded = dunning::config::load_daemon_config(file);
  INFO(dump(loaded.errors));
  REQUIRE(loaded.ok());
  CHECK(loaded.value.database == dir.path() / "etc" / "data" / "dunningd.db");

  SECTION("an absolute path is kept as written") {
    auto abs = dir.write("etc/abs.yaml", "database: /var/lib/dunningd/x.db\n" + std::string(kSmtp));
    auto l2 = dunning::config::load_daemon_config(abs);
    REQUIRE(l2.ok());
    CHECK(l2.value.database == fs::path("/var/lib/dunningd/x.db"));
  }
}

TEST_CASE("an unknown default_time_zone is an error at its line and column", "[config]") {
  TempDir dir;
  auto file =
      dir.write("dunningd.yaml", std::string(kSmtp) + "default_time_zone: Europe/Zagrebb\n");
  auto loaded = dunning::config::load_daemon_config(file);
  REQUIRE_FALSE(loaded.ok());
  auto e = error_with(loaded.errors, "unknown default_time_zone 'Europe/Zagrebb'");
  CHECK(e.line == 4);
  CHECK(e.column == 20);
  CHECK_FALSE(e.warning);

  auto good = dir.write("good.yaml", std::string(kSmtp) + "default_time_zone: Europe/Zagreb\n");
  INFO(dump(dunning::config::load_daemon_config(good).errors));
  CHECK(dunning::config::load_daemon_config(good).ok());
}

TEST_CASE("the EHLO name is the domain of from: when the SMTP URL has no path", "[config]") {
  TempDir dir;
  auto load = [&](const std::string& url, const std::string& from) {
    auto file = dir.write("dunningd.yaml", "smtp:\n  url: " + url + "\n  from: " + from + "\n");
    return dunning::config::load_daemon_config(file);
  };
  CHECK(load("smtp://127.0.0.1:25", "Billing <billing@example.org>").value.smtp.url ==
        "smtp://127.0.0.1:25/example.org");
  CHECK(load("smtps://relay.example.net:465/", "billing@shop.example").value.smtp.url ==
        "smtps://relay.example.net:465/shop.example");
  // A path is the operator's own choice and stays.
  CHECK(load("smtp://127.0.0.1:25/mail.example.com", "b@example.org").value.smtp.url ==
        "smtp://127.0.0.1:25/mail.example.com");
  auto nodomain = load("smtp://127.0.0.1:25", "billing");
  REQUIRE_FALSE(nodomain.ok());
  CHECK(error_with(nodomain.errors, "no EHLO name").line == 2);
}
