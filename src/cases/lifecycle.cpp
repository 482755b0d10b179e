#include "dunning/cases/lifecycle.hpp"

#include <spdlog/spdlog.h>

#include "dunning/ledger/attribution.hpp"

namespace dunning::cases {

using store::CaseRecord;
using store::CaseState;

namespace {

std::string step_words(const store::OutboxRow& row) {
  const std::string what =
      row.template_name.empty() ? std::string(to_string(row.action)) : row.template_name;
  return "step #" + std::to_string(row.step_index + 1) + " (" +
         std::string(to_string(row.channel)) + " " + what + ")";
}

std::string cancelled_note(int n) {
  return n > 0 ? "; " + std::to_string(n) + " pending step(s) cancelled" : std::string();
}

}  // namespace

Lifecycle::Lifecycle(store::Cases& cases, store::Outbox& outbox, store::LedgerBook& ledger)
    : cases_(cases), outbox_(outbox), ledger_(ledger) {}

std::int64_t Lifecycle::open(CaseRecord& c, const std::string& why, TimePoint now) {
  (void)now;  // the opening is dated by the fact that opened it
  c.id = cases_.insert(c);
  cases_.add_event(c.id, c.opened_at, "opened", why);
  if (c.holdout) {
    cases_.add_event(c.id, c.opened_at, "holdout",
                     "in the control group: no email or sms, retries still run");
  }
  return c.id;
}

PaymentEffect Lifecycle::pay(const CaseRecord& c, const store::Payment& p, TimePoint now) {
  const auto won_by = outbox_.last_delivered(c.id, p.occurred_at);
  const auto click = ledger_.last_click(c.id, p.occurred_at);
  // A message handed to the server by a sender that stopped before recording it may have been
  // read: that is contact, not "recovered without contact" (it is noted as unconfirmed).
  std::optional<store::OutboxRow> unconfirmed;
  if (!won_by) unconfirmed = outbox_.unconfirmed_contact(c.id, p.occurred_at);
  const auto& attributed = won_by ? won_by : unconfirmed;

  const bool same_currency = p.amount.currency() == c.amount.currency();
  const Money owed = c.outstanding();
  if (same_currency && p.amount.minor() < owed.minor()) {
    auto e = ledger::partial_entry(c, p, attributed, click, now);
    if (unconfirmed) e.note = "delivery of " + step_words(*unconfirmed) + " unconfirmed";
    ledger_.append(e);
    cases_.add_paid(c.id, p.amount.minor());
    cases_.add_event(c.id, p.occurred_at, "partial_payment",
                     p.amount.to_string() + " paid by " + p.id + "; " +
                         (owed - p.amount).to_string() + " still outstanding, the case goes on");
    return PaymentEffect::kPartial;
  }

  auto e = ledger::recovered_entry(c, p, attributed, click, now);
  if (unconfirmed) {
    e.note = "delivery of " + step_words(*unconfirmed) +
             " unconfirmed: its sender stopped after handing it to the server";
  }
  if (!same_currency) {
    e.note += std::string(e.note.empty() ? "" : "; ") + "invoice of " + owed.to_string() +
              " paid in " + p.amount.currency();
  }
  ledger_.append(e);
  cases_.close(c.id, CaseState::kRecovered, p.occurred_at, "payment " + p.id + " succeeded");
  const int cancelled = outbox_.cancel_pending(c.id, now, "case recovered");
  std::string detail = p.amount.to_string() + " paid by " + p.id;
  if (attributed) {
    detail += ", attributed to " + step_words(*attributed) + (unconfirmed ? " (unconfirmed)" : "");
  } else {
    detail += ", before any message was delivered (recovered without contact)";
  }
  cases_.add_event(c.id, p.occurred_at, "recovered", detail + cancelled_note(cancelled));
  return PaymentEffect::kRecovered;
}

PaymentEffect Lifecycle::pay_late(const CaseRecord& c, const store::Payment& p, TimePoint now) {
  ledger_.append(ledger::late_entry(c, p, now));
  cases_.add_event(c.id, p.occurred_at, "paid_late",
                   p.amount.to_string() + " paid by " + p.id + " after the case was closed as " +
                       std::string(store::to_string(c.state)));
  return PaymentEffect::kLate;
}

bool Lifecycle::refund(const CaseRecord& c, const store::Payment& refund, TimePoint now) {
  // The money row it takes back: the latest recovered/partial/late row in its currency.
  std::optional<store::LedgerEntry> target;
  for (const auto& row : ledger_.for_case(c.id)) {
    if (store::brings_money_in(row.kind) && row.amount.currency() == refund.amount.currency()) {
      target = row;
    }
  }
  if (!target) return false;
  const Money delta(-refund.amount.minor(), refund.amount.currency());
  auto correction =
      ledger::correction_entry(*target, delta, now,
                               "refund " + refund.id + " of " + refund.amount.to_string() +
                                   " (row " + std::to_string(target->id) + ")");
  correction.payment_id = refund.id;  // the refunded payment it records (ledger verify)
  correction.occurred_at = refund.occurred_at;
  ledger_.append(correction);
  cases_.add_event(c.id, refund.occurred_at, "refunded",
                   refund.amount.to_string() + " refunded (" + refund.id +
                       "): a correction row takes it off the recovered amount");
  return true;
}

void Lifecycle::write_off(const CaseRecord& c, int step_index, const config::Step& final_step,
                          const std::string& note, TimePoint now) {
  if (c.trigger == Trigger::kPaymentFailed) {
    auto e = ledger::lost_entry(c, step_index, final_step.action, now, now);
    e.amount = c.outstanding();
    e.note = note;
    ledger_.append(e);
  }
  cases_.close(c.id, CaseState::kLost, now, "final step: " + final_step.describe());
  const int cancelled = outbox_.cancel_pending(c.id, now, "case closed as lost");
  cases_.add_event(c.id, now, "lost",
                   c.outstanding().to_string() + " written off at step #" +
                       std::to_string(step_index + 1) + " " + final_step.describe() +
                       (note.empty() ? "" : " (" + note + ")") + cancelled_note(cancelled));
  store::OutboxRow row;
  row.case_id = c.id;
  row.step_index = step_index;
  row.channel = Channel::kAction;
  row.action = final_step.action;
  row.message_key = "case:" + std::to_string(c.id) + ":step:" + std::to_string(step_index);
  row.due_at = now;
  row.created_at = now;
  if (outbox_.enqueue(row)) {
    cases_.add_event(c.id, now, "step_queued",
                     "step #" + std::to_string(step_index + 1) + " " + final_step.describe() +
                         " (due " + format_iso8601(now) + ")");
  }
}

void Lifecycle::cancel(const CaseRecord& c, const std::string& reason, TimePoint now) {
  if (c.trigger == Trigger::kPaymentFailed) {
    auto e = ledger::cancelled_entry(c, now, now, reason);
    e.amount = c.outstanding();
    ledger_.append(e);
  }
  cases_.close(c.id, CaseState::kCancelled, now, reason);
  const int cancelled = outbox_.cancel_pending(c.id, now, "case cancelled: " + reason);
  cases_.add_event(
      c.id, now, "cancelled",
      c.outstanding().to_string() + " not recovered: " + reason + cancelled_note(cancelled));
}

void Lifecycle::card_replaced(const CaseRecord& c, const std::string& detail, TimePoint now) {
  cases_.close(c.id, CaseState::kRecovered, now, "card updated");
  const int cancelled = outbox_.cancel_pending(c.id, now, "card updated");
  cases_.add_event(c.id, now, "closed", detail + cancelled_note(cancelled));
}

void Lifecycle::expire(const CaseRecord& c, TimePoint now) {
  cases_.close(c.id, CaseState::kLost, now, "sequence finished; the card was not updated");
  cases_.add_event(c.id, now, "closed",
                   "sequence finished without a card update (no ledger row: no invoice)");
}

bool Lifecycle::pause(std::int64_t case_id, const std::string& who, TimePoint now) {
  if (!cases_.change_state(case_id, CaseState::kOpen, CaseState::kPaused)) return false;
  cases_.add_event(case_id, now, "paused", "paused by " + who + "; nothing is sent until resumed");
  return true;
}

bool Lifecycle::resume(std::int64_t case_id, const std::string& who, TimePoint now) {
  if (!cases_.change_state(case_id, CaseState::kPaused, CaseState::kOpen)) return false;
  cases_.add_event(case_id, now, "resumed", "resumed by " + who);
  return true;
}

std::string_view to_string(AdminAction a) {
  switch (a) {
    case AdminAction::kPause:
      return "pause";
    case AdminAction::kResume:
      return "resume";
    case AdminAction::kClose:
      return "close";
  }
  return "?";
}

std::optional<AdminAction> parse_admin_action(std::string_view text) {
  for (auto a : {AdminAction::kPause, AdminAction::kResume, AdminAction::kClose}) {
    if (to_string(a) == text) return a;
  }
  return std::nullopt;
}

AdminOutcome apply_admin_action(store::Cases& cases, store::Outbox& outbox,
                                store::LedgerBook& ledger, std::int64_t id, AdminAction action,
                                const std::string& who, TimePoint now) {
  AdminOutcome out;
  out.before = cases.get(id);
  if (!out.before) return out;
  const auto& c = *out.before;
  bool done = false;
  Lifecycle life(cases, outbox, ledger);
  if (action == AdminAction::kPause) {
    done = life.pause(id, who, now);
  } else if (action == AdminAction::kResume) {
    done = life.resume(id, who, now);
  } else if (c.state == CaseState::kOpen || c.state == CaseState::kPaused) {
    life.cancel(c, "closed by " + who, now);
    done = true;
  }
  if (done) {
    out.kind = AdminOutcome::Kind::kDone;
  } else {
    out.kind = AdminOutcome::Kind::kRefused;
    out.message = "case " + std::to_string(id) + " is " + std::string(store::to_string(c.state)) +
                  ": cannot " + std::string(to_string(action));
  }
  return out;
}

}  // namespace dunning::cases
