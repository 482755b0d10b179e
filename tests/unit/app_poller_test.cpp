// app::Poller's `tick` flag: an instance that is not the elected poller of a shared database
// (docs/instances.md) sends what is due but opens, advances and closes no case; the poller does
// both. A real SQLite file, a fixed clock and recording channels.
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "dunning/app/poller.hpp"
#include "dunning/store/engine.hpp"
#include "support/recording_transport.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;

namespace {

TimePoint t0() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 2} + hours{8};
}

std::shared_ptr<const config::Config> one_email_sequence() {
  auto cfg = std::make_shared<config::Config>();
  cfg->daemon.templates = DUNNING_SOURCE_DIR "/templates";
  cfg->daemon.default_locale = "en";
  cfg->daemon.smtp.url = "smtp://127.0.0.1:2525/test.local";
  cfg->daemon.smtp.from = "Billing <billing@example.com>";
  cfg->daemon.outbox.retry_base = Seconds(60);
  config::Sequence s;
  s.id = "one";
  s.trigger = config::Trigger::kPaymentFailed;
  s.hash = "0123456789abcdef";
  config::Step step;
  step.at = Seconds(0);
  step.channel = config::Channel::kEmail;
  step.template_name = "update-card";
  s.steps = {step};
  cfg->sequences.sequences = {s};
  return cfg;
}

struct Billing {
  explicit Billing(const std::filesystem::path& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
  }
  ~Billing() { sqlite3_close(raw); }
  Billing(const Billing&) = delete;
  Billing& operator=(const Billing&) = delete;
  void failed_payment(const std::string& n, TimePoint at) {
    const std::string sql =
        "INSERT INTO customers(id, email, name, locale, time_zone) VALUES ('cus_" + n + "', 'c" +
        n + "@example.com', 'Customer " + n +
        "', 'en', 'UTC'); INSERT INTO payments(id, customer_id, invoice_id, amount_minor, "
        "currency, status, decline_code, occurred_at) VALUES ('py_" +
        n + "', 'cus_" + n + "', 'in_" + n + "', 1250, 'EUR', 'failed', 'expired_card', '" +
        format_iso8601(at) + "')";
    char* err = nullptr;
    const int rc = sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    REQUIRE(rc == SQLITE_OK);
  }
  sqlite3* raw = nullptr;
};

}  // namespace

TEST_CASE(
    "a poller that is not elected sends what is due and opens no case; the elected one "
    "does both",
    "[app][poller][instances]") {
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);
  testing::TempDir dir;
  const auto path = dir.path() / "dunningd.db";
  auto opened = store::open_engine(path, store::OpenMode::kCreate);
  REQUIRE(opened.ok());
  auto store = std::move(opened).value();
  Billing billing(path);
  FixedClock clock(t0());

  app::ChannelSet channels;
  auto email = std::make_unique<testing::RecordingTransport>();
  auto* sent = email.get();
  channels.email = std::move(email);
  channels.sms = std::make_unique<testing::RecordingHttp>();
  channels.billing = std::make_unique<testing::RecordingHttp>();
  channels.webhooks = std::make_unique<testing::RecordingHttp>();
  app::Poller poller(*store, one_email_sequence(), clock, std::move(channels), std::nullopt);

  billing.failed_payment("1", t0() - Seconds(60));
  auto r = poller.poll(nullptr, 8, /*tick=*/false);
  CHECK(r.ok);
  CHECK(r.tick.payments_read == 0);
  CHECK(store->cases().find({"", "", 10}).empty());  // not the poller: the feed is not read
  CHECK(sent->attempts().empty());

  // The elected poller opens the case and sends its first step; the server says "later".
  sent->fail_next(1, sender::Delivery::Outcome::kTransient, "421 try again later");
  r = poller.poll(nullptr, 8, /*tick=*/true);
  CHECK(r.ok);
  CHECK(r.tick.cases_opened == 1);
  REQUIRE(sent->attempts().size() == 1);
  CHECK(r.dispatch.retried == 1);

  // The role moved to another instance: this one still sends the retry when it is due, and
  // leaves the payment that arrived meanwhile to the poller.
  billing.failed_payment("2", t0());
  clock.advance(Seconds(3600));
  r = poller.poll(nullptr, 8, /*tick=*/false);
  CHECK(r.ok);
  CHECK(r.tick.payments_read == 0);
  CHECK(r.dispatch.sent == 1);
  CHECK(sent->delivered().size() == 1);
  CHECK(store->cases().find({"", "", 10}).size() == 1);

  r = poller.poll(nullptr, 8, /*tick=*/true);
  CHECK(r.tick.cases_opened == 1);
  CHECK(r.dispatch.sent == 1);
  CHECK(store->cases().find({"", "", 10}).size() == 2);
  CHECK(sent->delivered().size() == 2);
  spdlog::set_level(level);
}
