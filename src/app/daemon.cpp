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
      spdlog::warn("{} channel was paused since {} ({}): trying again", to_string(p.channel),
                   format_iso8601(p.since), p.reason);
      contacts.resume_channel(p.channel);
    }
    tx.commit();
  } catch (const store::StoreError& e) {
    spdlog::error("cannot read channel pauses: {}", e.what());
  }
}

// `dunningd run`: one io_context (signals, timers, the HTTP server), one worker thread for the
// store and the channels (SQLite and libcurl block), and the poll loop between them:
//   schedule(after) -> do_poll() on the worker -> on_poll_done() on the io_context -> schedule
// A signal either reloads (SIGHUP) or begins the drain (SIGTERM/SIGINT): the poll in flight
// finishes, bounded by the SMTP timeout, then finish() cancels what is pending and run()
// returns. Every job crossing threads runs under run_guarded (core/guarded.hpp): a stray
// exception is logged, the poll counts as failed, and the next one is still scheduled.
//
// Reload semantics, in one place: the configuration is a shared snapshot swapped whole under
// cfg_mutex_ by SIGHUP; each poll takes the current snapshot and rebuilds its Poller when it
// changed; the HTTP API reads the snapshot per request. The link secret and the listening
// address are read once at start (a change needs a restart).
class Daemon {
 public:
  Daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
         store::Engine& store, const Clock& clock)
      : config_file_(config_file),
        cfg_(std::move(cfg)),
        store_(store),
        clock_(clock),
        link_secret_(link_secret_of(cfg_->daemon)) {}

  int run() {
    if (!start_election() || !start_http()) return 1;
    wait_signal();
    if (auto interval = service::watchdog_interval()) ping_watchdog(*interval / 2);
    spdlog::info("dunningd {} running: database {}, mail via {}, polling every {}",
                 DUNNINGD_VERSION, store_.db().describe(), cfg_->daemon.smtp.url,
                 format_duration(cfg_->daemon.poll_interval));
    election_->start();
    schedule(std::chrono::seconds(0));
    service::notify_ready("running: polling every " + format_duration(cfg_->daemon.poll_interval));
    io_.run();
    worker_.join();
    if (poller_ && poller_->unrecorded() > 0) {
      spdlog::error(
          "{} sent step(s) could not be recorded before stopping; their leases expire and "
          "they are sent again under the same Message-ID",
          poller_->unrecorded());
    }
    spdlog::info("stopped");
    return 0;
  }

 private:
  std::shared_ptr<const config::Config> snapshot() {
    std::lock_guard lock(cfg_mutex_);
    return cfg_;
  }

  // Several instances may share a PostgreSQL database: only the elected poller ticks, every
  // instance dispatches (docs/instances.md). On SQLite this instance is the only one.
  bool start_election() {
    auto leadership =
        store::open_leadership(cfg_->daemon.database.string(), engine_options(cfg_->daemon),
                               store::this_instance_id(), cfg_->daemon.poll_interval);
    if (!leadership) {
      spdlog::error("{}", leadership.error().message);
      return false;
    }
    election_ = std::make_unique<PollerElection>(io_, std::move(leadership).value(), metrics_,
                                                 cfg_->daemon.poll_interval);
    return true;
  }

  // The HTTP server shares this io_context; its database work runs on the API's own thread
  // with its own connection.
  bool start_http() {
    if (!cfg_->daemon.http.enabled) return true;
    auto db = open_database(cfg_->daemon, store::OpenMode::kExisting);
    if (!db) {
      spdlog::error("http: {}", db.error().message);
      return false;
    }
    api_ = std::make_unique<http::Api>([this] { return snapshot(); }, std::move(db).value(),
                                       metrics_, clock_);
    server_ = std::make_unique<http::Server>(
        io_, cfg_->daemon.http, [a = api_.get()](http::Request&& req, http::Respond respond) {
          a->handle(std::move(req), std::move(respond));
        });
    auto bound = server_->start();
    if (!bound) {
      spdlog::error("http: {}", bound.error().message);
      return false;
    }
    spdlog::info("http listening on {}:{}", bound->address().to_string(), bound->port());
    return true;
  }

  // ---- the poll loop
  void schedule(std::chrono::seconds after) {
    timer_.expires_after(after);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) run_guarded("poll timer", [this] { start_poll(); });
    });
  }

  void start_poll() {
    busy_ = true;
    asio::post(worker_, [this] { do_poll(); });
  }

  // On the worker: one tick (if elected) and one dispatch round with the current snapshot.
  void do_poll() {
    const auto started = std::chrono::steady_clock::now();
    PollResult result;
    result.ok = false;  // stays false when the poll throws
    result.error = "the poll stopped on an unexpected error";
    run_guarded("poll", [&] {
      auto current = snapshot();
      if (!poller_ || poller_->config() != current) {
        poller_ = std::make_unique<Poller>(store_, current, clock_, real_channels(current->daemon),
                                           link_secret_);
        poller_->count_into(&metrics_);
      }
      // Settings may have been fixed while we were stopped or before a reload: paused channels
      // get another try.
      if (resume_pauses_.exchange(false)) resume_paused_channels(store_.db(), store_.contacts());
      result = poller_->poll(&stop_sending_, /*max_batches=*/8, election_->poller());
      if (result.dispatch.sent > 0) metrics_.smtp_success(clock_.now());
    });
    run_guarded("poll metrics", [&] {
      metrics_.tick_done(clock_.now(),
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started),
                         result.ok, result.error);
    });
    // A backlog is read in bounded ticks and sent in bounded rounds: poll again at once.
    const bool more = result.ok && result.more();
    asio::post(io_, [this, more] { run_guarded("poll finished", [&] { on_poll_done(more); }); });
  }

  // Back on the io_context.
  void on_poll_done(bool more) {
    busy_ = false;
    if (stopping_) return finish();
    schedule(more ? std::chrono::seconds(0) : snapshot()->daemon.poll_interval);
  }

  // ---- signals
  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (!run_guarded("signal", [&] { on_signal(signo); })) wait_signal();
    });
  }

  // A reload or stop that throws is logged and the signals are awaited again.
  void on_signal(int signo) {
    if (signo == SIGHUP) {
      reload();
      wait_signal();
      return;
    }
    spdlog::info("{}: finishing the current poll and stopping",
                 signo == SIGTERM ? "SIGTERM" : "SIGINT");
    do_drain();
  }

  // The new file replaces the running configuration only when it loads without an error.
  void reload() {
    spdlog::info("SIGHUP: reloading {}", config_file_.string());
    service::notify_reloading();
    auto loaded = config::load_config(config_file_);
    if (loaded.ok()) {
      // The rules engine's own findings (e.g. a sequence above the per-card retry cap).
      auto findings = rules::check_sequences(loaded.value.sequences);
      loaded.errors.insert(loaded.errors.end(), findings.begin(), findings.end());
    }
    if (!loaded.ok()) {
      for (const auto& e : loaded.errors) spdlog::error("{}", e.to_string());
      spdlog::error("reload refused: the running configuration stays in force");
      service::notify_ready("running; the last reload was refused (see the log)");
      return;
    }
    spdlog::set_level(spdlog::level::from_str(loaded.value.daemon.log_level));
    for (const auto& e : loaded.errors) spdlog::warn("{}", e.to_string());
    for (const auto& s : loaded.value.sequences.sequences) {
      const auto* before = snapshot()->sequences.find(s.id);
      if (before && before->hash != s.hash) {
        spdlog::info(
            "sequence '{}' changed: version {} -> {}; open cases continue by step index in the "
            "new version",
            s.id, before->hash, s.hash);
      }
    }
    std::lock_guard lock(cfg_mutex_);
    cfg_ = std::make_shared<const config::Config>(std::move(loaded.value));
    resume_pauses_ = true;  // the new settings get their chance at the next poll
    spdlog::info("configuration reloaded ({} sequences)", cfg_->sequences.sequences.size());
    service::notify_ready("running; configuration reloaded");
  }

  // Stop taking new work; the poll in flight finishes, then finish().
  void do_drain() {
    stopping_ = true;
    stop_sending_ = true;
    service::notify_stopping();
    timer_.cancel();
    if (server_) server_->stop();
    if (!busy_) return finish();
    // The message being sent finishes (bounded by the SMTP timeout); if it still hangs after
    // that, exit without waiting: its row stays leased and is re-sent with the same Message-ID.
    const auto bound = snapshot()->daemon.smtp.timeout + std::chrono::seconds(10);
    drain_deadline_.expires_after(bound);
    drain_deadline_.async_wait([bound](const boost::system::error_code& timer_ec) {
      if (timer_ec) return;
      spdlog::critical("the in-flight send did not finish within {}; exiting now",
                       format_duration(std::chrono::duration_cast<Seconds>(bound)));
      spdlog::default_logger()->flush();
      std::_Exit(1);
    });
  }

  // Everything pending on the io_context is cancelled: io_.run() returns once the worker is idle.
  void finish() {
    finished_ = true;
    if (election_) election_->stop();
    signals_.cancel();
    timer_.cancel();
    watchdog_.cancel();
    drain_deadline_.cancel();
  }

  // Pings at half the interval systemd expects, from the io_context: a wedged event loop stops
  // the pings and systemd restarts the service (Restart=on-failure).
  void ping_watchdog(std::chrono::microseconds every) {
    service::notify_watchdog();
    watchdog_.expires_after(every);
    watchdog_.async_wait([this, every](const boost::system::error_code& ec) {
      if (!ec && !finished_) run_guarded("watchdog", [&] { ping_watchdog(every); });
    });
  }

  const std::filesystem::path config_file_;
  std::mutex cfg_mutex_;  // guards cfg_ between the signal handler and the worker
  std::shared_ptr<const config::Config> cfg_;
  store::Engine& store_;
  const Clock& clock_;
  const std::optional<std::string> link_secret_;  // read once at start

  asio::io_context io_;
  asio::thread_pool worker_{1};  // the only thread that touches store_ and the channels
  asio::steady_timer timer_{io_};
  asio::signal_set signals_{io_, SIGINT, SIGTERM, SIGHUP};
  asio::steady_timer watchdog_{io_};
  asio::steady_timer drain_deadline_{io_};

  http::Metrics metrics_;
  std::unique_ptr<PollerElection> election_;  // who ticks
  std::unique_ptr<http::Api> api_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Poller> poller_;  // of the running configuration (worker thread only)

  // io_context thread only:
  bool stopping_ = false;
  bool busy_ = false;  // a poll is on the worker
  bool finished_ = false;
  std::atomic<bool> stop_sending_{false};  // read by the dispatcher between two messages
  std::atomic<bool> resume_pauses_{true};  // set at start and by a reload; the worker clears it
};

}  // namespace

int run_daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
               store::Engine& store, const Clock& clock) {
  Daemon daemon(config_file, std::move(cfg), store, clock);
  return daemon.run();
}

}  // namespace dunning::app
