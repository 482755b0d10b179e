// The rules engine: pure functions from (case facts, sequences, history, now) to decisions.
// Nothing here reads the clock or the database; every decision carries the reasons behind it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/decline.hpp"
#include "dunning/core/money.hpp"

namespace dunning::rules {

// What is known about a case when a sequence is chosen for it.
struct CaseFacts {
  config::Trigger trigger = config::Trigger::kPaymentFailed;
  std::string decline_code;
  DeclineClass decline_class = DeclineClass::kSoft;
  std::string plan;
  Money amount;
  std::string locale;
};

// Why a sequence did or did not match; empty when it matched.
std::string mismatch_reason(const config::Sequence& s, const CaseFacts& facts);

// The first sequence (top to bottom) whose trigger and match conditions accept the facts, or
// nullptr. `why_not` (if given) receives one line per sequence that was passed over.
const config::Sequence* select_sequence(const config::Sequences& sequences, const CaseFacts& facts,
                                        std::vector<std::string>* why_not = nullptr);

// When step `index` of `s` is due for a case opened at `opened_at`.
TimePoint step_due_at(const config::Sequence& s, std::size_t index, TimePoint opened_at);

struct SkippedStep {
  std::size_t index;
  std::string reason;
};

// The outcome of walking a case's sequence forward to `now`.
struct Progress {
  std::vector<std::size_t> run_now;      // step indices to execute now, in order
  std::vector<SkippedStep> skipped;      // due steps that will not run, with reasons
  std::size_t next_step = 0;             // first step not yet decided
  std::optional<TimePoint> next_due_at;  // when next_step is due; nullopt: sequence done
  bool closes_case = false;              // a final action (cancel/pause/mark_lost) runs now
};

// Decides which steps from `next_step` on are due at `now`. When a case falls behind (the daemon
// was down, or data arrived late) several steps of one channel can be due at once; only the latest
// of them runs, so a customer never gets a burst of stale reminders. A final action always runs
// and ends the walk.
Progress advance(const config::Sequence& s, TimePoint opened_at, std::size_t next_step,
                 TimePoint now);

}  // namespace dunning::rules
