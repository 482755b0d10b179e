#include "dunning/sender/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "dunning/cases/plan.hpp"
#include "dunning/config/secrets.hpp"
#include "dunning/core/crypto.hpp"
#include "dunning/core/signed_link.hpp"
#include "dunning/sender/mime.hpp"

namespace dunning::sender {

using store::OutboxRow;
using store::OutboxState;
using json = nlohmann::json;

namespace {

// The longest a dispatch round claims new batches before the poller gets its turn.
constexpr std::chrono::seconds kRoundBudget{2};

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
  return "step #" + std::to_string(row.step_index + 1) + " " + std::string(to_string(row.channel)) +
         " " + (row.template_name.empty() ? std::string(to_string(row.action)) : row.template_name);
}

// The webhook event type of a case_events kind.
std::string event_type(const std::string& kind) {
  if (kind == "opened") return "case.opened";
  if (kind == "step_sent") return "step.sent";
  if (kind == "recovered") return "case.recovered";
  if (kind == "lost") return "case.lost";
  return "case." + kind;
}

}  // namespace

// One email of a batch as the database thread left it: everything read from the store (the
// case's message data, the headers), not yet rendered.
struct MailJob {
  std::string template_name;
  templates::MessageData data;
  Email email;  // all but subject and bodies, which the rendering fills in
  std::string envelope_from;
  std::string envelope_to;
};

// What became of one job: a template that would not render (nothing sent), or the delivery and
// the locale of the text that was sent.
struct MailResult {
  std::optional<std::string> template_error;
  std::string locale;
  Delivery delivery;
};

namespace {

// A batch's mail is rendered and sent while the rest of the batch is read: the database thread
// hands jobs over in chunks; each chunk runs on a helper thread that renders its templates and
// builds the MIME (then waits for the chunk before it to finish with the transport, which has
// one caller at a time) and sends. So while one chunk is on the wire, the next is rendered and
// the one after that is read from the database. At most two chunks are in flight; chunks grow
// from small (the first message starts early) to large (few idle connections at a chunk's
// end). After a result that stops the batch, nothing more is started. The destructor waits for
// every chunk: no thread outlives the batch.
class MailPipeline {
 public:
  MailPipeline(const templates::Renderer& renderer, EmailTransport& transport,
               const SendBounds& bounds)
      : renderer_(renderer), transport_(transport), bounds_(bounds) {}
  MailPipeline(const MailPipeline&) = delete;
  MailPipeline& operator=(const MailPipeline&) = delete;
  ~MailPipeline() { wait_all(); }

  void add(std::size_t row, MailJob job) {
    rows_.push_back(row);
    pending_.push_back(std::move(job));
    if (pending_.size() >= chunk_) launch();
  }
  // Sends what is left and waits; then results()[k] belongs to rows()[k]. Rethrows what the
  // transport threw.
  void finish() {
    launch();
    wait_all();
    if (error_) std::rethrow_exception(error_);
  }
  // Waits for the chunks in flight and starts nothing more (the database failed mid-batch).
  void abandon() {
    wait_all();
    pending_.clear();
    rows_.resize(results_.size());
  }
  const std::vector<std::size_t>& rows() const { return rows_; }
  const std::vector<MailResult>& results() const { return results_; }

 private:
  static constexpr std::size_t kFirstChunk = 16;
  static constexpr std::size_t kMaxChunk = 128;
  static constexpr std::size_t kMaxInFlight = 2;  // one on the wire, the next rendering

  struct Chunk {
    std::vector<MailResult> results;
    bool stopped = false;  // this chunk or one before it stopped the batch
  };
  struct InFlight {
    std::size_t size;
    std::shared_future<Chunk> done;
  };

  void launch() {
    if (pending_.empty()) return;
    if (in_flight_.size() >= kMaxInFlight) collect_oldest();
    std::shared_future<Chunk> before;
    if (!in_flight_.empty()) before = in_flight_.back().done;
    const std::size_t size = pending_.size();
    auto done =
        std::async(std::launch::async, [this, jobs = std::move(pending_), before]() mutable {
          return run(jobs, before);
        }).share();
    in_flight_.push_back({size, std::move(done)});
    pending_.clear();
    chunk_ = std::min(chunk_ * 2, kMaxChunk);
  }

