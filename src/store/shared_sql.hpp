// Internal to the engines: the SQL text that SQLite and PostgreSQL both run as written, one
// constant per statement, grouped by interface. Parameters are spelled the SQLite way (`?`,
// `?N`); the PostgreSQL connection turns them into `$N` (postgres/pg.hpp). A statement whose
// dialects differ stays in its engine's file, which says why (e.g. PostgreSQL's
// `IS DISTINCT FROM` for SQLite's `IS NOT`, the feeds' commit-order horizon).
#pragma once

#include <string_view>

namespace dunning::store::sql {

// ---- PaymentsFeed
inline constexpr std::string_view kCursor = "SELECT value FROM cursors WHERE name = ?";
inline constexpr std::string_view kSetCursor =
    "INSERT INTO cursors(name, value) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET value = excluded.value";
inline constexpr std::string_view kRecordRejected =
    "INSERT INTO rejected_rows(source_table, source_rowid, row_id, reason, at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(source_table, source_rowid) DO NOTHING";
inline constexpr std::string_view kExpiringCards =
    "SELECT pm.id, pm.customer_id, pm.exp_month, pm.exp_year FROM payment_methods pm "
    "WHERE pm.is_default = 1 AND (pm.exp_year, pm.exp_month) >= (?1, ?2) "
    "AND (pm.exp_year, pm.exp_month) <= (?3, ?4) AND NOT EXISTS (SELECT 1 FROM "
    "card_expiry_cases e WHERE e.payment_method_id = pm.id AND e.exp_year = pm.exp_year "
    "AND e.exp_month = pm.exp_month) ORDER BY pm.exp_year, pm.exp_month, pm.id LIMIT ?5";
inline constexpr std::string_view kCustomer =
    "SELECT id, COALESCE(email, ''), COALESCE(name, ''), COALESCE(locale, ''), "
    "COALESCE(time_zone, ''), COALESCE(phone, '') FROM customers WHERE id = ?";
inline constexpr std::string_view kSubscriptionPlan =
    "SELECT COALESCE(plan, '') FROM subscriptions WHERE id = ?";

// ---- FactsWriter
inline constexpr std::string_view kRecordEvent =
    "INSERT INTO events(id, source, type, payload, received_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(id) DO NOTHING";
inline constexpr std::string_view kEventPayload = "SELECT payload FROM events WHERE id = ?";
inline constexpr std::string_view kClearOtherDefaultCards =
    "UPDATE payment_methods SET is_default = 0, updated_at = ? "
    "WHERE customer_id = ? AND id <> ? AND is_default = 1";
inline constexpr std::string_view kAppendPayment =
    "INSERT INTO payments(id, customer_id, subscription_id, invoice_id, amount_minor, "
    "currency, status, decline_code, message, occurred_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING";

// Stripe's payment attempts (stripe_attempts), in the order both engines read them.
inline constexpr std::string_view kStripeAttemptSelect =
    "SELECT key, status, invoice_id, payment_intent_id, charge_id, customer_id, currency, "
    "amount_minor, decline_code, message, occurred_at, payment_id FROM stripe_attempts ";
inline constexpr std::string_view kStripeAttemptsNaming =
    "WHERE invoice_id = ?1 OR payment_intent_id = ?2 OR charge_id = ?3 "
    "ORDER BY occurred_at DESC, id DESC";
inline constexpr std::string_view kStripeAttemptsLike =
    "WHERE customer_id = ?1 AND currency = ?2 AND amount_minor = ?3 AND status = ?4 "
    "AND occurred_at BETWEEN ?5 AND ?6 ORDER BY occurred_at DESC, id DESC";
// Inserts or merges by key (the existing row is `t`): a known field keeps its value, except a
// generic decline code, which a specific one replaces.
inline constexpr std::string_view kSaveStripeAttempt =
    "INSERT INTO stripe_attempts AS t(key, status, invoice_id, payment_intent_id, charge_id, "
    "customer_id, currency, amount_minor, decline_code, message, occurred_at, payment_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(key) DO UPDATE SET "
    "invoice_id = COALESCE(t.invoice_id, excluded.invoice_id), "
    "payment_intent_id = COALESCE(t.payment_intent_id, excluded.payment_intent_id), "
    "charge_id = COALESCE(t.charge_id, excluded.charge_id), "
    "amount_minor = COALESCE(t.amount_minor, excluded.amount_minor), "
    "decline_code = CASE WHEN t.decline_code IS NULL OR (t.decline_code IN ('card_declined', "
    "  'generic_decline') AND excluded.decline_code IS NOT NULL) "
    "  THEN excluded.decline_code ELSE t.decline_code END, "
    "message = COALESCE(t.message, excluded.message), "
    "payment_id = COALESCE(t.payment_id, excluded.payment_id)";
// A failed payments row not read yet (after the scheduler's cursor) learns its decline code.
inline constexpr std::string_view kFillPaymentDecline =
    "UPDATE payments SET decline_code = ?2, message = COALESCE(message, ?3) "
    "WHERE id = ?1 AND status = 'failed' AND (decline_code IS NULL OR decline_code = '' OR "
    "  decline_code IN ('card_declined', 'generic_decline')) "
    "AND rowid > COALESCE((SELECT value FROM cursors WHERE name = 'payments'), 0)";
// The open case that payment opened learns it (RETURNING the case).
inline constexpr std::string_view kFillCaseDecline =
    "UPDATE cases SET decline_code = ?2 WHERE payment_id = ?1 AND state IN ('open', 'paused') "
    "AND (decline_code IS NULL OR decline_code = '' OR "
    "  decline_code IN ('card_declined', 'generic_decline')) AND COALESCE(decline_code, '') <> ?2 "
    "RETURNING id";

// ---- Cases
inline constexpr std::string_view kRecordExpiryCase =
    "INSERT INTO card_expiry_cases(payment_method_id, exp_year, exp_month, case_id) "
    "VALUES (?, ?, ?, ?)";
inline constexpr std::string_view kSetCaseSequence =
    "UPDATE cases SET sequence_id = ?, sequence_hash = ? WHERE id = ?";
inline constexpr std::string_view kSetCaseProgress =
    "UPDATE cases SET next_step = ?, next_due_at = ? WHERE id = ?";
inline constexpr std::string_view kChangeCaseState =
    "UPDATE cases SET state = ?1 WHERE id = ?2 AND state = ?3";
inline constexpr std::string_view kCloseCase =
    "UPDATE cases SET state = ?, closed_at = ?, close_reason = ?, next_due_at = NULL "
    "WHERE id = ?";
inline constexpr std::string_view kIncrementAttemptCount =
    "UPDATE cases SET attempt_count = attempt_count + 1 WHERE id = ?";
inline constexpr std::string_view kAddPaid =
    "UPDATE cases SET paid_minor = paid_minor + ? WHERE id = ?";
inline constexpr std::string_view kSetCardUpdated =
    "UPDATE cases SET card_updated_at = COALESCE(card_updated_at, ?) WHERE id = ?";
inline constexpr std::string_view kAddCaseEvent =
    "INSERT INTO case_events(case_id, at, kind, detail) VALUES (?, ?, ?, ?)";
inline constexpr std::string_view kCaseEventsOfCase =
    "SELECT id, case_id, at, kind, detail FROM case_events WHERE case_id = ? ORDER BY id";
inline constexpr std::string_view kCountCaseEvents =
    "SELECT COUNT(*) FROM case_events WHERE case_id = ? AND kind = ?";
// A click of an existing case, unless one was recorded in (?4, ?3].
inline constexpr std::string_view kRecordClick =
    "INSERT INTO clicks(case_id, customer_id, at) SELECT id, ?2, ?3 FROM cases WHERE id = ?1 "
    "AND NOT EXISTS (SELECT 1 FROM clicks WHERE case_id = ?1 AND at > ?4 AND at <= ?3)";
inline constexpr std::string_view kCaseClicked = "SELECT 1 FROM clicks WHERE case_id = ? LIMIT 1";

// ---- Outbox
inline constexpr std::string_view kEnqueueOutbox =
    "INSERT INTO outbox(case_id, step_index, channel, template, action, message_key, state, "
    "due_at, next_attempt_at, created_at, card_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING";
inline constexpr std::string_view kMarkOutboxSent =
    "UPDATE outbox SET state = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL "
    "WHERE id = ?";
inline constexpr std::string_view kMarkOutboxRetry =
    "UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE id = ?";
inline constexpr std::string_view kMarkOutboxFinal =
    "UPDATE outbox SET state = ?, sent_at = ?, lease_until = NULL, last_error = ? "
    "WHERE id = ?";
inline constexpr std::string_view kRetriesMade =
    "SELECT sent_at FROM outbox WHERE card_id = ? AND action = 'retry' AND state = 'sent' "
    "AND sent_at >= ? ORDER BY sent_at";
inline constexpr std::string_view kRetryTimes =
    "SELECT due_at FROM outbox WHERE card_id = ? AND due_at >= ? AND due_at < ? "
    "AND state <> 'cancelled' AND action = 'retry' ORDER BY due_at";

// ---- ContactBook
inline constexpr std::string_view kMarkUnreachable =
    "INSERT INTO contact_status(customer_id, channel, address, state, reason, at) "
    "VALUES (?, ?, ?, 'unreachable', ?, ?) ON CONFLICT(customer_id, channel, address) "
    "DO UPDATE SET state = excluded.state, reason = excluded.reason, at = excluded.at";
inline constexpr std::string_view kContactStatus =
    "SELECT customer_id, channel, address, state, reason, at FROM contact_status "
    "WHERE customer_id = ? AND channel = ? AND address = ?";
inline constexpr std::string_view kPauseChannel =
    "INSERT INTO channel_pauses(channel, reason, since, retry_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(channel) DO UPDATE SET reason = excluded.reason, "
    "retry_at = excluded.retry_at";
inline constexpr std::string_view kResumeChannel = "DELETE FROM channel_pauses WHERE channel = ?";
inline constexpr std::string_view kChannelPauses =
    "SELECT channel, reason, since, retry_at FROM channel_pauses ORDER BY channel";

// ---- LedgerBook
// The columns of a ledger row, in the order both engines read them.
inline constexpr std::string_view kLedgerSelect =
    "SELECT id, case_id, kind, customer_id, subscription_id, invoice_id, payment_id, "
    "amount_minor, currency, step_index, COALESCE(channel, ''), COALESCE(template, ''), "
    "COALESCE(sequence_id, ''), COALESCE(decline_code, ''), opened_at, occurred_at, "
    "recorded_at, days_to_recover, COALESCE(attribution, ''), clicked_at, corrects, "
    "COALESCE(note, '') FROM ledger ";
inline constexpr std::string_view kLastClick =
    "SELECT MAX(at) FROM clicks WHERE case_id = ? AND at <= ?";

// ---- ReportQueries
// `ledger verify`, money in: recovered, partial and late rows against the succeeded payments
// they name, per kind and currency.
inline constexpr std::string_view kVerifyMoneyIn =
    "SELECT CASE WHEN l.kind = 'recovered_without_contact' THEN 'recovered' ELSE l.kind "
    "END AS k, l.currency, SUM(l.amount_minor), "
    "COALESCE(SUM(CASE WHEN p.status = 'succeeded' AND p.currency = l.currency "
    "  THEN p.amount_minor ELSE 0 END), 0), COUNT(*) "
    "FROM ledger l LEFT JOIN payments p ON p.id = l.payment_id "
    "WHERE l.kind IN ('recovered', 'recovered_without_contact', 'partial', 'late') "
    "GROUP BY k, l.currency ORDER BY l.currency, k DESC";
// Money out: refund corrections (they name the refunded payment) against those payments.
inline constexpr std::string_view kVerifyRefunds =
    "SELECT 'refund', l.currency, -SUM(l.amount_minor), "
    "SUM(CASE WHEN p.currency = l.currency THEN p.amount_minor ELSE 0 END), COUNT(*) "
    "FROM ledger l JOIN payments p ON p.id = l.payment_id AND p.status = 'refunded' "
    "WHERE l.kind = 'correction' GROUP BY l.currency ORDER BY l.currency";
// Refunds the scheduler has read (at or before the payments cursor) for an invoice the ledger
// has money for, with no correction row.
#define DUNNING_SQL_REFUND_NOT_IN_LEDGER                                             \
  "FROM payments p WHERE p.status = 'refunded' "                                     \
  "AND p.rowid <= COALESCE((SELECT value FROM cursors WHERE name = 'payments'), 0) " \
  "AND EXISTS (SELECT 1 FROM ledger m WHERE m.invoice_id = p.invoice_id "            \
  "  AND m.currency = p.currency "                                                   \
  "  AND m.kind IN ('recovered', 'recovered_without_contact', 'partial', 'late')) "  \
  "AND NOT EXISTS (SELECT 1 FROM ledger k WHERE k.kind = 'correction' "              \
  "  AND k.payment_id = p.id)"
inline constexpr std::string_view kVerifyMissingRefunds =
    "SELECT p.currency, p.amount_minor " DUNNING_SQL_REFUND_NOT_IN_LEDGER;
// Every row the sums above disagree on, with why, up to ?1 rows.
inline constexpr std::string_view kVerifyMismatches =
    "SELECT l.id, COALESCE(l.payment_id, ''), "
    "CASE WHEN p.id IS NULL THEN 'payment not found' "
    "  WHEN p.status <> 'succeeded' THEN 'payment status is ' || p.status "
    "  WHEN p.currency <> l.currency THEN 'payment currency is ' || p.currency "
    "  ELSE 'payment amount is ' || p.amount_minor || ', ledger says ' || "
    "    l.amount_minor END "
    "FROM ledger l LEFT JOIN payments p ON p.id = l.payment_id "
    "WHERE l.kind IN ('recovered', 'recovered_without_contact', 'partial', 'late') AND "
    "  (p.id IS NULL OR p.status <> 'succeeded' OR p.currency <> l.currency OR "
    "  p.amount_minor <> l.amount_minor) "
    "UNION ALL "
    "SELECT l.id, l.payment_id, CASE WHEN p.currency <> l.currency "
    "  THEN 'refunded payment currency is ' || p.currency "
    "  ELSE 'refunded payment amount is ' || p.amount_minor || ', ledger takes off ' || "
    "    (-l.amount_minor) END "
    "FROM ledger l JOIN payments p ON p.id = l.payment_id AND p.status = 'refunded' "
    "WHERE l.kind = 'correction' AND (p.currency <> l.currency OR "
    "  p.amount_minor <> -l.amount_minor) "
    "UNION ALL "
    "SELECT 0, p.id, 'refund of ' || p.amount_minor || ' ' || p.currency || "
    "  ' for invoice ' || p.invoice_id || ' has no correction "
    "row' " DUNNING_SQL_REFUND_NOT_IN_LEDGER " ORDER BY 1 LIMIT ?";
#undef DUNNING_SQL_REFUND_NOT_IN_LEDGER
// A case's money rows other than its close row (partial, late, corrections), oldest first.
inline constexpr std::string_view kCaseMoneyMoves =
    "SELECT m.kind, m.amount_minor, m.currency, COALESCE(t.kind, ''), m.occurred_at "
    "FROM ledger m LEFT JOIN ledger t ON t.id = m.corrects "
    "WHERE m.case_id = ? AND m.kind IN ('partial', 'late', 'correction') ORDER BY m.id";
inline constexpr std::string_view kCasesByState =
    "SELECT state, '', COUNT(*) FROM cases GROUP BY state";
inline constexpr std::string_view kOutboxByChannelState =
    "SELECT channel, state, COUNT(*) FROM outbox GROUP BY channel, state";
inline constexpr std::string_view kRecoveredByCurrency =
    "SELECT currency, '', SUM(amount_minor) FROM ledger WHERE kind IN "
    "('recovered', 'recovered_without_contact') GROUP BY currency";
inline constexpr std::string_view kRejectedRowsByTable =
    "SELECT source_table, '', COUNT(*) FROM rejected_rows GROUP BY source_table "
    "ORDER BY source_table";

}  // namespace dunning::store::sql
