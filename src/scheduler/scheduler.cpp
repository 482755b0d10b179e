#include "dunning/scheduler/scheduler.hpp"

#include <spdlog/spdlog.h>

#include "dunning/ledger/attribution.hpp"
#include "dunning/rules/rules.hpp"

namespace dunning::scheduler {

using store::CaseRecord;
using store::CaseState;
using store::Payment;

Scheduler::Scheduler(store::Store& store, const config::Config& cfg, const Clock& clock)
    : store_(store), cfg_(cfg), clock_(clock), declines_(DeclineTable::builtin()) {
  for (const auto& [code, cls] : cfg.daemon.declines) declines_.set(code, cls);
}

TickStats Scheduler::tick() {
  TickStats stats;
  for (;;) {
    store::Store::Tx tx(store_);
    const auto cursor = store_.cursor(kPaymentsCursor);
    auto batch = store_.payments_after(cursor, kBatch);
    if (batch.last_rowid == cursor) break;
    for (const auto& p : batch.rows) on_payment(p, stats);
    store_.set_cursor(kPaymentsCursor, batch.last_rowid);
    tx.commit();
    stats.payments_read += static_cast<int>(batch.rows.size());
  }
  for (;;) {
    store::Store::Tx tx(store_);
    auto due = store_.due_cases(clock_.now(), kBatch);
    if (due.empty()) break;
    for (const auto& c : due) advance_case(c, stats);
    tx.commit();
  }
  return stats;
}

void Scheduler::on_payment(const Payment& p, TickStats& stats) {
  if (p.status == "failed") {
    if (!p.invoice_id) {
      spdlog::warn("failed payment {} has no invoice_id; no case opened", p.id);
      return;
    }
    if (auto open = store_.open_case_for_invoice(*p.invoice_id)) {
      store_.add_case_event(open->id, p.occurred_at, "payment_failed",
                            "another failed payment " + p.id + " (" + p.decline_code + ")");
      return;
    }
    open_case(p, stats);
  } else if (p.status == "succeeded") {
    std::optional<CaseRecord> c;
    if (p.invoice_id) {
      c = store_.open_case_for_invoice(*p.invoice_id);
    } else {
      // Invoice unknown: the customer's oldest open case in the same currency.
      for (auto& candidate : store_.open_cases_for_customer(p.customer_id)) {
        if (candidate.amount.currency() == p.amount.currency()) {
          c = std::move(candidate);
          break;
        }
      }
    }
    if (c) recover(*c, p, stats);
  }
}

void Scheduler::open_case(const Payment& p, TickStats& stats) {
  rules::CaseFacts facts;
  facts.trigger = config::Trigger::kPaymentFailed;
  facts.decline_code = p.decline_code;
  facts.decline_class = declines_.classify(p.decline_code);
  facts.amount = p.amount;
  if (p.subscription_id) facts.plan = store_.subscription_plan(*p.subscription_id).value_or("");
  if (auto customer = store_.customer(p.customer_id)) facts.locale = customer->locale;

  std::vector<std::string> why_not;
  const auto* seq = rules::select_sequence(cfg_.sequences, facts, &why_not);
  if (!seq) {
    spdlog::info("failed payment {} (invoice {}, {}, {}) matches no sequence; no case opened", p.id,
                 *p.invoice_id, p.amount.to_string(), p.decline_code);
    return;
  }
  CaseRecord c;
  c.trigger = "payment_failed";
  c.customer_id = p.customer_id;
  c.subscription_id = p.subscription_id;
  c.invoice_id = p.invoice_id;
  c.payment_id = p.id;
  c.amount = p.amount;
  c.decline_code = p.decline_code;
  c.sequence_id = seq->id;
  c.sequence_hash = seq->hash;
  c.opened_at = p.occurred_at;
  c.next_step = 0;
  c.next_due_at = rules::step_due_at(*seq, 0, c.opened_at);
  c.attempt_count = 1;
  c.id = store_.insert_case(c);
  std::string detail = "sequence '" + seq->id + "' (version " + seq->hash + ") for a " +
                       std::string(to_string(facts.decline_class)) + " decline '" + p.decline_code +
                       "' of " + p.amount.to_string();
  for (const auto& w : why_not) detail += "; passed over " + w;
  store_.add_case_event(c.id, p.occurred_at, "opened", detail);
  ++stats.cases_opened;
  spdlog::info("case {} opened for invoice {} ({}): {}", c.id, *p.invoice_id, p.amount.to_string(),
               seq->id);
  advance_case(c, stats);
}

void Scheduler::recover(CaseRecord c, const Payment& p, TickStats& stats) {
  const TimePoint now = clock_.now();
  auto won_by = store_.last_delivered(c.id, p.occurred_at);
  store::LedgerEntry e;
  e.case_id = c.id;
  e.kind = won_by ? "recovered" : "recovered_without_contact";
  e.customer_id = c.customer_id;
  e.subscription_id = c.subscription_id;
  e.invoice_id = c.invoice_id;
  e.payment_id = p.id;
  e.amount = p.amount;  // what was actually paid
  if (won_by) {
    e.step_index = won_by->step_index;
    e.channel = won_by->channel;
    e.template_name = won_by->template_name;
  }
  e.sequence_id = c.sequence_id;
  e.decline_code = c.decline_code;
  e.opened_at = c.opened_at;
  e.occurred_at = p.occurred_at;
  e.recorded_at = now;
  ledger::attribute_recovery(e, won_by, store_.last_click(c.id, p.occurred_at));
  store_.insert_ledger(e);
  store_.close_case(c.id, CaseState::kRecovered, p.occurred_at, "payment " + p.id + " succeeded");
  int cancelled = store_.cancel_pending_outbox(c.id, now, "case recovered");
  store_.add_case_event(
      c.id, p.occurred_at, "recovered",
      p.amount.to_string() + " paid by " + p.id +
          (won_by ? ", attributed to step #" + std::to_string(won_by->step_index + 1) + " (" +
                        won_by->channel + " " + won_by->template_name + ")"
                  : ", before any message was delivered (recovered without contact)") +
          (cancelled > 0 ? "; " + std::to_string(cancelled) + " pending step(s) cancelled" : ""));
  ++stats.cases_recovered;
  spdlog::info("case {} recovered: {} ({})", c.id, p.amount.to_string(), e.kind);
}

void Scheduler::advance_case(const CaseRecord& c, TickStats& stats) {
  const auto* seq = cfg_.sequences.find(c.sequence_id);
  const TimePoint now = clock_.now();
  if (!seq) {
    // The sequence was removed from the config: the case keeps waiting, visibly.
    spdlog::warn("case {}: sequence '{}' is no longer configured; case left open", c.id,
                 c.sequence_id);
    store_.set_case_progress(c.id, c.next_step, std::nullopt);
    store_.add_case_event(c.id, now, "stalled", "sequence '" + c.sequence_id + "' not configured");
    return;
  }
  auto progress = rules::advance(*seq, c.opened_at, static_cast<std::size_t>(c.next_step), now);
  for (const auto& skipped : progress.skipped) {
    store_.add_case_event(c.id, now, "step_skipped",
                          "step #" + std::to_string(skipped.index + 1) + " " +
                              seq->steps[skipped.index].describe() + ": " + skipped.reason);
    ++stats.steps_skipped;
  }
  for (std::size_t idx : progress.run_now) {
    const auto& step = seq->steps[idx];
    store::OutboxRow row;
    row.case_id = c.id;
    row.step_index = static_cast<int>(idx);
    row.channel = std::string(config::to_string(step.channel));
    row.template_name = step.template_name;
    row.action =
        step.channel == config::Channel::kAction ? std::string(config::to_string(step.action)) : "";
    row.message_key = "case:" + std::to_string(c.id) + ":step:" + std::to_string(idx);
    row.due_at = rules::step_due_at(*seq, idx, c.opened_at);
    row.created_at = now;
    if (step.is_final()) {
      // Close first (cancelling what is still pending), then queue the final action itself.
      store::LedgerEntry e;
      e.case_id = c.id;
      e.kind = "lost";
      e.customer_id = c.customer_id;
      e.subscription_id = c.subscription_id;
      e.invoice_id = c.invoice_id;
      e.payment_id = c.payment_id;
      e.amount = c.amount;
      e.step_index = static_cast<int>(idx);
      e.channel = "action";
      e.template_name = std::string(config::to_string(step.action));
      e.sequence_id = c.sequence_id;
      e.decline_code = c.decline_code;
      e.opened_at = c.opened_at;
      e.occurred_at = now;
      e.recorded_at = now;
      store_.insert_ledger(e);
      store_.close_case(c.id, CaseState::kLost, now, "final step: " + step.describe());
      store_.cancel_pending_outbox(c.id, now, "case closed as lost");
      store_.add_case_event(c.id, now, "lost",
                            c.amount.to_string() + " written off at step #" +
                                std::to_string(idx + 1) + " (" + step.describe() + ")");
      ++stats.cases_lost;
      spdlog::info("case {} lost: {} written off ({})", c.id, c.amount.to_string(),
                   step.describe());
    }
    if (store_.insert_outbox(row)) {
      store_.add_case_event(c.id, now, "step_queued",
                            "step #" + std::to_string(idx + 1) + " " + step.describe() + " (due " +
                                format_iso8601(row.due_at) + ")");
      ++stats.steps_queued;
    }
  }
  if (!progress.closes_case) {
    store_.set_case_progress(c.id, static_cast<int>(progress.next_step), progress.next_due_at);
  }
}

}  // namespace dunning::scheduler
