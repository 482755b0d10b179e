// Counters of what the daemon did, bumped where it happens: the dispatcher once a step's outcome
// is committed, the poll once a tick has opened and closed cases. /metrics reads them (the
// daemon's http::Metrics implements this), so `rate()` works without a database query.
#pragma once

#include <string_view>

namespace dunning {

// Every implementation is thread-safe and cheap: it is called on the sending path.
class OutcomeCounters {
 public:
  OutcomeCounters() = default;
  OutcomeCounters(const OutcomeCounters&) = delete;
  OutcomeCounters& operator=(const OutcomeCounters&) = delete;
  virtual ~OutcomeCounters() = default;

  // A step of `channel` (email, sms, action, webhook) was delivered / accepted.
  virtual void on_sent(std::string_view channel) = 0;
  // A step failed permanently (recorded with its reason).
  virtual void on_failed(std::string_view channel) = 0;
  // A transient failure: the step is tried again after its backoff.
  virtual void on_retried(std::string_view channel) = 0;
  // Nothing to send on this channel (no phone, no billing endpoint...), recorded as skipped.
  virtual void on_skipped(std::string_view channel) = 0;
  // A committed scheduler tick opened / recovered / lost this many cases.
  virtual void on_cases(int opened, int recovered, int lost) = 0;
};

}  // namespace dunning
