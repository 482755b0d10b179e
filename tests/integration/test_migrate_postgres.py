"""PostgreSQL with the real binary: `dunningd migrate --from sqlite:PATH` moves a SQLite
database (polled tables, cases, outbox, cursors, ledger) and dunningd carries on from where it
was; and the polled tables living in the billing system's own PostgreSQL, with dunningd holding
only the GRANTs docs/integration.md lists (the SQL blocks of that page are what runs here)."""
import os
import re
import shutil
import sqlite3
import tempfile
import unittest

import psycopg2  # python3-psycopg2 (scripts/install-deps)

from dunning_fixtures import SOURCE_DIR, SmtpServer, Workspace, self_signed_certificate
from pg_server import (PostgresServer, TestDatabase, create_database, create_role,
                       uri_with_database)

SEQUENCES = """
sequences:
  - id: hard-decline
    trigger: payment_failed
    match: {decline: hard}
    steps:
      - {at: 0h,  email: update-card}
      - {at: 3d,  email: update-card-reminder}
      - {at: 14d, action: cancel}
  - id: soft-decline
    trigger: payment_failed
    match: {decline: soft}
    steps:
      - {at: 1d, email: payment-failed}
      - {at: 21d, action: cancel}
"""

PASSWORD_ENV = "DUNNINGD_TEST_DB_PASSWORD"
TABLES = ["customers", "payment_methods", "subscriptions", "payments", "events", "cursors",
          "cases", "case_events", "outbox", "ledger", "clicks", "card_changes",
          "subscription_changes", "card_expiry_cases", "contact_status", "channel_pauses",
          "rejected_rows"]


def pg_workspace(ws, uri, password=None):
    """A second config beside `ws`'s whose database is `uri` (its password from the env)."""
    with open(ws.config) as f:
        text = f.read()
    text = text.replace("database: dunningd.db\n", f"database: {uri}\n"
                        + (f"database_password_env: {PASSWORD_ENV}\n" if password else ""))
    pg = Workspace.__new__(Workspace)
    pg.dir = ws.dir
    pg.db_path = None
    pg.config = os.path.join(ws.dir, "dunningd-pg.yaml")
    pg.env = {PASSWORD_ENV: password} if password else None
    with open(pg.config, "w") as f:
        f.write(text)
    return pg


def doc_sql(marker):
    """The ```sql block of docs/integration.md whose first line is `-- <marker>`."""
    with open(os.path.join(SOURCE_DIR, "docs", "integration.md")) as f:
        doc = f.read()
    for block in re.findall(r"```sql\n(.*?)```", doc, re.S):
        if block.startswith(f"-- {marker}"):
            return block
    raise AssertionError(f"docs/integration.md has no ```sql block starting with -- {marker}")


