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

// ---- Cases
inline constexpr std::string_view kRecordExpiryCase =
    "INSERT INTO card_expiry_cases(payment_method_id, exp_year, exp_month, case_id) "
    "VALUES (?, ?, ?, ?)";
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
inline constexpr std::string_view kVerifyRecoveredSums =
    "SELECT l.currency, SUM(l.amount_minor), "
    "COALESCE(SUM(CASE WHEN p.status = 'succeeded' AND p.currency = l.currency "
    "  THEN p.amount_minor ELSE 0 END), 0), COUNT(*) "
    "FROM ledger l LEFT JOIN payments p ON p.id = l.payment_id "
    "WHERE l.kind IN ('recovered', 'recovered_without_contact') "
    "GROUP BY l.currency ORDER BY l.currency";
inline constexpr std::string_view kVerifyMismatches =
    "SELECT l.id, COALESCE(l.payment_id, ''), "
    "CASE WHEN p.id IS NULL THEN 'payment not found' "
    "  WHEN p.status <> 'succeeded' THEN 'payment status is ' || p.status "
    "  WHEN p.currency <> l.currency THEN 'payment currency is ' || p.currency "
    "  ELSE 'payment amount is ' || p.amount_minor || ', ledger says ' || "
    "    l.amount_minor END "
    "FROM ledger l LEFT JOIN payments p ON p.id = l.payment_id "
    "WHERE l.kind IN ('recovered', 'recovered_without_contact') AND (p.id IS NULL OR "
    "  p.status <> 'succeeded' OR p.currency <> l.currency OR "
    "  p.amount_minor <> l.amount_minor) ORDER BY l.id LIMIT ?";
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
