// The routes of the HTTP server: the ingest API (POST /v1/events, group-committed), Stripe
// webhooks, the read API over cases and the ledger, /healthz, /metrics and the click redirect
// GET /r/{token}. All SQLite work runs on one worker thread with its own connection, never on
// the io_context; answers are posted back to the connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/http/metrics.hpp"
#include "dunning/http/server.hpp"
#include "dunning/store/engine.hpp"

namespace dunning::http {

class Api {
 public:
  using ConfigSnapshot = std::function<std::shared_ptr<const config::Config>()>;

  // `db` is the API's own connection to the daemon's database (the API uses every interface of
  // it but the payments feed).
  Api(ConfigSnapshot config, std::unique_ptr<store::Engine> db, Metrics& metrics,
      const Clock& clock);
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;
  // Finishes queued database work (pending events are committed) before returning.
  ~Api();

  // The server's Handler. Runs on the io thread; never blocks.
  void handle(Request&& req, Respond respond);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace dunning::http
