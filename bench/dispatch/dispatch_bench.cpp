// Driver for bench/dispatch/run and bench/dispatch/instances: the scheduler's bounded ticks until
// nothing is left to read (queues every due step into the outbox), then dispatch rounds until
// nothing is due, each half timed on its own. Prints "queued N in X s" and "dispatched N in Y s".
// A third argument does only one half: `tick` or `dispatch` (several dispatchers side by side on
// one PostgreSQL database).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dunning/app/database.hpp"
#include "dunning/config/config.hpp"
#include "dunning/scheduler/scheduler.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "dunning/sender/http_transport.hpp"
#include "dunning/sender/smtp_transport.hpp"
#include "dunning/store/engine.hpp"
#include "dunning/templates/renderer.hpp"

int main(int argc, char** argv) {
  using namespace dunning;
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: dispatch_bench CONFIG NOW [tick|dispatch]\n");
    return 2;
  }
  const std::string only = argc == 4 ? argv[3] : "";
  const bool do_tick = only != "dispatch";
  const bool do_dispatch = only != "tick";
  spdlog::set_level(std::getenv("BENCH_DEBUG") ? spdlog::level::debug : spdlog::level::warn);
  auto loaded = config::load_config(argv[1]);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 2;
  }
  const auto& cfg = loaded.value;
  auto now = parse_iso8601(argv[2]);
  if (!now) return 2;
  FixedClock clock(*now);
  auto store = app::open_database(cfg.daemon, store::OpenMode::kExisting);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto& e = **store;
  scheduler::Scheduler sched(e.db(), e.feed(), e.cases(), e.outbox(), e.ledger(), e.contacts(), cfg,
                             clock);
  scheduler::TickStats tick;
  if (do_tick) {
    for (;;) {  // a backlog is read in bounded ticks
      auto t = sched.tick();
      tick += t;
      if (!t.more) break;
    }
  }
  auto t1 = Clock::now();
  templates::Renderer renderer(cfg.daemon.templates, cfg.daemon.default_locale, cfg.daemon.company);
  sender::SmtpTransport smtp(cfg.daemon.smtp);
  auto http = sender::make_http_transport(std::chrono::seconds(5));  // no SMS/billing in the bench
  sender::Dispatcher dispatcher(e.db(), e.outbox(), e.cases(), e.contacts(), e.feed(), e.facts(),
                                cfg, renderer, {smtp, *http, *http, *http}, clock);
  sender::DispatchStats stats;
  while (do_dispatch) {  // rounds end at their time budget
    auto s = dispatcher.dispatch_due();
    stats += s;
    if (!s.more) break;
  }
  auto t2 = Clock::now();
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("queued %d in %.3f s\n", tick.steps_queued, secs(t1 - t0));
  std::printf("dispatched %d in %.3f s (failed %d, retried %d)\n", stats.sent, secs(t2 - t1),
              stats.failed, stats.retried);
  return (do_dispatch ? stats.sent > 0 : tick.steps_queued > 0) ? 0 : 1;
}
