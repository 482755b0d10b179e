// A case's plan and the send-time gate: the two decisions that everything a customer is told, and
// everything that goes out, is derived from. Pure: the caller gathers the facts first (from the
// store, at the moment of deciding) and these functions read nothing else — no clock, no store.
//
// - plan_case: when the next retry, the next contact and the final step will happen. Emails
//   ("we'll try again on …"), the read API, `dunningd cases --show` and the console all show this
//   one plan, computed with the same placement the scheduler uses when it queues the step.
// - send_gate: just before a claimed outbox row is sent, whether it may go *now* (send window,
//   holidays, per-customer caps, unless/stop_on, holdout, reachability, a channel that cannot
//   act). A row that may not go now is deferred to its next allowed instant or skipped with the
//   reason; it is never sent early and never silently dropped.
#pragma once

#include <date/tz.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/rules/rules.hpp"

namespace dunning::rules {

// Outbox step indices of `on_card_updated` steps: kCardUpdatedSteps + 16 * (number of earlier
// card updates of the case) + the step's position in on_card_updated.
inline constexpr int kCardUpdatedSteps = 1000;

// The step of `seq` an outbox row's step_index names (steps or on_card_updated), or nullptr.
const config::Step* find_step(const config::Sequence& seq, int step_index);

// Which channels can act at all in this deployment. A step on a channel that cannot act is
// never promised to a customer and is skipped (with that reason) when it comes due.
struct Capabilities {
  bool billing = false;   // retry / cancel / pause reach a billing system (`billing.url`)
  bool sms = false;       // `sms.url`
  bool webhooks = false;  // `webhooks.url`
};
Capabilities capabilities_of(const config::DaemonConfig& cfg);
// Why `step` can never act here (e.g. "no billing: section, so the retry is not made"), or "".
std::string cannot_act(const config::Step& step, const Capabilities& caps);
// `dunningd check`: a warning at the line of every step that cannot act in this deployment
// (retries and cancels without billing, sms without an SMS API, webhooks without a URL). A
// deliberate choice is possible (a sequence file shared by several deployments), so these do
// not fail the check; at run time such steps are skipped with the reason and never promised.
std::vector<config::ConfigError> check_capabilities(const config::Config& cfg);

// The customer's zone as the plan and the messages use it: their own, else the configured
// default (with a note saying so), else UTC. Never null.
struct CustomerZone {
  const date::time_zone* zone = nullptr;
  std::string note;  // non-empty when the customer's own zone was not usable
};
CustomerZone customer_zone(std::string_view customer_zone, std::string_view default_zone);

// Where a step due at `nominal` is placed when the scheduler queues it: contacts into the send
// window (and, given `other_contacts`, past the per-customer caps), retries with
// `prefer: payday` onto the next payday, everything else at `nominal`. `why` explains each move.
Placement place_step(const config::Sequence& seq, const config::Step& step, TimePoint nominal,
                     const config::Defaults& d, const date::time_zone* zone,
                     const std::vector<TimePoint>& other_contacts);

// ---- the plan

// A step already in the outbox, not yet done (pending): its placed (or deferred) time is the
// truth for the plan.
struct PendingStep {
  int step_index = 0;
  TimePoint due_at;
};

struct PlanFacts {
  TimePoint opened_at;
  std::size_t next_step = 0;              // first step of seq.steps the scheduler has not reached
  std::vector<PendingStep> pending;       // the case's pending outbox rows
  const date::time_zone* zone = nullptr;  // REQUIRES: non-null (see customer_zone)
  bool holdout = false;                   // no contact at all
  bool clicked = false;                   // the customer clicked a link of the case
  bool card_updated = false;              // the customer's card changed since the case opened
  Capabilities caps;
};

struct PlannedStep {
  int step_index = 0;
  const config::Step* step = nullptr;
  TimePoint at;
  std::string why;  // "queued for …", "day 4 of the sequence, moved to payday …"
};

struct CasePlan {
  std::optional<PlannedStep> next_retry;    // the next charge attempt
  std::optional<PlannedStep> next_contact;  // the next email or sms
  // The step that ends the case (cancel / pause / mark_lost), if the sequence has one ahead.
  std::optional<PlannedStep> final_step;
  // When the subscription will be cancelled (or paused) in the billing system: the final step's
  // time when it is a cancel/pause that can act. nullopt for mark_lost or without billing.
  std::optional<TimePoint> cancel_at;
};

// The plan of an open case following `seq`. Steps an `unless`, a stop condition, the holdout or
// a missing channel would skip are not in it.
CasePlan plan_case(const config::Sequence& seq, const config::Defaults& d, const PlanFacts& f);

// ---- the send-time gate

struct SendFacts {
  TimePoint now;
  const date::time_zone* zone = nullptr;  // REQUIRES: non-null
  bool holdout = false;
  bool clicked = false;
  bool card_updated = false;  // the customer's card changed since the case opened
  bool email_unreachable = false;
  bool sms_unreachable = false;
  // The customer's email/sms actually sent (all their cases), at least the last 48 hours and
  // the local day of `now`, including those granted earlier in the same dispatch round.
  std::vector<TimePoint> contacts_sent;
  // The card's retries made in the 30 days before `now`.
  std::vector<TimePoint> card_retries;
  Capabilities caps;
};

struct GateVerdict {
  enum class Kind { kSend, kDefer, kSkip };
  Kind kind = Kind::kSend;
  TimePoint until;  // kDefer: the next instant at which the step may go
  std::string why;  // kDefer / kSkip: for the case timeline and the log
};

// Why `step` must never go out for this case (a channel that cannot act, unless, holdout,
// stop_on, an unreachable address, the card networks' retry cap), or "" — the part of the gate
// that does not depend on the time of day. The scheduler asks it before queueing a step, the
// gate again just before sending, with the facts of that moment.
std::string skip_reason(const config::Sequence& seq, const config::Step& step, int step_index,
                        const config::Defaults& d, const SendFacts& f);

// May `step` (outbox step_index `step_index` of a case following `seq`) go out at f.now?
GateVerdict send_gate(const config::Sequence& seq, const config::Step& step, int step_index,
                      const config::Defaults& d, const SendFacts& f);

}  // namespace dunning::rules
