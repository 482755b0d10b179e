#include "dunning/sender/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "dunning/config/secrets.hpp"
#include "dunning/core/crypto.hpp"
#include "dunning/core/signed_link.hpp"
#include "dunning/sender/mime.hpp"
#include "sender/http_client.hpp"

namespace dunning::sender {

using store::OutboxRow;
using store::OutboxState;
using json = nlohmann::json;

namespace {

constexpr const char* kWebhookCursor = "webhooks";

// A syntactically usable addr-spec: no whitespace or control characters (so no header or SMTP
// command injection), one '@' with something on both sides.
bool plausible_email(const std::string& a) {
  if (a.empty() || a.size() > 254) return false;
  for (unsigned char c : a)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',') return false;
  auto at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() && a.find('@', at + 1) == a.npos;
}

// "+385 91 234-5678" → "+385912345678"; nullopt when it is not an E.164 number.
std::optional<std::string> e164(const std::string& phone) {
  std::string out;
  for (char c : phone) {
    if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.') continue;
    out += c;
  }
  if (out.rfind("00", 0) == 0) out = "+" + out.substr(2);
  if (out.size() < 8 || out.size() > 16 || out[0] != '+' || out[1] == '0') return std::nullopt;
  if (!std::all_of(out.begin() + 1, out.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return out;
}

std::string step_label(const OutboxRow& row) {
  return "step #" + std::to_string(row.step_index + 1) + " " + row.channel +
         (row.template_name.empty() ? " " + row.action : " " + row.template_name);
}

// The webhook event type of a case_events kind.
std::string event_type(const std::string& kind) {
  if (kind == "opened") return "case.opened";
  if (kind == "step_sent") return "step.sent";
  if (kind == "recovered") return "case.recovered";
  if (kind == "lost") return "case.lost";
  return "case." + kind;
}

json case_json(const store::CaseRecord& c) {
  json j;
  j["id"] = c.id;
  j["customer_id"] = c.customer_id;
  j["subscription_id"] = c.subscription_id ? json(*c.subscription_id) : json(nullptr);
  j["invoice_id"] = c.invoice_id ? json(*c.invoice_id) : json(nullptr);
  j["payment_id"] = c.payment_id ? json(*c.payment_id) : json(nullptr);
  j["amount_minor"] = c.amount.minor();
  j["currency"] = c.amount.currency();
  j["decline_code"] = c.decline_code;
  j["sequence_id"] = c.sequence_id;
  j["state"] = std::string(store::to_string(c.state));
  j["attempt_count"] = c.attempt_count;
  return j;
}

}  // namespace

// What happened to one claimed row; written by apply() inside the batch's transaction.
struct Dispatcher::Decision {
  enum class Kind { kNone, kSent, kRetry, kFinal, kHold, kRelease };
  Kind kind = Kind::kNone;
  OutboxState state = OutboxState::kFailed;  // kFinal
  std::string why;                           // error / reason / what was done (kSent)
  bool email_ready = false;                  // a message waits in the batch's send_all
  std::string customer_id;
  std::string address;  // the email address or phone number used
  bool mark_unreachable = false;
  std::string pause_channel;    // non-empty: pause this channel for everyone
  std::function<void()> extra;  // more writes in the same transaction (retry answers)
  std::string locale;

  // The row ends here: sent nothing more, `state` with the reason.
  void finish(OutboxState s, std::string reason) {
    kind = Kind::kFinal;
    state = s;
    why = std::move(reason);
  }
};

std::string update_url(const config::Config& cfg, const std::string& customer_id,
                       std::int64_t case_id, TimePoint now,
                       const std::optional<std::string>& link_secret) {
  const auto& links = cfg.daemon.links;
  if (!links.base_url.empty() && link_secret && !link_secret->empty()) {
    return links.base_url + "/r/" +
           make_link_token({customer_id, case_id, now + links.ttl}, *link_secret);
  }
  return expand_link_pattern(cfg.daemon.company.update_url, customer_id, case_id);
}

templates::MessageData case_message_data(store::Store& store, const config::Config& cfg,
                                         const store::CaseRecord& c, int step_index, TimePoint now,
                                         const std::optional<std::string>& link_secret) {
  templates::MessageData d;
  d.case_id = c.id;
  d.customer_id = c.customer_id;
  if (auto customer = store.customer(c.customer_id)) {
    d.customer_name = customer->name;
    d.customer_email = customer->email;
    d.locale = customer->locale;
    d.time_zone = customer->time_zone;
  }
  if (d.time_zone.empty()) d.time_zone = cfg.daemon.default_time_zone;
  d.amount = c.amount;
  d.invoice_id = c.invoice_id.value_or("");
  d.decline_code = c.decline_code;
  if (c.subscription_id) d.plan = store.subscription_plan(*c.subscription_id).value_or("");
  if (auto card = store.default_card(c.customer_id)) {
    d.card_brand = card->brand;
    d.card_last4 = card->last4;
    d.card_exp_month = card->exp_month;
    d.card_exp_year = card->exp_year;
  }
  d.update_url = update_url(cfg, c.customer_id, c.id, now, link_secret);
  if (const auto* seq = cfg.sequences.find(c.sequence_id)) {
    for (std::size_t i = static_cast<std::size_t>(std::max(step_index, -1) + 1);
         i < seq->steps.size(); ++i) {
      const auto& step = seq->steps[i];
      if (!d.next_retry_at && step.action == config::Action::kRetry)
        d.next_retry_at = c.opened_at + step.at;
      if (!d.cancel_at && step.is_final()) d.cancel_at = c.opened_at + step.at;
    }
  }
  return d;
}

Dispatcher::Dispatcher(store::Store& store, const config::Config& cfg,
                       const templates::Renderer& renderer, EmailTransport& email,
                       const Clock& clock)
    : store_(store), cfg_(cfg), renderer_(renderer), email_(email), clock_(clock) {
  const auto& links = cfg_.daemon.links;
  if (!links.base_url.empty()) {
    link_secret_ = config::read_secret(links.secret_env);
    if (!link_secret_) {
      // Said once at start-up (config::missing_secrets); a dispatcher is made every poll.
      spdlog::debug("links: no secret '{}': messages carry company.update_url",
                    links.secret_env);
    }
  }
}

Dispatcher::~Dispatcher() = default;

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
  const TimePoint now = clock_.now();
  std::vector<std::string> skip;  // channels not claimed in this round
  for (const auto& p : store_.channel_pauses()) {
    if (p.retry_at > now) {
      skip.push_back(p.channel);
      spdlog::error(
          "{} channel PAUSED for all customers since {} ({}); {} due step(s) held, next try at {}",
          p.channel, format_iso8601(p.since), p.reason, store_.pending_due(p.channel, now),
          format_iso8601(p.retry_at));
    } else {
      probing_.push_back(p.channel);
      spdlog::warn("{} channel paused since {} ({}): trying again", p.channel,
                   format_iso8601(p.since), p.reason);
    }
  }
  for (;;) {
    if (stop_requested()) break;
    std::vector<OutboxRow> batch;
    {
      store::Store::Tx tx(store_);
      batch = store_.claim_outbox(now, ob.lease, ob.batch_size, skip);
      tx.commit();
    }
    if (batch.empty()) break;

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<Decision> decisions(batch.size());
    std::vector<OutgoingEmail> emails;
    std::vector<std::size_t> email_rows;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& row = batch[i];
      try {
        if (row.channel == "email") {
          OutgoingEmail e;
          prepare_email(row, decisions[i], e);
          if (decisions[i].email_ready) {
            emails.push_back(std::move(e));
            email_rows.push_back(i);
          }
        } else if (row.channel == "sms") {
          send_sms(row, decisions[i]);
        } else {
          run_action(row, decisions[i]);
        }
      } catch (const std::exception& e) {
        decisions[i].kind = Decision::Kind::kRetry;
        decisions[i].why = std::string("internal error: ") + e.what();
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (!emails.empty() && stop_requested()) {
      // Stopping: what was already done (sms, actions) is recorded; the mail goes back unsent.
      for (std::size_t i : email_rows) decisions[i].kind = Decision::Kind::kRelease;
      emails.clear();
      spdlog::info("stop requested: {} claimed messages handed back to the outbox",
                   email_rows.size());
    }
    if (!emails.empty()) {
      auto results = email_.send_all(emails, stop_);
      for (std::size_t k = 0; k < results.size(); ++k) {
        on_email_result(batch[email_rows[k]], results[k], decisions[email_rows[k]]);
      }
    }

    const auto t2 = std::chrono::steady_clock::now();
    bool stop_email = false;
    {
      store::Store::Tx tx(store_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        apply(batch[i], decisions[i], stats);
        if (!decisions[i].pause_channel.empty() &&
            std::find(skip.begin(), skip.end(), decisions[i].pause_channel) == skip.end()) {
          skip.push_back(decisions[i].pause_channel);
        }
      }
      tx.commit();
    }
    // Counted once the outcomes are committed: a rolled-back batch counts nothing.
    for (std::size_t i = 0; counters_ != nullptr && i < batch.size(); ++i) {
      const auto& d = decisions[i];
      if (d.kind == Decision::Kind::kSent) counters_->on_sent(batch[i].channel);
      if (d.kind == Decision::Kind::kRetry) counters_->on_retried(batch[i].channel);
      if (d.kind == Decision::Kind::kFinal && d.state == OutboxState::kSkipped)
        counters_->on_skipped(batch[i].channel);
      if (d.kind == Decision::Kind::kFinal && d.state != OutboxState::kSkipped)
        counters_->on_failed(batch[i].channel);
    }
    if (released_ > 0) {
      spdlog::info("stop requested: {} claimed messages handed back to the outbox", released_);
      released_ = 0;
    }
    auto ms = [](auto d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    spdlog::debug("batch of {}: prepared in {} ms, {} emails sent in {} ms, recorded in {} ms",
                  batch.size(), ms(t1 - t0), emails.size(), ms(t2 - t1),
                  ms(std::chrono::steady_clock::now() - t2));
    for (std::size_t k = 0; k < email_rows.size(); ++k) {
      if (decisions[email_rows[k]].kind == Decision::Kind::kRetry) stop_email = true;
    }
    // A transient failure of the mail server: the rest of the email waits for its backoff.
    if (stop_email && std::find(skip.begin(), skip.end(), "email") == skip.end()) {
      skip.push_back("email");
    }
  }
  try {
    deliver_webhooks(stats);
  } catch (const std::exception& e) {
    spdlog::error("webhooks: {}", e.what());
  }
  return stats;
}

void Dispatcher::prepare_email(const OutboxRow& row, Decision& d, OutgoingEmail& out) {
  auto c = store_.get_case(row.case_id);
  if (!c) return d.finish(OutboxState::kFailed, "case not found");
  auto customer = store_.customer(c->customer_id);
  if (!customer || customer->email.empty()) {
    return d.finish(OutboxState::kSkipped, "customer " + c->customer_id + " has no email address");
  }
  if (!plausible_email(customer->email)) {
    return d.finish(OutboxState::kFailed,
                    "customer " + c->customer_id + " has an invalid email address (not sent)");
  }
  d.customer_id = c->customer_id;
  d.address = customer->email;
  if (auto st = store_.contact_status(c->customer_id, "email", customer->email)) {
    return d.finish(OutboxState::kSkipped, "address " + customer->email + " is unreachable since " +
                                               format_iso8601(st->at) + ": " + st->reason);
  }
  const TimePoint now = clock_.now();
  auto data = case_message_data(store_, cfg_, *c, row.step_index, now, link_secret_);
  auto rendered = renderer_.render(row.template_name, data);
  if (!rendered) return d.finish(OutboxState::kFailed, "template: " + rendered.error().message);
  d.locale = rendered->locale;

  Email e;
  e.from = cfg_.daemon.smtp.from;
  e.reply_to = cfg_.daemon.smtp.reply_to;
  e.to_name = customer->name;
  e.to_address = customer->email;
  e.subject = rendered->subject;
  e.text = rendered->text;
  e.html = rendered->html;
  e.message_id = message_id(c->id, row.step_index, e.from);
  e.date = now;
  e.extra_headers.push_back({"X-Dunningd-Case", std::to_string(c->id)});
  e.extra_headers.push_back({"X-Dunningd-Step", std::to_string(row.step_index)});
  e.list_unsubscribe =
      expand_uri_patterns(cfg_.daemon.smtp.list_unsubscribe, c->customer_id, c->id);
  e.list_unsubscribe_post = cfg_.daemon.smtp.list_unsubscribe_post;
  out.envelope_from = address_of(e.from);
  out.envelope_to = customer->email;
  out.mime = build_mime(e);
  d.email_ready = true;
}

void Dispatcher::on_email_result(const OutboxRow& row, const Delivery& result, Decision& d) {
  if (!result.attempted && stop_requested()) {
    d.kind = Decision::Kind::kRelease;  // stopping: back to the outbox for the next run
    ++released_;
    return;
  }
  switch (result.outcome) {
    case Delivery::Outcome::kDelivered:
      d.kind = Decision::Kind::kSent;
      d.why = "email " + row.template_name + " (" + d.locale + ") accepted by " + email_.name();
      return;
    case Delivery::Outcome::kTransient:
      d.kind = Decision::Kind::kRetry;
      d.why = result.detail;
      return;
    case Delivery::Outcome::kRecipientRejected:
      d.finish(OutboxState::kFailed, "recipient refused: " + result.detail);
      d.mark_unreachable = true;
      return;
    case Delivery::Outcome::kPermanent:
      // Not about this customer (credentials, relay, our sender address): hold everyone's mail.
      d.kind = Decision::Kind::kHold;
      d.why = "mail server refused permanently (not about the recipient): " + result.detail;
      d.pause_channel = "email";
      return;
  }
}

void Dispatcher::send_sms(const OutboxRow& row, Decision& d) {
  const auto& sms = cfg_.daemon.sms;
  if (sms.url.empty()) return d.finish(OutboxState::kSkipped, "no sms transport configured");
  auto c = store_.get_case(row.case_id);
  if (!c) return d.finish(OutboxState::kFailed, "case not found");
  auto customer = store_.customer(c->customer_id);
  if (!customer || customer->phone.empty()) {
    return d.finish(OutboxState::kSkipped, "customer " + c->customer_id + " has no phone number");
  }
  auto number = e164(customer->phone);
  if (!number) {
    return d.finish(OutboxState::kFailed,
                    "phone number '" + customer->phone + "' is not an E.164 number");
  }
  d.customer_id = c->customer_id;
  d.address = *number;
  if (auto st = store_.contact_status(c->customer_id, "sms", *number)) {
    return d.finish(OutboxState::kSkipped, "number " + *number + " is unreachable since " +
                                               format_iso8601(st->at) + ": " + st->reason);
  }
  auto data = case_message_data(store_, cfg_, *c, row.step_index, clock_.now(), link_secret_);
  auto rendered = renderer_.render(row.template_name, data);
  if (!rendered) return d.finish(OutboxState::kFailed, "template: " + rendered.error().message);
  if (rendered->sms.empty()) {
    return d.finish(OutboxState::kFailed, "template " + row.template_name + " (" +
                                              rendered->locale + ") has no 'sms' text");
  }
  json body;
  body["to"] = *number;
  body["text"] = rendered->sms;
  if (!sms.from.empty()) body["from"] = sms.from;
  body["reference"] = row.message_key;
  std::vector<std::string> headers = {"Idempotency-Key: " + row.message_key};
  if (auto token = config::read_secret(sms.token_env))
    headers.push_back("Authorization: Bearer " + *token);
  if (!sms_http_) sms_http_ = std::make_unique<HttpClient>(sms.timeout);
  HttpReply reply = sms_http_->post_json(sms.url, body.dump(), headers);
  if (reply.ok()) {
    d.kind = Decision::Kind::kSent;
    d.why = "sms " + row.template_name + " (" + rendered->locale + ") to " + *number +
            " accepted by the SMS API (" + reply.describe() + ")";
    return;
  }
  if (reply.transient()) {
    d.kind = Decision::Kind::kRetry;
    d.why = "SMS API: " + reply.describe();
  } else if (reply.status == 401 || reply.status == 403) {
    d.kind = Decision::Kind::kHold;
    d.why = "SMS API refused our credentials: " + reply.describe();
    d.pause_channel = "sms";
  } else {
    // Any other 4xx names the message: the number (unknown, unroutable, opted out).
    d.finish(OutboxState::kFailed, "SMS API refused the number: " + reply.describe());
    d.mark_unreachable = true;
  }
}

void Dispatcher::run_action(const OutboxRow& row, Decision& d) {
  auto c = store_.get_case(row.case_id);
  if (!c) return d.finish(OutboxState::kFailed, "case not found");
  const TimePoint now = clock_.now();
  if (row.action == "mark_lost") {
    return d.finish(OutboxState::kSkipped, "mark_lost calls nothing: the case is closed as lost");
  }
  if (row.action == "webhook") {
    if (cfg_.daemon.webhooks.url.empty()) {
      return d.finish(OutboxState::kSkipped, "no webhooks.url configured");
    }
    json ev;
    ev["id"] = row.message_key;
    ev["type"] = "step.webhook";
    ev["created_at"] = format_iso8601(now);
    ev["case"] = case_json(*c);
    ev["step"] = row.step_index;
    if (!webhook_http_) webhook_http_ = std::make_unique<HttpClient>(cfg_.daemon.webhooks.timeout);
    long status = 0;
    bool transient = false;
    std::string detail =
        sign_and_post(*webhook_http_, "step.webhook", ev.dump(), status, transient);
    return http_result(row, "webhook", status, detail, transient, d);
  }
  const auto& billing = cfg_.daemon.billing;
  if (billing.url.empty()) {
    return d.finish(OutboxState::kSkipped,
                    "no billing endpoint configured for '" + row.action + "'");
  }
  if (row.action != "retry" && row.action != "cancel" && row.action != "pause") {
    return d.finish(OutboxState::kSkipped, "unknown action '" + row.action + "'");
  }
  json body = case_json(*c);
  body["case_id"] = c->id;
  body["step"] = row.step_index;
  if (row.action == "retry") body["attempt"] = c->attempt_count + 1;
  if (row.action != "retry") body["reason"] = "dunning sequence '" + c->sequence_id + "' ended";
  std::vector<std::string> headers = {"Idempotency-Key: " + row.message_key};
  if (auto token = config::read_secret(billing.token_env))
    headers.push_back("Authorization: Bearer " + *token);
  if (!billing_http_) billing_http_ = std::make_unique<HttpClient>(billing.timeout);
  HttpReply reply = billing_http_->post_json(billing.url + "/" + row.action, body.dump(), headers);
  if (!reply.ok()) {
    return http_result(row, "billing " + row.action, reply.status, reply.describe(),
                       reply.transient(), d);
  }
  d.kind = Decision::Kind::kSent;
  if (row.action != "retry") {
    d.why = "billing " + row.action + " accepted (" + reply.describe() + ")";
    return;
  }
  // The retry's answer feeds back into the case.
  json answer = json::parse(reply.body, nullptr, false);
  const std::string status =
      answer.is_object() && answer.contains("status") && answer["status"].is_string()
          ? answer["status"].get<std::string>()
          : "";
  auto str = [&](const char* key) {
    return answer.is_object() && answer.contains(key) && answer[key].is_string()
               ? answer[key].get<std::string>()
               : std::string();
  };
  if (status == "succeeded") {
    store::Payment p;
    p.id = str("payment_id");
    if (p.id.empty()) p.id = "dunningd-" + row.message_key;
    p.customer_id = c->customer_id;
    p.subscription_id = c->subscription_id;
    p.invoice_id = c->invoice_id;
    p.amount = c->amount;
    p.status = "succeeded";
    p.occurred_at = now;
    d.why = "retry succeeded: payment " + p.id;
    const std::int64_t case_id = c->id;
    d.extra = [this, p, case_id, now] {
      store_.insert_payment(p);
      store_.increment_attempt_count(case_id);
      store_.add_case_event(
          case_id, now, "retry_succeeded",
          "the billing system charged " + p.amount.to_string() + " (payment " + p.id + ")");
    };
  } else if (status == "declined") {
    std::string code = str("decline_code");
    if (code.empty()) code = "generic_decline";
    d.why = "retry declined: " + code;
    const std::int64_t case_id = c->id;
    d.extra = [this, code, case_id, now] {
      store_.increment_attempt_count(case_id);
      store_.add_case_event(case_id, now, "retry_declined", "the billing system declined: " + code);
    };
  } else {
    d.finish(OutboxState::kFailed,
             "billing retry answer not understood (expected status succeeded or declined): " +
                 reply.describe());
  }
}

void Dispatcher::http_result(const OutboxRow& row, const std::string& what, long status,
                             const std::string& detail, bool transient, Decision& d) {
  (void)row;
  if (status >= 200 && status < 300) {
    d.kind = Decision::Kind::kSent;
    d.why = what + " accepted (" + detail + ")";
  } else if (transient) {
    d.kind = Decision::Kind::kRetry;
    d.why = what + ": " + detail;
  } else if (status == 401 || status == 403) {
    d.kind = Decision::Kind::kHold;
    d.why = what + " refused our credentials: " + detail;
    d.pause_channel = row.channel;
  } else {
    d.finish(OutboxState::kFailed, what + " refused: " + detail);
  }
}

void Dispatcher::apply(const OutboxRow& row, Decision& d, DispatchStats& stats) {
  const auto& ob = cfg_.daemon.outbox;
  const TimePoint now = clock_.now();
  switch (d.kind) {
    case Decision::Kind::kNone:
      store_.mark_outbox_retry(row.id, now, "not processed");
      return;
    case Decision::Kind::kRelease:
      store_.release_outbox(row.id);
      return;
    case Decision::Kind::kSent:
      store_.mark_outbox_sent(row.id, now);
      store_.add_case_event(row.case_id, now, "step_sent",
                            "step #" + std::to_string(row.step_index + 1) + " " + d.why);
      if (d.extra) d.extra();
      if (auto it = std::find(probing_.begin(), probing_.end(), row.channel);
          it != probing_.end()) {
        store_.resume_channel(row.channel);
        probing_.erase(it);
        spdlog::warn("{} channel resumed: the server accepted a message again", row.channel);
      }
      ++stats.sent;
      if (row.channel == "email") {
        spdlog::info("case {} {}: sent to {}: {}", row.case_id, step_label(row), d.address, d.why);
      } else {
        spdlog::info("case {} {}: {}", row.case_id, step_label(row), d.why);
      }
      return;
    case Decision::Kind::kRetry: {
      if (now - row.due_at > ob.give_up_after) {
        d.finish(OutboxState::kFailed,
                 "gave up after " + format_duration(ob.give_up_after) + ": " + d.why);
        return apply(row, d, stats);
      }
      // Exponential backoff with ±20% jitter, so many rows failing together do not retry
      // together.
      const int exponent = std::clamp(row.attempts - 1, 0, 20);
      auto delay = std::min<long long>(ob.retry_base.count() << exponent, ob.retry_max.count());
      static thread_local std::mt19937 rng{std::random_device{}()};
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      delay =
          std::max<long long>(1, static_cast<long long>(static_cast<double>(delay) * jitter(rng)));
      store_.mark_outbox_retry(row.id, now + Seconds(delay), d.why);
      ++stats.retried;
      spdlog::warn("case {} {}: not delivered ({}); attempt {} failed, next try in {}", row.case_id,
                   step_label(row), d.why, row.attempts, format_duration(Seconds(delay)));
      return;
    }
    case Decision::Kind::kHold: {
      const TimePoint retry_at = now + ob.retry_max;
      if (!d.pause_channel.empty()) {
        store_.pause_channel(d.pause_channel, d.why, now, retry_at);
        spdlog::critical(
            "{} channel PAUSED for all customers: {}. Fix the configuration or the account; "
            "steps stay pending and are tried again at {} (or at restart/reload)",
            d.pause_channel, d.why, format_iso8601(retry_at));
      }
      store_.mark_outbox_retry(row.id, retry_at, d.why);
      ++stats.held;
      return;
    }
    case Decision::Kind::kFinal:
      store_.mark_outbox_final(row.id, d.state, now, d.why);
      store_.add_case_event(
          row.case_id, now, d.state == OutboxState::kSkipped ? "step_skipped" : "step_failed",
          "step #" + std::to_string(row.step_index + 1) + " " + row.channel + ": " + d.why);
      if (d.mark_unreachable && !d.address.empty()) {
        store_.mark_unreachable(d.customer_id, row.channel, d.address, d.why, now);
        store_.add_case_event(row.case_id, now, "contact_unreachable",
                              row.channel + " " + d.address + " marked unreachable: " + d.why);
      }
      if (d.state == OutboxState::kSkipped) {
        ++stats.skipped;
        spdlog::info("case {} {}: skipped: {}", row.case_id, step_label(row), d.why);
      } else {
        ++stats.failed;
        spdlog::error("case {} {}: failed permanently: {}", row.case_id, step_label(row), d.why);
      }
      return;
  }
}

std::string Dispatcher::sign_and_post(HttpClient& http, const std::string& type,
                                      const std::string& body, long& status, bool& transient) {
  const auto& wh = cfg_.daemon.webhooks;
  auto secret = config::read_secret(wh.secret_env);
  if (!secret) {
    status = 0;
    transient = true;
    return "webhook secret '" + wh.secret_env + "' is not set";
  }
  const std::string ts = std::to_string(clock_.now().time_since_epoch().count());
  const std::string sig = hmac_sha256_hex(*secret, ts + "." + body);
  HttpReply reply = http.post_json(wh.url, body,
                                   {"X-Dunningd-Event: " + type, "X-Dunningd-Timestamp: " + ts,
                                    "X-Dunningd-Signature: t=" + ts + ",v1=" + sig});
  status = reply.status;
  transient = reply.transient();
  return reply.describe();
}

void Dispatcher::deliver_webhooks(DispatchStats& stats) {
  const auto& wh = cfg_.daemon.webhooks;
  if (wh.url.empty() || wh.events.empty()) return;
  std::vector<std::string> kinds;
  for (const auto& e : wh.events) {
    if (e == "case.opened") kinds.push_back("opened");
    if (e == "step.sent") kinds.push_back("step_sent");
    if (e == "case.recovered") kinds.push_back("recovered");
    if (e == "case.lost") kinds.push_back("lost");
  }
  if (!webhook_http_) webhook_http_ = std::make_unique<HttpClient>(wh.timeout);
  for (;;) {
    const std::int64_t cursor = store_.cursor(kWebhookCursor);
    auto events = store_.case_events_after(cursor, kinds, 100);
    if (events.empty()) return;
    std::int64_t done = cursor;
    bool stop = false;
    for (const auto& ev : events) {
      json body;
      body["id"] = "evt_" + std::to_string(ev.id);
      body["type"] = event_type(ev.kind);
      body["created_at"] = format_iso8601(ev.at);
      body["detail"] = ev.detail;
      if (auto c = store_.get_case(ev.case_id)) body["case"] = case_json(*c);
      long status = 0;
      bool transient = false;
      std::string detail = sign_and_post(*webhook_http_, body["type"].get<std::string>(),
                                         body.dump(), status, transient);
      if (status >= 200 && status < 300) {
        ++stats.webhooks;
      } else if (transient) {
        spdlog::warn("webhook {} for case {} not delivered ({}); will retry", event_type(ev.kind),
                     ev.case_id, detail);
        stop = true;
        break;
      } else {
        spdlog::error("webhook {} for case {} refused permanently ({}); dropped",
                      event_type(ev.kind), ev.case_id, detail);
      }
      done = ev.id;
    }
    if (done != cursor) {
      store::Store::Tx tx(store_);
      store_.set_cursor(kWebhookCursor, done);
      tx.commit();
    }
    if (stop) return;
  }
}

}  // namespace dunning::sender