  // On the chunk's own thread.
  Chunk run(std::vector<MailJob>& jobs, const std::shared_future<Chunk>& before) {
    Chunk c;
    c.results.resize(jobs.size());
    std::vector<OutgoingEmail> out;
    std::vector<std::size_t> sent;  // out[k] is jobs[sent[k]]
    out.reserve(jobs.size());
    sent.reserve(jobs.size());
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      auto& job = jobs[k];
      auto rendered = renderer_.render(job.template_name, job.data);
      if (!rendered) {
        c.results[k].template_error = rendered.error().message;
        continue;
      }
      c.results[k].locale = rendered->locale;
      job.email.subject = std::move(rendered->subject);
      job.email.text = std::move(rendered->text);
      job.email.html = std::move(rendered->html);
      out.push_back(
          {std::move(job.envelope_from), std::move(job.envelope_to), build_mime(job.email)});
      sent.push_back(k);
    }
    if (before.valid()) {
      try {
        c.stopped = before.get().stopped;
      } catch (...) {
        c.stopped = true;  // the transport threw on the chunk before: the caller rethrows it
      }
    }
    if (c.stopped) {
      for (auto k : sent) {
        c.results[k].delivery =
            Delivery::not_attempted("not attempted: the mail server failed earlier in this batch");
      }
      return c;
    }
    auto deliveries = transport_.send_all(out, bounds_);
    for (std::size_t i = 0; i < sent.size(); ++i) {
      // A transport owes one answer per message; a missing one is never read as delivered.
      if (i >= deliveries.size()) {
        c.results[sent[i]].delivery = Delivery::not_attempted("no answer from the mail transport");
        continue;
      }
      if (deliveries[i].stops_batch()) c.stopped = true;
      c.results[sent[i]].delivery = std::move(deliveries[i]);
    }
    return c;
  }

  void collect_oldest() {
    auto f = std::move(in_flight_.front());
    in_flight_.erase(in_flight_.begin());
    try {
      const auto& c = f.done.get();
      results_.insert(results_.end(), c.results.begin(), c.results.end());
    } catch (...) {
      if (!error_) error_ = std::current_exception();
      MailResult r;
      r.delivery = Delivery::not_attempted("not attempted: the mail transport failed");
      results_.insert(results_.end(), f.size, r);
    }
  }

  void wait_all() {
    while (!in_flight_.empty()) collect_oldest();
  }

  const templates::Renderer& renderer_;
  EmailTransport& transport_;
  const SendBounds& bounds_;
  std::size_t chunk_ = kFirstChunk;
  std::vector<std::size_t> rows_;
  std::vector<MailJob> pending_;
  std::vector<MailResult> results_;
  std::vector<InFlight> in_flight_;
  std::exception_ptr error_;
};

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

DispatchStats& DispatchStats::operator+=(const DispatchStats& o) {
  sent += o.sent;
  retried += o.retried;
  failed += o.failed;
  skipped += o.skipped;
  deferred += o.deferred;
  held += o.held;
  webhooks += o.webhooks;
  unrecorded = o.unrecorded;
  more = o.more;
  return *this;
}

bool DispatchStats::any() const {
  return sent || retried || failed || skipped || deferred || held || webhooks || unrecorded;
}

// What happened to one claimed row, decided before anything is written.
struct Dispatcher::Decision {
  enum class Kind { kNone, kSent, kRetry, kFinal, kHold, kRelease, kDefer };
  Kind kind = Kind::kNone;
  OutboxState state = OutboxState::kFailed;  // kFinal
  std::string why;                           // error / reason / what was done (kSent)
  TimePoint until;                           // kDefer: due again then; kRetry/kHold: next try
  bool email_ready = false;                  // a message waits in the batch's send_all
  std::string customer_id;
  std::string address;  // the email address or phone number used
  bool mark_unreachable = false;
  std::optional<Channel> pause_channel;  // pause this channel for everyone
  // More writes in the recording transaction (a retry's answer). Safe to run again if the
  // transaction is retried: every write it makes is idempotent or rolled back with it.
  std::function<void()> extra;
  std::string locale;
  // What the gate read, for the message it lets through (read once per message, not twice).
  bool gated = false;
  std::optional<store::CaseRecord> gated_case;
  std::optional<store::Customer> gated_customer;

  // The row ends here: sent nothing more, `state` with the reason.
  void finish(OutboxState s, std::string reason) {
    kind = Kind::kFinal;
    state = s;
    why = std::move(reason);
  }
  // The gate says not now: due again at `t`.
  void defer(TimePoint t, std::string reason) {
    kind = Kind::kDefer;
    until = t;
    why = std::move(reason);
  }
};

// A claimed row, its decision, and when it was decided (the time written with it).
struct Dispatcher::Outcome {
  OutboxRow row;
  Decision d;
  TimePoint at;
};

