// Internal: the PostgreSQL schema, one entry per version — the same versions as the SQLite
// engine's (src/store/sqlite/migrations.hpp), each translated where the dialects differ. Never
// edit a released migration; add one to both lists.
//
// What differs from SQLite, on purpose:
// - Times stay ISO 8601 text (as dunningd and the billing system write them), compared in the
//   "C" collation so that text order is time order whatever the database's locale.
// - payments has no implicit rowid: a `rowid` column drawn from a sequence is the feed's cursor.
//   Positions of the fed tables (payments.rowid, card_changes.seq, subscription_changes.seq,
//   case_events.id) come from dunning_next_seq(), which holds a shared advisory lock on the
//   sequence until its transaction ends; dunning_feed_horizon() says up to where positions are
//   final (see database.hpp). Other ids are identity columns.
// - Triggers call functions; those on the billing system's tables are SECURITY DEFINER, so the
//   billing system's role needs no rights on dunningd's tables.
// - The ledger also refuses TRUNCATE.
// - A CHECK is replaced in place (ALTER TABLE ... DROP/ADD CONSTRAINT) where SQLite rebuilds the
//   table (version 7).
#pragma once

#include <array>
#include <string_view>

namespace dunning::store::postgres {

inline constexpr std::array<std::string_view, 9> kMigrations = {
    // ---- version 1
    R"sql(
-- Positions of the fed tables, in commit order (see the header of this file).
CREATE OR REPLACE FUNCTION dunning_next_seq(seq regclass) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1684960110, (seq::oid::bigint % 2147483647)::int);
  RETURN nextval(seq);
END $$;
CREATE OR REPLACE FUNCTION dunning_feed_horizon(seq regclass) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v bigint;
  waited text;
BEGIN
  -- Session-level, so that a reader inside a long transaction holds it for this call only.
  IF NOT pg_try_advisory_lock(1684960110, (seq::oid::bigint % 2147483647)::int) THEN
    -- Writers keep coming: wait a little for the open ones to end (new ones queue behind this
    -- request meanwhile, for at most these 100 ms), so that a busy table still moves.
    waited := current_setting('lock_timeout');
    PERFORM set_config('lock_timeout', '100ms', true);
    BEGIN
      PERFORM pg_advisory_lock(1684960110, (seq::oid::bigint % 2147483647)::int);
    EXCEPTION WHEN lock_not_available THEN
      PERFORM set_config('lock_timeout', waited, true);
      RETURN NULL;  -- a transaction holding a position stays open: ask again later
    END;
    PERFORM set_config('lock_timeout', waited, true);
  END IF;
  BEGIN
    v := COALESCE(pg_sequence_last_value(seq), 0);
  EXCEPTION WHEN OTHERS THEN
    PERFORM pg_advisory_unlock(1684960110, (seq::oid::bigint % 2147483647)::int);
    RAISE;
  END;
  PERFORM pg_advisory_unlock(1684960110, (seq::oid::bigint % 2147483647)::int);
  RETURN v;
END $$;

-- Work on the billing system's tables (the polled ones) is done here when this role owns them
-- (or is a superuser); otherwise it is left to their owner, who runs the same statements
-- (docs/integration.md, "Polled tables in the billing system's own PostgreSQL"), and dunningd
-- says so at every start until they are there.
CREATE OR REPLACE FUNCTION dunning_billing_ddl(tbl regclass, ddl text) RETURNS void
  LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF pg_has_role((SELECT relowner FROM pg_class WHERE oid = tbl), 'USAGE') THEN
    EXECUTE ddl;
  ELSE
    RAISE WARNING 'not the owner of %: its owner runs: %', tbl, ddl;
  END IF;
END $$;

-- The polled payments data (written by the billing system, the ingest API or an import),
-- created here unless the billing system has them already (anywhere on the search_path).
-- Never a card number: brand, last4 and expiry only.
DO $$ BEGIN
  IF to_regclass('customers') IS NULL THEN
    CREATE TABLE customers(
      id TEXT PRIMARY KEY, email TEXT, name TEXT, locale TEXT, time_zone TEXT, phone TEXT,
      created_at TEXT COLLATE "C");
  END IF;
  IF to_regclass('payment_methods') IS NULL THEN
    CREATE TABLE payment_methods(
      id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, brand TEXT,
      last4 TEXT CHECK (last4 IS NULL OR last4 ~ '^[0-9]{4}$'),
      exp_month INTEGER CHECK (exp_month IS NULL OR exp_month BETWEEN 1 AND 12),
      exp_year INTEGER, is_default INTEGER NOT NULL DEFAULT 0, updated_at TEXT COLLATE "C");
  END IF;
  IF to_regclass('subscriptions') IS NULL THEN
    CREATE TABLE subscriptions(
      id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, plan TEXT, status TEXT,
      amount_minor BIGINT, currency TEXT, interval TEXT, updated_at TEXT COLLATE "C");
  END IF;
  IF to_regclass('payments') IS NULL THEN
    CREATE TABLE payments(
      id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT,
      amount_minor BIGINT NOT NULL, currency TEXT NOT NULL CHECK (length(currency) = 3),
      status TEXT NOT NULL CHECK (status IN ('failed', 'succeeded', 'refunded')),
      decline_code TEXT, message TEXT, occurred_at TEXT COLLATE "C" NOT NULL);
  END IF;
END $$;
-- The feed's cursor: a position drawn in commit order from dunningd's sequence.
CREATE SEQUENCE IF NOT EXISTS payments_rowid_seq;
SELECT dunning_billing_ddl('payments', 'ALTER TABLE payments ADD COLUMN IF NOT EXISTS rowid '
  'BIGINT NOT NULL DEFAULT ' || quote_ident(current_schema()) || '.dunning_next_seq('''
  || quote_ident(current_schema()) || '.payments_rowid_seq'')');
SELECT dunning_billing_ddl('payments',
  'CREATE UNIQUE INDEX IF NOT EXISTS payments_rowid ON payments(rowid)');
SELECT dunning_billing_ddl('payments',
  'CREATE INDEX IF NOT EXISTS payments_invoice ON payments(invoice_id)');
SELECT dunning_billing_ddl('payments',
  'CREATE INDEX IF NOT EXISTS payments_customer ON payments(customer_id)');
SELECT dunning_billing_ddl('payment_methods', 'CREATE INDEX IF NOT EXISTS '
  'payment_methods_customer ON payment_methods(customer_id, is_default)');

-- dunningd's own tables.
CREATE TABLE events(
  id TEXT PRIMARY KEY, source TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
  received_at TEXT COLLATE "C" NOT NULL);
CREATE TABLE cursors(name TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE cases(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  trigger TEXT NOT NULL,
  customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT, payment_id TEXT,
  amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, decline_code TEXT,
  sequence_id TEXT NOT NULL, sequence_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'paused', 'recovered', 'lost', 'cancelled')),
  opened_at TEXT COLLATE "C" NOT NULL, closed_at TEXT COLLATE "C", close_reason TEXT,
  next_step INTEGER NOT NULL DEFAULT 0, next_due_at TEXT COLLATE "C",
  attempt_count INTEGER NOT NULL DEFAULT 0, holdout INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX cases_one_open_per_invoice ON cases(invoice_id)
  WHERE state IN ('open', 'paused') AND invoice_id IS NOT NULL;
CREATE INDEX cases_due ON cases(state, next_due_at);
CREATE INDEX cases_customer ON cases(customer_id, state);
CREATE SEQUENCE case_events_id_seq;
CREATE TABLE case_events(
  id BIGINT PRIMARY KEY DEFAULT dunning_next_seq('case_events_id_seq'),
  case_id BIGINT NOT NULL REFERENCES cases(id), at TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
ALTER SEQUENCE case_events_id_seq OWNED BY case_events.id;
CREATE INDEX case_events_case ON case_events(case_id, id);
CREATE TABLE outbox(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  case_id BIGINT NOT NULL REFERENCES cases(id),
  step_index INTEGER NOT NULL, channel TEXT NOT NULL, template TEXT, action TEXT,
  message_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled', 'skipped')),
  attempts INTEGER NOT NULL DEFAULT 0, due_at TEXT COLLATE "C" NOT NULL,
  next_attempt_at TEXT COLLATE "C" NOT NULL, lease_until TEXT COLLATE "C", last_error TEXT,
  created_at TEXT COLLATE "C" NOT NULL, sent_at TEXT COLLATE "C",
  UNIQUE (case_id, step_index));
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE TABLE ledger(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  case_id BIGINT NOT NULL REFERENCES cases(id),
  kind TEXT NOT NULL CHECK (kind IN ('recovered', 'recovered_without_contact', 'lost',
                                     'cancelled', 'correction')),
  customer_id TEXT NOT NULL, subscription_id TEXT, invoice_id TEXT, payment_id TEXT,
  amount_minor BIGINT NOT NULL, currency TEXT NOT NULL CHECK (length(currency) = 3),
  step_index INTEGER, channel TEXT, template TEXT, sequence_id TEXT, decline_code TEXT,
  opened_at TEXT COLLATE "C" NOT NULL, occurred_at TEXT COLLATE "C" NOT NULL,
  recorded_at TEXT COLLATE "C" NOT NULL);
CREATE UNIQUE INDEX ledger_one_close_per_case ON ledger(case_id) WHERE kind <> 'correction';
CREATE INDEX ledger_occurred ON ledger(occurred_at);
CREATE FUNCTION dunning_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger rows are append-only: write a correction row';
END $$;
CREATE TRIGGER ledger_is_append_only BEFORE UPDATE OR DELETE ON ledger
  FOR EACH ROW EXECUTE FUNCTION dunning_ledger_append_only();
CREATE TRIGGER ledger_is_append_only_truncate BEFORE TRUNCATE ON ledger
  FOR EACH STATEMENT EXECUTE FUNCTION dunning_ledger_append_only();
)sql",
    // ---- version 2: ledger semantics finance can sign (days to recover, click attribution,
    // corrections that point at the row they correct) and the indexes reports stream through.
    R"sql(
ALTER TABLE ledger ADD COLUMN days_to_recover INTEGER;
ALTER TABLE ledger ADD COLUMN attribution TEXT
  CHECK (attribution IS NULL OR attribution IN ('step', 'click'));
ALTER TABLE ledger ADD COLUMN clicked_at TEXT COLLATE "C";
ALTER TABLE ledger ADD COLUMN corrects BIGINT REFERENCES ledger(id);
ALTER TABLE ledger ADD COLUMN note TEXT;
CREATE INDEX ledger_case ON ledger(case_id, kind);
CREATE INDEX ledger_subscription ON ledger(subscription_id, kind);
CREATE INDEX cases_opened ON cases(opened_at);
SELECT dunning_billing_ddl('payments', 'CREATE INDEX IF NOT EXISTS payments_customer_status '
  'ON payments(customer_id, status)');
)sql",
    // ---- version 3: clicks on the signed card-update link, for attribution.
    R"sql(
