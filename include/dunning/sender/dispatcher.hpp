// Claims due outbox rows, asks the rules' send-time gate whether each may go now, renders what
// may, hands it to its channel and records the result. The row exists before the send and is
// marked after it; a crash in between leaves a leased row that is re-sent with the same
// Message-ID / idempotency key once the lease expires (at-least-once).
//
// Each claim reads the clock itself, so a batch's lease starts when it is claimed, however long
// the round has run. A row the gate holds back (outside the customer's send window, over a daily
// cap, its case paused) is deferred to its next allowed instant, never sent early and never
// dropped; a row that must never go (holdout, unless, stop_on, unreachable, a channel that
// cannot act) is skipped with the reason. Results are recorded per batch in a short transaction,
// retried while the database is busy or full; results that still cannot be written are kept and
// written before anything new is claimed, so a busy database never makes a message go twice.
//
// Failures: 4xx / network errors retry with exponential backoff and jitter until
// outbox.give_up_after; a recipient refused permanently fails the step and marks the address
// unreachable (the ContactBook), which stops that channel for that customer; a permanent
// refusal not about the recipient pauses the whole channel (a ContactBook pause), rows stay
// pending and one batch is tried again when the pause ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/outcome_counters.hpp"
#include "dunning/rules/plan.hpp"
#include "dunning/sender/http_transport.hpp"
#include "dunning/sender/transport.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/contact_book.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/facts_writer.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::sender {

// Every way a step leaves the process, injected together: the daemon wires the real ones,
// `simulate` and tests wire recording ones, so nothing in a simulation can reach a customer or
// a billing system.
struct Channels {
  EmailTransport& email;
  HttpTransport& sms;
  HttpTransport& billing;
  HttpTransport& webhooks;
};

struct DispatchStats {
  int sent = 0;
  int retried = 0;     // transient failure, will be tried again
  int failed = 0;      // permanent failure, recorded with its reason
  int skipped = 0;     // must never go (recorded with the reason)
  int deferred = 0;    // may not go now (send window, caps, paused case): due again later
  int held = 0;        // its channel is paused: still pending
  int webhooks = 0;    // outbound webhook events delivered
  int unrecorded = 0;  // results kept in memory: the database refused them (busy, full)
  bool more = false;   // the round ended at its time budget with steps still due

  DispatchStats& operator+=(const DispatchStats& o);
  bool any() const;
};

// Everything a message about `c` may mention: the customer, the card, the amount still owed, and
// the dates of the case's plan (cases::plan_of) in the customer's zone. `link_secret` signs the
// card-update link when cfg.daemon.links.base_url is set (else company.update_url is used).
templates::MessageData case_message_data(store::PaymentsFeed& feed, store::Cases& cases,
                                         store::Outbox& outbox, const config::Config& cfg,
                                         const store::CaseRecord& c, TimePoint now,
                                         const std::optional<std::string>& link_secret);
// The same, with c's customer already read (nullopt: there is none).
templates::MessageData case_message_data(store::PaymentsFeed& feed, store::Cases& cases,
                                         store::Outbox& outbox, const config::Config& cfg,
                                         const store::CaseRecord& c,
                                         const std::optional<store::Customer>& customer,
                                         TimePoint now,
                                         const std::optional<std::string>& link_secret);

// The card-update link for (customer, case) sent at `now`.
std::string update_url(const config::Config& cfg, const std::string& customer_id,
                       std::int64_t case_id, TimePoint now,
                       const std::optional<std::string>& link_secret);

struct MailJob;     // an email read from the store, to be rendered (dispatcher.cpp)
struct MailResult;  // what became of it

class Dispatcher {
 public:
  // Transactions are taken on `db`, which every interface shares (one connection). `facts`
  // records the payment a successful billing retry reports. `link_secret` signs card-update
  // links (nullopt: company.update_url). REQUIRES: everything outlives *this.
  Dispatcher(store::Database& db, store::Outbox& outbox, store::Cases& cases,
             store::ContactBook& contacts, store::PaymentsFeed& feed, store::FactsWriter& facts,
             const config::Config& cfg, const templates::Renderer& renderer, Channels channels,
             const Clock& clock, std::optional<std::string> link_secret = std::nullopt);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Writes results kept from an earlier round, then sends everything due now, batch by batch,
  // until nothing due is left; a channel whose server is unreachable or refuses us waits
  // (backoff / pause) while the other channels go on. Then delivers pending outbound webhook
  // events. Throws store::StoreError only when the database fails outside recording (a claim).
  DispatchStats dispatch_due();

  // Results not written yet (kept across rounds until the database takes them).
  std::size_t unrecorded() const;

  // A graceful stop: `stop` is read between two batches and before a batch is sent; once true,
  // dispatch_due() sends nothing more, hands the rows it claimed but did not attempt back to the
  // outbox (they are sent by the next run, not after their lease) and returns.
  // REQUIRES: *stop outlives *this.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }

  // Outcomes are counted into `counters` (sent / failed / retried / skipped per channel) once
  // they are committed. REQUIRES: *counters outlives *this; nullptr counts nothing.
  void set_counters(OutcomeCounters* counters) { counters_ = counters; }

  // The Message-ID of a case's step: the same for every attempt.
  static std::string message_id(std::int64_t case_id, int step_index, const std::string& from);

 private:
  struct Decision;
  struct Outcome;
  struct BatchState;
  Decision gate(const store::OutboxRow& row, BatchState& batch, TimePoint now);
  // Reads what the email of `row` needs; MailPipeline renders and sends it.
  void prepare_email(const store::OutboxRow& row, Decision& d, MailJob& job, TimePoint now);
  void on_email_result(const store::OutboxRow& row, const MailResult& mail, Decision& d);
  void send_sms(const store::OutboxRow& row, Decision& d, TimePoint now);
  void run_action(const store::OutboxRow& row, Decision& d, TimePoint now);
  void http_result(const store::OutboxRow& row, const std::string& what, const HttpReply& reply,
                   Decision& d);
  // Writes every outcome in one transaction, retried while the database is busy or full; false
  // (outcomes kept in unrecorded_) when it still fails. Counts and logs only what committed.
  bool record(std::vector<Outcome>& outcomes, DispatchStats& stats);
  void write(Outcome& o);
  void report(const Outcome& o, DispatchStats& stats);
  void deliver_webhooks(DispatchStats& stats);
  HttpReply sign_and_post(const std::string& type, const std::string& body);

  store::Database& db_;
  store::Outbox& outbox_;
  store::Cases& cases_;
  store::ContactBook& contacts_;
  store::PaymentsFeed& feed_;
  store::FactsWriter& facts_;
  const config::Config& cfg_;
  const templates::Renderer& renderer_;
  Channels channels_;
  const Clock& clock_;
  std::optional<std::string> link_secret_;
  rules::Capabilities caps_;
  bool stop_requested() const { return stop_ != nullptr && stop_->load(); }

  const std::atomic<bool>* stop_ = nullptr;
  OutcomeCounters* counters_ = nullptr;
  std::vector<Channel> probing_;     // channels whose pause ended: resumed on the next success
  std::vector<Outcome> unrecorded_;  // results the database refused; written first next round
  int batch_size_ = 0;  // outbox.batch_size, halved each time a batch outlived half its lease
  std::mt19937 rng_;    // backoff jitter
};

}  // namespace dunning::sender