// Facts of one batch that outlive one row: the contacts granted to each customer in this
// batch and not yet recorded (two cases of one customer in one batch share the daily cap).
// Per batch, not per round: once a batch is recorded its sent rows are in the outbox, and a
// message granted but handed back unsent must not count.
struct Dispatcher::BatchState {
  std::unordered_map<std::string, std::vector<TimePoint>> granted;
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

templates::MessageData case_message_data(store::PaymentsFeed& feed, store::Cases& cases,
                                         store::Outbox& outbox, const config::Config& cfg,
                                         const store::CaseRecord& c, TimePoint now,
                                         const std::optional<std::string>& link_secret) {
  return case_message_data(feed, cases, outbox, cfg, c, feed.customer(c.customer_id), now,
                           link_secret);
}

templates::MessageData case_message_data(store::PaymentsFeed& feed, store::Cases& cases,
                                         store::Outbox& outbox, const config::Config& cfg,
                                         const store::CaseRecord& c,
                                         const std::optional<store::Customer>& customer,
                                         TimePoint now,
                                         const std::optional<std::string>& link_secret) {
  templates::MessageData d;
  d.case_id = c.id;
  d.customer_id = c.customer_id;
  if (customer) {
    d.customer_name = customer->name;
    d.customer_email = customer->email;
    d.locale = customer->locale;
  }
  d.amount = c.outstanding();  // what is still owed after partial payments
  d.invoice_id = c.invoice_id.value_or("");
  d.decline_code = c.decline_code;
  if (c.subscription_id) d.plan = feed.subscription_plan(*c.subscription_id).value_or("");
  if (auto card = feed.default_card(c.customer_id)) {
    d.card_brand = card->brand;
    d.card_last4 = card->last4;
    d.card_exp_month = card->exp_month;
    d.card_exp_year = card->exp_year;
  }
  d.update_url = update_url(cfg, c.customer_id, c.id, now, link_secret);
  // The dates the customer is told are the plan's, in the zone the plan was made in.
  const auto view = cases::plan_of(c, cfg, customer, cases, outbox);
  d.time_zone = view.zone.zone->name();
  if (view.plan.next_retry) d.next_retry_at = view.plan.next_retry->at;
  d.cancel_at = view.plan.cancel_at;
  return d;
}

Dispatcher::Dispatcher(store::Database& db, store::Outbox& outbox, store::Cases& cases,
                       store::ContactBook& contacts, store::PaymentsFeed& feed,
                       store::FactsWriter& facts, const config::Config& cfg,
                       const templates::Renderer& renderer, Channels channels, const Clock& clock,
                       std::optional<std::string> link_secret)
    : db_(db),
      outbox_(outbox),
      cases_(cases),
      contacts_(contacts),
      feed_(feed),
      facts_(facts),
      cfg_(cfg),
      renderer_(renderer),
      channels_(channels),
      clock_(clock),
      link_secret_(std::move(link_secret)),
      caps_(rules::capabilities_of(cfg.daemon)),
      rng_(std::random_device{}()) {}

Dispatcher::~Dispatcher() = default;

std::size_t Dispatcher::unrecorded() const { return unrecorded_.size(); }

std::string Dispatcher::message_id(std::int64_t case_id, int step_index, const std::string& from) {
  std::string addr = address_of(from);
  auto at = addr.find('@');
  std::string domain = at == std::string::npos ? "dunningd.local" : addr.substr(at + 1);
  return "dunningd.case-" + std::to_string(case_id) + ".step-" + std::to_string(step_index) + "@" +
         domain;
}

Dispatcher::Decision Dispatcher::gate(const OutboxRow& row, BatchState& batch, TimePoint now) {
  Decision d;
  auto c = cases_.get(row.case_id);
  if (!c) {
    d.finish(OutboxState::kFailed, "case not found");
    return d;
  }
  // The final action (cancel / pause / mark_lost) runs for the case it has just closed.
  const bool closing_action = row.channel == Channel::kAction && ends_case(row.action);
  if (c->state == store::CaseState::kPaused && !closing_action) {
    d.defer(now + std::chrono::hours(1), "the case is paused by an admin; looked at again hourly");
    return d;
  }
  if (c->state != store::CaseState::kOpen && !closing_action) {
    d.finish(OutboxState::kCancelled,
             "the case is " + std::string(store::to_string(c->state)) + "; nothing more is sent");
    return d;
  }
  const config::Sequence* seq = cfg_.sequences.find(c->sequence_id);
  const config::Step* step = seq ? rules::find_step(*seq, row.step_index) : nullptr;
  // A step of a sequence (version) that is gone is still gated by what the row says it is.
  config::Sequence gone;
  config::Step from_row;
  if (!step) {
    from_row.channel = row.channel;
    from_row.template_name = row.template_name;
    from_row.action = row.action;
    step = &from_row;
    if (!seq) seq = &gone;
  }

  rules::SendFacts f;
  f.now = now;
  f.holdout = c->holdout;
  f.clicked = cases_.clicked(c->id);
  f.card_updated = c->card_updated_at.has_value();
  f.caps = caps_;
  auto customer = feed_.customer(c->customer_id);
  f.zone =
      rules::customer_zone(customer ? customer->time_zone : "", cfg_.daemon.default_time_zone).zone;
  const bool contact = is_contact(row.channel);
  if (customer && !customer->email.empty()) {
    f.email_unreachable =
        contacts_.contact_status(c->customer_id, Channel::kEmail, customer->email).has_value();
  }
  if (customer && !customer->phone.empty()) {
    if (auto number = e164(customer->phone)) {
      f.sms_unreachable =
          contacts_.contact_status(c->customer_id, Channel::kSms, *number).has_value();
    }
  }
  auto& granted = batch.granted[c->customer_id];
  if (contact) {
    f.contacts_sent = outbox_.sent_contact_times(c->customer_id, now - std::chrono::hours(72));
    f.contacts_sent.insert(f.contacts_sent.end(), granted.begin(), granted.end());
  }
  if (row.action == Action::kRetry && row.card_id) {
    f.card_retries = outbox_.retries_made(*row.card_id, now - std::chrono::hours(24 * 30));
  }
  const auto verdict = rules::send_gate(*seq, *step, row.step_index, cfg_.sequences.defaults, f);
  switch (verdict.kind) {
    case rules::GateVerdict::Kind::kSkip:
      d.finish(OutboxState::kSkipped, verdict.why);
      break;
    case rules::GateVerdict::Kind::kDefer:
      d.defer(verdict.until, verdict.why);
      break;
    case rules::GateVerdict::Kind::kSend:
      if (contact) granted.push_back(now);
      break;
  }
  d.gated = true;
  d.gated_case = std::move(c);
  d.gated_customer = std::move(customer);
  return d;
}

DispatchStats Dispatcher::dispatch_due() {
  DispatchStats stats;
  // What an earlier round could not write goes first: those rows are leased and were sent.
  if (!unrecorded_.empty()) {
    auto kept = std::move(unrecorded_);
    unrecorded_.clear();
    if (!record(kept, stats)) return stats;
  }
  const auto& ob = cfg_.daemon.outbox;
  std::vector<Channel> skip;  // channels not claimed in this round
  {
    const TimePoint now = clock_.now();
    for (const auto& p : contacts_.channel_pauses()) {
      if (p.retry_at > now) {
        skip.push_back(p.channel);
        spdlog::error(
            "{} channel PAUSED for all customers since {} ({}); {} due step(s) held, next try at "
            "{}",
            to_string(p.channel), format_iso8601(p.since), p.reason,
            outbox_.pending_due(p.channel, now), format_iso8601(p.retry_at));
      } else {
        probing_.push_back(p.channel);
        spdlog::warn("{} channel paused since {} ({}): trying again", to_string(p.channel),
                     format_iso8601(p.since), p.reason);
      }
    }
  }
  // A round hands the thread back to the poller after this long, so new payments are read
  // while a large backlog is sent; the caller polls again at once when `more` is set.
  const auto budget =
      std::min<std::chrono::steady_clock::duration>(cfg_.daemon.poll_interval, kRoundBudget);
  const auto round_start = std::chrono::steady_clock::now();
  // Halved when a batch could not start all its steps within its lease (a slow relay or a
  // slow machine), for the rest of this process's life.
  if (batch_size_ == 0 || batch_size_ > ob.batch_size) batch_size_ = ob.batch_size;
  int& batch_size = batch_size_;
  for (;;) {
    if (stop_requested()) break;
    if (std::chrono::steady_clock::now() - round_start >= budget) {
      stats.more = true;
      break;
    }
    // Each claim reads the clock: its lease runs from now, however long this round has taken.
    // Mail is started only in the first half of the lease; the second half is left for the
    // result to be recorded before another sender may claim the row again. Both count from
    // the same instant, before the claim: time spent waiting for the write lock is lease time
    // gone (another sender may claim the row once now + lease has passed, whenever we got it).
    const TimePoint now = clock_.now();
    const sender::SendBounds bounds{
        stop_, std::chrono::steady_clock::now() + std::chrono::milliseconds(ob.lease) / 2};
    std::vector<OutboxRow> batch;
    {
      store::Tx tx(db_);
      batch = outbox_.claim(now, ob.lease, batch_size, skip);
      tx.commit();
    }
    if (batch.empty()) break;

    const auto t0 = std::chrono::steady_clock::now();
    BatchState facts;
    std::vector<Outcome> outcomes(batch.size());
    MailPipeline mail(renderer_, channels_.email, bounds);
    std::size_t out_of_time = 0;  // rows handed back unstarted because start_by passed
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& o = outcomes[i];
      o.row = batch[i];
      if (bounds.reached()) {
        // Past the time to start (or stopping): the rest goes back unprepared, while the lease
        // is still ours, for this or another sender; nothing about it was decided.
        o.d.kind = Decision::Kind::kRelease;
        if (!stop_requested()) ++out_of_time;
        continue;
      }
      try {
        o.d = gate(o.row, facts, now);
        if (o.d.kind != Decision::Kind::kNone) continue;
        if (o.row.channel == Channel::kEmail) {
          MailJob job;
          prepare_email(o.row, o.d, job, now);
          if (o.d.email_ready) {
            if (stop_requested()) {
              o.d.kind = Decision::Kind::kRelease;  // stopping: the mail goes back unsent
            } else {
              mail.add(i, std::move(job));
            }
          }
        } else if (o.row.channel == Channel::kSms) {
          send_sms(o.row, o.d, now);
        } else {
          run_action(o.row, o.d, now);
        }
      } catch (const store::StoreError&) {
        // The database failed: the round stops and the leases keep the rows not yet done. What
        // was already sent is kept, to be recorded before anything new is sent.
        mail.abandon();
        for (std::size_t k = 0; k < mail.rows().size(); ++k) {
          on_email_result(outcomes[mail.rows()[k]].row, mail.results()[k],
                          outcomes[mail.rows()[k]].d);
        }
        const TimePoint done = clock_.now();
        for (std::size_t k = 0; k < i; ++k) {
          auto& kept = outcomes[k];
          if (kept.d.kind == Decision::Kind::kNone) continue;
          kept.at = done;
          unrecorded_.push_back(std::move(kept));
        }
        throw;
      } catch (const std::exception& e) {
        o.d.kind = Decision::Kind::kRetry;
        o.d.why = std::string("internal error: ") + e.what();
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    mail.finish();
    for (std::size_t k = 0; k < mail.rows().size(); ++k) {
      const auto& result = mail.results()[k];
      on_email_result(outcomes[mail.rows()[k]].row, result, outcomes[mail.rows()[k]].d);
      if (!result.template_error && result.delivery.out_of_time) ++out_of_time;
    }
    if (out_of_time > 0) {
      batch_size = std::max(1, batch_size / 2);
      spdlog::warn(
          "{} of {} claimed steps could not start within half of the {}s lease: handed "
          "back, batches of {} from now on (raise outbox.lease or lower "
          "outbox.batch_size)",
          out_of_time, batch.size(), ob.lease.count(), batch_size);
    }
    const auto t2 = std::chrono::steady_clock::now();
    const TimePoint done = clock_.now();
    for (auto& o : outcomes) o.at = done;
    bool stop_email = false;
    for (const auto& o : outcomes) {
      if (o.d.pause_channel &&
          std::find(skip.begin(), skip.end(), *o.d.pause_channel) == skip.end()) {
        skip.push_back(*o.d.pause_channel);
      }
      if (o.row.channel == Channel::kEmail && o.d.kind == Decision::Kind::kRetry) stop_email = true;
    }
    const auto released = std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) {
      return o.d.kind == Decision::Kind::kRelease;
    });
    const bool recorded = record(outcomes, stats);
    if (recorded && released > 0 && stop_requested()) {
      spdlog::info("stop requested: {} claimed messages handed back to the outbox", released);
    }
    auto ms = [](auto dt) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(dt).count();
    };
    spdlog::debug(
        "batch of {}: prepared in {} ms (sending meanwhile), {} emails finished {} ms later, "
        "recorded in {} ms",
        batch.size(), ms(t1 - t0), mail.rows().size(), ms(t2 - t1),
        ms(std::chrono::steady_clock::now() - t2));
    if (!recorded) break;  // kept for the next round; claim nothing more now
    // A transient failure of the mail server: the rest of the email waits for its backoff.
    if (stop_email && std::find(skip.begin(), skip.end(), Channel::kEmail) == skip.end()) {
      skip.push_back(Channel::kEmail);
    }
  }
  try {
    deliver_webhooks(stats);
  } catch (const std::exception& e) {
    spdlog::error("webhooks: {}", e.what());
  }
  stats.unrecorded = static_cast<int>(unrecorded_.size());
  return stats;
}

