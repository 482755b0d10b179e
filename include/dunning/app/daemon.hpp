// Wiring for `dunningd run`: one poll = scheduler tick + outbox dispatch, repeated on a Boost.Asio
// timer until SIGTERM/SIGINT; SIGHUP re-reads and validates the config and swaps it only if valid.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/scheduler/scheduler.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "dunning/sender/transport.hpp"
#include "dunning/store/engine.hpp"

namespace dunning::app {

struct PollResult {
  scheduler::TickStats tick;
  sender::DispatchStats dispatch;
  bool ok = true;  // false: the database failed; the poll is retried next time
};

// One full poll against `store`: the scheduler and the dispatcher get the interfaces they use.
// Errors are logged, never thrown. When `stop` turns true the dispatch ends after the message
// being sent (see Dispatcher::set_stop_flag). `tick` false: dispatch only (this instance is not
// the poller, see store::Leadership).
PollResult poll_once(store::Engine& store, const config::Config& cfg, const Clock& clock,
                     sender::EmailTransport& email, const std::atomic<bool>* stop = nullptr,
                     bool tick = true);

// Runs until SIGTERM or SIGINT (exit code 0) and returns the process exit code. Speaks the
// systemd notify protocol when NOTIFY_SOCKET is set: READY once running, RELOADING/READY around
// a SIGHUP, STOPPING on a stop request, WATCHDOG pings at half of WatchdogSec.
int run_daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
               store::Engine& store, const Clock& clock);

}  // namespace dunning::app
