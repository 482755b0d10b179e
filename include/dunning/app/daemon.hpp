// Wiring for `dunningd run`: one poll = scheduler tick + outbox dispatch, repeated on a Boost.Asio
// timer until SIGTERM/SIGINT; SIGHUP re-reads and validates the config and swaps it only if valid.
#pragma once

#include <filesystem>
#include <memory>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/scheduler/scheduler.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "dunning/sender/transport.hpp"
#include "dunning/store/store.hpp"

namespace dunning::app {

struct PollResult {
  scheduler::TickStats tick;
  sender::DispatchStats dispatch;
  bool ok = true;  // false: the database failed; the poll is retried next time
};

// One full poll against `store`. Errors are logged, never thrown.
PollResult poll_once(store::Store& store, const config::Config& cfg, const Clock& clock,
                     sender::EmailTransport& email);

// Runs until SIGTERM or SIGINT (exit code 0) and returns the process exit code.
int run_daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
               store::Store& store, const Clock& clock);

}  // namespace dunning::app
