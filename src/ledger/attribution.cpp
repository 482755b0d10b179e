#include "dunning/ledger/attribution.hpp"

#include <stdexcept>

namespace dunning::ledger {

int days_between(TimePoint opened, TimePoint closed) {
  const auto secs = (closed - opened).count();
  // floor division, also for the (clock-skew) case of a payment stamped before the case opened
  const auto day = std::int64_t{86400};
  const auto q = secs / day - ((secs % day != 0 && secs < 0) ? 1 : 0);
  return static_cast<int>(q);
}

void attribute_recovery(store::LedgerEntry& e, const std::optional<store::OutboxRow>& last_step,
                        std::optional<TimePoint> last_click) {
  e.days_to_recover = days_between(e.opened_at, e.occurred_at);
  e.clicked_at.reset();
  if (last_click) {
    e.kind = store::LedgerKind::kRecovered;
    e.attribution = store::Attribution::kClick;
    e.clicked_at = last_click;
    e.step_index.reset();
    e.channel = "click";
    e.template_name.clear();
    if (last_step) {
      // The link that was clicked came with the last message delivered before the payment.
      e.step_index = last_step->step_index;
      e.channel = std::string(to_string(last_step->channel));
      e.template_name = last_step->template_name;
    }
  } else if (last_step) {
    e.kind = store::LedgerKind::kRecovered;
    e.attribution = store::Attribution::kStep;
    e.step_index = last_step->step_index;
    e.channel = std::string(to_string(last_step->channel));
    e.template_name = last_step->template_name;
  } else {
    e.kind = store::LedgerKind::kRecoveredWithoutContact;
    e.attribution = store::Attribution::kNone;
    e.step_index.reset();
    e.channel.clear();
    e.template_name.clear();
  }
}

store::LedgerEntry case_entry(const store::CaseRecord& c, store::LedgerKind kind, TimePoint at,
                              TimePoint now) {
  store::LedgerEntry e;
  e.case_id = c.id;
  e.kind = kind;
  e.customer_id = c.customer_id;
  e.subscription_id = c.subscription_id;
  e.invoice_id = c.invoice_id;
  e.payment_id = c.payment_id;
  e.amount = c.amount;
  e.sequence_id = c.sequence_id;
  e.decline_code = c.decline_code;
  e.opened_at = c.opened_at;
  e.occurred_at = at;
  e.recorded_at = now;
  return e;
}

store::LedgerEntry recovered_entry(const store::CaseRecord& c, const store::Payment& p,
                                   const std::optional<store::OutboxRow>& last_step,
                                   std::optional<TimePoint> last_click, TimePoint now) {
  auto e = case_entry(c, store::LedgerKind::kRecovered, p.occurred_at, now);
  e.payment_id = p.id;
  e.amount = p.amount;  // what was actually paid
  attribute_recovery(e, last_step, last_click);
  return e;
}

store::LedgerEntry partial_entry(const store::CaseRecord& c, const store::Payment& p,
                                 const std::optional<store::OutboxRow>& last_step,
                                 std::optional<TimePoint> last_click, TimePoint now) {
  auto e = recovered_entry(c, p, last_step, last_click, now);
  e.kind = store::LedgerKind::kPartial;
  return e;
}

store::LedgerEntry late_entry(const store::CaseRecord& c, const store::Payment& p, TimePoint now) {
  auto e = case_entry(c, store::LedgerKind::kLate, p.occurred_at, now);
  e.payment_id = p.id;
  e.amount = p.amount;
  e.days_to_recover = days_between(e.opened_at, e.occurred_at);
  e.note = "paid after the case was closed as " + std::string(store::to_string(c.state));
  return e;
}

store::LedgerEntry lost_entry(const store::CaseRecord& c, int step_index, Action action,
                              TimePoint at, TimePoint now) {
  auto e = case_entry(c, store::LedgerKind::kLost, at, now);
  e.step_index = step_index;
  e.channel = to_string(Channel::kAction);
  e.template_name = to_string(action);
  return e;
}

store::LedgerEntry cancelled_entry(const store::CaseRecord& c, TimePoint at, TimePoint now,
                                   const std::string& reason) {
  auto e = case_entry(c, store::LedgerKind::kCancelled, at, now);
  e.note = reason;
  return e;
}

store::LedgerEntry correction_entry(const store::LedgerEntry& original, const Money& delta,
                                    TimePoint now, const std::string& note) {
  if (delta.currency() != original.amount.currency()) {
    throw std::logic_error("a correction must be in the corrected row's currency");
  }
  store::LedgerEntry e = original;
  e.id = 0;
  e.kind = store::LedgerKind::kCorrection;
  e.amount = delta;
  e.corrects = original.id;
  e.occurred_at = now;
  e.recorded_at = now;
  e.note = note;
  e.days_to_recover.reset();
  return e;
}

}  // namespace dunning::ledger