class MigrateFromSqlite(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ws = Workspace(self.smtp.port, SEQUENCES)
        self.addCleanup(self.ws.cleanup)
        self.ws.run("migrate")
        self.pgdb = TestDatabase().__enter__()
        self.addCleanup(self.pgdb.__exit__, None, None, None)
        self.pg = pg_workspace(self.ws, self.pgdb.admin_uri)

    def pg_sql(self, statement):
        conn = self.pgdb.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return cur.fetchall()
        finally:
            conn.close()

    def history(self):
        """A SQLite database with a life behind it: cases open and closed, steps sent, the
        ledger, a card change, cursors that have moved."""
        ws = self.ws
        for i in range(1, 6):
            ws.add_customer(f"cus_{i}", f"c{i}@example.com", name=f"Customer {i}")
            ws.add_payment(f"py_{i}", f"cus_{i}", f"in_{i}", 1000 + i, "EUR", "failed",
                           "2026-11-02T10:00:00Z",
                           decline_code="expired_card" if i % 2 else "insufficient_funds")
        ws.sql("INSERT INTO payment_methods(id, customer_id, brand, last4, exp_month, exp_year, "
               "is_default, updated_at) VALUES ('pm_1', 'cus_1', 'visa', '4242', 12, 2030, 1, "
               "'2026-11-01T00:00:00Z')")
        ws.tick("2026-11-02T10:05:00Z")
        ws.tick("2026-11-03T11:00:00Z")
        ws.add_payment("py_paid_1", "cus_1", "in_1", 1001, "EUR", "succeeded",
                       "2026-11-04T09:00:00Z")
        ws.add_payment("py_paid_2", "cus_2", "in_2", 1002, "EUR", "succeeded",
                       "2026-11-04T09:30:00Z")
        ws.tick("2026-11-04T10:00:00Z")
        ws.tick("2026-11-05T11:00:00Z")

    def counts_sqlite(self):
        with sqlite3.connect(self.ws.db_path) as conn:
            return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}

    def counts_pg(self):
        return {t: self.pg_sql(f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}

    def test_a_sqlite_history_moves_to_postgresql_and_carries_on_from_its_cursors(self):
        self.history()
        before = self.counts_sqlite()
        self.assertGreater(before["ledger"], 0)
        self.assertGreater(before["outbox"], 0)
        sent_before = len(self.smtp.messages)

        out = self.pg.run("migrate", "--from", f"sqlite:{self.ws.db_path}").stdout
        self.assertIn("row counts match", out)
        self.assertEqual(self.counts_pg(), before)
        self.assertEqual(self.pg.run("ledger", "verify").stdout,
                         self.ws.run("ledger", "verify").stdout)
        self.assertEqual(self.pg.run("ledger", "export", "--format", "csv").stdout,
                         self.ws.run("ledger", "export", "--format", "csv").stdout)
        self.assertEqual(self.pg.run("cases").stdout, self.ws.run("cases").stdout)

        # A second copy into the now full database is refused, unless forced.
        again = self.pg.run("migrate", "--from", f"sqlite:{self.ws.db_path}", check=False)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("already holds rows", again.stderr)
        self.pg.run("migrate", "--from", f"sqlite:{self.ws.db_path}", "--force")
        self.assertEqual(self.counts_pg(), before)

        # dunningd carries on in PostgreSQL: nothing old is opened or sent again, new work is.
        self.pg.tick("2026-11-05T11:30:00Z")
        self.assertEqual(len(self.smtp.messages), sent_before)
        self.pg_sql_exec("INSERT INTO customers(id, email) VALUES ('cus_9', 'c9@example.com')")
        self.pg_sql_exec("INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency,"
                         " status, decline_code, occurred_at) VALUES ('py_9', 'cus_9', 'in_9', "
                         "900, 'EUR', 'failed', 'expired_card', '2026-11-05T11:40:00Z')")
        self.pg.tick("2026-11-05T11:45:00Z")
        self.assertEqual(len(self.smtp.messages), sent_before + 1)
        cases = self.pg_sql("SELECT COUNT(*), MAX(id) FROM cases")[0]
        self.assertEqual(cases[0], before["cases"] + 1)
        self.assertEqual(cases[1], before["cases"] + 1)  # ids continue after the copied ones
        self.assertEqual(self.pg_sql("SELECT invoice_id FROM cases GROUP BY invoice_id "
                                     "HAVING COUNT(*) > 1 AND bool_or(state = 'open')"), [])

    def test_migrate_from_needs_a_postgresql_target_and_a_sqlite_source(self):
        bad = self.ws.run("migrate", "--from", f"sqlite:{self.ws.db_path}", check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("must be a postgresql:// URI", bad.stderr)
        bad = self.pg.run("migrate", "--from", self.ws.db_path, check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("sqlite:PATH", bad.stderr)
        missing = self.pg.run("migrate", "--from", "sqlite:/nonexistent.db", check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("does not exist", missing.stderr)

    def pg_sql_exec(self, statement):
        conn = self.pgdb.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()


class PolledTablesInTheBillingDatabase(unittest.TestCase):
    """The billing system's own PostgreSQL: its tables in `public`, owned by `billing`; dunningd
    in its own schema with the GRANTs of docs/integration.md and nothing more."""

    def setUp(self):
        self.db = TestDatabase(owner="billing", password="billing-pw").__enter__()
        self.addCleanup(self.db.__exit__, None, None, None)
        create_role(self.db.admin_server_uri, "dunningd", "dunningd-pw")
        self.smtp = SmtpServer().start()
        self.addCleanup(self.smtp.stop)
        self.ws = Workspace(self.smtp.port, SEQUENCES)
        self.addCleanup(self.ws.cleanup)
        uri = uri_with_database(self.db.admin_server_uri, self.db.name, user="dunningd") + \
            "?options=-c%20search_path%3Ddunningd,public"
        self.pg = pg_workspace(self.ws, uri, password="dunningd-pw")

    def run_sql(self, conn, sql):
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    def test_dunningd_works_with_the_documented_grants_on_the_billing_systems_tables(self):
        billing = self.db.connect()  # as the owner of the billing tables
        self.run_sql(billing, """
            CREATE TABLE customers(id TEXT PRIMARY KEY, email TEXT, name TEXT, locale TEXT,
              time_zone TEXT, phone TEXT, created_at TEXT);
            CREATE TABLE payment_methods(id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,
              brand TEXT, last4 TEXT, exp_month INTEGER, exp_year INTEGER,
              is_default INTEGER NOT NULL DEFAULT 0, updated_at TEXT);
            CREATE TABLE subscriptions(id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, plan TEXT,
              status TEXT, amount_minor BIGINT, currency TEXT, interval TEXT, updated_at TEXT);
            CREATE TABLE payments(id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,
              subscription_id TEXT, invoice_id TEXT, amount_minor BIGINT NOT NULL,
              currency TEXT NOT NULL, status TEXT NOT NULL, decline_code TEXT, message TEXT,
              occurred_at TEXT NOT NULL);
            INSERT INTO customers(id, email) VALUES ('cus_1', 'one@example.com');
            INSERT INTO payments VALUES ('py_1', 'cus_1', NULL, 'in_1', 1250, 'EUR', 'failed',
              'expired_card', NULL, '2026-11-02T10:00:00Z');""")
        self.run_sql(self.db.connect(as_admin=True), doc_sql("as a superuser"))

        first = self.pg.run("migrate")
        self.assertIn("their owner runs", first.stderr)  # the billing side is not ours to alter
        self.run_sql(self.db.connect(), doc_sql("as the owner of the billing tables"))
        quiet = self.pg.run("migrate")
        self.assertNotIn("their owner runs", quiet.stderr)

        # The payment written before dunningd came is fed (it got its position with the column).
        self.pg.tick("2026-11-02T10:05:00Z")
        self.assertEqual(len(self.smtp.messages), 1)
        # The billing system goes on writing: a new failed payment and a new default card.
        self.run_sql(self.db.connect(), """
            INSERT INTO customers(id, email) VALUES ('cus_2', 'two@example.com');
            INSERT INTO payments(id, customer_id, invoice_id, amount_minor, currency, status,
              decline_code, occurred_at) VALUES ('py_2', 'cus_2', 'in_2', 990, 'EUR', 'failed',
              'expired_card', '2026-11-02T11:00:00Z');
            INSERT INTO payment_methods(id, customer_id, brand, last4, exp_month, exp_year,
              is_default, updated_at) VALUES ('pm_1', 'cus_1', 'visa', '4242', 1, 2031, 1,
              '2026-11-02T11:00:00Z');""")
        self.pg.tick("2026-11-02T11:05:00Z")
        self.assertEqual(len(self.smtp.messages), 2)
        admin = self.db.connect(as_admin=True)
        with admin.cursor() as cur:
            cur.execute("SELECT payment_method_id FROM dunningd.card_changes")
            self.assertEqual(cur.fetchall(), [("pm_1",)])
            cur.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'payments'")
            self.assertEqual(cur.fetchall(), [("billing",)])
            cur.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'dunningd' "
                        "AND tablename = 'cases'")
            self.assertEqual(cur.fetchall(), [("dunningd",)])
        admin.close()


class Tls(unittest.TestCase):
    """TLS is libpq's: the URI's sslmode and sslrootcert reach it unchanged."""

    def test_verify_full_against_the_servers_ca_connects_and_another_ca_is_refused(self):
        certs = tempfile.mkdtemp(prefix="dunningd-pg-tls-")
        self.addCleanup(shutil.rmtree, certs, True)
        cert, key = self_signed_certificate(certs)
        other = os.path.join(certs, "other")
        os.makedirs(other)
        other_ca, _ = self_signed_certificate(other)
        with PostgresServer(tls=(cert, key)) as pg, SmtpServer() as smtp:
            name = create_database(pg.admin_uri())
            ws = Workspace(smtp.port, SEQUENCES)
            self.addCleanup(ws.cleanup)
            base = uri_with_database(pg.admin_uri(), name)
            good = pg_workspace(ws, f"{base}?sslmode=verify-full&sslrootcert={cert}")
            migrated = good.run("migrate")
            self.assertRegex(migrated.stdout, r"schema version \d+")
            self.assertNotIn("dunningd-test-admin", migrated.stdout + migrated.stderr)  # no password
            # (require, not verify-full: the certificate is dated by the daemons' clock, which
            # CI shifts, and this test's own client runs on the real one)
            conn = psycopg2.connect(f"{base}?sslmode=require")
            with conn.cursor() as cur:
                cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                self.assertEqual(cur.fetchone(), (True,))
            conn.close()
            bad = pg_workspace(ws, f"{base}?sslmode=verify-full&sslrootcert={other_ca}")
            refused = bad.run("migrate", check=False)
            self.assertEqual(refused.returncode, 1)
            self.assertIn("certificate verify failed", refused.stderr)
            self.assertNotIn("dunningd-test-admin", refused.stderr)  # the password stays out


if __name__ == "__main__":
    unittest.main()
