// Claims due outbox rows, renders them, hands them to a transport and records the result.
// The row exists before the send and is marked after it; a crash in between leaves a leased
// row that is re-sent with the same Message-ID / idempotency key once the lease expires
// (at-least-once). Results of a batch are written in one transaction.
//
// Failures: 4xx / network errors retry with exponential backoff and jitter until
// outbox.give_up_after; a recipient refused permanently fails the step and marks the address
// unreachable (store contact_status), which stops that channel for that customer; a permanent
// refusal not about the recipient pauses the whole channel (store channel_pauses), rows stay
// pending and one batch is tried again when the pause ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/outcome_counters.hpp"
#include "dunning/sender/transport.hpp"
#include "dunning/store/store.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::sender {

class HttpClient;

struct DispatchStats {
  int sent = 0;
  int retried = 0;   // transient failure, will be tried again
  int failed = 0;    // permanent failure, recorded with its reason
  int skipped = 0;   // nothing to send on this channel (recorded with the reason)
  int held = 0;      // its channel is paused: still pending
  int webhooks = 0;  // outbound webhook events delivered
};

// Everything a message about `c` may mention, read from the store. `link_secret` signs the
// card-update link when cfg.daemon.links.base_url is set (else company.update_url is used).
templates::MessageData case_message_data(store::Store& store, const config::Config& cfg,
                                         const store::CaseRecord& c, int step_index, TimePoint now,
                                         const std::optional<std::string>& link_secret);

// The card-update link for (customer, case) sent at `now`.
std::string update_url(const config::Config& cfg, const std::string& customer_id,
                       std::int64_t case_id, TimePoint now,
                       const std::optional<std::string>& link_secret);

class Dispatcher {
 public:
  Dispatcher(store::Store& store, const config::Config& cfg, const templates::Renderer& renderer,
             EmailTransport& email, const Clock& clock);
  ~Dispatcher();

  // Sends everything due now, batch by batch, until nothing due is left; a channel whose server
  // is unreachable or refuses us waits (backoff / pause) while the other channels go on. Then
  // delivers pending outbound webhook events.
  DispatchStats dispatch_due();

  // A graceful stop: `stop` is read between two batches and before a batch is sent; once true,
  // dispatch_due() sends nothing more, hands the rows it claimed but did not attempt back to the
  // outbox (they are sent by the next run, not after their lease) and returns.
  // REQUIRES: *stop outlives *this.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }

  // Outcomes are counted into `counters` (sent / failed / retried / skipped per channel) once
  // they are committed. REQUIRES: *counters outlives *this; nullptr counts nothing.
  void set_counters(OutcomeCounters* counters) { counters_ = counters; }

  // The Message-ID of a case's step: the same for every attempt.
  static std::string message_id(std::int64_t case_id, int step_index, const std::string& from);

 private:
  struct Decision;
  void prepare_email(const store::OutboxRow& row, Decision& d, OutgoingEmail& out);
  void on_email_result(const store::OutboxRow& row, const Delivery& result, Decision& d);
  void send_sms(const store::OutboxRow& row, Decision& d);
  void run_action(const store::OutboxRow& row, Decision& d);
  void http_result(const store::OutboxRow& row, const std::string& what, long status,
                   const std::string& detail, bool transient, Decision& d);
  void apply(const store::OutboxRow& row, Decision& d, DispatchStats& stats);
  void deliver_webhooks(DispatchStats& stats);
  std::string sign_and_post(HttpClient& http, const std::string& type, const std::string& body,
                            long& status, bool& transient);

  store::Store& store_;
  const config::Config& cfg_;
  const templates::Renderer& renderer_;
  EmailTransport& email_;
  const Clock& clock_;
  bool stop_requested() const { return stop_ != nullptr && stop_->load(); }

  const std::atomic<bool>* stop_ = nullptr;
  OutcomeCounters* counters_ = nullptr;
  int released_ = 0;  // rows of the current batch handed back because of a stop
  std::optional<std::string> link_secret_;
  std::vector<std::string> probing_;  // channels whose pause ended: resumed on the next success
  std::unique_ptr<HttpClient> sms_http_;
  std::unique_ptr<HttpClient> billing_http_;
  std::unique_ptr<HttpClient> webhook_http_;
};

}  // namespace dunning::sender
