// Opening the config's database: the engine options it implies (the PostgreSQL password read
// from the secret `database_password_env` names) and the poller election of `dunningd run`.
#pragma once

#include "dunning/config/config.hpp"
#include "dunning/store/engine.hpp"
#include "dunning/store/leadership.hpp"

namespace dunning::http {
class Metrics;
}

namespace dunning::app {

// The options to open `cfg.database` with. The password is read now (environment, then the
// systemd credential of that name); a named secret that is missing leaves it to libpq.
store::EngineOptions engine_options(const config::DaemonConfig& cfg);

// store::open_engine(cfg.database, mode, engine_options(cfg)).
Result<std::unique_ptr<store::Engine>> open_database(const config::DaemonConfig& cfg,
                                                     store::OpenMode mode);

// Asks `leadership` whether this instance is the poller before a tick, logs when the poller
// changes, and records the role for /healthz and /metrics. True: run the tick.
bool ask_poller_role(store::Leadership& leadership, http::Metrics* metrics);

}  // namespace dunning::app
