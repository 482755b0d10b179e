// The rules engine: pure functions from (case facts, sequences, history, now) to decisions.
// Nothing here reads the clock or the database; every decision carries the reasons behind it.
#pragma once

#include <date/tz.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
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
  // nullopt when no amount is known (a card_expiring case of a customer without a priced
  // subscription): then no currency or amount condition matches.
  std::optional<Money> amount;
  std::string locale;
  // card_expiring: whole days from now until the end of the card's expiry month.
  std::optional<int> days_until_expiry;
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

// ---- timing, in the customer's IANA time zone
//
// Wall-clock times are turned into instants with `resolve_local`: a local time that does not
// exist (the spring-forward gap) becomes the first instant after the gap; a local time that
// occurs twice (fall-back) becomes its first occurrence. Every step is stored as one UTC instant,
// so it is never sent at a non-existent time and never twice.

// The customer's zone, or `fallback` when the name is empty or unknown (nullptr only if both are
// unknown). `note` (if given) receives why the fallback was used.
const date::time_zone* zone_or(std::string_view name, std::string_view fallback,
                               std::string* note = nullptr);
TimePoint resolve_local(const date::time_zone* zone, date::local_seconds local);
// "2026-03-30 09:00 CEST" in `zone`.
std::string format_local(TimePoint t, const date::time_zone* zone);

// Where and when a contact (email/sms) may go out.
struct Calendar {
  const date::time_zone* zone = nullptr;  // REQUIRES: non-null
  config::SendWindow window;
  std::vector<std::chrono::sys_days> holidays;  // local calendar dates
};

// The earliest instant at or after `t` inside the window (an allowed weekday that is not a
// holiday, between from and to local time); nullopt when there is none within a year.
std::optional<TimePoint> next_window_slot(TimePoint t, const Calendar& cal);

// A time decision and the reasons it was moved (empty: unchanged).
struct Placement {
  TimePoint at;
  std::vector<std::string> why;
  bool possible = true;  // false: no slot at all (e.g. every day a holiday); `why` says so
};

// Places a contact step due at `due`: inside the send window, then at least
// min_hours_between_messages from, and within max_messages_per_customer_per_day (the customer's
// local day) of, `others` — the customer's other sent or planned contacts across ALL their cases.
// A contact held back by a cap is deferred to the next allowed slot, never dropped.
Placement place_contact(TimePoint due, const Calendar& cal, const config::Defaults& d,
                        const std::vector<TimePoint>& others);

// `prefer: payday`: the same local time on the next payday (d.paydays, in the customer's zone) if
// one comes within d.payday_max_days; otherwise `due` unchanged, with the reason.
Placement prefer_payday(TimePoint due, const date::time_zone* zone, const config::Defaults& d);

// The per-card cap: would a retry at `at` make any 30-day span hold more than `cap` retries of the
// card, counting `card_retries` (its other sent or planned retries)? Returns the reason, or
// nullopt when the retry is allowed.
std::optional<std::string> retry_cap_violation(TimePoint at,
                                               const std::vector<TimePoint>& card_retries, int cap);

// Holdout: a stable share (`percent` of 100) of keys is in the control group. The decision is a
// SHA-256 of the key, so it never changes between runs, machines or reloads.
bool in_holdout(std::string_view key, int percent);

// The most retries one run of `s` (steps plus on_card_updated) can place in any 30 days.
int max_retries_in_30_days(const config::Sequence& s);

// Findings for `dunningd check` beyond what loading validates: sequences no case can reach
// (shadowed by an earlier sequence that accepts everything they accept; warning), sequences
// that break the per-card retry cap (error), unknown locales in match.locales (warning).
std::vector<config::ConfigError> check_sequences(const config::Sequences& seqs);

}  // namespace dunning::rules