void Dispatcher::prepare_email(const OutboxRow& row, Decision& d, MailJob& job, TimePoint now) {
  auto c = d.gated ? std::move(d.gated_case) : cases_.get(row.case_id);
  if (!c) return d.finish(OutboxState::kFailed, "case not found");
  auto customer = d.gated ? std::move(d.gated_customer) : feed_.customer(c->customer_id);
  if (!customer || customer->email.empty()) {
    return d.finish(OutboxState::kSkipped, "customer " + c->customer_id + " has no email address");
  }
  if (!plausible_email(customer->email)) {
    return d.finish(OutboxState::kFailed,
                    "customer " + c->customer_id + " has an invalid email address (not sent)");
  }
  d.customer_id = c->customer_id;
  d.address = customer->email;
  job.template_name = row.template_name;
  job.data = case_message_data(feed_, cases_, outbox_, cfg_, *c, customer, now, link_secret_);

  Email& e = job.email;  // subject and bodies come with the rendering (MailPipeline)
  e.from = cfg_.daemon.smtp.from;
  e.reply_to = cfg_.daemon.smtp.reply_to;
  e.to_name = customer->name;
  e.to_address = customer->email;
  e.message_id = message_id(c->id, row.step_index, e.from);
  e.date = now;
  e.extra_headers.push_back({"X-Dunningd-Case", std::to_string(c->id)});
  e.extra_headers.push_back({"X-Dunningd-Step", std::to_string(row.step_index)});
  e.list_unsubscribe =
      expand_uri_patterns(cfg_.daemon.smtp.list_unsubscribe, c->customer_id, c->id);
  e.list_unsubscribe_post = cfg_.daemon.smtp.list_unsubscribe_post;
  job.envelope_from = address_of(e.from);
  job.envelope_to = customer->email;
  d.email_ready = true;
}

