// The unit of work of `dunningd run` for one loaded configuration: a scheduler tick (bounded:
// it never holds the database for a whole backlog) followed by an outbox dispatch. Long-lived:
// the daemon keeps one per configuration, so parsed templates, reused SMTP connections and
// results the database could not take yet survive from one poll to the next.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/outcome_counters.hpp"
#include "dunning/scheduler/scheduler.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "dunning/store/engine.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::app {

struct PollResult {
  scheduler::TickStats tick;
  sender::DispatchStats dispatch;
  bool ok = true;     // false: the database failed; the poll is retried next time
  std::string error;  // why, when !ok ("database or disk is full", "database is locked")
  // Work was left for the next poll: a bounded tick or a dispatch round at its time budget.
  bool more() const { return tick.more || dispatch.more; }
};

// The channels a poller sends through, and who owns them.
struct ChannelSet {
  std::unique_ptr<sender::EmailTransport> email;
  std::unique_ptr<sender::HttpTransport> sms, billing, webhooks;
  sender::Channels view() const { return {*email, *sms, *billing, *webhooks}; }
};
// The real ones of `cfg`: SMTP over libcurl and three libcurl HTTP clients.
ChannelSet real_channels(const config::DaemonConfig& cfg);

// The signing secret of card-update links when links.base_url is set (read once; a missing one
// is logged once, and messages then carry company.update_url). nullopt otherwise.
std::optional<std::string> link_secret_of(const config::DaemonConfig& cfg);

class Poller {
 public:
  // REQUIRES: store and clock outlive *this.
  Poller(store::Engine& store, std::shared_ptr<const config::Config> cfg, const Clock& clock,
         ChannelSet channels, std::optional<std::string> link_secret);
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller();

  // One poll: a tick of at most `max_batches` transactions, then the dispatch of what is due.
  // When `stop` turns true the tick stops between batches and the dispatch after the message
  // being sent. `tick` false: the dispatch only (this instance sends but is not the elected
  // poller of a shared database, see store::Leadership). Logs one summary line of what was
  // committed; never throws.
  PollResult poll(const std::atomic<bool>* stop = nullptr, int max_batches = 8, bool tick = true);
  // Polls until nothing is left to tick (run --once, simulate): the backlog in bounded batches.
  PollResult drain(const std::atomic<bool>* stop = nullptr);

  // What each poll did is counted into `counters` once committed (the daemon's /metrics).
  // REQUIRES: *counters outlives *this; nullptr counts nothing.
  void count_into(OutcomeCounters* counters);

  const std::shared_ptr<const config::Config>& config() const { return cfg_; }
  sender::EmailTransport& email() { return *channels_.email; }
  // Results of sends the database has not taken yet (see Dispatcher::unrecorded).
  std::size_t unrecorded() const { return dispatcher_.unrecorded(); }

 private:
  store::Engine& store_;
  std::shared_ptr<const config::Config> cfg_;
  const Clock& clock_;
  ChannelSet channels_;
  templates::Renderer renderer_;
  scheduler::Scheduler scheduler_;
  sender::Dispatcher dispatcher_;
  OutcomeCounters* counters_ = nullptr;
};

}  // namespace dunning::app
