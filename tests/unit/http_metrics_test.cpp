#include <catch2/catch.hpp>

#include "dunning/http/metrics.hpp"

using namespace dunning;

namespace {
bool has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}
}  // namespace

TEST_CASE("metrics render in the Prometheus text format with escaped labels", "[http]") {
  http::Metrics m;
  m.describe("dunningd_http_requests_total", "counter", "HTTP requests by route and status");
  m.add("dunningd_http_requests_total", "route=\"/v1/events\",status=\"202\"");
  m.add("dunningd_http_requests_total", "route=\"/v1/events\",status=\"202\"", 2);
  m.set("dunningd_cases", "state=" + http::label_value("a\"b"), 4);
  m.tick_done(*parse_iso8601("2026-11-22T10:00:00Z"), std::chrono::milliseconds(1500), true);
  auto text = m.render();
  CHECK(has(text, "# HELP dunningd_http_requests_total HTTP requests by route and status\n"));
  CHECK(has(text, "# TYPE dunningd_http_requests_total counter\n"));
  CHECK(has(text, "dunningd_http_requests_total{route=\"/v1/events\",status=\"202\"} 3\n"));
  CHECK(has(text, "dunningd_cases{state=\"a\\\"b\"} 4\n"));
  CHECK(m.last_tick() == parse_iso8601("2026-11-22T10:00:00Z"));
  m.zero("dunningd_cases");
  CHECK(has(m.render(), "dunningd_cases{state=\"a\\\"b\"} 0\n"));
}

TEST_CASE("the poll duration is a histogram with cumulative buckets", "[http]") {
  http::Metrics m;
  m.tick_done(*parse_iso8601("2026-11-22T10:00:00Z"), std::chrono::milliseconds(1500), true);
  m.tick_done(*parse_iso8601("2026-11-22T10:00:30Z"), std::chrono::milliseconds(20), false);
  auto text = m.render();
  CHECK(has(text, "# TYPE dunningd_tick_duration_seconds histogram\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_bucket{le=\"0.01\"} 0\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_bucket{le=\"0.025\"} 1\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_bucket{le=\"1\"} 1\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_bucket{le=\"2.5\"} 2\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_sum 1.52\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_count 2\n"));
  CHECK(has(text, "# TYPE dunningd_ticks_total counter\n"));
  CHECK(has(text, "dunningd_ticks_total{result=\"ok\"} 1\n"));
  CHECK(has(text, "dunningd_ticks_total{result=\"error\"} 1\n"));
}

TEST_CASE("every family has HELP and TYPE and its known series read 0 before anything happens",
          "[http]") {
  http::Metrics m;
  http::declare_api_metrics(m);
  const auto text = m.render();
  CHECK(has(text, "dunningd_build_info{version=\"" DUNNINGD_VERSION "\"} 1\n"));
  for (const char* c : {"email", "sms", "action", "webhook"}) {
    CHECK(has(text, std::string("dunningd_messages_sent_total{channel=\"") + c + "\"} 0\n"));
    CHECK(has(text, std::string("dunningd_messages_failed_total{channel=\"") + c + "\"} 0\n"));
    CHECK(has(text, std::string("dunningd_channel_paused{channel=\"") + c + "\"} 0\n"));
  }
  CHECK(has(text, "dunningd_ticks_total{result=\"error\"} 0\n"));
  CHECK(has(text, "dunningd_cases{state=\"recovered\"} 0\n"));
  CHECK(has(text, "dunningd_cases_opened_total 0\n"));
  CHECK(has(text, "dunningd_tick_duration_seconds_count 0\n"));
  // Each sample's family was announced with HELP and TYPE first.
  std::string family;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      REQUIRE(text.compare(pos, 7 + family.size(), "# TYPE " + family) == 0);
      continue;
    }
    if (line.rfind("# ", 0) == 0) continue;
    INFO(line);
    CHECK(line.rfind(family, 0) == 0);
  }
}

TEST_CASE("outcomes are counted per channel as counters", "[http]") {
  http::Metrics m;
  OutcomeCounters& counters = m;
  counters.on_sent("email");
  counters.on_sent("email");
  counters.on_failed("sms");
  counters.on_retried("email");
  counters.on_skipped("action");
  counters.on_cases(3, 1, 2);
  const auto text = m.render();
  CHECK(has(text, "# TYPE dunningd_messages_sent_total counter\n"));
  CHECK(has(text, "dunningd_messages_sent_total{channel=\"email\"} 2\n"));
  CHECK(has(text, "dunningd_messages_failed_total{channel=\"sms\"} 1\n"));
  CHECK(has(text, "dunningd_messages_retried_total{channel=\"email\"} 1\n"));
  CHECK(has(text, "dunningd_messages_skipped_total{channel=\"action\"} 1\n"));
  CHECK(has(text, "dunningd_cases_opened_total 3\n"));
  CHECK(has(text, "dunningd_cases_recovered_total 1\n"));
  CHECK(has(text, "dunningd_cases_lost_total 2\n"));
}

TEST_CASE("route labels come from a fixed table, never from the raw path", "[http]") {
  using http::route_label;
  CHECK(route_label(std::string_view("/v1/events")) == "/v1/events");
  CHECK(route_label(std::string_view("/v1/cases?state=open")) == "/v1/cases");
  CHECK(route_label(std::string_view("/v1/cases/42")) == "/v1/cases/{id}");
  CHECK(route_label(std::string_view("/v1/cases/42/pause")) == "/v1/cases/{id}/{action}");
  CHECK(route_label(std::string_view("/v1/cases/42/whatever-a-stranger-sends")) ==
        "/v1/cases/{id}/{action}");
  CHECK(route_label(std::string_view("/v1/ledger?from=2026-11-01")) == "/v1/ledger");
  CHECK(route_label(std::string_view("/v1/webhooks/stripe")) == "/v1/webhooks/stripe");
  CHECK(route_label(std::string_view("/r/abc.def")) == "/r/{token}");
  CHECK(route_label(std::string_view("/healthz")) == "/healthz");
  CHECK(route_label(std::string_view("/metrics")) == "/metrics");
  for (const char* odd : {"/", "", "/v1", "/v1/",
                          "/v1/"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                          "/v1/events/1", "/v1/webhooks/other", "/r", "/r/a/b",
                          "/v1/cases/1/2/3/4/5/6", "/healthz/x", "/ui/"}) {
    INFO(odd);
    CHECK(route_label(std::string_view(odd)) == "other");
  }
  CHECK(route_label(std::vector<std::string>{"v1", "cases", "7"}) == "/v1/cases/{id}");
}
