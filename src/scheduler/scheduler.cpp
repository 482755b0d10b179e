#include "dunning/scheduler/scheduler.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "dunning/core/subscription_status.hpp"
#include "dunning/rules/rules.hpp"

namespace dunning::scheduler {

using store::CaseRecord;
using store::CaseState;
using store::Payment;

TickStats& TickStats::operator+=(const TickStats& o) {
  payments_read += o.payments_read;
  cases_opened += o.cases_opened;
  cases_recovered += o.cases_recovered;
  partial_payments += o.partial_payments;
  late_payments += o.late_payments;
  refunds += o.refunds;
  cases_lost += o.cases_lost;
  steps_queued += o.steps_queued;
  steps_skipped += o.steps_skipped;
  steps_deferred += o.steps_deferred;
  cases_cancelled += o.cases_cancelled;
  card_updates += o.card_updates;
  rows_rejected += o.rows_rejected;
  more = more || o.more;
  return *this;
}

bool TickStats::any() const {
  return payments_read || cases_opened || cases_recovered || partial_payments || late_payments ||
         refunds || cases_lost || steps_queued || steps_skipped || cases_cancelled ||
         card_updates || rows_rejected;
}

Scheduler::Scheduler(store::Database& db, store::PaymentsFeed& feed, store::Cases& cases,
                     store::Outbox& outbox, store::LedgerBook& ledger, store::ContactBook& contacts,
                     const config::Config& cfg, const Clock& clock)
    : db_(db),
      feed_(feed),
      cases_(cases),
      outbox_(outbox),
      contacts_(contacts),
      lifecycle_(cases, outbox, ledger),
      cfg_(cfg),
      clock_(clock),
      declines_(DeclineTable::builtin()),
      caps_(rules::capabilities_of(cfg.daemon)) {
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

template <typename Work>
bool Scheduler::batch(TickStats& total, Work&& work) {
  TickStats b;
  store::Tx tx(db_);
  const bool did = work(b);
  if (!did) return false;
  tx.commit();
  total += b;  // counted only once it is on disk: a rolled-back batch reports nothing
  return true;
}

TickStats Scheduler::tick(const TickLimits& limits) {
  TickStats stats;
  now_ = clock_.now();
  int batches = 0;
  // True while this tick may run another batch; once it may not, `more` says work may be left.
  auto room = [&] {
    if (limits.stop != nullptr && limits.stop->load()) return false;
    return batches < limits.max_batches;
  };
  auto run = [&](auto&& work) {
    for (;;) {
      if (!room()) {
        stats.more = true;
        return false;
      }
      if (!batch(stats, work)) return true;  // this feed is drained
      ++batches;
    }
  };
  // Card changes first: a card saved before a payment fails must not count as an update of the
  // case that payment opens.
  const bool cards_done = run([&](TickStats& b) {
    auto changes = feed_.card_changes_after(feed_.cursor(kCardChangesCursor), kBatch);
    if (changes.empty()) return false;
    for (const auto& ch : changes) on_card_change(ch, b);
    feed_.set_cursor(kCardChangesCursor, changes.back().seq);
    return true;
  });
  if (!cards_done) return stats;
  const bool payments_done = run([&](TickStats& b) {
    const auto cursor = feed_.cursor(kPaymentsCursor);
    auto read = feed_.payments_after(cursor, kBatch);
    if (read.last_rowid == cursor) return false;
    for (const auto& row : read.rows) {
      if (row.payment) {
        on_payment(*row.payment, b);
        ++b.payments_read;
      } else {
        reject(row, b);
      }
    }
    feed_.set_cursor(kPaymentsCursor, read.last_rowid);
    return true;
  });
  if (!payments_done) return stats;
  const bool declines_done = run([&](TickStats&) {
    static const std::array<std::string, 1> kinds = {"decline_code"};
    auto learned = cases_.events_after(feed_.cursor(kDeclinesCursor), kinds, kBatch);
    if (learned.empty()) return false;
    for (const auto& ev : learned) on_decline_learned(ev.case_id);
    feed_.set_cursor(kDeclinesCursor, learned.back().id);
    return true;
  });
  if (!declines_done) return stats;
  const bool subscriptions_done = run([&](TickStats& b) {
    auto changes =
        feed_.subscription_changes_after(feed_.cursor(kSubscriptionChangesCursor), kBatch);
    if (changes.empty()) return false;
    for (const auto& ch : changes) on_subscription_change(ch, b);
    feed_.set_cursor(kSubscriptionChangesCursor, changes.back().seq);
    return true;
  });
  if (!subscriptions_done) return stats;
  batch(stats, [&](TickStats& b) {
    open_expiring_cases(b);
    return true;
  });
  run([&](TickStats& b) {
    auto due = cases_.due(now_, kBatch);
    if (due.empty()) return false;
    for (const auto& c : due) advance_case(c, b);
    return true;
  });
  return stats;
}

void Scheduler::reject(const store::PaymentRead& row, TickStats& stats) {
  // The cursor moves past the row (it would fail the same way at every poll); it is reported
  // once, in rejected_rows, for the operator to fix in the billing system.
  spdlog::error("payments row {} (rowid {}) cannot be read and is skipped: {}", row.id, row.rowid,
                row.payment.error().message);
  feed_.record_rejected({"payments", row.rowid, row.id, row.payment.error().message}, now_);
  ++stats.rows_rejected;
}

rules::SendFacts Scheduler::facts_of(const CaseRecord& c, std::string* zone_note) {
  rules::SendFacts f;
  f.now = now_;
  f.holdout = c.holdout;
  f.clicked = cases_.clicked(c.id);
  f.card_updated = c.card_updated_at.has_value();
  f.caps = caps_;
  // The exact addresses a step would use: a new address makes the customer reachable again.
  const auto customer = feed_.customer(c.customer_id);
  const auto zone =
      rules::customer_zone(customer ? customer->time_zone : "", cfg_.daemon.default_time_zone);
  f.zone = zone.zone;
  if (zone_note) *zone_note = zone.note;
  if (customer) {
    if (!customer->email.empty()) {
      f.email_unreachable =
          contacts_.contact_status(c.customer_id, Channel::kEmail, customer->email).has_value();
    }
    if (!customer->phone.empty()) {
      f.sms_unreachable =
          contacts_.contact_status(c.customer_id, Channel::kSms, customer->phone).has_value();
    }
  }
  return f;
}

void Scheduler::on_payment(const Payment& p, TickStats& stats) {
  switch (p.status) {
    case store::PaymentStatus::kFailed:
      return on_failed(p, stats);
    case store::PaymentStatus::kSucceeded:
      return on_succeeded(p, stats);
    case store::PaymentStatus::kRefunded:
      return on_refund(p, stats);
  }
}

void Scheduler::on_failed(const Payment& p, TickStats& stats) {
  if (!p.invoice_id) {
    spdlog::warn("failed payment {} has no invoice_id; no case opened", p.id);
    return;
  }
  if (auto open = cases_.open_for_invoice(*p.invoice_id)) {
    cases_.add_event(open->id, p.occurred_at, "payment_failed",
                     "another failed payment " + p.id + " (" + p.decline_code + ")");
    return;
  }
  // Facts arrive in any order (Stripe does not guarantee it): an invoice paid after this failure
  // is not outstanding, and telling the customer so would be false.
  if (auto paid = feed_.paid_since(*p.invoice_id, p.occurred_at)) {
    spdlog::info("failed payment {} for invoice {}: the invoice was paid by {} at {}; no case",
                 p.id, *p.invoice_id, paid->id, format_iso8601(paid->occurred_at));
    return;
  }
  open_case(p, stats);
}

void Scheduler::on_succeeded(const Payment& p, TickStats& stats) {
  std::optional<CaseRecord> c;
  if (p.invoice_id) {
    c = cases_.open_for_invoice(*p.invoice_id);
  } else {
    // Invoice unknown: the customer's oldest open case in the same currency.
    for (auto& candidate : cases_.open_for_customer(p.customer_id)) {
      if (candidate.trigger == Trigger::kPaymentFailed &&
          candidate.amount.currency() == p.amount.currency()) {
        c = std::move(candidate);
        break;
      }
    }
  }
  if (!c) {
    // Money for an invoice whose case already ended (written off, cancelled): its own row.
    if (!p.invoice_id) return;
    auto ended = cases_.latest_for_invoice(*p.invoice_id);
    if (!ended || (ended->state != CaseState::kLost && ended->state != CaseState::kCancelled) ||
        ended->trigger != Trigger::kPaymentFailed) {
      return;
    }
    lifecycle_.pay_late(*ended, p, now_);
    ++stats.late_payments;
    spdlog::info("case {}: {} paid late by {} (the case was {})", ended->id, p.amount.to_string(),
                 p.id, store::to_string(ended->state));
    return;
  }
  switch (lifecycle_.pay(*c, p, now_)) {
    case cases::PaymentEffect::kRecovered:
      ++stats.cases_recovered;
      spdlog::info("case {} recovered: {} paid by {}", c->id, p.amount.to_string(), p.id);
      break;
    case cases::PaymentEffect::kPartial:
      ++stats.partial_payments;
      spdlog::info("case {}: partial payment {} by {}", c->id, p.amount.to_string(), p.id);
      break;
    default:
      break;
  }
}

void Scheduler::on_refund(const Payment& p, TickStats& stats) {
  if (!p.invoice_id) return;
  auto c = cases_.latest_for_invoice(*p.invoice_id);
  if (!c || c->trigger != Trigger::kPaymentFailed) return;
  if (lifecycle_.refund(*c, p, now_)) {
    ++stats.refunds;
    spdlog::info("case {}: refund {} of {} recorded as a correction", c->id, p.id,
                 p.amount.to_string());
  }
}

void Scheduler::on_decline_learned(std::int64_t case_id) {
  auto c = cases_.get(case_id);
  if (!c || c->state != CaseState::kOpen || c->trigger != Trigger::kPaymentFailed) return;
  rules::CaseFacts facts;
  facts.trigger = config::Trigger::kPaymentFailed;
  facts.decline_code = c->decline_code;
  facts.decline_class = declines_.classify(c->decline_code);
  facts.amount = c->amount;
  if (c->subscription_id) facts.plan = feed_.subscription_plan(*c->subscription_id).value_or("");
  if (auto customer = feed_.customer(c->customer_id)) facts.locale = customer->locale;
  std::vector<std::string> why_not;
  const auto* seq = rules::select_sequence(cfg_.sequences, facts, &why_not);
  if (!seq || seq->id == c->sequence_id) return;
  const std::string decline =
      std::string(to_string(facts.decline_class)) + " decline '" + c->decline_code + "'";
  if (cases_.count_events(c->id, "step_queued") > 0) {
    cases_.add_event(c->id, now_, "sequence_kept",
                     "the " + decline + " selects sequence '" + seq->id + "', but steps of '" +
                         c->sequence_id + "' were already queued: the case keeps '" +
                         c->sequence_id + "'");
    return;
  }
  cases_.set_sequence(c->id, seq->id, seq->hash);
  cases_.set_progress(c->id, 0, rules::step_due_at(*seq, 0, c->opened_at));
  cases_.add_event(c->id, now_, "sequence_selected",
                   "sequence '" + seq->id + "' (version " + seq->hash + ") for the " + decline +
                       " that came after the case opened; it followed '" + c->sequence_id +
                       "', of which nothing was queued");
  spdlog::info("case {}: {} came late; sequence '{}' instead of '{}'", c->id, decline, seq->id,
               c->sequence_id);
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
  c.trigger = Trigger::kPaymentFailed;
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
  std::string detail = "sequence '" + seq->id + "' (version " + seq->hash + ") for a " +
                       std::string(to_string(facts.decline_class)) + " decline '" + p.decline_code +
                       "' of " + p.amount.to_string();
  for (const auto& w : why_not) detail += "; passed over " + w;
  lifecycle_.open(c, detail, now_);
  ++stats.cases_opened;
  spdlog::info("case {} opened for invoice {} ({}): {}", c.id, *p.invoice_id, p.amount.to_string(),
               seq->id);
  advance_case(c, stats);
}

void Scheduler::advance_case(const CaseRecord& c, TickStats& stats) {
  const auto* seq = cfg_.sequences.find(c.sequence_id);
  if (!seq) {
    // The sequence was removed from the config: the case keeps waiting, visibly.
    spdlog::warn("case {}: sequence '{}' is no longer configured; case left open", c.id,
                 c.sequence_id);
    cases_.set_progress(c.id, c.next_step, std::nullopt);
    cases_.add_event(c.id, now_, "stalled", "sequence '" + c.sequence_id + "' not configured");
    return;
  }
  if (seq->hash != c.sequence_hash &&
      cases_.count_events(c.id, "sequence_changed:" + seq->hash) == 0) {
    // Policy (docs/rules.md): an open case follows the current version of its sequence id, by
    // step index; the hash it started with stays on the case.
    cases_.add_event(c.id, now_, "sequence_changed:" + seq->hash,
                     "sequence '" + seq->id + "' changed from version " + c.sequence_hash + " to " +
                         seq->hash + "; the case continues at step #" +
                         std::to_string(c.next_step + 1) + " of the new version");
  }
  auto progress = rules::advance(*seq, c.opened_at, static_cast<std::size_t>(c.next_step), now_);
  for (const auto& skipped : progress.skipped) {
    cases_.add_event(c.id, now_, "step_skipped",
                     step_label(static_cast<int>(skipped.index), seq->steps[skipped.index]) + ": " +
                         skipped.reason);
    ++stats.steps_skipped;
  }
  for (std::size_t idx : progress.run_now) {
    const auto& step = seq->steps[idx];
    if (step.is_final()) {
      write_off(c, step, static_cast<int>(idx), stats);
    } else {
      queue_step(c, *seq, step, static_cast<int>(idx), rules::step_due_at(*seq, idx, c.opened_at),
                 stats);
    }
  }
  if (progress.closes_case) return;
  // `c` is the case as stored (read in this batch, or just inserted): a case opened with its
  // first step still ahead — most of them — is stored as it should be already, and writes
  // nothing more.
  if (static_cast<int>(progress.next_step) != c.next_step ||
      progress.next_due_at != c.next_due_at) {
    cases_.set_progress(c.id, static_cast<int>(progress.next_step), progress.next_due_at);
  }
  if (!progress.next_due_at && c.trigger == Trigger::kCardExpiring) {
    lifecycle_.expire(c, now_);  // nothing was at stake in money: no ledger row
  }
}

void Scheduler::write_off(const CaseRecord& c, const config::Step& step, int idx,
                          TickStats& stats) {
  // What the final action will do, in the words finance reads next to the lost row.
  std::string note;
  if (auto why = rules::cannot_act(step, caps_); !why.empty()) {
    note = "nothing is cancelled: " + why;
  } else if (step.action == config::Action::kCancel || step.action == config::Action::kPause) {
    note = "the billing system is asked to " + std::string(config::to_string(step.action)) +
           " the subscription";
  }
  lifecycle_.write_off(c, idx, step, note, now_);
  ++stats.cases_lost;
  ++stats.steps_queued;
  spdlog::info("case {} lost: {} written off ({})", c.id, c.outstanding().to_string(),
               step.describe());
}

void Scheduler::queue_step(const CaseRecord& c, const config::Sequence& seq,
                           const config::Step& step, int idx, TimePoint nominal, TickStats& stats) {
  const auto& defaults = cfg_.sequences.defaults;
  const bool contact = step.channel != config::Channel::kAction;
  // What would make the step never go out is asked now too (the send-time gate asks again with
  // the facts of that moment), so the timeline says so when the step comes due.
  std::string zone_note;
  auto facts = facts_of(c, &zone_note);
  store::OutboxRow row;
  row.case_id = c.id;
  row.step_index = idx;
  row.channel = step.channel;
  row.template_name = step.template_name;
  row.action = contact ? Action::kNone : step.action;
  row.message_key = "case:" + std::to_string(c.id) + ":step:" + std::to_string(idx);
  row.due_at = std::max(nominal, c.opened_at);
  row.created_at = now_;
  if (step.action == config::Action::kRetry) {
    auto card = feed_.default_card(c.customer_id);
    row.card_id = card ? card->id : "customer:" + c.customer_id;
    facts.card_retries = outbox_.retries_made(*row.card_id, now_ - std::chrono::hours(24 * 30));
  }
  if (auto why = rules::skip_reason(seq, step, idx, defaults, facts); !why.empty()) {
    cases_.add_event(c.id, now_, "step_skipped", step_label(idx, step) + ": " + why);
    ++stats.steps_skipped;
    return;
  }

  // Placed where the plan (rules::plan_case) says it will run: the send window and the caps
  // for contacts (counting the customer's other planned and sent messages), payday for retries.
  std::vector<TimePoint> others;
  if (contact) {
    const Seconds look_back = std::chrono::hours(std::max(48, defaults.min_hours_between_messages));
    others = outbox_.contact_times(c.customer_id, row.due_at - look_back);
  }
  auto placed = rules::place_step(seq, step, row.due_at, defaults, facts.zone, others);
  if (!placed.possible) {
    cases_.add_event(c.id, now_, "step_skipped", step_label(idx, step) + ": " + placed.why.back());
    ++stats.steps_skipped;
    return;
  }
  row.due_at = placed.at;
  if (step.action == config::Action::kRetry) {
    constexpr Seconds kSpan = std::chrono::hours(24 * 30);
    auto planned = outbox_.retry_times(*row.card_id, row.due_at - kSpan, row.due_at + kSpan);
    if (auto why = rules::retry_cap_violation(row.due_at, planned,
                                              defaults.max_retries_per_card_per_30_days)) {
      spdlog::warn("case {}: retry not queued: {}", c.id, *why);
      cases_.add_event(c.id, now_, "step_skipped",
                       step_label(idx, step) + ": " + *why + "; the retry is not sent");
      ++stats.steps_skipped;
      return;
    }
  }
  if (!outbox_.enqueue(row)) return;
  if (!zone_note.empty() && !placed.why.empty()) placed.why.insert(placed.why.begin(), zone_note);
  for (const auto& why : placed.why) cases_.add_event(c.id, now_, "step_moved", why);
  if (!placed.why.empty()) ++stats.steps_deferred;
  cases_.add_event(c.id, now_, "step_queued",
                   step_label(idx, step) + " (due " + format_iso8601(row.due_at) +
                       (contact ? ", " + rules::format_local(row.due_at, facts.zone) : "") + ")");
  ++stats.steps_queued;
}

void Scheduler::on_card_change(const store::CardChange& ch, TickStats& stats) {
  for (const auto& c : cases_.open_for_customer(ch.customer_id)) {
    if (c.state != CaseState::kOpen) continue;
    const auto* seq = cfg_.sequences.find(c.sequence_id);
    // The number of earlier updates numbers this update's on_card_updated steps in the outbox.
    const int earlier = cases_.count_events(c.id, "card_updated");
    cases_.set_card_updated(c.id, now_);
    cases_.add_event(
        c.id, now_, "card_updated",
        "the customer's default card " + ch.payment_method_id + " was added or changed");
    ++stats.card_updates;
    if (!seq) continue;
    const bool stops = has(seq->stop_on, "card_updated");
    if (c.trigger == Trigger::kCardExpiring) {
      if (stops) {
        lifecycle_.card_replaced(c, "stop_on card_updated: the expiring card was replaced", now_);
      }
      continue;
    }
    if (stops) {
      int n = outbox_.cancel_pending_contacts(c.id, now_, "card updated");
      cases_.add_event(c.id, now_, "stopped",
                       "stop_on card_updated: reminders stop (" + std::to_string(n) +
                           " pending message(s) cancelled); actions continue");
    }
    auto updated = c;
    updated.card_updated_at = now_;
    for (std::size_t i = 0; i < seq->on_card_updated.size(); ++i) {
      const auto& step = seq->on_card_updated[i];
      queue_step(updated, *seq, step, rules::kCardUpdatedSteps + 16 * earlier + static_cast<int>(i),
                 now_ + step.at, stats);
    }
  }
}

void Scheduler::on_subscription_change(const store::SubscriptionChange& ch, TickStats& stats) {
  if (!subscription_ended(ch.status)) return;  // the feed has every status change
  for (const auto& c : cases_.open_for_subscription(ch.subscription_id)) {
    const auto* seq = cfg_.sequences.find(c.sequence_id);
    if (seq && !has(seq->stop_on, "subscription_cancelled")) {
      cases_.add_event(c.id, now_, "subscription_cancelled",
                       "subscription " + ch.subscription_id + " is " + ch.status + "; sequence '" +
                           seq->id + "' has no stop_on subscription_cancelled, so it continues");
      continue;
    }
    lifecycle_.cancel(
        c,
        "stop_on subscription_cancelled: subscription " + ch.subscription_id + " is " + ch.status,
        now_);
    ++stats.cases_cancelled;
  }
}

void Scheduler::open_expiring_cases(TickStats& stats) {
  int max_days = 0;
  for (const auto& s : cfg_.sequences.sequences)
    if (s.trigger == config::Trigger::kCardExpiring)
      max_days = std::max(max_days, s.days_before_expiry);
  if (max_days == 0) return;
  const TimePoint now = now_;
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
    if (sub) facts.amount = sub->amount;  // nullopt: no amount a sequence could match on
    if (auto customer = feed_.customer(card.customer_id)) facts.locale = customer->locale;
    std::vector<std::string> why_not;
    const auto* seq = rules::select_sequence(cfg_.sequences, facts, &why_not);
    if (!seq) continue;  // e.g. not yet within days_before_expiry: looked at again next tick
    CaseRecord c;
    c.trigger = Trigger::kCardExpiring;
    c.customer_id = card.customer_id;
    if (sub) c.subscription_id = sub->id;
    c.amount = facts.amount.value_or(Money(0, "XXX"));  // see CaseRecord::amount
    c.sequence_id = seq->id;
    c.sequence_hash = seq->hash;
    c.opened_at = now;
    c.next_step = 0;
    c.next_due_at = rules::step_due_at(*seq, 0, now);
    c.holdout = rules::in_holdout("card:" + card.id + ":" + std::to_string(card.exp_year) + "-" +
                                      std::to_string(card.exp_month),
                                  cfg_.sequences.defaults.holdout_percent);
    std::string detail = "sequence '" + seq->id + "' (version " + seq->hash + "): card " + card.id +
                         " expires " + std::to_string(card.exp_month) + "/" +
                         std::to_string(card.exp_year) + ", in " +
                         std::to_string(*facts.days_until_expiry) + " days";
    for (const auto& w : why_not) detail += "; passed over " + w;
    lifecycle_.open(c, detail, now);
    cases_.record_expiry_case(card, c.id);
    ++stats.cases_opened;
    advance_case(c, stats);
  }
}

}  // namespace dunning::scheduler
