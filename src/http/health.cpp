#include "http/health.hpp"

#include <algorithm>

namespace dunning::http {

Health check_health(store::Engine& st, TimePoint now, Seconds poll_interval,
                    std::optional<TimePoint> last_tick, const Metrics::PollFailures& failures) {
  Health h;
  try {
    (void)st.db().schema_version();
    h.paused = st.contacts().channel_pauses();
  } catch (const store::StoreError&) {
    h.database_ok = false;
  }
  const auto stale = std::max(poll_interval * 3, Seconds(60));
  h.tick_ok = (!last_tick || now - *last_tick <= stale) && failures.in_a_row < 2;
  return h;
}

nlohmann::json paused_channels_json(const std::vector<store::ChannelPause>& paused) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : paused) {
    out.push_back({{"channel", p.channel},
                   {"reason", p.reason},
                   {"since", format_iso8601(p.since)},
                   {"retry_at", format_iso8601(p.retry_at)}});
  }
  return out;
}

}  // namespace dunning::http