void Dispatcher::on_email_result(const OutboxRow& row, const MailResult& mail, Decision& d) {
  if (mail.template_error)
    return d.finish(OutboxState::kFailed, "template: " + *mail.template_error);
  d.locale = mail.locale;
  const Delivery& result = mail.delivery;
  if (!result.attempted && (result.out_of_time || stop_requested())) {
    d.kind = Decision::Kind::kRelease;  // back to the outbox, unsent, for this or another sender
    return;
  }
  switch (result.outcome) {
    case Delivery::Outcome::kDelivered:
      d.kind = Decision::Kind::kSent;
      d.why = "email " + row.template_name + " (" + d.locale + ") accepted by " +
              channels_.email.name();
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
      d.pause_channel = Channel::kEmail;
      return;
  }
}

void Dispatcher::send_sms(const OutboxRow& row, Decision& d, TimePoint now) {
  const auto& sms = cfg_.daemon.sms;
  auto c = cases_.get(row.case_id);
  if (!c) return d.finish(OutboxState::kFailed, "case not found");
  auto customer = feed_.customer(c->customer_id);
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
  auto data = case_message_data(feed_, cases_, outbox_, cfg_, *c, customer, now, link_secret_);
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
  HttpReply reply = channels_.sms.post_json(sms.url, body.dump(), headers);
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
    d.pause_channel = Channel::kSms;
  } else {
    // Any other 4xx names the message: the number (unknown, unroutable, opted out).
    d.finish(OutboxState::kFailed, "SMS API refused the number: " + reply.describe());
    d.mark_unreachable = true;
  }
}

