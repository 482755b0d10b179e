#include "dunning/app/daemon.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <mutex>

#include "dunning/http/api.hpp"
#include "dunning/http/metrics.hpp"
#include "dunning/http/server.hpp"
#include "dunning/sender/smtp_transport.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::app {

namespace asio = boost::asio;

PollResult poll_once(store::Store& store, const config::Config& cfg, const Clock& clock,
                     sender::EmailTransport& email) {
  PollResult r;
  auto started = std::chrono::steady_clock::now();
  try {
    scheduler::Scheduler sched(store, cfg, clock);
    r.tick = sched.tick();
    templates::Renderer renderer(cfg.daemon.templates, cfg.daemon.default_locale,
                                 cfg.daemon.company);
    sender::Dispatcher dispatcher(store, cfg, renderer, email, clock);
    r.dispatch = dispatcher.dispatch_due();
  } catch (const store::StoreError& e) {
    spdlog::error("poll failed, will retry: {}", e.what());
    r.ok = false;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started);
  const auto& t = r.tick;
  const auto& d = r.dispatch;
  if (t.payments_read || t.steps_queued || d.sent || d.retried || d.failed || d.skipped) {
    spdlog::info(
        "poll: {} payments read, {} cases opened, {} recovered, {} lost, {} steps queued; "
        "{} sent, {} to retry, {} failed, {} skipped ({} ms)",
        t.payments_read, t.cases_opened, t.cases_recovered, t.cases_lost, t.steps_queued, d.sent,
        d.retried, d.failed, d.skipped, ms.count());
  }
  return r;
}

int run_daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
               store::Store& store, const Clock& clock) {
  asio::io_context io;
  asio::thread_pool worker(1);  // SQLite and libcurl block: keep them off the io_context
  asio::steady_timer timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);

  std::mutex cfg_mutex;  // guards `cfg` between the signal handler and the worker
  auto snapshot = [&] {
    std::lock_guard lock(cfg_mutex);
    return cfg;
  };
  std::unique_ptr<sender::EmailTransport> email =
      std::make_unique<sender::SmtpTransport>(cfg->daemon.smtp);
  bool stopping = false;
  bool busy = false;

  // The HTTP server shares this io_context; its database work runs on the API's own thread
  // with its own connection.
  http::Metrics metrics;
  std::unique_ptr<http::Api> api;
  std::unique_ptr<http::Server> server;
  if (cfg->daemon.http.enabled) {
    auto db = store::Store::open(cfg->daemon.database, store::Store::Mode::kExisting);
    if (!db) {
      spdlog::error("http: {}", db.error().message);
      return 1;
    }
    api = std::make_unique<http::Api>(snapshot, std::move(db).value(), metrics, clock);
    server = std::make_unique<http::Server>(
        io, cfg->daemon.http, [a = api.get()](http::Request&& req, http::Respond respond) {
          a->handle(std::move(req), std::move(respond));
        });
    auto bound = server->start();
    if (!bound) {
      spdlog::error("http: {}", bound.error().message);
      return 1;
    }
    spdlog::info("http listening on {}:{}", bound->address().to_string(), bound->port());
  }

  std::function<void(std::chrono::seconds)> schedule;
  auto start_poll = [&] {
    busy = true;
    asio::post(worker, [&] {
      auto current = snapshot();
      auto started = std::chrono::steady_clock::now();
      auto result = poll_once(store, *current, clock, *email);
      metrics.tick_done(clock.now(),
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started),
                        result.ok);
      if (result.dispatch.sent > 0) metrics.smtp_success(clock.now());
      asio::post(io, [&] {
        busy = false;
        if (stopping) {
          signals.cancel();
        } else {
          schedule(snapshot()->daemon.poll_interval);
        }
      });
    });
  };
  schedule = [&](std::chrono::seconds after) {
    timer.expires_after(after);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !stopping) start_poll();
    });
  };

  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", config_file.string());
        auto loaded = config::load_config(config_file);
        if (!loaded.ok()) {
          for (const auto& e : loaded.errors) spdlog::error("{}", e.to_string());
          spdlog::error("reload refused: the running configuration stays in force");
        } else {
          std::lock_guard lock(cfg_mutex);
          cfg = std::make_shared<const config::Config>(std::move(loaded.value));
          spdlog::info("configuration reloaded ({} sequences)", cfg->sequences.sequences.size());
        }
        wait_signal();
        return;
      }
      spdlog::info("{}: finishing the current poll and stopping",
                   signo == SIGTERM ? "SIGTERM" : "SIGINT");
      stopping = true;
      timer.cancel();
      if (server) server->stop();
      if (!busy) signals.cancel();
    });
  };
  wait_signal();

  spdlog::info("dunningd {} running: database {}, mail via {}, polling every {}", DUNNINGD_VERSION,
               cfg->daemon.database.string(), email->name(),
               format_duration(cfg->daemon.poll_interval));
  schedule(std::chrono::seconds(0));
  io.run();
  worker.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace dunning::app
