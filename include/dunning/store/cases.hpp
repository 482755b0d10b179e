// Cases: one row per failed invoice (or expiring card) that dunningd walks through a sequence,
// and the case's timeline (case_events) that explains every decision taken about it.
// The store keeps the rows; when a case opens, advances or closes is decided by the scheduler and
// the rules, and the words of the timeline are the caller's.
// One instance per connection, not thread-safe. Throws StoreError only. Writes join the caller's
// Tx, so a case's writes commit together with its outbox and ledger rows (outside a Tx each
// write commits on its own).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/names.hpp"
#include "dunning/core/steps.hpp"
#include "dunning/store/payments_feed.hpp"

namespace dunning::store {

enum class CaseState { kOpen, kPaused, kRecovered, kLost, kCancelled };
std::string_view to_string(CaseState s);
// nullopt for text that names no state.
std::optional<CaseState> parse_case_state(std::string_view text);
DUNNING_JSON_AS_NAME(CaseState)

struct CaseRecord {
  std::int64_t id = 0;
  Trigger trigger = Trigger::kPaymentFailed;
  std::string customer_id;
  std::optional<std::string> subscription_id;
  std::optional<std::string> invoice_id;
  std::optional<std::string> payment_id;
  // A card_expiring case of a customer without a priced subscription has no amount: the row
  // holds 0 in XXX, ISO 4217's code for "no currency" (amount_minor and currency are NOT NULL).
  Money amount;
  std::string decline_code;
  std::string sequence_id;
  std::string sequence_hash;
  CaseState state = CaseState::kOpen;
  TimePoint opened_at;
  std::optional<TimePoint> closed_at;
  int next_step = 0;
  std::optional<TimePoint> next_due_at;
  int attempt_count = 0;
  bool holdout = false;
  std::int64_t paid_minor = 0;               // partial payments so far, in amount's currency
  std::optional<TimePoint> card_updated_at;  // the customer's card changed while it was open

  // What is still owed: the amount less partial payments.
  Money outstanding() const { return Money(amount.minor() - paid_minor, amount.currency()); }
};

// Which cases a listing returns; empty fields do not filter.
struct CaseFilter {
  CaseFilter() = default;
  // The listing's first filters (the read API's and `dunningd cases`'s): {state, customer, limit}.
  CaseFilter(std::string by_state, std::string by_customer, int at_most)
      : state(std::move(by_state)), customer_id(std::move(by_customer)), limit(at_most) {}

  std::string state;  // "open", "recovered", ...: text that names no state matches nothing
  std::string customer_id;
  int limit = 100;
  std::string customer_email;  // the customers row's email, compared without case
  std::string sequence_id;
  std::string decline_code;
  std::string currency;
  std::int64_t after_id = 0;  // keyset pagination: only cases with a larger id
};

struct CaseEvent {
  std::int64_t id = 0;
  std::int64_t case_id = 0;
  TimePoint at;
  std::string kind;  // opened | step_queued | step_skipped | step_sent | recovered | ...
  std::string detail;
};

class Cases {
 public:
  Cases() = default;
  Cases(const Cases&) = delete;
  Cases& operator=(const Cases&) = delete;
  virtual ~Cases() = default;

  // ---- opening
  // Inserts `c` (its id is ignored) and returns the new id.
  // Throws StoreError when the invoice already has an open or paused case (the schema refuses a
  // second one).
  virtual std::int64_t insert(const CaseRecord& c) = 0;
  // Remembers that `case_id` was opened for this card and expiry, so expiring_cards no longer
  // returns it (one card_expiring case per card and expiry, ever).
  virtual void record_expiry_case(const ExpiringCard& card, std::int64_t case_id) = 0;

  // ---- reading; open means open or paused
  virtual std::optional<CaseRecord> get(std::int64_t id) = 0;
  virtual std::optional<CaseRecord> open_for_invoice(const std::string& invoice_id) = 0;
  // The invoice's most recent case in any state (late money and refunds find it), or nullopt.
  virtual std::optional<CaseRecord> latest_for_invoice(const std::string& invoice_id) = 0;
  // Oldest first.
  virtual std::vector<CaseRecord> open_for_customer(const std::string& customer_id) = 0;
  virtual std::vector<CaseRecord> open_for_subscription(const std::string& subscription_id) = 0;
  // Cases in state open whose next step is due at or before `now`, earliest due first.
  virtual std::vector<CaseRecord> due(TimePoint now, int limit) = 0;
  // Cases matching `filter`, by id.
  virtual std::vector<CaseRecord> find(const CaseFilter& filter) = 0;

  // ---- progress and closing
  virtual void set_progress(std::int64_t id, int next_step,
                            std::optional<TimePoint> next_due_at) = 0;
  // Moves the case from `from` to `to` (an admin's pause or resume); false, and nothing
  // written, when the case is not in state `from`.
  // The sequence an open case follows, chosen again (a decline code that came after it opened).
  virtual void set_sequence(std::int64_t id, const std::string& sequence_id,
                            const std::string& sequence_hash) = 0;
  virtual bool change_state(std::int64_t id, CaseState from, CaseState to) = 0;
  // Closes the case in `state` (recovered, lost, cancelled) at `at`; nothing is due any more.
  virtual void close(std::int64_t id, CaseState state, TimePoint at, const std::string& reason) = 0;
  // One more charge attempt was made for the case (a retry the billing system answered).
  virtual void increment_attempt_count(std::int64_t id) = 0;
  // A partial payment of `minor` (the case's currency) arrived; the case stays open.
  virtual void add_paid(std::int64_t id, std::int64_t minor) = 0;
  // The customer's card changed at `at` while the case was open (kept: the first change).
  virtual void set_card_updated(std::int64_t id, TimePoint at) = 0;

  // ---- the timeline
  virtual void add_event(std::int64_t case_id, TimePoint at, const std::string& kind,
                         const std::string& detail) = 0;
  // The case's events in the order they were written.
  virtual std::vector<CaseEvent> events(std::int64_t case_id) = 0;
  virtual int count_events(std::int64_t case_id, const std::string& kind) = 0;
  // Events of any case with id > after_id whose kind is in `kinds`, oldest first (outbound
  // webhooks follow them with a cursor). Empty when `kinds` is empty.
  virtual std::vector<CaseEvent> events_after(std::int64_t after_id,
                                              std::span<const std::string> kinds, int limit) = 0;

  // ---- clicks on the case's signed card-update link
  // Records a click at `at`; false (nothing written) when a click on the case was already
  // recorded in (at - window, at], or the case does not exist.
  virtual bool record_click(std::int64_t case_id, const std::string& customer_id, TimePoint at,
                            Seconds window) = 0;
  // True when the case's link was ever clicked (`unless: clicked`).
  virtual bool clicked(std::int64_t case_id) = 0;
};

// Every case `filter` matches, in id order, read 1,000 at a time (the pager sets filter.limit and
// filter.after_id): memory stays flat however many there are. `fn` may read the store.
template <typename Fn>
void for_each_case(Cases& cases, CaseFilter filter, Fn&& fn) {
  filter.limit = 1000;
  for (;;) {
    const auto page = cases.find(filter);
    for (const auto& c : page) fn(c);
    if (page.size() < static_cast<std::size_t>(filter.limit)) return;
    filter.after_id = page.back().id;
  }
}

}  // namespace dunning::store