void Dispatcher::run_action(const OutboxRow& row, Decision& d, TimePoint now) {
  auto c = cases_.get(row.case_id);
  if (!c) return d.finish(OutboxState::kFailed, "case not found");
  if (row.action == Action::kMarkLost) {
    return d.finish(OutboxState::kSkipped, "mark_lost calls nothing: the case is closed as lost");
  }
  if (row.action == Action::kWebhook) {
    json ev;
    ev["id"] = row.message_key;
    ev["type"] = "step.webhook";
    ev["created_at"] = format_iso8601(now);
    ev["case"] = case_json(*c);
    ev["step"] = row.step_index;
    return http_result(row, "webhook", sign_and_post("step.webhook", ev.dump()), d);
  }
  const auto& billing = cfg_.daemon.billing;
  if (row.action != Action::kRetry && row.action != Action::kCancel &&
      row.action != Action::kPause) {
    return d.finish(OutboxState::kSkipped,
                    "unknown action '" + std::string(to_string(row.action)) + "'");
  }
  json body = case_json(*c);
  body["case_id"] = c->id;
  body["step"] = row.step_index;
  body["amount_minor"] = c->outstanding().minor();  // what is still owed
  if (row.action == Action::kRetry) body["attempt"] = c->attempt_count + 1;
  if (row.action != Action::kRetry)
    body["reason"] = "dunning sequence '" + c->sequence_id + "' ended";
  std::vector<std::string> headers = {"Idempotency-Key: " + row.message_key};
  if (auto token = config::read_secret(billing.token_env))
    headers.push_back("Authorization: Bearer " + *token);
  const std::string action(to_string(row.action));
  HttpReply reply = channels_.billing.post_json(billing.url + "/" + action, body.dump(), headers);
  if (!reply.ok()) return http_result(row, "billing " + action, reply, d);
  d.kind = Decision::Kind::kSent;
  if (row.action != Action::kRetry) {
    d.why = "billing " + action + " accepted (" + reply.describe() + ")";
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
    store::PaymentRow p;
    p.id = str("payment_id");
    if (p.id.empty()) p.id = "dunningd-" + row.message_key;
    p.customer_id = c->customer_id;
    p.subscription_id = c->subscription_id;
    p.invoice_id = c->invoice_id;
    p.amount_minor = c->outstanding().minor();
    p.currency = c->amount.currency();
    p.status = store::PaymentStatus::kSucceeded;
    p.occurred_at = now;
    d.why = "retry succeeded: payment " + p.id;
    const std::int64_t case_id = c->id;
    const std::string paid = c->outstanding().to_string();
    d.extra = [this, p, case_id, now, paid] {
      facts_.append_payment(p);
      cases_.increment_attempt_count(case_id);
      cases_.add_event(case_id, now, "retry_succeeded",
                       "the billing system charged " + paid + " (payment " + p.id + ")");
    };
  } else if (status == "declined") {
    std::string code = str("decline_code");
    if (code.empty()) code = "generic_decline";
    d.why = "retry declined: " + code;
    const std::int64_t case_id = c->id;
    d.extra = [this, code, case_id, now] {
      cases_.increment_attempt_count(case_id);
      cases_.add_event(case_id, now, "retry_declined", "the billing system declined: " + code);
    };
  } else {
    d.finish(OutboxState::kFailed,
             "billing retry answer not understood (expected status succeeded or declined): " +
                 reply.describe());
  }
}

