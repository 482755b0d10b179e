// Internal: the systemd service manager protocol (sd_notify: READY, RELOADING, STOPPING,
// WATCHDOG, STATUS). Every call is a no-op when the process was not started with Type=notify
// (NOTIFY_SOCKET unset), so the daemon runs the same in a terminal.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace dunning::app::service {

// Start-up is complete: the service manager may start what depends on us.
void notify_ready(std::string_view status);
// A SIGHUP reload started; follow with notify_ready() when it is over (accepted or refused).
void notify_reloading();
// A stop request was accepted; the process is draining.
void notify_stopping();
// Free-form status line shown by `systemctl status`.
void notify_status(std::string_view status);
// Tells the watchdog the event loop is alive.
void notify_watchdog();
// How often systemd expects watchdog pings (WatchdogSec=), or nullopt when it is not enabled.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace dunning::app::service
