#include "dunning/http/metrics.hpp"

#include <catch2/catch.hpp>

using namespace dunning;

TEST_CASE("metrics render in the Prometheus text format with escaped labels", "[http]") {
  http::Metrics m;
  m.describe("dunningd_http_requests_total", "counter", "HTTP requests by route and status");
  m.add("dunningd_http_requests_total", "route=\"/v1/events\",status=\"202\"");
  m.add("dunningd_http_requests_total", "route=\"/v1/events\",status=\"202\"", 2);
  m.set("dunningd_cases", "state=" + http::label_value("a\"b"), 4);
  m.tick_done(*parse_iso8601("2026-11-22T10:00:00Z"), std::chrono::milliseconds(1500), true);
  auto text = m.render();
  CHECK(text.find("# HELP dunningd_http_requests_total HTTP requests by route and status\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE dunningd_http_requests_total counter\n") != std::string::npos);
  CHECK(text.find("dunningd_http_requests_total{route=\"/v1/events\",status=\"202\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("dunningd_cases{state=\"a\\\"b\"} 4\n") != std::string::npos);
  CHECK(text.find("dunningd_tick_duration_seconds 1.5\n") != std::string::npos);
  CHECK(m.last_tick() == parse_iso8601("2026-11-22T10:00:00Z"));
  m.clear("dunningd_cases");
  CHECK(m.render().find("dunningd_cases{") == std::string::npos);
}