void Dispatcher::http_result(const OutboxRow& row, const std::string& what, const HttpReply& reply,
                             Decision& d) {
  if (reply.ok()) {
    d.kind = Decision::Kind::kSent;
    d.why = what + " accepted (" + reply.describe() + ")";
  } else if (reply.transient()) {
    d.kind = Decision::Kind::kRetry;
    d.why = what + ": " + reply.describe();
  } else if (reply.status == 401 || reply.status == 403) {
    d.kind = Decision::Kind::kHold;
    d.why = what + " refused our credentials: " + reply.describe();
    d.pause_channel = row.channel;
  } else {
    d.finish(OutboxState::kFailed, what + " refused: " + reply.describe());
  }
}

bool Dispatcher::record(std::vector<Outcome>& outcomes, DispatchStats& stats) {
  const auto& ob = cfg_.daemon.outbox;
  // Settled once, before any attempt: a retried transaction writes the same decisions.
  for (auto& o : outcomes) {
    auto& d = o.d;
    if (d.kind == Decision::Kind::kRetry && d.until == TimePoint{}) {
      if (o.at - o.row.due_at > ob.give_up_after) {
        d.finish(OutboxState::kFailed,
                 "gave up after " + format_duration(ob.give_up_after) + ": " + d.why);
        continue;
      }
      // Exponential backoff with ±20% jitter, so rows failing together do not retry together;
      // never longer than retry_max.
      const int exponent = std::clamp(o.row.attempts - 1, 0, 20);
      const auto base =
          std::min<long long>(ob.retry_base.count() << exponent, ob.retry_max.count());
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      const auto delay =
          std::clamp<long long>(static_cast<long long>(static_cast<double>(base) * jitter(rng_)), 1,
                                ob.retry_max.count());
      d.until = o.at + Seconds(delay);
    } else if (d.kind == Decision::Kind::kHold && d.until == TimePoint{}) {
      d.until = o.at + ob.retry_max;
    }
  }
  constexpr int kAttempts = 6;
  for (int attempt = 1;; ++attempt) {
    try {
      store::Tx tx(db_);
      for (auto& o : outcomes) write(o);
      tx.commit();
      for (const auto& o : outcomes) report(o, stats);
      return true;
    } catch (const store::StoreError& e) {
      if (attempt == kAttempts) {
        spdlog::error(
            "the results of {} claimed step(s) cannot be written ({}); they are kept and written "
            "before anything new is sent (their leases keep other senders away)",
            outcomes.size(), e.what());
        for (auto& o : outcomes) unrecorded_.push_back(std::move(o));
        outcomes.clear();
        return false;
      }
      const auto wait = std::chrono::milliseconds(100 << attempt);
      spdlog::warn("recording {} result(s) failed ({}); trying again in {} ms", outcomes.size(),
                   e.what(), wait.count());
      std::this_thread::sleep_for(wait);
    }
  }
}

void Dispatcher::write(Outcome& o) {
  const auto& row = o.row;
  auto& d = o.d;
  switch (d.kind) {
    case Decision::Kind::kNone:
      outbox_.mark_retry(row.id, o.at, "not processed");
      return;
    case Decision::Kind::kRelease:
      outbox_.release(row.id, row.leased_until);
      return;
    case Decision::Kind::kDefer:
      outbox_.defer(row.id, row.leased_until, d.until, d.why);
      cases_.add_event(row.case_id, o.at, "step_deferred",
                       step_label(row) + ": " + d.why + "; due again " + format_iso8601(d.until));
      return;
    case Decision::Kind::kSent:
      outbox_.mark_sent(row.id, o.at);
      cases_.add_event(row.case_id, o.at, "step_sent",
                       "step #" + std::to_string(row.step_index + 1) + " " + d.why);
      if (d.extra) d.extra();
      if (std::find(probing_.begin(), probing_.end(), row.channel) != probing_.end()) {
        contacts_.resume_channel(row.channel);
      }
      return;
    case Decision::Kind::kRetry:
      outbox_.mark_retry(row.id, d.until, d.why);
      return;
    case Decision::Kind::kHold:
      if (d.pause_channel) contacts_.pause_channel(*d.pause_channel, d.why, o.at, d.until);
      outbox_.mark_retry(row.id, d.until, d.why);
      return;
    case Decision::Kind::kFinal:
      outbox_.mark_final(row.id, d.state, o.at, d.why);
      cases_.add_event(row.case_id, o.at,
                       d.state == OutboxState::kSkipped ? "step_skipped" : "step_failed",
                       "step #" + std::to_string(row.step_index + 1) + " " +
                           std::string(to_string(row.channel)) + ": " + d.why);
      if (d.mark_unreachable && !d.address.empty()) {
        contacts_.mark_unreachable(d.customer_id, row.channel, d.address, d.why, o.at);
        cases_.add_event(row.case_id, o.at, "contact_unreachable",
                         std::string(to_string(row.channel)) + " " + d.address +
                             " marked unreachable: " + d.why);
      }
      return;
  }
}

