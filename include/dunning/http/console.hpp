// The admin and finance console under /ui/ (docs/console.md): server-rendered HTML pages over
// the same store functions the read API uses — the case plan (cases::plan_of), the admin's
// pause / resume / close (cases::apply_admin_action), the finance report
// (ledger::build_report) and the ledger export. Sign-in, sessions, CSRF and the sign-in limit
// are console_auth's. Every asset is compiled in; nothing is fetched from elsewhere.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/http/metrics.hpp"
#include "dunning/http/server.hpp"
#include "dunning/store/engine.hpp"

namespace dunning::http {

class Console {
 public:
  using ConfigSnapshot = std::function<std::shared_ptr<const config::Config>()>;
  // Runs the function on the database thread and answers with what it returns (a store error
  // is answered for it). The read API's own worker: the console adds no thread.
  using OnDb = std::function<void(Respond, std::function<Response(store::Engine&)>)>;

  // Reads the two passwords (http.console.*_password_env) once, like the API token.
  Console(ConfigSnapshot config, const Clock& clock, Metrics& metrics, OnDb on_db);
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;
  ~Console();

  // True for the paths the console answers: /ui and everything under /ui/.
  static bool owns(std::string_view path);
  // Answers a request for one of those paths. Runs on the io thread; never blocks.
  void handle(Request&& req, Respond respond);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace dunning::http
