// The outbox: the durable queue of steps to deliver (email, sms, actions). A row exists before
// its send and is marked after it; a crash in between re-sends it under the same message_key
// (at-least-once), and a sender that dies leaves a lease that expires.
// One instance per connection, not thread-safe. Throws StoreError only. Writes join the caller's
// Tx (outside a Tx each write commits on its own).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/names.hpp"
#include "dunning/core/steps.hpp"

namespace dunning::store {

enum class OutboxState { kPending, kSent, kFailed, kCancelled, kSkipped };
std::string_view to_string(OutboxState s);
// nullopt for text that names no state.
std::optional<OutboxState> parse_outbox_state(std::string_view text);
DUNNING_JSON_AS_NAME(OutboxState)

struct OutboxRow {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  int step_index = 0;
  Channel channel = Channel::kEmail;
  std::string template_name;
  Action action = Action::kNone;  // kNone unless channel is kAction
  std::string message_key;        // stable across re-sends: Message-ID / idempotency key
  OutboxState state = OutboxState::kPending;
  int attempts = 0;
  TimePoint due_at;
  TimePoint created_at;
  std::optional<TimePoint> sent_at;
  std::string last_error;
  std::optional<std::string> card_id;  // retries: the card charged (per-card cap)
  // Set by claim: the end of this claim's lease. It identifies the claim: once it has passed,
  // another sender may claim the row, and what this claim gives back must not touch theirs.
  TimePoint leased_until;
};

class Outbox {
 public:
  Outbox() = default;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  virtual ~Outbox() = default;

  // ---- queueing (the scheduler)
  // Queues `row` as pending, due at row.due_at; false (nothing written) when the case's step is
  // already in the outbox.
  [[nodiscard]] virtual bool enqueue(const OutboxRow& row) = 0;
  // Cancels the case's rows not sent yet (the case closed); returns how many.
  virtual int cancel_pending(std::int64_t case_id, TimePoint at, const std::string& reason) = 0;
  // Cancels only the case's pending email and sms rows (a stop condition for contact).
  virtual int cancel_pending_contacts(std::int64_t case_id, TimePoint at,
                                      const std::string& reason) = 0;

  // ---- delivering (the dispatcher)
  // Leases up to `limit` pending rows due at `now` whose lease is free (or expired: its sender
  // died) until now + lease, counting an attempt; returned by id. Rows of `skip_channels` stay
  // untouched. Atomic on its own: two claimers never lease the same row.
  virtual std::vector<OutboxRow> claim(TimePoint now, Seconds lease, int limit,
                                       std::span<const Channel> skip_channels = {}) = 0;
  // Gives a claimed row back unattempted: frees its lease and undoes the claim's attempt. Only
  // while the row is still this claim's (`leased_until` from claim): a row whose lease expired
  // and that another sender claimed since is left to them.
  virtual void release(std::int64_t id, TimePoint leased_until) = 0;
  virtual void mark_sent(std::int64_t id, TimePoint at) = 0;
  // The send-time gate said "not now": the row stays pending, due (and next tried) at `until`,
  // its claim undone (not an attempt), with the reason; only while the row is still this claim's
  // (as release).
  virtual void defer(std::int64_t id, TimePoint leased_until, TimePoint until,
                     const std::string& reason) = 0;
  // Keeps the row pending, next tried at `next_attempt_at`, with the error that delayed it.
  virtual void mark_retry(std::int64_t id, TimePoint next_attempt_at, const std::string& error) = 0;
  // Ends the row in `state` (failed, skipped, cancelled) with its reason.
  virtual void mark_final(std::int64_t id, OutboxState state, TimePoint at,
                          const std::string& error) = 0;

  // ---- reading
  // The case's rows by step index.
  virtual std::vector<OutboxRow> for_case(std::int64_t case_id) = 0;
  // The case's last row delivered at or before `at` (the step a recovery is attributed to).
  virtual std::optional<OutboxRow> last_delivered(std::int64_t case_id, TimePoint at) = 0;
  // The case's email/sms row that was claimed for sending at or before `at` and whose outcome was
  // never recorded (its sender stopped in between): the message may have gone out.
  virtual std::optional<OutboxRow> unconfirmed_contact(std::int64_t case_id, TimePoint at) = 0;
  // Pending rows of `channel` due at `now` (what a channel pause is holding back).
  virtual std::int64_t pending_due(Channel channel, TimePoint now) = 0;
  // Send (or planned) times of the customer's email and sms rows across all their cases,
  // pending or sent, at or after `since`, in time order (the daily cap's facts).
  virtual std::vector<TimePoint> contact_times(const std::string& customer_id, TimePoint since) = 0;
  // When the customer's email and sms were actually sent (all their cases), at or after `since`,
  // in time order (the send-time gate's facts).
  virtual std::vector<TimePoint> sent_contact_times(const std::string& customer_id,
                                                    TimePoint since) = 0;
  // When the card's retries were actually made (sent to billing), at or after `since`.
  virtual std::vector<TimePoint> retries_made(const std::string& card_id, TimePoint since) = 0;
  // Due times of the card's retries in any state but cancelled, in [from, to) (per-card cap).
  virtual std::vector<TimePoint> retry_times(const std::string& card_id, TimePoint from,
                                             TimePoint to) = 0;
};

}  // namespace dunning::store