void Dispatcher::report(const Outcome& o, DispatchStats& stats) {
  const auto& row = o.row;
  const auto& d = o.d;
  const std::string_view channel = to_string(row.channel);
  if (counters_ != nullptr) {
    if (d.kind == Decision::Kind::kSent) counters_->on_sent(channel);
    if (d.kind == Decision::Kind::kRetry) counters_->on_retried(channel);
    if (d.kind == Decision::Kind::kFinal) {
      if (d.state == OutboxState::kFailed) {
        counters_->on_failed(channel);
      } else {
        counters_->on_skipped(channel);
      }
    }
  }
  switch (d.kind) {
    case Decision::Kind::kNone:
    case Decision::Kind::kRelease:
      return;
    case Decision::Kind::kDefer:
      ++stats.deferred;
      spdlog::info("case {} {}: deferred to {}: {}", row.case_id, step_label(row),
                   format_iso8601(d.until), d.why);
      return;
    case Decision::Kind::kSent:
      if (auto it = std::find(probing_.begin(), probing_.end(), row.channel);
          it != probing_.end()) {
        probing_.erase(it);
        spdlog::warn("{} channel resumed: the server accepted a message again",
                     to_string(row.channel));
      }
      ++stats.sent;
      if (row.channel == Channel::kEmail) {
        spdlog::info("case {} {}: sent to {}: {}", row.case_id, step_label(row), d.address, d.why);
      } else {
        spdlog::info("case {} {}: {}", row.case_id, step_label(row), d.why);
      }
      return;
    case Decision::Kind::kRetry:
      ++stats.retried;
      spdlog::warn("case {} {}: not delivered ({}); attempt {} failed, next try at {}", row.case_id,
                   step_label(row), d.why, row.attempts, format_iso8601(d.until));
      return;
    case Decision::Kind::kHold:
      ++stats.held;
      if (d.pause_channel) {
        spdlog::critical(
            "{} channel PAUSED for all customers: {}. Fix the configuration or the account; "
            "steps stay pending and are tried again at {} (or at restart/reload)",
            to_string(*d.pause_channel), d.why, format_iso8601(d.until));
      }
      return;
    case Decision::Kind::kFinal:
      if (d.state == OutboxState::kSkipped || d.state == OutboxState::kCancelled) {
        ++stats.skipped;
        spdlog::info("case {} {}: skipped: {}", row.case_id, step_label(row), d.why);
      } else {
        ++stats.failed;
        spdlog::error("case {} {}: failed permanently: {}", row.case_id, step_label(row), d.why);
      }
      return;
  }
}

HttpReply Dispatcher::sign_and_post(const std::string& type, const std::string& body) {
  const auto& wh = cfg_.daemon.webhooks;
  auto secret = config::read_secret(wh.secret_env);
  if (!secret) {
    HttpReply r;
    r.error = "webhook secret '" + wh.secret_env + "' is not set";
    return r;
  }
  const std::string ts = std::to_string(clock_.now().time_since_epoch().count());
  const std::string sig = hmac_sha256_hex(*secret, ts + "." + body);
  return channels_.webhooks.post_json(wh.url, body,
                                      {"X-Dunningd-Event: " + type, "X-Dunningd-Timestamp: " + ts,
                                       "X-Dunningd-Signature: t=" + ts + ",v1=" + sig});
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
  for (;;) {
    const std::int64_t cursor = feed_.cursor(kWebhookCursor);
    auto events = cases_.events_after(cursor, kinds, 100);
    if (events.empty()) return;
    std::int64_t done = cursor;
    bool stop = false;
    for (const auto& ev : events) {
      json body;
      body["id"] = "evt_" + std::to_string(ev.id);
      body["type"] = event_type(ev.kind);
      body["created_at"] = format_iso8601(ev.at);
      body["detail"] = ev.detail;
      if (auto c = cases_.get(ev.case_id)) body["case"] = case_json(*c);
      const HttpReply reply = sign_and_post(body["type"].get<std::string>(), body.dump());
      const std::string detail = reply.describe();
      if (reply.ok()) {
        ++stats.webhooks;
      } else if (reply.transient()) {
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
      store::Tx tx(db_);
      feed_.set_cursor(kWebhookCursor, done);
      tx.commit();
    }
    if (stop) return;
  }
}

}  // namespace dunning::sender
