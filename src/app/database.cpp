#include "dunning/app/database.hpp"

#include <spdlog/spdlog.h>

#include "dunning/config/secrets.hpp"
#include "dunning/http/metrics.hpp"

namespace dunning::app {

store::EngineOptions engine_options(const config::DaemonConfig& cfg) {
  store::EngineOptions o;
  if (!cfg.database_password_env.empty()) {
    if (auto secret = config::read_secret(cfg.database_password_env)) {
      o.password = *secret;
    } else {
      spdlog::warn("database_password_env: no {} in the environment or the credentials",
                   cfg.database_password_env);
    }
  }
  return o;
}

Result<std::unique_ptr<store::Engine>> open_database(const config::DaemonConfig& cfg,
                                                     store::OpenMode mode) {
  return store::open_engine(cfg.database.string(), mode, engine_options(cfg));
}

bool ask_poller_role(store::Leadership& leadership, http::Metrics* metrics) {
  const bool was = leadership.leading();
  const bool poller = leadership.try_lead();
  const std::string holder = poller ? leadership.instance() : leadership.holder();
  if (was && !poller) spdlog::warn("this instance is no longer the poller; sending only");
  if (!poller)
    spdlog::debug("poller is {}; this instance sends only", holder.empty() ? "?" : holder);
  if (metrics) metrics->set_role({poller, leadership.instance(), holder});
  return poller;
}

}  // namespace dunning::app
