#include "dunning/scheduler/scheduler.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "dunning/core/subscription_status.hpp"
#include "dunning/ledger/attribution.hpp"
#include "dunning/rules/rules.hpp"

namespace dunning::scheduler {

using store::CaseRecord;
using store::CaseState;
using store::Payment;

Scheduler::Scheduler(store::Database& db, store::PaymentsFeed& feed, store::Cases& cases,
                     store::Outbox& outbox, store::LedgerBook& ledger, store::ContactBook& contacts,
                     const config::Config& cfg, const Clock& clock)
    : db_(db),
      feed_(feed),
      cases_(cases),
      outbox_(outbox),
      ledger_(ledger),
      contacts_(contacts),
      cfg_(cfg),
      clock_(clock),
      declines_(DeclineTable::builtin()) {
  for (const auto& [code, cls] : cfg.daemon.declines) declines_.set(code, cls);
}

namespace {

bool has(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

std::string step_label(int index, const config::Step& step) {
  return "step #" + std::to_string(index + 1) + " " + step.describe();
}

}  // namespace

TickStats Scheduler::tick() {
  TickStats stats;
  // Card changes first: a card saved before a payment fails must not count as an update of the
  // case that payment opens.
  for (;;) {
    store::Tx tx(db_);
    auto changes = feed_.card_changes_after(feed_.cursor(kCardChangesCursor), kBatch);
    if (changes.empty()) break;
    for (const auto& ch : changes) on_card_change(ch, stats);
    feed_.set_cursor(kCardChangesCursor, changes.back().seq);
    tx.commit();
  }
  for (;;) {
    store::Tx tx(db_);
    const auto cursor = feed_.cursor(kPaymentsCursor);
    auto batch = feed_.payments_after(cursor, kBatch);
    if (batch.last_rowid == cursor) break;
    int read = 0;
    for (const auto& row : batch.rows) {
      if (row.payment) {
        on_payment(*row.payment, stats);
        ++read;
      } else {
        reject(row, stats);
      }
    }
    feed_.set_cursor(kPaymentsCursor, batch.last_rowid);
    tx.commit();
    stats.payments_read += read;
  }
  for (;;) {
    store::Tx tx(db_);
    auto changes =
        feed_.subscription_changes_after(feed_.cursor(kSubscriptionChangesCursor), kBatch);
    if (changes.empty()) break;
    for (const auto& ch : changes) on_subscription_change(ch, stats);
    feed_.set_cursor(kSubscriptionChangesCursor, changes.back().seq);
    tx.commit();
  }
  {
    store::Tx tx(db_);
    open_expiring_cases(stats);
    tx.commit();
  }
  for (;;) {
    store::Tx tx(db_);
    auto due = cases_.due(clock_.now(), kBatch);
    if (due.empty()) break;
    for (const auto& c : due) advance_case(c, stats);
    tx.commit();
  }
  return stats;
}

void Scheduler::reject(const store::PaymentRead& row, TickStats& stats) {
  // The cursor moves past the row (it would fail the same way at every poll); it is reported
  // once, in rejected_rows, for the operator to fix in the billing system.
  spdlog::error("payments row {} (rowid {}) cannot be read and is skipped: {}", row.id, row.rowid,
                row.payment.error().message);
  feed_.record_rejected({"payments", row.rowid, row.id, row.payment.error().message}, clock_.now());
  ++stats.rows_rejected;
}

bool Scheduler::unreachable(const std::string& customer_id, const std::string& channel) {
  // The address a step on `channel` goes to: the customer's email, or their phone for sms.
  auto customer = feed_.customer(customer_id);
  if (!customer) return false;
  const std::string& address = channel == "sms" ? customer->phone : customer->email;
  if (address.empty()) return false;
  return contacts_.contact_status(customer_id, channel, address).has_value();
}

void Scheduler::on_payment(const Payment& p, TickStats& stats) {
  if (p.status == "failed") {
    if (!p.invoice_id) {
      spdlog::warn("failed payment {} has no invoice_id; no case opened", p.id);
      return;
    }
    if (auto open = cases_.open_for_invoice(*p.invoice_id)) {
      cases_.add_event(open->id, p.occurred_at, "payment_failed",
                       "another failed payment " + p.id + " (" + p.decline_code + ")");
      return;
    }
    open_case(p, stats);
  } else if (p.status == "succeeded") {
    std::optional<CaseRecord> c;
    if (p.invoice_id) {
      c = cases_.open_for_invoice(*p.invoice_id);
    } else {
      // Invoice unknown: the customer's oldest open case in the same currency.
      for (auto& candidate : cases_.open_for_customer(p.customer_id)) {
        if (candidate.trigger == "payment_failed" &&
            candidate.amount.currency() == p.amount.currency()) {
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
  if (p.subscription_id) facts.plan = feed_.subscription_plan(*p.subscription_id).value_or("");
  if (auto customer = feed_.customer(p.customer_id)) facts.locale = customer->locale;

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
  c.holdout =
      rules::in_holdout("invoice:" + *p.invoice_id, cfg_.sequences.defaults.holdout_percent);
  c.id = cases_.insert(c);
  std::string detail = "sequence '" + seq->id + "' (version " + seq->hash + ") for a " +
                       std::string(to_string(facts.decline_class)) + " decline '" + p.decline_code +
                       "' of " + p.amount.to_string();
  for (const auto& w : why_not) detail += "; passed over " + w;
  cases_.add_event(c.id, p.occurred_at, "opened", detail);
  if (c.holdout) {
    cases_.add_event(c.id, p.occurred_at, "holdout",
                     "in the control group (holdout_percent " +
                         std::to_string(cfg_.sequences.defaults.holdout_percent) +
                         "): no email or sms, retries still run");
  }
  ++stats.cases_opened;
  spdlog::info("case {} opened for invoice {} ({}): {}", c.id, *p.invoice_id, p.amount.to_string(),
               seq->id);
  advance_case(c, stats);
}

void Scheduler::recover(CaseRecord c, const Payment& p, TickStats& stats) {
  const TimePoint now = clock_.now();
  auto won_by = outbox_.last_delivered(c.id, p.occurred_at);
  const auto e =
      ledger::recovered_entry(c, p, won_by, ledger_.last_click(c.id, p.occurred_at), now);
  ledger_.append(e);
  cases_.close(c.id, CaseState::kRecovered, p.occurred_at, "payment " + p.id + " succeeded");
  int cancelled = outbox_.cancel_pending(c.id, now, "case recovered");
  cases_.add_event(
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
    cases_.set_progress(c.id, c.next_step, std::nullopt);
    cases_.add_event(c.id, now, "stalled", "sequence '" + c.sequence_id + "' not configured");
    return;
  }
  if (seq->hash != c.sequence_hash &&
      cases_.count_events(c.id, "sequence_changed:" + seq->hash) == 0) {
    // Policy (docs/rules.md): an open case follows the current version of its sequence id, by
    // step index; the hash it started with stays on the case.
    cases_.add_event(c.id, now, "sequence_changed:" + seq->hash,
                     "sequence '" + seq->id + "' changed from version " + c.sequence_hash + " to " +
                         seq->hash + "; the case continues at step #" +
                         std::to_string(c.next_step + 1) + " of the new version");
  }
  auto progress = rules::advance(*seq, c.opened_at, static_cast<std::size_t>(c.next_step), now);
  for (const auto& skipped : progress.skipped) {
    cases_.add_event(c.id, now, "step_skipped",
                     step_label(static_cast<int>(skipped.index), seq->steps[skipped.index]) + ": " +
                         skipped.reason);
    ++stats.steps_skipped;
  }
  for (std::size_t idx : progress.run_now) {
    const auto& step = seq->steps[idx];
    if (step.is_final()) {
      close_lost(c, step, static_cast<int>(idx), stats);
    } else {
      queue_step(c, *seq, step, static_cast<int>(idx), rules::step_due_at(*seq, idx, c.opened_at),
                 stats);
    }
  }
  if (progress.closes_case) return;
  cases_.set_progress(c.id, static_cast<int>(progress.next_step), progress.next_due_at);
  if (!progress.next_due_at && c.trigger == "card_expiring") {
    // Nothing is at stake in money: no ledger row, the case just ends.
    cases_.close(c.id, CaseState::kLost, now, "sequence finished; the card was not updated");
    cases_.add_event(c.id, now, "closed",
                     "sequence finished without a card update (no ledger row: no invoice)");
  }
}

void Scheduler::close_lost(const CaseRecord& c, const config::Step& step, int idx,
                           TickStats& stats) {
  const TimePoint now = clock_.now();
  const auto e = ledger::lost_entry(c, idx, std::string(config::to_string(step.action)), now, now);
  // Close first (cancelling what is still pending), then queue the final action itself.
  if (c.trigger == "payment_failed") ledger_.append(e);
  cases_.close(c.id, CaseState::kLost, now, "final step: " + step.describe());
  outbox_.cancel_pending(c.id, now, "case closed as lost");
  cases_.add_event(c.id, now, "lost",
                   c.amount.to_string() + " written off at " + step_label(idx, step));
  ++stats.cases_lost;
  spdlog::info("case {} lost: {} written off ({})", c.id, c.amount.to_string(), step.describe());
  store::OutboxRow row;
  row.case_id = c.id;
  row.step_index = idx;
  row.channel = "action";
  row.action = std::string(config::to_string(step.action));
  row.message_key = "case:" + std::to_string(c.id) + ":step:" + std::to_string(idx);
  row.due_at = now;
  row.created_at = now;
  if (outbox_.enqueue(row)) {
    cases_.add_event(c.id, now, "step_queued",
                     step_label(idx, step) + " (due " + format_iso8601(row.due_at) + ")");
    ++stats.steps_queued;
  }
}

void Scheduler::queue_step(const CaseRecord& c, const config::Sequence& seq,
                           const config::Step& step, int idx, TimePoint nominal, TickStats& stats) {
  const TimePoint now = clock_.now();
  const auto& defaults = cfg_.sequences.defaults;
  auto skip = [&](const std::string& reason) {
    cases_.add_event(c.id, now, "step_skipped", step_label(idx, step) + ": " + reason);
    ++stats.steps_skipped;
  };
  const bool card_updated = cases_.count_events(c.id, "card_updated") > 0;
  for (const auto& u : step.unless) {
    if (u == "clicked" && cases_.clicked(c.id)) {
      return skip("unless clicked: the customer clicked a link of this case");
    }
    if (u == "card_updated" && card_updated) {
      return skip("unless card_updated: the customer updated their card");
    }
  }
  const bool contact = step.channel != config::Channel::kAction;
  if (contact) {
    if (c.holdout) return skip("holdout: the case is in the control group (no contact)");
    if (card_updated && has(seq.stop_on, "card_updated") && idx < kCardUpdatedSteps) {
      return skip("stop_on card_updated: the customer updated their card; reminders stop");
    }
    // contact_status is written by the dispatcher when a provider permanently refuses the
    // address; it is per customer and address, so a new address makes the customer reachable.
    const bool email_gone = unreachable(c.customer_id, "email");
    if (step.channel == config::Channel::kEmail && email_gone) {
      return skip("unreachable: the mail server refused the customer's address");
    }
    if (step.channel == config::Channel::kSms && unreachable(c.customer_id, "sms")) {
      return skip("unreachable: the SMS provider refused the customer's number");
    }
    if (email_gone && has(seq.stop_on, "unreachable")) {
      return skip("stop_on unreachable: the mail server refused the customer's address");
    }
  }

  store::OutboxRow row;
  row.case_id = c.id;
  row.step_index = idx;
  row.channel = std::string(config::to_string(step.channel));
  row.template_name = step.template_name;
  row.action = contact ? "" : std::string(config::to_string(step.action));
  row.message_key = "case:" + std::to_string(c.id) + ":step:" + std::to_string(idx);
  row.due_at = std::max(nominal, c.opened_at);
  row.created_at = now;
  std::vector<std::string> moved;

  auto customer = feed_.customer(c.customer_id);
  std::string zone_note;
  const auto* zone = rules::zone_or(customer ? customer->time_zone : "",
                                    cfg_.daemon.default_time_zone, &zone_note);
  if (!zone) zone = date::locate_zone("UTC");
  if (contact) {
    rules::Calendar cal{zone, seq.send_window.value_or(defaults.send_window), defaults.holidays};
    const Seconds look_back = std::chrono::hours(std::max(48, defaults.min_hours_between_messages));
    auto placed = rules::place_contact(
        row.due_at, cal, defaults, outbox_.contact_times(c.customer_id, row.due_at - look_back));
    if (!placed.possible) return skip(placed.why.back());
    row.due_at = placed.at;
    moved = std::move(placed.why);
  } else if (step.action == config::Action::kRetry) {
    if (step.prefer == "payday") {
      auto placed = rules::prefer_payday(row.due_at, zone, defaults);
      row.due_at = placed.at;
      moved = std::move(placed.why);
    }
    auto card = feed_.default_card(c.customer_id);
    row.card_id = card ? card->id : "customer:" + c.customer_id;
    constexpr Seconds kSpan = std::chrono::hours(24 * 30);
    auto others = outbox_.retry_times(*row.card_id, row.due_at - kSpan, row.due_at + kSpan);
    if (auto why = rules::retry_cap_violation(row.due_at, others,
                                              defaults.max_retries_per_card_per_30_days)) {
      spdlog::warn("case {}: retry not queued: {}", c.id, *why);
      return skip(*why + "; the retry is not sent");
    }
  }
  if (!zone_note.empty() && !moved.empty()) moved.insert(moved.begin(), zone_note);
  if (!outbox_.enqueue(row)) return;
  for (const auto& why : moved) cases_.add_event(c.id, now, "step_moved", why);
  if (!moved.empty()) ++stats.steps_deferred;
  cases_.add_event(c.id, now, "step_queued",
                   step_label(idx, step) + " (due " + format_iso8601(row.due_at) +
                       (contact ? ", " + rules::format_local(row.due_at, zone) : "") + ")");
  ++stats.steps_queued;
}

void Scheduler::on_card_change(const store::CardChange& ch, TickStats& stats) {
  const TimePoint now = clock_.now();
  for (const auto& c : cases_.open_for_customer(ch.customer_id)) {
    if (c.state != CaseState::kOpen) continue;
    const auto* seq = cfg_.sequences.find(c.sequence_id);
    const int earlier = cases_.count_events(c.id, "card_updated");
    cases_.add_event(
        c.id, now, "card_updated",
        "the customer's default card " + ch.payment_method_id + " was added or changed");
    ++stats.card_updates;
    if (!seq) continue;
    const bool stops = has(seq->stop_on, "card_updated");
    if (c.trigger == "card_expiring") {
      if (stops) {
        cases_.close(c.id, CaseState::kRecovered, now, "card updated");
        int n = outbox_.cancel_pending(c.id, now, "card updated");
        cases_.add_event(c.id, now, "closed",
                         "stop_on card_updated: the expiring card was replaced (" +
                             std::to_string(n) + " pending step(s) cancelled)");
      }
      continue;
    }
    if (stops) {
      int n = outbox_.cancel_pending_contacts(c.id, now, "card updated");
      cases_.add_event(c.id, now, "stopped",
                       "stop_on card_updated: reminders stop (" + std::to_string(n) +
                           " pending message(s) cancelled); actions continue");
    }
    for (std::size_t i = 0; i < seq->on_card_updated.size(); ++i) {
      const auto& step = seq->on_card_updated[i];
      queue_step(c, *seq, step, kCardUpdatedSteps + 16 * earlier + static_cast<int>(i),
                 now + step.at, stats);
    }
  }
}

void Scheduler::on_subscription_change(const store::SubscriptionChange& ch, TickStats& stats) {
  if (!subscription_ended(ch.status)) return;  // the feed has every status change
  const TimePoint now = clock_.now();
  for (const auto& c : cases_.open_for_subscription(ch.subscription_id)) {
    const auto* seq = cfg_.sequences.find(c.sequence_id);
    if (seq && !has(seq->stop_on, "subscription_cancelled")) {
      cases_.add_event(c.id, now, "subscription_cancelled",
                       "subscription " + ch.subscription_id + " is " + ch.status + "; sequence '" +
                           seq->id + "' has no stop_on subscription_cancelled, so it continues");
      continue;
    }
    if (c.trigger == "payment_failed") {
      ledger_.append(ledger::cancelled_entry(
          c, now, now, "subscription " + ch.subscription_id + " " + ch.status));
    }
    cases_.close(c.id, CaseState::kCancelled, now,
                 "subscription " + ch.subscription_id + " " + ch.status);
    int n = outbox_.cancel_pending(c.id, now, "subscription cancelled");
    cases_.add_event(c.id, now, "cancelled",
                     "stop_on subscription_cancelled: subscription " + ch.subscription_id + " is " +
                         ch.status + " (" + std::to_string(n) + " pending step(s) cancelled)");
    ++stats.cases_cancelled;
  }
}

void Scheduler::open_expiring_cases(TickStats& stats) {
  int max_days = 0;
  for (const auto& s : cfg_.sequences.sequences)
    if (s.trigger == config::Trigger::kCardExpiring)
      max_days = std::max(max_days, s.days_before_expiry);
  if (max_days == 0) return;
  const TimePoint now = clock_.now();
  auto month_index = [](TimePoint t) {
    date::year_month_day ymd(date::floor<date::days>(t));
    return static_cast<int>(ymd.year()) * 12 + static_cast<int>(unsigned(ymd.month())) - 1;
  };
  // A card expires at the end of its expiry month (UTC): it is in range when that end is after
  // now and at most max_days away.
  const int from = month_index(now);
  const int to = month_index(now + date::days{max_days}) - 1;
  if (to < from) return;
  for (const auto& card : feed_.expiring_cards(from, to, 10 * kBatch)) {
    date::year_month_day first{date::year{card.exp_year}, date::month{unsigned(card.exp_month)},
                               date::day{1}};
    const TimePoint end = date::sys_days(first + date::months{1});
    if (end <= now) continue;
    rules::CaseFacts facts;
    facts.trigger = config::Trigger::kCardExpiring;
    facts.days_until_expiry = static_cast<int>(std::chrono::ceil<date::days>(end - now).count());
    auto sub = feed_.customer_subscription(card.customer_id, kEndedSubscriptionStatuses);
    facts.plan = sub ? sub->plan : "";
    facts.amount = sub && sub->amount ? *sub->amount : Money(0, "XXX");
    if (auto customer = feed_.customer(card.customer_id)) facts.locale = customer->locale;
    std::vector<std::string> why_not;
    const auto* seq = rules::select_sequence(cfg_.sequences, facts, &why_not);
    if (!seq) continue;  // e.g. not yet within days_before_expiry: looked at again next tick
    CaseRecord c;
    c.trigger = "card_expiring";
    c.customer_id = card.customer_id;
    if (sub) c.subscription_id = sub->id;
    c.amount = facts.amount;
    c.sequence_id = seq->id;
    c.sequence_hash = seq->hash;
    c.opened_at = now;
    c.next_step = 0;
    c.next_due_at = rules::step_due_at(*seq, 0, now);
    c.holdout = rules::in_holdout("card:" + card.id + ":" + std::to_string(card.exp_year) + "-" +
                                      std::to_string(card.exp_month),
                                  cfg_.sequences.defaults.holdout_percent);
    c.id = cases_.insert(c);
    cases_.record_expiry_case(card, c.id);
    std::string detail = "sequence '" + seq->id + "' (version " + seq->hash + "): card " + card.id +
                         " expires " + std::to_string(card.exp_month) + "/" +
                         std::to_string(card.exp_year) + ", in " +
                         std::to_string(*facts.days_until_expiry) + " days";
    for (const auto& w : why_not) detail += "; passed over " + w;
    cases_.add_event(c.id, now, "opened", detail);
    if (c.holdout) {
      cases_.add_event(c.id, now, "holdout", "in the control group: no email or sms");
    }
    ++stats.cases_opened;
    advance_case(c, stats);
  }
}

}  // namespace dunning::scheduler
