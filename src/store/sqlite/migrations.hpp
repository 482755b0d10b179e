// Internal: the schema, one entry per version. Never edit a released migration; add one.
#pragma once

#include <array>
#include <string_view>

namespace dunning::store::detail {

inline constexpr std::array<std::string_view, 9> kMigrations = {
    // ---- version 1
    R"sql(
-- The polled payments data (written by the billing system, the ingest API or an import).
-- Never a card number: brand, last4 and expiry only.
CREATE TABLE IF NOT EXISTS customers(
  id TEXT PRIMARY KEY, email TEXT, name TEXT, locale TEXT, time_zone TEXT, phone TEXT,
  created_at TEXT);
CREATE TABLE IF NOT EXISTS payment_methods(
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, brand TEXT,
  last4 TEXT CHECK (last4 IS NULL OR (length(last4) = 4 AND last4 NOT GLOB '*[^0-9]*')),
  exp_month INTEGER CHECK (exp_month IS NULL OR exp_month BETWEEN 1 AND 12),
  exp_year INTEGER, is_default INTEGER NOT NULL DEFAULT 0, updated_at TEXT);
CREATE INDEX IF NOT EXISTS payment_methods_customer ON payment_methods(customer_id, is_default);
CREATE TABLE IF NOT EXISTS subscriptions(
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, plan TEXT, status TEXT, amount_minor INTEGER,
  currency TEXT, interval TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS payments(
  id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT,
  amount_minor INTEGER NOT NULL, currency TEXT NOT NULL CHECK (length(currency) = 3),
  status TEXT NOT NULL CHECK (status IN ('failed', 'succeeded', 'refunded')),
  decline_code TEXT, message TEXT, occurred_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS payments_invoice ON payments(invoice_id);
CREATE INDEX IF NOT EXISTS payments_customer ON payments(customer_id);

-- dunningd's own tables.
CREATE TABLE events(
  id TEXT PRIMARY KEY, source TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
  received_at TEXT NOT NULL);
CREATE TABLE cursors(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE cases(
  id INTEGER PRIMARY KEY,
  trigger TEXT NOT NULL,
  customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT, payment_id TEXT,
  amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, decline_code TEXT,
  sequence_id TEXT NOT NULL, sequence_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'paused', 'recovered', 'lost', 'cancelled')),
  opened_at TEXT NOT NULL, closed_at TEXT, close_reason TEXT,
  next_step INTEGER NOT NULL DEFAULT 0, next_due_at TEXT,
  attempt_count INTEGER NOT NULL DEFAULT 0, holdout INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX cases_one_open_per_invoice ON cases(invoice_id)
  WHERE state IN ('open', 'paused') AND invoice_id IS NOT NULL;
CREATE INDEX cases_due ON cases(state, next_due_at);
CREATE INDEX cases_customer ON cases(customer_id, state);
CREATE TABLE case_events(
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id), at TEXT NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX case_events_case ON case_events(case_id, id);
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
  step_index INTEGER NOT NULL, channel TEXT NOT NULL, template TEXT, action TEXT,
  message_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled', 'skipped')),
  attempts INTEGER NOT NULL DEFAULT 0, due_at TEXT NOT NULL, next_attempt_at TEXT NOT NULL,
  lease_until TEXT, last_error TEXT, created_at TEXT NOT NULL, sent_at TEXT,
  UNIQUE (case_id, step_index));
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE TABLE ledger(
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
  kind TEXT NOT NULL CHECK (kind IN ('recovered', 'recovered_without_contact', 'lost',
                                     'cancelled', 'correction')),
  customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT, payment_id TEXT,
  amount_minor INTEGER NOT NULL, currency TEXT NOT NULL CHECK (length(currency) = 3),
  step_index INTEGER, channel TEXT, template TEXT, sequence_id TEXT, decline_code TEXT,
  opened_at TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL);
CREATE UNIQUE INDEX ledger_one_close_per_case ON ledger(case_id) WHERE kind <> 'correction';
CREATE INDEX ledger_occurred ON ledger(occurred_at);
CREATE TRIGGER ledger_is_append_only_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: write a correction row'); END;
CREATE TRIGGER ledger_is_append_only_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: write a correction row'); END;
)sql",
    // ---- version 2: ledger semantics finance can sign (days to recover, click attribution,
    // corrections that point at the row they correct) and the indexes reports stream through.
    R"sql(
ALTER TABLE ledger ADD COLUMN days_to_recover INTEGER;
ALTER TABLE ledger ADD COLUMN attribution TEXT
  CHECK (attribution IS NULL OR attribution IN ('step', 'click'));
ALTER TABLE ledger ADD COLUMN clicked_at TEXT;
ALTER TABLE ledger ADD COLUMN corrects INTEGER REFERENCES ledger(id);
ALTER TABLE ledger ADD COLUMN note TEXT;
CREATE INDEX ledger_case ON ledger(case_id, kind);
CREATE INDEX ledger_subscription ON ledger(subscription_id, kind);
CREATE INDEX cases_opened ON cases(opened_at);
CREATE INDEX payments_customer_status ON payments(customer_id, status);
)sql",
    // ---- version 3: clicks on the signed card-update link, for attribution.
    R"sql(
CREATE TABLE clicks(
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, customer_id TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX clicks_case ON clicks(case_id, at);
)sql",
    // ---- version 4: the rules engine's facts (card changes, cancelled subscriptions, expiring
    // cards, clicks) and the per-card retry cap.
    R"sql(
-- Which card a queued retry charges, so the per-card cap can count across cases.
ALTER TABLE outbox ADD COLUMN card_id TEXT;
CREATE INDEX outbox_card_retries ON outbox(card_id, due_at) WHERE card_id IS NOT NULL;
-- `unless: clicked` reads the clicks table (version 3), written by the HTTP click endpoint.
-- Change feeds filled by triggers on the polled tables, read through cursors: the poll cost
-- grows with changes, not with the size of payment_methods or subscriptions.
CREATE TABLE card_changes(
  seq INTEGER PRIMARY KEY, payment_method_id TEXT NOT NULL, customer_id TEXT NOT NULL,
  at TEXT NOT NULL);
CREATE TRIGGER payment_methods_default_added AFTER INSERT ON payment_methods
  WHEN new.is_default = 1
  BEGIN INSERT INTO card_changes(payment_method_id, customer_id, at)
        VALUES (new.id, new.customer_id,
                COALESCE(new.updated_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))); END;
