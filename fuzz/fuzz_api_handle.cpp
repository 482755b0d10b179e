// Api::handle, the routes behind the HTTP server, with a real SQLite store: the input is
// "<flags><method>\n<target>\n<header: value>...\n\n<body>". Flag bits add a valid bearer token
// and a valid Stripe signature so that the fuzzer reaches the doors behind them. Every request
// is answered exactly once within a deadline, with a status in 200..599, and a JSON answer
// parses; nothing throws into the caller.
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>

#include "dunning/http/api.hpp"
#include "dunning/ingest/stripe.hpp"
#include "dunning/store/engine.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace dunning;

struct Fixture {
  FixedClock clock{fuzz::now()};
  http::Metrics metrics;
  std::shared_ptr<const config::Config> cfg;
  std::unique_ptr<http::Api> api;

  Fixture() {
    fuzz::quiet();
    ::setenv("DUNNING_FUZZ_TOKEN", "fuzz-token", 1);
    ::setenv("DUNNING_FUZZ_STRIPE", "whsec_fuzz", 1);
    ::setenv("DUNNING_FUZZ_LINKS", "fuzz-link-secret", 1);
    auto c = std::make_shared<config::Config>();
    c->daemon.http.token_env = "DUNNING_FUZZ_TOKEN";
    c->daemon.http.stripe_secrets_env = "DUNNING_FUZZ_STRIPE";
    c->daemon.links.secret_env = "DUNNING_FUZZ_LINKS";
    cfg = c;
    auto db = store::open_engine(fuzz::scratch() / "api.db", store::OpenMode::kCreate);
    FUZZ_CHECK(db.ok(), "cannot open the fuzz database");
    api =
        std::make_unique<http::Api>([this] { return cfg; }, std::move(db).value(), metrics, clock);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace bhttp = boost::beast::http;
  static Fixture* f = new Fixture();  // lives for the whole run (its pool joins at exit)
  if (size < 1 || size > 70000) return 0;
  const std::uint8_t flags = data[0];
  auto text = fuzz::view(data + 1, size - 1);
  auto head_end = text.find("\n\n");
  std::string_view head = text.substr(0, head_end);
  std::string body(head_end == std::string_view::npos ? std::string_view()
                                                      : text.substr(head_end + 2));
  auto lines = fuzz::split(head, 64, '\n');

  http::Request req;
  try {  // Beast refuses some names and values a real parser would never produce: not our bug
    req.method_string(lines[0].empty() ? "GET" : lines[0]);
    req.target(lines[1].empty() ? "/" : lines[1]);
    req.version(11);
    for (std::size_t i = 2; i < lines.size(); ++i) {
      auto colon = lines[i].find(':');
      if (colon == std::string::npos || colon == 0) continue;
      req.set(lines[i].substr(0, colon), lines[i].substr(colon + 1));
    }
    if (flags & 1) req.set(bhttp::field::authorization, "Bearer fuzz-token");
    if (flags & 2)
      req.set("Stripe-Signature", ingest::stripe_signature_header(body, "whsec_fuzz", fuzz::now()));
    req.body() = body;
    req.prepare_payload();
  } catch (const std::exception&) {
    return 0;
  }

  auto answered = std::make_shared<std::promise<http::Response>>();
  auto count = std::make_shared<std::atomic<int>>(0);
  auto future = answered->get_future();
  f->api->handle(std::move(req), [answered, count](http::Response res) {
    FUZZ_CHECK(count->fetch_add(1) == 0, "a request was answered twice");
    answered->set_value(std::move(res));
  });
  FUZZ_CHECK(future.wait_for(std::chrono::seconds(20)) == std::future_status::ready,
             "a request was never answered");
  auto res = future.get();
  FUZZ_CHECK(res.result_int() >= 200 && res.result_int() <= 599, "status out of range");
  auto type = res[bhttp::field::content_type];
  if (type.starts_with("application/json")) {
    FUZZ_CHECK(!nlohmann::json::parse(res.body(), nullptr, false).is_discarded(),
               "a JSON answer that does not parse: " + res.body().substr(0, 200));
  }
  return 0;
}
