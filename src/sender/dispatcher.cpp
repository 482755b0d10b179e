#include "dunning/sender/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "dunning/sender/mime.hpp"

namespace dunning::sender {

using store::OutboxRow;
using store::OutboxState;

Dispatcher::Dispatcher(store::Store& store, const config::Config& cfg,
                       const templates::Renderer& renderer, EmailTransport& email,
                       const Clock& clock)
    : store_(store), cfg_(cfg), renderer_(renderer), email_(email), clock_(clock) {}

std::string Dispatcher::message_id(std::int64_t case_id, int step_index, const std::string& from) {
  std::string addr = address_of(from);
  auto at = addr.find('@');
  std::string domain = at == std::string::npos ? "dunningd.local" : addr.substr(at + 1);
  return "dunningd.case-" + std::to_string(case_id) + ".step-" + std::to_string(step_index) + "@" +
         domain;
}

DispatchStats Dispatcher::dispatch_due() {
  DispatchStats stats;
  const auto& ob = cfg_.daemon.outbox;
  for (;;) {
    if (stop_requested()) break;
    std::vector<OutboxRow> batch;
    {
      store::Store::Tx tx(store_);
      batch = store_.claim_outbox(clock_.now(), ob.lease, ob.batch_size);
      tx.commit();
    }
    if (batch.empty()) break;
    bool reachable = true;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& row = batch[i];
      if (stop_requested()) {
        const std::size_t handed_back = batch.size() - i;
        store::Store::Tx tx(store_);
        for (; i < batch.size(); ++i) store_.release_outbox(batch[i].id);
        tx.commit();
        spdlog::info("stop requested: {} claimed messages handed back to the outbox", handed_back);
        return stats;
      }
      if (!reachable) {
        retry_later(row, "not attempted: the mail server was unreachable in this round", stats);
        continue;
      }
      reachable = deliver(row, stats);
    }
    if (!reachable) break;
  }
  return stats;
}

bool Dispatcher::deliver(const OutboxRow& row, DispatchStats& stats) {
  if (row.channel != "email") {
    // SMS, webhooks, retries and billing calls have no transport configured yet: record why.
    fail(row, OutboxState::kSkipped, "no " + row.channel + " transport configured", stats);
    return true;
  }
  auto c = store_.get_case(row.case_id);
  if (!c) {
    fail(row, OutboxState::kFailed, "case not found", stats);
    return true;
  }
  auto customer = store_.customer(c->customer_id);
  if (!customer || customer->email.empty()) {
    fail(row, OutboxState::kFailed, "customer " + c->customer_id + " has no email address", stats);
    return true;
  }
  templates::MessageData d;
  d.case_id = c->id;
  d.customer_id = c->customer_id;
  d.customer_name = customer->name;
  d.customer_email = customer->email;
  d.locale = customer->locale;
  d.time_zone = customer->time_zone.empty() ? cfg_.daemon.default_time_zone : customer->time_zone;
  d.amount = c->amount;
  d.invoice_id = c->invoice_id.value_or("");
  d.decline_code = c->decline_code;
  if (c->subscription_id) d.plan = store_.subscription_plan(*c->subscription_id).value_or("");
  if (auto card = store_.default_card(c->customer_id)) {
    d.card_brand = card->brand;
    d.card_last4 = card->last4;
    d.card_exp_month = card->exp_month;
    d.card_exp_year = card->exp_year;
  }
  d.update_url = cfg_.daemon.company.update_url;
  for (auto [key, value] : {std::pair<std::string, std::string>{"{customer}", c->customer_id},
                            {"{case}", std::to_string(c->id)}}) {
    for (auto pos = d.update_url.find(key); pos != std::string::npos;
         pos = d.update_url.find(key)) {
      d.update_url.replace(pos, key.size(), value);
    }
  }
  if (const auto* seq = cfg_.sequences.find(c->sequence_id)) {
    for (std::size_t i = static_cast<std::size_t>(row.step_index) + 1; i < seq->steps.size(); ++i) {
      const auto& step = seq->steps[i];
      if (!d.next_retry_at && step.action == config::Action::kRetry)
        d.next_retry_at = c->opened_at + step.at;
      if (!d.cancel_at && step.is_final()) d.cancel_at = c->opened_at + step.at;
    }
  }

  auto rendered = renderer_.render(row.template_name, d);
  if (!rendered) {
    fail(row, OutboxState::kFailed, "template: " + rendered.error().message, stats);
    return true;
  }
  Email e;
  e.from = cfg_.daemon.smtp.from;
  e.reply_to = cfg_.daemon.smtp.reply_to;
  e.to_name = customer->name;
  e.to_address = customer->email;
  e.subject = rendered->subject;
  e.text = rendered->text;
  e.html = rendered->html;
  e.message_id = message_id(c->id, row.step_index, e.from);
  e.date = clock_.now();
  e.extra_headers.push_back({"X-Dunningd-Case", std::to_string(c->id)});
  e.extra_headers.push_back({"X-Dunningd-Step", std::to_string(row.step_index)});

  Delivery result = email_.send(address_of(e.from), customer->email, build_mime(e));
  switch (result.outcome) {
    case Delivery::Outcome::kDelivered: {
      store::Store::Tx tx(store_);
      store_.mark_outbox_sent(row.id, clock_.now());
      store_.add_case_event(row.case_id, clock_.now(), "step_sent",
                            "step #" + std::to_string(row.step_index + 1) + " email " +
                                row.template_name + " (" + rendered->locale + ") accepted by " +
                                email_.name());
      tx.commit();
      ++stats.sent;
      spdlog::info("case {} step {}: email '{}' sent to {}", row.case_id, row.step_index + 1,
                   row.template_name, customer->email);
      return true;
    }
    case Delivery::Outcome::kTransient:
      retry_later(row, result.detail, stats);
      return !result.connection_failed;
    case Delivery::Outcome::kRecipientRejected:
      fail(row, OutboxState::kFailed, "recipient refused: " + result.detail, stats);
      return true;
    case Delivery::Outcome::kPermanent:
      // Not about this customer (credentials, relay): keep the row and say so loudly.
      spdlog::error("mail server {} refused permanently: {} — check the smtp settings",
                    email_.name(), result.detail);
      retry_later(row, result.detail, stats);
      return false;
  }
  return true;
}