CREATE TRIGGER payment_methods_default_changed
  AFTER UPDATE OF is_default, exp_month, exp_year, last4, brand ON payment_methods
  WHEN new.is_default = 1 AND (old.is_default IS NOT new.is_default OR
       old.exp_month IS NOT new.exp_month OR old.exp_year IS NOT new.exp_year OR
       old.last4 IS NOT new.last4 OR old.brand IS NOT new.brand)
  BEGIN INSERT INTO card_changes(payment_method_id, customer_id, at)
        VALUES (new.id, new.customer_id,
                COALESCE(new.updated_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))); END;
CREATE TABLE subscription_changes(
  seq INTEGER PRIMARY KEY, subscription_id TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL);
CREATE TRIGGER subscriptions_cancelled AFTER UPDATE OF status ON subscriptions
  WHEN new.status IN ('cancelled', 'canceled') AND old.status IS NOT new.status
  BEGIN INSERT INTO subscription_changes(subscription_id, status, at)
        VALUES (new.id, new.status,
                COALESCE(new.updated_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))); END;
-- Expiring cards: a range scan over the default cards' expiry month.
CREATE INDEX payment_methods_expiry ON payment_methods(exp_year, exp_month) WHERE is_default = 1;
-- One card_expiring case per card and expiry, ever.
CREATE TABLE card_expiry_cases(
  payment_method_id TEXT NOT NULL, exp_year INTEGER NOT NULL, exp_month INTEGER NOT NULL,
  case_id INTEGER NOT NULL REFERENCES cases(id),
  PRIMARY KEY (payment_method_id, exp_year, exp_month));
)sql",
    // ---- version 5: delivery outcomes that outlive one outbox row
    R"sql(
-- An address (email) or number (sms) the provider refused permanently (SMTP 5xx at RCPT, an SMS
-- API's 4xx naming the number). It stops that channel for that customer until the address changes.
CREATE TABLE contact_status(
  customer_id TEXT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('unreachable')), reason TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (customer_id, channel, address));
-- A channel stopped for everyone by a refusal that is not about the recipient (bad credentials,
-- relay denied, 5xx to MAIL FROM or DATA). Its rows stay pending; one is tried at retry_at.
CREATE TABLE channel_pauses(
  channel TEXT PRIMARY KEY, reason TEXT NOT NULL, since TEXT NOT NULL, retry_at TEXT NOT NULL);
)sql",
    // ---- version 6: rows of the polled tables that cannot be decoded, and subscription changes
    // without a business rule in the schema
    R"sql(
-- A polled row the feed could not decode (a currency 'eur', an unreadable time). The cursor moves
-- past it; this is its report (and a /metrics count), one per table and rowid.
CREATE TABLE rejected_rows(
  id INTEGER PRIMARY KEY, source_table TEXT NOT NULL, source_rowid INTEGER NOT NULL,
  row_id TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
  UNIQUE (source_table, source_rowid));
