// Claims due outbox rows, renders them, hands them to a transport and records the result.
// The row exists before the send and is marked after it; a crash in between leaves a leased
// row that is re-sent with the same Message-ID once the lease expires (at-least-once).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/sender/transport.hpp"
#include "dunning/store/store.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::sender {

struct DispatchStats {
  int sent = 0;
  int retried = 0;  // transient failure, will be tried again
  int failed = 0;   // permanent failure, recorded with its reason
  int skipped = 0;  // nothing to send on this channel (recorded with the reason)
};

class Dispatcher {
 public:
  Dispatcher(store::Store& store, const config::Config& cfg, const templates::Renderer& renderer,
             EmailTransport& email, const Clock& clock);

  // Sends everything due now, batch by batch, until nothing due is left or the transport is
  // unreachable (then the rest waits for its backoff).
  DispatchStats dispatch_due();

  // A graceful stop: `stop` is read between two messages; once true, dispatch_due() sends
  // nothing more, hands the rows it claimed but did not attempt back to the outbox (they are
  // sent by the next run, not after their lease) and returns. REQUIRES: *stop outlives *this.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }

  // The Message-ID of a case's step: the same for every attempt.
  static std::string message_id(std::int64_t case_id, int step_index, const std::string& from);

 private:
  // Returns false when the transport could not be reached (stop this round).
  bool deliver(const store::OutboxRow& row, DispatchStats& stats);
  void retry_later(const store::OutboxRow& row, const std::string& why, DispatchStats& stats);
  void fail(const store::OutboxRow& row, store::OutboxState state, const std::string& why,
            DispatchStats& stats);
  bool stop_requested() const { return stop_ != nullptr && stop_->load(); }

  store::Store& store_;
  const config::Config& cfg_;
  const templates::Renderer& renderer_;
  EmailTransport& email_;
  const Clock& clock_;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace dunning::sender
