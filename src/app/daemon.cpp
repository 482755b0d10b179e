#include "dunning/app/daemon.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include "app/poller_election.hpp"
#include "app/service_notify.hpp"
#include "dunning/app/database.hpp"
#include "dunning/app/poller.hpp"
#include "dunning/core/guarded.hpp"
#include "dunning/http/api.hpp"
#include "dunning/http/metrics.hpp"
#include "dunning/http/server.hpp"
#include "dunning/rules/rules.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::app {

namespace asio = boost::asio;

namespace {

// A channel paused by a permanent refusal (bad credentials, relay denied) is tried again as soon
// as the operator has had a chance to fix it: at start and after a reload.
void resume_paused_channels(store::Database& db, store::ContactBook& contacts) {
  try {
    store::Tx tx(db);
    for (const auto& p : contacts.channel_pauses()) {
      spdlog::warn("{} channel was paused since {} ({}): trying again", p.channel,
                   format_iso8601(p.since), p.reason);
      contacts.resume_channel(p.channel);
    }
    tx.commit();
  } catch (const store::StoreError& e) {
    spdlog::error("cannot read channel pauses: {}", e.what());
  }
}

}  // namespace

int run_daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
               store::Engine& store, const Clock& clock) {
  asio::io_context io;
  asio::thread_pool worker(1);  // SQLite and libcurl block: keep them off the io_context
  asio::steady_timer timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  asio::steady_timer watchdog(io);
  asio::steady_timer drain_deadline(io);
  std::unique_ptr<PollerElection> election;  // who ticks: see below

  std::mutex cfg_mutex;  // guards `cfg` between the signal handler and the worker
  auto snapshot = [&] {
    std::lock_guard lock(cfg_mutex);
    return cfg;
  };
  const auto link_secret = link_secret_of(cfg->daemon);
  // The poller of the running configuration; a reload builds a new one (worker thread only).
  std::unique_ptr<Poller> poller;
  bool stopping = false;
  bool busy = false;
  bool finished = false;
  std::atomic<bool> stop_sending{false};  // read by the dispatcher between two messages
  // Everything pending on the io_context is cancelled: io.run() returns once the worker is idle.
  auto finish = [&] {
    finished = true;
    if (election) election->stop();
    signals.cancel();
    timer.cancel();
    watchdog.cancel();
    drain_deadline.cancel();
  };
  // Settings may have been fixed while we were stopped or before a reload: paused channels get
  // another try. Only the worker thread touches the store.
  std::atomic<bool> resume_pauses{true};

  // The HTTP server shares this io_context; its database work runs on the API's own thread
  // with its own connection.
  http::Metrics metrics;
  std::unique_ptr<http::Api> api;
  std::unique_ptr<http::Server> server;
  // Several instances may share a PostgreSQL database: only the elected poller ticks, every
  // instance dispatches (docs/instances.md). On SQLite this instance is the only one.
  auto leadership =
      store::open_leadership(cfg->daemon.database.string(), engine_options(cfg->daemon),
                             store::this_instance_id(), cfg->daemon.poll_interval);
  if (!leadership) {
    spdlog::error("{}", leadership.error().message);
    return 1;
  }
  election = std::make_unique<PollerElection>(io, std::move(leadership).value(), metrics,
                                              cfg->daemon.poll_interval);
  if (cfg->daemon.http.enabled) {
    auto db = open_database(cfg->daemon, store::OpenMode::kExisting);
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
  // Every job posted to the worker and back to the io_context runs under run_guarded (one
  // boundary, see core/guarded.hpp): a stray exception is logged, the poll counts as failed,
  // and the next one is still scheduled.
  auto start_poll = [&] {
    busy = true;
    asio::post(worker, [&] {
      auto started = std::chrono::steady_clock::now();
      PollResult result;
      result.ok = false;  // stays false when the poll throws
      result.error = "the poll stopped on an unexpected error";
      run_guarded("poll", [&] {
        auto current = snapshot();
        if (!poller || poller->config() != current) {
          poller = std::make_unique<Poller>(store, current, clock, real_channels(current->daemon),
                                            link_secret);
          poller->count_into(&metrics);
        }
        if (resume_pauses.exchange(false)) resume_paused_channels(store.db(), store.contacts());
        // Only the elected poller ticks; every instance sends (docs/instances.md).
        result = poller->poll(&stop_sending, /*max_batches=*/8, election->poller());
        if (result.dispatch.sent > 0) metrics.smtp_success(clock.now());
      });
      run_guarded("poll metrics", [&] {
        metrics.tick_done(clock.now(),
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - started),
                          result.ok, result.error);
      });
      // A backlog is read in bounded ticks and sent in bounded rounds: poll again at once.
      const bool more = result.ok && result.more();
      asio::post(io, [&, more] {
        run_guarded("poll finished", [&] {
          busy = false;
          if (stopping) {
            finish();
          } else {
            schedule(more ? std::chrono::seconds(0) : snapshot()->daemon.poll_interval);
          }
        });
      });
    });
  };
  schedule = [&](std::chrono::seconds after) {
    timer.expires_after(after);
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec && !stopping) run_guarded("poll timer", start_poll);
    });
  };

  std::function<void()> wait_signal;
  // A reload or stop that throws is logged and the signals are awaited again.
  auto on_signal = [&](const boost::system::error_code& ec, int signo) {
    {
      if (ec) return;
      if (signo == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", config_file.string());
        service::notify_reloading();
        auto loaded = config::load_config(config_file);
        if (loaded.ok()) {
          // The rules engine's own findings (e.g. a sequence above the per-card retry cap).
          auto findings = rules::check_sequences(loaded.value.sequences);
          loaded.errors.insert(loaded.errors.end(), findings.begin(), findings.end());
        }
        if (!loaded.ok()) {
          for (const auto& e : loaded.errors) spdlog::error("{}", e.to_string());
          spdlog::error("reload refused: the running configuration stays in force");
          service::notify_ready("running; the last reload was refused (see the log)");
        } else {
          spdlog::set_level(spdlog::level::from_str(loaded.value.daemon.log_level));
          for (const auto& e : loaded.errors) spdlog::warn("{}", e.to_string());
          for (const auto& s : loaded.value.sequences.sequences) {
            const auto* before = snapshot()->sequences.find(s.id);
            if (before && before->hash != s.hash) {
              spdlog::info(
                  "sequence '{}' changed: version {} -> {}; open cases continue by step "
                  "index in the new version",
                  s.id, before->hash, s.hash);
            }
          }
          std::lock_guard lock(cfg_mutex);
          cfg = std::make_shared<const config::Config>(std::move(loaded.value));
          resume_pauses = true;  // the new settings get their chance at the next poll
          spdlog::info("configuration reloaded ({} sequences)", cfg->sequences.sequences.size());
          service::notify_ready("running; configuration reloaded");
        }
        wait_signal();
        return;
      }
      spdlog::info("{}: finishing the current poll and stopping",
                   signo == SIGTERM ? "SIGTERM" : "SIGINT");
      stopping = true;
      stop_sending = true;
      service::notify_stopping();
      timer.cancel();
      if (server) server->stop();
      if (!busy) {
        finish();
        return;
      }
      // The message being sent finishes (bounded by the SMTP timeout); if it still hangs after
      // that, exit without waiting: its row stays leased and is re-sent with the same Message-ID.
      const auto bound = snapshot()->daemon.smtp.timeout + std::chrono::seconds(10);
      drain_deadline.expires_after(bound);
      drain_deadline.async_wait([bound](const boost::system::error_code& timer_ec) {
        if (timer_ec) return;
        spdlog::critical("the in-flight send did not finish within {}; exiting now",
                         format_duration(std::chrono::duration_cast<Seconds>(bound)));
        spdlog::default_logger()->flush();
        std::_Exit(1);
      });
    }
  };
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (!run_guarded("signal", [&] { on_signal(ec, signo); })) wait_signal();
    });
  };
  wait_signal();

  // Pings at half the interval systemd expects, from the io_context: a wedged event loop stops
  // the pings and systemd restarts the service (Restart=on-failure).
  std::function<void(std::chrono::microseconds)> ping = [&](std::chrono::microseconds every) {
    service::notify_watchdog();
    watchdog.expires_after(every);
    watchdog.async_wait([&, every](const boost::system::error_code& ec) {
      if (!ec && !finished) run_guarded("watchdog", [&] { ping(every); });
    });
  };
  if (auto interval = service::watchdog_interval()) ping(*interval / 2);

  spdlog::info("dunningd {} running: database {}, mail via {}, polling every {}", DUNNINGD_VERSION,
               store.db().describe(), cfg->daemon.smtp.url,
               format_duration(cfg->daemon.poll_interval));
  election->start();
  schedule(std::chrono::seconds(0));
  service::notify_ready("running: polling every " + format_duration(cfg->daemon.poll_interval));
  io.run();
  worker.join();
  if (poller && poller->unrecorded() > 0) {
    spdlog::error(
        "{} sent step(s) could not be recorded before stopping; their leases expire and "
        "they are sent again under the same Message-ID",
        poller->unrecorded());
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace dunning::app
