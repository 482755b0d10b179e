// Internal to http: the service's health verdict, read by /healthz and the console's overview
// alike, so the two never disagree about what "degraded" or "unhealthy" means.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/http/metrics.hpp"
#include "dunning/store/contact_book.hpp"
#include "dunning/store/engine.hpp"

namespace dunning::http {

struct Health {
  bool database_ok = true;
  bool tick_ok = true;  // a poll finished recently and polls are not failing in a row
  // Channels paused for everyone (bad credentials, relay denied): they need the operator.
  std::vector<store::ChannelPause> paused;

  // 200 from /healthz only when everything is ok.
  [[nodiscard]] bool ok() const { return database_ok && tick_ok && paused.empty(); }
  // "unhealthy" (no database, or no work being done), "degraded" (a channel paused) or "ok".
  [[nodiscard]] std::string_view status() const {
    if (!database_ok || !tick_ok) return "unhealthy";
    return paused.empty() ? "ok" : "degraded";
  }
};

// Reads what the verdict needs from the database (on its worker): its schema version (can it be
// read at all) and the channel pauses. A tick is stale after three poll intervals (at least a
// minute); two failed polls in a row are a service that does no work, whatever the tick's age.
Health check_health(store::Engine& st, TimePoint now, Seconds poll_interval,
                    std::optional<TimePoint> last_tick, const Metrics::PollFailures& failures);

// The paused channels as both pages list them: channel, reason, since, retry_at.
nlohmann::json paused_channels_json(const std::vector<store::ChannelPause>& paused);

}  // namespace dunning::http
