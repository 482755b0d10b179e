#include "app/service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace dunning::app::service {

namespace {
void send(const std::string& state) {
  // Failures are ignored on purpose: without a listening service manager there is no one to tell.
  (void)sd_notify(0, state.c_str());
}
}  // namespace

void notify_ready(std::string_view status) { send("READY=1\nSTATUS=" + std::string(status)); }

void notify_reloading() { send("RELOADING=1\nSTATUS=reloading the configuration"); }

void notify_stopping() { send("STOPPING=1\nSTATUS=stopping: finishing in-flight sends"); }

void notify_status(std::string_view status) { send("STATUS=" + std::string(status)); }

void notify_watchdog() { send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace dunning::app::service