void Dispatcher::retry_later(const OutboxRow& row, const std::string& why, DispatchStats& stats) {
  const auto& ob = cfg_.daemon.outbox;
  const TimePoint now = clock_.now();
  if (now - row.due_at > ob.give_up_after) {
    fail(row, OutboxState::kFailed,
         "gave up after " + format_duration(ob.give_up_after) + ": " + why, stats);
    return;
  }
  // Exponential backoff with ±20% jitter, so many rows failing together do not retry together.
  const int exponent = std::min(row.attempts - 1, 20);
  auto delay =
      std::min<long long>(ob.retry_base.count() << std::max(exponent, 0), ob.retry_max.count());
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  delay = std::max<long long>(1, static_cast<long long>(static_cast<double>(delay) * jitter(rng)));
  store::Store::Tx tx(store_);
  store_.mark_outbox_retry(row.id, now + Seconds(delay), why);
  tx.commit();
  ++stats.retried;
  spdlog::warn("case {} step {}: {} not delivered ({}); attempt {} failed, next try in {}",
               row.case_id, row.step_index + 1, row.channel, why, row.attempts,
               format_duration(Seconds(delay)));
}

void Dispatcher::fail(const OutboxRow& row, OutboxState state, const std::string& why,
                      DispatchStats& stats) {
  store::Store::Tx tx(store_);
  store_.mark_outbox_final(row.id, state, clock_.now(), why);
  store_.add_case_event(
      row.case_id, clock_.now(), state == OutboxState::kSkipped ? "step_skipped" : "step_failed",
      "step #" + std::to_string(row.step_index + 1) + " " + row.channel + ": " + why);
  tx.commit();
  if (state == OutboxState::kSkipped) {
    ++stats.skipped;
    spdlog::info("case {} step {}: skipped: {}", row.case_id, row.step_index + 1, why);
  } else {
    ++stats.failed;
    spdlog::error("case {} step {}: failed permanently: {}", row.case_id, row.step_index + 1, why);
  }
}

}  // namespace dunning::sender
