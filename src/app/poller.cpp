#include "dunning/app/poller.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "dunning/config/secrets.hpp"
#include "dunning/sender/smtp_transport.hpp"

namespace dunning::app {

ChannelSet real_channels(const config::DaemonConfig& cfg) {
  ChannelSet c;
  c.email = std::make_unique<sender::SmtpTransport>(cfg.smtp);
  c.sms = sender::make_http_transport(cfg.sms.timeout);
  c.billing = sender::make_http_transport(cfg.billing.timeout);
  c.webhooks = sender::make_http_transport(cfg.webhooks.timeout);
  return c;
}

// A missing secret is reported once at start-up (config::missing_secrets), not here.
std::optional<std::string> link_secret_of(const config::DaemonConfig& cfg) {
  if (cfg.links.base_url.empty()) return std::nullopt;
  return config::read_secret(cfg.links.secret_env);
}

Poller::Poller(store::Engine& store, std::shared_ptr<const config::Config> cfg, const Clock& clock,
               ChannelSet channels, std::optional<std::string> link_secret)
    : store_(store),
      cfg_(std::move(cfg)),
      clock_(clock),
      channels_(std::move(channels)),
      renderer_(cfg_->daemon.templates, cfg_->daemon.default_locale, cfg_->daemon.company),
      scheduler_(store.db(), store.feed(), store.cases(), store.outbox(), store.ledger(),
                 store.contacts(), *cfg_, clock),
      dispatcher_(store.db(), store.outbox(), store.cases(), store.contacts(), store.feed(),
                  store.facts(), *cfg_, renderer_, channels_.view(), clock,
                  std::move(link_secret)) {}

Poller::~Poller() = default;

void Poller::count_into(OutcomeCounters* counters) {
  counters_ = counters;
  dispatcher_.set_counters(counters);
}

PollResult Poller::poll(const std::atomic<bool>* stop, int max_batches, bool tick) {
  PollResult r;
  const auto started = std::chrono::steady_clock::now();
  try {
    if (tick) r.tick = scheduler_.tick({max_batches, stop});
  } catch (const store::StoreError& e) {
    // The batch rolled back: nothing of it is counted, and the feed is read again next time.
    spdlog::error("poll failed, will retry: {}", e.what());
    r.ok = false;
    r.error = e.what();
  } catch (const std::exception& e) {  // bad data or a bug: say so; the dispatch still runs
    spdlog::critical("poll: unexpected {}; this tick is abandoned", e.what());
    r.ok = false;
    r.error = e.what();
  }
  if (counters_ != nullptr) {
    counters_->on_cases(r.tick.cases_opened, r.tick.cases_recovered, r.tick.cases_lost);
  }
  dispatcher_.set_stop_flag(stop);
  try {
    r.dispatch = dispatcher_.dispatch_due();
  } catch (const store::StoreError& e) {
    spdlog::error("dispatch failed, will retry: {}", e.what());
    r.ok = false;
    if (r.error.empty()) r.error = e.what();
  } catch (const std::exception& e) {
    spdlog::critical("dispatch: unexpected {}; this round is abandoned", e.what());
    r.ok = false;
    if (r.error.empty()) r.error = e.what();
  }
  for (int i = 0; counters_ != nullptr && i < r.dispatch.webhooks; ++i)
    counters_->on_sent("webhook");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  const auto& t = r.tick;
  const auto& d = r.dispatch;
  if (t.any() || d.any()) {
    spdlog::info(
        "poll: {} payments read, {} cases opened, {} recovered, {} partly paid, {} lost, {} steps "
        "queued; {} sent, {} deferred, {} to retry, {} failed, {} skipped{}{} ({} ms)",
        t.payments_read, t.cases_opened, t.cases_recovered, t.partial_payments, t.cases_lost,
        t.steps_queued, d.sent, d.deferred, d.retried, d.failed, d.skipped,
        d.unrecorded ? "; " + std::to_string(d.unrecorded) + " results not yet written" : "",
        t.more   ? "; more to read"
        : d.more ? "; more to send"
                 : "",
        ms.count());
  }
  return r;
}

PollResult Poller::drain(const std::atomic<bool>* stop) {
  PollResult total;
  for (;;) {
    auto r = poll(stop);
    total.tick += r.tick;
    total.dispatch += r.dispatch;
    if (!r.ok) {
      total.ok = false;
      total.error = r.error;
      return total;
    }
    if (!r.more() || (stop != nullptr && stop->load())) return total;
  }
}

}  // namespace dunning::app