CREATE TABLE clicks(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, case_id BIGINT NOT NULL,
  customer_id TEXT NOT NULL, at TEXT COLLATE "C" NOT NULL);
CREATE INDEX clicks_case ON clicks(case_id, at);
)sql",
    // ---- version 4: the rules engine's facts (card changes, cancelled subscriptions, expiring
    // cards, clicks) and the per-card retry cap.
    R"sql(
-- Which card a queued retry charges, so the per-card cap can count across cases.
ALTER TABLE outbox ADD COLUMN card_id TEXT;
CREATE INDEX outbox_card_retries ON outbox(card_id, due_at) WHERE card_id IS NOT NULL;
-- Change feeds filled by triggers on the polled tables, read through cursors: the poll cost
-- grows with changes, not with the size of payment_methods or subscriptions.
CREATE SEQUENCE card_changes_seq_seq;
CREATE TABLE card_changes(
  seq BIGINT PRIMARY KEY DEFAULT dunning_next_seq('card_changes_seq_seq'),
  payment_method_id TEXT NOT NULL, customer_id TEXT NOT NULL, at TEXT COLLATE "C" NOT NULL);
ALTER SEQUENCE card_changes_seq_seq OWNED BY card_changes.seq;
CREATE FUNCTION dunning_card_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.is_default = 1 AND (TG_OP = 'INSERT' OR
       OLD.is_default IS DISTINCT FROM NEW.is_default OR
       OLD.exp_month IS DISTINCT FROM NEW.exp_month OR
       OLD.exp_year IS DISTINCT FROM NEW.exp_year OR
       OLD.last4 IS DISTINCT FROM NEW.last4 OR OLD.brand IS DISTINCT FROM NEW.brand) THEN
    INSERT INTO card_changes(payment_method_id, customer_id, at)
      VALUES (NEW.id, NEW.customer_id,
              COALESCE(NEW.updated_at,
                       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
  END IF;
  RETURN NULL;
END $$;
SELECT dunning_billing_ddl('payment_methods', 'CREATE OR REPLACE TRIGGER '
  'payment_methods_default_added AFTER INSERT ON payment_methods FOR EACH ROW EXECUTE FUNCTION '
  || quote_ident(current_schema()) || '.dunning_card_changed()');
SELECT dunning_billing_ddl('payment_methods', 'CREATE OR REPLACE TRIGGER '
  'payment_methods_default_changed AFTER UPDATE OF is_default, exp_month, exp_year, last4, brand '
  'ON payment_methods FOR EACH ROW EXECUTE FUNCTION '
  || quote_ident(current_schema()) || '.dunning_card_changed()');
CREATE SEQUENCE subscription_changes_seq_seq;
CREATE TABLE subscription_changes(
  seq BIGINT PRIMARY KEY DEFAULT dunning_next_seq('subscription_changes_seq_seq'),
  subscription_id TEXT NOT NULL, status TEXT NOT NULL, at TEXT COLLATE "C" NOT NULL);
ALTER SEQUENCE subscription_changes_seq_seq OWNED BY subscription_changes.seq;
CREATE FUNCTION dunning_subscription_cancelled() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.status IN ('cancelled', 'canceled') AND OLD.status IS DISTINCT FROM NEW.status THEN
    INSERT INTO subscription_changes(subscription_id, status, at)
      VALUES (NEW.id, NEW.status,
              COALESCE(NEW.updated_at,
                       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
  END IF;
  RETURN NULL;
END $$;
SELECT dunning_billing_ddl('subscriptions', 'CREATE OR REPLACE TRIGGER subscriptions_cancelled '
  'AFTER UPDATE OF status ON subscriptions FOR EACH ROW EXECUTE FUNCTION '
  || quote_ident(current_schema()) || '.dunning_subscription_cancelled()');
-- Expiring cards: a range scan over the default cards' expiry month.
SELECT dunning_billing_ddl('payment_methods', 'CREATE INDEX IF NOT EXISTS '
  'payment_methods_expiry ON payment_methods(exp_year, exp_month) WHERE is_default = 1');
-- One card_expiring case per card and expiry, ever.
CREATE TABLE card_expiry_cases(
  payment_method_id TEXT NOT NULL, exp_year INTEGER NOT NULL, exp_month INTEGER NOT NULL,
  case_id BIGINT NOT NULL REFERENCES cases(id),
  PRIMARY KEY (payment_method_id, exp_year, exp_month));
)sql",
    // ---- version 5: delivery outcomes that outlive one outbox row
    R"sql(
CREATE TABLE contact_status(
  customer_id TEXT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('unreachable')), reason TEXT NOT NULL,
  at TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (customer_id, channel, address));
CREATE TABLE channel_pauses(
  channel TEXT PRIMARY KEY, reason TEXT NOT NULL, since TEXT COLLATE "C" NOT NULL,
  retry_at TEXT COLLATE "C" NOT NULL);
)sql",
    // ---- version 6: rows of the polled tables that cannot be decoded, and subscription changes
    // without a business rule in the schema
    R"sql(
CREATE TABLE rejected_rows(
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, source_table TEXT NOT NULL,
  source_rowid BIGINT NOT NULL, row_id TEXT NOT NULL, reason TEXT NOT NULL,
  at TEXT COLLATE "C" NOT NULL,
  UNIQUE (source_table, source_rowid));
SELECT dunning_billing_ddl('subscriptions',
  'DROP TRIGGER IF EXISTS subscriptions_cancelled ON subscriptions');
CREATE FUNCTION dunning_subscription_status_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NEW.status IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status THEN
    INSERT INTO subscription_changes(subscription_id, status, at)
      VALUES (NEW.id, NEW.status,
              COALESCE(NEW.updated_at,
                       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
  END IF;
  RETURN NULL;
END $$;
SELECT dunning_billing_ddl('subscriptions', 'CREATE OR REPLACE TRIGGER '
  'subscriptions_status_changed AFTER UPDATE OF status ON subscriptions FOR EACH ROW EXECUTE '
  'FUNCTION ' || quote_ident(current_schema()) || '.dunning_subscription_status_changed()');
)sql",
    // ---- version 7: money that moves after a case opened (partial payments, late payments
    // after a write-off, refunds as corrections) and the facts the send-time gate reads.
    R"sql(
-- Ledger kinds: `partial` (part of the amount paid, the case stays open for the rest) and
-- `late` (paid after the case was written off or cancelled) are rows of their own next to the
-- one close row of a case. The CHECK is replaced in place; no row is touched (the ledger stays
-- append-only: its triggers fire on row changes, and there are none).
DO $$
DECLARE
  c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'ledger'::regclass
             AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%kind%' LOOP
    EXECUTE format('ALTER TABLE ledger DROP CONSTRAINT %I', c);
  END LOOP;
END $$;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check
  CHECK (kind IN ('recovered', 'recovered_without_contact', 'lost', 'cancelled', 'correction',
                  'partial', 'late'));
DROP INDEX ledger_one_close_per_case;
CREATE UNIQUE INDEX ledger_one_close_per_case ON ledger(case_id)
  WHERE kind NOT IN ('correction', 'partial', 'late');
CREATE UNIQUE INDEX ledger_one_row_per_payment ON ledger(payment_id, kind)
  WHERE payment_id IS NOT NULL AND kind IN ('partial', 'late');
CREATE INDEX ledger_invoice ON ledger(invoice_id, kind);
-- What is still owed on a case after partial payments, and when the customer's card changed
-- during it (facts of the plan and of the send-time gate, read with the case row).
ALTER TABLE cases ADD COLUMN paid_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN card_updated_at TEXT COLLATE "C";
UPDATE cases SET card_updated_at = e.at FROM (SELECT case_id, MIN(at) AS at FROM case_events
  WHERE kind = 'card_updated' GROUP BY case_id) e WHERE e.case_id = cases.id;
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
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, key TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('failed', 'succeeded')),
  invoice_id TEXT, payment_intent_id TEXT, charge_id TEXT,
  customer_id TEXT NOT NULL, currency TEXT NOT NULL, amount_minor BIGINT,
  decline_code TEXT, message TEXT, occurred_at TEXT COLLATE "C" NOT NULL, payment_id TEXT);
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

}  // namespace dunning::store::postgres