-- Every status change of a subscription goes into the feed; which statuses end a subscription
-- is dunningd's one list (core/subscription_status.hpp), no longer spelled in this trigger.
DROP TRIGGER IF EXISTS subscriptions_cancelled;
CREATE TRIGGER subscriptions_status_changed AFTER UPDATE OF status ON subscriptions
  WHEN new.status IS NOT NULL AND old.status IS NOT new.status
  BEGIN INSERT INTO subscription_changes(subscription_id, status, at)
        VALUES (new.id, new.status,
                COALESCE(new.updated_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))); END;
)sql",
    // ---- version 7: money that moves after a case opened (partial payments, late payments
    // after a write-off, refunds as corrections) and the facts the send-time gate reads.
    R"sql(
-- Ledger kinds: `partial` (part of the amount paid, the case stays open for the rest) and
-- `late` (paid after the case was written off or cancelled) are rows of their own next to the
-- one close row of a case. SQLite cannot change a CHECK: the table is rebuilt, rows unchanged.
CREATE TABLE ledger_v7(
  id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),
  kind TEXT NOT NULL CHECK (kind IN ('recovered', 'recovered_without_contact', 'lost',
                                     'cancelled', 'correction', 'partial', 'late')),
  customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT, payment_id TEXT,
  amount_minor INTEGER NOT NULL, currency TEXT NOT NULL CHECK (length(currency) = 3),
  step_index INTEGER, channel TEXT, template TEXT, sequence_id TEXT, decline_code TEXT,
  opened_at TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
  days_to_recover INTEGER,
  attribution TEXT CHECK (attribution IS NULL OR attribution IN ('step', 'click')),
  clicked_at TEXT, corrects INTEGER REFERENCES ledger(id), note TEXT);
INSERT INTO ledger_v7 SELECT id, case_id, kind, customer_id, subscription_id, invoice_id,
  payment_id, amount_minor, currency, step_index, channel, template, sequence_id, decline_code,
  opened_at, occurred_at, recorded_at, days_to_recover, attribution, clicked_at, corrects, note
  FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_v7 RENAME TO ledger;
CREATE UNIQUE INDEX ledger_one_close_per_case ON ledger(case_id)
  WHERE kind NOT IN ('correction', 'partial', 'late');
CREATE UNIQUE INDEX ledger_one_row_per_payment ON ledger(payment_id, kind)
  WHERE payment_id IS NOT NULL AND kind IN ('partial', 'late');
CREATE INDEX ledger_occurred ON ledger(occurred_at);
CREATE INDEX ledger_case ON ledger(case_id, kind);
CREATE INDEX ledger_subscription ON ledger(subscription_id, kind);
CREATE INDEX ledger_invoice ON ledger(invoice_id, kind);
CREATE TRIGGER ledger_is_append_only_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: write a correction row'); END;
CREATE TRIGGER ledger_is_append_only_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only: write a correction row'); END;
-- What is still owed on a case after partial payments, and when the customer's card changed
-- during it (facts of the plan and of the send-time gate, read with the case row).
ALTER TABLE cases ADD COLUMN paid_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN card_updated_at TEXT;
UPDATE cases SET card_updated_at = (SELECT MIN(at) FROM case_events e
  WHERE e.case_id = cases.id AND e.kind = 'card_updated');
-- The latest case of an invoice (a success, refund or late payment finds its case): without it
-- every payment of a poll scanned the whole cases table.
CREATE INDEX cases_invoice ON cases(invoice_id, id);
)sql",
    // ---- version 8: Stripe's payment attempts, put together from the events that describe them
    R"sql(
-- One row per payment attempt as Stripe's events describe it (invoice.payment_failed,
-- payment_intent.payment_failed, charge.failed, invoice.paid, invoice_payment.paid): Stripe sends
-- them in any order, and only some of them carry the decline code or name the invoice.
CREATE TABLE stripe_attempts(
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('failed', 'succeeded')),
  invoice_id TEXT, payment_intent_id TEXT, charge_id TEXT,
  customer_id TEXT NOT NULL, currency TEXT NOT NULL, amount_minor INTEGER,
  decline_code TEXT, message TEXT, occurred_at TEXT NOT NULL, payment_id TEXT);
CREATE INDEX stripe_attempts_invoice ON stripe_attempts(invoice_id);
CREATE INDEX stripe_attempts_intent ON stripe_attempts(payment_intent_id);
CREATE INDEX stripe_attempts_charge ON stripe_attempts(charge_id);
CREATE INDEX stripe_attempts_like ON stripe_attempts(customer_id, currency, amount_minor, status);
)sql",
    // ---- version 9: the change feeds read from case_events by kind
    R"sql(
-- The scheduler reads the decline codes learned after a case opened (kind 'decline_code') past
-- a cursor that only moves when one arrives: without this index every tick read every event
-- written since, so a tick grew with the whole timeline history.
CREATE INDEX case_events_kind ON case_events(kind, id);
)sql",
};

}  // namespace dunning::store::detail
