// Internal to the engines: decoding dunningd's own tables, once for SQLite and PostgreSQL. The
// readers are templates over a row with `text(col)`, `opt_text(col)`, `int64(col)` and
// `opt_int64(col)` (SQLite's statement as it is, PostgreSQL's result at one row through
// postgres::RowAt), so a column list and its reader are written once. Everything here is written
// by dunningd itself: a value that does not decode is a corrupt row and throws StoreError naming
// the table and column.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/result.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/contact_book.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/facts_writer.hpp"
#include "dunning/store/ledger_book.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"
#include "dunning/store/report_rows.hpp"

namespace dunning::store {

inline std::string iso(TimePoint t) { return format_iso8601(t); }
TimePoint parse_time(const std::string& s, const char* what);
std::optional<TimePoint> parse_opt_time(const std::optional<std::string>& s, const char* what);
// Three upper-case letters: what Money requires of a currency code.
bool currency_code(std::string_view c);
// Money of dunningd's own tables (throws StoreError instead of Money's logic_error).
Money money(std::int64_t minor, const std::string& currency, const char* what);
// "?4, ?5, ?6": `n` numbered parameters starting at `first` (an IN list).
std::string placeholders(int first, std::size_t n);

// A vocabulary value read back from its column: `parsed` is the name table's answer for `text`.
template <typename E>
E named(std::optional<E> parsed, const std::string& text, const char* what) {
  if (!parsed) throw StoreError(std::string("bad value in ") + what + ": \"" + text + "\"");
  return *parsed;
}

inline constexpr std::string_view kPaymentColumns =
    "rowid, id, customer_id, subscription_id, invoice_id, amount_minor, currency, status, "
    "COALESCE(decline_code, ''), occurred_at";

// A row of the polled `payments` table (kPaymentColumns), as the billing system wrote it:
// written by someone else, so it never throws; an Error names the first column that cannot be
// read. The row also answers `is_integer(col)` (the amount must be stored as one).
template <typename Row>
Result<Payment> decode_payment(const Row& s) {
  Payment p;
  p.rowid = s.int64(0);
  p.id = s.text(1);
  p.customer_id = s.text(2);
  p.subscription_id = s.opt_text(3);
  p.invoice_id = s.opt_text(4);
  if (!s.is_integer(5)) {
    return Error::invalid("amount_minor \"" + s.text(5) + "\" is not an integer");
  }
  const std::string currency = s.text(6);
  if (!currency_code(currency) || currency_exponent(currency) < 0) {
    return Error::invalid("currency \"" + currency +
                          "\" is not an ISO 4217 code (three upper-case letters)");
  }
  p.amount = Money(s.int64(5), currency);
  const std::string status = s.text(7);
  const auto parsed = parse_payment_status(status);
  if (!parsed) {
    return Error::invalid("status \"" + status + "\" is not failed, succeeded or refunded");
  }
  p.status = *parsed;
  p.decline_code = s.text(8);
  auto t = parse_iso8601(s.text(9));
  if (!t) return Error::invalid("occurred_at \"" + s.text(9) + "\" is not an ISO 8601 time");
  p.occurred_at = *t;
  return p;
}

// A row of dunningd's `stripe_attempts` (sql::kStripeAttemptSelect's columns).
template <typename Row>
StripeAttempt decode_stripe_attempt(const Row& s) {
  StripeAttempt a;
  a.key = s.text(0);
  a.status = named(parse_payment_status(s.text(1)), s.text(1), "stripe_attempts.status");
  a.invoice_id = s.opt_text(2);
  a.payment_intent_id = s.opt_text(3);
  a.charge_id = s.opt_text(4);
  a.customer_id = s.text(5);
  a.currency = s.text(6);
  a.amount_minor = s.opt_int64(7);
  a.decline_code = s.opt_text(8);
  a.message = s.opt_text(9);
  a.occurred_at = parse_time(s.text(10), "stripe_attempts.occurred_at");
  a.payment_id = s.opt_text(11);
  return a;
}

// A row of `contact_status` (sql::kContactStatus's columns).
template <typename Row>
ContactStatus decode_contact_status(const Row& s) {
  return {s.text(0), named(parse_channel(s.text(1)), s.text(1), "contact_status.channel"),
          s.text(2), s.text(3),
          s.text(4), parse_time(s.text(5), "contact_status.at")};
}

// A row of `channel_pauses` (sql::kChannelPauses's columns).
template <typename Row>
ChannelPause decode_channel_pause(const Row& s) {
  return {named(parse_channel(s.text(0)), s.text(0), "channel_pauses.channel"), s.text(1),
          parse_time(s.text(2), "channel_pauses.since"),
          parse_time(s.text(3), "channel_pauses.retry_at")};
}

inline constexpr std::string_view kCaseColumns =
    "id, trigger, customer_id, subscription_id, invoice_id, payment_id, amount_minor, currency, "
    "decline_code, sequence_id, sequence_hash, state, opened_at, closed_at, next_step, "
    "next_due_at, attempt_count, holdout, paid_minor, card_updated_at";

template <typename Row>
CaseRecord decode_case(const Row& s) {
  CaseRecord c;
  c.id = s.int64(0);
  c.trigger = named(parse_trigger(s.text(1)), s.text(1), "cases.trigger");
  c.customer_id = s.text(2);
  c.subscription_id = s.opt_text(3);
  c.invoice_id = s.opt_text(4);
  c.payment_id = s.opt_text(5);
  c.amount = money(s.int64(6), s.text(7), "cases.currency");
  c.decline_code = s.text(8);
  c.sequence_id = s.text(9);
  c.sequence_hash = s.text(10);
  c.state = named(parse_case_state(s.text(11)), s.text(11), "cases.state");
  c.opened_at = parse_time(s.text(12), "cases.opened_at");
  c.closed_at = parse_opt_time(s.opt_text(13), "cases.closed_at");
  c.next_step = static_cast<int>(s.int64(14));
  c.next_due_at = parse_opt_time(s.opt_text(15), "cases.next_due_at");
  c.attempt_count = static_cast<int>(s.int64(16));
  c.holdout = s.int64(17) != 0;
  c.paid_minor = s.int64(18);
  c.card_updated_at = parse_opt_time(s.opt_text(19), "cases.card_updated_at");
  return c;
}

inline constexpr std::string_view kOutboxColumns =
    "id, case_id, step_index, channel, template, action, message_key, state, attempts, due_at, "
    "created_at, sent_at, last_error, card_id";

template <typename Row>
OutboxRow decode_outbox(const Row& s) {
  OutboxRow r;
  r.id = s.int64(0);
  r.case_id = s.int64(1);
  r.step_index = static_cast<int>(s.int64(2));
  r.channel = named(parse_channel(s.text(3)), s.text(3), "outbox.channel");
  r.template_name = s.text(4);
  r.action = named(parse_action(s.text(5)), s.text(5), "outbox.action");
  r.message_key = s.text(6);
  r.state = named(parse_outbox_state(s.text(7)), s.text(7), "outbox.state");
  r.attempts = static_cast<int>(s.int64(8));
  r.due_at = parse_time(s.text(9), "outbox.due_at");
  r.created_at = parse_time(s.text(10), "outbox.created_at");
  r.sent_at = parse_opt_time(s.opt_text(11), "outbox.sent_at");
  r.last_error = s.text(12);
  r.card_id = s.opt_text(13);
  return r;
}

// The columns of sql::kLedgerSelect.
template <typename Row>
LedgerEntry decode_ledger(const Row& s) {
  LedgerEntry e;
  e.id = s.int64(0);
  e.case_id = s.int64(1);
  e.kind = named(parse_ledger_kind(s.text(2)), s.text(2), "ledger.kind");
  e.customer_id = s.text(3);
  e.subscription_id = s.opt_text(4);
  e.invoice_id = s.opt_text(5);
  e.payment_id = s.opt_text(6);
  e.amount = money(s.int64(7), s.text(8), "ledger.currency");
  if (auto st = s.opt_int64(9)) e.step_index = static_cast<int>(*st);
  e.channel = s.text(10);
  e.template_name = s.text(11);
  e.sequence_id = s.text(12);
  e.decline_code = s.text(13);
  e.opened_at = parse_time(s.text(14), "ledger.opened_at");
  e.occurred_at = parse_time(s.text(15), "ledger.occurred_at");
  e.recorded_at = parse_time(s.text(16), "ledger.recorded_at");
  if (auto d = s.opt_int64(17)) e.days_to_recover = static_cast<int>(*d);
  e.attribution = named(parse_attribution(s.text(18)), s.text(18), "ledger.attribution");
  e.clicked_at = parse_opt_time(s.opt_text(19), "ledger.clicked_at");
  e.corrects = s.opt_int64(20);
  e.note = s.text(21);
  return e;
}

// A case outcome's close row from columns first … first + 7 of a report row: kind, amount plus
// its corrections, currency, step, channel, attribution, occurred_at, days to recover — all NULL
// while the case has no close row (the LEFT JOIN of the report queries).
template <typename Row>
void decode_close_row(const Row& s, int first, CaseOutcome& o) {
  const auto kind = s.opt_text(first);
  if (!kind) return;
  o.kind = named(parse_ledger_kind(*kind), *kind, "ledger.kind");
  o.closed_amount = money(s.int64(first + 1), s.text(first + 2), "ledger.currency");
  if (auto st = s.opt_int64(first + 3)) o.step_index = static_cast<int>(*st);
  o.channel = s.text(first + 4);
  const auto attribution = s.text(first + 5);
  o.attribution = named(parse_attribution(attribution), attribution, "ledger.attribution");
  o.closed_at = parse_opt_time(s.opt_text(first + 6), "ledger.occurred_at");
  if (auto d = s.opt_int64(first + 7)) o.days_to_recover = static_cast<int>(*d);
}

// A case outcome from the report queries' columns 0 … 16: the case (id, customer, subscription,
// amount, currency, decline code, sequence, opened_at, holdout) and its close row (columns 9 …
// 16, decode_close_row). Its money moves are read apart.
template <typename Row>
CaseOutcome decode_case_outcome(const Row& s) {
  CaseOutcome o;
  o.case_id = s.int64(0);
  o.customer_id = s.text(1);
  o.subscription_id = s.opt_text(2);
  o.amount = money(s.int64(3), s.text(4), "cases.currency");
  o.decline_code = s.text(5);
  o.sequence_id = s.text(6);
  o.opened_at = parse_time(s.text(7), "cases.opened_at");
  o.holdout = s.int64(8) != 0;
  decode_close_row(s, 9, o);
  return o;
}

// A money move from columns first … first + 4: kind, amount, currency, the corrected row's kind
// (NULL or '' unless a correction), occurred_at.
template <typename Row>
MoneyMove decode_move(const Row& s, int first) {
  MoneyMove m;
  const auto kind = s.text(first);
  m.kind = named(parse_ledger_kind(kind), kind, "ledger.kind");
  m.amount = money(s.int64(first + 1), s.text(first + 2), "ledger.currency");
  const auto corrected = s.text(first + 3);
  if (!corrected.empty()) {
    m.corrected = named(parse_ledger_kind(corrected), corrected, "ledger.kind");
  }
  m.occurred_at = parse_time(s.text(first + 4), "ledger.occurred_at");
  return m;
}

}  // namespace dunning::store
