// Wiring for `dunningd run`: one poll = scheduler tick + outbox dispatch, repeated on a Boost.Asio
// timer until SIGTERM/SIGINT; SIGHUP re-reads and validates the config and swaps it only if valid.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/store/engine.hpp"

namespace dunning::app {

// Runs until SIGTERM or SIGINT (exit code 0) and returns the process exit code. Speaks the
// systemd notify protocol when NOTIFY_SOCKET is set: READY once running, RELOADING/READY around
// a SIGHUP, STOPPING on a stop request, WATCHDOG pings at half of WatchdogSec.
int run_daemon(const std::filesystem::path& config_file, std::shared_ptr<const config::Config> cfg,
               store::Engine& store, const Clock& clock);

}  // namespace dunning::app
