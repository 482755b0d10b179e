#include "dunning/rules/plan.hpp"

#include <algorithm>

namespace dunning::rules {

using config::Action;
using config::Channel;
using config::Sequence;
using config::Step;

namespace {

bool has(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

bool is_on_card_updated(int step_index) { return step_index >= kCardUpdatedSteps; }

std::string label(int step_index, const Step& step) {
  if (is_on_card_updated(step_index)) return "on_card_updated " + step.describe();
  return "step #" + std::to_string(step_index + 1) + " (" + step.describe() + ")";
}

// Why `unless` skips `step`, or "".
std::string unless_reason(const Step& step, bool clicked, bool card_updated) {
  for (const auto& u : step.unless) {
    if (u == "clicked" && clicked)
      return "unless clicked: the customer clicked a link of this case";
    if (u == "card_updated" && card_updated) {
      return "unless card_updated: the customer updated their card";
    }
  }
  return {};
}

// Why the contact `step` is not sent to this customer at all, or "" (holdout, stop_on).
std::string no_contact_reason(const Sequence& seq, int step_index, bool holdout,
                              bool card_updated) {
  if (holdout) return "holdout: the case is in the control group (no contact)";
  if (card_updated && has(seq.stop_on, "card_updated") && !is_on_card_updated(step_index)) {
    return "stop_on card_updated: the customer updated their card; reminders stop";
  }
  return {};
}

Calendar calendar_of(const Sequence& seq, const config::Defaults& d, const date::time_zone* zone) {
  return Calendar{zone, seq.send_window.value_or(d.send_window), d.holidays};
}

void keep_earliest(std::optional<PlannedStep>& slot, PlannedStep candidate) {
  if (!slot || candidate.at < slot->at) slot = std::move(candidate);
}

}  // namespace

const Step* find_step(const Sequence& seq, int step_index) {
  if (step_index < 0) return nullptr;
  if (!is_on_card_updated(step_index)) {
    const auto i = static_cast<std::size_t>(step_index);
    return i < seq.steps.size() ? &seq.steps[i] : nullptr;
  }
  const auto pos = static_cast<std::size_t>((step_index - kCardUpdatedSteps) % 16);
  return pos < seq.on_card_updated.size() ? &seq.on_card_updated[pos] : nullptr;
}

Capabilities capabilities_of(const config::DaemonConfig& cfg) {
  return {!cfg.billing.url.empty(), !cfg.sms.url.empty(), !cfg.webhooks.url.empty()};
}

std::string cannot_act(const Step& step, const Capabilities& caps) {
  if (step.channel == Channel::kSms && !caps.sms) {
    return "no sms: section (sms.url) in the config, so no text message can be sent";
  }
  if (step.channel != Channel::kAction) return {};
  switch (step.action) {
    case Action::kRetry:
    case Action::kCancel:
    case Action::kPause:
      if (!caps.billing) {
        return "no billing: section (billing.url) in the config, so the " +
               std::string(config::to_string(step.action)) + " reaches no billing system";
      }
      return {};
    case Action::kWebhook:
      return caps.webhooks ? std::string() : "no webhooks: section (webhooks.url) in the config";
    case Action::kMarkLost:
    case Action::kNone:
      return {};
  }
  return {};
}

std::vector<config::ConfigError> check_capabilities(const config::Config& cfg) {
  std::vector<config::ConfigError> out;
  const auto caps = capabilities_of(cfg.daemon);
  const std::string file = cfg.sequences.file.string();
  for (const auto& seq : cfg.sequences.sequences) {
    for (const auto* steps : {&seq.steps, &seq.on_card_updated}) {
      for (const auto& step : *steps) {
        if (auto why = cannot_act(step, caps); !why.empty()) {
          out.push_back({file, step.line, step.column,
                         "sequence '" + seq.id + "': " + step.describe() +
                             " will be skipped: " + why + " (" + cfg.daemon.file.string() + ")",
                         true});
        }
      }
    }
  }
  return out;
}

CustomerZone customer_zone(std::string_view customer, std::string_view fallback) {
  CustomerZone z;
  z.zone = zone_or(customer, fallback, &z.note);
  if (!z.zone) {
    z.note = "unknown time zones '" + std::string(customer) + "' and default '" +
             std::string(fallback) + "'; using UTC";
    z.zone = date::locate_zone("UTC");
  }
  return z;
}

Placement place_step(const Sequence& seq, const Step& step, TimePoint nominal,
                     const config::Defaults& d, const date::time_zone* zone,
                     const std::vector<TimePoint>& other_contacts) {
  if (step.channel != Channel::kAction) {
    return place_contact(nominal, calendar_of(seq, d, zone), d, other_contacts);
  }
  if (step.action == Action::kRetry && step.prefer == "payday") {
    return prefer_payday(nominal, zone, d);
  }
  return Placement{nominal, {}, true};
}

CasePlan plan_case(const Sequence& seq, const config::Defaults& d, const PlanFacts& f) {
  CasePlan plan;
  // Sorts one step into the plan; false once the final step is reached (nothing runs after it).
  auto add = [&](int index, const Step& step, TimePoint at, std::string why) {
    PlannedStep ps{index, &step, at, std::move(why)};
    if (step.is_final()) {
      keep_earliest(plan.final_step, std::move(ps));
      return;
    }
    if (!cannot_act(step, f.caps).empty()) return;
    if (!unless_reason(step, f.clicked, f.card_updated).empty()) return;
    if (step.channel == Channel::kAction) {
      if (step.action == Action::kRetry) keep_earliest(plan.next_retry, std::move(ps));
      return;
    }
    if (!no_contact_reason(seq, index, f.holdout, f.card_updated).empty()) return;
    keep_earliest(plan.next_contact, std::move(ps));
  };

  std::vector<int> queued;
  for (const auto& row : f.pending) {
    const Step* step = find_step(seq, row.step_index);
    if (!step) continue;  // a step of an older version of the sequence: shown in the outbox only
    queued.push_back(row.step_index);
    add(row.step_index, *step, row.due_at, label(row.step_index, *step) + ", queued");
  }
  for (std::size_t i = f.next_step; i < seq.steps.size(); ++i) {
    const int index = static_cast<int>(i);
    const Step& step = seq.steps[i];
    if (std::find(queued.begin(), queued.end(), index) != queued.end()) continue;
    const TimePoint nominal = f.opened_at + step.at;
    // The same placement the scheduler applies when it queues the step (the per-customer caps
    // depend on other messages not sent yet, so the plan leaves them to the send-time gate).
    Placement placed = place_step(seq, step, nominal, d, f.zone, {});
    std::string why =
        label(index, step) + " at " + format_duration(step.at) + " after the case opened";
    for (const auto& w : placed.why) why += "; " + w;
    if (placed.possible) add(index, step, placed.at, std::move(why));
    if (step.is_final()) break;  // the case ends here: later steps never run
  }
  if (plan.final_step) {
    const Action a = plan.final_step->step->action;
    if ((a == Action::kCancel || a == Action::kPause) && f.caps.billing) {
      plan.cancel_at = plan.final_step->at;
    }
    // Nothing happens after the case has ended.
    auto after_end = [&](const std::optional<PlannedStep>& s) {
      return s && s->at > plan.final_step->at;
    };
    if (after_end(plan.next_retry)) plan.next_retry.reset();
    if (after_end(plan.next_contact)) plan.next_contact.reset();
  }
  return plan;
}

std::string skip_reason(const Sequence& seq, const Step& step, int step_index,
                        const config::Defaults& d, const SendFacts& f) {
  if (auto why = cannot_act(step, f.caps); !why.empty()) return why;
  if (auto why = unless_reason(step, f.clicked, f.card_updated); !why.empty()) return why;
  if (step.channel == Channel::kAction) {
    if (step.action != Action::kRetry) return {};
    // The card networks' cap, counted on the retries actually made (the scheduler checked the
    // planned ones; this holds whatever happened since).
    const auto cap = d.max_retries_per_card_per_30_days;
    const auto made = std::count_if(f.card_retries.begin(), f.card_retries.end(), [&](TimePoint t) {
      return t > f.now - std::chrono::hours(24 * 30) && t <= f.now;
    });
    if (made >= cap) {
      return "per-card retry cap: the card already had " + std::to_string(made) +
             " retries in the last 30 days (cap " + std::to_string(cap) + ")";
    }
    return {};
  }
  if (auto why = no_contact_reason(seq, step_index, f.holdout, f.card_updated); !why.empty()) {
    return why;
  }
  if (step.channel == Channel::kEmail && f.email_unreachable) {
    return "unreachable: the mail server refused the customer's address";
  }
  if (step.channel == Channel::kSms && f.sms_unreachable) {
    return "unreachable: the SMS provider refused the customer's number";
  }
  if (step.channel == Channel::kSms && f.email_unreachable && has(seq.stop_on, "unreachable")) {
    return "stop_on unreachable: the mail server refused the customer's address";
  }
  return {};
}

GateVerdict send_gate(const Sequence& seq, const Step& step, int step_index,
                      const config::Defaults& d, const SendFacts& f) {
  if (auto why = skip_reason(seq, step, step_index, d, f); !why.empty()) {
    return GateVerdict{GateVerdict::Kind::kSkip, TimePoint{}, std::move(why)};
  }
  if (step.channel == Channel::kAction) return {};  // actions are not windowed
  // Timing, decided now: the window and holidays of the customer's local time, and the caps
  // counted on what was actually sent. The same placement as at scheduling, from `now`.
  Placement placed = place_contact(f.now, calendar_of(seq, d, f.zone), d, f.contacts_sent);
  if (!placed.possible) {
    return GateVerdict{GateVerdict::Kind::kSkip, TimePoint{},
                       placed.why.empty() ? "no allowed time to send" : placed.why.back()};
  }
  if (placed.at > f.now) {
    std::string why = "not now (" + format_local(f.now, f.zone) + ")";
    for (const auto& w : placed.why) why += "; " + w;
    return {GateVerdict::Kind::kDefer, placed.at, std::move(why)};
  }
  return {};
}

}  // namespace dunning::rules
